"""Build the course website: ``python tools/build_site.py [--out build/site] [--full | --executed DIR]``.

Every notebook's student edition (``--edition instructor`` for the notebooks as they are, solutions included) is
executed in a build folder, never in notebooks/ (quick mode by default: ``COURSE_QUICK=1``, ``COURSE_DATA=bundled``;
``--full`` for full mode; ``--executed DIR`` takes already-executed notebooks from DIR instead), and rendered with
its outputs next to a landing page made from the README (course map, notebook table, run times). Speaker notes and
the answers to the Think! questions are folded until clicked; cells tagged ``remove-cell`` are left out.

The tool is **Sphinx with MyST-NB and sphinx-book-theme**: all three are actively maintained (mkdocs has had no
release since 1.6.1 in 2024), install from PyPI alone, render notebooks with their outputs, math, figures and widget
state, honour the ``remove-cell``/``remove-input`` tags, and Sphinx's search (a ``searchindex.js`` loaded by a script
tag) works from file:// with no server, where mkdocs-material's fetches its index and needs a plugin for that. Nothing is fetched when a page is opened: MathJax 2 and the widget renderer are copied from
pinned npm packages (``npm_vendor.py``, cached in ``build/vendor-cache/``, as for the slides) instead of Sphinx's
and MyST-NB's CDN defaults, the theme loads no web fonts or analytics, and the build fails if a page would still
load anything from another host. Open ``<out>/index.html`` in a browser, offline. ``--out`` and ``--work`` are
written as fresh folders that replace only a new or empty folder, or this tool's earlier output (``output_folder.py``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TOOL = Path(__file__).stem
sys.path[:0] = [str(ROOT / "tools"), str(ROOT)]  # tools/ is no package; benchmarks/ is found from the root
from notebook_runner import INLINE_FIGURES, NotebookRunError, execute, read_executed  # noqa: E402
from npm_vendor import VendorError, fetch_vendor  # noqa: E402
from output_folder import OutputFolderError, fresh_folder  # noqa: E402

from benchmarks.arguments import positive_int  # noqa: E402

VENDOR = ["mathjax", "requirejs", "@jupyter-widgets/html-manager"]
MATHJAX = "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML"  # relative to <out>/_static
README_SECTIONS = ("Two commands", "The notebooks", "Student and instructor editions")  # shown besides its top
REMOTE_LOAD = re.compile(r"""<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)=["']((?:https?:)?//[^"']+)""",
                         re.I)
QUICK_NOTE = ("These pages show a run in <b>quick mode</b> on the bundled digits: every model trained with a small "
              "fraction of its budget, so pictures and numbers are rougher than in full mode.")
CSS = """
/* Room for the notebooks' code lines (up to ~110 characters; longer ones scroll) next to the two sidebars;
   figures at their natural size, never wider than the page. */
:root { --pst-sidebar-secondary: 15rem; }
.bd-page-width { max-width: 100rem; }
div.cell_output img { max-width: 100%; height: auto; }
div.cell_input pre, div.cell_output pre { font-size: 0.8rem; line-height: 1.35; }
div.cell_output .output.stderr pre { max-height: 12em; overflow-y: auto; }
/* Think! answers and speaker notes, folded until clicked. */
.bd-article details { border-left: 3px solid var(--pst-color-border); padding: 0.2em 1em; margin: 0 0 1em; }
.bd-article details summary { cursor: pointer; font-weight: 600; color: var(--pst-color-primary); }
.bd-article details.speaker-notes, .bd-article details.speaker-notes summary { color: var(--pst-color-text-muted); }
.bd-content img[src$=".svg"] { max-width: 100%; }
/* The theme lays out MathJax 3's <mjx-container>; give MathJax 2's display math the same room, scrolling if long. */
/* Pages without a page-contents sidebar (the landing page) use its width too. */
.bd-main:not(:has(.bd-sidebar-secondary)) .bd-article-container { max-width: 100%; }
div.math > .MJXc-display { flex-grow: 1; overflow: auto hidden; margin: 0.5em 0; padding-bottom: 0.2rem; }
"""

# The widget renderer's modules find their fonts next to where require.js thinks they live: point it at the copy.
WIDGET_PATHS = """const dist = new URL(document.documentElement.dataset.content_root + "_static/vendor/html-manager/dist",
                  document.baseURI).href;
require.config({paths: {"@jupyter-widgets": dist, "@jupyter-widgets/html-manager/dist": dist}});
"""


class SiteError(RuntimeError):
    """Building the site failed; the message names the step and what to do."""


DETAILS_OPEN = re.compile(r"(<details[^>]*>\s*<summary>.*?</summary>)[ \t]*\n(?!\n)")
DETAILS_CLOSE = re.compile(r"(?<!\n)\n(</details>)")


def web_ready(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Speaker notes become a closed 'Speaker notes' box; every other cell is shown as it is (``remove-*`` tags apply).

    The body of a ``<details>`` answer gets blank lines around it, so that MyST reads it as markdown (with math)
    rather than as raw HTML, as JupyterLab does.
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        notes = cell.metadata.get("slideshow", {}).get("slide_type") == "notes"
        if notes and not cell.source.startswith("<details"):
            cell.source = f'<details class="speaker-notes"><summary>Speaker notes</summary>\n{cell.source}\n</details>'
        cell.source = DETAILS_CLOSE.sub(r"\n\n\1", DETAILS_OPEN.sub(r"\1\n\n", cell.source))
    return notebook


def landing_page(readme: str, notebooks: list[str]) -> str:
    """The README's top (title, introduction, course map) and its set-up and notebook sections, plus the toctree."""
    parts = re.split(r"^(?=## )", readme, flags=re.MULTILINE)
    kept = [parts[0]] + [part for part in parts[1:] if part[3:].splitlines()[0].strip() in README_SECTIONS]
    if len(kept) != 1 + len(README_SECTIONS):
        raise SiteError(f"README.md lost one of the sections the landing page shows: {', '.join(README_SECTIONS)}")
    page = "".join(kept).rstrip() + "\n"
    toctree = "\n".join(f"notebooks/{Path(name).stem}" for name in notebooks)
    return page + f"\n```{{toctree}}\n:hidden:\n:caption: Notebooks\n:maxdepth: 1\n\n{toctree}\n```\n"


def sphinx_config(quick: bool) -> dict:
    """Sphinx's settings (no conf.py): MyST-NB renders stored outputs, and every script comes from <out>/_static."""
    return {
        "project": "Generative Models",
        "author": "the course authors",
        "copyright": "the course authors (MIT License)",
        "extensions": ["myst_nb"],
        "exclude_patterns": [".doctrees", "**.ipynb_checkpoints"],
        "myst_enable_extensions": ["dollarmath", "amsmath"],
        "myst_update_mathjax": False,  # its MathJax 3+ settings would hide the math from MathJax 2's tex2jax
        "myst_heading_anchors": 3,
        "nb_execution_mode": "off",  # executed by this script (or given executed), never by Sphinx
        "nb_merge_streams": True,
        "nb_render_markdown_format": "myst",  # display(Markdown(...)) outputs: tables and $-math, like a notebook
        "nb_ipywidgets_js": {  # MyST-NB's default loads require.js and the widget renderer from CDNs
            "vendor/requirejs/require.js": {},
            "widget-paths.js": {},
            "vendor/html-manager/dist/embed-amd.js": {},
        },
        "html_theme": "sphinx_book_theme",
        "html_title": "Generative Models",
        "html_static_path": ["_static"],
        "html_css_files": ["course.css"],
        "html_context": {"default_mode": "light"},  # the figures are drawn on white; readers can switch
        "html_copy_source": True,  # the download button offers the executed notebook
        "html_show_sourcelink": False,
        "html_show_search_summary": False,  # summaries are fetch()ed, which file:// forbids; titles still show
        "html_theme_options": {
            "home_page_in_toc": True,
            "show_navbar_depth": 1,
            "show_toc_level": 2,
            "use_download_button": True,
            "use_fullscreen_button": False,
            "use_repository_button": False,
            "use_source_button": False,
            "use_issues_button": False,
            "use_edit_page_button": False,
            "launch_buttons": {},
            "secondary_sidebar_items": {"**": ["page-toc"], "index": []},  # the course map gets the full width
            "navbar_persistent": [],  # pydata-sphinx-theme 0.20 would add a second search box in a header bar
            **({"announcement": QUICK_NOTE} if quick else {}),  # a banner on every page
        },
        "mathjax_path": MATHJAX,
        "mathjax2_config": {"messageStyle": "none", "CommonHTML": {"linebreaks": {"automatic": True}},
                            "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                                        "processEscapes": True, "processEnvironments": True}},
        "suppress_warnings": ["mystnb.unknown_mime_type", "myst.header"],
    }


def check_offline(out: Path) -> None:
    """Fail if any page would load a script, style, font or image from another host."""
    remote = {f"{page.relative_to(out)}: {url}" for page in out.rglob("*.html")
              for url in REMOTE_LOAD.findall(page.read_text(encoding="utf-8"))}
    if remote:
        raise SiteError("pages load resources from the internet: " + "; ".join(sorted(remote)[:10]))


def build(notebooks: list[Path], out: Path, work: Path, cache: Path, *, quick: bool = True, edition: str = "student",
          executed: Path | None = None, timeout: int = 900) -> list[Path]:
    """Write the site into ``out`` (its sources go to ``work``), replacing both; returns the notebook pages.

    Each of ``out`` and ``work`` must be new, empty or this tool's earlier output (else OutputFolderError)."""
    sources = [path.parent for path in notebooks]
    with fresh_folder(out, TOOL, sources) as site, fresh_folder(work, TOOL, sources) as site_sources:
        render(notebooks, site, site_sources, cache, quick=quick, edition=edition, executed=executed, timeout=timeout)
    return [out / "notebooks" / f"{path.stem}.html" for path in notebooks]


def render(notebooks: list[Path], out: Path, work: Path, cache: Path, *, quick: bool, edition: str,
           executed: Path | None, timeout: int) -> None:
    """Execute (or take) the notebooks, write Sphinx's sources into the empty folder ``work`` and the site into the
    empty folder ``out``."""
    from build_editions import student_edition  # imported here so that --help works without nbgrader and Sphinx
    from sphinx.application import Sphinx

    (work / "notebooks").mkdir()
    (work / "_static").mkdir()
    (work / "_static" / "course.css").write_text(CSS, encoding="utf-8")
    (work / "_static" / "widget-paths.js").write_text(WIDGET_PATHS, encoding="utf-8")
    shutil.copytree(ROOT / "img", work / "img")  # markdown cells link ../img/*.svg
    for path in notebooks:
        if executed is not None:
            notebook = read_executed(executed, path.name)
        else:
            print(f"site: executing the {edition} edition of {path.name}", flush=True)
            notebook = nbformat.read(path, as_version=4)
            if edition == "student":
                notebook = student_edition(notebook)
            execute(notebook, work / "notebooks", path.name, timeout)
        nbformat.write(web_ready(notebook), work / "notebooks" / path.name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (work / "index.md").write_text(landing_page(readme, [p.name for p in notebooks]), encoding="utf-8")

    print("site: rendering with Sphinx", flush=True)
    app = Sphinx(str(work), None, str(out), str(work / ".doctrees"), "html", confoverrides=sphinx_config(quick),
                 status=None, warning=sys.stderr, freshenv=True, keep_going=True)
    app.build()
    if app.statuscode:
        raise SiteError(f"Sphinx failed (status {app.statuscode}); see the messages above")
    shutil.rmtree(out / ".doctrees", ignore_errors=True)
    fetch_vendor(out / "_static", cache, VENDOR, needed_by="`make site`")
    check_offline(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to publish (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "site-src",
                        help="where the executed notebooks and the landing page are written for Sphinx")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "vendor-cache",
                        help="where the npm tarballs are kept between builds")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="execute in full mode (default: quick mode, bundled digits)")
    mode.add_argument("--executed", type=Path, metavar="DIR",
                      help="take already-executed notebooks of the same names from DIR instead of executing")
    parser.add_argument("--edition", choices=("student", "instructor"), default="student",
                        help="publish the student edition (default: solutions replaced by stubs, their discussion "
                             "left out, as `make student` writes it) or the instructor edition (the notebooks as "
                             "they are); ignored with --executed")
    parser.add_argument("--timeout", type=positive_int, default=900, help="seconds one cell may run")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    quick = not args.full and args.executed is None
    if args.executed is None:  # the kernels inherit these
        os.environ["COURSE_QUICK"] = "1" if quick else "0"
        if quick:
            os.environ.setdefault("COURSE_DATA", "bundled")
        os.environ["MPLBACKEND"] = INLINE_FIGURES  # figures must render inline
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    try:
        pages = build(notebooks, args.out.resolve(), args.work.resolve(), args.cache.resolve(), quick=quick,
                      edition=args.edition,
                      executed=args.executed.resolve() if args.executed else None, timeout=args.timeout)
    except OutputFolderError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except (SiteError, NotebookRunError, VendorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(pages)} notebook page(s) and index.html to {args.out}; open {args.out / 'index.html'} (offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
