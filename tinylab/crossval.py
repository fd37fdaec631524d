"""k-fold cross-validation for small datasets, with honest intervals.

With 80 recordings (BasicMotions) a single test part of 12 gives an accuracy that moves by
8 points when one recording changes side. Cross-validation trains k models, each tested on
a different fifth of the recordings, so that every recording is tested exactly once, and
reports the spread. Each fold's per-channel standardization is computed on that fold's
training part only (the test part must not leak into the preprocessing), with the same
arithmetic as :func:`tinylab.data.standardize_channels`.

Two 95% intervals, both reported, because they answer different questions:

* **Student's t over the k fold accuracies**: ``mean ± t(k-1) · s / √k``. How much the
  accuracy of *this recipe* (model, training, preprocessing) varies with the data it is
  trained and tested on. The folds share most of their training data, so they are not
  independent and this interval is, if anything, too narrow (Bengio & Grandvalet 2004: no
  unbiased estimate of k-fold's variance exists); with k = 5 it rests on 5 numbers.
* **Wilson over the pooled held-out predictions**: the ``correct / total`` of all n test
  predictions (each recording once) as a binomial proportion. How precisely n test
  predictions pin an accuracy down: with 80 recordings and an accuracy of 90%, about ±7
  points. It counts recordings as independent, which recordings of the same person are not.

Neither says how the model does on a *new person* when the folds cannot be grouped by person
(BasicMotions does not say who recorded what): then both are optimistic.

Introduced in lesson ``09_gestures``.

Examples
--------
>>> folds = stratified_folds([0, 0, 0, 1, 1, 1], k=3, seed=0)
>>> [len(test) for _, test in folds], sorted(np.concatenate([test for _, test in folds]).tolist())
([2, 2, 2], [0, 1, 2, 3, 4, 5])
>>> [round(v, 3) for v in t_interval([0.8, 0.9, 1.0])]  # 0.9 ± 4.303 * 0.1 / √3
[0.652, 1.148]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from .data import channel_statistics

__all__ = ["stratified_folds", "cross_validate", "CrossValidation", "Fold", "t_interval",
           "wilson_interval", "CONFIDENCE"]

#: The confidence of the intervals reported.
CONFIDENCE = 0.95


def _check_k(k, y, groups=None) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ValueError(f"k must be a whole number of folds >= 2, got {k!r} (5 is usual; "
                         f"k = n is leave-one-out)")
    _, counts = np.unique(y, return_counts=True)
    if counts.size and k > counts.min():
        raise ValueError(f"k={k} folds need at least {k} examples of every class, the smallest "
                         f"class has {counts.min()}: choose k <= {counts.min()}")
    if groups is not None:
        n_groups = len(np.unique(groups))
        if k > n_groups:
            raise ValueError(f"k={k} folds need at least {k} groups, there are {n_groups}")
    return int(k)


def stratified_folds(y, k: int = 5, seed: int = 0, groups=None) -> list:
    """Seeded stratified k-fold split: ``k`` (train_idx, test_idx) pairs.

    Every index is in exactly one test part; each class is spread over the folds in
    proportion (scikit-learn's ``StratifiedKFold``, shuffled with ``seed``). With ``groups``
    (e.g. the recording each window was cut from, :func:`tinylab.data.cut_windows`'s
    ``source``), a group never straddles a fold (``StratifiedGroupKFold``).

    Parameters
    ----------
    y : array_like, shape (n,)
        Class labels.
    k : int
        Folds, 2 <= k <= the smallest class's count.
    seed : int
    groups : array_like, shape (n,), optional

    Returns
    -------
    list of (ndarray of int, ndarray of int)
        Sorted train and test indices of each fold.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y must be a non-empty array of labels, shape (n,), got {y.shape}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError(f"groups must have one value per example, shape {y.shape}, got "
                             f"{groups.shape}")
    k = _check_k(k, y, groups)
    if groups is None:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.sort(train), np.sort(test))
            for train, test in splitter.split(np.zeros(len(y)), y, groups)]


def t_interval(values, confidence: float = CONFIDENCE) -> tuple:
    """Student's t interval for the mean of ``values``: ``mean ± t(k-1) · s / √k``.

    ``s`` is the sample standard deviation (``ddof=1``). Returns ``(low, high)``, not clipped
    (an accuracy interval may cross 1; :class:`CrossValidation` clips for display).
    """
    from scipy.stats import t

    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        raise ValueError(f"a t interval needs at least 2 values, got {values.size}")
    mean = values.mean()
    half = t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return float(mean - half), float(mean + half)


def wilson_interval(correct: int, total: int, confidence: float = CONFIDENCE) -> tuple:
    """Wilson score interval for a proportion ``correct / total`` (always inside [0, 1]).

    ``(p + z²/2n ± z √(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``z`` the normal quantile.
    """
    from scipy.stats import norm

    if total < 1 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total >= 1, got {correct}/{total}")
    z = norm.ppf(0.5 + confidence / 2)
    p, n = correct / total, total
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


@dataclass(frozen=True)
class Fold:
    """One fold: its indices, the standardization its training part gave, its scores.

    ``mean`` and ``std`` (one value per channel, raw units) are what a board running this
    fold's model would apply to raw readings.
    """

    index: int
    train_idx: np.ndarray
    test_idx: np.ndarray
    mean: list
    std: list
    scores: dict

    @property
    def n_test(self) -> int:
        return len(self.test_idx)


@dataclass(frozen=True)
class CrossValidation:
    """The result of :func:`cross_validate`: per-fold scores, means and 95% intervals."""

    folds: list
    k: int
    seed: int
    n_examples: int
    confidence: float = CONFIDENCE
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def names(self) -> list:
        """Score names, in the order the fit function returned them (e.g. float, int8)."""
        return list(self.folds[0].scores)

    def scores(self, name: str) -> np.ndarray:
        """The k fold values of one score."""
        if name not in self.names:
            raise ValueError(f"no score {name!r}; the fit function returned {self.names}")
        return np.asarray([fold.scores[name] for fold in self.folds], dtype=np.float64)

    def mean(self, name: str) -> float:
        return float(self.scores(name).mean())

    def t_interval(self, name: str) -> tuple:
        """Student's t interval of the mean over folds, clipped to [0, 1]."""
        low, high = t_interval(self.scores(name), self.confidence)
        return max(0.0, low), min(1.0, high)

    def pooled(self, name: str) -> tuple:
        """(correct, total) over every held-out prediction (each example tested once)."""
        correct = sum(int(round(fold.scores[name] * fold.n_test)) for fold in self.folds)
        return correct, sum(fold.n_test for fold in self.folds)

    def wilson_interval(self, name: str) -> tuple:
        return wilson_interval(*self.pooled(name), self.confidence)

    def table(self) -> dict:
        """Plain data for plots and JSON: per score, fold values, mean, pooled and intervals."""
        rows = {}
        for name in self.names:
            correct, total = self.pooled(name)
            rows[name] = {"folds": self.scores(name).tolist(), "mean": self.mean(name),
                          "std": float(self.scores(name).std(ddof=1)),
                          "t_interval": list(self.t_interval(name)),
                          "pooled_correct": correct, "pooled_total": total,
                          "wilson_interval": list(self.wilson_interval(name))}
        return rows

    def to_text(self) -> str:
        """The result in plain words, one paragraph per score."""
        percent = round(100 * self.confidence)
        lines = [f"{self.k}-fold cross-validation of {self.n_examples} examples (seed {self.seed}); "
                 f"each fold standardized on its own training part."]
        for name, row in self.table().items():
            folds = ", ".join(f"{v:.1%}" for v in row["folds"])
            t_low, t_high = row["t_interval"]
            w_low, w_high = row["wilson_interval"]
            lines += [f"{name}: mean accuracy {row['mean']:.1%} over the folds ({folds}).",
                      f"  {percent}% t interval over the {self.k} folds: {t_low:.1%} to {t_high:.1%} "
                      f"(how much the accuracy moves with the data trained on).",
                      f"  {percent}% Wilson interval of the {row['pooled_total']} held-out "
                      f"predictions ({row['pooled_correct']} right): {w_low:.1%} to {w_high:.1%} "
                      f"(how precisely that many test examples measure it)."]
        return "\n".join(lines)


def cross_validate(X_raw, y, fit_and_score, *, k: int = 5, seed: int = 0, groups=None,
                   standardize: bool = True, min_std: float = 1e-6,
                   progress: bool = False) -> CrossValidation:
    """Train and score ``k`` times, each fold standardized on its own training part.

    Parameters
    ----------
    X_raw : array_like, shape (n, ..., channels)
        All examples in raw units (:func:`tinylab.data.basicmotions_recordings`,
        :func:`tinylab.data.recordings`).
    y : array_like of int, shape (n,)
    fit_and_score : callable
        ``fit_and_score(X_train, y_train, X_test, y_test)`` with standardized float32 arrays;
        trains a fresh model and returns its test accuracy, a float in [0, 1], or a dict of
        named accuracies (``{"float": 0.95, "int8": 0.9}``). Hold a validation part out of
        ``X_train`` inside it if training needs one.
    k, seed :
        Folds and the seed of :func:`stratified_folds`.
    groups : array_like, shape (n,), optional
        Examples of one group stay in one fold (windows of one recording: ``source`` from
        :func:`tinylab.data.cut_windows`).
    standardize : bool
        Standardize each channel on the fold's training part (``False``: pass raw values).
    min_std : float
        As in :func:`tinylab.data.channel_statistics`.
    progress : bool
        A tqdm bar over the folds (a widget in Jupyter, text on a terminal).

    Returns
    -------
    CrossValidation
    """
    X_raw = np.asarray(X_raw, dtype=np.float32)
    y = np.asarray(y)
    if X_raw.ndim < 2 or y.shape != (len(X_raw),):
        raise ValueError(f"X_raw must have shape (n, ..., channels) and y (n,), got {X_raw.shape} "
                         f"and {y.shape}")
    if not callable(fit_and_score):
        raise TypeError("fit_and_score must be a function (X_train, y_train, X_test, y_test) -> "
                        "accuracy or dict of accuracies")
    splits = stratified_folds(y, k, seed, groups)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(splits), desc="cross-validation", unit="fold", file=sys.stderr,
                   leave=True)
    folds = []
    try:
        for index, (train, test) in enumerate(splits):
            X_train, X_test = X_raw[train], X_raw[test]
            mean = np.zeros(X_raw.shape[-1])
            std = np.ones(X_raw.shape[-1])
            if standardize:
                mean, std = channel_statistics(X_train, min_std=min_std)
                X_train = ((X_train - mean) / std).astype(np.float32)
                X_test = ((X_test - mean) / std).astype(np.float32)
            scores = fit_and_score(X_train, y[train], X_test, y[test])
            scores = _check_scores(scores, index)
            if folds and list(scores) != list(folds[0].scores):
                raise ValueError(f"fold {index} returned scores {list(scores)}, fold 0 returned "
                                 f"{list(folds[0].scores)}: return the same names every fold")
            folds.append(Fold(index, train, test, [float(m) for m in mean],
                              [float(s) for s in std], scores))
            if bar is not None:
                bar.set_postfix({name: f"{value:.3f}" for name, value in scores.items()})
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return CrossValidation(folds=folds, k=len(splits), seed=seed, n_examples=len(y))


def _check_scores(scores, index: int) -> dict:
    if not isinstance(scores, dict):
        scores = {"accuracy": scores}
    checked = {}
    for name, value in scores.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"fold {index}: score {name!r} is {value!r}, not a number") from None
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"fold {index}: score {name!r} = {value} is not an accuracy in [0, 1]")
        checked[str(name)] = value
    if not checked:
        raise ValueError(f"fold {index}: the fit function returned no score")
    return checked
