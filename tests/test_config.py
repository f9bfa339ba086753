import re
from pathlib import Path

import pytest

from course_utils.engine.config import CacheError, budget, cache_dir, ensure_writable, quick_mode


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_quick_mode_on(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert quick_mode() is True
    assert budget(full=20, quick=1) == 1


@pytest.mark.parametrize("value", [None, "", "0", "false", "off"])
def test_quick_mode_off(monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("COURSE_QUICK", value)
    assert quick_mode() is False
    assert budget(full=20, quick=1) == 20


def test_quick_mode_rejects_unclear_values(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="COURSE_QUICK=1"):
        quick_mode()


def test_budget_requires_both_values_by_name():
    with pytest.raises(TypeError):
        budget(20, 1)


def test_cache_dir_honours_env_and_creates_folder(monkeypatch, tmp_path):
    target = tmp_path / "nested" / "cache"
    monkeypatch.setenv("COURSE_CACHE", str(target))
    assert cache_dir() == target
    assert target.is_dir()


def test_cache_dir_default_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "course_utils"
    assert cache_dir().is_dir()


def test_cache_dir_that_is_a_file_names_course_cache(monkeypatch, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    monkeypatch.setenv("COURSE_CACHE", str(target))
    expected = rf"the course cache {re.escape(str(target))} is a file, not a folder: set COURSE_CACHE to a folder you can write to"
    with pytest.raises(CacheError, match=expected):
        cache_dir()


def test_cache_dir_under_a_file_names_course_cache(monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(CacheError, match=r"cannot be created \(Not a directory\).*set COURSE_CACHE to a folder"):
        cache_dir()


def test_ensure_writable_names_the_folder_and_course_cache():
    with pytest.raises(CacheError, match=r"cannot write to /proc/self/models .*set COURSE_CACHE to a folder") as raised:
        ensure_writable(Path("/proc/self/models"))
    assert isinstance(raised.value, OSError), "code that handles OSError keeps working"


def test_ensure_writable_creates_the_folder_and_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "cache" / "models"
    assert ensure_writable(folder) == folder and list(folder.iterdir()) == []
