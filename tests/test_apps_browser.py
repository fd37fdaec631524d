"""The Voila apps in a real browser: what only a browser shows.

A session fixture starts Voila exactly as ``tinylab app`` does (``tinylab.app.serve``) on a
free localhost port, with a throw-away workspace, and Playwright drives Debian's Chromium
headless (no browser download). Per app: the page renders its widgets, a slider moved with the
keyboard changes the summary and the figure (compression explorer), a stroke drawn with the
mouse gets an answer from the virtual Uno (draw a digit). Screenshots go to test-artifacts/.
The server is also checked for what it must refuse: other files, sources, tracebacks.

With ``CI`` set, a missing Chromium or Playwright is a failure with the install line;
elsewhere the tests skip and say why. Every wait has a bound: nothing hangs.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import time
from pathlib import Path

import pytest

from _browser import launch_chromium, unavailable
from tinylab import app

ROOT = Path(__file__).resolve().parents[1]
# TINYLAB_TEST_APPS points the tests at another folder of apps (to try the harness on stand-ins).
APPS = Path(os.environ.get("TINYLAB_TEST_APPS") or ROOT / "notebooks" / "apps")
ARTIFACTS = ROOT / "test-artifacts"
EXPLORER = "compression_explorer.ipynb"
DRAW = "draw_digit.ipynb"

# Bounds, in milliseconds (Playwright's unit). A cold draw app trains a model and builds the
# virtual Uno's firmware before it says "ready": minutes on a busy 2-core machine.
PAGE_MS = 240_000        # request -> widgets on the page
BOARD_READY_MS = 300_000  # draw app: board status says "ready"
ANSWER_MS = 60_000        # a slider move or a stroke -> the updated output
SERVER_START_S = 90


def _children(pid: int) -> list:
    """A process's live descendants (psutil)."""
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.fixture(scope="session")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[dev]' (or: make test)")
    return sync_playwright


@pytest.fixture(scope="session")
def browser(sync_playwright):
    if app.chromium_executable() is None:
        unavailable("Chromium is not installed: sudo apt-get install -y chromium "
                    "(make test installs it when run as root)")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def voila(tmp_path_factory):
    """Voila on notebooks/apps, a free port, a fresh workspace; stopped with its kernels."""
    workspace = tmp_path_factory.mktemp("app-workspace")
    log = tmp_path_factory.mktemp("voila-log") / "voila.log"
    seen = []
    with app.serve(APPS, env={"TINYLAB_WORKSPACE": str(workspace), "MPLBACKEND": "Agg"},
                   log_path=log, startup_timeout_s=SERVER_START_S) as server:
        server.seen = seen
        yield server
        seen.extend(server.descendants())
    left = [p for p in seen if p.is_running()]
    assert not left, f"processes left after Voila stopped: {[p.cmdline() for p in left]}"


@pytest.fixture
def page(browser, voila, request):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(ANSWER_MS)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True,
                        timeout=30_000)
    finally:
        voila.seen.extend(voila.descendants())
        page.close(run_before_unload=True)  # Voila shuts the page's kernel down on unload
        context.close()


ERROR_TEXT = "There was an error when executing"


def _open(page, server, name: str, first_selector: str):
    """Open an app and wait until ``first_selector`` is visible; returns seconds taken.

    A cell that fails shows Voila's error notice instead of the widgets: that ends the wait
    at once, with the end of Voila's log (the visitor sees no traceback; the log has it).
    """
    if not (APPS / name).is_file():
        pytest.fail(f"notebooks/apps/{name} does not exist (yet)", pytrace=False)
    start = time.monotonic()
    page.goto(server.url + app.render_path(name), wait_until="commit", timeout=PAGE_MS)
    page.wait_for_function(
        "([sel, error]) => { const e = document.querySelector(sel);"
        " return (e && e.offsetParent !== null)"
        " || (document.body && document.body.innerText.includes(error)); }",
        arg=[first_selector, ERROR_TEXT], timeout=PAGE_MS, polling=250)
    text = page.locator("body").inner_text()
    if ERROR_TEXT in text:
        pytest.fail(f"{name} failed in Voila: {text[-600:]}\n--- Voila log (end) ---\n"
                    f"{server.log()[-4000:]}", pytrace=False)
    page.locator(first_selector).first.wait_for(state="visible", timeout=ANSWER_MS)
    page.wait_for_function("() => !document.body.innerText.includes('Loading widget')",
                           timeout=ANSWER_MS)
    return time.monotonic() - start


def _code_lines(name: str) -> list[str]:
    """Distinctive source lines of an app's code cells (must never reach the visitor)."""
    notebook = json.loads((APPS / name).read_text())
    lines = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines += [line.strip() for line in source.splitlines()
                      if len(line.strip()) > 25 and not line.strip().startswith("#")]
    return lines


def _assert_no_source_or_traceback(page, name: str):
    html = page.content()
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and "Traceback" not in html
    assert ERROR_TEXT not in text, text[-2000:]
    # Markdown cells render inside a .jp-InputArea too: only code inputs and editors count.
    editors = page.evaluate(
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea, .jp-InputPrompt,"
        " .jp-CodeMirrorEditor, .cm-editor')].map(e => e.className)")
    assert not editors, f"code inputs on the page: {editors}"
    shown = [line for line in _code_lines(name) if line in html]
    assert not shown, f"source lines shown to the visitor: {shown[:3]}"


SIGNATURE_JS = app.SHOWN_SIGNATURE_JS  # what an element shows, to wait for a redraw


def _move_slider(page, css_class: str) -> str:
    """Press an arrow key on a slider's noUiSlider handle; returns the new readout."""
    handle = page.locator(f".{css_class} .noUi-handle").first
    readout = page.locator(f".{css_class} .widget-readout").first
    before = readout.inner_text() if readout.count() else None
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
    if before is not None:
        page.wait_for_function(
            "([sel, old]) => { const r = document.querySelector(sel);"
            " return r && r.innerText !== old; }",
            arg=[f".{css_class} .widget-readout", before], timeout=ANSWER_MS)
        return readout.inner_text()
    return handle.get_attribute("aria-valuenow")


def _wait_changed(page, selector: str, before: str, what: str):
    try:
        page.wait_for_function(f"([sel, old]) => ({SIGNATURE_JS})(sel) !== old",
                               arg=[selector, before], timeout=ANSWER_MS)
    except Exception as error:  # Playwright's TimeoutError, with what did not change
        raise AssertionError(f"{what} did not change within {ANSWER_MS / 1000:.0f} s") from error


def _signature(page, selector: str) -> str:
    return page.evaluate(SIGNATURE_JS, selector)


# --- the server refuses what is not an app ------------------------------------------------

def _get(server, path: str, redirects: int = 3):
    """GET a raw path (no client-side '..' clean-up), following redirects on the server."""
    host, port = server.url.rsplit("//", 1)[1].split(":")
    for _ in range(redirects + 1):
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status in (301, 302, 303, 307, 308):
            path = response.getheader("Location")
            continue
        return response.status, body
    return response.status, body


@pytest.mark.parametrize("path", [
    "/voila/files/../../tinylab/cli.py",
    "/voila/files/%2e%2e/%2e%2e/tinylab/cli.py",
    "/voila/render/../00_welcome.ipynb",
    "/voila/render/%2e%2e/00_welcome.ipynb",
    "/voila/render/../../README.md",
    "/voila/files/../../README.md",
    f"/voila/render/{ROOT}/notebooks/00_welcome.ipynb",
    "/voila/tree/..",
    "/voila/api/contents/..",
    f"/voila/files/{EXPLORER}",
    f"/voila/files/{DRAW}",
    "/tree",
    "/api/contents",
])
def test_server_refuses_anything_but_the_apps(voila, path):
    status, body = _get(voila, path)
    assert status in (403, 404), (status, body[:300])
    for secret in (b"def _cmd_lab", b"# TinyLab", b"nbformat", b"import "):
        assert secret not in body


def test_the_tree_page_lists_only_the_apps(voila):
    status, body = _get(voila, "/voila/api/contents/")
    assert status == 200
    names = {item["name"] for item in json.loads(body)["content"]}
    assert names == set(app.list_apps(APPS))
    assert not any(name.startswith("0") for name in names)  # no lesson


def test_the_app_notebooks_keep_the_source_on_the_server(voila):
    status, body = _get(voila, f"/voila/api/contents/{EXPLORER}")
    if status == 200:
        assert json.loads(body)["content"] is None


# --- the apps, as a visitor uses them ------------------------------------------------------

def test_compression_explorer_sliders_redraw_the_summary_and_figure(page, voila):
    seconds = _open(page, voila, EXPLORER, ".tl-bits .noUi-handle")
    for css_class in ("tl-temperature", "tl-sparsity", "tl-bits", "tl-huffman", "tl-summary",
                      "tl-figure"):
        assert page.locator(f".{css_class}").count() >= 1, f"no widget with class {css_class}"
    page.locator(".tl-figure").first.wait_for(state="visible", timeout=ANSWER_MS)
    _assert_no_source_or_traceback(page, EXPLORER)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compression_explorer-start.png"), full_page=True)

    for css_class in ("tl-bits", "tl-sparsity"):
        summary = _signature(page, ".tl-summary")
        figure = _signature(page, ".tl-figure")
        _move_slider(page, css_class)
        _wait_changed(page, ".tl-summary", summary, f"the summary after moving {css_class}")
        _wait_changed(page, ".tl-figure", figure, f"the figure after moving {css_class}")
        page.screenshot(path=str(ARTIFACTS / f"compression_explorer-{css_class}.png"),
                        full_page=True)
    summary = _signature(page, ".tl-summary")
    page.locator(".tl-huffman").first.click()
    _wait_changed(page, ".tl-summary", summary, "the summary after switching Huffman coding")
    _assert_no_source_or_traceback(page, EXPLORER)
    print(f"compression explorer: widgets after {seconds:.1f} s")


CANVAS = app.CANVAS_SELECTOR


def test_draw_digit_gets_a_prediction_from_the_virtual_board(page, voila):
    seconds = _open(page, voila, DRAW, CANVAS)
    status = page.locator(".tl-board-status").first
    try:
        page.wait_for_function(
            "() => { const s = document.querySelector('.tl-board-status');"
            " return s && /ready/i.test(s.innerText); }", timeout=BOARD_READY_MS)
    except Exception as error:
        text = status.inner_text() if status.count() else "(no tl-board-status widget)"
        raise AssertionError(f"the board never said ready; it says: {text!r}") from error
    _assert_no_source_or_traceback(page, DRAW)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw_digit-ready.png"), full_page=True)
    assert page.locator(".tl-predict").count() >= 1, "no Predict button (class tl-predict)"
    # The board is chosen from a list (no free text): the virtual Uno or a serial port found.
    options = page.locator(".tl-port select option").all_inner_texts()
    assert options, "no board list (class tl-port)"
    for option in options:
        device = re.search(r"/dev/[\w/.-]+", option)
        assert re.search(r"virtual", option, re.I) or (device and Path(device[0]).exists()), \
            f"board list entry {option!r} is neither the virtual Uno nor a serial port here"

    prediction = page.locator(".tl-board-prediction").first
    before = prediction.inner_text()
    app.draw_stroke(page, pause_ms=15)
    answered = ("([old]) => { const p = document.querySelector('.tl-board-prediction');"
                " if (!p) return false; const t = p.innerText;"
                " return t !== old && /board/i.test(t) && /[0-9]/.test(t); }")
    try:
        page.wait_for_function(answered, arg=[before], timeout=ANSWER_MS)
    except Exception as error:
        raise AssertionError(
            f"no board prediction {ANSWER_MS / 1000:.0f} s after a stroke; the prediction "
            f"says {prediction.inner_text()!r}, the status "
            f"{page.locator('.tl-board-status').first.inner_text()!r}") from error
    text = prediction.inner_text()
    assert re.search(r"board", text, re.I) and re.search(r"[0-9]", text), text
    assert "bit-identical" in text, text
    # As `tinylab app` serves it: the model and firmware were made before Voila started
    # (tinylab.app.prepare), and the board is one of the board server's, not the kernel's.
    ready = status.inner_text()
    assert "shared virtual Uno ready" in ready and "board server" in ready, ready
    assert "read from the workspace" in ready and "firmware cached" in ready, ready
    assert not [p for p in voila.descendants() if p.name() == "tinylab-harness"], \
        "a kernel started a virtual Uno of its own"
    assert any(p.name() == "tinylab-harness"
               for p in voila.boards.process and _children(voila.boards.process.pid)), \
        "the board server runs no virtual Uno"
    page.screenshot(path=str(ARTIFACTS / "draw_digit-prediction.png"), full_page=True)
    _assert_no_source_or_traceback(page, DRAW)
    print(f"draw a digit: canvas after {seconds:.1f} s; prediction {text!r}")


# --- the harness itself, on a toy app: widgets render, stopping leaves nothing behind -------

TOY = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": ["import ipywidgets as widgets\n",
                          "slider = widgets.IntSlider(value=4, min=2, max=8, description='bits')\n",
                          "slider.add_class('tl-bits')\n",
                          "summary = widgets.HTML('bits = 4')\n",
                          "summary.add_class('tl-summary')\n",
                          "slider.observe(lambda change: setattr(summary, 'value', "
                          "f\"bits = {change['new']}\"), names='value')\n",
                          "widgets.VBox([slider, summary])"]}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def test_harness_on_a_toy_app_and_a_clean_stop(browser, tmp_path):
    (tmp_path / "toy.ipynb").write_text(json.dumps(TOY))
    context = browser.new_context()
    with app.serve(tmp_path, startup_timeout_s=SERVER_START_S) as server:
        page = context.new_page()
        page.goto(server.url + app.render_path("toy.ipynb"), wait_until="commit",
                  timeout=PAGE_MS)
        page.locator(".tl-bits .noUi-handle").wait_for(state="visible", timeout=PAGE_MS)
        assert _move_slider(page, "tl-bits") == "5"
        page.wait_for_function(
            "() => document.querySelector('.tl-summary').innerText.includes('bits = 5')",
            timeout=ANSWER_MS)
        kernels = server.descendants()
        assert kernels, "no kernel process under the Voila server"
        context.close()
    time.sleep(0.5)
    assert not [p for p in kernels if p.is_running()], "kernels left after the server stopped"
