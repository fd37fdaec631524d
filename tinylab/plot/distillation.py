"""The figures of lesson 03: soft targets at a temperature, the temperature x alpha grid."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["soft_targets", "distillation_grid"]


def soft_targets(probabilities: dict, class_names=None, *, title: str | None = None):
    """Probabilities over the classes as grouped bars, one group per entry of ``probabilities``.

    ``probabilities`` maps a label (e.g. ``"T = 1"``) to an array of shape ``(n_classes,)``;
    lesson 03 shows a teacher's soft targets at several temperatures.
    """
    if not probabilities:
        raise ValueError("soft_targets needs at least one {label: probabilities} entry")
    rows = {label: np.asarray(p, dtype=float).ravel() for label, p in probabilities.items()}
    n_classes = len(next(iter(rows.values())))
    if any(len(p) != n_classes for p in rows.values()):
        raise ValueError("every entry of probabilities needs one value per class")
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    fig = Figure(figsize=(6.5, 2.8), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(rows)
    for i, (label, p) in enumerate(rows.items()):
        ax.bar(np.arange(n_classes) + (i - (len(rows) - 1) / 2) * width, p, width=width,
               label=str(label))
    ax.set_xticks(range(n_classes), names)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    ax.grid(axis="y", alpha=0.3)
    if len(rows) > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def distillation_grid(values, alphas, temperatures, *, title: str = "validation accuracy",
                      fmt: str = "{:.1%}"):
    """A heat map of ``values[i, j]`` for ``alphas[i]`` (rows) and ``temperatures[j]`` (columns)."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(alphas), len(temperatures)):
        raise ValueError(f"values must have shape (len(alphas), len(temperatures)) = "
                         f"{(len(alphas), len(temperatures))}, got {values.shape}")
    fig = Figure(figsize=(1.2 * len(temperatures) + 2.2, 0.8 * len(alphas) + 1.4),
                 layout="constrained")
    ax = fig.add_subplot()
    shown = ax.imshow(values, cmap="viridis", aspect="auto")
    middle = (np.nanmax(values) + np.nanmin(values)) / 2
    for (row, col), value in np.ndenumerate(values):
        ax.text(col, row, fmt.format(value), ha="center", va="center", fontsize=9,
                color="black" if value > middle else "white")
    ax.set_xticks(range(len(temperatures)), [f"{t:g}" for t in temperatures])
    ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
    ax.set_xlabel("temperature T")
    ax.set_ylabel("alpha (weight of the soft loss)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(shown, ax=ax, shrink=0.8)
    return fig
