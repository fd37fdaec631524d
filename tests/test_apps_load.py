"""Several visitors of the Voila apps at once, emulated (tinylab.visitors): no browser needed.

The load test: a server as ``tinylab app`` starts it (preheated kernels, shared virtual Unos),
three visitors of the draw-a-digit app arriving together, each drawing a different digit:
every page renders, every visitor gets the board's answer with scores bit-identical to the
host's, nobody sees an error, and the visitors' kernels are gone once they have left.

Around it: the emulator's own parts by hand (the answer read back from the HTML the app
shows, the strokes, the websocket frames against jupyter_server's, the page parsing); a
visitor of a broken, missing, silent or hanging app records an error in words within its
bound instead of hanging; and, where Chromium is installed, the requests and kernel messages
an emulated visitor sends are the ones Chromium sends for the same visit (what makes the
emulation worth its numbers).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tinylab import app, visitors

from _browser import launch_chromium, require_chromium

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "notebooks" / "apps"
DRAW, EXPLORER = "draw_digit.ipynb", "compression_explorer.ipynb"
VISIT_S = 120          # bound of one emulated visit (each wait inside it is bounded by it)
PREHEAT_S = 600        # the pool's kernels have run the app (a busy 2-core machine)
GONE_S = 30            # a visitor's kernel is shut down after it left


# --- the emulator's parts, by hand ---------------------------------------------------------

def _answer(board, host, *, cycles=66_031, float_class=1):
    return {"board_class": int(np.argmax(board)), "board_scores": np.array(board, np.int8),
            "host_class": int(np.argmax(host)), "host_scores": np.array(host, np.int8),
            "float_class": float_class, "bit_identical": bool(np.array_equal(board, host)),
            "latency_us": 4_127, "cycles": cycles, "round_trip_s": 0.047}


SCORES = [-49, 63, -11, -37, 9, -22, 16, 22, 42, -13]


@pytest.mark.parametrize("board, host, cycles, float_class, about", [
    (SCORES, SCORES, 66_031, 1, None),
    (SCORES, SCORES, None, None, "a test digit (a 7), sent when the app opened"),
    (SCORES, SCORES[:8] + [41, -12], 1_234_567, 8, None),
])
def test_parse_answer_reads_back_what_the_draw_app_shows(board, host, cycles, float_class,
                                                         about):
    from tinylab.widgets._digit_on_board import _answer_html

    shown = _answer_html(_answer(board, host, cycles=cycles, float_class=float_class),
                         "shared virtual Uno", about)
    answer = visitors.parse_answer(shown)
    assert answer["board_scores"] == board and answer["host_scores"] == host
    assert answer["board_class"] == int(np.argmax(board))
    assert answer["host_class"] == int(np.argmax(host))
    assert answer["bit_identical"] is (board == host)
    assert answer["page_says_identical"] is (board == host)
    assert answer["cycles"] == cycles and answer["float_class"] == float_class
    assert answer["latency_ms"] == 4.1 and answer["round_trip_ms"] == 47


@pytest.mark.parametrize("shown, words", [
    ("<span style='color:#cf222e'>the board stopped answering (its connection is gone): "
     "the virtual Uno has stopped</span>", "the app shows an error: the board stopped"),
    ("Draw a digit on the pad: the board answers when you lift the pen.", "not an answer"),
    ("Asking the shared virtual Uno ...", "not an answer"),
])
def test_parse_answer_refuses_errors_and_waiting_texts_in_words(shown, words):
    with pytest.raises(ValueError, match=words):
        visitors.parse_answer(shown)


def test_each_digit_is_one_stroke_inside_the_canvas():
    from tinylab import data

    assert sorted(visitors.DIGITS) == list("0123456789")
    for digit in visitors.DIGITS:
        points = np.array(visitors.stroke_points(digit))
        assert len(points) >= 10, digit
        assert points.min() >= 0 and points.max() <= visitors.CANVAS_PIXELS, digit
        steps = np.hypot(*np.diff(points, axis=0).T)
        assert steps.max() <= 8.0 + 0.1, (digit, steps.max())  # mouse moves, no jumps
        assert data.digit_from_strokes([list(map(tuple, points))], 256).sum() > 0
    with pytest.raises(ValueError, match="0..9"):
        visitors.stroke_points("x")


MESSAGE = {"channel": "shell",
           "header": {"msg_id": "a", "msg_type": "comm_msg", "session": "s", "username": "",
                      "date": "2026-12-05T21:25:13.727Z", "version": "5.2"},
           "parent_header": {"msg_id": "p"}, "metadata": {},
           "content": {"comm_id": "c", "data": {"method": "update", "state": {"index": 1},
                                                "buffer_paths": [["value"]]}},
           "buffers": [b"\x89PNG", b""]}


def test_v1_frames_are_jupyter_servers():
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1)

    channel, parts = deserialize_msg_from_ws_v1(visitors.encode_v1(MESSAGE))
    assert channel == "shell"
    assert [json.loads(p) for p in parts[:4]] == [MESSAGE[k] for k in (
        "header", "parent_header", "metadata", "content")]
    assert parts[4:] == MESSAGE["buffers"]
    frame = serialize_msg_to_ws_v1(
        [json.dumps(MESSAGE[k]).encode() for k in ("header", "parent_header", "metadata",
                                                   "content")] + MESSAGE["buffers"], "iopub")
    decoded = visitors.decode_v1(frame)
    assert decoded["channel"] == "iopub" and decoded["content"] == MESSAGE["content"]
    assert decoded["buffers"] == MESSAGE["buffers"]
    assert visitors.decode_v1(visitors.encode_v1({**MESSAGE, "buffers": []}))["buffers"] == []


def test_legacy_frames_are_jupyter_servers():
    from jupyter_server.services.kernels.connection.base import serialize_binary_message

    decoded = visitors.decode_legacy(serialize_binary_message(dict(MESSAGE)))
    assert decoded["content"] == MESSAGE["content"] and decoded["buffers"] == MESSAGE["buffers"]
    text = visitors.decode_legacy(json.dumps({k: v for k, v in MESSAGE.items()
                                              if k != "buffers"}))
    assert text["header"]["msg_type"] == "comm_msg" and text["buffers"] == []


PAGE = """<html><head>
<script src="/voila/templates/lab/static/voila-style.js?v=1"></script>
<link rel="stylesheet" href="https://cdn.example/all.min.css" type="text/css" />
<link rel="stylesheet" type="text/css" href="/voila/templates/lab/static/index.css?v=2&amp;x=1">
<link rel="icon" href="data:;base64,=">
</head><body>
<script id="jupyter-config-data" type="application/json">
{"baseUrl": "/", "kernelId": "9a37cf59-4b5d-4c5c-8eed-3b47ad4035f1",
 "fullLabextensionsUrl": "/voila/labextensions",
 "federated_extensions": [{"name": "anywidget", "load": "static/remoteEntry.69.js"}]}
</script>
<div cell-index="1"><script type="application/vnd.voila.cell-output+json">
{"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json":
 {"model_id": "9e2e1c4eff3b4360916fc6888072c878", "version_major": 2}}}
</script></div>
<div cell-index="2"><script type="application/vnd.voila.cell-output+json">
{"output_type": "error", "ename": "ExecutionError", "evalue": "Execution error",
 "traceback": ["There was an error when executing cell [3]. Please run Voila with ..."]}
</script></div>
<script src="/voila/static/voila.js"></script>
</body></html>"""


def test_the_page_names_its_kernel_views_errors_and_assets():
    assert visitors.page_kernel_id(PAGE) == "9a37cf59-4b5d-4c5c-8eed-3b47ad4035f1"
    assert visitors.page_views(PAGE) == ["9e2e1c4eff3b4360916fc6888072c878"]
    assert visitors.page_errors(PAGE) == [
        "There was an error when executing cell [3]. Please run Voila with ..."]
    assert visitors.page_assets(PAGE) == [
        "/voila/templates/lab/static/voila-style.js?v=1",
        "/voila/templates/lab/static/index.css?v=2&x=1",
        "/voila/static/voila.js",
        "/voila/labextensions/anywidget/static/remoteEntry.69.js"]
    assert visitors.page_kernel_id("<html>Voila is still running it</html>") is None


def test_static_files_come_over_a_browsers_six_kept_alive_connections():
    """fetch_all reuses its connections as a browser does, reads lengths, chunks and a body
    that ends with the connection, and turns a dead connection into a 599 for its path only."""
    connections, requests = [], []

    async def serve(reader, writer):
        connections.append(writer)
        while (line := await reader.readline()):
            path = line.split()[1].decode()
            while (await reader.readline()).strip():
                pass
            requests.append(path)
            if path == "/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n")
            elif path == "/close":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end")
                await writer.drain()
                writer.close()
                return
            elif path == "/hang-up":
                writer.close()
                return
            else:
                body = path.encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
            await writer.drain()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        browser = visitors._Browser(f"http://127.0.0.1:{port}")
        paths = [f"/file{i}" for i in range(40)] + ["/chunked", "/close", "/hang-up", "/last"]
        try:
            answers = await browser.fetch_all(paths, time.monotonic() + 30)
        finally:
            browser.close()
            server.close()
        return paths, answers

    # In a thread: under make test, the browser tests leave Playwright's loop in this one.
    paths, answers = _in_a_thread(asyncio.run, main())
    for path, (status, body, _) in zip(paths, answers):
        if path == "/chunked":
            assert (status, body) == (200, b"abcde")
        elif path == "/close":
            assert (status, body) == (200, b"to the end")
        elif path == "/hang-up":
            assert status == 599
        else:
            assert (status, body) == (200, path.encode()), path
    assert sorted(requests) == sorted(paths)
    # six connections, and one more after each that the server ended
    assert len(connections) <= visitors.BROWSER_CONNECTIONS + 2, len(connections)


def test_signatures_say_what_was_sent_without_ids():
    assert visitors.message_signature(MESSAGE) == "comm_msg update index"
    custom = {**MESSAGE, "content": {"comm_id": "c", "data": {
        "method": "custom", "content": {"event": "mouse_up", "x": 1, "y": 2}}}}
    assert visitors.message_signature(custom) == "comm_msg custom mouse_up"
    assert visitors.request_signature(
        "GET", "/api/kernels/9a37cf59-4b5d-4c5c-8eed-3b47ad4035f1?1796505913581") == \
        "GET /api/kernels/<id>"
    assert visitors.request_signature("GET", "/voila/static/5764.voila.js") == "GET static"


def test_run_visitors_refuses_bad_arguments_before_starting():
    for bad in ({"n": 0}, {"n": 2.5}, {"timeout_s": 0}, {"stagger_s": -1}, {"digits": "a"},
                {"digits": []}):
        with pytest.raises(ValueError):
            visitors.run_visitors("http://127.0.0.1:9", DRAW, **{"n": 1, **bad})


def test_summarize_counts_percentiles_and_errors_in_words():
    results = [visitors.VisitResult(i, DRAW, first_render_s=float(i + 1)) for i in range(10)]
    results[0].errors.append("leave: refused 9a37cf59-4b5d-4c5c-8eed-3b47ad4035f1")
    results[1].errors.append("leave: refused 06b3e87f-a17c-47f7-9660-ef78c961cbe5")
    summary = visitors.summarize(results)
    assert summary["first_render_s"] == {"n": 10, "median": 5.0, "p90": 9.0, "max": 10.0}
    assert summary["errors"]["kinds"] == [{"error": "leave: refused <id>", "times": 2}]
    assert summary["ok"] == 8 and visitors.percentile([], 0.9) is None


# --- visitors of apps that fail: an error in words, within the bound -------------------------

def _notebook(*sources: str) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                   "outputs": [], "source": source} for source in sources],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5})


TOY = ("import ipywidgets as widgets\n"
       "bits = widgets.SelectionSlider(options=['2', '4', '8'], value='4')\n"
       "bits.add_class('tl-bits')\n"
       "summary = widgets.HTML('bits = 4'); summary.add_class('tl-summary')\n"
       "figure = widgets.Output(); figure.add_class('tl-figure')\n"
       "def redraw(change):\n"
       "    summary.value = f\"bits = {change['new']}\"\n"
       "    with figure:\n"
       "        figure.clear_output(wait=True)\n"
       "        print('figure for', change['new'])\n"
       "bits.observe(redraw, names='value')\n"
       "widgets.VBox([bits, summary, figure])")


@pytest.fixture(scope="module")
def toy_server(tmp_path_factory):
    """Voila as ``tinylab app`` starts it, on a folder of small apps: one that works, one whose
    cell fails, one that never finishes running, one whose kernel dies when the page asks for
    its widgets."""
    folder = tmp_path_factory.mktemp("toy-apps")
    (folder / "toy.ipynb").write_text(_notebook(TOY))
    (folder / "broken.ipynb").write_text(_notebook("import ipywidgets as widgets\n"
                                                   "widgets.IntSlider()",
                                                   "raise RuntimeError('broken on purpose')"))
    (folder / "endless.ipynb").write_text(_notebook("import time\ntime.sleep(3600)"))
    (folder / "dies.ipynb").write_text(_notebook(  # dies when asked for its widgets' states
        "import os\nimport ipywidgets as widgets\n"
        "widgets.Widget._handle_control_comm_msg = classmethod(lambda cls, msg: os._exit(1))\n"
        "widgets.IntSlider()"))
    with app.serve(folder, env={"MPLBACKEND": "Agg"}, pool=0, boards=0, prepared=False,
                   log_path=tmp_path_factory.mktemp("toy-log") / "voila.log") as server:
        yield server


def test_visitors_of_a_toy_app_move_its_slider_and_see_the_redraw(toy_server):
    started = time.monotonic()
    results = visitors.run_visitors(toy_server.url, "toy.ipynb", 2, timeout_s=VISIT_S,
                                    think_s=0)
    for result in results:
        assert result.first_render_s is not None, result.errors
        assert result.slider_s is not None, result.errors
        assert not [e for e in result.errors if not e.startswith("leave:")], result.errors
    assert time.monotonic() - started < VISIT_S


@pytest.mark.parametrize("name, timeout_s, words", [
    ("broken.ipynb", VISIT_S, "page: a cell failed: There was an error when executing cell"),
    ("missing.ipynb", VISIT_S, "page: the page answered 404"),
    ("endless.ipynb", 8, "page: the page answered 599"),
])
def test_a_visitor_of_a_failing_app_records_an_error_instead_of_hanging(toy_server, name,
                                                                        timeout_s, words):
    started = time.monotonic()
    [result] = visitors.run_visitors(toy_server.url, name, 1, timeout_s=timeout_s, think_s=0)
    assert any(error.startswith(words) for error in result.errors), result.errors
    assert time.monotonic() - started < timeout_s + visitors.LEAVE_TIMEOUT_S + 5


def test_a_visitor_of_a_server_that_is_gone_records_an_error_at_once():
    # no server on this port (the OS gave it, nobody listens): refused at once
    started = time.monotonic()
    [result] = visitors.run_visitors(f"http://127.0.0.1:{app.free_port()}", DRAW, 1,
                                     timeout_s=20)
    assert result.errors and result.errors[0].startswith("page: the page answered 599"), \
        result.errors
    assert time.monotonic() - started < 20


def test_visitors_run_where_an_event_loop_already_runs():
    """In a notebook, or after Playwright's sync API started its loop in this thread (the
    browser tests run first in `make test`), asyncio.run would refuse: the visitors then get a
    loop in a thread of their own."""
    import asyncio

    async def inside_a_running_loop():
        return visitors.run_visitors(f"http://127.0.0.1:{app.free_port()}", DRAW, 1,
                                     timeout_s=20)

    import concurrent.futures

    # in a thread of its own, so that this thread's state (a loop of Playwright's) is moot
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        [result] = thread.submit(asyncio.run, inside_a_running_loop()).result(timeout=60)
    assert result.errors and result.errors[0].startswith("page: the page answered 599"), \
        result.errors


def test_a_visitor_whose_kernel_dies_records_it(toy_server):
    started = time.monotonic()
    [result] = visitors.run_visitors(toy_server.url, "dies.ipynb", 1, timeout_s=30, think_s=0)
    assert result.errors and result.errors[0].startswith("widgets:"), result.errors
    assert result.first_render_s is None
    assert time.monotonic() - started < 30 + visitors.LEAVE_TIMEOUT_S + 5


# --- the load test: three visitors of the draw-a-digit app at once ---------------------------

def _kernel_ids(server) -> set:
    ids = set()
    for process in server.descendants():
        try:
            found = re.search(r"kernel-([0-9a-f-]{36})\.json", " ".join(process.cmdline()))
        except Exception:  # psutil: ended meanwhile
            continue
        if found:
            ids.add(found.group(1))
    return ids


@pytest.fixture(scope="module")
def draw_server(tmp_path_factory, virtual_uno_tools):
    """``tinylab app``'s server: three preheated draw-app kernels, shared virtual Unos, a fresh
    workspace (the model copied from the checkout's workspace when it has one; the server
    makes or checks it before Voila starts)."""
    workspace = tmp_path_factory.mktemp("load-workspace")
    for source in (ROOT / "workspace").glob("digits_deep_compressed*"):
        shutil.copy2(source, workspace / source.name)
    with app.serve(APPS, env={"TINYLAB_WORKSPACE": str(workspace), "MPLBACKEND": "Agg"},
                   pool={DRAW: 3, EXPLORER: 0}, boards=2,
                   log_path=tmp_path_factory.mktemp("load-log") / "voila.log") as server:
        server.wait_preheated(PREHEAT_S)
        yield server


def test_three_visitors_draw_at_once_and_each_gets_the_boards_bit_exact_answer(draw_server):
    started = time.monotonic()
    results = visitors.run_visitors(draw_server.url, DRAW, 3, timeout_s=VISIT_S,
                                    digits="170")
    report = json.dumps([r.to_dict() for r in results], indent=1, default=str)[:6000]
    assert time.monotonic() - started < VISIT_S + visitors.LEAVE_TIMEOUT_S + 15
    assert [r.digit for r in results] == ["1", "7", "0"]
    for result in results:
        assert result.first_render_s is not None, report
        assert result.answer is not None, report
        assert result.answer["bit_identical"], report
        assert result.answer["board_scores"] == result.answer["host_scores"], report
        assert result.answer["cycles"], report
        assert result.errors == [], (f"{result.errors}\n--- Voila's log (end) ---\n"
                                     f"{draw_server.log()[-3000:]}")
    theirs = {r.kernel_id for r in results}
    assert len(theirs) == 3, "two visitors were given the same kernel"
    deadline = time.monotonic() + GONE_S
    while theirs & _kernel_ids(draw_server) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not theirs & _kernel_ids(draw_server), "the visitors' kernels still run after they left"


# --- the emulation is what a browser does (Chromium, where installed) -----------------------

def _collapsed(trace: list) -> list:
    """Runs of the same entry as one (a stroke's many mouse moves), static files left out."""
    kept = [entry for entry in trace if entry != "http GET static"]
    return [entry for entry, _ in itertools.groupby(kept)]


def _chromium_visit(server, name: str) -> tuple[list, str, str]:
    """One visit in Chromium, as the emulator makes it; (what it sent, kernel id, beacon)."""
    require_chromium()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    trace, beacon = [], []

    def request(r):
        if r.url.startswith(server.url):
            trace.append(f"http {visitors.request_signature(r.method, r.url[len(server.url):])}")
            if r.method == "POST":
                beacon.append(r.post_data or "")

    def websocket(ws):
        trace.append(f"ws open /api/kernels/<id>/channels {visitors.WS_PROTOCOL}")
        ws.on("framesent", lambda frame: trace.append(
            f"ws {visitors.message_signature(visitors.decode_v1(frame))}"))

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        context.on("request", request)
        page = context.new_page()
        page.on("websocket", websocket)
        page.goto(server.url + app.render_path(name), wait_until="commit", timeout=300_000)
        page.wait_for_function("() => document.querySelector('.jupyter-widgets') &&"
                               " !document.body.innerText.includes('Loading widget')",
                               timeout=300_000, polling=250)
        kernel_id = page.evaluate("JSON.parse(document.getElementById("
                                  "'jupyter-config-data').textContent).kernelId")
        page.wait_for_timeout(1000)
        if name == DRAW:
            before = page.locator(".tl-board-prediction").first.inner_text()
            app.draw_stroke(page, pause_ms=15)
            page.wait_for_function(
                "([old]) => { const p = document.querySelector('.tl-board-prediction');"
                " return p && p.innerText !== old && /board:/.test(p.innerText); }",
                arg=[before], timeout=60_000)
        else:
            page.locator(".tl-bits .noUi-handle").first.focus()
            page.keyboard.press("ArrowLeft")
            page.wait_for_timeout(3000)
        page.wait_for_timeout(1000)
        page.close(run_before_unload=True)
        deadline = time.monotonic() + 10
        while not beacon and time.monotonic() < deadline:
            try:  # lets Playwright deliver the beacon's request event
                context.wait_for_event("request", timeout=500)
            except PlaywrightTimeout:
                pass
        context.close()
        browser.close()
    return trace, kernel_id, beacon[0] if beacon else ""


def _in_a_thread(function, *args):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(function, *args).result(timeout=600)


@pytest.mark.parametrize("name", [DRAW, EXPLORER])
def test_an_emulated_visitor_sends_what_chromium_sends(draw_server, name):
    # Each in a thread of its own: in `make test` the browser tests' Playwright session still
    # runs its event loop in this thread, where neither a second sync Playwright nor
    # asyncio.run may start.
    browser_trace, browser_kernel, beacon = _in_a_thread(_chromium_visit, draw_server, name)
    result = _in_a_thread(asyncio.run, visitors.visit(draw_server.url, name, 0,
                                                      timeout_s=VISIT_S, trace=True))
    assert result.first_render_s is not None, result.errors
    assert _collapsed(result.trace) == _collapsed(browser_trace)
    assert 'name="_xsrf"' in beacon, beacon  # the same form the emulator posts on leaving
    log = draw_server.log()
    for kernel_id in (browser_kernel, result.kernel_id):
        assert f"/voila/api/shutdown/{kernel_id}" in log or f"Kernel shutdown: {kernel_id}" \
            in log, f"no shutdown request for {kernel_id} in Voila's log"
