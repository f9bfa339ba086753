"""Shared fixtures: every test gets its own cache folder and a clean COURSE_* environment; the notebooks run once per
test run (``notebook_runs``); the run ends with one line: how many tests passed, the time, and the slowest test."""

import time
from collections import defaultdict

import pytest

from course_utils.engine import data
from notebook_runs import NotebookRuns


@pytest.fixture(autouse=True)
def isolated_course_env(monkeypatch, tmp_path):
    for name in ("COURSE_QUICK", "COURSE_DATA", "COURSE_DEVICE", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    data._announced.clear()
    yield
    data._announced.clear()


@pytest.fixture(scope="session")
def bundled_mnist():
    """The bundled train and test splits, loaded once per test session."""
    return data.load_mnist("train", source="bundled"), data.load_mnist("test", source="bundled")


@pytest.fixture(scope="session")
def trained_classifier(bundled_mnist):
    """A digit classifier trained briefly (2 epochs, a few seconds) on the bundled digits; shared by tests."""
    import torch

    from course_utils.models.classifier import DigitClassifier
    from course_utils.training.classifier import ClassifierRecipe

    (images, labels), _ = bundled_mnist
    torch.manual_seed(0)
    model = DigitClassifier()
    ClassifierRecipe(epochs=2).train_on(model, images, labels, progress=False)
    return model


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory, worker_id) -> NotebookRuns:
    """Every notebook in both editions, executed once for the whole run and shared by all workers."""
    base = tmp_path_factory.getbasetemp()
    return NotebookRuns((base if worker_id == "master" else base.parent) / "notebook-runs")


def pytest_collection_modifyitems(items):
    """Order the work so that no worker waits for another: the instructor edition's notebook runs (a chain, in
    notebook order) first, what reads them all (the student edition, the decks, the site) last, the rest between.
    pytest-xdist hands out modules (and classes) in this order with ``--no-loadscope-reorder`` (``make test``)."""
    def stage(item) -> int:
        if "::TestInstructorEdition::" in item.nodeid:
            return 0
        readers = ("tests/browser/test_slides.py::", "tests/browser/test_site.py::")
        return 2 if "::TestStudentEdition::" in item.nodeid or item.nodeid.startswith(readers) else 1

    items.sort(key=stage)


_seconds_per_test: dict[str, float] = defaultdict(float)
_started = time.perf_counter()


def pytest_runtest_logreport(report):
    _seconds_per_test[report.nodeid] += report.duration    # setup, call and teardown; on the controller, every worker's


def pytest_unconfigure(config):
    """After pytest's own summary, one line to end the run on (the controller's only, not each worker's)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if hasattr(config, "workerinput") or reporter is None or not _seconds_per_test:
        return
    counts = {key: len(reporter.stats.get(key, [])) for key in ("passed", "failed", "error", "skipped")}
    minutes, seconds = divmod(round(time.perf_counter() - _started), 60)
    slowest, spent = max(_seconds_per_test.items(), key=lambda item: item[1])
    print(f"\ntests: {counts['passed']} passed, {counts['failed'] + counts['error']} failed, {counts['skipped']} "
          f"skipped in {minutes} min {seconds:02d} s; the slowest: {slowest} ({spent:.0f} s)", flush=True)
