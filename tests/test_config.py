import pytest

from course_utils.config import budget, cache_dir, quick_mode


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
