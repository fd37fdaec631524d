"""The figures of lessons 05 and 06: quantization levels on the weights' histogram, accuracy
against bits, and the straight-through estimator of quantization-aware training."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["quantization_levels", "accuracy_vs_bits", "straight_through"]


def _nearest_level(values, levels) -> np.ndarray:
    """Index into sorted ``levels`` of the level nearest each value (ties to the lower one)."""
    if len(levels) == 1:
        return np.zeros(len(values), dtype=int)
    right = np.clip(np.searchsorted(levels, values), 1, len(levels) - 1)
    left = right - 1
    return np.where(np.abs(values - levels[left]) <= np.abs(levels[right] - values), left, right)


def quantization_levels(weights, levels, *, bins: int = 80, title: str | None = None):
    """Histogram of the non-zero weights with a vertical line at every quantization level.

    Lesson 05 draws where quantization lets the weights go: an affine grid
    (``scale * (q - zero_point)`` for every integer ``q``) or a k-means codebook. A level
    that is the nearest one for at least one weight is drawn solid red, a level no weight
    uses dotted grey: the codes a uniform grid wastes, e.g. in the gap pruning cut around
    zero. Zeros (pruned weights) are left out of the bars, as in :func:`weight_histogram`.

    Parameters
    ----------
    weights : array_like of float, any shape
        One layer's kernel.
    levels : array_like of float, shape (n_levels,), or dict of str -> such arrays
        The values a weight may take; a dict draws one panel per entry, side by side, over
        the same weights (e.g. ``{"uniform, 3 bits": grid, "k-means, 3 bits": codebook}``).
    bins : int
    title : str, optional
        Above the panels.

    Returns
    -------
    matplotlib.figure.Figure
        Each panel's title gives the number of levels, how many are used and how many
        weights are drawn.
    """
    values = np.asarray(weights, dtype=float).ravel()
    alive = values[values != 0]
    entries = levels if isinstance(levels, dict) else {"": levels}
    if not entries:
        raise ValueError("quantization_levels needs levels: an array, or {label: array} entries")
    grids = {}
    for label, grid in entries.items():
        grid = np.unique(np.asarray(grid, dtype=float).ravel())
        if grid.size == 0 or not np.all(np.isfinite(grid)):
            raise ValueError(f"levels {label!r} must be a non-empty array of finite numbers")
        grids[label] = grid
    everything = np.concatenate([alive] + list(grids.values()))
    low, high = everything.min(), everything.max()
    margin = 0.03 * (high - low) if high > low else 1.0
    edges = np.linspace(alive.min(), alive.max(), int(bins) + 1) \
        if alive.size and alive.min() < alive.max() else int(bins)
    fig = Figure(figsize=(4.3 * len(grids) + 0.4, 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(grids), sharex=True, sharey=True))
    for ax, (label, grid) in zip(axes, grids.items()):
        if alive.size:
            ax.hist(alive, bins=edges, color="#4c72b0")
        used = np.zeros(grid.size, dtype=bool)
        if alive.size:
            used[_nearest_level(alive, grid)] = True
        used |= (grid == 0.0) & (alive.size < values.size)  # zero weights sit on a 0.0 level
        # a few levels are drawn over the bars; many (8 bits: 256) behind them, thin and light
        few = grid.size <= 64
        style = dict(transform=ax.get_xaxis_transform(), linewidth=1.0 if few else 0.5,
                     zorder=3 if few else 0)
        ax.vlines(grid[~used], 0, 1, colors="#8c959f", linestyles=":",
                  label="level no weight uses" if (~used).any() else None, **style)
        ax.vlines(grid[used], 0, 1, colors="#cf222e", alpha=0.8 if few else 0.35,
                  label="level in use" if used.any() else None, **style)
        ax.set_xlim(low - margin, high + margin)
        heading = f"{label}\n" if label else ""
        ax.set_title(f"{heading}{grid.size:,} levels ({int(used.sum()):,} in use); "
                     f"{alive.size:,} weights, {values.size - alive.size:,} zeros not drawn",
                     fontsize=9)
        ax.set_xlabel("weight value")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("weights")
    axes[0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def accuracy_vs_bits(bits, accuracies: dict, *, baseline: float | None = None,
                     marker: int | None = None, title: str = "accuracy vs bits per weight"):
    """Accuracy against the bits each weight is stored in, one line per entry of ``accuracies``.

    ``bits`` are whole numbers (lesson 05: 2 to 8); each entry of ``accuracies`` maps a label
    (e.g. ``"affine, asymmetric"``) to accuracies (fractions) at those widths, or to a pair
    ``(its own bits, accuracies)``. ``baseline`` draws the float32 model's accuracy,
    ``marker`` a vertical line at one width (the lesson 05 slider).
    """
    if not accuracies:
        raise ValueError("accuracy_vs_bits needs at least one {label: accuracies} entry")
    fig = Figure(figsize=(6.5, 3.0), layout="constrained")
    ax = fig.add_subplot()
    shown = []
    for label, values in accuracies.items():
        xs, ys = values if isinstance(values, tuple) else (bits, values)
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        if xs.shape != ys.shape:
            raise ValueError(f"{label!r}: {ys.size} accuracies for {xs.size} bit widths")
        style = ("o-", "s--", "^:", "D-.")[len(ax.lines) % 4]  # overlapping lines stay visible
        ax.plot(xs, 100 * ys, style, markersize=7 - 1.5 * (len(ax.lines) % 4),
                fillstyle="none" if len(ax.lines) % 2 else "full", label=label)
        shown.extend(xs.tolist())
    if baseline is not None:
        ax.axhline(100 * baseline, color="black", linestyle="--", linewidth=1, label="float32")
    if marker is not None:
        ax.axvline(marker, color="#cf222e", linewidth=1)
    ticks = np.arange(int(min(shown)), int(max(shown)) + 1)
    ax.set_xticks(ticks)
    ax.set_xlabel("bits per weight")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    return fig


def straight_through(x, forward, gradient, *, title: str | None = None):
    """Fake quantization and its straight-through gradient, side by side (lesson 05).

    Left: the forward pass, ``forward`` (a staircase: each ``x`` rounded to its level and
    clipped to the grid's range) against the identity. Right: the gradient QAT uses,
    ``gradient`` (1 inside the range, 0 where clipped), against the true derivative of a
    staircase, which is 0 almost everywhere.

    Parameters
    ----------
    x, forward, gradient : array_like of float, shape (n,)
        E.g. from :func:`tinylab.qat.straight_through`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    x, forward, gradient = (np.asarray(v, dtype=float).ravel() for v in (x, forward, gradient))
    if not x.size or x.shape != forward.shape or x.shape != gradient.shape:
        raise ValueError(f"x, forward and gradient must be non-empty and of one length, got "
                         f"{x.size}, {forward.size} and {gradient.size}")
    fig = Figure(figsize=(8.0, 2.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(x, x, ":", color="#8c959f", label="identity (float)")
    left.plot(x, forward, color="#cf222e", label="fake-quantized")
    left.set_xlabel("x (a weight or an activation)")
    left.set_ylabel("value used in the forward pass")
    left.set_title("forward: round to a level, clip to the range", fontsize=9)
    right.plot(x, np.zeros_like(x), ":", color="#8c959f", label="true derivative (0 a.e.)")
    right.plot(x, gradient, color="#4c72b0", label="straight-through estimate")
    right.set_ylim(-0.1, 1.2)
    right.set_xlabel("x")
    right.set_ylabel("gradient passed back")
    right.set_title("backward: 1 inside the range, 0 where clipped", fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
