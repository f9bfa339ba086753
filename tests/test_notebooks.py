"""Every notebook runs from top to bottom in quick mode with the bundled digits, in both editions, and its checkers
give the verdicts they should: every one passes with the instructor's solutions, and every one says "not attempted"
on the student's stubs.

Each edition of each notebook is executed once per test run (``notebook_runs``, in conftest.py); the slide decks and
the website are built from the same executions. The two editions are two classes, so the two pytest workers can run
them side by side.
"""

import re

import pytest
from notebook_runs import NOTEBOOKS


def _verdicts(notebook) -> list[str]:
    """The verdicts the checkers printed for the student's own code (not for a demonstration such as
    ``check(lambda images: 2 * images)``)."""
    verdicts = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and re.search(r"\.check\((?!lambda)", cell.source):
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
            verdicts += [line for line in text.splitlines() if line[:1] in "✓✗…"]
    return verdicts


def _no_error(run, path) -> None:
    assert run.error is None, f"{path.name} failed in quick mode ({run.seconds:.0f} s):\n{run.error}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestInstructorEdition:
    def test_every_cell_runs_and_every_checker_passes(self, notebook_runs, path):
        run = notebook_runs.get("instructor", path)
        _no_error(run, path)
        verdicts = _verdicts(run.notebook)
        assert verdicts and all(v.startswith("✓") for v in verdicts), f"{path.name}: {verdicts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestStudentEdition:
    def test_every_cell_runs_and_every_checker_says_not_attempted(self, notebook_runs, path):
        run = notebook_runs.get("student", path)
        _no_error(run, path)
        verdicts = _verdicts(run.notebook)
        assert verdicts, f"{path.name}: no checker printed anything"
        assert all(v.startswith("…") and ("not attempted yet" in v or "not run yet" in v) for v in verdicts), \
            f"{path.name}: {verdicts}"

