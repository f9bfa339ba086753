"""Measure how long every notebook takes in full mode: ``python tools/time_notebooks.py [--write] [notebooks…]``.

Each notebook is executed twice in full mode with the bundled digits: first with an empty cache of its own (it
trains and caches every model it loads, as on a student's first run), then again with the cache that run filled.
The script prints a table, the run time of every section of the first run, and one JSON line per notebook. With
``--write`` it puts the rounded times into the README's table and into the run-time line under each notebook's title,
so that what a notebook promises is what was measured (a hygiene test checks that the two agree).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import date, datetime
from pathlib import Path

import nbformat

from course_utils.engine.device import get_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_runner import INLINE_FIGURES, NotebookRunError  # noqa: E402  (tools/ is no package)
from notebook_runner import execute as run_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
README_START, README_END = "<!-- run-times:start -->", "<!-- run-times:end -->"
RUN_TIME_LINE = re.compile(r"^\*Run time in full mode[^*]*\*$", flags=re.MULTILINE)
WARMUP_TITLE = "`make warmup`: every model the notebooks load"
CLASS_TIME = re.compile(r"\*About (\d+) minutes")
SECTION_MINUTES = re.compile(r"^#{2,3} .*\*\((\d+) min\b", flags=re.MULTILINE)


def rounded(seconds: float) -> str:
    """A duration as a reader wants it: to 5 s under a minute and a half, else to half a minute."""
    if seconds < 90:
        return f"{max(5, 5 * round(seconds / 5))} s"
    halves = round(seconds / 30)
    whole, half = divmod(halves, 2)
    return f"{whole}{'½' if half else ''} min"


def class_minutes(notebook: nbformat.NotebookNode) -> tuple[int, int]:
    """The class time the title cell promises and the sum of the sections' estimates, in minutes."""
    promised = CLASS_TIME.search(notebook.cells[0].source)
    sections = sum(int(m) for cell in notebook.cells if cell.cell_type == "markdown"
                   for m in SECTION_MINUTES.findall(cell.source))
    return (int(promised.group(1)) if promised else 0), sections


def execute(path: Path, cache: Path) -> tuple[float, nbformat.NotebookNode]:
    """Run ``path`` in full mode with the bundled digits and ``cache``; return the wall time and the executed copy."""
    os.environ.update(COURSE_DATA="bundled", COURSE_CACHE=str(cache), MPLBACKEND=INLINE_FIGURES)  # as in Jupyter
    os.environ.pop("COURSE_QUICK", None)                                                        # full mode
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    run_notebook(notebook, path.parent, path.name, timeout=3600)
    return time.perf_counter() - start, notebook


def section_seconds(notebook: nbformat.NotebookNode) -> list[tuple[str, float]]:
    """Seconds spent in each ``##`` section of an executed notebook, from nbclient's per-cell timing."""
    sections: list[tuple[str, float]] = [("(title)", 0.0)]
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            sections.append((cell.source.splitlines()[0][3:].split(" *(")[0], 0.0))
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            began, ended = (_seconds(timing[key]) for key in ("iopub.execute_input", "shell.execute_reply"))
            name, spent = sections[-1]
            sections[-1] = (name, spent + ended - began)
    return sections


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def time_warmup() -> dict:
    """Time ``python -m course_utils.warmup`` (what ``make warmup`` runs) with an empty cache."""
    with tempfile.TemporaryDirectory(prefix="course-times-") as cache:
        env = {**os.environ, "COURSE_DATA": "bundled", "COURSE_CACHE": cache}
        env.pop("COURSE_QUICK", None)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "course_utils.warmup"], env=env, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    print(f"\nmake warmup: {seconds:.0f} s", flush=True)
    return {"notebook": "warmup", "title": WARMUP_TITLE, "class_minutes": 0, "first_s": round(seconds, 1), "cached_s": 0.0}


def title(path: Path) -> str:
    return nbformat.read(path, as_version=4).cells[0].source.splitlines()[0].lstrip("# ").strip()


def run_time_line(first: float, cached: float) -> str:
    """The line under a notebook's title; a hygiene test reads the same times back from it and from the README."""
    times = (f"about {rounded(first)}" if rounded(first) == rounded(cached)
             else f"about {rounded(first)} the first time, {rounded(cached)} once its models are cached")
    return f"*Run time in full mode with the bundled digits, on a 2-core CPU:\n{times} (measured by `tools/time_notebooks.py`).*"


def write_notebook_line(path: Path, first: float, cached: float) -> None:
    """Put the measured run time under the notebook's title, replacing the line that was there."""
    notebook = nbformat.read(path, as_version=4)
    head = notebook.cells[0]
    line = run_time_line(first, cached)
    head.source = RUN_TIME_LINE.sub(line, head.source) if RUN_TIME_LINE.search(head.source) else head.source + "\n\n" + line
    nbformat.write(notebook, path)


def write_readme(rows: list[dict], device: str) -> None:
    """Put the rows into the README's table (replacing those of the same notebooks, in notebook order)."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise SystemExit(f"README.md has no {README_START} … {README_END} block to write the table into")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text[start:end].splitlines()
             if line.startswith("| ") and not line.startswith(("| notebook", "| ---"))}
    for row in rows:
        if row["title"] == WARMUP_TITLE:
            lines[row["title"]] = f"| {WARMUP_TITLE} | | {rounded(row['first_s'])} | |"
        else:
            lines[row["title"]] = (f"| {row['title']} | {row['class_minutes']} min | {rounded(row['first_s'])} | "
                                   f"{rounded(row['cached_s'])} |")
    machine = f"{os.cpu_count()}-core {platform.machine()} CPU, Python {platform.python_version()}, device {device}"
    table = ["| notebook | class time | full mode, first run | full mode, cached |", "| --- | --- | --- | --- |",
             *(lines[key] for key in sorted(lines, key=lambda k: (k == WARMUP_TITLE, k))), "",
             f"Last measured on {date.today():%Y-%m-%d} ({machine}; bundled digits) with "
             "`python tools/time_notebooks.py --write`: each notebook first with an empty cache of its own, then again "
             "with the cache it filled; rounded."]
    readme.write_text(text[:start] + "\n" + "\n".join(table) + "\n" + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: notebooks/*.ipynb)")
    parser.add_argument("--write", action="store_true", help="write the times into the README and the notebooks")
    parser.add_argument("--warmup", action="store_true", help="also time `make warmup` with an empty cache")
    parser.add_argument("--keep", type=Path, help="save each notebook as executed on its first run in this folder")
    parser.add_argument("--cache", type=Path, help="an empty or new folder to use as the cache (one notebook only) and "
                                                    "keep, e.g. to run a benchmark on the models the first run trained")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.cache and (len(paths) != 1 or (args.cache.exists() and any(args.cache.iterdir()))):
        parser.error("--cache takes one notebook and an empty or new folder, so that the first run starts empty")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    device = str(get_device())
    rows = []
    for path in paths:
        with (nullcontext(args.cache) if args.cache else tempfile.TemporaryDirectory(prefix="course-times-")) as cache:
            try:
                first, executed = execute(path, Path(cache))
                cached, _ = execute(path, Path(cache))
            except NotebookRunError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, args.keep / path.name)
        promised, sections = class_minutes(nbformat.read(path, as_version=4))
        row = {"notebook": path.name, "title": title(path), "class_minutes": promised, "section_minutes": sections,
               "first_s": round(first, 1), "cached_s": round(cached, 1),
               "sections_first_s": {name: round(s, 1) for name, s in section_seconds(executed)}}
        rows.append(row)
        print(f"\n{path.name}: first run {first:.0f} s, cached {cached:.0f} s; class time {promised} min "
              f"(sections add up to {sections} min)", flush=True)
        for name, spent in row["sections_first_s"].items():
            print(f"    {spent:7.1f} s  {name}")
    if args.warmup:
        rows.append(time_warmup())
    print(f"\n| notebook | first run | cached |\n| --- | --- | --- |")
    for row in rows:
        print(f"| {row['notebook']} | {row['first_s']:.0f} s | {row['cached_s']:.0f} s |")
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    if args.write:
        for path, row in zip(paths, rows):
            if path.suffix == ".ipynb":
                write_notebook_line(path, row["first_s"], row["cached_s"])
        write_readme(rows, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
