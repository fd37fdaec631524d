"""Board profiles: flash, RAM, clock and FQBN of the boards TinyLab targets.

The numbers live in ``boards/*.json`` beside their sources; this module only reads them and
answers "does it fit?". Introduced in lesson ``00_welcome``.
"""

from __future__ import annotations

import json

from . import _paths

__all__ = ["BOARDS_DIR", "available", "load", "fits"]

BOARDS_DIR = _paths.BOARDS_DIR
_REQUIRED = ("id", "name", "fqbn", "mcu", "clock_hz", "flash_usable_bytes", "ram_bytes", "sources")


def available() -> list:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.json"))


def load(board_id: str) -> dict:
    """The profile of one board, e.g. ``load("uno")["ram_bytes"] == 2048``."""
    path = BOARDS_DIR / f"{board_id}.json"
    if not isinstance(board_id, str) or not path.is_file():
        raise ValueError(f"unknown board {board_id!r}; choose one of {available()}")
    profile = json.loads(path.read_text())
    missing = [key for key in _REQUIRED if key not in profile]
    if missing:
        raise ValueError(f"{path} lacks {missing}")
    return profile


def fits(board_id: str, flash_bytes: int, ram_bytes: int = 0) -> dict:
    """Whether something needing ``flash_bytes`` of flash and ``ram_bytes`` of RAM fits a board.

    Returns ``{"fits", "flash_share", "ram_share", "flash_bytes", "ram_bytes", "board"}``, the
    shares being the fraction of the board's usable flash and RAM taken (1.0 = full).
    """
    if flash_bytes < 0 or ram_bytes < 0:
        raise ValueError(f"sizes must be >= 0 bytes, got flash {flash_bytes}, RAM {ram_bytes}")
    board = load(board_id)
    flash_share = flash_bytes / board["flash_usable_bytes"]
    ram_share = ram_bytes / board["ram_bytes"]
    return {"board": board["name"], "fits": flash_share <= 1 and ram_share <= 1,
            "flash_bytes": int(flash_bytes), "ram_bytes": int(ram_bytes),
            "flash_share": flash_share, "ram_share": ram_share}
