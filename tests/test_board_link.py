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
Playwright runs in a thread of its own; every wait has a bound.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinylab import app, build, deploy, engine, virtual
from tinylab.device import Device
from tinylab.serial import web

ROOT = Path(__file__).resolve().parents[1]
FAKES = Path(__file__).parent / "fakes"
sys.path.insert(0, str(FAKES))
from serial_relay import SerialRelay  # noqa: E402

THREAD_BOUND_S = 240     # the Playwright thread's answer, whatever happens in the page
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


def _notebook(source: str) -> dict:
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                       "outputs": [], "source": source.splitlines(keepends=True)}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


class _PageRelay(SerialRelay):
    """The test relay, letting in the app's page (its origin is Voila's, not the relay's)."""

    page_origin = ""

    @property
    def origin(self) -> str:
        return self.page_origin


def _stand_in_script(relay_url: str) -> str:
    """tests/fakes/web_serial.js as a classic script (an init script cannot be a module)."""
    text = (FAKES / "web_serial.js").read_text().replace("export class", "class")
    text = text.replace("export async function", "async function").replace(
        "export function", "function")
    return f"{text}\ninstallSerialStandIn({json.dumps(relay_url)});\n"


def _launch(playwright):
    """Debian's Chromium, headless, as the apps' browser tests start it."""
    return playwright.chromium.launch(executable_path=app.chromium_executable(), headless=True,
                                      args=app.CHROMIUM_ARGS, timeout=60_000)


def _visit(url: str, relay_url: str) -> dict:
    """In Chromium: open the app, connect the board, run, click Ping during the run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = browser.new_page()
            console = []
            page.on("console", lambda message: console.append(message.text))
            page.add_init_script(_stand_in_script(relay_url))
            page.goto(url, wait_until="commit", timeout=PAGE_MS)
            page.locator(".tl-board-link-connect").wait_for(state="visible", timeout=PAGE_MS)
            page.locator(".tl-board-link-connect").click()
            page.wait_for_function(
                "() => document.querySelector('.tl-board-link-status').innerText"
                ".includes('connected')", timeout=RUN_MS)
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


def _in_a_thread(function, *args):
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="chromium") as thread:
        return thread.submit(function, *args).result(timeout=THREAD_BOUND_S)


@pytest.fixture(scope="module")
def inference(virtual_uno_tools, random_mlp, digits):
    mlp = random_mlp(2)
    x_int8 = engine.quantize_inputs(mlp, digits.X_test[:N_DIGITS].reshape(N_DIGITS, -1))
    firmware = build.check_fits(deploy.build_firmware(mlp, "int8", "uno"))
    return mlp, firmware, x_int8, engine.run_int8(mlp, x_int8)


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
    if app.chromium_executable() is None:
        message = "the browser test needs Chromium (apt install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    mlp, firmware, x_int8, host = inference
    source = APP_SOURCE.format(x_json=json.dumps(x_int8.tolist()), model_hash=mlp.model_hash)
    (tmp_path / "link.ipynb").write_text(json.dumps(_notebook(source)))
    with virtual.VirtualUno(firmware) as board:
        local = _local_seconds(board.port, mlp, x_int8)
        with _PageRelay(board.port, **faults) as relay, \
                app.serve(tmp_path, boards=0, prepared=False, pool=0,
                          startup_timeout_s=90) as server:
            relay.page_origin = server.url
            outcome = _in_a_thread(_visit, server.url + app.render_path("link.ipynb"),
                                   relay.url)
    outcome["relay_errors"] = relay.errors
    return outcome, local


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


def _lab_notebook(cells: list) -> dict:
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                       "outputs": [], "source": cell.splitlines(keepends=True)} for cell in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _lab_visit(url: str, relay_url: str, result_path: Path, after_path: Path) -> dict:
    """In Chromium: open the notebook, run all cells, click Connect while cell 2 waits."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = browser.new_page()
            page.add_init_script(_stand_in_script(relay_url))
            page.goto(url, wait_until="commit", timeout=PAGE_MS)
            page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget &&"
                " window.jupyterapp.shell.currentWidget.sessionContext &&"
                " window.jupyterapp.shell.currentWidget.sessionContext.session &&"
                " window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                timeout=PAGE_MS, polling=250)
            page.evaluate("() => { window.jupyterapp.commands.execute("
                          "'notebook:run-all-cells'); }")
            page.locator(".tl-board-link-connect").wait_for(state="visible", timeout=PAGE_MS)
            page.locator(".tl-board-link-connect").click()
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


def test_a_device_in_a_jupyterlab_cell_runs_digits_and_the_next_cell_waits(inference, lab,
                                                                           tmp_path):
    if app.chromium_executable() is None:
        pytest.skip("the browser test needs Chromium (apt install chromium)")
    url, root = lab
    mlp, firmware, x_int8, host = inference
    result_path, after_path = tmp_path / "result.json", tmp_path / "after.json"
    cells = [cell.format(x_json=json.dumps(x_int8.tolist()), model_hash=mlp.model_hash,
                         result_path=str(result_path), after_path=str(after_path))
             for cell in LAB_CELLS]
    (root / "link.ipynb").write_text(json.dumps(_lab_notebook(cells)))
    with virtual.VirtualUno(firmware) as board:
        local = _local_seconds(board.port, mlp, x_int8)
        with _PageRelay(board.port) as relay:
            relay.page_origin = url
            page = _in_a_thread(_lab_visit, f"{url}/lab/tree/link.ipynb", relay.url,
                                result_path, after_path)
    assert result_path.exists(), (page, relay.errors)
    outcome = json.loads(result_path.read_text())
    assert "error" not in outcome, outcome
    np.testing.assert_array_equal(np.array(outcome["scores"], dtype=np.int8), host)
    np.testing.assert_array_equal(np.array(outcome["many"], dtype=np.int8), host)
    # the third cell's execute_request came during the second cell, waited, then ran after it
    assert after_path.exists(), page
    assert json.loads(after_path.read_text())["started"] >= outcome["finished"]
    assert outcome["handled"] > 0 and outcome["deferred"] >= 1
    print(f"\nJupyterLab: per digit (median of {N_DIGITS}): web link "
          f"{1000 * np.median(outcome['seconds']):.1f} ms, local pty "
          f"{1000 * np.median(local):.1f} ms; opening {outcome['open_s']:.2f} s; "
          f"deferred {outcome['deferred']}, handled {outcome['handled']}")
