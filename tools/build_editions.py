"""Write the student and instructor editions of the notebooks: ``python tools/build_editions.py student|instructor``.

Solutions live in the notebooks between nbgrader's markers (``### BEGIN SOLUTION`` / ``### END SOLUTION``), and
cells that discuss a solution carry the tag ``solution``. The student edition (``build/student/``) is made by
nbgrader's own ``ClearSolutions`` preprocessor, run standalone: every solution region becomes ``# YOUR CODE HERE``
(an exercise function then returns ``None`` and its checker says "not attempted yet"; an experiment keeps the
``None`` its cell starts from), and nbconvert's ``TagRemovePreprocessor`` drops the ``solution`` cells. The
instructor edition (``build/instructor/``) is the notebooks as they are: solutions, their discussion and the
speaker notes (cells of slide type "notes") all visible. Both are written without outputs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
from nbgrader.preprocessors import ClearSolutions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STUB = "# YOUR CODE HERE"
SOLUTION_TAG = "solution"


def student_edition(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with every solution region replaced by the stub and every solution cell removed."""
    notebook = nbformat.from_dict(notebook)
    resources: dict = {}
    for preprocessor in (TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}, enabled=True),
                         ClearSolutions(code_stub={"python": STUB}, enforce_metadata=False),
                         ClearOutputPreprocessor()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    return notebook


def write_edition(edition: str, out: Path, notebooks: list[Path] = NOTEBOOKS) -> list[Path]:
    """Write ``edition`` ("student" or "instructor") of ``notebooks`` into ``out`` (emptied first); return the files."""
    if edition not in ("student", "instructor"):
        raise ValueError(f"edition must be 'student' or 'instructor', got {edition!r}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    written = []
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        if edition == "student":
            notebook = student_edition(notebook)
        nbformat.write(notebook, out / path.name)
        written.append(out / path.name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edition", choices=("student", "instructor"))
    parser.add_argument("--out", type=Path, help="folder to write (default: build/<edition>)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / args.edition
    written = write_edition(args.edition, out)
    print(f"Wrote the {args.edition} edition of {len(written)} notebooks to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
