"""The figures of lesson 04: the weights' histogram, accuracy against sparsity, the per-layer
sensitivity scan, and the sparsity schedules of iterative and gradual pruning."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["weight_histogram", "pruning_curve", "sensitivity_curves", "pruning_schedules"]


def weight_histogram(weights: dict, *, bins: int = 80, title: str | None = None):
    """Histograms of the non-zero weights, one panel per entry (lesson 04: before/after pruning).

    ``weights`` maps a label (e.g. ``"trained"``, ``"pruned + retrained"``) to an array of
    weights; zeros (pruned weights) are left out of the bars and counted in the panel's title,
    so the gap that pruning cuts around zero shows as the two-humped shape of Han et al.
    """
    if not weights:
        raise ValueError("weight_histogram needs at least one {label: weights} entry")
    arrays = {label: np.asarray(w, dtype=float).ravel() for label, w in weights.items()}
    everything = np.concatenate(list(arrays.values()))
    edges = np.linspace(everything.min(), everything.max(), int(bins) + 1) \
        if everything.size and everything.min() < everything.max() else int(bins)
    fig = Figure(figsize=(3.4 * len(arrays), 2.7), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(arrays), sharex=True))
    for ax, (label, values) in zip(axes, arrays.items()):
        alive = values[values != 0]
        ax.hist(alive, bins=edges, color="#4c72b0")
        ax.set_title(f"{label}\n{alive.size:,} kept, {values.size - alive.size:,} zero",
                     fontsize=9)
        ax.set_xlabel("weight value")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("weights")
    if title:
        fig.suptitle(title)
    return fig


def pruning_curve(sparsities, accuracies: dict, *, baseline: float | None = None,
                  marker: float | None = None, title: str = "accuracy vs sparsity"):
    """Accuracy against the fraction of weights pruned, one line per entry of ``accuracies``.

    ``sparsities`` are fractions in [0, 1) (shown as percent); each entry of ``accuracies`` maps
    a label (e.g. ``"no retraining"``) to accuracies at those sparsities, or to a pair
    ``(its own sparsities, accuracies)``. ``baseline`` draws the unpruned model's accuracy,
    ``marker`` a vertical line at one sparsity (the lesson 04 slider).
    """
    fig = Figure(figsize=(6.5, 3.0), layout="constrained")
    ax = fig.add_subplot()
    for label, values in accuracies.items():
        xs, ys = values if isinstance(values, tuple) else (sparsities, values)
        ax.plot(100 * np.asarray(xs, dtype=float), 100 * np.asarray(ys, dtype=float), "o-",
                markersize=3, label=label)
    if baseline is not None:
        ax.axhline(100 * baseline, color="black", linestyle="--", linewidth=1, label="unpruned")
    if marker is not None:
        ax.axvline(100 * marker, color="#cf222e", linewidth=1)
    ax.set_xlabel("sparsity: weights pruned (%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xlim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(title, fontsize=10)
    return fig


def sensitivity_curves(sparsities, scan: dict, *, weights: dict | None = None,
                       baseline: float | None = None, chosen: dict | None = None,
                       title: str = "sensitivity: one layer pruned at a time, no retraining"):
    """Lesson 04's per-layer sensitivity scan: accuracy against sparsity, one line per layer.

    Parameters
    ----------
    sparsities : sequence of float in [0, 1)
        The scanned sparsities (shown as percent).
    scan : dict of str -> array of float
        Accuracy at each sparsity with only that layer pruned
        (:func:`tinylab.prune.sensitivity_scan`).
    weights : dict of str -> int, optional
        Weights per layer: a second panel of bars shows where the weights (the bytes) are.
    baseline : float, optional
        The unpruned model's accuracy (dashed line).
    chosen : dict of str -> float, optional
        A sparsity per layer, marked on that layer's curve.
    """
    if not scan:
        raise ValueError("sensitivity_curves needs a scan: {layer name: accuracies}")
    xs = 100 * np.asarray(sparsities, dtype=float)
    for name, values in scan.items():
        if np.shape(values) != xs.shape:
            raise ValueError(f"scan[{name!r}] has {np.size(values)} accuracies for "
                             f"{xs.size} sparsities")
    fig = Figure(figsize=(9.5 if weights else 6.5, 3.2), layout="constrained")
    if weights:
        ax, bars = fig.subplots(1, 2, width_ratios=[2.2, 1])
    else:
        ax, bars = fig.add_subplot(), None
    colours = {}
    for name, values in scan.items():
        (line,) = ax.plot(xs, 100 * np.asarray(values, dtype=float), "o-", markersize=3,
                          label=name)
        colours[name] = line.get_color()
        if chosen and name in chosen:
            at = float(np.interp(100 * chosen[name], xs, 100 * np.asarray(values, dtype=float)))
            ax.plot([100 * chosen[name]], [at], "*", markersize=13, color=line.get_color(),
                    markeredgecolor="black")
    if baseline is not None:
        ax.axhline(100 * baseline, color="black", linestyle="--", linewidth=1, label="unpruned")
    ax.set_xlabel("sparsity of that layer alone (%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xlim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(title + (" (stars: chosen)" if chosen else ""), fontsize=10)
    if bars is not None:
        names = list(weights)
        counts = [int(weights[n]) for n in names]
        bars.bar(names, counts, color=[colours.get(n, "#4c72b0") for n in names])
        for i, count in enumerate(counts):
            bars.text(i, count, f"{count:,}", ha="center", va="bottom", fontsize=8)
        bars.set_ylabel("weights")
        bars.set_title("weights per layer", fontsize=10)
        bars.grid(alpha=0.3, axis="y")
    return fig


def pruning_schedules(sparsity: dict, accuracy: dict | None = None, *, xlabel: str = "epoch",
                      baseline: float | None = None, title: str = "sparsity schedules"):
    """Sparsity (and, optionally, accuracy) along training, one line per method (lesson 04).

    Parameters
    ----------
    sparsity : dict of str -> (xs, fractions)
        Each method's sparsity over time (epochs, or optimizer steps with ``xlabel``), drawn
        as a staircase: the value holds until the next point.
    accuracy : dict of str -> (xs, accuracies), optional
        A second panel below: accuracy at those times (e.g. validation after each epoch).
    baseline : float, optional
        The unpruned model's accuracy, dashed, in the accuracy panel.
    """
    if not sparsity:
        raise ValueError("pruning_schedules needs at least one {label: (xs, sparsities)} entry")
    rows = 2 if accuracy else 1
    fig = Figure(figsize=(6.5, 2.4 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, 1, sharex=True))
    for label, (xs, ys) in sparsity.items():
        if len(xs) != len(ys):
            raise ValueError(f"sparsity[{label!r}]: {len(xs)} times for {len(ys)} values")
        axes[0].step(np.asarray(xs, dtype=float), 100 * np.asarray(ys, dtype=float),
                     where="post", label=label)
    axes[0].set_ylabel("sparsity (%)")
    axes[0].set_ylim(0, 100)
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_title(title, fontsize=10)
    if accuracy:
        for label, (xs, ys) in accuracy.items():
            axes[1].plot(np.asarray(xs, dtype=float), 100 * np.asarray(ys, dtype=float), "o-",
                         markersize=3, label=label)
        if baseline is not None:
            axes[1].axhline(100 * baseline, color="black", linestyle="--", linewidth=1,
                            label="unpruned")
        axes[1].set_ylabel("accuracy (%)")
        axes[1].grid(alpha=0.3)
        axes[1].legend(fontsize=8, loc="lower right")
    axes[-1].set_xlabel(xlabel)
    return fig
