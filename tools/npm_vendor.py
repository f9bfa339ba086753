"""Offline copies of the JavaScript the built slides and site load, taken from pinned packages of the npm registry.

Each package is fetched once with ``npm pack`` (npm checks the tarball's integrity) into a cache folder, by default
``build/vendor-cache/``; later builds only unpack the needed parts from the cache, so they need neither npm nor the
internet. Used by ``build_slides.py`` and ``build_site.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

# npm package -> (pinned version, folder name under vendor/, the parts of the package that pages load).
PACKAGES = {
    "reveal.js": ("4.6.1", "reveal.js", ["dist", "plugin/notes"]),
    "requirejs": ("2.3.8", "requirejs", ["require.js"]),
    "jquery": ("3.7.1", "jquery", ["dist/jquery.min.js"]),
    "mathjax": ("2.7.9", "mathjax", ["MathJax.js", "config", "extensions", "jax/input/TeX", "jax/output/CommonHTML",
                                     "jax/element", "fonts/HTML-CSS/TeX/woff", "fonts/HTML-CSS/TeX/otf"]),
    "@jupyter-widgets/html-manager": ("1.0.7", "html-manager", ["dist"]),
}


class VendorError(RuntimeError):
    """A package could not be fetched; the message says what to do."""


def fetch_vendor(out: Path, cache: Path, packages: list[str], needed_by: str = "this build") -> None:
    """Copy the needed files of each named package into ``out/vendor/<folder>``, downloading each tarball once."""
    cache.mkdir(parents=True, exist_ok=True)
    for package in packages:
        version, folder, parts = PACKAGES[package]
        tarball = cache / f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not tarball.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise VendorError(f"{needed_by} needs npm (Node.js) once, to fetch {package}@{version} from the npm "
                                  f"registry into {cache}; install Node.js, or copy that folder from a colleague.")
            done = subprocess.run([npm, "pack", f"{package}@{version}", "--pack-destination", str(cache), "--silent"],
                                  capture_output=True, text=True)
            if done.returncode != 0 or not tarball.exists():
                raise VendorError(f"npm could not fetch {package}@{version} from the registry: "
                                  f"{done.stderr.strip()[-400:]}")
        target = out / "vendor" / folder
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{folder}-", suffix=".partial", dir=target.parent))
        try:  # renamed when complete; deleted (it is this call's own folder) if the copy fails
            with tarfile.open(tarball) as archive:
                members = [m for m in archive.getmembers() if (m.isfile() or m.isdir())
                           and any(_inside(m.name.split("/", 1)[-1], part) for part in parts)]
                for member in members:
                    member.name = member.name.split("/", 1)[-1]
                archive.extractall(partial, members=members, filter="data")
            partial.rename(target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise


def _inside(name: str, part: str) -> bool:
    return name == part or name.startswith(part + "/")
