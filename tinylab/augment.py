"""Data augmentation for IMU windows: new training examples from the ones recorded.

With 80 recordings (BasicMotions) or a few hundred windows (a capture), a small network soon
learns the training examples by heart. Augmentation makes plausible variants of each
training example, changes the sensor or the wearer could have made without changing the
activity: a little sensor noise (:func:`jitter`), a sensor or a person a little stronger or
weaker (:func:`scale`), the motion starting a little earlier or later (:func:`time_shift`), a
little slower (:func:`crop`). Um et al. (2017) measured jitter, scaling and window slicing
(among others) on wrist-worn accelerometer data; window slicing is Le Guennec et al. (2016).

Every function takes arrays ``(n, steps, channels)`` (channels last, as ``tl.data`` gives
them), returns a new array and never modifies its input; every random choice comes from
``rng``: a ``numpy.random.Generator`` or an int seed (the same seed gives the same arrays).
Augment the *training* part only, after the split (and after standardization, so that
``sigma`` is in units of each channel's standard deviation); never the test part.

Introduced in lesson ``09_gestures``.

References
----------
T. T. Um, F. M. J. Pfister, D. Pichler, S. Endo, M. Lang, S. Hirche, U. Fietzek, D. Kulić,
"Data augmentation of wearable sensor data for Parkinson's disease monitoring using
convolutional neural networks", ICMI 2017, arXiv:1706.00527.

A. Le Guennec, S. Malinowski, R. Tavenard, "Data augmentation for time series
classification using convolutional neural networks", ECML/PKDD Workshop on Advanced
Analytics and Learning on Temporal Data (AALTD), 2016.

Examples
--------
>>> X = np.zeros((4, 100, 6), dtype=np.float32); y = np.array([0, 1, 2, 3])
>>> X_more, y_more = augment(X, y, copies=2, rng=0, jitter=0.05)
>>> X_more.shape, y_more.tolist()
((12, 100, 6), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
"""

from __future__ import annotations

import numpy as np

__all__ = ["jitter", "scale", "time_shift", "crop", "augment"]


def _generator(rng) -> np.random.Generator:
    """A Generator from a Generator, an int seed or None (fresh entropy: not reproducible)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {rng!r}")


def _windows(X, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"{what} needs an array of shape (n, steps, channels), got shape "
                         f"{X.shape}; add the missing axis (e.g. X[..., None] for one channel)")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    return X


def _sigma(sigma, what: str) -> float:
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: sigma must be a number, got {sigma!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{what}: sigma must be a finite number >= 0, got {sigma!r}")
    return value


def jitter(X, sigma: float, rng=None) -> np.ndarray:
    """Add Gaussian noise: ``X + N(0, sigma²)``, independent for every value.

    Fits an IMU because its readings already carry noise of this kind (the sensor's noise
    density, quantization); a classifier should not depend on the last digits. Um et al.
    (2017).

    Parameters
    ----------
    X : array_like of float, shape (n, steps, channels)
    sigma : float
        Standard deviation of the noise (>= 0), in the units of ``X``: on standardized
        windows, a fraction of each channel's std (0.05 is a start).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    ndarray, shape and dtype of ``X``
    """
    X = _windows(X, "jitter")
    sigma = _sigma(sigma, "jitter")
    noise = _generator(rng).normal(0.0, sigma, size=X.shape)
    return (X + noise).astype(X.dtype)


def scale(X, sigma: float, rng=None) -> np.ndarray:
    """Multiply each example's channel by one random factor ``~ N(1, sigma²)``.

    One factor per example and channel, constant over time: a sensor whose gain differs a
    little from another's, a watch worn tighter or looser, a person moving a little more or
    less strongly. Um et al. (2017). With a small ``sigma`` (0.1) a factor below 0 (which
    would flip an axis) practically never happens; it is not prevented.

    Parameters
    ----------
    X : array_like of float, shape (n, steps, channels)
    sigma : float
        Standard deviation of the factors (>= 0, no units).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    ndarray, shape and dtype of ``X``
    """
    X = _windows(X, "scale")
    sigma = _sigma(sigma, "scale")
    factors = _generator(rng).normal(1.0, sigma, size=(X.shape[0], 1, X.shape[2]))
    return (X * factors).astype(X.dtype)


def time_shift(X, max_shift: int, rng=None) -> np.ndarray:
    """Shift each example in time by a random whole number of steps in ``[-max_shift, max_shift]``.

    A positive shift moves the motion later: step ``t`` of the output is step ``t - shift``
    of the input. The steps that come free are filled with the edge value (the first step's
    for a positive shift, the last step's for a negative one), as if the sensor had held
    its reading. Not circular (``np.roll``): that would join the end of a recording to its
    start, a jump no sensor produces and a motion that did not happen. It fits a window cut
    from a continuous recording, whose start is arbitrary.

    Parameters
    ----------
    X : array_like of float, shape (n, steps, channels)
    max_shift : int
        Largest shift in steps, ``0 <= max_shift < steps`` (at 10 Hz, 5 steps is 0.5 s).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    ndarray, shape and dtype of ``X``
    """
    X = _windows(X, "time_shift")
    if not isinstance(max_shift, (int, np.integer)) or not 0 <= max_shift < X.shape[1]:
        raise ValueError(f"time_shift: max_shift must be a whole number of steps, 0..{X.shape[1] - 1}, "
                         f"got {max_shift!r}")
    shifts = _generator(rng).integers(-max_shift, max_shift + 1, size=len(X))
    steps = np.arange(X.shape[1])
    source = np.clip(steps[None, :] - shifts[:, None], 0, X.shape[1] - 1)  # (n, steps)
    return np.take_along_axis(X, source[:, :, None], axis=1).astype(X.dtype)


def crop(X, min_fraction: float, rng=None) -> np.ndarray:
    """Window slicing: a random crop of each example, stretched back to its full length.

    For each example a length ``L`` is drawn uniformly between ``min_fraction * steps`` and
    ``steps`` (at least 2 steps), a start uniformly among those that fit, and the crop is
    resampled to ``steps`` points by linear interpolation, channel by channel. The motion
    then lasts ``steps / L`` times longer: a wearer a little slower, and a window that starts
    and ends a little elsewhere. Le Guennec et al. (2016); Um et al. (2017) on wearables.
    ``min_fraction=1`` returns the input unchanged.

    Parameters
    ----------
    X : array_like of float, shape (n, steps, channels)
    min_fraction : float
        Shortest crop as a fraction of the steps, in (0, 1] (0.9 is a start: a stronger
        stretch changes the motion's tempo more than a person would).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    ndarray, shape and dtype of ``X``
    """
    X = _windows(X, "crop")
    try:
        fraction = float(min_fraction)
    except (TypeError, ValueError):
        raise TypeError(f"crop: min_fraction must be a number, got {min_fraction!r}") from None
    if not 0 < fraction <= 1:
        raise ValueError(f"crop: min_fraction must lie in (0, 1], got {min_fraction!r}")
    generator = _generator(rng)
    steps = X.shape[1]
    shortest = min(steps, max(2, int(np.ceil(fraction * steps))))
    out = np.empty_like(X)
    for i, example in enumerate(X):
        length = int(generator.integers(shortest, steps + 1))
        start = int(generator.integers(0, steps - length + 1))
        where = np.linspace(start, start + length - 1, steps)
        for c in range(X.shape[2]):
            out[i, :, c] = np.interp(where, np.arange(steps), example[:, c])
    return out


# augment's keyword arguments are named after the steps (jitter=0.05, ...), hiding them inside it
_STEPS = {"jitter": jitter, "scale": scale, "time_shift": time_shift, "crop": crop}


def augment(X, y, copies: int, rng=None, *, jitter: float = 0.0, scale: float = 0.0,
            shift: int = 0, crop: float = 1.0) -> tuple:
    """The originals followed by ``copies`` augmented copies of every example, with labels.

    Each copy passes, in this order, through :func:`crop` (if ``crop < 1``),
    :func:`time_shift` (if ``shift > 0``), :func:`scale` (if ``scale > 0``) and
    :func:`jitter` (if ``jitter > 0``): the motion's timing first, then the sensor's gain
    and its noise, as a recording would make them.

    Parameters
    ----------
    X : array_like of float, shape (n, steps, channels)
        Training examples only.
    y : array_like, shape (n,)
    copies : int
        Augmented copies per example (>= 0); the result has ``n * (1 + copies)`` examples.
    rng : numpy.random.Generator or int, optional
        The seed of every choice.
    jitter, scale : float
        ``sigma`` of :func:`jitter` and :func:`scale` (0: off).
    shift : int
        ``max_shift`` of :func:`time_shift` in steps (0: off).
    crop : float
        ``min_fraction`` of :func:`crop` (1: off).

    Returns
    -------
    X_augmented : ndarray, shape (n * (1 + copies), steps, channels)
        The originals first, then copy 1 of every example, copy 2, ...
    y_augmented : ndarray, shape (n * (1 + copies),)
    """
    X = _windows(X, "augment")
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"augment: y must have one label per example, shape ({len(X)},), got "
                         f"{y.shape}")
    if not isinstance(copies, (int, np.integer)) or copies < 0:
        raise ValueError(f"augment: copies must be a whole number >= 0, got {copies!r}")
    jitter_sigma, scale_sigma = _sigma(jitter, "augment jitter"), _sigma(scale, "augment scale")
    generator = _generator(rng)
    if crop != 1.0:
        _STEPS["crop"](X[:1], crop, 0)  # refuse a bad fraction before any work
    if shift:
        _STEPS["time_shift"](X[:1], shift, 0)
    made = [X.copy()]
    for _ in range(copies):
        copy = X
        if crop != 1.0:
            copy = _STEPS["crop"](copy, crop, generator)
        if shift:
            copy = _STEPS["time_shift"](copy, shift, generator)
        if scale_sigma > 0:
            copy = _STEPS["scale"](copy, scale_sigma, generator)
        if jitter_sigma > 0:
            copy = _STEPS["jitter"](copy, jitter_sigma, generator)
        made.append(np.array(copy, copy=True))
    return np.concatenate(made), np.tile(y, copies + 1)
