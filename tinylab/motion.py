"""Lesson 09's recipe for motion (IMU) classifiers: augment, train, quantize, cross-validate.

One home for the settings lesson 09 and ``bench/motion.py`` share, so the lesson's numbers and
the benchmark's are made the same way:

- :data:`RECIPE`: the augmentation (:func:`tinylab.augment.augment`) and training settings;
- :func:`train` trains a fresh model on standardized recordings, augmented or not;
- :func:`int8_model` converts it to the engine's int8 model, calibrated on the training
  recordings;
- :class:`FoldScorer` is the ``fit_and_score`` of :func:`tinylab.crossval.cross_validate`:
  per fold it standardizes on the training part, trains, and scores the float and the int8
  model on the held-out recordings; it keeps each fold's int8 model and standardization, so a
  benchmark can run the held-out recordings, raw, on a board afterwards.

The settings were chosen by 5-fold cross-validation on BasicMotions (see
:data:`tinylab.models.ARCHITECTURES`' ``imu_`` entries): the Conv1D model is at 100% from 20
epochs; the MLP gains most from augmentation.

Introduced in lesson ``09_gestures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["RECIPE", "PRUNE_SPARSITY", "train", "prune", "int8_model", "FoldScorer",
           "FoldModel"]

#: How lesson 09 trains: 4 augmented copies of every training recording (crops of at least 80%
#: of the window stretched back, shifts of up to 5 steps = 0.5 s, a gain of about ±10% per
#: channel, noise of 0.05 standard deviations), 20 epochs of Adam at 3e-3 in batches of 32. A
#: model trained without augmentation sees ``copies`` identical copies instead: as many
#: examples per epoch and optimizer steps, so the comparison is about the data, not the
#: training length.
RECIPE = {"copies": 4, "crop": 0.8, "shift": 5, "scale": 0.1, "jitter": 0.05,
          "epochs": 20, "learning_rate": 3e-3, "batch_size": 32}


#: How lesson 09 compresses its MLP: 80% of each layer's weights pruned while it trains on
#: fresh augmented copies (Zhu & Gupta's gradual pruning, lesson 04) for 10 epochs at Adam
#: 1e-3, the ramp over the first 6, then stored in the ``sparse`` format.
PRUNE_SPARSITY = 0.8


def _augmented(X, y, settings: dict, rng):
    """The recordings plus ``settings["copies"]`` augmented copies (:func:`tinylab.augment.augment`
    with the recipe's crop, shift, scale and jitter)."""
    from . import augment as augmentation

    return augmentation.augment(X, y, int(settings["copies"]), rng=rng, crop=settings["crop"],
                                shift=int(settings["shift"]), scale=settings["scale"],
                                jitter=settings["jitter"])


def _standardize(X, normalization) -> np.ndarray:
    mean = np.asarray(normalization["mean"], dtype=np.float64)
    std = np.asarray(normalization["std"], dtype=np.float64)
    return ((np.asarray(X, dtype=np.float64) - mean) / std).astype(np.float32)


def train(architecture: str, X_train, y_train, n_classes: int, *, augment: bool = True,
          seed: int = 0, recipe: dict | None = None, X_val=None, y_val=None):
    """A fresh model of ``architecture`` trained on standardized recordings with :data:`RECIPE`.

    Parameters
    ----------
    architecture : str
        One of :data:`tinylab.models.ARCHITECTURES` that takes ``X_train``'s shape
        (``"imu_mlp"``, ``"imu_cnn"``).
    X_train : array_like, shape (n, steps, channels)
        Standardized training recordings.
    y_train : array_like of int, shape (n,)
    n_classes : int
    augment : bool
        Train on the recordings plus ``copies`` augmented copies of each (True), or on the
        recordings plus ``copies`` identical copies (False: the same number of steps).
    seed : int
        Seeds the initial weights, the augmentation and the batches.
    recipe : dict, optional
        Overrides of :data:`RECIPE`'s keys.
    X_val, y_val : optional
        Measured after every epoch, the validation curve of the returned history (default:
        none, which is faster: a fold is scored on its held-out part afterwards).

    Returns
    -------
    (model, history)
    """
    from . import models
    from . import train as training

    settings = dict(RECIPE, **(recipe or {}))
    unknown = set(settings) - set(RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; the recipe has {sorted(RECIPE)}")
    X_train = np.asarray(X_train, dtype=np.float32)
    y_train = np.asarray(y_train, dtype=np.int64)
    copies = int(settings["copies"])
    if augment:
        X_fit, y_fit = _augmented(X_train, y_train, settings, seed)
    else:  # the same number of examples per epoch, and of optimizer steps: identical copies
        X_fit, y_fit = np.tile(X_train, (1 + copies, 1, 1)), np.tile(y_train, 1 + copies)
    epochs = int(settings["epochs"])
    model = models.build(architecture, X_train.shape[1:], n_classes, seed=seed)
    if X_val is not None:
        X_val, y_val = np.asarray(X_val, dtype=np.float32), np.asarray(y_val, dtype=np.int64)
    data = _Arrays(X_fit, np.asarray(y_fit, dtype=np.int64), X_val, y_val,
                   tuple(X_train.shape[1:]), int(n_classes))
    history = training.fit(model, data, epochs=epochs, batch_size=int(settings["batch_size"]),
                           learning_rate=float(settings["learning_rate"]), seed=seed,
                           progress=False)
    return model, history


@dataclass(frozen=True)
class _Arrays:
    """The parts of a Dataset :func:`tinylab.train.fit` reads."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    input_shape: tuple
    n_classes: int
    name: str = "recordings"


def prune(model, X_train, y_train, *, sparsity: float = PRUNE_SPARSITY, seed: int = 0,
          recipe: dict | None = None):
    """Prune a trained model in place to ``sparsity`` while it trains on augmented copies.

    :func:`tinylab.prune.gradual_prune` over 10 epochs of the recordings plus fresh augmented
    copies (seed ``seed + 1``: not the copies it was trained on), the sparsity ramping over
    the first 6 epochs, Adam at 1e-3. Returns the pruning's history.
    """
    from . import prune as pruning

    settings = dict(RECIPE, **(recipe or {}))
    X_train = np.asarray(X_train, dtype=np.float32)
    y_train = np.asarray(y_train, dtype=np.int64)
    X_fit, y_fit = _augmented(X_train, y_train, settings, seed + 1)
    steps = -(-len(y_fit) // int(settings["batch_size"]))  # optimizer steps per epoch
    frequency = 10 if 6 * steps >= 10 else 1  # a new mask every 10 steps (every step if few)
    data = _Arrays(X_fit, np.asarray(y_fit, dtype=np.int64), None, None,
                   tuple(X_train.shape[1:]), int(model.output_shape[-1]))
    return pruning.gradual_prune(model, data, final_sparsity=sparsity,
                                 end_step=6 * steps - (6 * steps) % frequency,
                                 frequency=frequency, epochs=10, learning_rate=1e-3,
                                 batch_size=int(settings["batch_size"]), seed=seed,
                                 progress=False, part=None)


def int8_model(model, X_train, *, seed: int = 0):
    """The engine's int8 model of ``model``, calibrated on the (standardized, unaugmented)
    training recordings ``X_train``: ``(IntegerModel, tflite_bytes)``."""
    from . import convert, engine

    flatbuffer = convert.to_tflite(model, "int8", np.asarray(X_train, dtype=np.float32),
                                   seed=seed)
    return engine.read_tflite(flatbuffer), flatbuffer


@dataclass
class FoldModel:
    """What one fold made: the standardization of its training part, its int8 model, and its
    held-out recordings in raw units (to send to a board)."""

    normalization: dict
    model: object
    integer_model: object
    X_test_raw: np.ndarray
    y_test: np.ndarray


@dataclass
class FoldScorer:
    """``fit_and_score`` for :func:`tinylab.crossval.cross_validate` with ``standardize=False``.

    Per fold: standardize on the training part (:func:`tinylab.data.channel_normalization`),
    train
    (:func:`train`), prune if ``sparsity`` is given (:func:`prune`), score the float model and the int8 model (:func:`int8_model`, run with the
    engine's integer reference) on the held-out part. ``folds`` keeps a :class:`FoldModel`
    per fold.

    Examples
    --------
    >>> scorer = FoldScorer("imu_cnn", n_classes=4)                        # doctest: +SKIP
    >>> cv = tl.crossval.cross_validate(X_raw, y, scorer, standardize=False)  # doctest: +SKIP
    """

    architecture: str
    n_classes: int
    augment: bool = True
    sparsity: float | None = None
    int8: bool = True
    seed: int = 0
    channels: tuple | None = None
    recipe: dict | None = None
    folds: list = field(default_factory=list)

    def __call__(self, X_train, y_train, X_test, y_test) -> dict:
        from . import engine
        from .train import logits

        from .data import channel_normalization

        normalization = channel_normalization(
            X_train, self.channels, statistics_from=f"training recordings ({len(X_train)})")
        train_std, test_std = _standardize(X_train, normalization), _standardize(X_test, normalization)
        model, _ = train(self.architecture, train_std, y_train, self.n_classes,
                         augment=self.augment, seed=self.seed, recipe=self.recipe)
        if self.sparsity:
            prune(model, train_std, y_train, sparsity=self.sparsity, seed=self.seed,
                  recipe=self.recipe)
        scores = {"float": float(np.mean(np.argmax(logits(model, test_std), axis=1)
                                         == np.asarray(y_test)))}
        integer = None
        if self.int8:
            integer, _ = int8_model(model, train_std, seed=self.seed)
            outputs = engine.run_int8(integer, engine.quantize_inputs(integer, test_std))
            scores["int8"] = float(np.mean(np.argmax(outputs, axis=1) == np.asarray(y_test)))
        self.folds.append(FoldModel(normalization, model, integer,
                                    np.asarray(X_test, dtype=np.float32), np.asarray(y_test)))
        return scores
