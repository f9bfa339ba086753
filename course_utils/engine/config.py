"""Course-wide settings read from the environment: quick mode, run budgets and the cache folder.

Notebooks never hard-code two sets of numbers; they ask ``budget(full=..., quick=...)`` and get the one that
fits the current mode. ``COURSE_QUICK=1`` (set by the test suite) makes every notebook finish in seconds.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_CACHE_FIX = "set COURSE_CACHE to a folder you can write to (for example COURSE_CACHE=/tmp/course_cache) and run again."


class CacheError(OSError):
    """The cache folder (``COURSE_CACHE``) cannot be created or written; the message names it and says what to do."""


def quick_mode() -> bool:
    """True when ``COURSE_QUICK`` asks for short runs (``1``, ``true``, ``yes`` or ``on``)."""
    value = os.environ.get("COURSE_QUICK", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"COURSE_QUICK={value!r} is not understood: use COURSE_QUICK=1 for quick mode or 0 (or unset) for full runs.")


def budget(*, full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise, e.g. ``epochs = budget(full=20, quick=1)``."""
    return quick if quick_mode() else full


def cache_dir() -> Path:
    """The folder for downloaded data and trained models: ``COURSE_CACHE``, default ``~/.cache/course_utils``.

    The folder is created if it does not exist yet; :class:`CacheError` says so if it cannot be.
    """
    path = Path(os.environ.get("COURSE_CACHE") or Path.home() / ".cache" / "course_utils").expanduser()
    if path.exists() and not path.is_dir():
        raise CacheError(f"the course cache {path} is a file, not a folder: {_CACHE_FIX}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or error
        raise CacheError(f"the course cache {path} cannot be created ({reason}): {_CACHE_FIX}") from error
    return path


def ensure_writable(folder: Path) -> Path:
    """Create ``folder`` and check a file can be written in it, so a long run fails at its start, not at its end."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CacheError(f"cannot write to {folder} ({error.strerror or error}), so nothing trained now could be "
                         f"kept: {_CACHE_FIX}") from error
    return folder
