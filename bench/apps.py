"""Benchmark: the Voila apps as a visitor meets them: first render, slider latency, kernel memory.

Voila is started as ``tinylab app`` starts it (``tinylab.app.serve``), with an empty
workspace, and Debian's Chromium (headless, driven by Playwright) opens each app in
``notebooks/apps/`` twice:

- **cold**: the first visit after the server started, with an empty workspace (models are
  trained or built as the app needs them; the virtual Uno's harness cache is left as it is);
- **warm**: a second visit (Voila gives every visit a fresh kernel; the workspace is filled).

Per visit: seconds from the request to the first interactive render (the app's first widget
visible, "Loading widget..." gone), and for the draw app also to the board saying "ready"
and from a stroke to the board's prediction. In the compression explorer, the latency from a
keyboard move of the bit-width slider to the redrawn summary and figure, median and p90 over
``--moves`` moves (goal: under 250 ms). Peak resident memory of the app's kernel process (a
child of the Voila server) is its ``VmHWM`` in /proc, read before the page closes (goal: under
1.5 GB; Binder gives 2 GB).

    tinylab bench apps [--json] [--write] [--moves 20]

``--write`` refuses to write unless both apps exist and were measured.

With ``--visitors N``, instead: N emulated visitors of one app (``--app``, default
draw_digit) arriving at once on a server as ``tinylab app`` starts it, with the server's
memory and CPU; see ``bench/_room.py``:

    tinylab bench apps --visitors 30 [--app draw_digit] [--write] [--stagger 0] [--pool N]
        [--boards 2] [--idle 20] [--think 1] [--timeout 180] [--assets browser|page]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, arguments, markdown_table, report, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

from tinylab import app  # noqa: E402

APPS = ROOT / "notebooks" / "apps"
EXPLORER = "compression_explorer.ipynb"
DRAW = "draw_digit.ipynb"
FIRST_WIDGET = {EXPLORER: ".tl-bits .noUi-handle", DRAW: app.CANVAS_SELECTOR}
PAGE_MS, READY_MS, ANSWER_MS = 300_000, 300_000, 60_000
GOAL_LATENCY_MS, GOAL_KERNEL_MB = 250, 1536

SIGNATURE_JS = app.SHOWN_SIGNATURE_JS
CHANGED_JS = (f"([a, oldA, b, oldB]) => ({SIGNATURE_JS})(a) !== oldA"
              f" && ({SIGNATURE_JS})(b) !== oldB")


def _kernels(server) -> dict:
    """The server's kernel processes by pid (psutil)."""
    import psutil

    found = {}
    for process in server.descendants():
        try:
            if "ipykernel" in " ".join(process.cmdline()):
                found[process.pid] = process
        except psutil.Error:  # ended meanwhile
            continue
    return found


def _peak_mb(processes) -> float | None:
    """Largest VmHWM (peak resident memory the kernel recorded) among ``processes``, MiB."""
    peaks = []
    for process in processes:
        try:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:  # ended meanwhile
            continue
    return max(peaks) if peaks else None


def _wait_gone(processes, timeout_s: float = 30) -> None:
    """Wait (bounded) until a visit's kernels are shut down, so the next visit runs alone."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(p.is_running() for p in processes):
        time.sleep(0.5)


def _slider_latencies(page, moves: int) -> list:
    handle = page.locator(".tl-bits .noUi-handle").first
    handle.focus()
    key = "ArrowLeft" if (handle.get_attribute("aria-valuenow")
                          == handle.get_attribute("aria-valuemax")) else "ArrowRight"
    latencies = []
    for _ in range(moves):
        summary = page.evaluate(SIGNATURE_JS, ".tl-summary")
        figure = page.evaluate(SIGNATURE_JS, ".tl-figure")
        start = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(CHANGED_JS, arg=[".tl-summary", summary, ".tl-figure", figure],
                               polling="raf", timeout=ANSWER_MS)
        latencies.append((time.perf_counter() - start) * 1000)
        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        low = handle.get_attribute("aria-valuemin")
        if now in (top, low):  # bounce between the ends of the slider
            key = "ArrowLeft" if now == top else "ArrowRight"
    return latencies


def _draw_prediction_s(page) -> float:
    before = page.locator(".tl-board-prediction").first.inner_text()
    answered = ("([old]) => { const p = document.querySelector('.tl-board-prediction');"
                " return p && p.innerText !== old && /board/i.test(p.innerText)"
                " && /[0-9]/.test(p.innerText); }")
    start = time.perf_counter()
    app.draw_stroke(page)  # the app sends the drawing when the pen lifts
    page.wait_for_function(answered, arg=[before], timeout=ANSWER_MS)
    return time.perf_counter() - start


def visit(browser, server, name: str, moves: int) -> dict:
    """One visit of one app: render time, the app's own measurements, kernel peak memory."""
    before = set(_kernels(server))
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    mine = []
    try:
        start = time.perf_counter()
        page.goto(server.url + f"/voila/render/{name}", wait_until="commit", timeout=PAGE_MS)
        page.locator(FIRST_WIDGET[name]).first.wait_for(state="visible", timeout=PAGE_MS)
        page.wait_for_function("() => !document.body.innerText.includes('Loading widget')",
                               timeout=ANSWER_MS)
        row = {"render_s": time.perf_counter() - start}
        mine = [p for pid, p in _kernels(server).items() if pid not in before]
        if name == DRAW:
            page.wait_for_function(
                "() => { const s = document.querySelector('.tl-board-status');"
                " return s && /ready/i.test(s.innerText); }", timeout=READY_MS)
            row["ready_s"] = time.perf_counter() - start
            row["prediction_s"] = _draw_prediction_s(page)
        if name == EXPLORER and moves:
            row["latencies_ms"] = _slider_latencies(page, moves)
        row["kernel_peak_mb"] = _peak_mb(mine)
        return row
    finally:
        # Voila shuts the kernel down from the page's unload handler.
        page.close(run_before_unload=True)
        _wait_gone(mine)
        context.close()


def measure(moves: int = 20) -> dict:
    from playwright.sync_api import sync_playwright

    executable = app.chromium_executable()
    if executable is None:
        raise SystemExit("Chromium is missing: sudo apt-get install -y chromium")
    present = [name for name in (EXPLORER, DRAW) if (APPS / name).is_file()]
    rows = []
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    with tempfile.TemporaryDirectory(prefix="tinylab-bench-apps-") as workspace, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=app.CHROMIUM_ARGS)
        with app.serve(APPS, env={"TINYLAB_WORKSPACE": workspace, "MPLBACKEND": "Agg"}) as server:
            for name in present:
                cold = visit(browser, server, name, moves=0)
                warm = visit(browser, server, name, moves=moves)
                row = {"app": name, "cold": cold, "warm": warm,
                       "kernel_peak_mb": max(v for v in (cold["kernel_peak_mb"],
                                                         warm["kernel_peak_mb"]) if v)}
                latencies = warm.pop("latencies_ms", None)
                if latencies:
                    ordered = sorted(latencies)
                    row["slider_latency_ms"] = {
                        "moves": len(latencies), "median": statistics.median(latencies),
                        "p90": ordered[min(len(ordered) - 1, int(round(0.9 * len(ordered))) - 1)],
                        "max": ordered[-1], "samples": latencies}
                rows.append(row)
        browser.close()
    return {"benchmark": "apps", "machine": current_machine(), "apps": rows,
            "missing": [name for name in (EXPLORER, DRAW) if name not in present],
            "goals": {"slider_latency_ms": GOAL_LATENCY_MS, "kernel_peak_mb": GOAL_KERNEL_MB},
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
            "chromium": executable}


def write_docs(result: dict, target: Path) -> None:
    if result["missing"]:
        raise SystemExit(f"not writing {target}: apps missing: {result['missing']}")
    machine = result["machine"]
    rows = []
    for r in result["apps"]:
        cold, warm = r["cold"], r["warm"]
        ready = (f"{cold['ready_s']:.1f} / {warm['ready_s']:.1f}" if "ready_s" in cold else "-")
        predict = (f"{warm['prediction_s']:.2f}" if "prediction_s" in warm else "-")
        latency = r.get("slider_latency_ms")
        slider = (f"{latency['median']:.0f} / {latency['p90']:.0f}" if latency else "-")
        rows.append([r["app"].removesuffix(".ipynb"),
                     f"{cold['render_s']:.1f} / {warm['render_s']:.1f}", ready, predict, slider,
                     f"{r['kernel_peak_mb']:.0f}"])
    body = (
        f"{measured_on(machine)}: "
        f"Voila as `tinylab app` starts it, Debian's Chromium headless (Playwright); cold = "
        f"first visit with an empty workspace, warm = second visit (a fresh kernel, the "
        f"workspace filled). Goals: a slider move redrawn in under {GOAL_LATENCY_MS} ms, an app "
        f"kernel under {GOAL_KERNEL_MB / 1024:.1f} GB (Binder gives 2 GB). Load average "
        f"(1 min) {result['load_average_1min']['before']:.1f} before, "
        f"{result['load_average_1min']['after']:.1f} after.\n\n"
        + markdown_table(["app", "first interactive render, cold / warm (s)",
                          "board ready, cold / warm (s)", "stroke -> board prediction (s)",
                          "slider -> figure, median / p90 (ms)", "kernel peak RSS (MB)"], rows)
        + "\n\nCommand: `tinylab bench apps --json --write`.")
    write_section("apps", body, target, title="Voila apps")


def main(argv=None) -> int:
    parser = arguments(__doc__, "apps")
    parser.add_argument("--moves", type=int, default=20,
                        help="slider moves timed in the explorer (default 20)")
    room = parser.add_argument_group("a room of emulated visitors (bench/_room.py)")
    room.add_argument("--visitors", type=int, help="N visitors of one app at once, emulated")
    room.add_argument("--app", default="draw_digit",
                      help="with --visitors: the app (draw_digit or compression_explorer)")
    room.add_argument("--stagger", type=float, default=0.0,
                      help="seconds between arrivals (default 0: all at once)")
    room.add_argument("--pool", type=int, help="preheated kernels for the app (default N)")
    room.add_argument("--boards", type=int, default=app.DEFAULT_BOARDS,
                      help=f"shared virtual Unos (default {app.DEFAULT_BOARDS}; 0: one per kernel)")
    room.add_argument("--idle", type=float, default=20.0, help="seconds measured idle first")
    room.add_argument("--think", type=float, default=1.0,
                      help="seconds a visitor looks at the page before acting")
    room.add_argument("--timeout", type=float, default=180.0, help="bound of each visit, s")
    room.add_argument("--assets", choices=["browser", "page"], default="browser",
                      help="static files per visitor: Chromium's list, or the page's own")
    args = parser.parse_args(argv)
    if args.visitors is not None:
        return _room_main(args)
    return report(measure(moves=args.moves), args.write, write_docs)


def _room_main(args) -> int:
    import _room

    if args.visitors < 1:
        raise SystemExit(f"--visitors must be 1 or more, got {args.visitors}")
    name = args.app if args.app.endswith(".ipynb") else f"{args.app}.ipynb"
    result = _room.measure(name, args.visitors, pool=args.pool, boards=args.boards,
                           stagger_s=args.stagger, idle_s=args.idle, timeout_s=args.timeout,
                           think_s=args.think, assets=args.assets)
    result["machine"] = current_machine()
    return report(result, args.write, _room.write_docs)


if __name__ == "__main__":
    sys.exit(main())
