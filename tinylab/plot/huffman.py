"""The figures of lesson 07: the Huffman tree, code lengths, bits per symbol, the pipeline's stages."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import flash_lines

__all__ = ["huffman_tree", "code_lengths", "bits_per_symbol", "compression_stages"]


def _symbol_label(symbol, labels) -> str:
    return str(labels.get(symbol, symbol)) if labels else str(symbol)


def huffman_tree(tree_nodes, *, labels: dict | None = None, title: str | None = None):
    """Huffman's tree as :func:`tinylab.huffman.tree` returns it, drawn top down (lesson 07).

    Merged nodes are circles holding their weight (the total count below them) and the merge
    step that made them; each edge carries its bit, the 0 edge to the left; each leaf is a box
    with its symbol and count, with the code word its path spells underneath. A leaf's depth,
    on the left axis, is its code length in bits.

    Parameters
    ----------
    tree_nodes : list of dict
        The nodes from :func:`tinylab.huffman.tree` (root last).
    labels : dict, optional
        Display names for symbols, e.g. ``{0: "A", 1: "B"}``; default the symbols themselves.
    title : str, optional
    """
    nodes = list(tree_nodes)
    if not nodes or not all(isinstance(n, dict) and {"id", "children", "weight"} <= set(n)
                            for n in nodes):
        raise ValueError("huffman_tree needs the list of nodes from tl.huffman.tree(counts), "
                         "with at least one symbol")
    by_id = {n["id"]: n for n in nodes}
    root = nodes[-1]
    x_of, leaves = {}, []

    def place(node):  # leaves left to right in depth-first order, 0 child first
        if not node["children"]:
            x_of[node["id"]] = float(len(leaves))
            leaves.append(node)
            return
        for child in node["children"]:
            place(by_id[child])
        x_of[node["id"]] = float(np.mean([x_of[c] for c in node["children"]]))

    place(root)
    depth = max(n["depth"] for n in nodes)
    fontsize = 10 if len(leaves) <= 12 else 8 if len(leaves) <= 24 else 6
    fig = Figure(figsize=(min(1.0 + 1.0 * len(leaves), 14.0), 1.3 + 0.95 * depth),
                 layout="constrained")
    ax = fig.add_subplot()
    edge_colours = ("#4c72b0", "#dd8452")
    for node in nodes:
        for bit, child in enumerate(node["children"]):
            x0, y0 = x_of[node["id"]], -node["depth"]
            x1, y1 = x_of[child], -by_id[child]["depth"]
            ax.plot([x0, x1], [y0, y1], color=edge_colours[bit], linewidth=1.6, zorder=1)
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, str(bit), ha="center", va="center",
                    fontsize=fontsize, fontweight="bold", color=edge_colours[bit], zorder=3,
                    bbox=dict(boxstyle="circle,pad=0.15", facecolor="white", edgecolor="none"))
    for node in nodes:
        x, y = x_of[node["id"]], -node["depth"]
        weight = f"{node['weight']:g}"
        if node["children"]:
            ax.text(x, y, weight, ha="center", va="center", fontsize=fontsize, zorder=4,
                    bbox=dict(boxstyle="circle,pad=0.35", facecolor="#f0f0f0", edgecolor="#555555"))
            if node.get("step") is not None:
                ax.text(x, y + 0.3, f"merge {node['step']}", ha="center", va="bottom",
                        fontsize=fontsize - 2, color="#777777", style="italic")
        else:
            ax.text(x, y, f"{_symbol_label(node['symbol'], labels)}\n×{weight}", ha="center",
                    va="center", fontsize=fontsize, zorder=4, linespacing=1.3,
                    bbox=dict(boxstyle="round,pad=0.35", facecolor="#e4efe0", edgecolor="#55a868"))
            ax.text(x, y - 0.36, node["path"] or "-", ha="center", va="top", fontsize=fontsize,
                    family="monospace", fontweight="bold")
    ax.set_xlim(-0.6, len(leaves) - 0.4)
    ax.set_ylim(-depth - 0.75, 0.6)
    ax.set_yticks([-d for d in range(depth + 1)], [str(d) for d in range(depth + 1)])
    ax.set_ylabel("depth = code length (bits)")
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or f"Huffman tree: {len(leaves)} symbols, {root['weight']:g} "
                          f"occurrences", fontsize=10)
    return fig


def code_lengths(counts, code, *, order: str = "symbol", labels: dict | None = None,
                 title: str | None = None, ax=None):
    """How often each symbol occurs (bars) and the bits its code word takes (dots): lesson 07.

    The frequent symbols get the short code words. Grey dashes mark each symbol's ideal
    length ``-log2 p`` (information content); Huffman's whole lengths sit close to them.

    Parameters
    ----------
    counts : dict {int: number} or sequence of numbers
        As :func:`tinylab.huffman.symbol_counts` returns (a sequence counts symbols 0, 1, 2,
        ...); symbols with count 0 are left out.
    code : tinylab.huffman.HuffmanCode
        A code with a word for every counted symbol, e.g. ``tl.huffman.build_code(counts)``.
    order : {"symbol", "count"}
        Bars by symbol, or most frequent first (the staircase of lengths shows best).
    labels : dict, optional
        Display names for symbols, e.g. ``{-1: "filler"}``.
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into it (a twin axis holds the lengths) instead of a new figure.
    """
    if order not in ("symbol", "count"):
        raise ValueError(f"order must be 'symbol' or 'count', got {order!r}")
    items = counts.items() if hasattr(counts, "items") else enumerate(counts)
    counted = {int(s): float(c) for s, c in items if c > 0}
    if not counted:
        raise ValueError("code_lengths needs counts {symbol: count} with at least one count > 0")
    words = dict(zip(np.asarray(code.symbols).tolist(), np.asarray(code.lengths).tolist()))
    missing = [s for s in counted if s not in words]
    if missing:
        raise ValueError(f"the code has no word for symbol {missing[0]}; build it from the same "
                         f"counts: tl.huffman.build_code(counts)")
    symbols = sorted(counted, key=(lambda s: (-counted[s], s)) if order == "count" else None)
    values = np.array([counted[s] for s in symbols])
    lengths = np.array([words[s] for s in symbols])
    ideal = -np.log2(values / values.sum())
    positions = np.arange(len(symbols))
    fig = None
    if ax is None:
        fig = Figure(figsize=(max(6.0, min(0.3 * len(symbols) + 2.5, 11.0)), 2.9),
                     layout="constrained")
        ax = fig.add_subplot()
    ax.bar(positions, values, color="#9db4d6", label="count")
    ax.set_ylabel("count")
    right = ax.twinx()
    right.plot(positions, ideal, linestyle="none", marker="_", markersize=11, color="#777777",
               label="ideal: -log2 p")
    right.plot(positions, lengths, linestyle="none", marker="o", markersize=5, color="#cf222e",
               label="Huffman code length")
    right.set_ylabel("bits", color="#cf222e")
    right.set_ylim(0, 1.35 * max(lengths.max(), ideal.max()) + 0.5)  # room for the legend
    ax.set_ylim(0, 1.3 * values.max())
    right.yaxis.get_major_locator().set_params(integer=True)
    step = max(1, int(np.ceil(len(symbols) / 34)))
    ax.set_xticks(positions[::step], [_symbol_label(s, labels) for s in symbols][::step],
                  fontsize=8, rotation=90 if len(symbols) > 20 else 0)
    ax.set_xlabel("symbol" + (", most frequent first" if order == "count" else ""))
    ax.set_xlim(-0.7, len(symbols) - 0.3)
    average = float(np.sum(values * lengths) / values.sum())
    entropy = float(np.sum(values * ideal) / values.sum())
    handles = [h for a in (ax, right) for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper center",
              ncol=3, framealpha=0.9)
    ax.set_title(title or f"{len(symbols)} symbols: entropy {entropy:.2f} bits, Huffman "
                          f"{average:.2f} bits/symbol", fontsize=10)
    return fig if fig is not None else ax.figure


def bits_per_symbol(stats: dict, *, highlight=None, title: str = "bits per symbol"):
    """Fixed-width bits, Huffman's average and the entropy of several streams (lesson 07).

    ``stats`` maps a stream's label to a dict with ``bits_per_symbol`` (Huffman's average)
    and ``entropy_bits_per_symbol``, as :func:`tinylab.huffman.storage` returns, and
    optionally ``fixed_bits`` (the width of the same symbols without Huffman). Three bars per
    stream, each with its value: no code averages fewer bits than the entropy, and Huffman's
    stays less than one bit above it. ``highlight`` names one label to set in bold.
    """
    if not stats:
        raise ValueError("bits_per_symbol needs at least one {label: stats} entry")
    for label, row in stats.items():
        if not {"bits_per_symbol", "entropy_bits_per_symbol"} <= set(row):
            raise ValueError(f"stats[{label!r}] needs 'bits_per_symbol' and "
                             f"'entropy_bits_per_symbol', as tl.huffman.storage(symbols) returns")
    labels = list(stats)
    positions = np.arange(len(labels))
    bars = [("fixed width", [stats[k].get("fixed_bits") for k in labels], "#c8c8c8", "{:g}"),
            ("Huffman", [stats[k]["bits_per_symbol"] for k in labels], "#4c72b0", "{:.2f}"),
            ("entropy H (no code does better)",
             [stats[k]["entropy_bits_per_symbol"] for k in labels], "white", "{:.2f}")]
    if all(value is None for value in bars[0][1]):
        bars = bars[1:]
    width = 0.8 / len(bars)
    fig = Figure(figsize=(max(4.5, min(1.4 * len(labels) + 1.8, 12.0)), 3.0),
                 layout="constrained")
    ax = fig.add_subplot()
    tallest = 0.0
    for i, (name, values, colour, fmt) in enumerate(bars):
        values = np.array([np.nan if v is None else v for v in values], dtype=float)
        xs = positions + (i - (len(bars) - 1) / 2) * width
        ax.bar(xs, values, width=width, color=colour, edgecolor="black" if colour == "white"
               else colour, linewidth=1, label=name)
        for x, value in zip(xs, values):
            if np.isfinite(value):
                ax.text(x, value, fmt.format(value), ha="center", va="bottom",
                        fontsize=7 if len(labels) > 5 else 8)
        tallest = max(tallest, float(np.nanmax(values)) if np.isfinite(values).any() else 0.0)
    ax.set_ylim(0, tallest * 1.3 + 0.2)
    ax.set_xticks(positions, labels, fontsize=8 if len(labels) > 5 else 9)
    if highlight is not None and highlight in labels:
        ax.get_xticklabels()[labels.index(highlight)].set_fontweight("bold")
    ax.set_ylabel("bits per symbol")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", ncol=len(bars))
    ax.set_title(title, fontsize=10)
    return fig


def compression_stages(stages, *, boards=("uno",), title: str | None = None,
                       split: str = "test"):
    """Bytes and accuracy after each stage of :func:`tinylab.pipeline.run` (lesson 07).

    ``stages`` is ``PipelineResult.stages`` (or :meth:`tinylab.pipeline.Stage.row` of each
    stage): dicts with ``stage``, ``bytes``, ``ratio`` and ``test_accuracy`` (or
    ``val_accuracy``). Left, the bytes on a log scale with each stage's compression ratio on its
    bar and the boards' flash for scale; right, the accuracy of each stage on ``split``,
    ``"test"`` or ``"val"`` (lesson 07 plots validation: it reads the test split once, for the
    final model only).
    """
    from .. import pipeline

    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")

    names = [s["stage"].replace(" (", "\n(") for s in stages]
    positions = np.arange(len(stages))
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    sizes, accuracy = fig.subplots(1, 2, width_ratios=(3, 2))
    bars = sizes.bar(positions, [s["bytes"] for s in stages], color="#4c72b0")
    for bar, stage in zip(bars, stages):
        sizes.text(bar.get_x() + bar.get_width() / 2, bar.get_height() * 1.15,
                   f"{stage['bytes']:,} B\n{stage['ratio']:.1f}x", ha="center", fontsize=8)
    flash_lines(sizes, boards, right=len(stages) - 0.5)
    sizes.set_yscale("log")
    sizes.set_ylim(min(s["bytes"] for s in stages) / 3, max(s["bytes"] for s in stages) * 8)
    sizes.set_xticks(positions, names, fontsize=8)
    sizes.set_ylabel("bytes (log)")
    sizes.set_title(title or "size after each stage")
    values = [100 * s[f"{split}_accuracy"] for s in stages]
    accuracy.plot(positions, values, marker="o", color="#c44e52")
    for x, value in zip(positions, values):
        accuracy.annotate(f"{value:.1f}%", (x, value), textcoords="offset points",
                          xytext=(0, 6), ha="center", fontsize=8)
    low, high = min(values), max(values)
    accuracy.set_ylim(low - max(1.0, high - low), high + max(1.0, (high - low) / 2))
    short = [pipeline.stage_label(s["stage"]) for s in stages]  # "P+Q+H", "float32"
    accuracy.set_xticks(positions, short, fontsize=8)
    accuracy.set_xlim(-0.5, len(stages) - 0.5)
    accuracy.set_ylabel(f"{'test' if split == 'test' else 'validation'} accuracy (%)")
    accuracy.set_title("accuracy after each stage")
    return fig
