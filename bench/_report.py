"""What every benchmark shares: the machine it ran on, and its table in docs/benchmarks.md.

Each benchmark owns one section of docs/benchmarks.md between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``; ``write_section`` replaces only that section, adding it at the end the
first time.
"""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"


def machine() -> dict:
    return {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}


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
