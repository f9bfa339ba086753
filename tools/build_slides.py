"""Build offline reveal.js slide decks from the notebooks: ``python tools/build_slides.py [--out build/slides]``.

Each notebook is executed (set ``COURSE_QUICK=1`` for speed) and exported with nbconvert's slides exporter. Every
script, style and font a deck needs — reveal.js, require.js, jQuery, MathJax and the widget renderer — is copied
from packages of the npm registry (fetched once with ``npm pack``, integrity-checked by npm, then cached) into
``<out>/vendor/``, and figures are embedded, so the decks work with no internet. ``<out>/index.html`` links them all.
``--out`` is written as a fresh folder that replaces only a new or empty folder, or this tool's earlier output
(``output_folder.py``).
"""

from __future__ import annotations

import argparse
import base64
import html
import mimetypes
import os
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
# tools/ is no package: its modules are imported from its folder
from notebook_runner import INLINE_FIGURES, NotebookRunError, execute, read_executed  # noqa: E402
from npm_vendor import VendorError, fetch_vendor  # noqa: E402
from output_folder import OutputFolderError, fresh_folder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "slides_template"

# The npm packages the decks load, copied into <out>/vendor/ (versions and parts: npm_vendor.PACKAGES).
VENDOR = ["reveal.js", "requirejs", "jquery", "mathjax", "@jupyter-widgets/html-manager"]
LOCAL_URLS = {
    "SlidesExporter": {
        "reveal_url_prefix": "vendor/reveal.js",
        "require_js_url": "vendor/requirejs/require.js",
        "jquery_url": "vendor/jquery/dist/jquery.min.js",
        "mathjax_url": "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
        "widget_renderer_url": "vendor/html-manager/dist/embed-amd.js",
        "embed_images": True,
        "reveal_width": "1280",
        "reveal_height": "720",
        "reveal_number": "c/t",
        "reveal_transition": "none",
        "reveal_theme": "white",
        "exclude_input_prompt": True,
        "exclude_output_prompt": True,
        "template_name": "course_reveal",
        "extra_template_basedirs": [str(TEMPLATES)],
    }
}


class SlidesError(RuntimeError):
    """Building the slides failed; the message names the step and what to do."""


MARKDOWN_IMAGE = re.compile(r"(!\[[^\]]*\]\()([^)\s]+)(\))")


def embed_markdown_images(notebook: nbformat.NotebookNode, folder: Path) -> None:
    """Replace relative image links in markdown cells (e.g. ``../img/gan.svg``) by data URIs, so decks stand alone."""
    def inline(match: re.Match) -> str:
        target = (folder / match.group(2)).resolve()
        if "://" in match.group(2) or match.group(2).startswith("data:"):
            return match.group(0)
        if not target.is_file():
            raise SlidesError(f"a markdown image points to {match.group(2)}, which does not exist (looked for {target})")
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        encoded = base64.b64encode(target.read_bytes()).decode("ascii")
        return f"{match.group(1)}data:{mime};base64,{encoded}{match.group(3)}"

    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = MARKDOWN_IMAGE.sub(inline, cell.source)


def notebook_title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    """The text of the notebook's first '# ' heading."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def build(notebooks: list[Path], out: Path, cache: Path, run: bool = True, timeout: int = 900,
          executed: Path | None = None) -> list[Path]:
    """Write one deck per notebook and an index page into ``out``, replacing it; returns the deck paths.

    Each notebook is executed (unless ``run`` is false), or taken as already executed into ``executed``. ``out``
    must be new, empty or this tool's earlier output, and hold no source notebook (else OutputFolderError)."""
    exporter = SlidesExporter(config=Config(LOCAL_URLS))
    rows = []
    with fresh_folder(out, Path(__file__).stem, [path.parent for path in notebooks]) as folder:
        fetch_vendor(folder, cache, VENDOR, needed_by="`make slides`")
        for path in notebooks:
            print(f"slides: {path.name}", flush=True)
            if executed is not None:
                notebook = read_executed(executed, path.name)
            else:
                notebook = nbformat.read(path, as_version=4)
                if run:
                    execute(notebook, path.parent, path.name, timeout)
            embed_markdown_images(notebook, path.parent)
            body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": path.stem,
                                                                                    "path": str(path.parent)}})
            deck = folder / f"{path.stem}.slides.html"
            deck.write_text(body, encoding="utf-8")
            rows.append(f'<li><a href="{deck.name}">{html.escape(notebook_title(notebook, path.stem))}</a></li>')
        (folder / "index.html").write_text(INDEX.format(items="\n".join(rows)), encoding="utf-8")
    return [out / f"{path.stem}.slides.html" for path in notebooks]


INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Generative models: slides</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:44em;margin:3em auto;line-height:1.6;color:#222}}
a{{color:#1f5fa8}} li{{margin:.4em 0;font-size:1.15em}}</style></head>
<body><h1>Generative models — slides</h1>
<p>Open a deck; arrow keys move between slides, <kbd>S</kbd> opens the speaker notes, <kbd>F</kbd> goes full screen.
Everything here works offline.</p>
<ol>
{items}
</ol></body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to convert (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "vendor-cache",
                        help="where the npm tarballs are kept between builds")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-execute", action="store_true", help="export the notebooks as they are (no outputs)")
    mode.add_argument("--executed", type=Path, metavar="DIR",
                      help="take already-executed notebooks of the same names from DIR instead of executing")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    os.environ["MPLBACKEND"] = INLINE_FIGURES  # the kernels inherit it: figures must render inline
    try:
        decks = build(notebooks, args.out, args.cache, run=not args.no_execute,
                      executed=args.executed.resolve() if args.executed else None)
    except OutputFolderError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except (SlidesError, NotebookRunError, VendorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(decks)} deck(s) and index.html to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
