"""Training and evaluation on the host (the "train on a big machine" step of the survey).

``fit`` compiles and trains a model on a :class:`tinylab.data.Dataset` with a seeded shuffle
and a progress bar that works in JupyterLab, in Voila and headless; ``load_or_train`` is what
later lessons call to get a model from the workspace, or rebuild it in seconds when missing.

Introduced in lesson ``02_train``.
"""

from __future__ import annotations

import sys

import numpy as np

from . import models, workspace
from ._tensorflow import keras

__all__ = ["ProgressBar", "compile_model", "fit", "logits", "predict_classes", "accuracy", "evaluate",
           "confusion_matrix", "train_and_save", "load_or_train", "batches", "model_card"]


class ProgressBar(keras.callbacks.Callback):
    """A Keras callback drawing one bar over the epochs, with loss and accuracy beside it.

    Uses ``tqdm.auto``: a widget bar in JupyterLab and Voila, a text bar on a terminal. Pass
    ``file`` to send the text bar elsewhere than standard error.
    """

    def __init__(self, epochs: int, description: str = "training", file=None):
        super().__init__()
        self.epochs, self.description, self.file = int(epochs), description, file
        self.bar = None

    def on_train_begin(self, logs=None):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.epochs, desc=self.description, unit="epoch",
                        file=self.file or sys.stderr, leave=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = {k: f"{v:.3f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_accuracy")}
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


def compile_model(model, learning_rate: float = 1e-3):
    """Compile for integer labels and logits outputs: Adam, cross-entropy, accuracy."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def batches(X, y, batch_size, seed, shuffle):
    """A ``tf.data.Dataset`` of ``(X, y)`` batches, shuffled repeatably (lesson 02).

    Parameters
    ----------
    X : ndarray of float32, shape (n, ...)
    y : ndarray of int, shape (n,)
    batch_size : int
    seed : int
        The shuffle's op-level seed: the same order every run, no global seed touched.
    shuffle : bool
        Reshuffle every epoch (training) or keep the order (evaluation).

    Returns
    -------
    tf.data.Dataset
    """
    from ._tensorflow import tf

    examples = tf.data.Dataset.from_tensor_slices((X, y))
    if shuffle:
        # An op-level seed makes the order repeatable without touching global seeds.
        examples = examples.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return examples.batch(batch_size)


def fit(model, data, *, epochs: int = 30, batch_size: int = 32, learning_rate: float = 1e-3,
        seed: int = 0, progress: bool = True, callbacks=(), compile: bool = True):
    """Train ``model`` on ``data.X_train`` with ``data.X_val`` for validation.

    An object whose ``X_val`` is None trains without validation (no ``val_`` curves): what
    cross-validation's folds do, which are scored on their held-out part afterwards.

    Parameters
    ----------
    model : keras.Model
        Takes ``data.input_shape`` inputs and returns ``data.n_classes`` logits.
    data : tinylab.data.Dataset
    epochs, batch_size : int
    learning_rate : float
        Adam's step size (ignored when ``compile=False``, e.g. a model compiled by lesson 03's
        distiller).
    seed : int
        Seeds the shuffle of the training examples.
    progress : bool
        Draw a progress bar (see :class:`ProgressBar`).

    Returns
    -------
    keras.callbacks.History
        ``.history`` maps ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` to per-epoch lists.
    """
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    expected = (None,) + tuple(data.input_shape)
    got = tuple(model.input_shape)
    if len(got) != len(expected) or any(g not in (None, e) for g, e in zip(got[1:], expected[1:])):
        raise ValueError(f"model {model.name!r} takes inputs of shape {got[1:]} but dataset "
                         f"{data.name!r} has examples of shape {data.input_shape}; build the model "
                         f"with input_shape=data.input_shape")
    if model.output_shape[-1] != data.n_classes:
        raise ValueError(f"model {model.name!r} has {model.output_shape[-1]} outputs but dataset "
                         f"{data.name!r} has {data.n_classes} classes; build it with "
                         f"n_classes=data.n_classes")
    if compile:
        compile_model(model, learning_rate)
    all_callbacks = list(callbacks)
    if progress:
        all_callbacks.append(ProgressBar(int(epochs), description=f"training {model.name}"))
    return model.fit(batches(data.X_train, data.y_train, int(batch_size), seed, shuffle=True),
                     validation_data=None if data.X_val is None else
                     batches(data.X_val, data.y_val, 256, seed, shuffle=False),
                     epochs=int(epochs), verbose=0, shuffle=False,  # shuffled by batches
                     callbacks=all_callbacks)


def logits(model, X, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for ``X``, shape ``(len(X), n_classes)``, computed in inference mode.

    Calls the model directly, batch by batch, rather than ``model.predict``: ``predict`` builds
    a new ``tf.function`` for every model it meets, and after a few models (a grid of students,
    a pruning curve) TensorFlow prints warnings about "retracing" that mean nothing here.
    """
    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    return np.concatenate([np.asarray(model(X[i:i + batch_size], training=False))
                           for i in range(0, len(X), batch_size)])


def predict_classes(model, X, batch_size: int = 256) -> np.ndarray:
    """Arg-max class of each example in ``X``."""
    return np.argmax(logits(model, X, batch_size), axis=-1)


def accuracy(model, X, y) -> float:
    """Fraction of ``X`` classified as ``y``."""
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)} labels")
    return float(np.mean(predict_classes(model, X) == y))


def evaluate(model, data) -> dict:
    """Accuracy on each part of a dataset: ``{"train": ..., "val": ..., "test": ...}``."""
    return {part: accuracy(model, getattr(data, f"X_{part}"), getattr(data, f"y_{part}"))
            for part in ("train", "val", "test")}


def confusion_matrix(model, data, part: str = "test") -> np.ndarray:
    """Counts ``C[true, predicted]`` on one part of the dataset (``"train"``, ``"val"``, ``"test"``)."""
    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    from sklearn.metrics import confusion_matrix as sk_confusion

    y = getattr(data, f"y_{part}")
    return sk_confusion(y, predict_classes(model, getattr(data, f"X_{part}")),
                        labels=np.arange(data.n_classes))


def model_card(name, data, epochs, seed) -> dict:
    """What identifies a trained lesson model: architecture, dataset, split, seeds, epochs.

    The card :func:`load_or_train` compares before reusing a saved model (lesson 02); the
    pruned and distilled models' cards (lessons 03, 04) start from it.

    Parameters
    ----------
    name : str
        The architecture, one of :data:`tinylab.models.ARCHITECTURES`.
    data : tinylab.data.Dataset
    epochs : int
    seed : int

    Returns
    -------
    dict
        ``architecture``, ``dataset``, ``split`` (the split sizes), ``data_seed``, ``seed``,
        ``epochs``.
    """
    return {"architecture": name, "dataset": data.name, "split": list(data.split_sizes().values()),
            "data_seed": data.seed, "seed": seed, "epochs": int(epochs)}


def train_and_save(name: str, data, *, epochs: int | None = None, seed: int = 0,
                   progress: bool = True):
    """Build a named lesson model, train it, save it to the workspace under ``name``.

    Returns
    -------
    (model, history) : the trained keras.Model and its keras.callbacks.History
    """
    if name not in models.ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose one of {models.available()}")
    epochs = int(epochs or models.ARCHITECTURES[name]["epochs"])
    model = models.build(name, data.input_shape, data.n_classes, seed=seed)
    history = fit(model, data, epochs=epochs, seed=seed, progress=progress)
    card = dict(model_card(name, data, epochs, seed),
                test_accuracy=accuracy(model, data.X_test, data.y_test),
                params=models.count_params(model))
    workspace.save_model(model, name, card)
    return model, history


def load_or_train(name: str, data=None, *, epochs: int | None = None, seed: int = 0,
                  progress: bool = True, retrain: bool = False):
    """A trained lesson model: from the workspace when it matches, else trained and saved.

    A saved model is reused only if its card names the same architecture, dataset, split,
    seeds and epochs; anything else (or ``retrain=True``) trains a fresh one with
    :func:`train_and_save`, so every lesson runs standalone.

    Parameters
    ----------
    name : str
        One of :data:`tinylab.models.ARCHITECTURES` (``"mlp300"``, ``"student"``, ...).
    data : Dataset, optional
        Defaults to ``tl.data.load("digits")``.
    epochs : int, optional
        Defaults to the architecture's ``epochs``.
    """
    from . import data as datasets

    if name not in models.ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose one of {models.available()}")
    data = data if data is not None else datasets.load("digits")
    epochs = int(epochs or models.ARCHITECTURES[name]["epochs"])
    if not retrain and workspace.reuse(name, model_card(name, data, epochs, seed)):
        return workspace.load_model(name)
    model, _ = train_and_save(name, data, epochs=epochs, seed=seed, progress=progress)
    return model
