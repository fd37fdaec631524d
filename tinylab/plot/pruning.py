"""The figures of lesson 04: the weights' histogram, accuracy against sparsity."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["weight_histogram", "pruning_curve"]


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
