"""Figures of lesson 09 (motion data): augmented windows, and cross-validated accuracies."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["augmentations", "cross_validation"]


def augmentations(window, versions: dict, columns, *, channels=None,
                  sample_rate_hz: float | None = None, title: str | None = None):
    """One recording and its augmented versions: one row per version, one plot per channel.

    Each plot draws the original in grey and the version over it, so what an augmentation
    changes (noise, amplitude, position in time, speed) shows as the gap between the two.

    Parameters
    ----------
    window : array_like, shape (steps, channels)
        The original, in sensor units.
    versions : dict of str -> array_like of shape (steps, channels)
        Name (the row's label) -> the augmented window.
    columns : sequence of str
        One name per channel (with units, if you like).
    channels : sequence of int, optional
        Which channels to draw (default all).
    sample_rate_hz : float, optional
        Puts the x axis in seconds.
    title : str, optional
    """
    window = np.asarray(window, dtype=np.float32)
    columns = list(columns)
    if window.ndim != 2 or window.shape[1] != len(columns):
        raise ValueError(f"window must have shape (steps, {len(columns)}) for columns {columns}, "
                         f"got {window.shape}")
    if not versions:
        raise ValueError("versions must name at least one augmented window")
    shown = list(range(len(columns))) if channels is None else [int(c) for c in channels]
    if not shown or any(c < 0 or c >= len(columns) for c in shown):
        raise ValueError(f"channels must be indices 0..{len(columns) - 1}, got {channels!r}")
    arrays = {}
    for name, version in versions.items():
        version = np.asarray(version, dtype=np.float32)
        if version.shape != window.shape:
            raise ValueError(f"version {name!r} has shape {version.shape}, the window {window.shape}")
        arrays[name] = version
    steps = np.arange(window.shape[0])
    time = steps / sample_rate_hz if sample_rate_hz else steps
    fig = Figure(figsize=(2.0 * len(shown) + 0.8, 1.1 * len(arrays) + 0.8), layout="constrained")
    axes = fig.subplots(len(arrays), len(shown), sharex=True, sharey="col", squeeze=False)
    for row, (name, version) in enumerate(arrays.items()):
        for col, channel in enumerate(shown):
            ax = axes[row, col]
            ax.plot(time, window[:, channel], color="0.65", linewidth=1, label="original")
            ax.plot(time, version[:, channel], color="tab:blue", linewidth=1, label=name)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(columns[channel], fontsize=9)
            if row == len(arrays) - 1:
                ax.set_xlabel("s" if sample_rate_hz else "step", fontsize=8)
        axes[row, 0].set_ylabel(name, fontsize=9)
    axes[0, -1].legend(["original", "augmented"], fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def cross_validation(results: dict, *, score: str | None = None, title: str | None = None):
    """Cross-validated accuracies side by side: every fold, the mean and both 95% intervals.

    One row per result; for each, a dot per fold's held-out accuracy, a diamond at the mean,
    a thick bar for Student's t interval over the folds and a thin one for the Wilson
    interval of the pooled held-out predictions (:mod:`tinylab.crossval` says what each
    means).

    Parameters
    ----------
    results : dict of str -> tinylab.crossval.CrossValidation
        Label (e.g. ``"MLP, float"``) -> result. With ``score`` None each result's first
        score is drawn; a label may also map to ``(result, score_name)``.
    score : str, optional
        The score to draw for every result (e.g. ``"int8"``).
    title : str, optional
    """
    if not results:
        raise ValueError("results must hold at least one cross-validation result")
    rows = []
    for label, value in results.items():
        result, name = value if isinstance(value, tuple) else (value, score)
        name = name or result.names[0]
        rows.append((label, result, name))
    fig = Figure(figsize=(6.4, 0.55 * len(rows) + 1.1), layout="constrained")
    ax = fig.subplots()
    for position, (label, result, name) in enumerate(reversed(rows)):
        folds = result.scores(name)
        jitter = np.linspace(-0.12, 0.12, len(folds))
        ax.scatter(folds * 100, position + jitter, s=14, color="0.45", zorder=3,
                   label="one fold" if position == 0 else None)
        w_low, w_high = result.wilson_interval(name)
        ax.plot([w_low * 100, w_high * 100], [position, position], color="tab:blue", linewidth=1,
                zorder=2, label="95% Wilson, pooled" if position == 0 else None)
        t_low, t_high = result.t_interval(name)
        ax.plot([t_low * 100, t_high * 100], [position, position], color="tab:blue", linewidth=5,
                alpha=0.45, zorder=2, label="95% t, over folds" if position == 0 else None)
        ax.scatter([result.mean(name) * 100], [position], marker="D", s=36, color="tab:red",
                   zorder=4, label="mean" if position == 0 else None)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)], fontsize=9)
    ax.set_xlabel("held-out accuracy (%)")
    ax.set_xlim(min(40.0, ax.get_xlim()[0]), 101)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
