"""The figures of lesson 08: flash and RAM on the boards, the board's answer beside the host's."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from .data import digit

__all__ = ["board_usage", "board_answer", "battery_life"]


_FORMAT_COLOURS = {"int8": "#4c72b0", "sparse": "#dd8452", "huffman": "#55a868"}


def _usage_rows(rows) -> list:
    """``rows`` as a list of dicts with ``label``, ``flash_bytes``, ``ram_bytes``, ``format``."""
    if isinstance(rows, dict):
        rows = [{"label": label, "build": build} for label, build in rows.items()]
    found = []
    for row in rows:
        if not isinstance(row, dict) or "label" not in row:
            raise ValueError("board_usage expects {label: BuildResult} or dicts with 'label', "
                             f"'flash_bytes' and 'ram_bytes', got {row!r}")
        source = row.get("build", row)
        flash_bytes, ram_bytes = (source.get(key) if isinstance(source, dict)
                                  else getattr(source, key, None)
                                  for key in ("flash_bytes", "ram_bytes"))
        if flash_bytes is None and ram_bytes is None:
            raise ValueError(f"{row['label']!r} has neither flash_bytes nor ram_bytes")
        label = str(row["label"])
        format_ = row.get("format") or next((f for f in _FORMAT_COLOURS if f in label), None)
        found.append({"label": label, "flash_bytes": flash_bytes, "ram_bytes": ram_bytes,
                      "format": format_})
    if not found:
        raise ValueError("board_usage needs at least one build")
    return found


def _short_name(profile) -> str:
    """"Arduino Nano 33 BLE Sense (Rev1/Rev2)" -> "Nano 33 BLE Sense"."""
    return profile["name"].split(" (")[0].removeprefix("Arduino ")


def board_usage(rows, boards=("uno", "nano33ble"), *, title: str | None = None):
    """Flash and static RAM of each build against the boards' limits (lesson 08).

    Two panels of horizontal bars on a log scale, one bar per build, with each board's usable
    flash and RAM as vertical lines. A bar over the first board's limit is drawn hatched in red
    (a build :func:`tinylab.build.check_fits` refuses); a size the linker could not measure is
    written as such.

    Parameters
    ----------
    rows : dict of str -> BuildResult, or list of dict
        ``{label: tinylab.build.BuildResult}``, or dicts with ``label``, ``flash_bytes`` and
        ``ram_bytes`` (either may be None) and optionally ``format`` ("int8", "sparse",
        "huffman": the bar's colour; otherwise guessed from the label).
    boards : sequence of str
        Board profiles whose limits are drawn; the first decides what "does not fit" means.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .. import boards as board_profiles

    rows = _usage_rows(rows)
    profiles = [board_profiles.load(b) for b in boards]
    if not profiles:
        raise ValueError("board_usage needs at least one board, e.g. boards=('uno',)")
    labels = [row["label"] for row in rows]
    positions = np.arange(len(rows))[::-1]              # the first build on top
    fig = Figure(figsize=(9.5, 0.42 * len(rows) + 1.5), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, limit_key, what in ((axes[0], "flash_bytes", "flash_usable_bytes", "flash"),
                                     (axes[1], "ram_bytes", "ram_bytes", "static RAM")):
        limits = [profile[limit_key] for profile in profiles]
        values = [row[key] for row in rows]
        known = [v for v in values if v is not None]
        low = 10 ** np.floor(np.log10(max(min(known + limits) / 3, 1)))
        high = max(known + limits) * 8
        for y, row, value in zip(positions, rows, values):
            if value is None:
                ax.text(low * 1.3, y, "not measured (the link failed)", va="center", fontsize=8,
                        color="#6e7781", zorder=4, bbox={"facecolor": "white", "edgecolor": "none",
                                                         "pad": 0.5, "alpha": 0.85})
                continue
            over = value > limits[0]
            ax.barh(y, max(value - low, 0), left=low, height=0.7,  # from the axis to value
                    color="#f4c7c3" if over else _FORMAT_COLOURS.get(row["format"], "#8c8c8c"),
                    edgecolor="#cf222e" if over else "none", hatch="//" if over else None)
            ax.text(value * 1.12, y, f"{value:,} B ({value / limits[0]:.0%})"
                    + (" too big" if over else ""), va="center", fontsize=8, zorder=4,
                    color="#cf222e" if over else "black",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85})
        for limit, style in zip(limits, ("--", ":", "-.")):
            ax.axvline(limit, color="black", linestyle=style, linewidth=1, zorder=1)
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(f"{what}, bytes (log scale)")
        ax.grid(axis="x", alpha=0.3)
        top = ax.secondary_xaxis("top")      # the boards' limits, named where the lines meet it
        top.set_xticks(limits, [f"{_short_name(p)}\n{limit:,} B" for p, limit in
                                zip(profiles, limits)], fontsize=7)
        top.xaxis.set_minor_locator(NullLocator())
        top.tick_params(length=3)
        ax.set_title(f"{what} (% of the {_short_name(profiles[0])}'s)", fontsize=10)
    axes[0].set_yticks(positions, labels, fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def board_answer(x, board_scores, host_scores, *, true_label=None, class_names=None,
                 title: str | None = None):
    """One example, and the int8 scores a board and the host computed for it (lesson 08).

    Left, the image; right, the board's scores as bars and the host's as black ticks, so an
    output that differs shows as a bar missing its tick. The class each chose is named in the
    title.

    Parameters
    ----------
    x : array_like, shape (8, 8), (8, 8, 1) or (64,)
        The example as the host has it (floats in [0, 1]).
    board_scores, host_scores : array_like of int, shape (n_classes,)
        The model's int8 outputs on the board and in :func:`tinylab.engine.run_int8`.
    true_label : int, optional
    class_names : sequence of str, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    board_scores = np.asarray(board_scores, dtype=int).ravel()
    host_scores = np.asarray(host_scores, dtype=int).ravel()
    if board_scores.shape != host_scores.shape or board_scores.size == 0:
        raise ValueError(f"board_scores and host_scores must be the same non-empty shape, got "
                         f"{board_scores.shape} and {host_scores.shape}")
    names = list(class_names) if class_names is not None else [str(i) for i in
                                                               range(board_scores.size)]
    if len(names) != board_scores.size:
        raise ValueError(f"{len(names)} class names for {board_scores.size} scores")
    fig = Figure(figsize=(7.5, 2.8), layout="constrained")
    ax_image, ax_scores = fig.subplots(1, 2, width_ratios=(1, 2.6))
    truth = f"true {names[true_label]}" if true_label is not None else None
    digit(x, ax=ax_image, annotate=False, title=truth)
    board_class, host_class = int(np.argmax(board_scores)), int(np.argmax(host_scores))
    colours = ["#55a868" if i == board_class else "#4c72b0" for i in range(board_scores.size)]
    positions = np.arange(board_scores.size)
    ax_scores.bar(positions, board_scores + 128, bottom=-128, color=colours, label="board")
    ax_scores.scatter(positions, host_scores, marker="_", s=260, linewidths=2.2, color="black",
                      zorder=3, label="host (numpy, TFLM's arithmetic)")
    ax_scores.set_xticks(positions, names)
    ax_scores.set_ylim(-128, 180)              # int8 stops at 127: the legend goes above
    ax_scores.set_yticks([-128, -64, 0, 64, 127])
    ax_scores.set_ylabel("int8 score")
    ax_scores.legend(fontsize=8, loc="upper right", ncol=2)
    ax_scores.grid(axis="y", alpha=0.3)
    differ = int(np.sum(board_scores != host_scores))
    ax_scores.set_title(title or (f"board: {names[board_class]}, host: {names[host_class]}; "
                                  + ("scores bit-identical" if not differ else
                                     f"{differ} score{'s differ' if differ > 1 else ' differs'}")),
                        fontsize=10, color="#cf222e" if differ else "black")
    return fig


def battery_life(rates_per_hour, hours_by_label, *, chosen=None, title: str | None = None):
    """Battery life against inferences per hour, one line per current profile (lesson 08).

    Both axes are logarithmic: at a low rate the sleep current sets the life (the flat part),
    at a high rate the inferences do (the falling part).

    Parameters
    ----------
    rates_per_hour : array_like of float, shape (n,), > 0
    hours_by_label : dict of str -> array_like of float, shape (n,)
        Battery life in hours at each rate, e.g. ``{"bare chip": ..., "whole board": ...}``
        (:func:`tinylab.energy.battery_life`); NaN where the rate cannot be kept up with.
    chosen : tuple (rate_per_hour, hours), optional
        Marked with a dot.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    rates = np.asarray(rates_per_hour, dtype=float)
    if rates.ndim != 1 or rates.size == 0 or np.any(rates <= 0):
        raise ValueError("rates_per_hour must be a non-empty 1-D array of rates > 0")
    if not isinstance(hours_by_label, dict) or not hours_by_label:
        raise ValueError("hours_by_label must be a non-empty dict {label: hours at each rate}")
    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax = fig.subplots()
    for label, hours in hours_by_label.items():
        hours = np.asarray(hours, dtype=float)
        if hours.shape != rates.shape:
            raise ValueError(f"{label!r}: {hours.shape[0] if hours.ndim else 0} lives for "
                             f"{rates.size} rates")
        ax.plot(rates, hours / 24.0, label=label)
    if chosen is not None:
        ax.plot([chosen[0]], [chosen[1] / 24.0], "o", color="black", zorder=3,
                label="your choice")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for days, name in ((1, "a day"), (365.25, "a year")):
        ax.axhline(days, color="grey", linestyle=":", linewidth=1)
        ax.annotate(name, (rates[0], days), xytext=(2, 2), textcoords="offset points",
                    fontsize=8, color="grey")
    ax.set_xlabel("inferences per hour")
    ax.set_ylabel("battery life (days)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title or "battery life at a duty cycle", fontsize=10)
    return fig
