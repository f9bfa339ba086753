"""Shared fixtures: every test gets its own cache folder and a clean COURSE_* environment."""

import pytest

from course_utils import data


@pytest.fixture(autouse=True)
def isolated_course_env(monkeypatch, tmp_path):
    for name in ("COURSE_QUICK", "COURSE_DATA", "COURSE_DEVICE", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    data._announced.clear()
    yield
    data._announced.clear()
