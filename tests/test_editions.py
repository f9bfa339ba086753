"""The student and instructor editions (`make student`, `make instructor`): no solution leaks into the student
edition, every exercise has a solution, and the builder replaces only its own output. That both editions run and
give the verdicts they should is tested with the one execution of each (`test_notebooks.py`)."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from build_editions import NOTEBOOKS, SOLUTION_TAG, STUB, main, student_edition, write_edition  # noqa: E402
from output_folder import OutputFolderError, marker  # noqa: E402

REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", flags=re.MULTILINE | re.DOTALL)


def _solution_lines(notebook) -> set[str]:
    """The lines inside solution regions that appear nowhere else in the notebook (so finding one is a leak)."""
    inside, outside = set(), set()
    for cell in notebook.cells:
        regions = REGION.findall(cell.source)
        inside |= {line.strip() for region in regions for line in region.splitlines() if line.strip()}
        outside |= {line.strip() for line in REGION.sub("", cell.source).splitlines()}
    return inside - outside


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_solution_reaches_the_student_edition(path):
    source = nbformat.read(path, as_version=4)
    student = student_edition(source)
    text = "\n".join(cell.source for cell in student.cells)
    leaked = [line for line in _solution_lines(source) if line in text]
    assert not leaked, f"{path.name}: solution lines in the student edition: {leaked}"
    assert "SOLUTION" not in text, f"{path.name}: a solution marker survived"
    assert not [cell for cell in student.cells if SOLUTION_TAG in cell.metadata.get("tags", [])]
    assert not re.search(r"^Solution:", text, flags=re.MULTILINE), f"{path.name}: a 'Solution:' cell is untagged"
    code = "\n".join(cell.source for cell in student.cells if cell.cell_type == "code")
    assert code.count(STUB) == sum(len(REGION.findall(cell.source)) for cell in source.cells)
    assert len(student.cells) == len(source.cells) - sum(SOLUTION_TAG in c.metadata.get("tags", []) for c in source.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_cell_has_a_solution(path):
    """A cell that asks for code (a function to write or a change to make) holds its solution between the markers."""
    for cell in nbformat.read(path, as_version=4).cells:
        asks = cell.cell_type == "code" and ("write your change below" in cell.source or
                                             re.search(r"^def (my_|to_symmetric|best_constant|feature_distance|"
                                                       r"transposed_conv_size|slerp)", cell.source, flags=re.M))
        if asks:
            assert REGION.search(cell.source), f"{path.name}: an exercise cell without a solution:\n{cell.source[:300]}"


def test_the_builder_refuses_an_unknown_edition(tmp_path):
    with pytest.raises(ValueError, match="edition must be 'student' or 'instructor', got 'teacher'"):
        write_edition("teacher", tmp_path)


def _contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too), by relative path."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_folder_the_builder_did_not_write_is_refused_and_kept(tmp_path, capsys):
    mine = tmp_path / "myhome"
    (mine / "project").mkdir(parents=True)
    (mine / "thesis.tex").write_text("untracked work")
    (mine / "project" / ".env").write_text("SECRET=1")
    before = _contents(mine)
    assert main(["student", "--out", str(mine)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and ": error: " in error, "one line, in the style of argparse"
    assert str(mine.resolve()) in error and "not written by build_editions.py" in error
    assert _contents(mine) == before and sorted(p.name for p in tmp_path.iterdir()) == ["myhome"], \
        "nothing deleted, nothing left behind"
    with pytest.raises(OutputFolderError):
        write_edition("instructor", mine, NOTEBOOKS[:1])


def test_the_notebooks_folder_and_any_folder_of_source_notebooks_are_refused(tmp_path, capsys):
    before = _contents(ROOT / "notebooks")
    for out in (ROOT / "notebooks", ROOT):
        assert main(["student", "--out", str(out)]) == 2
        assert "holds the source notebooks" in capsys.readouterr().err
    assert _contents(ROOT / "notebooks") == before
    sources = tmp_path / "sources"  # only a notebook and even the builder's marker: still a folder of sources
    sources.mkdir()
    (sources / NOTEBOOKS[0].name).write_bytes(NOTEBOOKS[0].read_bytes())
    (sources / marker("build_editions")).write_text("")
    with pytest.raises(OutputFolderError, match="holds the source notebooks"):
        write_edition("student", sources, [sources / NOTEBOOKS[0].name])
    assert sorted(p.name for p in sources.iterdir()) == sorted([NOTEBOOKS[0].name, marker("build_editions")])


def test_a_second_run_replaces_the_builders_own_output(tmp_path, capsys):
    out = tmp_path / "build" / "student"
    assert main(["student", "--out", str(out)]) == 0 and (out / marker("build_editions")).is_file()
    (out / "stale.ipynb").write_text("{}")  # e.g. a notebook since renamed: the folder is the builder's own
    written = write_edition("instructor", out, NOTEBOOKS[:2])
    assert sorted(p.name for p in out.iterdir()) == sorted([marker("build_editions")] + [p.name for p in written])
    assert nbformat.read(written[0], as_version=4).cells == nbformat.read(NOTEBOOKS[0], as_version=4).cells
    assert sorted(p.name for p in out.parent.iterdir()) == ["student"], "no temporary folder left behind"


def test_a_failed_write_leaves_the_previous_output_as_it_was(tmp_path):
    out = tmp_path / "student"
    write_edition("student", out, NOTEBOOKS[:2])
    before = _contents(out)
    broken = tmp_path / "99_broken.ipynb"
    broken.write_text("{ not a notebook")
    with pytest.raises(Exception):
        write_edition("student", out, [NOTEBOOKS[0], broken])
    assert _contents(out) == before, "the edition is written elsewhere first, then moved into place"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["99_broken.ipynb", "student"], "the partial copy is gone"
