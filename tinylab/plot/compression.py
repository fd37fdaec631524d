"""The figures of the compression explorer app: bytes and accuracy stage by stage."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

__all__ = ["compression_waterfall"]


def _plain_bytes(value, _position=None) -> str:
    """A tick label such as "1,000" or "100k" (plain text: mathtext is slow to lay out)."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if value >= 1e4 else f"{value:,.0f}"


def compression_waterfall(stages, *, limits=None, title: str | None = None):
    """A waterfall of bytes and of test accuracy across the compression stages (issue 7's app).

    Each stage is a floating bar from the value before it to its own value, so what a stage
    bought (or cost) is the bar's length: green where the bytes fall or the accuracy rises,
    red otherwise. Left, the bytes on a log scale with each stage's total and ratio to the
    float32 teacher, and dashed lines at ``limits``; right, the test accuracy with each
    stage's change in percentage points.

    Parameters
    ----------
    stages : list of dict
        ``stage``, ``bytes``, ``ratio`` and ``test_accuracy`` per stage, in order (a point of
        :mod:`tinylab.compression_grid`, or ``PipelineResult.stages``).
    limits : dict of str -> int, optional
        Horizontal lines on the bytes panel, e.g. ``{"Uno: flash left": 29018}``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .. import pipeline

    if not stages:
        raise ValueError("compression_waterfall needs at least one stage")
    limits = dict(limits or {})
    names = [s["stage"].replace(" (", "\n(").replace(" + Huffman", "\n+ Huffman")
             for s in stages]
    positions = np.arange(len(stages))
    sizes_bytes = [int(s["bytes"]) for s in stages]
    accuracies = [100 * float(s["test_accuracy"]) for s in stages]
    # A fixed layout, and no minor tick labels on the log axis: the app redraws this figure on
    # every slider move, and constrained layout measuring every tick label triples the time.
    fig = Figure(figsize=(9.5, 3.4))
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.2, top=0.91, wspace=0.25)
    sizes, accuracy = fig.subplots(1, 2, width_ratios=(3, 2))
    good, bad, first = "#55a868", "#c44e52", "#4c72b0"

    low = 10 ** np.floor(np.log10(max(min(sizes_bytes + list(limits.values())) / 3, 1)))
    high = max(sizes_bytes + list(limits.values())) * 6
    for x, value in enumerate(sizes_bytes):
        before = low if x == 0 else sizes_bytes[x - 1]
        bottom, top = sorted((before, value))
        colour = first if x == 0 else (good if value <= before else bad)
        sizes.bar(x, max(top - bottom, 1e-9), bottom=bottom, width=0.6, color=colour)
        if x:
            sizes.plot([x - 1.3, x + 0.3], [before, before], color="#6e7781", linewidth=0.8,
                       linestyle=":")
        sizes.text(x, top * 1.15, f"{value:,} B\n{stages[x]['ratio']:.1f}x", ha="center",
                   fontsize=8)
    for (label, limit), style in zip(limits.items(), ("--", ":", "-.")):
        sizes.axhline(limit, color="black", linestyle=style, linewidth=1)
        sizes.text(len(stages) - 0.45, limit * 0.8, label, ha="right", va="top", fontsize=7,
                   bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.8})
    sizes.set_yscale("log")
    sizes.yaxis.set_minor_locator(NullLocator())
    sizes.yaxis.set_major_formatter(_plain_bytes)  # no mathtext 10^n: parsing it is slow
    sizes.set_ylim(low, high)
    sizes.set_xlim(-0.5, len(stages) - 0.4)
    sizes.set_xticks(positions, names, fontsize=7)
    sizes.set_ylabel("bytes (log)")
    sizes.set_title(title or "bytes after each stage", fontsize=10)

    spread = max(accuracies) - min(accuracies)
    floor = max(0.0, min(accuracies) - max(2.0, spread / 3))
    for x, value in enumerate(accuracies):
        before = floor if x == 0 else accuracies[x - 1]
        bottom, top = sorted((before, value))
        colour = first if x == 0 else (good if value >= before else bad)
        accuracy.bar(x, max(top - bottom, 0.05), bottom=bottom, width=0.6, color=colour)
        change = "" if x == 0 else f"\n{value - before:+.1f} pp"
        accuracy.text(x, top + 0.02 * (100 - floor), f"{value:.1f}%{change}", ha="center",
                      fontsize=7)
    short = [pipeline.stage_label(s["stage"]) for s in stages]  # "P+Q+H", "float32"
    accuracy.set_xticks(positions, short, fontsize=7)
    accuracy.set_xlim(-0.5, len(stages) - 0.5)
    accuracy.set_ylim(floor, 100 + 0.12 * (100 - floor))
    accuracy.set_ylabel("test accuracy (%)")
    accuracy.set_title("accuracy after each stage", fontsize=10)
    return fig
