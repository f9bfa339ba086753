"""Every notebook runs from top to bottom in quick mode with the bundled digits, in both editions, and its checkers
give the verdicts they should: every one passes with the instructor's solutions, and every one says "not attempted"
on the student's stubs.

Each edition of each notebook is executed once per test run (``notebook_runs``, in conftest.py); the slide decks and
the website are built from the same executions. The two editions are two classes, so the two pytest workers can run
them side by side.
"""

import re

import nbformat
import pytest
from filelock import FileLock
from notebook_runs import NOTEBOOKS, NotebookRuns


def _verdicts(notebook) -> list[str]:
    """The verdicts the checkers printed for the student's own code (not for a demonstration such as
    ``check(lambda images: 2 * images)``)."""
    verdicts = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and re.search(r"\.check\((?!lambda)", cell.source):
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
            verdicts += [line for line in text.splitlines() if line[:1] in "✓✗…"]
    return verdicts


def _verdicts_of_a_clean_run(notebook_runs, edition: str, path) -> list[str]:
    """The checkers' verdicts in ``edition``'s run of ``path``, after checking that every cell ran."""
    run = notebook_runs.get(edition, path)
    assert run.error is None, f"{path.name}, {edition} edition, failed in quick mode after {run.seconds:.0f} s:\n" \
                              f"{run.error}"
    verdicts = _verdicts(run.notebook)
    assert verdicts, f"{path.name}: no checker printed anything"
    return verdicts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestInstructorEdition:
    def test_every_cell_runs_and_every_checker_passes(self, notebook_runs, path):
        verdicts = _verdicts_of_a_clean_run(notebook_runs, "instructor", path)
        assert all(v.startswith("✓") for v in verdicts), f"{path.name}: {verdicts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestStudentEdition:
    def test_every_cell_runs_and_every_checker_says_not_attempted(self, notebook_runs, path):
        verdicts = _verdicts_of_a_clean_run(notebook_runs, "student", path)
        assert all(v.startswith("…") and ("not attempted yet" in v or "not run yet" in v) for v in verdicts), \
            f"{path.name}: {verdicts}"


def _notebook(folder, name, *sources):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / name)
    return folder / name


def test_each_notebook_runs_once_in_order_and_a_failing_cell_is_named(tmp_path):
    """The mechanism behind the tests above: a second request reads the first run, a later notebook first runs the
    one before it, and a cell that raises is reported with its number and error."""
    sources, log = tmp_path / "notebooks", tmp_path / "ran.txt"
    sources.mkdir()
    record = f"open({str(log)!r}, 'a').write(stamp + '\\n')"
    first = _notebook(sources, "01_first.ipynb", "stamp = '01'", record)
    broken = _notebook(sources, "02_broken.ipynb", "stamp = '02'", record, "1 / 0", "print('never')")
    runs = NotebookRuns(tmp_path / "runs", [first, broken])
    run = runs.get("instructor", broken)
    assert log.read_text().split() == ["01", "02"], "the notebook before it ran first"
    assert "cell 2" in run.error and "ZeroDivisionError" in run.error and "02_broken.ipynb" in run.error
    again = runs.get("instructor", first)
    assert again.error is None and again.notebook.cells[1].source == record and log.read_text().split() == ["01", "02"]
    with FileLock(str(runs.folder("student") / "01_first.lock")):     # as while another worker runs it
        assert runs._ensure("student", first, wait=False) is None, "all() moves on instead of waiting"
    student = runs.all("student")
    assert sorted(p.name for p in student.glob("*.ipynb")) == ["01_first.ipynb", "02_broken.ipynb"]
    assert log.read_text().split() == ["01", "02", "01", "02"], "each edition ran each notebook once"
    with pytest.raises(ValueError, match="edition must be one of"):
        runs.get("teacher", first)
