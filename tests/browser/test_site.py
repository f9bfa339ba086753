"""The course website that `make site` builds: every page opens offline from file://, math typeset, figures shown."""

import os
import re
import subprocess
import sys
from urllib.parse import urlparse

import pytest

from .conftest import ROOT, SCREENSHOTS

SITE = ROOT / "build" / "site"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
RAW_MATH = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\frac|\$[^$\s][^$\n]*\$")
# Once MathJax 2 has started, a callback queued behind the page's first typesetting resolves when that is done.
TYPESET = "() => new Promise(done => MathJax.Hub.Queue(() => done(document.querySelectorAll('.MathJax_CHTML').length)))"
# The visible text of the article, without code, outputs and the typeset math itself (MathJax keeps the TeX source
# of what it rendered in a hidden <script type="math/tex">, which innerText leaves out).
VISIBLE_PROSE = """() => {
    const article = document.querySelector('article.bd-article').cloneNode(true);
    article.querySelectorAll('pre, code, .cell_output, .MathJax_Preview, script').forEach(e => e.remove());
    document.body.appendChild(article);
    const text = article.innerText;
    article.remove();
    return text;
}"""


@pytest.fixture(scope="module")
def site(notebook_runs):
    """Build the site as `make site` does (the student edition, quick mode, bundled digits), once for this module,
    from the run's one execution of the student edition."""
    executed = notebook_runs.all("student")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(SITE),
                           "--executed", str(executed)],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"make site failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return SITE


def open_offline(browser, url):
    """Open ``url`` and wait until MathJax (where the page loads it) and the widget renderer have finished."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    log = {"requests": [], "failed": [], "errors": []}
    page.on("request", lambda request: log["requests"].append(request.url))
    page.on("requestfailed", lambda request: log["failed"].append(request.url))
    page.on("pageerror", lambda error: log["errors"].append(str(error)))
    page.on("console", lambda message: message.type == "error" and log["errors"].append(message.text))
    page.goto(url, timeout=30_000, wait_until="load")
    if page.evaluate("() => !!document.querySelector('script[src*=\"MathJax.js\"]')"):
        page.wait_for_function("() => window.MathJax && MathJax.isReady", timeout=30_000)
        page.evaluate(TYPESET)
    page.wait_for_timeout(300)  # the widget renderer draws after load
    return page, log


def test_every_page_opens_offline_with_math_typeset_and_figures_shown(browser, site):
    pages = [site / "index.html"] + [site / "notebooks" / f"{path.stem}.html" for path in NOTEBOOKS]
    problems = []
    for html in pages:
        assert html.is_file(), f"no page {html.relative_to(site)}"
        page, log = open_offline(browser, html.as_uri())
        name = html.relative_to(site).as_posix()
        try:
            has_math = page.evaluate("() => document.querySelectorAll('.math').length > 0")
            typeset = page.evaluate("() => document.querySelectorAll('.MathJax_CHTML, .MathJax, mjx-container').length")
            if has_math and not typeset:
                problems.append(f"{name}: math is not typeset")
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            raw = RAW_MATH.findall(page.evaluate(VISIBLE_PROSE))
            if raw:
                problems.append(f"{name}: raw TeX left in the text: {raw}")
            broken = page.evaluate("""() => [...document.images]
                .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.getAttribute('src'))""")
            if broken:
                problems.append(f"{name}: broken images {broken[:5]}")
            if html.name == "index.html":
                page.screenshot(path=str(SCREENSHOTS / "site_index.png"), full_page=True)
                links = page.evaluate("() => [...document.querySelectorAll('article a')].map(a => a.href)")
                missing = [p.stem for p in NOTEBOOKS if not any(link.endswith(f"notebooks/{p.stem}.html") for link in links)]
                if missing:
                    problems.append(f"the landing page does not link {missing}")
            elif html.stem == "03_vae_elbo":
                page.screenshot(path=str(SCREENSHOTS / "site_03_vae_elbo.png"))
                page.locator("article h2").nth(2).scroll_into_view_if_needed()
                page.screenshot(path=str(SCREENSHOTS / "site_03_vae_elbo_math.png"))
            if html.parent.name == "notebooks":
                nav = page.evaluate("""() => [...document.querySelectorAll('.bd-sidebar-primary a')]
                    .map(a => a.closest('li.current') && a.getAttribute('href') === '#' ? location.href : a.href)""")
                unreachable = [p.stem for p in NOTEBOOKS if not any(h.endswith(f"{p.stem}.html") for h in nav)]
                if unreachable:
                    problems.append(f"{name}: the sidebar does not link {unreachable}")
        finally:
            page.close()
        outside = [url for url in log["requests"] if urlparse(url).scheme not in LOCAL_SCHEMES]
        problems += [f"{name}: requested an outside host: {url}" for url in outside[:5]]
        problems += [f"{name}: request failed: {url}" for url in log["failed"][:5]]
        problems += [f"{name}: error: {error[:300]}" for error in log["errors"][:5]]
    assert not problems, "\n".join(problems)


def test_the_site_shows_the_student_edition(site):
    for path in NOTEBOOKS:
        html = (site / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in html, f"{path.stem}.html shows a solution"


def test_search_works_offline(browser, site):
    page, log = open_offline(browser, (site / "search.html").as_uri() + "?q=reparameterisation")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        found = page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
    finally:
        page.close()
    assert any(link.endswith("notebooks/03_vae_elbo.html") for link in found), found
    assert all(urlparse(url).scheme in LOCAL_SCHEMES for url in log["requests"]), log["requests"]
    assert not log["errors"], log["errors"]


def test_executed_notebooks_are_published_as_they_are_without_removed_cells(tmp_path):
    """``--executed DIR`` renders given outputs without running anything; ``remove-cell`` cells stay off the page."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    notebook = new_notebook(cells=[
        new_markdown_cell("# 99 · A tiny notebook\n\nThe mean $\\mu$ and $$\\sigma^2 = 1.$$"),
        new_code_cell("hidden_marker = 1", metadata={"tags": ["remove-cell"]},
                      outputs=[new_output("stream", text="HIDDEN-OUTPUT\n")]),
        new_code_cell("print('shown')", outputs=[new_output("stream", text="SHOWN-OUTPUT\n")]),
        new_markdown_cell("NOTES-TEXT", metadata={"slideshow": {"slide_type": "notes"}}),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    (tmp_path / "executed").mkdir()
    nbformat.write(notebook, tmp_path / "executed" / "99_tiny.ipynb")
    out = tmp_path / "site"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), str(tmp_path / "99_tiny.ipynb"),
                           "--executed", str(tmp_path / "executed"), "--out", str(out), "--work", str(tmp_path / "work")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    html = (out / "notebooks" / "99_tiny.html").read_text(encoding="utf-8")
    assert "SHOWN-OUTPUT" in html and "NOTES-TEXT" in html and 'class="speaker-notes"' in html
    assert "hidden_marker" not in html and "HIDDEN-OUTPUT" not in html
    assert 'href="notebooks/99_tiny.html"' in (out / "index.html").read_text(encoding="utf-8")
