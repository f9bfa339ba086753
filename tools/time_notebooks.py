"""Measure how long every notebook takes in full mode: ``python tools/time_notebooks.py [--write] [--warmup] [nb…]``.

Each notebook is executed twice in full mode with the bundled digits: first with an empty cache of its own (it
trains and caches every model it loads, as on a student's first run), then again with the cache that run filled.
The script prints a table, the run time of every section of the first run, and one JSON line per notebook. With
``--write`` it puts the rounded times into the README's run-time table, into the columns of the kind of machine it
ran on, and rewrites that machine's provenance paragraph under the table:

* on a CPU, the two "full mode" columns, the CPU paragraph and the run-time line under each notebook's title, so that
  what a notebook promises is what was measured (a hygiene test checks that the two agree);
* on a CUDA GPU (``get_device()`` is ``cuda``), only the two "GPU" columns and the GPU paragraph, which names the
  GPU, the CUDA and PyTorch versions, the date and the command; the notebooks' lines keep their CPU times.

A run never overwrites the other kind's numbers; a column that was never measured shows "—". ``--warmup`` also
times ``make warmup`` with an empty cache (its row has a first run only). ``--write`` refuses other devices (MPS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import date, datetime
from pathlib import Path

import nbformat
import torch

from course_utils.engine.device import get_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_runner import INLINE_FIGURES, NotebookRunError  # noqa: E402  (tools/ is no package)
from notebook_runner import execute as run_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
README_START, README_END = "<!-- run-times:start -->", "<!-- run-times:end -->"
RUN_TIME_LINE = re.compile(r"^\*Run time in full mode[^*]*\*$", flags=re.MULTILINE)
WARMUP_TITLE = "`make warmup`: every model the notebooks load"
COLUMNS = ("notebook", "class time", "full mode, first run", "full mode, cached", "GPU, first run", "GPU, cached")
MEASURED = {"cpu": (2, 3), "cuda": (4, 5)}  # the device type's first-run and cached columns in COLUMNS
NOT_MEASURED = "—"
GPU_PARAGRAPH = "GPU columns:"
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


def describe_machine(device: torch.device) -> str:
    """The machine that measured, for the provenance paragraph; the one place that asks CUDA, so writers take text."""
    if device.type == "cuda":
        return (f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, PyTorch {torch.__version__}, "
                f"Python {platform.python_version()}")
    return f"{os.cpu_count()}-core {platform.machine()} CPU, Python {platform.python_version()}, device {device}"


def provenance(device_type: str, machine: str, command: str) -> str:
    """The paragraph under the table that says when, on what and how the ``device_type`` columns were measured."""
    lead = f"{GPU_PARAGRAPH} last measured" if device_type == "cuda" else "Last measured"
    return (f"{lead} on {date.today():%Y-%m-%d} ({machine}; bundled digits) with `{command}`: each notebook first with "
            "an empty cache of its own, then again with the cache it filled; rounded.")


def table_cells(line: str) -> list[str]:
    """A Markdown table row's cells, stripped (the notebooks' titles hold no "|")."""
    return [cell.strip() for cell in line.strip()[1:-1].split("|")]


def table_line(cells: list[str] | tuple[str, ...]) -> str:
    """A Markdown table row from its cells, an empty cell written "| |" as the README always had it."""
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def new_cells(row: dict) -> list[str]:
    """A row new to the table (a notebook or ``make warmup``): "—" where a time goes, blank where none will."""
    if row["title"] == WARMUP_TITLE:
        return [WARMUP_TITLE, "", NOT_MEASURED, "", NOT_MEASURED, ""]
    return [row["title"], f"{row['class_minutes']} min", *[NOT_MEASURED] * 4]


def measured_cells(cells: list[str], row: dict, device_type: str) -> list[str]:
    """``cells`` with the class time and ``device_type``'s times from ``row``; the other device's cells as they were."""
    first, cached = MEASURED[device_type]
    cells = list(cells)
    cells[first] = rounded(row["first_s"])
    if row["title"] != WARMUP_TITLE:
        cells[1], cells[cached] = f"{row['class_minutes']} min", rounded(row["cached_s"])
    return cells


def write_readme(rows: list[dict], device_type: str, machine: str, command: str,
                 readme: Path = ROOT / "README.md") -> None:
    """Put the rows into ``device_type``'s columns of the README's table and rewrite that device's paragraph only.

    ``device_type`` is ``"cpu"`` or ``"cuda"``; rows of the same notebooks are updated, new ones added (in title order,
    ``make warmup`` last), and the other device's cells and paragraph kept verbatim, so neither run clobbers the other.
    """
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme.name} has no {README_START} … {README_END} block to write the table into")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    block = text[start:end].splitlines()
    cells = {row[0]: row for row in (table_cells(line) for line in block if line.startswith("|"))
             if row[0] not in (COLUMNS[0], "---")}
    for row in rows:
        cells[row["title"]] = measured_cells(cells.get(row["title"]) or new_cells(row), row, device_type)
    prose = "\n".join(line for line in block if not line.startswith("|")).strip()
    paragraphs = [p for p in re.split(r"\n\s*\n", prose) if p]
    gpu = [p for p in paragraphs if p.startswith(GPU_PARAGRAPH)]
    cpu = [p for p in paragraphs if not p.startswith(GPU_PARAGRAPH)]
    if device_type == "cuda":
        gpu = [provenance(device_type, machine, command)]
    else:
        cpu = [provenance(device_type, machine, command)]
    table = [table_line(COLUMNS), table_line(["---"] * len(COLUMNS)),
             *(table_line(cells[key]) for key in sorted(cells, key=lambda k: (k == WARMUP_TITLE, k)))]
    readme.write_text(text[:start] + "\n" + "\n\n".join(["\n".join(table), *cpu, *gpu]) + "\n" + text[end:])


def write_times(paths: list[Path], rows: list[dict], device_type: str, machine: str, command: str,
                readme: Path = ROOT / "README.md") -> None:
    """Write the times where ``device_type``'s numbers belong: its README columns, and on a CPU the notebooks' lines."""
    if device_type == "cpu":  # the line under a notebook's title promises a CPU time
        for path, row in zip(paths, rows):
            write_notebook_line(path, row["first_s"], row["cached_s"])
    write_readme(rows, device_type, machine, command, readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: notebooks/*.ipynb)")
    parser.add_argument("--write", action="store_true", help="write the times into the README's columns for this "
                        "machine's kind (CPU or GPU); on a CPU also into the notebooks' run-time lines")
    parser.add_argument("--warmup", action="store_true", help="also time `make warmup` with an empty cache")
    parser.add_argument("--warmup-only", action="store_true", help="time `make warmup` and no notebook")
    parser.add_argument("--keep", type=Path, help="save each notebook as executed on its first run in this folder")
    parser.add_argument("--cache", type=Path, help="an empty or new folder to use as the cache (one notebook only) and "
                                                    "keep, e.g. to run a benchmark on the models the first run trained")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.warmup_only and args.notebooks:
        parser.error("--warmup-only times no notebook: leave out the notebooks or the option")
    paths = [] if args.warmup_only else [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.cache and (len(paths) != 1 or (args.cache.exists() and any(args.cache.iterdir()))):
        parser.error("--cache takes one notebook and an empty or new folder, so that the first run starts empty")
    device = get_device()
    if args.write and device.type not in MEASURED:
        parser.error(f"--write records CPU or CUDA times only, not {device.type}; set COURSE_DEVICE=cpu or cuda")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
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
    if args.warmup or args.warmup_only:
        rows.append(time_warmup())
    print("\n| notebook | first run | cached |\n| --- | --- | --- |")
    for row in rows:
        print(f"| {row['notebook']} | {row['first_s']:.0f} s | {row['cached_s']:.0f} s |")
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    if args.write:
        command = shlex.join(["python", "tools/time_notebooks.py", *argv])
        write_times(paths, rows, device.type, describe_machine(device), command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
