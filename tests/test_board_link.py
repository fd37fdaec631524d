"""The Web Serial board link's kernel side (issue 20): a Device in a real kernel talks to a port the
real browser holds, through widget messages, while the kernel is busy in blocking code.

``tinylab/serial/web.py`` (the port-like object and the kernel message pump) and
``tinylab/widgets/_board_link.py`` + ``.js`` (the widget). The browser test serves a small app
with Voila (``tinylab.app.serve``): its button's callback opens ``Device(link.port)`` and runs
test digits, blocking the kernel's main thread inside a widget callback (the harder case: a cell
in JupyterLab blocks it inside an ``execute_request`` the same way). The page gets the
``navigator.serial`` stand-in (tests/fakes/web_serial.js) relayed to the virtual Uno's pty
(tests/fakes/serial_relay.py). The answers must equal ``engine.run_int8`` bit for bit; a click on
another button during the run must wait (not run re-entrantly) and be handled after it.
Uploads go the same way: ``BoardSession(firmware, port=link.port, upload="always")`` has the
page run ``_stk500.js`` into the virtual Uno's real Optiboot (bootloader mode, holding an old
sketch), then the new sketch's answers must be exact; a link cut mid-upload is "interrupted".
In JupyterLab, a kernel interrupt stops a read on the link at once and leaves kernel and link
usable; a tab closed during a read ends it with words that say so. A Chromium without
``navigator.serial`` shows the button disabled and says which browsers work. Without a browser:
the port-like object, the kernel ignoring page messages it did not ask for, uploads through a
fake page, the Nano refused. Helpers shared with other browser tests are in tests/_browser.py.
Playwright runs in a thread of its own; every wait has a bound.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pickle
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinylab import app, virtual
from tinylab.device import Device
from tinylab.serial import web

from _browser import (PageRelay, app_notebook, connect_board, in_a_thread, launch_chromium,
                      require_chromium, stand_in_page, voila_visit)

ROOT = Path(__file__).resolve().parents[1]

PAGE_MS = 120_000        # the app's first render (a fresh kernel imports tinylab)
RUN_MS = 60_000          # the run: open (reset, banner ~1.5 s) and 12 digits
N_DIGITS = 6


# --- without a kernel: the port-like object over a fake page ---------------------------------

class _EchoPage:
    """A page that answers "open" and echoes what is written, from another thread."""

    def __init__(self):
        self.port = web.WebSerialPort(self.send)
        self.port.receive({"op": "connected", "value": True}, [])

    def send(self, content, buffers):
        reply = ({"op": "opened"}, []) if content["op"] == "open" else ({"op": "data"}, buffers)
        threading.Timer(0.01, self.port.receive, reply).start()


def test_a_web_port_reads_what_the_page_sends_with_pyserials_timeouts():
    page = _EchoPage()
    port = web.open_web_port(page.port.name, 115200, write_timeout=1.0, timeout=0.2)
    assert port.write(b"I 1 2\n") == 6
    assert port.read(6) == b"I 1 2\n"
    started = time.monotonic()
    assert port.read(1) == b""                       # nothing more: waits the timeout, no longer
    assert 0.15 < time.monotonic() - started < 1.0
    port.receive({"op": "lost", "message": "The device has been lost."}, [])
    with pytest.raises(web.WebLinkError, match="device has been lost"):
        port.read(1)


def test_a_page_cannot_make_the_kernel_hold_more_than_a_bounded_buffer():
    page = _EchoPage()
    port = web.open_web_port(page.port.name, 115200, write_timeout=1.0, timeout=0.05)
    port.receive({"op": "data"}, [b"x" * (web.MAX_BUFFER_BYTES + 10)])
    assert port.in_waiting == web.MAX_BUFFER_BYTES and port.overrun_bytes == 10


def test_opening_a_web_port_nobody_connected_says_what_to_click():
    port = web.WebSerialPort(lambda content, buffers: None)
    with pytest.raises(web.WebLinkError, match="Connect a board"):
        web.open_web_port(port.name, 115200, write_timeout=1.0, timeout=0.05,
                          error=web.WebLinkError)
    with pytest.raises(ValueError, match="webserial"):
        web.WebSerialPort(None, name="/dev/ttyACM0")


def test_the_kernel_ignores_what_it_did_not_ask_the_page_for():
    # A page (a visitor's, crafted) says things the kernel never asked: nothing changes, and
    # nothing goes to the page, so nothing reaches the board.
    sent = []
    port = web.WebSerialPort(lambda content, buffers: sent.append((content, buffers)))
    port.receive({"op": "connected", "value": True}, [])
    before = (port.connected, port.lost, port.bytes_in, port.bytes_out, port.is_open)
    for content, buffers in [({"op": "write"}, [b"U 0 0\n"]), ({"op": "open"}, []),
                             ({"op": "upload", "id": 1}, [b":00000001FF\n"]),
                             ({"op": "reset-board", "port": "/dev/ttyACM1"}, []),
                             ({"op": "uploaded", "id": 1, "bytesWritten": 5}, []),
                             ({"op": "upload-failed", "id": 1, "reason": "x"}, []),
                             ({"op": "progress", "id": 1, "phase": "write"}, []),
                             ({"op": "pong", "connected": False}, []),
                             ("data", [b"x"]), (None, []), ({}, [])]:
        port.receive(content, buffers)
    assert sent == []
    assert (port.connected, port.lost, port.bytes_in, port.bytes_out, port.is_open) == before
    assert port.ignored == 11
    port.receive({"op": "data"}, [b"late bytes"])      # bytes while no Device has it open
    assert port.bytes_in == 10 and len(port._received) == 0


def test_a_second_tab_without_the_port_neither_answers_for_it_nor_calls_it_lost():
    # The notebook is open in two tabs (both show the link); the board is connected in tab A.
    # Tab B answers the kernel's messages as a page without a port would: the kernel must
    # hear only A, and address A (B's widget ignores what is for A).
    sent = []
    port = web.WebSerialPort(lambda content, buffers: sent.append(content))
    port.receive({"op": "connected", "value": True, "page": "tab-a"}, [])
    port.is_open = True
    for content, buffers in [({"op": "pong", "connected": False, "page": "tab-b"}, []),
                             ({"op": "lost", "message": "no board connected in the page",
                               "page": "tab-b"}, []),
                             ({"op": "data", "page": "tab-b"}, [b"not the board's"]),
                             ({"op": "opened", "page": "tab-b"}, [])]:
        port.receive(content, buffers)
    assert port.connected and port.lost is None and port.ignored == 4
    assert port.in_waiting == 0 and port._opened == 0
    port.receive({"op": "data", "page": "tab-a"}, [b"R 3\n"])
    assert port.read(4) == b"R 3\n"
    port.write(b"?\n")
    assert sent[-1] == {"op": "write", "page": "tab-a"}
    # Tab A is reloaded: it holds no port and has a new id, so it stays silent (the kernel
    # will say the page stopped answering) until the student connects there again.
    port.receive({"op": "lost", "message": "gone", "page": "tab-a2"}, [])
    assert port.connected and port.ignored == 5
    port.receive({"op": "connected", "value": True, "page": "tab-a2"}, [])
    port.write(b"?\n")
    assert port.holder == "tab-a2" and sent[-1]["page"] == "tab-a2"


class _UploadPage(_EchoPage):
    """A page whose programmer answers an upload as ``answer(content, hex_text)`` says:
    a list of messages (without the id), sent in order from another thread."""

    def __init__(self, answer):
        self.answer, self.sent = answer, []
        super().__init__()

    def send(self, content, buffers):
        self.sent.append(content)
        if content["op"] != "upload":
            return super().send(content, buffers)
        replies = [(dict(message, id=content["id"]), [])
                   for message in self.answer(content, bytes(buffers[0]).decode())]

        def play():
            for reply in replies:
                time.sleep(0.01)
                self.port.receive(*reply)
        threading.Thread(target=play, daemon=True).start()


UPLOADED = {"op": "uploaded", "seconds": 2.5, "bytesWritten": 7808, "dataBytes": 7790,
            "pages": 61, "chip": "ATmega328P", "bootloaderVersion": "4.4", "syncAttempts": 1}


def test_an_upload_through_the_link_reports_progress_and_the_programmers_result():
    page = _UploadPage(lambda content, text: [
        {"op": "progress", "phase": "write", "done": 128, "total": 256},
        {"op": "progress", "phase": "verify", "done": 256, "total": 256}, UPLOADED])
    progress = []
    done = page.port.upload(":00000001FF\n", 5.0, on_progress=lambda *p: progress.append(p))
    assert done["bytes_written"] == 7808 and done["chip"] == "ATmega328P"
    assert ("write", 128, 256) in progress
    failing = _UploadPage(lambda content, text: [
        {"op": "upload-failed", "reason": "no-sync", "message": "The board did not answer"}])
    with pytest.raises(web.WebUploadError, match="did not answer") as failed:
        failing.port.upload(":00000001FF\n", 5.0)
    assert failed.value.reason == "no-sync"


def test_a_page_that_stops_answering_ends_a_read_and_an_upload_with_words_for_it(monkeypatch):
    # The tab was closed: nothing answers, not even a ping. Shortened clocks (1 s and 4 s).
    monkeypatch.setattr(web, "PING_AFTER_S", 0.1)
    monkeypatch.setattr(web, "PAGE_SILENT_S", 0.3)
    page = _EchoPage()
    port = web.open_web_port(page.port.name, 115200, write_timeout=1.0, timeout=5.0)
    page.send = lambda content, buffers: None                     # the tab is gone
    started = time.monotonic()
    with pytest.raises(web.WebLinkError, match="stopped answering.*tab still open"):
        port.read(1)
    with pytest.raises(web.WebUploadError, match="stopped answering.*tab still open") as failed:
        port.upload(":00000001FF\n", 5.0)
    assert failed.value.reason == "timeout" and time.monotonic() - started < 3


def test_flash_uploads_to_a_web_port_and_maps_the_programmers_reasons(old_sketch, tmp_path):
    from tinylab import flash

    _, firmware = old_sketch
    page = _UploadPage(lambda content, text: [UPLOADED])
    done = flash.upload(firmware, page.port.name)
    assert set(done) == {"tool", "command", "board", "port", "seconds", "bytes_written",
                         "output"}
    assert done["tool"] == "web-serial" and done["port"] == page.port.name
    assert done["bytes_written"] == 7808
    assert page.sent[-1]["op"] == "upload"
    for said, reason in [("no-sync", "not-in-sync"), ("interrupted", "interrupted"),
                         ("verify-mismatch", "verify-mismatch"), ("odd", "failed")]:
        page = _UploadPage(lambda content, text: [
            {"op": "upload-failed", "reason": said, "message": "In plain words."}])
        with pytest.raises(flash.FlashError, match="In plain words") as failed:
            flash.upload(firmware, page.port.name)
        assert failed.value.reason == reason
    # A corrupt .hex is refused in the kernel, as for a local upload: the page hears nothing.
    broken = tmp_path / "broken.hex"
    broken.write_text(":10000000\n")
    page = _UploadPage(lambda content, text: [UPLOADED])
    with pytest.raises(flash.FlashError) as failed:
        flash.upload(broken, page.port.name, "uno")
    assert failed.value.reason == "bad-hex" and page.sent == []


def test_the_nano_is_refused_through_the_browser_with_the_local_route(tmp_path):
    from tinylab import flash

    page = _UploadPage(lambda content, text: [UPLOADED])
    hex_path = tmp_path / "sketch.bin"
    hex_path.write_bytes(b"\0" * 64)
    with pytest.raises(flash.FlashError, match="computer that runs Jupyter") as failed:
        flash.upload(hex_path, page.port.name, "nano33ble")
    assert failed.value.reason == "browser-upload" and page.sent == []
    assert "tinylab deploy --port" in str(failed.value)


def test_an_interrupt_during_an_upload_asks_the_page_to_stop():
    page = _UploadPage(lambda content, text: [
        {"op": "progress", "phase": "write", "done": 128, "total": 256}])

    def interrupt(*_progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        page.port.upload(":00000001FF\n", 5.0, on_progress=interrupt)
    assert page.sent[-1]["op"] == "stop-upload"
    assert page.sent[-1]["id"] == page.sent[-2]["id"]


# --- in a real kernel and a real browser -------------------------------------------------------

APP_SOURCE = """\
import json, time
import numpy as np
import ipywidgets as widgets
from tinylab.device import Device
from tinylab.serial.web import _KernelPump
from tinylab.widgets._board_link import BoardLink

X = np.array(json.loads({x_json!r}), dtype=np.int8)
link = BoardLink()
run = widgets.Button(description="Run the digits")
run.add_class("tl-run")
ping = widgets.Button(description="Ping")
ping.add_class("tl-ping")
pings = widgets.Label("0")
pings.add_class("tl-pings")
result = widgets.Textarea()
result.add_class("tl-result")

def on_ping(_button):
    pings.value = str(int(pings.value) + 1)

def on_run(_button):
    try:
        started = time.perf_counter()
        with Device(link.port, expect_model={model_hash!r}, timeout=5.0) as board:
            open_s = time.perf_counter() - started
            scores, seconds = [], []
            for x in X:
                tick = time.perf_counter()
                scores.append(board.infer(x)[1].tolist())
                seconds.append(time.perf_counter() - tick)
            many = board.infer_many(X, progress=False)
        pump = _KernelPump.get()
        result.value = json.dumps({{
            "scores": scores, "many": many.scores.tolist(), "seconds": seconds,
            "open_s": open_s, "pings_during_run": pings.value, "bytes_in": link.link.bytes_in,
            "handled": pump.handled, "deferred": pump.deferred}})
    except Exception as exc:
        result.value = json.dumps({{"error": f"{{type(exc).__name__}}: {{exc}}"}})

ping.on_click(on_ping)
run.on_click(on_run)
widgets.VBox([link, run, ping, pings, result])
"""


def _connect(browser, url: str, relay_url: str, console: list):
    """A page of ``url`` with the stand-in, its board connected (the Connect button clicked)."""
    return connect_board(browser, url, relay_url, console, page_ms=PAGE_MS, connect_ms=RUN_MS)


def _visit(url: str, relay_url: str) -> dict:
    """In Chromium: open the app, connect the board, run, click Ping during the run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            console = []
            page = _connect(browser, url, relay_url, console)
            status = page.locator(".tl-board-link-status").inner_text()
            page.locator(".tl-run button, button.tl-run").first.click()
            time.sleep(0.3)   # the run has started (opening alone takes ~1.5 s)
            page.locator(".tl-ping button, button.tl-ping").first.click()
            page.wait_for_function(
                "() => { const t = document.querySelector('.tl-result textarea');"
                " return t && t.value.length > 0; }", timeout=RUN_MS)
            outcome = json.loads(page.locator(".tl-result textarea").input_value())
            page.wait_for_function(
                "() => document.querySelector('.tl-pings').innerText.includes('1')",
                timeout=10_000)
            outcome["pings_after_run"] = page.locator(".tl-pings").inner_text()
            page.locator(".tl-ping button, button.tl-ping").first.click()
            page.wait_for_function(
                "() => document.querySelector('.tl-pings').innerText.includes('2')",
                timeout=10_000)
            outcome["pings_later"] = page.locator(".tl-pings").inner_text()
            outcome["status_after"] = page.locator(".tl-board-link-status").inner_text()
            outcome["status"] = status
            outcome["console"] = console[-20:]
            return outcome
        finally:
            browser.close()


@pytest.fixture(scope="module")
def inference(new_sketch):
    """``(mlp, firmware, x_int8, host_scores)``: conftest's new sketch and its six digits."""
    return new_sketch


def _local_seconds(port: str, mlp, x_int8) -> list:
    with Device(port, expect_model=mlp.model_hash) as board:
        seconds = []
        for x in x_int8:
            tick = time.perf_counter()
            board.infer(x)
            seconds.append(time.perf_counter() - tick)
    return seconds


def _voila_run(inference, tmp_path, **faults) -> tuple:
    """The app served by Voila, the board behind the relay (with ``faults``): what the page
    showed, and the seconds per digit of a local Device on the same virtual Uno."""
    mlp, firmware, x_int8, host = inference
    source = APP_SOURCE.format(x_json=json.dumps(x_int8.tolist()), model_hash=mlp.model_hash)
    with virtual.VirtualUno(firmware) as board:
        local = _local_seconds(board.port, mlp, x_int8)
        outcome = _voila_serve(tmp_path, source, _visit, board.port, **faults)
    return outcome, local


def _voila_serve(tmp_path, source: str, visit, board_port: str | None, **faults) -> dict:
    """``source`` as an app served by Voila, ``visit(url, relay_url)`` in Chromium, the board
    on ``board_port`` behind the test relay (with ``faults``): what ``visit`` returned."""
    require_chromium()
    return voila_visit(tmp_path, source, visit, board_port, **faults)


def test_a_device_in_a_voila_kernel_runs_digits_on_the_board_the_browser_holds(inference,
                                                                                tmp_path):
    outcome, local = _voila_run(inference, tmp_path)
    host = inference[3]
    assert "error" not in outcome, outcome
    np.testing.assert_array_equal(np.array(outcome["scores"], dtype=np.int8), host)
    np.testing.assert_array_equal(np.array(outcome["many"], dtype=np.int8), host)
    assert outcome["pings_during_run"] == "0"      # the click waited for the run...
    assert outcome["pings_after_run"] == "1"       # ...and was handled after it,
    assert outcome["pings_later"] == "2"           # and the kernel still hears clicks
    assert outcome["handled"] > 0 and outcome["deferred"] >= 1
    web_ms = 1000 * np.median(outcome["seconds"])
    local_ms = 1000 * np.median(local)
    print(f"\nVoila: per digit (median of {N_DIGITS}): web link {web_ms:.1f} ms, local pty "
          f"{local_ms:.1f} ms; opening over the link {outcome['open_s']:.2f} s; "
          f"web samples {[round(1000 * s, 1) for s in outcome['seconds']]} ms")


def test_a_link_cut_mid_run_is_a_lost_connection_not_a_hang(inference, tmp_path):
    # The banner and the first digits pass; the relay then drops the page's WebSocket (an
    # unplugged board): the page's read fails, it tells the kernel, the Device says "lost".
    started = time.monotonic()
    outcome, _ = _voila_run(inference, tmp_path, cut_after_bytes=600)
    assert "lost the connection to webserial:" in outcome.get("error", ""), outcome
    assert "lost the board" in outcome["status_after"], outcome
    assert time.monotonic() - started < 60


# --- uploading through the widget: BoardSession on the link's port ---------------------------

UPLOAD_APP_SOURCE = """\
import json, pickle, time
import numpy as np
import ipywidgets as widgets
from tinylab.session import BoardSession
from tinylab.widgets._board_link import BoardLink

X = np.array(json.loads({x_json!r}), dtype=np.int8)
with open({firmware_path!r}, "rb") as file:
    firmware = pickle.load(file)
link = BoardLink()
run = widgets.Button(description="Upload and run")
run.add_class("tl-run")
result = widgets.Textarea()
result.add_class("tl-result")

def on_run(_button):
    outcome = {{}}
    started = time.perf_counter()
    try:
        with BoardSession(firmware, port=link.port, model_hash={model_hash!r},
                          upload="always") as session:
            outcome["session_s"] = time.perf_counter() - started
            outcome["uploaded"] = session.uploaded
            board = session.device()
            outcome["scores"], outcome["seconds"] = [], []
            for x in X:
                tick = time.perf_counter()
                outcome["scores"].append(board.infer(x)[1].tolist())
                outcome["seconds"].append(time.perf_counter() - tick)
    except Exception as exc:
        outcome["error"] = f"{{type(exc).__name__}}: {{exc}}"
        outcome["reason"] = getattr(exc, "reason", None)
    outcome["finished_s"] = time.perf_counter() - started
    result.value = json.dumps(outcome)

run.on_click(on_run)
widgets.VBox([link, run, result])
"""
UPLOAD_RUN_MS = 150_000   # upload (~2.5 s; bound ~37 s), open, six digits, whatever happens

# Every text the link's status shows while the page waits for the result (polled each 50 ms).
RESULT_WATCHING_STATUS = """() => {
  const status = document.querySelector('.tl-board-link-status');
  window.__statuses = window.__statuses || [];
  const seen = window.__statuses;
  if (status && seen[seen.length - 1] !== status.innerText) seen.push(status.innerText);
  const result = document.querySelector('.tl-result textarea');
  return result && result.value.length > 0;
}"""


def _visit_upload(url: str, relay_url: str) -> dict:
    """In Chromium: open the app, connect the board, click "Upload and run", wait."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            console = []
            page = _connect(browser, url, relay_url, console)
            page.locator(".tl-run button, button.tl-run").first.click()
            page.wait_for_function(RESULT_WATCHING_STATUS, timeout=UPLOAD_RUN_MS, polling=50)
            outcome = json.loads(page.locator(".tl-result textarea").input_value())
            outcome["statuses"] = page.evaluate("() => window.__statuses")
            outcome["status_after"] = page.locator(".tl-board-link-status").inner_text()
            outcome["console"] = console[-20:]
            return outcome
        finally:
            browser.close()


def _upload_run(inference, old_sketch, tmp_path, **faults) -> dict:
    """The upload app under Voila, the virtual Uno in bootloader mode holding the old sketch."""
    mlp, firmware, x_int8, _ = inference
    _, old_firmware = old_sketch
    firmware_path = tmp_path / "firmware.pickle"
    firmware_path.write_bytes(pickle.dumps(firmware))
    source = UPLOAD_APP_SOURCE.format(x_json=json.dumps(x_int8.tolist()),
                                      model_hash=mlp.model_hash,
                                      firmware_path=str(firmware_path))
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        return _voila_serve(tmp_path, source, _visit_upload, board.port, **faults)


def test_a_board_session_uploads_through_the_widget_then_runs_digits(inference, old_sketch,
                                                                     tmp_path):
    outcome = _upload_run(inference, old_sketch, tmp_path)
    host = inference[3]
    assert "error" not in outcome, outcome
    np.testing.assert_array_equal(np.array(outcome["scores"], dtype=np.int8), host)
    uploaded = outcome["uploaded"]
    assert uploaded["tool"] == "web-serial" and uploaded["bytes_written"] > 7000, uploaded
    writing = [text for text in outcome["statuses"] if text.startswith("Uploading: writing")]
    assert writing, outcome["statuses"]                 # the student saw the progress
    assert "uploaded" in outcome["status_after"], outcome["status_after"]
    print(f"\nupload time of the inference firmware through the widget: "
          f"{uploaded['seconds']:.2f} s in the kernel ({uploaded['output']}; avrdude on a "
          f"local pty: ~2.47 s); BoardSession open with upload {outcome['session_s']:.2f} s; "
          f"per digit (median of {N_DIGITS}) {1000 * np.median(outcome['seconds']):.1f} ms; "
          f"{len(outcome['statuses'])} statuses shown, e.g. {writing[len(writing) // 2]!r}")


def test_a_link_cut_mid_upload_is_interrupted_in_plain_words_not_a_hang(inference, old_sketch,
                                                                       tmp_path):
    started = time.monotonic()
    outcome = _upload_run(inference, old_sketch, tmp_path, cut_after_bytes=3000)
    assert outcome.get("reason") == "interrupted", outcome
    assert "FlashError" in outcome["error"] and "connection to the board was lost" in \
        outcome["error"], outcome
    assert "upload again" in outcome["error"], outcome
    assert outcome["finished_s"] < 60, outcome
    assert "lost the board" in outcome["status_after"] or "upload failed" in \
        outcome["status_after"], outcome
    assert time.monotonic() - started < 180


DEPLOY_APP_SOURCE = """\
import dataclasses, json, pickle
import ipywidgets as widgets
import tinylab as tl

with open({mlp_path!r}, "rb") as file:
    mlp = pickle.load(file)
data = tl.data.load("digits", seed=0)
# this test's model reads the 64 values flat (the lesson's student flattens them itself)
data = dataclasses.replace(data, X_test=data.X_test.reshape(len(data.X_test), -1))
link = tl.widgets.BoardLink()
run = widgets.Button(description="Deploy")
run.add_class("tl-run")
result = widgets.Textarea()
result.add_class("tl-result")

def on_run(_button):
    try:   # lesson 08's cell, with a board connected in the page
        report = tl.deploy.deploy(mlp, data, format="int8", limit={limit}, port=link.port,
                                  progress=False)
        outcome = {{"virtual": report.virtual, "port": report.port, "examples": report.examples,
                    "bit_exact": report.bit_exact, "stack": report.stack_peak_bytes,
                    "model_hash": report.model_hash, "text": report.to_text()}}
    except Exception as exc:
        outcome = {{"error": f"{{type(exc).__name__}}: {{exc}}"}}
    result.value = json.dumps(outcome)

run.on_click(on_run)
widgets.VBox([link, run, result])
"""


def test_lesson_08s_deploy_uploads_through_the_link_and_matches_the_host(inference, old_sketch,
                                                                        tmp_path):
    # tl.deploy.deploy(port=link.port), as lesson 08 runs it once a board is connected: it
    # compiles, uploads through the page into Optiboot (the board held another model), sends
    # test digits and reads the stack's peak, all through the link.
    mlp = inference[0]
    mlp_path = tmp_path / "mlp.pickle"
    mlp_path.write_bytes(pickle.dumps(mlp))
    source = DEPLOY_APP_SOURCE.format(mlp_path=str(mlp_path), limit=N_DIGITS)
    with virtual.VirtualUno(old_sketch[1], bootloader=True) as board:
        outcome = _voila_serve(tmp_path, source, _visit_upload, board.port)
    assert "error" not in outcome, outcome
    assert outcome["virtual"] is False and outcome["port"].startswith(web.SCHEME), outcome
    assert outcome["model_hash"] == mlp.model_hash, outcome
    assert outcome["examples"] == N_DIGITS and outcome["bit_exact"] == 1.0, outcome
    assert outcome["stack"], outcome                     # read from the board, over the link
    assert any(text.startswith("Uploading: writing") for text in outcome["statuses"]), outcome


NO_SERIAL_APP_SOURCE = """\
from tinylab.widgets._board_link import BoardLink
BoardLink()
"""


def _visit_without_web_serial(url: str, _relay_url) -> dict:
    """In Chromium with ``navigator.serial`` removed (as in Firefox or Safari)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.add_init_script("delete Navigator.prototype.serial;")
            page.goto(url, wait_until="commit", timeout=PAGE_MS)
            button = page.locator(".tl-board-link-connect")
            button.wait_for(state="visible", timeout=PAGE_MS)
            return {"disabled": button.is_disabled(),
                    "status": page.locator(".tl-board-link-status").inner_text(),
                    "serial": page.evaluate("() => 'serial' in navigator")}
        finally:
            browser.close()


def test_a_browser_without_web_serial_says_which_browsers_work(tmp_path):
    outcome = _voila_serve(tmp_path, NO_SERIAL_APP_SOURCE, _visit_without_web_serial, None)
    assert outcome["serial"] is False and outcome["disabled"] is True, outcome
    for words in ("Chrome, Edge or Opera", "not Firefox or Safari", "virtual Uno"):
        assert words in outcome["status"], outcome



INSECURE_PAGE = """<!doctype html><meta charset="utf-8"><div id="link"></div>
<script type="module">
  import widget from "./_board_link.js";
  const model = {get: (key) => ({name: "webserial:test", baudrate: 115200, _stk500: ""})[key],
                 on() {}, off() {}, send() {}};
  widget.initialize({model});
  widget.render({model, el: document.getElementById("link")});
</script>"""


def _visit_insecure(url: str) -> dict:
    """Chromium on a plain-http page of a host that is not this computer: no secure context."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=app.chromium_executable(), headless=True, timeout=60_000,
            args=app.CHROMIUM_ARGS + ["--host-resolver-rules=MAP lab.example 127.0.0.1"])
        try:
            page = browser.new_page()
            page.goto(url, timeout=PAGE_MS)
            button = page.locator(".tl-board-link-connect")
            button.wait_for(state="visible", timeout=30_000)
            return {"disabled": button.is_disabled(),
                    "status": page.locator(".tl-board-link-status").inner_text(),
                    "secure": page.evaluate("() => window.isSecureContext"),
                    "serial": page.evaluate("() => 'serial' in navigator")}
        finally:
            browser.close()


def test_a_plain_http_page_from_another_host_says_https_is_needed(tmp_path):
    # A lecture hall's `tinylab app --ip 0.0.0.0` over http://: Chrome hides Web Serial there
    # (no secure context), so "use Chrome" would be wrong advice.
    require_chromium()
    (tmp_path / "_board_link.js").write_bytes(
        (ROOT / "tinylab" / "widgets" / "_board_link.js").read_bytes())
    (tmp_path / "index.html").write_text(INSECURE_PAGE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            outcome = in_a_thread(_visit_insecure,
                                  f"http://lab.example:{server.server_address[1]}/index.html")
        finally:
            server.shutdown()
    assert outcome["secure"] is False and outcome["serial"] is False, outcome
    assert outcome["disabled"] is True, outcome
    for words in ("https://", "virtual Uno"):
        assert words in outcome["status"], outcome
    assert "Firefox" not in outcome["status"], outcome

# --- the same in JupyterLab: a cell blocks, the next cell's execute_request waits its turn ----

LAB_CELLS = [
    """\
import json, time
import numpy as np
from tinylab.device import Device
from tinylab.serial.web import _KernelPump
from tinylab.widgets._board_link import BoardLink

link = BoardLink()
link""",
    """\
X = np.array(json.loads({x_json!r}), dtype=np.int8)
outcome = {{"connected": link.link.wait_connected(60)}}
try:
    started = time.perf_counter()
    with Device(link.port, expect_model={model_hash!r}, timeout=5.0) as board:
        outcome["open_s"] = time.perf_counter() - started
        outcome["scores"], outcome["seconds"] = [], []
        for x in X:
            tick = time.perf_counter()
            outcome["scores"].append(board.infer(x)[1].tolist())
            outcome["seconds"].append(time.perf_counter() - tick)
        outcome["many"] = board.infer_many(X, progress=False).scores.tolist()
except Exception as exc:
    outcome["error"] = f"{{type(exc).__name__}}: {{exc}}"
pump = _KernelPump.get()
outcome.update(handled=pump.handled, deferred=pump.deferred, finished=time.time())
with open({result_path!r}, "w") as file:
    json.dump(outcome, file)""",
    """\
with open({after_path!r}, "w") as file:
    json.dump({{"started": time.time()}}, file)""",
]


# The notebook's kernel is known (its requests then queue until it is connected: run-all-cells
# sends them together, so a later cell's request reaches the kernel while an earlier one runs).
LAB_KERNEL = (
    "() => window.jupyterapp && window.jupyterapp.shell.currentWidget &&"
    " window.jupyterapp.shell.currentWidget.sessionContext &&"
    " window.jupyterapp.shell.currentWidget.sessionContext.session &&"
    " window.jupyterapp.shell.currentWidget.sessionContext.session.kernel")
LAB_KERNEL_CONNECTED = (LAB_KERNEL + " && window.jupyterapp.shell.currentWidget"
                        ".sessionContext.session.kernel.connectionStatus === 'connected'")


def _lab_run_all_and_connect(browser, url: str, relay_url: str, second_tab: bool = False):
    """The notebook at ``url`` open in JupyterLab with the stand-in, all its cells run, and
    "Connect a board" clicked as soon as the link shows (while a later cell may wait). With
    ``second_tab``, the same notebook is open in another tab first, on the same kernel: the
    link's model reaches that tab too (the kernel's comm messages go to every tab), which
    holds no port."""
    if second_tab:
        other = browser.new_page()
        other.goto(url, wait_until="commit", timeout=PAGE_MS)
        other.wait_for_function(LAB_KERNEL_CONNECTED, timeout=PAGE_MS, polling=250)
    page = stand_in_page(browser, url, relay_url, timeout_ms=PAGE_MS)
    page.wait_for_function(LAB_KERNEL, timeout=PAGE_MS, polling=250)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.locator(".tl-board-link-connect").wait_for(state="visible", timeout=PAGE_MS)
    page.locator(".tl-board-link-connect").click()
    return page


def _lab_visit(url: str, relay_url: str, result_path: Path, after_path: Path,
               second_tab: bool = False) -> dict:
    """In Chromium: open the notebook, run all cells, click Connect while cell 2 waits (with
    the notebook open in a second tab too, if asked)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = _lab_run_all_and_connect(browser, url, relay_url, second_tab)
            deadline = time.monotonic() + RUN_MS / 1000
            while not after_path.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            return {"status": page.locator(".tl-board-link-status").inner_text()}
        finally:
            browser.close()


@pytest.fixture
def lab(tmp_path):
    """JupyterLab, headless, on ``tmp_path/notebooks``; its settings and runtime in tmp_path."""
    import subprocess

    root = tmp_path / "notebooks"
    root.mkdir()
    port = app.free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    log = open(tmp_path / "lab.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
         "--ServerApp.password=", f"--ServerApp.root_dir={root}",
         "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not app._answers(url + "/api/status"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'lab.log').read_text()}")
            time.sleep(0.25)
        yield url, root
    finally:
        app.stop(process)
        log.close()


@pytest.mark.parametrize("tabs", [1, 2])
def test_a_device_in_a_jupyterlab_cell_runs_digits_and_the_next_cell_waits(inference, lab,
                                                                           tmp_path, tabs):
    # With 2, the notebook is open in a second tab as well, whose link holds no port: the
    # kernel must still hear only the tab with the board.
    require_chromium()
    url, root = lab
    mlp, firmware, x_int8, host = inference
    result_path, after_path = tmp_path / "result.json", tmp_path / "after.json"
    cells = [cell.format(x_json=json.dumps(x_int8.tolist()), model_hash=mlp.model_hash,
                         result_path=str(result_path), after_path=str(after_path))
             for cell in LAB_CELLS]
    (root / "link.ipynb").write_text(json.dumps(app_notebook(*cells)))
    with virtual.VirtualUno(firmware) as board:
        local = _local_seconds(board.port, mlp, x_int8)
        with PageRelay(board.port) as relay:
            relay.page_origin = url
            page = in_a_thread(_lab_visit, f"{url}/lab/tree/link.ipynb", relay.url,
                                result_path, after_path, tabs == 2)
    assert result_path.exists(), (page, relay.errors)
    outcome = json.loads(result_path.read_text())
    assert "error" not in outcome, outcome
    np.testing.assert_array_equal(np.array(outcome["scores"], dtype=np.int8), host)
    np.testing.assert_array_equal(np.array(outcome["many"], dtype=np.int8), host)
    # the third cell's execute_request came during the second cell, waited, then ran after it
    assert after_path.exists(), page
    assert json.loads(after_path.read_text())["started"] >= outcome["finished"]
    assert outcome["handled"] > 0
    if tabs == 1:
        # The kernel was not connected yet when run-all-cells was pressed, so the three
        # requests came together and the third one reached the pump. (With the second tab
        # the kernel is connected first; ipykernel may then take that request before the
        # second cell starts, and it waits in ipykernel's own queue instead, as asserted.)
        assert outcome["deferred"] >= 1
    print(f"\nJupyterLab ({tabs} tab{'s' if tabs > 1 else ''}): per digit (median of {N_DIGITS}): web link "
          f"{1000 * np.median(outcome['seconds']):.1f} ms, local pty "
          f"{1000 * np.median(local):.1f} ms; opening {outcome['open_s']:.2f} s; "
          f"deferred {outcome['deferred']}, handled {outcome['handled']}")


# --- a kernel interrupt during a wait, then a closed tab during a wait --------------------------

STOP_CELLS = [
    LAB_CELLS[0],
    """\
X = np.array(json.loads({x_json!r}), dtype=np.int8)
outcome = {{"connected": link.link.wait_connected(60), "digits": 0}}
try:
    with Device(link.port, expect_model={model_hash!r}, timeout=5.0) as board:
        board.infer(X[0])
        open({running_path!r}, "w").close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            board.infer(X[outcome["digits"] % len(X)])
            outcome["digits"] += 1
    outcome["error"] = "not interrupted within 60 s"
except KeyboardInterrupt:
    outcome["interrupted_at"] = time.time()
except Exception as exc:
    outcome["error"] = f"{{type(exc).__name__}}: {{exc}}"
with open({interrupted_path!r}, "w") as file:
    json.dump(outcome, file)""",
    """\
after = {{}}
try:
    with Device(link.port, expect_model={model_hash!r}, timeout=5.0) as board:
        after["scores"] = board.infer_many(X, progress=False).scores.tolist()
except Exception as exc:
    after["error"] = f"{{type(exc).__name__}}: {{exc}}"
with open({usable_path!r}, "w") as file:
    json.dump(after, file)""",
    """\
closed = {{}}
try:
    with Device(link.port, expect_model={model_hash!r}, timeout=5.0) as board:
        board.infer(X[0])
        open({reading_path!r}, "w").close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            board.infer(X[0])
    closed["error"] = "still running after 60 s"
except Exception as exc:
    closed["error"] = f"{{type(exc).__name__}}: {{exc}}"
closed["at"] = time.time()
with open({closed_path!r}, "w") as file:
    json.dump(closed, file)""",
]


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.exists()


def _lab_stop_visit(url: str, relay_url: str, paths: dict) -> dict:
    """Run all cells; interrupt the kernel while cell 2 reads, close the tab while cell 4
    reads. Returns when each happened (time.time())."""
    from playwright.sync_api import sync_playwright

    times = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = _lab_run_all_and_connect(browser, url, relay_url)
            if not _wait_for(paths["running"], RUN_MS / 1000):
                return times
            time.sleep(0.5)                 # digits go by
            times["interrupt"] = time.time()
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                          ".kernel.interrupt()")
            if not _wait_for(paths["reading"], RUN_MS / 1000):
                return times
            time.sleep(0.5)
            times["close"] = time.time()
            page.close()
            _wait_for(paths["closed"], RUN_MS / 1000)
            return times
        finally:
            browser.close()


def test_an_interrupt_stops_a_read_on_the_link_and_a_closed_tab_is_named(inference, lab,
                                                                          tmp_path):
    require_chromium()
    url, root = lab
    mlp, firmware, x_int8, host = inference
    paths = {name: tmp_path / f"{name}.json"
             for name in ("running", "interrupted", "usable", "reading", "closed")}
    cells = [cell.format(x_json=json.dumps(x_int8.tolist()), model_hash=mlp.model_hash,
                         **{f"{name}_path": str(path) for name, path in paths.items()})
             for cell in STOP_CELLS]
    (root / "stop.ipynb").write_text(json.dumps(app_notebook(*cells)))
    with virtual.VirtualUno(firmware) as board, PageRelay(board.port) as relay:
        relay.page_origin = url
        times = in_a_thread(_lab_stop_visit, f"{url}/lab/tree/stop.ipynb", relay.url, paths)
    assert paths["interrupted"].exists(), (times, relay.errors)
    interrupted = json.loads(paths["interrupted"].read_text())
    assert "interrupted_at" in interrupted and interrupted["digits"] > 0, interrupted
    # The kernel stays usable, and so does the link: the next cell's digits are exact.
    usable = json.loads(paths["usable"].read_text())
    assert "error" not in usable, usable
    np.testing.assert_array_equal(np.array(usable["scores"], dtype=np.int8), host)
    # The tab closed while a Device read: the read ends, saying the page stopped answering.
    assert paths["closed"].exists(), times
    closed = json.loads(paths["closed"].read_text())
    assert "stopped answering" in closed["error"] and "tab still open" in closed["error"], closed
    stop_s = interrupted["interrupted_at"] - times["interrupt"]
    close_s = closed["at"] - times["close"]
    assert stop_s < 10 and close_s < 30, (stop_s, close_s)       # no hang (generous bounds)
    print(f"\ninterrupt -> KeyboardInterrupt in the cell: {stop_s:.2f} s "
          f"({interrupted['digits']} digits before); tab closed -> error: {close_s:.2f} s: "
          f"{closed['error']}")
