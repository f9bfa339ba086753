"""The reveal.js decks that `make slides` builds: they initialise offline, have every slide, and none overflows."""

import os
import re
import subprocess
import sys
from urllib.parse import urlparse

import nbformat
import pytest

from .conftest import ROOT, SCREENSHOTS

SLIDES = ROOT / "build" / "slides"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SLIDE_W, SLIDE_H = 1280, 720
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
REMOTE_LOAD = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["']((?:https?:)?//[^"']+)""", re.I)
PRESENT = """([h, v]) => {
    const horizontal = document.querySelectorAll('.reveal .slides > section')[h];
    const target = horizontal.querySelectorAll(':scope > section')[v] || horizontal;
    return target.classList.contains('present');
}"""


@pytest.fixture(scope="module")
def decks(notebook_runs):
    """Build the decks as `make slides` does, once for this module, from the run's one execution of the notebooks.

    Those executions ran in notebook order on an empty cache (``notebook_runs``), so every deck shows its first-run
    output (progress bars, "trained and cached" lines), the tallest a slide can get.
    """
    executed = notebook_runs.all("instructor")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_slides.py"), "--out", str(SLIDES),
                           "--executed", str(executed)],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"make slides failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return {path.stem: SLIDES / f"{path.stem}.slides.html" for path in NOTEBOOKS}


def expected_slide_count(path) -> int:
    cells = nbformat.read(path, as_version=4).cells
    return sum(cell.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide") for cell in cells)


def test_every_notebook_has_a_deck_and_the_index_links_them(decks):
    index = (SLIDES / "index.html").read_text(encoding="utf-8")
    for name, deck in decks.items():
        assert deck.is_file(), f"no deck for {name}"
        assert f'href="{deck.name}"' in index
        remote = REMOTE_LOAD.findall(deck.read_text(encoding="utf-8"))
        assert not remote, f"{deck.name} loads resources from the internet: {remote[:5]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_deck_initialises_offline_with_every_slide_and_nothing_overflows(browser, decks, notebook):
    deck = decks[notebook.stem]
    page = browser.new_page(viewport={"width": SLIDE_W, "height": SLIDE_H})
    requests, failures, errors = [], [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failures.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(deck.as_uri(), timeout=30_000)
        page.wait_for_selector(".reveal.ready", timeout=30_000)
        page.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0", timeout=30_000)

        leaves = page.evaluate("""() => [...document.querySelectorAll('.reveal .slides > section')].flatMap((h, i) => {
            const subs = h.querySelectorAll(':scope > section');
            return subs.length ? [...subs].map((_, j) => [i, j]) : [[i, 0]];
        })""")
        assert len(leaves) == expected_slide_count(notebook), "slide count differs from the notebook's slide metadata"

        page.screenshot(path=str(SCREENSHOTS / f"slides_{notebook.stem}_first.png"))
        overflowing, derivation_shot = [], False
        for h, v in leaves:
            page.evaluate(f"window.location.hash = '#/{h}/{v}'")
            page.wait_for_function(PRESENT, arg=[h, v], timeout=5_000)
            page.wait_for_timeout(50)  # reveal.js asks MathJax to re-typeset the new slide; wait until it has
            page.wait_for_function("MathJax.Hub.queue.pending === 0", timeout=30_000)
            height, title, has_derivation = page.evaluate("""() => {
                const s = document.querySelector('.reveal .slides section.present:not(.stack)');
                const heading = s.querySelector('h1, h2, h3');
                return [s.scrollHeight, heading ? heading.textContent.trim() : '(no heading)',
                        s.querySelectorAll('.MJXc-display').length >= 2];
            }""")
            if height > SLIDE_H + 4:
                overflowing.append(f"#/{h}/{v} '{title[:60]}' is {height}px tall")
            if has_derivation and not derivation_shot:
                page.wait_for_timeout(300)
                page.screenshot(path=str(SCREENSHOTS / f"slides_{notebook.stem}_derivation.png"))
                derivation_shot = True
        assert not overflowing, f"slides taller than {SLIDE_H}px (split them with subslides): {overflowing}"
    finally:
        page.close()

    outside = [url for url in requests if urlparse(url).scheme not in LOCAL_SCHEMES]
    assert not outside, f"the deck requested outside hosts: {outside}"
    assert not failures, f"requests that failed (missing local files?): {failures}"
    assert not errors, f"JavaScript errors in the deck: {errors}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_think_answers_stay_hidden_until_clicked_in_the_deck(browser, decks, notebook):
    page = browser.new_page(viewport={"width": SLIDE_W, "height": SLIDE_H})
    try:
        page.goto(decks[notebook.stem].as_uri(), timeout=30_000)
        page.wait_for_selector(".reveal.ready", timeout=30_000)
        count = page.locator(".reveal details").count()
        assert count >= 2, f"{notebook.stem}: {count} Think! answers in the deck"
        for index in range(count):
            h, v = page.evaluate(f"""() => {{
                const section = document.querySelectorAll('.reveal details')[{index}].closest('section');
                const top = section.parentElement.matches('.slides') ? section : section.parentElement;
                const h = [...document.querySelectorAll('.reveal .slides > section')].indexOf(top);
                return [h, top === section ? 0 : [...top.querySelectorAll(':scope > section')].indexOf(section)];
            }}""")
            page.evaluate(f"window.location.hash = '#/{h}/{v}'")
            page.wait_for_timeout(150)
            details = page.locator(".reveal details").nth(index)
            answer_height = "d => d.getBoundingClientRect().height - d.querySelector('summary').getBoundingClientRect().height"
            assert not details.evaluate("d => d.open") and details.evaluate(answer_height) < 1
            details.locator("summary").click()
            assert details.evaluate("d => d.open") and details.evaluate(answer_height) > 10, "the answer did not open"
    finally:
        page.close()
