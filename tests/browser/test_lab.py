"""JupyterLab in a real browser: open a notebook, run every cell, drag a widget slider and see its figure change."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, SCREENSHOTS

TOKEN = "course-browser-test"
# Notebooks whose widgets redraw a picture when a slider moves: the VAE's latent sliders and the DCGAN's explorers.
WIDGET_NOTEBOOKS = ["03_vae_elbo.ipynb", "05_dcgan.ipynb"]
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True, "windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token={TOKEN}", timeout=5) as response:
        return json.loads(response.read())


def wait_until(condition, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with a token, its own settings and runtime folders; always stopped."""
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), PYTHONPATH=str(ROOT), COURSE_QUICK="1")
    env.pop("MPLBACKEND", None)  # the kernel must draw figures inline
    port = free_port()
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}",
         "--LabApp.news_url=", "--ServerApp.port_retries=0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: api(port, "/api/status") is not None, 90, "JupyterLab to start")
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def kernel_states(port: int) -> list[str]:
    return [session["kernel"]["execution_state"] for session in api(port, "/api/sessions")]


@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS)
def test_run_all_cells_then_move_a_slider(browser, jupyterlab, name):
    port = jupyterlab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/{name}?token={TOKEN}", timeout=60_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        wait_until(lambda: kernel_states(port) == ["idle"], 90, "the kernel to start and be idle")

        page.get_by_role("menuitem", name="Run", exact=True).click(timeout=10_000)
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=10_000)
        page.wait_for_function(ALL_CELLS_RAN, timeout=300_000, polling=1000)
        wait_until(lambda: kernel_states(port) == ["idle"], 60, "the kernel to finish")
        errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
        assert errors.count() == 0, f"cells raised errors: {errors.all_inner_texts()}"

        cell = page.locator(".jp-CodeCell", has=page.locator(".widget-slider")).filter(has=page.locator("img")).first
        cell.scroll_into_view_if_needed(timeout=10_000)
        image = cell.locator(".jp-OutputArea img").first
        before = image.get_attribute("src", timeout=30_000)
        cell.screenshot(path=str(SCREENSHOTS / f"lab_{Path(name).stem}_slider_before.png"))

        handle = cell.locator(".widget-slider .noUi-handle").first
        handle.focus()
        for _ in range(3):
            handle.press("ArrowRight")
        page.wait_for_function("([el, old]) => { const img = el.querySelector('.jp-OutputArea img'); "
                               "return img && img.getAttribute('src') !== old; }",
                               arg=[cell.element_handle(), before], timeout=30_000)
        wait_until(lambda: kernel_states(port) == ["idle"], 60, "the kernel to finish redrawing")
        page.wait_for_timeout(500)
        after = cell.locator(".jp-OutputArea img").first.get_attribute("src")
        cell.screenshot(path=str(SCREENSHOTS / f"lab_{Path(name).stem}_slider_after.png"))
        page.screenshot(path=str(SCREENSHOTS / f"lab_{Path(name).stem}.png"))
        assert after != before, "moving the slider did not change the widget's figure"
    finally:
        page.close()


ALL_CELLS_RAN = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
    return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
}"""


def test_a_think_answer_stays_folded_until_clicked_in_jupyterlab(browser, jupyterlab):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"http://127.0.0.1:{jupyterlab}/lab/tree/notebooks/01_mse_blurriness.ipynb?token={TOKEN}",
                  timeout=60_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        details = page.locator(".jp-RenderedMarkdown details").first
        for _ in range(40):                                  # cells render as they scroll into view
            if details.count():
                break
            page.mouse.move(700, 500)
            page.mouse.wheel(0, 600)
            page.wait_for_timeout(200)
        details.scroll_into_view_if_needed(timeout=10_000)
        answer_height = "d => d.getBoundingClientRect().height - d.querySelector('summary').getBoundingClientRect().height"
        assert not details.evaluate("d => d.open") and details.evaluate(answer_height) < 1
        details.locator("summary").click()
        assert details.evaluate("d => d.open") and details.evaluate(answer_height) > 10, "the answer did not open"
        details.evaluate("d => d.closest('.jp-Cell').scrollIntoView()")
        page.screenshot(path=str(SCREENSHOTS / "lab_think_answer_open.png"))
    finally:
        page.close()
