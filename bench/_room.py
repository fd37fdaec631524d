"""A room of visitors on the Voila apps: ``tinylab bench apps --visitors N [--app NAME]``.

What a lecture does to ``tinylab app`` (issue 18): the teacher starts the server, N students
open the same link at once, each draws a digit (or moves the compression explorer's
bit-width slider) and leaves. Browsers are too heavy to run N of them beside the server on a
2-core machine, so the visitors are emulated as Voila's own front end talks to the server
(:mod:`tinylab.visitors`: the page, its static files, the kernel websocket, the real widgets
in the real kernels).

1. A fresh workspace gets the draw-a-digit app's model (copied from the checkout's
   ``workspace/`` when it has one; ``app.serve`` makes or checks it before Voila starts).
2. With ``--assets browser`` (the default when Chromium is installed), Chromium opens the app
   once on a server of its own and the static files it loads are listed: every emulated
   visitor fetches them too, as a student's browser does on a first visit (``--assets
   page``: only the files the page names, about 0.7 MB instead of 5).
3. The server starts as ``tinylab app`` starts it (``app.serve``: preheated kernels, ``--pool``
   for the measured app, default N; ``--boards`` shared virtual Unos), and the benchmark
   waits for the pools and then for the kernels to go quiet.
4. ``--idle`` seconds (default 20) of the idle server are measured, then N visitors arrive
   (all at once, or ``--stagger`` seconds apart) and their numbers are taken: first render,
   stroke-to-answer or slider latency (median, p90, max), errors in words, bit-exact answers.
5. Meanwhile, every second: the PSS of the server's process tree (Voila, its kernels, the
   board server and its virtual Unos: psutil ``memory_full_info().pss``), the machine's
   MemTotal - MemAvailable, the CPU the tree used (cores busy, and Voila's own process: its
   event loop is single-threaded), and how many kernels and simavr processes run.

The goals (issue 18) are printed beside the results; ``--write`` rewrites the section of
docs/benchmarks.md for this app and N, so that N = 1, 10 and 30 each keep their own.
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from _report import ROOT, markdown_table, measured_on, write_section
from tinylab import app, visitors
from tinylab.deep_compressed import NAME as DRAW_MODEL

APPS = ROOT / "notebooks" / "apps"
DRAW, EXPLORER = "draw_digit.ipynb", "compression_explorer.ipynb"
GOALS = {
    DRAW: {"first_render_p90_s": 10.0, "first_render_one_visitor_s": 3.0, "answer_p90_s": 2.0},
    EXPLORER: {"first_render_p90_s": 5.0},
    "server_memory_mb": 8192, "errors": 0,
}
SAMPLE_EVERY_S = 1.0   # PSS of ~40 processes costs ~40 ms: 4% of a core at this rate
# The server is quiet (a preheated kernel's notebook has run) when Voila and its kernels use
# less than this many cores over SETTLED_WINDOW_S. The virtual Unos are left out: an idle one
# keeps about 0.1 core busy (simavr paced to real time), measured here.
SETTLED_CORES = 0.15
SETTLED_WINDOW_S = 3.0


# --- the server's processes ------------------------------------------------------------------

def server_processes(server) -> list:
    """Voila, everything below it (kernels, their boards), the board server and its boards."""
    roots = [server.process.pid]
    board_process = getattr(getattr(server, "boards", None), "process", None)
    if board_process is not None:
        roots.append(board_process.pid)
    found = []
    for pid in roots:
        try:
            root = psutil.Process(pid)
            found += [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
    return found


def _kind(process) -> str:
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "gone"
    if "ipykernel" in command:
        return "kernel"
    if "simavr" in command or "tinylab-harness" in command:
        return "simavr"
    return "other"


def board_pools(server) -> list | str | None:
    """The board server's pools (firmware, boards running, started, retired), or why not."""
    boards = getattr(server, "boards", None)
    if boards is None:
        return None
    from tinylab import board_server

    try:
        status = board_server.request({"op": "status"}, socket=boards.env[board_server.ENV])
    except Exception as error:  # the status is a diagnosis: its absence must not end the run
        return f"{type(error).__name__}: {error}"
    keep = ("firmware", "port", "capacity", "running", "busy", "started", "retired", "most_busy")
    return [{k: pool.get(k) for k in keep} for pool in status.get("pools", [])]


def kernel_ids_running(server) -> set:
    """Ids of the kernels running (from their connection files' names)."""
    import re

    ids = set()
    for process in server_processes(server):
        try:
            found = re.search(r"kernel-([0-9a-f-]{36})\.json", " ".join(process.cmdline()))
        except psutil.Error:
            continue
        if found:
            ids.add(found.group(1))
    return ids


class Sampler(threading.Thread):
    """Every ``interval_s``: the tree's PSS, the machine's used memory, the tree's CPU."""

    def __init__(self, server, interval_s: float = SAMPLE_EVERY_S):
        super().__init__(daemon=True)
        self.server, self.interval_s = server, interval_s
        self.samples = []
        self._halt = threading.Event()
        self._cpu = {}  # pid -> (create_time, cpu seconds at the last sample)
        self._last = None

    def sample(self) -> dict:
        now, wall = time.monotonic(), time.time()
        processes = server_processes(self.server)
        pss = 0.0
        cpu = {"all": 0.0, "voila": 0.0, "kernel": 0.0, "simavr": 0.0}
        counts = {"kernel": 0, "simavr": 0}
        for process in processes:
            try:
                pss += process.memory_full_info().pss
                times = process.cpu_times()
                created = process.create_time()
            except psutil.Error:  # ended meanwhile
                continue
            used = times.user + times.system
            kind = _kind(process)
            if kind in counts:
                counts[kind] += 1
            known = self._cpu.get(process.pid)
            if known and known[0] == created:
                delta = used - known[1]
            elif self._last is not None and created >= self._last[1] - 0.05:
                delta = used  # started since the last listing: all its CPU is new
            else:
                delta = 0.0   # first sight of an old process: a baseline
            self._cpu[process.pid] = (created, used)
            cpu["all"] += max(delta, 0.0)
            if process.pid == self.server.process.pid:
                cpu["voila"] += max(delta, 0.0)
            elif kind in cpu:
                cpu[kind] += max(delta, 0.0)
        memory = psutil.virtual_memory()
        record = {"t": now, "pss_mb": pss / 2**20,
                  "system_used_mb": (memory.total - memory.available) / 2**20,
                  "kernels": counts["kernel"], "simavr": counts["simavr"]}
        end = time.monotonic()  # reading ~60 processes on a saturated machine takes a while
        elapsed = end - self._last[2] if self._last is not None else 0.0
        if elapsed > 0:
            record["elapsed_s"] = elapsed
            for kind in ("all", "voila", "kernel", "simavr"):
                record[f"{kind}_cpu_s"] = cpu[kind]
            record["cores"] = cpu["all"] / elapsed
        self._last = (now, wall, end)
        self.samples.append(record)
        return record

    def run(self) -> None:
        while not self._halt.wait(self.interval_s):
            try:
                self.sample()
            except Exception as error:  # a sampling failure must not end the benchmark
                self.samples.append({"t": time.monotonic(), "error": repr(error)})

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def between(self, start: float, end: float) -> list:
        return [s for s in self.samples if start <= s["t"] <= end and "error" not in s]


def _cores(samples: list, kind: str = "all") -> float | None:
    """Cores busy over ``samples``: CPU seconds used / seconds elapsed (time-weighted)."""
    timed = [s for s in samples if "elapsed_s" in s]
    elapsed = sum(s["elapsed_s"] for s in timed)
    return sum(s[f"{kind}_cpu_s"] for s in timed) / elapsed if elapsed > 0 else None


def _peak_cores(samples: list, window_s: float = 5.0) -> float | None:
    """The busiest ``window_s`` (or longer, between samples) of ``samples``, in cores."""
    timed = [s for s in samples if "elapsed_s" in s]
    peaks = []
    for start in range(len(timed)):
        stop = start
        while stop < len(timed) and sum(s["elapsed_s"] for s in timed[start:stop + 1]) < window_s:
            stop += 1
        if stop < len(timed):
            peaks.append(_cores(timed[start:stop + 1]))
    return max(peaks) if peaks else _cores(timed)


def _figures(samples: list) -> dict:
    """Peak and mean of a stretch of samples."""
    if not samples:
        return {}
    return {"pss_mb_peak": max(s["pss_mb"] for s in samples),
            "pss_mb_mean": sum(s["pss_mb"] for s in samples) / len(samples),
            "system_used_mb_peak": max(s["system_used_mb"] for s in samples),
            "cores_mean": _cores(samples), "cores_peak_5s": _peak_cores(samples),
            "voila_cores_mean": _cores(samples, "voila"),
            "kernel_cores_mean": _cores(samples, "kernel"),
            "simavr_cores_mean": _cores(samples, "simavr"),
            "kernels_peak": max(s["kernels"] for s in samples),
            "simavr_peak": max(s["simavr"] for s in samples),
            "samples": len(samples)}


def wait_settled(sampler: Sampler, timeout_s: float) -> float:
    """Wait until the tree has used less than SETTLED_CORES for SETTLED_WINDOW_S; seconds.

    Voila's "pool is filled" comes when the pool's kernels have started, before their
    notebooks have run; a quiet tree is the sign that they have.
    """
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        time.sleep(sampler.interval_s)
        recent = sampler.between(time.monotonic() - SETTLED_WINDOW_S, time.monotonic())
        cores = [(s["voila_cpu_s"] + s["kernel_cpu_s"]) / s["elapsed_s"] for s in recent
                 if "elapsed_s" in s]
        if len(cores) >= SETTLED_WINDOW_S / sampler.interval_s - 1 and max(cores) < SETTLED_CORES:
            return time.monotonic() - started
    raise RuntimeError(f"Voila and its kernels did not go quiet (under {SETTLED_CORES} cores for "
                       f"{SETTLED_WINDOW_S:g} s) within {timeout_s:.0f} s after the pools were "
                       f"filled")


# --- the run ---------------------------------------------------------------------------------

def seed_workspace(folder: Path) -> Path:
    """A fresh workspace with the draw-a-digit app's model copied from the checkout's
    ``workspace/`` when it has one (``app.serve`` checks it, or makes it when absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (ROOT / "workspace").glob(f"{DRAW_MODEL}*"):
        if source.is_file():
            shutil.copy2(source, folder / source.name)
    return folder


def record_assets(name: str, env: dict, timeout_s: float = 300) -> list:
    """The static files Chromium loads for app ``name``, on a server of its own (pool 0)."""
    with app.serve(APPS, env=env, pool=0, boards=0) as server:
        return visitors.browser_assets(server.url, name, timeout_s=timeout_s)


def measure(name: str = DRAW, n: int = 30, *, pool: int | None = None, boards: int = 2,
            stagger_s: float = 0.0, idle_s: float = 20.0, timeout_s: float = 180.0,
            think_s: float = 1.0, assets: str = "browser", preheat_timeout_s: float = 900.0
            ) -> dict:
    """N emulated visitors of app ``name`` on a fresh server; the JSON result (module doc)."""
    if not (APPS / name).is_file():
        raise SystemExit(f"no app {name} in {APPS}: choose one of {app.list_apps(APPS)}")
    pool = n if pool is None else pool
    with tempfile.TemporaryDirectory(prefix="tinylab-bench-room-") as scratch:
        env = {"TINYLAB_WORKSPACE": str(seed_workspace(Path(scratch) / "workspace")),
               "MPLBACKEND": "Agg"}
        asset_paths, asset_note = [], "the files the page names"
        if assets == "browser":
            if app.chromium_executable() is None:
                asset_note += " (Chromium is not installed: no browser's list)"
            else:
                asset_paths = record_assets(name, env)
                asset_note = f"the {len(asset_paths)} static files Chromium loaded"
        with app.serve(APPS, env=env, pool={name: pool}, boards=boards,
                       log_path=Path(scratch) / "voila.log") as server:
            sampler = Sampler(server)
            sampler.sample()
            sampler.start()
            try:
                preheat_s = server.wait_preheated(preheat_timeout_s)
                settle_s = wait_settled(sampler, preheat_timeout_s)
                idle_start = time.monotonic()
                time.sleep(idle_s)
                idle = _figures(sampler.between(idle_start, time.monotonic()))
                boards_idle = board_pools(server)
                load_start, own_start = time.monotonic(), os.times()
                results = visitors.run_visitors(server.url, name, n, stagger_s=stagger_s,
                                                timeout_s=timeout_s, think_s=think_s,
                                                assets=asset_paths)
                load_end, own_end = time.monotonic(), os.times()
                load = _figures(sampler.between(load_start, load_end))
                # The emulated visitors run on the server's machine (a room's browsers do not):
                # their own CPU, which the server did not have.
                load["visitors_cores_mean"] = (
                    (own_end.user - own_start.user) + (own_end.system - own_start.system)
                    ) / max(load_end - load_start, 1e-9)
                theirs = {r.kernel_id for r in results if r.kernel_id}
                deadline = time.monotonic() + 30
                while theirs & kernel_ids_running(server) and time.monotonic() < deadline:
                    time.sleep(0.5)
                left_running = len(theirs & kernel_ids_running(server))
                after = sampler.sample()
                boards_after = board_pools(server)
            finally:
                sampler.stop()
            log = server.log()
    summary = visitors.summarize(results)
    result = {
        "benchmark": "apps-room", "app": name, "visitors": n, "stagger_s": stagger_s,
        "think_s": think_s, "server": {"pool": pool, "boards": boards,
                                       "preheated_s": preheat_s, "settled_s": settle_s},
        "assets": {"mode": assets, "about": asset_note,
                   "bytes_per_visitor": max((r.assets_bytes for r in results), default=0)},
        **{k: summary[k] for k in ("page_s", "assets_s", "kernel_s", "first_render_s",
                                   "asking_s", "answer_s", "slider_s")
           if k in summary},
        "errors": summary["errors"], "visitors_ok": summary["ok"],
        "fallbacks": summary["fallbacks"], "left": summary["left"],
        "answers": summary.get("answers"), "bit_exact": summary.get("bit_exact"),
        "classes_drawn": summary.get("classes"),
        "idle": idle, "load": load, "load_seconds": load_end - load_start,
        "memory_rise_mb": {
            "pss": (load.get("pss_mb_peak", 0) - idle.get("pss_mb_mean", 0)) if load else None,
            "system": (load.get("system_used_mb_peak", 0) - idle.get("system_used_mb_peak", 0))
            if load else None},
        "after": {"kernels": after["kernels"], "simavr": after["simavr"],
                  "visitor_kernels_still_running": left_running},
        "board_server": {"idle": boards_idle, "after": boards_after},
        "goals": goals_for(name, n),
        "series": [{k: round(v - load_start if k == "t" else v, 3) for k, v in sample.items()}
                   for sample in sampler.between(load_start - 5, load_end + 5)],
        "results": [r.to_dict() for r in results],
    }
    result["verdict"] = verdict(result)
    result["voila_log"] = log_counts(log)
    if summary["errors"]["count"]:
        result["voila_log_end"] = log[-3000:]
    return result


def log_counts(log: str) -> dict:
    """What Voila's log says about kernels: started, shut down, died or restarted; refused
    requests by status."""
    import re

    return {"kernels_started": log.count("Kernel started:"),
            "kernels_shut_down": log.count("Kernel shutdown:"),
            "kernels_died_or_restarted": len(re.findall(r"(?i)kernel \S+ (?:died|restarted)|"
                                                        r"KernelRestarter", log)),
            "refused": dict(collections.Counter(re.findall(
                r"^([45]\d\d) (?:GET|POST) \S+ \([^)]*\) [\d.]+ms$", log, flags=re.M)))}


def goals_for(name: str, n: int) -> dict:
    goals = dict(GOALS.get(name, {}))
    if name == DRAW and n == 1:
        goals["first_render_p90_s"] = goals["first_render_one_visitor_s"]
    goals.pop("first_render_one_visitor_s", None)
    return {**goals, "server_memory_mb": GOALS["server_memory_mb"], "errors": GOALS["errors"]}


def verdict(result: dict) -> dict:
    """Each goal met (True), missed (False) or not measured (None)."""
    goals = result["goals"]

    def at_most(value, limit):
        return None if value is None else value <= limit

    first = result.get("first_render_s") or {}
    answer = result.get("answer_s") or {}
    found = {"first_render_p90_s": at_most(first.get("p90"), goals["first_render_p90_s"]),
             "all_pages_rendered": first.get("n") == result["visitors"],
             "server_memory_mb": at_most(result["load"].get("pss_mb_peak"),
                                         goals["server_memory_mb"]),
             "errors": result["errors"]["count"] <= goals["errors"]}
    if "answer_p90_s" in goals:
        found["answer_p90_s"] = at_most(answer.get("p90"), goals["answer_p90_s"])
        found["all_answers_bit_exact"] = result["bit_exact"] == result["visitors"]
    return found


# --- docs/benchmarks.md ----------------------------------------------------------------------

def _seconds(figures: dict | None) -> str:
    if not figures:
        return "-"
    return f"{figures['median']:.2f} / {figures['p90']:.2f} / {figures['max']:.2f}"


def _goal(met) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def write_docs(result: dict, target: Path) -> None:
    name, n = result["app"], result["visitors"]
    idle, load, goals, met = result["idle"], result["load"], result["goals"], result["verdict"]
    rows = [["first render, median / p90 / max (s)", _seconds(result.get("first_render_s")),
             f"p90 <= {goals['first_render_p90_s']:g} s: {_goal(met['first_render_p90_s'])}"],
            ["... the page and its static files (s)", _seconds(result.get("assets_s")), ""],
            ["... and the kernel's websocket with its info reply (s)",
             _seconds(result.get("kernel_s")), ""]]
    if "answer_p90_s" in goals:
        rows.append(["stroke -> board's answer, median / p90 / max (s)",
                     _seconds(result.get("answer_s")),
                     f"p90 <= {goals['answer_p90_s']:g} s: {_goal(met['answer_p90_s'])}"])
        if result.get("asking_s"):
            rows.append(["... of which the kernel's own work before it asks the board (s)",
                         _seconds(result["asking_s"]), ""])
        rows.append(["answers bit-identical with the host", f"{result['bit_exact']} of {n}",
                     _goal(met["all_answers_bit_exact"])])
    if result.get("slider_s"):
        rows.append(["slider -> summary and figure, median / p90 / max (s)",
                     _seconds(result["slider_s"]), ""])
    errors = result["errors"]
    rows.append(["errors", f"{errors['count']}" + (
        f": {'; '.join(k['error'] for k in errors['kinds'][:3])}" if errors["count"] else ""),
        f"none: {_goal(met['errors'])}"])
    rows.append(["server PSS, idle / peak (MB)",
                 f"{idle.get('pss_mb_mean', 0):,.0f} / {load.get('pss_mb_peak', 0):,.0f}",
                 f"<= {goals['server_memory_mb'] / 1024:g} GB: {_goal(met['server_memory_mb'])}"])
    rows.append(["machine's used memory, rise under load (MB)",
                 f"{result['memory_rise_mb']['system']:,.0f}", ""])
    rows.append(["server CPU, idle / mean under load / busiest 5 s (cores busy)",
                 f"{idle.get('cores_mean') or 0:.2f} / {load.get('cores_mean') or 0:.2f} / "
                 f"{load.get('cores_peak_5s') or 0:.2f}", ""])
    rows.append(["... under load: Voila's own process / kernels / virtual Unos (cores)",
                 f"{load.get('voila_cores_mean') or 0:.2f} / "
                 f"{load.get('kernel_cores_mean') or 0:.2f} / "
                 f"{load.get('simavr_cores_mean') or 0:.2f}", ""])
    if load.get("visitors_cores_mean") is not None:
        rows.append(["the emulated visitors themselves, on the same machine (cores)",
                     f"{load['visitors_cores_mean']:.2f}", ""])
    rows.append(["static files per visitor, over the wire (MB)",
                 f"{result['assets']['bytes_per_visitor'] / 1e6:.2f}", ""])
    rows.append(["kernels / simavr processes, idle / peak",
                 f"{idle.get('kernels_peak', 0)} / {load.get('kernels_peak', 0)}, "
                 f"{idle.get('simavr_peak', 0)} / {load.get('simavr_peak', 0)}", ""])
    rows.append(["visitors' kernels still running 30 s after they left",
                 f"{result['after']['visitor_kernels_still_running']}", ""])
    server = result["server"]
    arrival = "at once" if not result["stagger_s"] else f"{result['stagger_s']:g} s apart"
    body = (f"{measured_on(result['machine'])}: {n} emulated visitor{'s' if n > 1 else ''} of "
            f"`{name}` arriving {arrival} "
            f"(tinylab.visitors: the page, {result['assets']['about']} over six kept-alive "
            f"connections, gzip-compressed as Chromium accepts them, the kernel websocket "
            f"and the real widgets, as Voila's front end talks to the server; each looks "
            f"{result['think_s']:g} s at the page, "
            + ("draws a digit and leaves" if name == DRAW else "moves the bit-width slider "
               "and leaves") +
            f"). Server as `tinylab app` starts it with {server['pool']} preheated kernels for "
            f"the app and {server['boards']} shared virtual Unos; measured after the pools were "
            f"filled and the kernels quiet, {idle.get('samples', 0)} s idle first.\n\n"
            + markdown_table(["measure", "result", "goal (issue 18)"], rows)
            + f"\n\nCommand: `tinylab bench apps --visitors {n} --app {name.removesuffix('.ipynb')}"
              f" --write`.")
    write_section(f"apps-room-{name.removesuffix('.ipynb')}-{n}", body, target,
                  title=f"Voila apps in a lecture hall: {n} visitor{'' if n == 1 else 's'} of {name}")
