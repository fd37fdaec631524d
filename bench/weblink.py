"""Benchmark: the browser board link (issue 20), against a local port, on the same virtual Uno.

The board link lets a kernel on a server reach a board on the student's own computer: the page
holds the port with Web Serial (``tl.widgets.BoardLink``, ``tinylab/widgets/_board_link.js``),
the kernel's end is ``tinylab/serial/web.py``, an upload runs ``tinylab/widgets/_stk500.js`` in
the page. Measured, on one virtual Uno in bootloader mode (``tl.virtual.VirtualUno(...,
bootloader=True)``: simavr's ATmega328P paced to real time, running the Uno's own Optiboot),
the lesson student (``tl.train.load_or_train("student")``, seed 0, digits split seed 0, int8
per channel with ``tl.deploy.integer_model``, firmware from ``tl.deploy.build_firmware(mlp,
"int8", "uno")``):

1. **Upload time**, ``--runs`` times each: ``tl.flash.upload(firmware, board.port, "uno",
   tool="avrdude")`` from this process, against ``BoardSession(firmware, port=link.port,
   model_hash=..., upload="always")`` in a Voila kernel (the app's button callback) whose page,
   in Chromium, uploads through the link. The seconds are ``flash.upload``'s own (the call's
   clock in the process that calls it); the page's own count and the whole
   ``BoardSession.open`` are kept too. Before each upload the board holds another sketch (the
   same student converted per layer: another model hash), uploaded back after each run
   without being timed, so every upload must change what the board greets with: after each,
   the banner must name the student's hash and every answer below must be bit-exact.
2. **Round trip per digit**: after each upload, ``Device.infer(x)`` on each of ``--digits``
   test digits, timed one by one (``time.perf_counter`` around the call), locally on the
   board's pty and in the Voila kernel through the link; median and p90 over all runs' digits;
   each answer compared with ``tl.engine.run_int8`` byte for byte (they must all be equal).
3. **What the link carried** per digit (its ``bytes_out``/``bytes_in`` counters and the page's
   messages the kernel handled while it waited), and the exchanges a digit costs: its line
   goes in 32-byte chunks (``tl.device.ACK_EVERY_BYTES``), each but the last waiting for the
   board's acknowledgement and the last for the answer, so a real network adds one round
   trip per chunk.

No machine here has a board plugged into a browser, and Chromium has no fake serial device:
the page's ``navigator.serial`` is the browser tests' stand-in (tests/fakes/web_serial.js),
relayed over a WebSocket on loopback to the virtual Uno's pty (tests/fakes/serial_relay.py),
and the Voila app is served and visited with tests/_browser.py's helpers. That is test tooling,
not part of TinyLab (a relay any page could reach would be the hole issue 20 forbids); this
benchmark puts tests/ and tests/fakes on ``sys.path`` to use it. It needs Playwright, Debian's
Chromium, avrdude, simavr and the Uno toolchain (``make test`` installs them).

    tinylab bench weblink [--json] [--write] [--runs 3] [--digits 40]
"""

from __future__ import annotations

import json
import math
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent / "tests"))            # _browser.py: Voila + Chromium
sys.path.insert(2, str(BENCH.parent / "tests" / "fakes"))  # the Web Serial stand-in's relay
from _report import arguments, markdown_table, report, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

import numpy as np  # noqa: E402

SEED = 0
RUNS = 3
DIGITS = 40          # the lessons' count of test digits sent to a board
BAUDRATE = 115200

# Bounds on the browser's side (ms): the app's first render (a fresh kernel imports tinylab),
# the board's connection, and each run (an upload ~3 s, bound ~37 s; the board's reset and
# banner ~1.5 s; the digits; the untimed upload back).
PAGE_MS = 120_000
CONNECT_MS = 60_000
RUN_MS = 90_000

APP_SOURCE = """\
import json, pickle, time
import numpy as np
import ipywidgets as widgets
from tinylab import flash
from tinylab.serial.web import _KernelPump
from tinylab.session import BoardSession
from tinylab.widgets._board_link import BoardLink

X = np.array(json.loads({x_json!r}), dtype=np.int8)
with open({firmware_path!r}, "rb") as file:
    firmware, other_firmware = pickle.load(file)
link = BoardLink()
run = widgets.Button(description="Measure")
run.add_class("tl-run")
result = widgets.Textarea()
result.add_class("tl-result")

def on_run(_button):
    runs, outcome = [], {{}}
    try:
        for _ in range({runs}):
            measured = {{}}
            runs.append(measured)
            started = time.perf_counter()
            with BoardSession(firmware, port=link.port, model_hash={model_hash!r},
                              upload="always") as session:
                measured["session_s"] = time.perf_counter() - started
                measured["uploaded"] = session.uploaded
                tick = time.perf_counter()
                board = session.device()
                measured["open_s"] = time.perf_counter() - tick
                measured["banner_model"] = board.banner["model"]
                pump = _KernelPump.get()
                before = (link.link.bytes_out, link.link.bytes_in, pump.handled)
                measured["scores"], measured["seconds"] = [], []
                for x in X:
                    tick = time.perf_counter()
                    measured["scores"].append(board.infer(x)[1].tolist())
                    measured["seconds"].append(time.perf_counter() - tick)
                measured["bytes_out"] = link.link.bytes_out - before[0]
                measured["bytes_in"] = link.link.bytes_in - before[1]
                measured["messages_in"] = pump.handled - before[2]
            flash.upload(other_firmware, link.port)     # the other sketch back, not timed
    except Exception as exc:
        outcome["error"] = f"{{type(exc).__name__}}: {{exc}}"
    outcome["runs"] = runs
    result.value = json.dumps(outcome)

run.on_click(on_run)
widgets.VBox([link, run, result])
"""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_tools() -> None:
    """Exit, saying how to install it, when a tool this benchmark needs is absent."""
    import importlib.util
    import shutil

    from tinylab import app, build, flash, virtual

    missing = [f"{tool} ({build.AVR_APT_LINE})" for tool in build.missing_tools("uno")]
    missing += [f"{tool} ({virtual.SIMAVR_APT_LINE})" for tool in virtual.missing_tools()]
    if shutil.which("avrdude") is None:
        missing.append(f"avrdude ({flash.AVRDUDE_INSTALL})")
    if importlib.util.find_spec("playwright") is None:
        missing.append(f"Playwright ({sys.executable} -m pip install -e '{BENCH.parent}[dev]')")
    if app.chromium_executable() is None:
        missing.append("Chromium (sudo apt-get install -y chromium)")
    if missing:
        print("tinylab bench weblink needs: " + "; ".join(missing), file=sys.stderr)
        raise SystemExit(2)


# --------------------------------------------------------------------------- the model

def firmwares(n_digits: int) -> dict:
    """The student's int8 firmware, the other sketch, the test digits and the host's answers."""
    import tinylab as tl
    from tinylab import _ihex, build, engine

    data = tl.data.load("digits", seed=SEED)
    student = tl.train.load_or_train("student", data, seed=SEED, progress=False)
    mlp, _ = tl.deploy.integer_model(student, data)
    other, _ = tl.deploy.integer_model(student, data, per_channel=False)
    if other.model_hash == mlp.model_hash:
        raise RuntimeError("the per-layer student has the same model hash as the per-channel "
                           "one: an upload could not be told from no upload")
    firmware = build.check_fits(tl.deploy.build_firmware(mlp, "int8", "uno"))
    other_firmware = build.check_fits(tl.deploy.build_firmware(other, "int8", "uno"))
    x_int8 = engine.quantize_inputs(mlp, data.X_test[:n_digits].reshape(n_digits, -1))
    return {"mlp": mlp, "firmware": firmware, "other": other, "other_firmware": other_firmware,
            "x_int8": x_int8, "host": engine.run_int8(mlp, x_int8),
            "data_bytes": len(_ihex.read(firmware.hex_path)),
            "hex_chars": len(firmware.hex_path.read_text())}


def exchanges(x_int8) -> dict:
    """The lines a digit takes and the round trips each costs (tinylab.device's pacing)."""
    from tinylab.device import ACK_EVERY_BYTES, format_input

    line_bytes = [len(format_input(x)) for x in x_int8]
    chunks = [math.ceil(n / ACK_EVERY_BYTES) for n in line_bytes]
    return {"chunk_bytes": ACK_EVERY_BYTES, "line_bytes": line_bytes, "chunks": chunks,
            "min": min(chunks), "max": max(chunks)}


def _spread(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {"median": float(np.median(values)), "min": float(values.min()),
            "max": float(values.max()), "n": int(values.size)}


def _digit_ms(seconds) -> dict:
    ms = 1000 * np.asarray(seconds, dtype=float)
    return {"median": float(np.median(ms)), "p90": float(np.percentile(ms, 90)),
            "min": float(ms.min()), "max": float(ms.max()), "n": int(ms.size)}


def _bit_exact(runs_scores, host) -> int:
    return int(sum(np.all(np.asarray(scores, dtype=np.int8) == host, axis=1).sum()
                   for scores in runs_scores))


# --------------------------------------------------------------------------- local port

def measure_local(board, model: dict, runs: int) -> dict:
    """avrdude and a Device on the board's own pty, from this process."""
    from tinylab import flash
    from tinylab.device import Device

    rows = []
    for run in range(runs):
        uploaded = flash.upload(model["firmware"], board.port, "uno", tool="avrdude")
        tick = time.perf_counter()
        with Device(board.port, expect_model=model["mlp"].model_hash) as device:
            open_s = time.perf_counter() - tick
            scores, seconds = [], []
            for x in model["x_int8"]:
                tick = time.perf_counter()
                scores.append(device.infer(x)[1].tolist())
                seconds.append(time.perf_counter() - tick)
            banner_model = device.banner["model"]
        flash.upload(model["other_firmware"], board.port, "uno", tool="avrdude")
        rows.append({"upload_s": uploaded["seconds"], "bytes_written": uploaded["bytes_written"],
                     "open_s": open_s, "banner_model": banner_model, "scores": scores,
                     "seconds": seconds})
        _log(f"  local run {run + 1}: upload {uploaded['seconds']:.2f} s "
             f"({uploaded['bytes_written']} bytes), open {open_s:.2f} s, per digit "
             f"{1000 * np.median(seconds):.1f} ms")
    return _summary(rows, model)


# --------------------------------------------------------------------------- through the page

def _visit(url: str, relay_url: str, runs: int) -> dict:
    """In Chromium: open the app, connect the board, click Measure, wait for the result."""
    from playwright.sync_api import sync_playwright

    from _browser import connect_board, launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            console = []
            page = connect_board(browser, url, relay_url, console, page_ms=PAGE_MS,
                                 connect_ms=CONNECT_MS)
            page.locator(".tl-run button, button.tl-run").first.click()
            page.wait_for_function(
                "() => { const t = document.querySelector('.tl-result textarea');"
                " return t && t.value.length > 0; }", timeout=RUN_MS * runs, polling=250)
            outcome = json.loads(page.locator(".tl-result textarea").input_value())
            outcome["chromium"] = browser.version
            outcome["console"] = console[-20:]
            return outcome
        finally:
            browser.close()


def measure_web(board, model: dict, runs: int) -> dict:
    """The same board behind the relay; the Voila kernel uploads and runs through the page."""
    import functools

    from _browser import voila_visit

    with tempfile.TemporaryDirectory(prefix="tinylab-bench-weblink-") as folder:
        firmware_path = Path(folder) / "firmware.pickle"
        firmware_path.write_bytes(pickle.dumps((model["firmware"], model["other_firmware"])))
        source = APP_SOURCE.format(x_json=json.dumps(model["x_int8"].tolist()),
                                   firmware_path=str(firmware_path), runs=runs,
                                   model_hash=model["mlp"].model_hash)
        outcome = voila_visit(Path(folder), source, functools.partial(_visit, runs=runs),
                              board.port, timeout_s=(PAGE_MS + CONNECT_MS + RUN_MS * runs)
                              / 1000 + 60)
    if "error" in outcome or len(outcome.get("runs", [])) != runs:
        raise RuntimeError(f"the run through the page failed: {outcome.get('error')}; relay: "
                           f"{outcome.get('relay_errors')}; console: {outcome.get('console')}")
    rows = []
    for run, measured in enumerate(outcome["runs"]):
        uploaded = measured["uploaded"]
        page_s = uploaded["output"].rsplit(" in ", 1)[-1].split(" s,")[0]
        rows.append({"upload_s": uploaded["seconds"], "bytes_written": uploaded["bytes_written"],
                     "page_upload_s": float(page_s), "session_s": measured["session_s"],
                     "open_s": measured["open_s"], "banner_model": measured["banner_model"],
                     "scores": measured["scores"], "seconds": measured["seconds"],
                     "bytes_out": measured["bytes_out"], "bytes_in": measured["bytes_in"],
                     "messages_in": measured["messages_in"], "tool": uploaded["tool"]})
        _log(f"  web run {run + 1}: upload {uploaded['seconds']:.2f} s in the kernel "
             f"({uploaded['output']}), open {measured['open_s']:.2f} s, per digit "
             f"{1000 * np.median(measured['seconds']):.1f} ms")
    summary = _summary(rows, model)
    n = len(model["x_int8"])
    summary["page_upload_s"] = _spread([r["page_upload_s"] for r in rows])
    summary["session_s"] = _spread([r["session_s"] for r in rows])
    summary["per_digit"] = {key: sum(r[key] for r in rows) / (n * runs)
                            for key in ("bytes_out", "bytes_in", "messages_in")}
    summary["per_digit"]["bytes_out_paced"] = float(np.mean(exchanges(model["x_int8"])
                                                          ["line_bytes"]))
    summary["chromium"] = outcome["chromium"]
    summary["relay_bytes"] = outcome["relay_bytes"]
    return summary


def _summary(rows: list, model: dict) -> dict:
    expected = model["mlp"].model_hash
    wrong = [r["banner_model"] for r in rows if r["banner_model"] != expected]
    if wrong:
        raise RuntimeError(f"after an upload the board greeted with {wrong}, not {expected}")
    return {"upload_s": _spread([r["upload_s"] for r in rows]),
            "bytes_written": sorted({r["bytes_written"] for r in rows}),
            "open_s": _spread([r["open_s"] for r in rows]),
            "digit_ms": _digit_ms([s for r in rows for s in r["seconds"]]),
            "bit_exact": _bit_exact([r["scores"] for r in rows], model["host"]),
            "answers": sum(len(r["scores"]) for r in rows),
            "runs": [{k: v for k, v in r.items() if k != "scores"} for r in rows]}


def run(runs: int = RUNS, n_digits: int = DIGITS) -> dict:
    from tinylab import virtual

    check_tools()
    _log("building the student's firmwares")
    model = firmwares(n_digits)
    paced = exchanges(model["x_int8"])
    load_before = os.getloadavg()[0]
    with virtual.VirtualUno(model["other_firmware"], bootloader=True) as board:
        _log(f"local port {board.port}")
        local = measure_local(board, model, runs)
        _log("through the browser (Voila, Chromium, the stand-in relay)")
        web = measure_web(board, model, runs)
    for name, route in (("local", local), ("web", web)):
        if route["bit_exact"] != route["answers"]:
            raise RuntimeError(f"{name}: {route['bit_exact']} of {route['answers']} answers "
                               f"bit-exact with tl.engine.run_int8")
    firmware = model["firmware"]
    return {"settings": {"runs": runs, "digits": n_digits, "seed": SEED, "baudrate": BAUDRATE},
            "model": {"label": "64-32-10, int8 per channel",
                      "model_hash": model["mlp"].model_hash,
                      "other_model_hash": model["other"].model_hash,
                      "flash_bytes": firmware.flash_bytes, "data_bytes": model["data_bytes"],
                      "hex_chars": model["hex_chars"]},
            "exchanges": {k: v for k, v in paced.items() if k != "chunks"},
            "local": local, "web": web,
            "load_average": {"before": load_before, "after": os.getloadavg()[0]}}


# --------------------------------------------------------------------------- docs

def _range(spread: dict, digits: int = 2) -> str:
    return (f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}-"
            f"{spread['max']:.{digits}f})")


def write_docs(result: dict, target: Path) -> None:
    machine, settings, model = result["machine"], result["settings"], result["model"]
    local, web, paced = result["local"], result["web"], result["exchanges"]
    runs, n = settings["runs"], settings["digits"]
    pages = web["bytes_written"][0] // 128

    def row(route: str, measured: dict, written: str) -> list:
        return [route, _range(measured["upload_s"]), written, _range(measured["open_s"]),
                f"{measured['digit_ms']['median']:.1f} / {measured['digit_ms']['p90']:.1f}",
                f"{measured['bit_exact']}/{measured['answers']}"]

    rows = [row("local pty: avrdude; `Device(board.port)`", local,
                f"{local['bytes_written'][0]:,} (avrdude's count: the .hex's bytes)"),
            row("browser link: `BoardSession(..., port=link.port, upload=\"always\")` in a "
                "Voila kernel, `_stk500.js` in the page; `Device(link.port)`", web,
                f"{web['bytes_written'][0]:,} ({pages} whole pages of 128)")]
    per_digit = web["per_digit"]
    chunks = (f"{paced['min']}" if paced["min"] == paced["max"]
              else f"{paced['min']}-{paced['max']}")
    extra_ms = web["digit_ms"]["median"] - local["digit_ms"]["median"]
    body = (
        f"{measured_on(machine)}. The lesson student ({model['label']}, model "
        f"`{model['model_hash']}`, firmware {model['flash_bytes']:,} bytes of flash), uploaded "
        f"to and run on **one virtual Uno** (simavr's ATmega328P paced to real time, in "
        f"bootloader mode: the Uno's own Optiboot), first from the benchmark's process on the "
        f"board's pty, then through the browser board link (issue 20): Debian's Chromium "
        f"{web['chromium']} headless (Playwright) on a Voila app (`tinylab.app.serve`) whose "
        f"button callback does the work in the kernel. No board is plugged into a browser "
        f"here, so the page's `navigator.serial` is the browser tests' stand-in "
        f"(tests/fakes/web_serial.js) relayed over a WebSocket **on loopback** to the pty "
        f"(tests/fakes/serial_relay.py): kernel, Jupyter server, page, relay and board share "
        f"this machine, with no network between them. {runs} runs per route; before each "
        f"upload the board held another sketch (the student converted per layer, model "
        f"`{model['other_model_hash']}`), so each upload is checked by the banner's model hash "
        f"and by the answers, each compared with `tl.engine.run_int8` byte for byte. **Upload** "
        f"seconds are `tl.flash.upload`'s own, in the process that calls it (the benchmark's "
        f"for avrdude, the Voila kernel's for the link; the page's own count of its STK500 run: "
        f"{_range(web['page_upload_s'])} s). **Per digit**: `Device.infer(x)` timed alone, "
        f"on each of {n} test digits after each upload ({local['digit_ms']['n']} round trips "
        f"per route). Load average (1 min) {result['load_average']['before']:.1f} before, "
        f"{result['load_average']['after']:.1f} after.\n\n"
        + markdown_table(["route", f"upload, median (min-max) of {runs} (s)",
                          "flash written (bytes)", "open to banner (s)",
                          "per digit, median / p90 (ms)", "bit-exact"], rows)
        + f"\n\n**What a digit costs on the link.** Its line (\"I\" and 64 int8 values, "
          f"{min(paced['line_bytes'])}-{max(paced['line_bytes'])} bytes for these digits) goes "
          f"in {paced['chunk_bytes']}-byte chunks (`tl.device.ACK_EVERY_BYTES`), each but the "
          f"last waiting for the board's \".\", the last for its answer: **{chunks} exchanges "
          f"per digit** between kernel and page. Through the link a digit sent "
          f"{per_digit['bytes_out']:.0f} bytes to the page in {chunks} messages (one a chunk) "
          f"and got {per_digit['bytes_in']:.0f} bytes back in {per_digit['messages_in']:.1f} "
          f"messages (the page's, handled by the kernel while it waited). On loopback the link "
          f"added {extra_ms:.1f} ms a digit to the local port's median, "
          f"~{extra_ms / paced['max']:.1f} ms an exchange (kernel, Jupyter server, Chromium, "
          f"relay and back). A real network adds its round-trip time (RTT) to each exchange: "
          f"~{chunks} RTT per digit (at a 30 ms RTT, ~{30 * paced['max']} ms more a digit, "
          f"~{30 * paced['max'] * n / 1000:.0f} s for {n} digits). An upload pays far less of "
          f"it: the page runs the STK500 exchanges against its own port, so the network carries "
          f"the .hex ({model['hex_chars']:,} characters) to the page once and the result back "
          f"(progress messages are not waited for): about one RTT plus that transfer.\n\n"
          f"Command: `tinylab bench weblink --json --write`.")
    write_section("weblink", body, target, title="The browser board link (issue 20)")


def main(argv=None) -> int:
    parser = arguments(__doc__, "weblink")
    parser.add_argument("--runs", type=int, default=RUNS,
                        help=f"uploads (and digit rounds) per route (default {RUNS})")
    parser.add_argument("--digits", type=int, default=DIGITS,
                        help=f"test digits per round (default {DIGITS}, the lessons' count)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.digits < 1:
        parser.error(f"--runs and --digits must be >= 1, got {args.runs} and {args.digits}")
    start = time.perf_counter()
    result = {"benchmark": "weblink", "machine": current_machine(),
              **run(args.runs, args.digits)}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return report(result, args.write, write_docs)


if __name__ == "__main__":
    sys.exit(main())
