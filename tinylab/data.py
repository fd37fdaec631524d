"""Datasets for the lessons: one registry, one consistent object.

Every loader returns a :class:`Dataset`: normalized arrays already split into seeded,
stratified train/validation/test parts, plus the facts a lesson needs to talk about the data
(class names, input shape, how it was normalized, where it came from).

Introduced in lesson ``01_data``.

Examples
--------
>>> import tinylab as tl
>>> data = tl.data.load("digits", seed=0)
>>> data.X_train.shape[1:], data.class_names[:3]
((8, 8, 1), ('0', '1', '2'))
"""

from __future__ import annotations

import csv
import json
import os
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from . import _paths
from .errors import TinyLabError

__all__ = [
    "Dataset",
    "DatasetUnavailableError",
    "available",
    "load",
    "register",
    "load_recorded",
    "standardize_channels",
    "channel_normalization",
    "channel_statistics",
    "Recordings",
    "recordings",
    "cut_windows",
    "basicmotions_recordings",
    "basicmotions_folder",
    "read_ts",
    "BASICMOTIONS_CLASSES",
    "split_stratified",
    "DEFAULT_SPLIT",
    "downsample_to_digits",
    "rasterize_strokes",
    "digit_from_strokes",
    "DIGIT_INK_FRACTION",
]

#: Fractions of the examples that go to (train, validation, test).
DEFAULT_SPLIT = (0.7, 0.15, 0.15)

#: Where TinyLab's own recorded datasets live (CSV + meta.json + README.md per folder).
DATASETS_DIR = _paths.DATASETS_DIR


class DatasetUnavailableError(TinyLabError):
    """A dataset cannot be loaded on this machine (for instance it needs a download)."""


@dataclass(frozen=True)
class Dataset:
    """A normalized dataset split into train, validation and test parts.

    Attributes
    ----------
    name : str
        Registry name (``"digits"``, ``"mnist"``, or a recorded dataset's folder name).
    X_train, X_val, X_test : ndarray of float32, shape (n, *input_shape)
        Normalized inputs.
    y_train, y_val, y_test : ndarray of int64, shape (n,)
        Class indices into ``class_names``.
    class_names : tuple of str
    input_shape : tuple of int
        Shape of one example, e.g. ``(8, 8, 1)`` for the digits.
    normalization : dict
        How raw values became the arrays here: ``{"raw_range": [lo, hi], "scale": s,
        "offset": o, "description": ...}`` with ``x = (raw - offset) * scale``. Per channel
        (``"per_channel": True``, e.g. ``gestures``): ``offset`` and ``scale`` are lists, one
        value per channel (the last axis), with the ``mean`` and ``std`` they came from.
    provenance : dict
        Where the data comes from (source, citation, licence, how it was recorded).
    seed : int
        The seed of the split.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    input_shape: tuple
    normalization: dict
    provenance: dict
    seed: int = 0
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_examples(self) -> int:
        return len(self.y_train) + len(self.y_val) + len(self.y_test)

    @property
    def input_size(self) -> int:
        """Number of input values per example (64 for the 8x8 digits)."""
        return int(np.prod(self.input_shape))

    def split_sizes(self) -> dict:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def normalize(self, raw) -> np.ndarray:
        """Apply this dataset's normalization to raw values (e.g. digit pixels 0..16, or IMU
        windows of shape ``(..., 50, 6)`` in g and deg/s: per channel, on the last axis)."""
        offset, scale = self._offset_scale()
        return ((np.asarray(raw, dtype=np.float32) - offset) * scale).astype(np.float32)

    def raw(self, X) -> np.ndarray:
        """Undo the normalization: back to the raw units (digits: pixel counts 0..16)."""
        offset, scale = self._offset_scale()
        return (np.asarray(X, dtype=np.float32) / scale + offset).astype(np.float32)

    def _offset_scale(self):
        norm = self.normalization
        return (np.asarray(norm["offset"], dtype=np.float32),
                np.asarray(norm["scale"], dtype=np.float32))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.split_sizes().items())
        return (f"Dataset({self.name!r}: {self.n_examples} examples of shape {self.input_shape}, "
                f"{self.n_classes} classes; {sizes}; seed={self.seed})")


# --------------------------------------------------------------------------- splitting

def _check_split(split) -> tuple:
    try:
        fractions = tuple(float(f) for f in split)
    except TypeError:
        raise ValueError(f"split must be three fractions (train, val, test), got {split!r}; "
                         f"for example {DEFAULT_SPLIT}") from None
    if len(fractions) != 3:
        raise ValueError(f"split must be three fractions (train, val, test), got {len(fractions)} "
                         f"values {split!r}; for example {DEFAULT_SPLIT}")
    if any(not np.isfinite(f) or f <= 0 or f >= 1 for f in fractions):
        raise ValueError(f"each split fraction must lie strictly between 0 and 1, got {split!r}; "
                         f"for example {DEFAULT_SPLIT}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must add up to 1, got {split!r} (sum {sum(fractions):.3f}); "
                         f"for example {DEFAULT_SPLIT}")
    return fractions


def _approximate_mode(class_counts, n_draws: int, rng) -> np.ndarray:
    """Examples to draw per class so that ``n_draws`` keep the classes' proportions: the
    floors of the proportional shares, then one more for the largest remainders (ties
    broken by ``rng``). scikit-learn's ``_approximate_mode``, step for step."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add_now = min(len(tied), need_to_add)
            floored[rng.choice(tied, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def _stratified_two_way(indices, y, train_fraction: float, seed: int) -> tuple:
    """``indices`` cut in two (train, rest) with each class in proportion, seeded.

    The same draws as scikit-learn's ``train_test_split(indices, train_size=train_fraction,
    stratify=y, random_state=seed)`` (its ``StratifiedShuffleSplit``), so that every split
    TinyLab made with it stays the same, without importing scikit-learn (1.2 s and 80 MB in
    a Voila app's kernel); tests/test_data.py checks the two agree.
    """
    n = len(indices)
    n_train = int(np.floor(train_fraction * n))
    n_test = n - n_train
    _, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i, count in enumerate(class_counts):
        members = class_indices[i].take(rng.permutation(count), mode="clip")
        train.extend(members[:n_i[i]])
        test.extend(members[n_i[i]:n_i[i] + t_i[i]])
    return indices[rng.permutation(train)], indices[rng.permutation(test)]


def split_stratified(y, split=DEFAULT_SPLIT, seed: int = 0) -> tuple:
    """Indices of a seeded, stratified train/val/test split.

    Two stratified cuts, train from the rest, then val from test; the draws are
    scikit-learn's ``train_test_split(..., stratify=y)`` (so splits made before TinyLab
    stopped importing it are unchanged), in numpy.

    Parameters
    ----------
    y : array of int, shape (n,)
        Class labels.
    split : three floats in (0, 1) adding up to 1
    seed : int

    Returns
    -------
    (train_idx, val_idx, test_idx) : three int arrays that partition ``range(n)``, each class
    represented in every part in (rounded) proportion to the split.
    """
    fractions = _check_split(split)
    y = np.asarray(y)
    indices = np.arange(len(y))
    counts = np.bincount(y) if y.size else np.array([])
    smallest = counts[counts > 0].min() if counts.size else 0
    if smallest < 3:
        raise ValueError(f"every class needs at least 3 examples to appear in train, val and test; "
                         f"the smallest class has {smallest}")
    train_frac, val_frac, test_frac = fractions
    train_idx, rest_idx = _stratified_two_way(indices, y, train_frac, seed)
    val_share = val_frac / (val_frac + test_frac)
    val_idx, test_idx = _stratified_two_way(rest_idx, y[rest_idx], val_share, seed)
    return np.sort(train_idx), np.sort(val_idx), np.sort(test_idx)


def _make(name, X, y, class_names, normalization, provenance, split, seed, **extra) -> Dataset:
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if X.ndim < 2 or len(X) != len(y):
        raise ValueError(f"{name}: expected X of shape (n, ...) and y of shape (n,), "
                         f"got X {X.shape} and y {y.shape}")
    if y.min() < 0 or y.max() >= len(class_names):
        raise ValueError(f"{name}: labels must be class indices 0..{len(class_names) - 1}, "
                         f"found {y.min()}..{y.max()}")
    train, val, test = split_stratified(y, split, seed)
    return Dataset(name=name, X_train=X[train], y_train=y[train], X_val=X[val], y_val=y[val],
                   X_test=X[test], y_test=y[test], class_names=tuple(class_names),
                   input_shape=tuple(X.shape[1:]), normalization=normalization,
                   provenance=provenance, seed=seed, extra=extra)


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[..., Dataset]] = {}


def register(name: str):
    """Decorator that adds a loader ``f(split, seed) -> Dataset`` to the registry."""
    def decorate(loader):
        _REGISTRY[name] = loader
        return loader
    return decorate


def _recorded_names() -> list:
    if not DATASETS_DIR.is_dir():
        return []
    return sorted(p.name for p in DATASETS_DIR.iterdir() if (p / "meta.json").is_file())


def available() -> list:
    """Names :func:`load` accepts: built-in loaders, then datasets recorded into ``datasets/``."""
    return sorted(_REGISTRY) + [n for n in _recorded_names() if n not in _REGISTRY]


def load(name: str = "digits", *, split=DEFAULT_SPLIT, seed: int = 0) -> Dataset:
    """Load a dataset by name, normalized and split.

    Parameters
    ----------
    name : str
        One of :func:`available`. ``"digits"`` (offline, ships with scikit-learn) is the
        default for every lesson; ``"mnist"`` needs the network once.
    split : three floats
        Fractions (train, val, test), each in (0, 1), adding up to 1.
    seed : int
        Seed of the stratified split; the same seed gives the same split.

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones) or bad split fractions.
    DatasetUnavailableError
        The dataset needs a download that cannot happen here.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, one of {available()}, got {name!r}")
    _check_split(split)
    if name in _REGISTRY:
        return _REGISTRY[name](split=split, seed=seed)
    if name in _recorded_names():
        return load_recorded(DATASETS_DIR / name, split=split, seed=seed)
    raise ValueError(f"unknown dataset {name!r}; choose one of {available()}")


# --------------------------------------------------------------------------- digits

def _package_folder(name: str) -> Path | None:
    """The folder of the installed package ``name``, found without importing it (None when
    it is not installed)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def digits_arrays() -> tuple:
    """sklearn's digits as ``(images, target)``: 1797 images 8x8 of counts 0..16 (float64)
    and their digits, read from the CSV scikit-learn ships (``datasets/data/digits.csv.gz``),
    exactly what ``sklearn.datasets.load_digits`` returns, without importing scikit-learn
    (1.2 s and 80 MB: the draw-a-digit app's kernel does without).

    Raises
    ------
    DatasetUnavailableError
        scikit-learn is not installed, or its copy lacks the file; the message names the fix.
    """
    import gzip

    package = _package_folder("sklearn")
    path = None if package is None else package / "datasets" / "data" / "digits.csv.gz"
    if path is None or not path.is_file():
        raise DatasetUnavailableError(
            "the digits come inside the scikit-learn package, which is not installed"
            if package is None else f"scikit-learn is installed but {path} is missing",
            hint="pip install --force-reinstall scikit-learn  (or: make lab)")
    with gzip.open(path, "rt") as rows:
        table = np.loadtxt(rows, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)


@register("digits")
def _load_digits(split=DEFAULT_SPLIT, seed=0) -> Dataset:
    images, target = digits_arrays()
    images = images.astype(np.float32)[..., np.newaxis]  # (1797, 8, 8, 1), values 0..16
    normalization = {"raw_range": [0.0, 16.0], "offset": 0.0, "scale": 1.0 / 16.0,
                     "description": "pixel counts 0..16 divided by 16, giving [0, 1]"}
    provenance = {
        "source": "scikit-learn sklearn.datasets.load_digits (UCI Optical Recognition of "
                  "Handwritten Digits, test part)",
        "how_made": "13 writers (the UCI test part; 30 others wrote the training part, not "
                    "shipped); 32x32 bitmaps cut into 4x4 blocks, each pixel the count of "
                    "set bits in its block (0..16). A random split puts each writer on both "
                    "sides",
        "citation": "Alpaydin & Kaynak (1998), UCI Machine Learning Repository",
        "offline": True,
    }
    return _make("digits", images / 16.0, target, [str(c) for c in range(10)], normalization,
                 provenance, split, seed)


# --------------------------------------------------------------------------- mnist

#: Host Keras downloads MNIST from; a module constant so tests can point it elsewhere.
MNIST_HOST = "storage.googleapis.com"
MNIST_FILE = "mnist.npz"
MNIST_BYTES = 11_490_434
MNIST_STALL_TIMEOUT_S = 30.0


def _keras_cache_dir() -> Path:
    """Keras' own dataset cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``)."""
    import os
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _can_reach(host: str, port: int = 443, timeout_s: float = 3.0) -> str | None:
    """None if a TCP connection to host:port opens within the timeout, else the reason."""
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as error:
        return f"{type(error).__name__}: {error} after {time.monotonic() - start:.1f} s"


@register("mnist")
def _load_mnist(split=DEFAULT_SPLIT, seed=0, timeout_s: float = 3.0) -> Dataset:
    cache = _keras_cache_dir() / MNIST_FILE
    if not cache.is_file():
        reason = _can_reach(MNIST_HOST, timeout_s=timeout_s)
        if reason is not None:
            raise DatasetUnavailableError(
                f"MNIST is not cached on this machine ({cache}) and needs the network once to "
                f"download {MNIST_BYTES / 1e6:.1f} MB from {MNIST_HOST}, which could not be "
                f"reached ({reason}). Connect once (Binder can), or use "
                f"tl.data.load('digits'), which ships with scikit-learn and works offline.")
    from ._tensorflow import keras

    previous_timeout = socket.getdefaulttimeout()
    # Keras' download has no timeout of its own: a proxy that accepts and then stalls would
    # hang the lesson. 30 s without a byte is a failure.
    socket.setdefaulttimeout(MNIST_STALL_TIMEOUT_S)
    try:
        # An absolute path makes Keras use exactly the file checked above.
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path=str(cache))
    except Exception as error:  # Keras raises a bare Exception on a failed fetch
        raise DatasetUnavailableError(
            f"MNIST could not be downloaded from {MNIST_HOST} into {cache} ({error}). It needs "
            f"the network once; or use tl.data.load('digits'), which ships with scikit-learn "
            f"and works offline.") from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
    images = np.concatenate([x_train, x_test]).astype(np.float32)[..., np.newaxis]
    labels = np.concatenate([y_train, y_test])
    normalization = {"raw_range": [0.0, 255.0], "offset": 0.0, "scale": 1.0 / 255.0,
                     "description": "8-bit grey levels 0..255 divided by 255, giving [0, 1]"}
    provenance = {"source": "keras.datasets.mnist (LeCun, Cortes & Burges)",
                  "cache": str(cache), "offline": False}
    return _make("mnist", images / 255.0, labels, [str(d) for d in range(10)],
                 normalization, provenance, split, seed)


# --------------------------------------------------------------------------- recorded datasets

_META_KEYS = ("name", "label_column", "feature_columns", "class_names", "input_shape",
              "normalization", "provenance")


def load_recorded(folder, *, split=DEFAULT_SPLIT, seed: int = 0,
                  standardize: bool = False) -> Dataset:
    """Load a dataset recorded into a folder: ``data.csv`` + ``meta.json`` (+ ``README.md``).

    ``meta.json`` holds ``name``, ``label_column``, ``feature_columns`` (list of CSV column
    names, in the order they fill ``input_shape``), ``class_names``, ``input_shape``,
    ``normalization`` (``offset``, ``scale``, ``raw_range``, ``description``) and
    ``provenance``. Each CSV row is one example with raw feature values and its label as a
    class name. See ``datasets/README.md``.

    ``standardize=True`` standardizes each channel (the last axis) on the training split
    (:func:`standardize_channels`), as ``gestures`` and ``basicmotions`` load: the same
    preprocessing for TinyLab's captures and the UEA recordings (lesson ``09_gestures``).
    """
    raw, labels, class_names, meta = _read_recorded(folder)
    norm = dict(meta["normalization"])
    X = (raw - float(norm["offset"])) * float(norm["scale"])
    dataset = _make(meta["name"], X, labels, class_names, norm, dict(meta["provenance"]),
                    split, seed)
    return standardize_channels(dataset) if standardize else dataset


def _read_recorded(folder) -> tuple:
    """A recorded folder's raw examples (file order), labels, class names and meta.json."""
    folder = Path(folder)
    meta_path, csv_path = folder / "meta.json", folder / "data.csv"
    for path in (meta_path, csv_path):
        if not path.is_file():
            raise ValueError(f"recorded dataset {folder} has no {path.name}; a recorded dataset "
                             f"is a folder with data.csv and meta.json (see datasets/README.md)")
    meta = json.loads(meta_path.read_text())
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"{meta_path} lacks {missing}; it needs all of {list(_META_KEYS)}")
    features, class_names = list(meta["feature_columns"]), list(meta["class_names"])
    input_shape = tuple(int(d) for d in meta["input_shape"])
    if int(np.prod(input_shape)) != len(features):
        raise ValueError(f"{meta_path}: input_shape {input_shape} holds {int(np.prod(input_shape))} "
                         f"values but feature_columns names {len(features)}")
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in features + [meta["label_column"]] if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{csv_path} lacks the columns {absent} that meta.json names; "
                             f"its header is {reader.fieldnames}")
        rows, labels = [], []
        for line_no, row in enumerate(reader, start=2):
            label = row[meta["label_column"]]
            if label not in class_names:
                raise ValueError(f"{csv_path} line {line_no}: label {label!r} is not one of "
                                 f"{class_names}")
            try:
                rows.append([float(row[c]) for c in features])
            except (TypeError, ValueError):
                raise ValueError(f"{csv_path} line {line_no}: a feature value is not a number") from None
            labels.append(class_names.index(label))
    if not rows:
        raise ValueError(f"{csv_path} has a header but no examples; add one row per example")
    raw = np.asarray(rows, dtype=np.float32).reshape((-1,) + input_shape)
    return raw, np.asarray(labels, dtype=np.int64), class_names, meta


def channel_statistics(X_train, *, min_std: float = 1e-6) -> tuple:
    """Mean and standard deviation of each channel (the last axis) over the training examples.

    The statistics :func:`standardize_channels` and :func:`tinylab.crossval.cross_validate`
    (per fold) standardize with: over every time step of every example given, so pass the
    *training* examples only.

    Parameters
    ----------
    X_train : array_like, shape (n, ..., channels)
        Raw values, in the sensor's units.
    min_std : float
        Floor of the std (a constant channel is divided by this, not by 0).

    Returns
    -------
    (mean, std) : two float64 arrays of shape (channels,), in the units of ``X_train``.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    if X_train.ndim < 2 or len(X_train) == 0:
        raise ValueError(f"channel_statistics needs examples (n, ..., channels) with n >= 1, got "
                         f"shape {X_train.shape}")
    axes = tuple(range(X_train.ndim - 1))
    return X_train.mean(axis=axes), np.maximum(X_train.std(axis=axes), min_std)


def channel_normalization(X_train, channels=None, *, statistics_from: str, raw_range=None,
                          min_std: float = 1e-6) -> dict:
    """A per-channel ``normalization`` (as :class:`Dataset` keeps one) from raw training examples.

    ``offset`` = mean and ``scale`` = 1 / std per channel (:func:`channel_statistics`), with
    the ``mean`` and ``std`` a board applies to its raw readings
    (:func:`tinylab.engine.raw_input`). :func:`standardize_channels` makes a dataset's;
    :class:`tinylab.motion.FoldScorer` one per cross-validation fold.

    Parameters
    ----------
    X_train : array_like, shape (n, ..., channels)
        Raw training examples only.
    channels : sequence of str, optional
        Channel names (default ``ch0``, ``ch1``, ...).
    statistics_from : str
        What the statistics were computed on, in words (kept in the dict).
    raw_range : [low, high], optional
        The raw values' range, kept when given.
    min_std : float
        As in :func:`channel_statistics`.
    """
    mean, std = channel_statistics(X_train, min_std=min_std)
    names = list(channels) if channels else [f"ch{c}" for c in range(len(mean))]
    if len(names) != len(mean):
        raise ValueError(f"channels names {len(names)} channels, the examples have {len(mean)}")
    normalization = {
        "per_channel": True, "channels": names,
        "offset": [float(m) for m in mean], "scale": [float(1.0 / s) for s in std],
        "mean": [float(m) for m in mean], "std": [float(s) for s in std],
        "statistics_from": statistics_from,
    }
    if raw_range is not None:
        normalization["raw_range"] = [float(v) for v in raw_range]
    normalization["description"] = ("each channel standardized on the training split: "
                                     "x = (raw - mean) / std, per channel (last axis)")
    return normalization


def standardize_channels(dataset: Dataset, *, min_std: float = 1e-6) -> Dataset:
    """The dataset with each channel (the last axis) standardized on its training split.

    ``x = (raw - mean_c) / std_c``, with the mean and standard deviation of channel ``c`` over
    every time step of every *training* example only (validation and test data must not
    leak into the preprocessing). For an IMU window ``(50, 6)`` that puts acceleration (g)
    and rotation rate (deg/s) on the same footing, so that one int8 input scale gives each of
    them many levels (lesson ``09_gestures``). The statistics are kept in
    ``normalization`` (``offset`` = mean, ``scale`` = 1 / std, lists of one value per
    channel): a board applies the same transform to its raw readings before quantizing them.

    Parameters
    ----------
    dataset : Dataset
        Raw or already-normalized values; they are first taken back to raw units
        (:meth:`Dataset.raw`).
    min_std : float
        A channel whose training std is below this (a constant channel) is divided by it.

    Returns
    -------
    Dataset
        A new Dataset: same split and seed, ``normalization`` with ``per_channel: True``.
    """
    if len(dataset.input_shape) < 1:
        raise ValueError("standardize_channels needs examples with a channel axis")
    everything = np.concatenate([dataset.raw(X) for X in (dataset.X_train, dataset.X_val,
                                                          dataset.X_test)])
    normalization = channel_normalization(
        dataset.raw(dataset.X_train), dataset.provenance.get("channels"),
        statistics_from=f"training split ({len(dataset.y_train)} examples, seed {dataset.seed})",
        raw_range=[float(everything.min()), float(everything.max())], min_std=min_std)
    standardized = replace(dataset, normalization=normalization)
    return replace(standardized, **{name: standardized.normalize(dataset.raw(getattr(dataset, name)))
                                    for name in ("X_train", "X_val", "X_test")})


@register("gestures")
def _load_gestures(split=DEFAULT_SPLIT, seed=0) -> Dataset:
    """datasets/gestures/ (simulated IMU windows, 50 x 6), each channel standardized on the
    training split (:func:`standardize_channels`): raw, the accelerometer's few g would get
    only a handful of int8 levels beside the gyroscope's hundreds of deg/s."""
    folder = DATASETS_DIR / "gestures"
    if not (folder / "meta.json").is_file():
        raise DatasetUnavailableError(f"the gestures recording is not at {folder}: it comes with a "
                                      f"TinyLab checkout (git clone), not with the package alone")
    return standardize_channels(load_recorded(folder, split=split, seed=seed))


# --------------------------------------------------------------------------- BasicMotions (UEA)

#: TinyLab's order of BasicMotions' classes, from still to most vigorous (the archive's own
#: order, ``Standing Running Walking Badminton``, is kept in the provenance).
BASICMOTIONS_CLASSES = ("standing", "walking", "running", "badminton")

#: BasicMotions' six dimensions in file order, taken as accelerometer then gyroscope, x, y, z
#: (the archive does not name them).
BASICMOTIONS_CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")

BASICMOTIONS_FIX = "pip install sktime  (or: make lab, which installs it)"

BASICMOTIONS_CITATION = ("A. Bagnall, H. A. Dau, J. Lines, M. Flynn, J. Large, A. Bostrom, P. "
                         "Southam, E. Keogh, \"The UEA multivariate time series classification "
                         "archive, 2018\", arXiv:1811.00075")


class Recordings(NamedTuple):
    """Whole recordings in raw units, unsplit and unnormalized: what cross-validation needs.

    Unpacks as ``X, y, class_names, provenance = tl.data.basicmotions_recordings()``.

    Attributes
    ----------
    X : ndarray of float32, shape (n, steps, channels)
        Raw sensor values (channels last).
    y : ndarray of int64, shape (n,)
        Class indices into ``class_names``.
    class_names : tuple of str
    provenance : dict
    """

    X: np.ndarray
    y: np.ndarray
    class_names: tuple
    provenance: dict


def basicmotions_folder() -> Path:
    """Where the installed sktime keeps BasicMotions' ``.ts`` files (sktime is not imported).

    Raises
    ------
    DatasetUnavailableError
        sktime is not installed, or its copy lacks the files; the message names the fix.
    """
    package = _package_folder("sktime")
    if package is None:
        raise DatasetUnavailableError(
            "BasicMotions (UEA archive) comes inside the sktime package, which is not installed",
            hint=BASICMOTIONS_FIX)
    folder = package / "datasets" / "data" / "BasicMotions"
    if not all((folder / f"BasicMotions_{part}.ts").is_file() for part in ("TRAIN", "TEST")):
        raise DatasetUnavailableError(
            f"sktime is installed but BasicMotions_TRAIN.ts and _TEST.ts are not in {folder}",
            hint="pip install --force-reinstall sktime  (or: make lab)")
    return folder


def read_ts(path) -> tuple:
    """Read a ``.ts`` file of the UEA/UCR archive: equal-length series with class labels.

    The format: ``#`` comment lines, ``@`` header lines (``@dimensions 6``,
    ``@classLabel true A B``, ..., ``@data``), then one example per line, its dimensions
    separated by ``:`` and their values by ``,``, the class label last. Missing values and
    time stamps are not supported (BasicMotions has neither).

    Returns
    -------
    X : ndarray of float32, shape (n, steps, dimensions)
        Channels last, as every TinyLab dataset.
    labels : list of str
    header : dict
        The ``@`` lines (lower-case keys, values as written) and ``comment``, the ``#`` text.
    """
    path = Path(path)
    header, comment, X, labels = {}, [], [], []
    in_data = False
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            comment.append(line[1:].strip())
        elif not in_data and line.startswith("@"):
            key, _, value = line[1:].partition(" ")
            header[key.lower()] = value.strip()
            in_data = key.lower() == "data"
        elif in_data:
            *dims, label = line.split(":")
            try:
                X.append([[float(v) for v in dim.split(",")] for dim in dims])
            except ValueError:
                raise ValueError(f"{path} line {line_no}: a value is not a number (missing values "
                                 f"'?' are not supported)") from None
            if ({len(d) for d in X[-1]} != {len(X[0][0])}) or len(X[-1]) != len(X[0]):
                raise ValueError(f"{path} line {line_no}: dimensions of unequal length or count "
                                 f"(TinyLab reads equal-length series only)")
            labels.append(label.strip())
        else:
            raise ValueError(f"{path} line {line_no}: data before the @data line")
    if not X:
        raise ValueError(f"{path} holds no examples after its @data line")
    header["comment"] = " ".join(comment)
    return np.asarray(X, dtype=np.float32).transpose(0, 2, 1), labels, header


def _basicmotions_provenance(folder: Path, header: dict) -> dict:
    return {
        "source": f"BasicMotions_TRAIN.ts + BasicMotions_TEST.ts of the UEA multivariate time "
                  f"series classification archive, as shipped inside the installed sktime "
                  f"package ({folder}); read by TinyLab's own .ts reader, no download",
        "archive": "UEA & UCR Time Series Classification Repository, timeseriesclassification.com "
                   "(BasicMotions, donated by Jack Clements, University of East Anglia)",
        "path": str(folder),
        "how_made": "a student project: four students each performed four activities (standing, "
                    "walking, running, badminton) wearing a smartwatch that recorded its 3D "
                    "accelerometer and 3D gyroscope at 10 Hz for 10 s (100 rows); each "
                    "participant recorded each activity five times. 80 recordings, 20 per "
                    "class. The file's comment: " + header.get("comment", ""),
        "citation": BASICMOTIONS_CITATION,
        "licence": "not stated: the UEA archive gives no licence for the data; sktime "
                   "redistributes it inside its BSD-3-Clause package",
        "offline": True,
        "board": "a smartwatch (model not stated)",
        "sensor": "the watch's 3D accelerometer and 3D gyroscope (parts not stated)",
        "sample_rate_hz": 10.0,
        "window_rows": 100,
        "channels": list(BASICMOTIONS_CHANNELS),
        "units": {"ax": "m/s²?", "ay": "m/s²?", "az": "m/s²?",
                  "gx": "rad/s?", "gy": "rad/s?", "gz": "rad/s?"},
        "units_note": "the archive states neither units nor axes. The accelerometer is probably "
                      "in m/s² with gravity removed (standing averages near 0 on every axis; "
                      "running and badminton reach about 27-29), the gyroscope probably in "
                      "rad/s (up to about 35). Channel order assumed: the six dimensions as they "
                      "come, accelerometer x, y, z then gyroscope x, y, z; the axes' orientation "
                      "on the wrist is not known",
        "simulated": False,
        "date": "2018 (the UEA archive's release; when the recordings were made is not stated)",
        "groups_known": False,
        "groups_note": "which student made each recording is not stated, so folds cannot be "
                       "grouped by person: the same person's recordings land in both training "
                       "and test parts, and accuracy on a new person may be lower than measured",
        "archive_split": "recordings 0-39 are the archive's TRAIN file, 40-79 its TEST file "
                         "(10 per class each); TinyLab splits all 80 itself",
        "archive_class_labels": header.get("classlabel", "").split()[1:],
    }


def basicmotions_recordings() -> Recordings:
    """BasicMotions' 80 recordings in raw units: X (80, 100, 6) float32, unsplit.

    The archive's TRAIN file (recordings 0-39), then its TEST file (40-79); labels are
    indices into :data:`BASICMOTIONS_CLASSES`. What :func:`tinylab.crossval.cross_validate`
    takes (it standardizes each fold on that fold's training part). Introduced in lesson
    ``09_gestures``.

    Raises
    ------
    DatasetUnavailableError
        sktime (which ships the files) is not installed: ``pip install sktime`` or ``make lab``.
    """
    folder = basicmotions_folder()
    parts = [read_ts(folder / f"BasicMotions_{part}.ts") for part in ("TRAIN", "TEST")]
    X = np.concatenate([part[0] for part in parts])
    labels = [label.lower() for part in parts for label in part[1]]
    unknown = sorted(set(labels) - set(BASICMOTIONS_CLASSES))
    if unknown or X.shape[1:] != (100, len(BASICMOTIONS_CHANNELS)):
        raise DatasetUnavailableError(
            f"{folder} does not hold BasicMotions as TinyLab knows it (classes {unknown} or "
            f"shape {X.shape[1:]} instead of (100, 6))", hint="pip install --force-reinstall sktime")
    y = np.asarray([BASICMOTIONS_CLASSES.index(label) for label in labels], dtype=np.int64)
    return Recordings(X, y, BASICMOTIONS_CLASSES, _basicmotions_provenance(folder, parts[0][2]))


@register("basicmotions")
def _load_basicmotions(split=DEFAULT_SPLIT, seed=0) -> Dataset:
    """BasicMotions (UEA archive, inside sktime): 80 real smartwatch recordings (100 x 6 at
    10 Hz) of standing, walking, running and badminton, each channel standardized on the
    training split (:func:`standardize_channels`)."""
    X, y, class_names, provenance = basicmotions_recordings()
    low, high = float(X.min()), float(X.max())
    identity = {"offset": 0.0, "scale": 1.0, "raw_range": [low, high],
                "description": "raw sensor values, unscaled"}
    return standardize_channels(_make("basicmotions", X, y, class_names, identity, provenance,
                                      split, seed))


def recordings(source, *, seed: int = 0) -> Recordings:
    """All examples of a dataset in raw units, unsplit: the input of cross-validation.

    Parameters
    ----------
    source : str, Path or Dataset
        ``"basicmotions"``; the name of a recorded dataset in ``datasets/`` or the path of
        such a folder (a :func:`tinylab.capture.save_dataset` output): its rows in file
        order; or a :class:`Dataset` (its train, validation and test parts concatenated, in
        that order, taken back to raw units with :meth:`Dataset.raw`).
    seed : int
        The split seed, for a registered name other than these (e.g. ``"digits"``).

    Returns
    -------
    Recordings
        ``X`` (n, ..., channels) float32 raw, ``y`` (n,) int64, ``class_names``, ``provenance``.
    """
    if isinstance(source, Dataset):
        X = np.concatenate([source.raw(part) for part in (source.X_train, source.X_val,
                                                         source.X_test)])
        y = np.concatenate([source.y_train, source.y_val, source.y_test]).astype(np.int64)
        return Recordings(X, y, tuple(source.class_names), dict(source.provenance))
    if isinstance(source, (str, os.PathLike)):
        if source == "basicmotions":
            return basicmotions_recordings()
        folder = Path(source)
        if not (folder / "meta.json").is_file() and str(source) in _recorded_names():
            folder = DATASETS_DIR / str(source)
        if (folder / "meta.json").is_file():
            raw, labels, class_names, meta = _read_recorded(folder)
            return Recordings(raw, labels, tuple(class_names), dict(meta["provenance"]))
        if str(source) in _REGISTRY:
            return recordings(load(str(source), seed=seed))
    raise ValueError(f"recordings() takes a Dataset, 'basicmotions', a recorded dataset's name "
                     f"or folder; got {source!r} (names: {available()})")


def cut_windows(X, y, length: int, hop: int) -> tuple:
    """Cut each recording into windows of ``length`` steps, ``hop`` steps apart.

    Windows start at 0, ``hop``, ``2 * hop``, ... and fit wholly inside their recording (a
    tail shorter than ``length`` is dropped). Split the *recordings* first (or pass
    ``source`` as ``groups`` to :func:`tinylab.crossval.cross_validate`): overlapping windows
    of one recording on both sides of a split would flatter the test accuracy.

    Parameters
    ----------
    X : array_like, shape (n, steps, channels)
    y : array_like, shape (n,)
    length, hop : int
        Steps per window (1..steps), and between window starts (>= 1; ``hop < length``
        overlaps them).

    Returns
    -------
    windows : ndarray of float32, shape (n * k, length, channels)
        ``k = (steps - length) // hop + 1`` windows per recording, recording by recording.
    y_windows : ndarray, shape (n * k,)
        The label of each window's recording.
    source : ndarray of int64, shape (n * k,)
        Which recording (index into ``X``) each window came from.

    Examples
    --------
    >>> windows, labels, source = cut_windows(np.zeros((2, 10, 3)), [0, 1], length=4, hop=3)
    >>> windows.shape, labels.tolist(), source.tolist()
    ((6, 4, 3), [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1])
    """
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
    if X.ndim != 3 or y.shape != (len(X),):
        raise ValueError(f"cut_windows needs X of shape (n, steps, channels) and y of shape (n,), "
                         f"got {X.shape} and {y.shape}")
    length, hop = int(length), int(hop)
    if not 1 <= length <= X.shape[1] or hop < 1:
        raise ValueError(f"length must be 1..{X.shape[1]} steps and hop >= 1, got length={length}, "
                         f"hop={hop}")
    starts = np.arange(0, X.shape[1] - length + 1, hop)
    windows = np.stack([X[:, start:start + length] for start in starts], axis=1)
    source = np.repeat(np.arange(len(X)), len(starts))
    return windows.reshape(-1, length, X.shape[2]), y[source], source


# --------------------------------------------------------------------------- your own digits

#: Side of the bitmap the UCI digits were drawn on, and of the blocks counted into one pixel.
DIGIT_BITMAP_SIDE = 32
DIGIT_BLOCK_SIDE = 4


def downsample_to_digits(bitmap) -> np.ndarray:
    """A 32x32 bitmap -> an 8x8 image of counts 0..16, the way sklearn's digits were made.

    The bitmap is cut into non-overlapping 4x4 blocks and each output pixel counts the set
    ("on", non-zero) pixels of its block, so a full block gives 16 and an empty one 0.
    Introduced in lesson ``01_data`` (the drawing pad).

    Parameters
    ----------
    bitmap : array_like of bool or 0/1, shape (32, 32)
        Row-major, row 0 at the top. Any non-zero value counts as on.

    Returns
    -------
    ndarray of int64, shape (8, 8)
        Raw pixel counts 0..16 (normalize with ``Dataset.normalize``).

    Examples
    --------
    >>> bitmap = np.zeros((32, 32), dtype=bool); bitmap[:4, :4] = True; bitmap[31, 31] = True
    >>> counts = downsample_to_digits(bitmap)
    >>> int(counts[0, 0]), int(counts[7, 7]), int(counts.sum())
    (16, 1, 17)
    """
    bitmap = np.asarray(bitmap)
    side, block = DIGIT_BITMAP_SIDE, DIGIT_BLOCK_SIDE
    if bitmap.shape != (side, side):
        raise ValueError(f"bitmap must have shape ({side}, {side}), got {bitmap.shape}; "
                         "rasterize strokes first with rasterize_strokes(strokes, canvas_size)")
    on = (bitmap != 0).astype(np.int64)
    n = side // block
    return on.reshape(n, block, n, block).sum(axis=(1, 3))


#: The share of a UCI digit's 32x32 bitmap that is ink: sklearn's digits sum to 305 counts of
#: 1,024 on average (303 for 7s to 330 for 8s, 313 for 1s), whatever the digit.
DIGIT_INK_FRACTION = 0.30


def digit_from_strokes(strokes, canvas_size: float, *, ink: float = DIGIT_INK_FRACTION,
                       side: int = DIGIT_BITMAP_SIDE) -> np.ndarray:
    """Pen strokes -> the 8x8 counts 0..16 of a digit, made as the UCI digits were.

    NIST's preprocessing, which made the UCI bitmaps, normalized each digit's size: its
    bounding box fills the 32x32 box (the larger side spans it, the other is centred; a 1
    fills the height, thick). Its pens were also thick: every digit is about 30% ink
    (:data:`DIGIT_INK_FRACTION`), a 1 as much as an 8. So this scales the strokes' bounding
    box to the box, then widens the pen, by bisection, until the bitmap holds ``ink`` of its
    pixels, and counts 4x4 blocks (:func:`downsample_to_digits`). Where on the canvas the
    student draws, and how big, then no longer matters. Introduced in lesson ``01_data`` (the
    drawing pad).

    Parameters
    ----------
    strokes : sequence of sequences of (x, y)
        Points in canvas pixels, as for :func:`rasterize_strokes`.
    canvas_size : float
        Side of the square canvas, in canvas pixels (> 0).
    ink : float
        Share of the bitmap to cover, in (0, 1).
    side : int
        Side of the bitmap (32).

    Returns
    -------
    ndarray of int64, shape (8, 8)
        All zeros when there is no point.
    """
    if not 0 < ink < 1:
        raise ValueError(f"ink must be a share of the bitmap between 0 and 1, got {ink!r}")
    rasterize_strokes([], canvas_size, side=side)  # the same checks of canvas_size and side
    strokes = [stroke for stroke in strokes if len(stroke)]
    if not strokes:
        return downsample_to_digits(np.zeros((side, side), dtype=bool))
    points = np.concatenate([np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
                             for stroke in strokes])
    if not np.all(np.isfinite(points)):
        raise ValueError("strokes must hold finite (x, y) points")
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float(max(high - low))
    centre = (low + high) / 2

    def bitmap(pen: float) -> np.ndarray:
        # the larger side spans the box less the pen's width, so the thick stroke reaches the
        # edges; the bitmap is drawn at 1 canvas unit per pixel
        span = max(side - pen, 1.0)
        scale = span / extent if extent > 0 else 0.0
        moved = [(np.asarray(stroke, dtype=np.float64).reshape(-1, 2) - centre) * scale + side / 2
                 for stroke in strokes]
        return rasterize_strokes(moved, side, pen_width=pen, side=side)

    thin, thick = 1.0, side / 2
    thickest = bitmap(thick)
    if thickest.mean() <= ink:  # a dot or a tiny scribble: as thick as it gets
        return downsample_to_digits(thickest)
    for _ in range(12):  # to a hundredth of a pixel
        pen = (thin + thick) / 2
        drawn = bitmap(pen)
        if drawn.mean() < ink:
            thin = pen
        else:
            thick, thickest = pen, drawn
    return downsample_to_digits(thickest)


def _within_reach(side: int, cell: float, starts, ends, radius: float,
                  chunk: int = 16) -> np.ndarray:
    """The ``side`` x ``side`` pixels (of ``cell`` canvas units) whose centre lies within
    ``radius`` of one of the segments ``starts[i]``-``ends[i]`` (s, 2 each; a segment of
    length 0 is its point).

    All the segments of a chunk at once, and only over the pixels near them: a window around
    the chunk's segments, ``radius`` plus a pixel wide, outside which no centre can be within
    reach. A digit (:func:`digit_from_strokes`) rasterizes its strokes thirteen times, and a
    room of thirty drawing at once does it on one server: this takes about a tenth of the time
    of measuring every pixel against every segment, with the same pixels on (each centre's
    distance is computed by the same operations, only never for a pixel out of reach).
    """
    on = np.zeros((side, side), dtype=bool)
    margin = radius + cell
    for at in range(0, len(starts), chunk):
        s, e = starts[at:at + chunk], ends[at:at + chunk]
        low = np.minimum(s.min(axis=0), e.min(axis=0)) - margin
        high = np.maximum(s.max(axis=0), e.max(axis=0)) + margin
        c0, r0 = (max(int(np.floor(v / cell - 0.5)), 0) for v in low)
        c1, r1 = (min(int(np.ceil(v / cell - 0.5)) + 1, side) for v in high)
        if c0 >= c1 or r0 >= r1:
            continue
        cx = np.tile((np.arange(c0, c1) + 0.5) * cell, r1 - r0)[:, None]
        cy = np.repeat((np.arange(r0, r1) + 0.5) * cell, c1 - c0)[:, None]
        sx, sy = s[:, 0], s[:, 1]
        dx, dy = e[:, 0] - sx, e[:, 1] - sy
        length_sq = dx * dx + dy * dy
        px, py = cx - sx, cy - sy
        t = px * dx
        t += py * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t /= length_sq
        np.clip(t, 0.0, 1.0, out=t)
        t[:, length_sq <= 0] = 0.0
        px -= t * dx
        py -= t * dy
        px *= px
        py *= py
        px += py
        np.sqrt(px, out=px)
        on[r0:r1, c0:c1] |= (px <= radius).any(axis=1).reshape(r1 - r0, c1 - c0)
    return on.ravel()


def rasterize_strokes(strokes, canvas_size: float, *, pen_width: float = 16.0,
                      side: int = DIGIT_BITMAP_SIDE) -> np.ndarray:
    """Pen strokes on a square canvas -> a ``side`` x ``side`` bitmap (True where the pen went).

    Each stroke is a polyline through its points; a bitmap pixel is on when its centre, in
    canvas units, lies within ``pen_width / 2`` of a segment, and the pixel under every point
    is always on (a thin pen still leaves a mark). Introduced in lesson ``01_data``.

    Parameters
    ----------
    strokes : sequence of sequences of (x, y)
        Points in canvas pixels, x to the right, y down (as the mouse reports them).
        Points outside the canvas are clipped to its edge.
    canvas_size : float
        Side of the square canvas, in canvas pixels (> 0).
    pen_width : float
        Width of the pen, in canvas pixels (>= 0); 16 on a 256-pixel canvas is 2 bitmap pixels.
    side : int
        Side of the bitmap (32 for :func:`downsample_to_digits`).

    Returns
    -------
    ndarray of bool, shape (side, side)
    """
    if not (isinstance(canvas_size, (int, float, np.number)) and canvas_size > 0):
        raise ValueError(f"canvas_size must be a positive number of pixels, got {canvas_size!r}")
    if not (isinstance(pen_width, (int, float, np.number)) and pen_width >= 0):
        raise ValueError(f"pen_width must be a number of pixels >= 0, got {pen_width!r}")
    if not (isinstance(side, (int, np.integer)) and side > 0):
        raise ValueError(f"side must be a positive whole number, got {side!r}")
    cell = float(canvas_size) / side
    bitmap = np.zeros(side * side, dtype=bool)
    for number, stroke in enumerate(strokes):
        try:
            points = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError):
            points = None
        if points is not None and points.size == 0:
            continue
        if points is None or points.ndim != 2 or points.shape[1] != 2 or not np.all(np.isfinite(points)):
            raise ValueError(f"stroke {number} must be a list of finite (x, y) points, got {stroke!r}")
        points = np.clip(points, 0.0, np.nextafter(float(canvas_size), 0.0))
        cells = np.floor(points / cell).astype(int)
        bitmap[cells[:, 1] * side + cells[:, 0]] = True
        starts, ends = (points[:-1], points[1:]) if len(points) > 1 else (points, points)
        bitmap |= _within_reach(side, cell, starts, ends, pen_width / 2)
    return bitmap.reshape(side, side)
