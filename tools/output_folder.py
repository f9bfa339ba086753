"""Output folders the build tools own, so that no tool deletes what it did not write.

A tool writes into a fresh folder beside ``out`` and moves it into place when done, marked with a file
``.written-by-<tool>``. It replaces ``out`` only if ``out`` is new, empty or carries that marker, and never when
``out`` is (or contains) a folder of source notebooks, such as the course's ``notebooks/``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


class OutputFolderError(ValueError):
    """The tool may not replace this folder; the message names it and what to do."""


def marker(tool: str) -> str:
    """The file that marks a folder as written by ``tool`` (e.g. ``.written-by-build_editions``)."""
    return f".written-by-{tool}"


def check_replaceable(out: Path, tool: str, sources: Iterable[Path] = ()) -> None:
    """Raise OutputFolderError unless ``tool`` may replace ``out``: a new or empty folder, or the tool's own output,
    and neither one of the folders ``sources`` (notebooks/ always among them) nor one that contains them."""
    out = out.resolve()
    for folder in {NOTEBOOKS, *(Path(source).resolve() for source in sources)}:
        if out == folder or out in folder.parents:
            raise OutputFolderError(f"{out} holds the source notebooks in {folder}: write to another folder, "
                                    f"e.g. one under build/")
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out} is a file: write to a folder that is new, empty or written by {tool}.py")
    if out.is_dir() and any(out.iterdir()) and not (out / marker(tool)).is_file():
        raise OutputFolderError(f"{out} is not empty and was not written by {tool}.py (it has no {marker(tool)} "
                                f"file): write to a new or empty folder, or move its contents away yourself")


@contextmanager
def fresh_folder(out: Path, tool: str, sources: Iterable[Path] = ()) -> Iterator[Path]:
    """An empty folder beside ``out`` to write into. When the block ends, it is marked as ``tool``'s and moved to
    ``out``, replacing the tool's earlier output there; if the block fails, it is deleted and ``out`` is untouched."""
    sources = list(sources)
    check_replaceable(out, tool, sources)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}-", suffix=".partial", dir=out.parent))
    try:
        yield new
        (new / marker(tool)).write_text(f"Written by tools/{tool}.py, which replaces this folder when run again.\n")
        check_replaceable(out, tool, sources)  # again: something may have been put there meanwhile
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-", suffix=".old", dir=out.parent))
            out.rename(old / out.name)  # the tool's own earlier output (or an empty folder), set aside
            new.rename(out)
            shutil.rmtree(old)
        else:
            new.rename(out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
