"""Write the student and instructor editions of the notebooks: ``python tools/build_editions.py student|instructor``.

Solutions live in the notebooks between nbgrader's markers (``### BEGIN SOLUTION`` / ``### END SOLUTION``), and
cells that discuss a solution carry the tag ``solution``. The student edition (``build/student/``) is made by
nbgrader's own ``ClearSolutions`` preprocessor, run standalone: every solution region becomes ``# YOUR CODE HERE``
(an exercise function then returns ``None`` and its checker says "not attempted yet"; an experiment keeps the
``None`` its cell starts from), and nbconvert's ``TagRemovePreprocessor`` drops the ``solution`` cells. The
instructor edition (``build/instructor/``) is the notebooks as they are: solutions, their discussion and the
speaker notes (cells of slide type "notes") all visible. Both are written without outputs, into a fresh folder
that then replaces ``--out``: only a new or empty folder, or one this tool wrote (``output_folder.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
from nbgrader.preprocessors import ClearSolutions
from output_folder import OutputFolderError, fresh_folder

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
    """Write ``edition`` ("student" or "instructor") of ``notebooks`` into ``out``, replacing it; return the files.

    ``out`` must be new, empty or this tool's earlier output, and hold no source notebook (else OutputFolderError)."""
    if edition not in ("student", "instructor"):
        raise ValueError(f"edition must be 'student' or 'instructor', got {edition!r}")
    with fresh_folder(out, Path(__file__).stem, sources=[path.parent for path in notebooks]) as folder:
        for path in notebooks:
            notebook = nbformat.read(path, as_version=4)
            if edition == "student":
                notebook = student_edition(notebook)
            nbformat.write(notebook, folder / path.name)
    return [out / path.name for path in notebooks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edition", choices=("student", "instructor"))
    parser.add_argument("--out", type=Path, help="folder to write (default: build/<edition>): a new or empty one, "
                                                 "or this tool's earlier output, which is replaced")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / args.edition
    try:
        written = write_edition(args.edition, out)
    except OutputFolderError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote the {args.edition} edition of {len(written)} notebooks to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
