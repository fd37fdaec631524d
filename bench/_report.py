"""What every benchmark shares: the machine it ran on, and its table in docs/benchmarks.md.

Each benchmark owns one section of docs/benchmarks.md between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``; ``write_section`` replaces only that section, adding it at the end the
first time.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"


def machine() -> dict:
    """Today's date and :func:`tinylab.machine.describe`: CPU model, ISA flags, versions."""
    from tinylab import machine as described

    return {"date": time.strftime("%Y-%m-%d"), **described.describe()}


def measured_on(machine: dict) -> str:
    """The sentence that opens every section: when, on which CPU, with which versions.

    Float results (training, accuracy) differ in their last bits between CPUs with other
    instruction sets (docs/reproducibility.md), so the CPU is named, not only counted.
    """
    from tinylab.machine import summary

    versions = machine.get("versions") or {}
    tensorflow = f", TensorFlow {versions['tensorflow']}" if versions.get("tensorflow") else ""
    return (f"Measured {machine['date']} on {summary(machine)}, Python "
            f"{machine['python']}{tensorflow}")


#: The benchmark-only packages (pyproject's ``bench`` extra), by import name.
BENCH_EXTRA = {"tensorflow_model_optimization": "tensorflow-model-optimization",
               "tf_keras": "tf_keras", "emlearn": "emlearn"}


def require(benchmark: str, *modules: str) -> None:
    """Exit with the install line, before any work, when a module ``benchmark`` needs is absent.

    The benchmark-only packages are not installed by ``make test`` or ``make lab``; ``make
    bench`` installs them.
    """
    import importlib
    import sys

    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        names = " ".join(BENCH_EXTRA.get(m, m) for m in missing)
        print(f"tinylab bench {benchmark}: needs {names}, the benchmark-only packages, which are "
              f"not installed. Run `make bench` (installs them, then runs every benchmark), or "
              f"install them into this environment with: {sys.executable} -m pip install -e "
              f"'{ROOT}[bench]'", file=sys.stderr)
        raise SystemExit(2)


def markdown_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, target: Path = DOCS, title: str | None = None) -> None:
    """Replace the ``name`` section of ``target`` with ``body`` (created when absent)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = target.read_text() if target.exists() else "# Benchmarks\n"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + f"\n\n## {title or name}\n\n{block}\n"
    target.write_text(text)


def arguments(doc: str, section: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--json`` (always on) and ``--write [FILE]``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="(always on) print the JSON result")
    parser.add_argument("--write", type=Path, nargs="?", const=DOCS,
                        help=f"rewrite the {section} section of this file (default docs/benchmarks.md)")
    return parser


def report(result: dict, write_to, write_docs) -> int:
    """Print ``result`` as JSON; with ``write_to``, also ``write_docs(result, write_to)``."""
    print(json.dumps(result, indent=2, default=float))
    if write_to:
        write_docs(result, write_to)
    return 0
