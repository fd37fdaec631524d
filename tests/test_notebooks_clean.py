"""The notebooks are committed clean: no outputs, no execution counts, no saved widget state.

Outputs are made by running the lessons (make test runs them with nbval); committed outputs
only bloat diffs and go stale. Saved widget state (metadata "widgets") shows dead widgets on
GitHub and Binder. To clean a notebook: in JupyterLab, Edit > Clear Outputs of All Cells and
turn off Settings > Save Widget State Automatically, then save; or run
``jupyter nbconvert --clear-output --inplace FILE`` and delete metadata.widgets.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
IGNORED_PARTS = {".ipynb_checkpoints", "workspace"}   # editor backups; learners' files (.gitignore)


def notebook_files() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("**/*.ipynb")
                  if not IGNORED_PARTS.intersection(p.relative_to(NOTEBOOKS).parts))


def test_there_are_lesson_notebooks():
    lessons = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert lessons, "no lesson notebooks notebooks/NN_*.ipynb (make test runs those with nbval)"


@pytest.mark.parametrize("path", notebook_files(),
                         ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_notebook_is_clean(path):
    name = path.relative_to(ROOT).as_posix()
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        pytest.fail(f"{name} is not a valid notebook: {error.message}")
    assert nb.nbformat == 4, f"{name}: nbformat {nb.nbformat}, expected 4"

    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has execution_count {cell.execution_count}")
    if "widgets" in nb.metadata:
        problems.append("metadata has saved widget state ('widgets')")
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec name is {kernel!r}, not 'python3'")
    assert not problems, f"{name} is not clean (see this module's docstring for how to clean it):\n  " \
        + "\n  ".join(problems)
