"""The package's list of modules has one home, and the docs agree with it."""

import pkgutil
import re
from pathlib import Path

import tinylab

ROOT = Path(__file__).resolve().parents[1]


def _public_modules():
    return {name for _, name, _ in pkgutil.iter_modules(tinylab.__path__)
            if not name.startswith("_")}


def test_the_lazy_loader_knows_every_public_module():
    assert set(tinylab._SUBMODULES) == _public_modules()
    assert len(tinylab._SUBMODULES) == len(set(tinylab._SUBMODULES))
    for name in ("serial", "machine", "errors", "compression_grid"):
        assert getattr(tinylab, name).__name__ == f"tinylab.{name}"


def test_the_docstring_and_docs_architecture_list_the_same_modules():
    listed = set(re.findall(r"^([a-z_]+) {2,}", tinylab.__doc__.split("Modules\n-------\n")[1],
                            flags=re.M))
    assert listed == set(tinylab._SUBMODULES)
    table = (ROOT / "docs" / "architecture.md").read_text()
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.M))
    assert set(tinylab._SUBMODULES) <= rows, set(tinylab._SUBMODULES) - rows
