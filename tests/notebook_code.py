"""Run the code of one notebook cell in a test: the cell that defines a given function, or an experiment cell.

Where a notebook writes out the lines a lesson is about (a training step, the batch-norm statistics), a test runs
those very lines and compares them with the library's fast path, so the two cannot drift apart.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from build_editions import STUB, student_edition  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cell_defining(notebook: str, name: str) -> str:
    """The source of the one code cell of ``notebooks/<notebook>`` that defines ``def name(`` or ``class name``."""
    cells = [cell.source for cell in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
             if cell.cell_type == "code" and re.search(rf"^(def|class) {name}\b", cell.source, flags=re.MULTILINE)]
    if len(cells) != 1:
        raise AssertionError(f"expected one cell of {notebook} to define {name}(), found {len(cells)}")
    return cells[0]


def run_cell_defining(notebook: str, name: str, namespace: dict) -> dict:
    """Run that cell in ``namespace`` (the names the notebook's earlier cells made) and return the namespace."""
    exec(compile(cell_defining(notebook, name), f"{notebook}:{name}", "exec"), namespace)
    return namespace


def run_experiment_cell(notebook: str, change: str, namespace: dict) -> dict:
    """Run the experiment cell of the student edition of ``notebooks/<notebook>`` after making ``change``.

    ``change`` is the line the student writes where the cell says ``# YOUR CODE HERE``, under its
    ``name = None`` line, for example ``"my_kernel = 3"``; returns the namespace, which then holds the cell's
    ``outcome``.
    """
    name = change.split("=")[0].strip()
    student = student_edition(nbformat.read(NOTEBOOKS / notebook, as_version=4))
    cells = [cell.source for cell in student.cells
             if cell.cell_type == "code" and re.search(rf"^{re.escape(name)} = None\b", cell.source, flags=re.MULTILINE)]
    if len(cells) != 1 or STUB not in cells[0]:
        raise AssertionError(f"expected one cell of {notebook} with '{name} = None' and '{STUB}', found {len(cells)}")
    source = cells[0].replace(STUB, change, 1)
    exec(compile(source, f"{notebook}:{name}", "exec"), namespace)
    return namespace
