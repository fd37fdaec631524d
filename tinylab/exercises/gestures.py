"""The exercise checker of lesson ``09_gestures``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_standardize_channels"]

#: Values closer than this count as equal: a float32 answer passes, a slip never hides in it.
TOLERANCE = 1e-4


def _imu_like(n_windows: int, steps: int, offsets, spreads, *, shift: float, seed: int):
    """Windows like a 6-axis IMU's: per channel an offset (gravity on az), a gesture-shaped
    swing over the window (so each time step has its own mean) and noise; ``shift`` moves
    every channel's offset by that many spreads (data recorded another day, on another
    board), so statistics of these windows differ from the training windows'."""
    rng = np.random.default_rng(seed)
    offsets, spreads = np.asarray(offsets, float), np.asarray(spreads, float)
    time = np.linspace(0.0, 1.0, steps)[None, :, None]
    amplitude = rng.uniform(0.5, 1.5, size=(n_windows, 1, len(offsets)))
    swing = amplitude * np.sin(2 * np.pi * (time + np.arange(len(offsets)) / 7))
    noise = 0.2 * rng.standard_normal((n_windows, steps, len(offsets)))
    return offsets + spreads * (swing + noise + shift)


def _probes() -> list:
    """(X_train, X) pairs: a tiny one the student can follow by hand, then IMU-like ones with
    6 channels of 50 steps (the gestures' windows) and 3 of 100 steps (so that no shape can
    be hard-coded). In every probe X has several windows and statistics of its own, so each
    usual slip gives an answer of its own."""
    tiny_train = np.array([[[0.0, 10.0], [1.0, 0.0], [2.0, -10.0]],
                           [[2.0, 30.0], [4.0, 10.0], [3.0, 20.0]]])
    tiny = np.array([[[1.0, 10.0], [2.0, 40.0], [5.0, 0.0]],
                     [[0.0, 0.0], [1.0, 20.0], [3.0, -20.0]]])
    imu = dict(offsets=[0.0, 0.0, 1.0, 0.0, 0.0, 0.0], spreads=[0.4, 0.3, 0.05, 60, 40, 80])
    three = dict(offsets=[0.2, -0.1, 9.8], spreads=[2.0, 1.5, 0.5])
    return [(tiny_train, tiny),
            (_imu_like(24, 50, **imu, shift=0.0, seed=1),
             _imu_like(8, 50, **imu, shift=0.7, seed=2)),
            (_imu_like(12, 100, **three, shift=0.0, seed=3),
             _imu_like(5, 100, **three, shift=-0.5, seed=4))]


def _slips(X_train, X) -> list:
    """The usual wrong answers for one probe, as (answer, hint), the likeliest first."""
    channels_only = tuple(range(X_train.ndim - 1))  # every axis but the last

    def scaled(mean, std):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (X - mean) / std

    mean, std = X_train.mean(axis=channels_only), X_train.std(axis=channels_only)
    both = np.concatenate([X_train, X])
    low, high = X_train.min(axis=channels_only), X_train.max(axis=channels_only)
    return [
        (scaled(X.mean(axis=channels_only), X.std(axis=channels_only)),
         "you took the mean and std from X, the windows you were asked to transform, not from "
         "X_train. Validation and test windows, and a board's live readings, must be scaled "
         "with the training split's numbers: the board never knows its test set's statistics, "
         "and no test window may change how another one is scaled."),
        (scaled(both.mean(axis=channels_only), both.std(axis=channels_only)),
         "you took the statistics from X_train and X together, so the windows you transform "
         "leak into the preprocessing. Use X_train alone."),
        (scaled(X_train.mean(), X_train.std()),
         "you used one mean and one std for all channels together: g and deg/s then still share "
         "one scale, and the gyroscope's hundreds of deg/s swamp the accelerometer's few g. "
         "Take one mean and one std per channel: reduce over every axis but the last."),
        (scaled(X_train.mean(axis=0), X_train.std(axis=0)),
         "your mean and std hold one value per time step and channel: you reduced over the "
         "windows only (axis 0). Each time step is then centred on the average gesture at that "
         "step, which removes the very shape the model should see. Reduce over the windows "
         "and the time steps (axes 0 and 1: every axis but the channels)."),
        (scaled(X.mean(axis=1, keepdims=True), X.std(axis=1, keepdims=True)),
         "you standardized each window by its own mean and std: every window then has the same "
         "level and spread, so idle's gravity on az and how hard a punch was are gone, and a "
         "board would have to wait for the whole window before scaling its first reading. Use "
         "one mean and one std per channel, from X_train."),
        (X - mean,
         "you subtracted the mean but did not divide by the std: the channels are centred but "
         "still in g and deg/s, a hundredfold apart. Divide by each channel's std too."),
        (scaled(0.0, std),
         "you divided by the std but did not subtract the mean first: az, which carries "
         "gravity, stays far from 0, and one int8 scale wastes its levels on that offset."),
        (scaled(mean, std ** 2),
         "you divided by the variance (the std squared): divide by the standard deviation, "
         "so that every channel ends up with std 1 on the training windows."),
        (scaled(low, high - low),
         "that is min-max scaling to [0, 1]. This lesson standardizes, (x - mean) / std: with "
         "min-max, one spike in the training windows sets a channel's whole range."),
        (2 * scaled(low, high - low) - 1,
         "that is min-max scaling to [-1, 1]. This lesson standardizes, (x - mean) / std: with "
         "min-max, one spike in the training windows sets a channel's whole range."),
    ]


def _close(got, expected) -> bool:
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=TOLERANCE,
                                                            atol=TOLERANCE))


def check_standardize_channels(standardize_channels) -> CheckResult:
    """Lesson 09: ``standardize_channels(X_train, X)``, X's windows standardized per channel.

    ``X_train`` and ``X`` hold windows of shape ``(n, steps, channels)``; the answer is
    ``(X - mean_c) / std_c`` with channel ``c``'s mean and standard deviation over every window
    and time step of ``X_train`` only. The probes are a tiny pair, then IMU-like windows of
    6 channels x 50 steps and of 3 channels x 100 steps, where X's own statistics differ from
    X_train's. A wrong answer is compared with the usual slips (statistics from X, from both,
    from all channels at once, per time step, per window; no centring, no scaling, the
    variance, min-max scaling) for a hint, and a function that changes its inputs in place is
    caught. The sample standard deviation (``ddof=1``) passes, with a note.
    """
    name = "Standardize the channels"
    used_sample_std = False
    for X_train, X in _probes():
        shown = (f"for X_train of shape {X_train.shape} and X of shape {X.shape} "
                 f"({X.shape[2]} channels, {X.shape[1]} time steps)")
        train_copy, X_copy = X_train.copy(), X.copy()
        got, failed = call_student(name, standardize_channels, train_copy, X_copy,
                                   returns="the standardized windows")
        if failed is not None:
            about_shapes = any(word in failed.message for word in ("shape", "broadcast", "index"))
            if failed.message.startswith("your function raised") and about_shapes \
                    and X.shape[1:] not in ((50, 6), (100, 6)):
                failed.message += (f". This probe's windows have {X.shape[1]} time steps and "
                                   f"{X.shape[2]} channels: don't hard-code a dataset's steps "
                                   f"and channels (BasicMotions' 100 and 6), read them from the "
                                   f"arrays' shapes.")
            return failed
        for given, original, what in ((train_copy, X_train, "X_train"), (X_copy, X, "X")):
            if given.shape != original.shape or not np.array_equal(given, original):
                return CheckResult(name, False, f"your function changed {what} in place (as "
                                                f"`{what} -= mean` does): in the lesson that "
                                                f"would overwrite the dataset's own arrays. "
                                                f"Compute a new array: `(X - mean) / std`.")
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"{shown} you returned {type(got).__name__}: return "
                                            f"an array of windows shaped like X.")
        if got.shape != X.shape:
            if got.shape in ((X.shape[2],), (2, X.shape[2])):
                hint = ("that looks like the statistics themselves: return X's windows "
                        "standardized with them.")
            else:
                hint = "keep X's shape (n, steps, channels): standardizing changes values only."
            return CheckResult(name, False, f"{shown} you returned shape {got.shape}: {hint}")
        if not np.all(np.isfinite(got)):
            return CheckResult(name, False, f"{shown} your answer holds NaN or inf: a division "
                                            f"by a std of 0? Every channel of these probes "
                                            f"varies over X_train's windows and time steps.")
        expected = solutions.standardize_channels(X_train, X)
        if _close(got, expected):
            continue
        axes = tuple(range(X_train.ndim - 1))
        mean, sample_std = X_train.mean(axis=axes), X_train.std(axis=axes, ddof=1)
        if _close(got, (X - mean) / sample_std):
            used_sample_std = True
            continue
        seen = (f"{shown} your first window's first time step is "
                f"{np.round(got[0, 0], 3).tolist()}, expected "
                f"{np.round(expected[0, 0], 3).tolist()}")
        for answer, hint in _slips(X_train, X):
            if _close(got, answer):
                return CheckResult(name, False, f"{seen}. Hint: {hint}")
        return CheckResult(name, False, f"{seen}. Hint: for each channel c (the last axis), "
                                        f"take mean_c and std_c over every window and every "
                                        f"time step of X_train, then return (X - mean_c) / "
                                        f"std_c.")
    note = (" (You used the sample standard deviation, ddof=1; tl.data uses numpy's default, "
            "ddof=0. With the thousands of readings per channel of a training split the two "
            "differ by well under 0.1%.)" if used_sample_std else "")
    return CheckResult(name, True, "every channel now has mean 0 and std 1 on the training "
                                   "windows, and any other window is scaled with the same "
                                   "numbers, as a board scales its live readings. "
                                   "tl.data.load('basicmotions') does exactly this "
                                   "(tl.data.standardize_channels)." + note)
