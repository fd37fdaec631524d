"""The figures of lesson 02: training curves, the confusion matrix, model sizes against the boards."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import flash_lines

__all__ = ["history", "confusion_matrix", "model_sizes"]


def history(hist, *, title: str | None = None):
    """Loss and accuracy per epoch, training and validation (a Keras History or its dict)."""
    logs = getattr(hist, "history", hist)
    if not logs or "loss" not in logs:
        raise ValueError("history needs Keras' History (or its .history dict) with at least 'loss'")
    epochs = np.arange(1, len(logs["loss"]) + 1)
    fig = Figure(figsize=(8, 2.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        if key in logs:
            ax.plot(epochs, logs[key], label="train")
        if f"val_{key}" in logs:
            ax.plot(epochs, logs[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix(counts, class_names=None, *, title: str = "confusion matrix (test)"):
    """Counts ``C[true, predicted]`` as a heat map with the numbers written in."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {counts.shape}")
    names = class_names if class_names is not None else [str(i) for i in range(len(counts))]
    fig = Figure(figsize=(4.2, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    for (row, col), value in np.ndenumerate(counts):
        if value:
            ax.text(col, row, str(value), ha="center", va="center", fontsize=8,
                    color="white" if value > counts.max() / 2 else "black")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title}: {accuracy:.1%} right", fontsize=10)
    return fig


def model_sizes(sizes: dict, boards=("uno", "nano33ble")):
    """Bytes of each model (float32 and int8) against the boards' flash, on a log scale.

    ``sizes`` maps a model name to ``{"float32": bytes, "int8": bytes}``.
    """
    from .. import boards as board_profiles

    names = list(sizes)
    fig = Figure(figsize=(7, 2.9), layout="constrained")
    ax = fig.add_subplot()
    positions = np.arange(len(names))
    for offset, key, colour in ((-0.2, "float32", "#4c72b0"), (0.2, "int8", "#55a868")):
        values = [sizes[name][key] for name in names]
        ax.bar(positions + offset, values, width=0.4, label=key, color=colour)
    flash_lines(ax, boards, right=len(names) - 0.5)
    ax.set_yscale("log")
    tallest = max([v for size in sizes.values() for v in size.values()] +
                  [board_profiles.load(b)["flash_usable_bytes"] for b in boards])
    ax.set_ylim(top=tallest * 4)
    ax.set_xticks(positions, names)
    ax.set_ylabel("bytes (log)")
    ax.set_title("parameters in bytes vs a board's flash")
    ax.legend(fontsize=8, loc="upper left")
    return fig
