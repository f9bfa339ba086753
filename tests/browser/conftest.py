"""Real-browser tests: Debian's Chromium driven by Playwright, headless and cut off from every outside host.

They skip with a reason where Chromium or Playwright is missing, unless ``COURSE_REQUIRE_BROWSER=1`` (set by
``.ci/run``) turns that skip into a failure, so CI always runs them.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
    "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def chromium_path() -> str | None:
    """The Chromium to drive: ``COURSE_CHROMIUM``, else Debian's /usr/bin/chromium, else one on the PATH."""
    candidates = [os.environ.get("COURSE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (make test installs it)"
    if chromium_path() is None:
        return "no Chromium found (install Debian's chromium: apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here (COURSE_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
                                              timeout=60_000)
        try:
            yield instance
        finally:
            instance.close()
