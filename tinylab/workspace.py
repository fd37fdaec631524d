"""The workspace: a git-ignored folder where lessons hand models to each other.

Lesson 02 saves the teacher and the student here; lessons 03-07 load them. Every saved model
carries a JSON card (dataset, seed, accuracy, TinyLab version) so a later lesson can tell a
model it can use from a stale one and rebuild it on its own when needed.

The folder is ``$TINYLAB_WORKSPACE`` when set, else ``workspace/`` at the root of a TinyLab
checkout (where ``make lab`` runs), else ``~/tinylab-workspace``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import _paths

__all__ = ["path", "model_path", "save_model", "load_model", "load_card", "has_model", "list_models",
           "save_arrays", "load_arrays", "has_arrays"]

ENV_VAR = "TINYLAB_WORKSPACE"


def path() -> Path:
    """The workspace folder (created if missing)."""
    if os.environ.get(ENV_VAR):
        folder = Path(os.environ[ENV_VAR]).expanduser()
    else:
        checkout = _paths.checkout()
        if checkout is not None:
            folder = checkout / "workspace"
        else:
            folder = Path.home() / "tinylab-workspace"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"model name must be letters, digits, '-' or '_' (it becomes a file "
                         f"name), got {name!r}")
    return name


def model_path(name: str) -> Path:
    return path() / f"{_check_name(name)}.keras"


def _card_path(name: str) -> Path:
    return path() / f"{_check_name(name)}.json"


def save_model(model, name: str, card: dict | None = None) -> Path:
    """Save a Keras model as ``<workspace>/<name>.keras`` with its card ``<name>.json``."""
    from . import __version__

    target = model_path(name)
    model.save(target)
    info = {"name": name, "tinylab_version": __version__, **(card or {})}
    _card_path(name).write_text(json.dumps(info, indent=2, default=str) + "\n")
    return target


def has_model(name: str) -> bool:
    return model_path(name).is_file() and _card_path(name).is_file()


def load_card(name: str) -> dict:
    """The JSON card saved with a model."""
    if not has_model(name):
        raise FileNotFoundError(f"no model {name!r} in the workspace {path()}; run lesson 02 "
                                f"(notebooks/02_train.ipynb) or tl.train.load_or_train({name!r}, ...)")
    return json.loads(_card_path(name).read_text())


def load_model(name: str):
    """Load a model saved with :func:`save_model` (raises FileNotFoundError naming the fix)."""
    from ._tensorflow import keras

    load_card(name)  # raises the helpful error when absent
    return keras.models.load_model(model_path(name))


def list_models() -> list:
    """Cards of every model in the workspace."""
    return [json.loads(p.read_text()) for p in sorted(path().glob("*.json"))
            if p.with_suffix(".keras").is_file()]


def _arrays_path(name: str) -> Path:
    return path() / f"{_check_name(name)}.npz"


def save_arrays(name: str, **arrays) -> Path:
    """Save named numpy arrays as ``<workspace>/<name>.npz`` (e.g. lesson 04's pruning masks).

    Keep them next to the model they describe by using the model's name plus a suffix, such
    as ``save_arrays("mlp300_pruned_masks", dense_1=mask, ...)``.
    """
    import numpy as np

    if not arrays:
        raise ValueError("save_arrays needs at least one array, e.g. save_arrays(name, dense_1=mask)")
    target = _arrays_path(name)
    np.savez_compressed(target, **{key: np.asarray(value) for key, value in arrays.items()})
    return target


def has_arrays(name: str) -> bool:
    return _arrays_path(name).is_file()


def load_arrays(name: str) -> dict:
    """The arrays saved with :func:`save_arrays`, as a dict name -> ndarray."""
    import numpy as np

    if not has_arrays(name):
        raise FileNotFoundError(f"no arrays {name!r} in the workspace {path()}; run the lesson "
                                f"that saves them (lesson 04 saves the pruning masks)")
    with np.load(_arrays_path(name)) as stored:
        return {key: stored[key] for key in stored.files}
