"""Each notebook executed once per test run, in each edition, and shared by every test that reads it.

The notebook tests, the verdict checks, the slide decks and the website all read the same executions. Several pytest
workers may ask at once: a file lock per notebook makes the first one run it and the others wait and read the copy it
wrote. The instructor edition (the notebooks as they are) runs in notebook order on an empty cache of its own, so
each notebook shows the output of a first run (training and caching what no earlier notebook cached), the tallest a
slide can get; the student edition of a notebook runs after the instructor's, with the models it cached.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from filelock import FileLock, Timeout

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from build_editions import NOTEBOOKS, student_edition  # noqa: E402  (tools/ is no package)
from notebook_runner import INLINE_FIGURES, NotebookRunError, execute  # noqa: E402

EDITIONS = ("instructor", "student")


@dataclass(frozen=True)
class Run:
    """One notebook as one edition ran it: the executed copy, the error (None if every cell ran) and the seconds."""

    notebook: nbformat.NotebookNode
    error: str | None
    seconds: float


class NotebookRuns:
    """Executes each (edition, notebook) at most once for all workers sharing ``root``, and hands out the result."""

    def __init__(self, root: Path, notebooks: list[Path] = NOTEBOOKS):
        self.root = root
        self.cache = root / "model-cache"
        self.notebooks = notebooks

    def folder(self, edition: str) -> Path:
        """Where the executed copies of ``edition`` are written (``<name>.ipynb``), e.g. for ``--executed``."""
        return self.root / edition

    def get(self, edition: str, path: Path) -> Run:
        """``path`` as ``edition`` runs it, executing it (and what must run before it) if no worker has yet."""
        folder = self._ensure(edition, path)
        failure = folder / f"{path.stem}.error"
        return Run(nbformat.read(folder / path.name, as_version=4),
                   failure.read_text(encoding="utf-8") if failure.is_file() else None,
                   float((folder / f"{path.stem}.seconds").read_text()))

    def all(self, edition: str) -> Path:
        """Every notebook of ``edition`` executed; returns their folder. Notebooks that another worker is running
        are waited for last, so that this one runs the others meanwhile instead of waiting."""
        pending = list(self.notebooks)
        while pending:
            pending = [path for path in pending if self._ensure(edition, path, wait=False) is None]
            if pending:
                self._ensure(edition, pending.pop(0))
        return self.folder(edition)

    def _ensure(self, edition: str, path: Path, wait: bool = True) -> Path | None:
        """Execute ``path`` as ``edition`` unless a worker has already; returns the folder of the executed copy, or
        None without ``wait`` if another worker is running it now."""
        if edition not in EDITIONS:
            raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
        index = self.notebooks.index(path)
        if edition == "student":
            self._ensure("instructor", path)          # its models are cached first, by the run the slides show
        elif index:
            self._ensure("instructor", self.notebooks[index - 1])  # first runs in notebook order: a deterministic cache
        folder = self.folder(edition)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(folder / f"{path.stem}.lock"), timeout=-1 if wait else 0):
                if not (folder / path.name).is_file():
                    self._execute(edition, path, folder)
        except Timeout:
            return None
        return folder

    def _execute(self, edition: str, path: Path, folder: Path) -> None:
        notebook = nbformat.read(path, as_version=4)    # the instructor edition is the notebook as it is
        if edition == "student":
            notebook = student_edition(notebook)
        environment = dict(COURSE_QUICK="1", COURSE_DATA="bundled", COURSE_CACHE=str(self.cache),
                           MPLBACKEND=INLINE_FIGURES,
                           PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)    # the kernel inherits the environment of the process that starts it
        start = time.perf_counter()
        try:
            execute(notebook, path.parent, path.name)
        except NotebookRunError as error:
            (folder / f"{path.stem}.error").write_text(str(error), encoding="utf-8")
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        (folder / f"{path.stem}.seconds").write_text(f"{time.perf_counter() - start:.2f}")
        nbformat.write(notebook, folder / path.name)  # written last: its presence means "done"
