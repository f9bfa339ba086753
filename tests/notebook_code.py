"""Run the code of one notebook cell in a test: the cell that defines a given function, or an experiment cell.

Where a notebook writes out the lines a lesson is about (a training step, the batch-norm statistics), a test runs
those very lines and compares them with the library's fast path, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cell_defining(notebook: str, name: str) -> str:
    """The source of the one code cell of ``notebooks/<notebook>`` that defines ``def name(``."""
    cells = [cell.source for cell in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
             if cell.cell_type == "code" and re.search(rf"^def {name}\(", cell.source, flags=re.MULTILINE)]
    if len(cells) != 1:
        raise AssertionError(f"expected one cell of {notebook} to define {name}(), found {len(cells)}")
    return cells[0]


def run_cell_defining(notebook: str, name: str, namespace: dict) -> dict:
    """Run that cell in ``namespace`` (the names the notebook's earlier cells made) and return the namespace."""
    exec(compile(cell_defining(notebook, name), f"{notebook}:{name}", "exec"), namespace)
    return namespace


def run_experiment_cell(notebook: str, change: str, namespace: dict) -> dict:
    """Run the experiment cell of ``notebooks/<notebook>`` as a student would after making ``change``.

    ``change`` is the line the student writes in place of the cell's ``name = None   # YOUR CHANGE …`` line, for
    example ``"my_kernel = 3"``; returns the namespace, which then holds the cell's ``outcome``.
    """
    name = change.split("=")[0].strip()
    pattern = rf"^{re.escape(name)} = None\b.*# YOUR CHANGE.*$"
    cells = [cell.source for cell in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
             if cell.cell_type == "code" and re.search(pattern, cell.source, flags=re.MULTILINE)]
    if len(cells) != 1:
        raise AssertionError(f"expected one cell of {notebook} with the line '{name} = None  # YOUR CHANGE', found {len(cells)}")
    source = re.sub(pattern, change, cells[0], flags=re.MULTILINE)
    exec(compile(source, f"{notebook}:{name}", "exec"), namespace)
    return namespace
