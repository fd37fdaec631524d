"""Where TinyLab's files are: the one place that works out the checkout root.

The package runs from a TinyLab checkout (``pip install -e .``, what ``make`` does), whose
folders hold what is data rather than code: board profiles and sketches (``boards/``),
recorded datasets (``datasets/``), the lessons and apps (``notebooks/``). An installation
without a checkout has none of them: :func:`checkout` is then None, and each user of a folder
says in plain words what it needs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT", "BOARDS_DIR", "SKETCHES_DIR", "DATASETS_DIR", "NOTEBOOKS_DIR", "checkout"]

#: The folder that holds the ``tinylab`` package: a checkout's root when installed from one.
ROOT = Path(__file__).resolve().parents[1]
BOARDS_DIR = ROOT / "boards"
SKETCHES_DIR = BOARDS_DIR / "sketches"
DATASETS_DIR = ROOT / "datasets"
NOTEBOOKS_DIR = ROOT / "notebooks"


def checkout() -> Path | None:
    """The TinyLab checkout this package runs from (an editable install), else None."""
    if (ROOT / "pyproject.toml").is_file() and (NOTEBOOKS_DIR / "00_welcome.ipynb").is_file():
        return ROOT
    return None
