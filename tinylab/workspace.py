"""The workspace: a git-ignored folder where lessons hand models to each other.

The course is one thread: each lesson saves what the next one loads (:data:`HANDOFFS`).
Every saved model carries a JSON card (dataset, seed, the settings it was made with, accuracy,
TinyLab version) so a later lesson can tell a model it can use from a stale one, and, run on
its own, make it again exactly as the earlier lesson does (:func:`reuse`). With
``TINYLAB_HANDOFFS=strict`` (``make test`` runs the lessons in order that way) a lesson that
would have to make a hand-off again fails instead, naming the lesson that should have saved it.

The folder is ``$TINYLAB_WORKSPACE`` when set, else ``workspace/`` at the root of a TinyLab
checkout (where ``make lab`` runs), else ``~/tinylab-workspace``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import _paths
from .errors import TinyLabError

__all__ = ["path", "model_path", "save_model", "load_model", "load_card", "has_model", "list_models",
           "save_arrays", "load_arrays", "has_arrays", "HANDOFFS", "HandoffError", "reuse"]

ENV_VAR = "TINYLAB_WORKSPACE"
#: ``strict``: a lesson that finds no usable hand-off raises :class:`HandoffError` instead of
#: making it again (the hand-off test: ``make test`` runs the lessons in order this way).
STRICT_VAR = "TINYLAB_HANDOFFS"

#: The course's hand-offs: what a lesson saves in the workspace -> the lesson that saves it.
#: Later lessons load these (and only make one again, the same way, when run on their own).
HANDOFFS = {
    "mlp300": "02_train",                # the teacher, 64-300-100-10
    "student": "02_train",               # the student, 64-32-10, trained on the labels alone
    "student_distilled": "03_distillation",  # the same student, distilled from the teacher
    "mlp300_pruned": "04_pruning",       # the teacher pruned to 90%, dead units removed
    "mlp300_shared": "06_sharing",       # that pruned teacher, 4-bit weight-shared, fine-tuned
}


class HandoffError(TinyLabError):
    """A lesson run in order found no usable model from the lesson before it."""


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


def reuse(name: str, wanted: dict, *, arrays=()) -> bool:
    """Whether the workspace holds ``name`` made with the settings ``wanted`` (and ``arrays``).

    ``wanted`` is the part of the card that identifies how the model was made; a saved model
    whose card differs in any of those keys (other seed, epochs, temperature, ...) is stale.
    When the answer is no and ``name`` is one of :data:`HANDOFFS`, the caller makes the model
    again (and says so), unless ``TINYLAB_HANDOFFS=strict``: then :class:`HandoffError` names
    the lesson that should have saved it and what differs.
    """
    missing = [extra for extra in arrays if not has_arrays(extra)]
    if not has_model(name):
        reason = "is not in the workspace"
    elif missing:
        reason = f"has no {', '.join(missing)} beside it"
    else:
        card = load_card(name)
        differs = {key: (card.get(key), value) for key, value in wanted.items()
                   if card.get(key) != value}
        if not differs:
            return True
        reason = "was made differently (" + ", ".join(
            f"{key}: saved {saved!r}, wanted {value!r}" for key, (saved, value) in differs.items()) + ")"
    lesson = HANDOFFS.get(name)
    if lesson is None:
        return False
    if os.environ.get(STRICT_VAR) == "strict":
        raise HandoffError(f"{name!r} {reason} ({path()}), but lesson {lesson} saves it for the "
                           f"lessons after it: run notebooks/{lesson}.ipynb first, or unset "
                           f"{STRICT_VAR} to let this lesson make it again")
    print(f"{name} {reason}: making it again as lesson {lesson} does "
          f"(run notebooks/{lesson}.ipynb first to reuse its result)")
    return False


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
