"""Benchmark: wall time and peak memory of each lesson notebook run headless, top to bottom.

Each lesson runs in a fresh kernel, in a child process so that the kernel's peak resident
memory can be read from ``getrusage(RUSAGE_CHILDREN)`` once it has exited, twice:

- **in order**: all the lessons one after the other on one workspace and one build cache,
  empty at the start, with ``TINYLAB_HANDOFFS=strict`` (as a class runs the course, and as
  ``make test`` runs it): each lesson loads what the one before it saved;
- **alone**: each lesson with an empty workspace and an empty build cache (the worst case: it
  makes again what earlier lessons would have handed it, sketches and the virtual Uno's
  harness included).

Prints one JSON object; ``--write FILE`` also rewrites the lessons table in
docs/benchmarks.md between its markers.

Goal (DEVELOPERS.md): each lesson in about a minute on 2 cores; Binder gives 2 GB of RAM.

    python bench/lessons.py [--write docs/benchmarks.md] [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, markdown_table, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402


def run_one(notebook: Path) -> dict:
    """Execute one notebook in a fresh kernel (called in a child process)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    seconds = time.perf_counter() - start
    kernel_peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    return {"notebook": notebook.name, "seconds": round(seconds, 1),
            "kernel_peak_mib": round(kernel_peak_kib / 1024, 0), "errors": len(errors)}


def measure(notebook: Path, workspace: str, cache: str, *, strict: bool = False) -> dict:
    env = dict(os.environ, TINYLAB_WORKSPACE=workspace, TINYLAB_CACHE=cache, MPLBACKEND="Agg")
    env.pop("TINYLAB_HANDOFFS", None)
    if strict:
        env["TINYLAB_HANDOFFS"] = "strict"
    done = subprocess.run([sys.executable, __file__, "--one", str(notebook)], env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{notebook.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_alone(notebook: Path) -> dict:
    with tempfile.TemporaryDirectory() as workspace, tempfile.TemporaryDirectory() as cache:
        return measure(notebook, workspace, cache)


def write_table(in_order: list, alone: list, machine: dict, target: Path) -> None:
    rows = [[a["notebook"], f"{a['seconds']:.1f}", f"{b['seconds']:.1f}",
             f"{max(a['kernel_peak_mib'], b['kernel_peak_mib']):.0f}"]
            for a, b in zip(in_order, alone)]
    write_section("lessons", f"{measured_on(machine)}. **In order**: the lessons one after the "
                  f"other on one workspace and build cache, empty at the start, hand-offs strict "
                  f"(as a class runs the course and `make test` runs it). **Alone**: each lesson "
                  f"with an empty workspace and build cache, so it makes again what earlier "
                  f"lessons would have handed it.\n\n" + markdown_table(
                      ["lesson", "in order (s)", "alone (s)", "kernel peak RSS (MiB)"], rows),
                  target, title="Lessons")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="lesson notebooks (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--write", type=Path, help="rewrite the lessons table in this file")
    parser.add_argument("--json", action="store_true", help="(always on) print the JSON result")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one.resolve())))
        return 0
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    in_order, alone = [], []
    with tempfile.TemporaryDirectory() as workspace, tempfile.TemporaryDirectory() as cache:
        for notebook in notebooks:
            in_order.append(measure(notebook.resolve(), workspace, cache, strict=True))
            print(f"in order {in_order[-1]['notebook']}: {in_order[-1]['seconds']} s, "
                  f"{in_order[-1]['kernel_peak_mib']:.0f} MiB", file=sys.stderr)
    for notebook in notebooks:
        alone.append(measure_alone(notebook.resolve()))
        print(f"alone {alone[-1]['notebook']}: {alone[-1]['seconds']} s, "
              f"{alone[-1]['kernel_peak_mib']:.0f} MiB", file=sys.stderr)
    machine = current_machine()
    print(json.dumps({"benchmark": "lessons", "machine": machine, "in_order": in_order,
                      "alone": alone}, indent=2))
    if args.write:
        write_table(in_order, alone, machine, args.write)
    return 0 if all(r["errors"] == 0 for r in in_order + alone) else 1


if __name__ == "__main__":
    sys.exit(main())
