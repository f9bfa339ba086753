"""The student and instructor editions (`make student`, `make instructor`): no solution leaks into the student
edition, every exercise has a solution, and both editions run (quick mode) with the verdicts they should give."""

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

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


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Both editions, written by the builder and executed in quick mode with the bundled digits."""
    cache = os.environ.get("COURSE_CACHE") or str(tmp_path_factory.mktemp("cache"))
    env = dict(COURSE_QUICK="1", COURSE_DATA="bundled", COURSE_CACHE=cache, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        editions = {}
        for edition in ("student", "instructor"):
            notebooks = []
            for path in write_edition(edition, tmp_path_factory.mktemp(edition)):
                notebook = nbformat.read(path, as_version=4)
                NotebookClient(notebook, timeout=900, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
                notebooks.append((path.name, notebook))
            editions[edition] = notebooks
        return editions
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


def _verdicts(notebook) -> list[str]:
    """The verdicts the checkers printed for the student's own code (not for a demonstration such as
    ``check(lambda images: 2 * images)``)."""
    verdicts = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and re.search(r"\.check\((?!lambda)", cell.source):
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
            verdicts += [line for line in text.splitlines() if line[:1] in "✓✗…"]
    return verdicts


def test_the_student_edition_runs_and_every_checker_says_not_attempted(executed):
    total = 0
    for name, notebook in executed["student"]:
        verdicts = _verdicts(notebook)
        assert verdicts, f"{name}: no checker printed anything"
        assert all(v.startswith("…") and ("not attempted yet" in v or "not run yet" in v) for v in verdicts), \
            f"{name}: {verdicts}"
        total += len(verdicts)
    assert total >= 15


def test_the_instructor_edition_passes_every_checker(executed):
    for name, notebook in executed["instructor"]:
        verdicts = _verdicts(notebook)
        assert verdicts and all(v.startswith("✓") for v in verdicts), f"{name}: {verdicts}"
