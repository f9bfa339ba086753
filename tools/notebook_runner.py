"""Run a notebook as Jupyter does, the one way that the slides, the site and the tests run it, or take one already run.

Widget state is kept, so sliders render in a static deck or page; figures are drawn inline when the caller sets
``MPLBACKEND`` to ``INLINE_FIGURES`` for the kernels it starts.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

INLINE_FIGURES = "module://matplotlib_inline.backend_inline"


class NotebookRunError(RuntimeError):
    """A notebook could not be run (or taken): the message names the notebook, the cell and the error."""


def execute(notebook: nbformat.NotebookNode, folder: Path, name: str, timeout: int = 900) -> None:
    """Run every cell of ``notebook`` in place with ``folder`` as the current folder; NotebookRunError if one fails."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except Exception as error:  # a cell's exception, a cell over the time limit, a kernel that died
        failed = next((index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code" and
                       any(output.output_type == "error" for output in cell.get("outputs", []))), None)
        where = f"cell {failed}" if failed is not None else "a cell"
        raise NotebookRunError(f"executing {name} failed at {where}: {str(error).strip()[-2500:]}") from error


def read_executed(folder: Path, name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` as already executed into ``folder``; NotebookRunError if it is missing or was not run."""
    path = folder / name
    if not path.is_file():
        raise NotebookRunError(f"{folder}: there is no executed {name} in it")
    notebook = nbformat.read(path, as_version=4)
    if not any(cell.get("outputs") for cell in notebook.cells):
        raise NotebookRunError(f"{path} has no outputs: execute it first, or build without --executed")
    return notebook
