"""The figures of lesson 10: one filter and the map it makes, MLP and CNN side by side."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import as_images

__all__ = ["feature_map", "model_comparison"]

#: What :func:`model_comparison` can draw: key -> the panel's title.
MEASURES = {"params": "parameters", "macs": "MACs per inference", "flash_bytes": "flash (bytes)",
            "ram_bytes": "RAM (bytes)", "cycles": "cycles per inference",
            "accuracy": "accuracy"}


def feature_map(image, kernel, activation, *, title: str | None = None):
    """A convolution's input, one of its filters and the map that filter makes (lesson 10).

    Parameters
    ----------
    image : array_like, shape (h, w), (h, w, 1) or (h * w,)
        What the student sees: the digit.
    kernel : array_like, shape (k_h, k_w) or (k_h, k_w, c_in)
        One filter's weights; with several input channels, one small square per channel, side
        by side (blue negative, red positive), its values written on it when they are few.
    activation : array_like, shape (h_out, w_out)
        The filter's output map for ``image`` (after the layer's activation).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: the image, the filter, the map.
    """
    picture = as_images(np.asarray(image, dtype=np.float32)[np.newaxis])[0]
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim == 2:
        kernel = kernel[..., np.newaxis]
    if kernel.ndim != 3:
        raise ValueError(f"kernel must have shape (k_h, k_w) or (k_h, k_w, c_in), got "
                         f"{kernel.shape}")
    activation = np.asarray(activation, dtype=np.float32)
    if activation.ndim != 2:
        raise ValueError(f"activation must be one map of shape (h_out, w_out), got "
                         f"{activation.shape}")
    k_h, k_w, channels = kernel.shape
    # the channels side by side, one blank column between them
    tiles = np.full((k_h, channels * (k_w + 1) - 1), np.nan, dtype=np.float32)
    for c in range(channels):
        tiles[:, c * (k_w + 1):c * (k_w + 1) + k_w] = kernel[..., c]
    fig = Figure(figsize=(8.0, 2.9), layout="constrained")
    ax_image, ax_kernel, ax_map = fig.subplots(1, 3, width_ratios=[1, max(1.0, channels * 0.6), 1])
    ax_image.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
    ax_image.set_title("input", fontsize=9)
    bound = float(np.nanmax(np.abs(tiles))) or 1.0
    ax_kernel.imshow(tiles, cmap="coolwarm", vmin=-bound, vmax=bound)
    if kernel.size <= 36:
        for (row, col), value in np.ndenumerate(tiles):
            if not np.isnan(value):
                ax_kernel.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
    ax_kernel.set_title(f"filter {k_h}x{k_w}" + (f", {channels} input channels"
                                                  if channels > 1 else ""), fontsize=9)
    shown = ax_map.imshow(activation, cmap="viridis", vmin=0)
    ax_map.set_title(f"its map {activation.shape[0]}x{activation.shape[1]}", fontsize=9)
    fig.colorbar(shown, ax=ax_map, shrink=0.8)
    for ax in (ax_image, ax_kernel, ax_map):
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _number(value, key) -> str:
    if key == "accuracy":
        return f"{value:.1%}"
    return f"{value:,.0f}"


def model_comparison(rows: dict, *, measures=tuple(MEASURES), limits=None,
                     title: str | None = None):
    """Models side by side, one small bar panel per measure (lesson 10: MLP vs CNN).

    Parameters
    ----------
    rows : dict of str -> dict
        ``{model label: {measure: value}}``, measures among :data:`MEASURES` (``params``,
        ``macs``, ``flash_bytes``, ``ram_bytes``, ``cycles``, ``accuracy`` as a fraction). A
        missing or None value is written "not measured". A row may add ``stack_peak_bytes``:
        the RAM bar then stacks the stack's peak (hatched) on the static RAM.
    measures : sequence of str
        The panels, in order.
    limits : dict of str -> (float, str), optional
        A horizontal line per measure, e.g. ``{"flash_bytes": (32256, "Uno")}``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes per measure (in a grid of three columns), bars in the order of ``rows``.
    """
    if not rows:
        raise ValueError("model_comparison needs at least one {label: {measure: value}} row")
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        raise ValueError(f"unknown measures {unknown}; choose among {list(MEASURES)}")
    limits = dict(limits or {})
    labels = list(rows)
    colours = [f"C{i}" for i in range(len(labels))]
    n_cols = min(3, len(measures))
    n_rows = -(-len(measures) // n_cols)
    fig = Figure(figsize=(3.3 * n_cols, 2.6 * n_rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
    positions = np.arange(len(labels))
    for ax, key in zip(axes, measures):
        values = [rows[label].get(key) for label in labels]
        heights = [0.0 if v is None else float(v) for v in values]
        ax.bar(positions, heights, color=colours, width=0.6)
        stacks = [rows[label].get("stack_peak_bytes") if key == "ram_bytes" else None
                  for label in labels]
        stack_heights = [0.0 if s is None else float(s) for s in stacks]
        if any(s is not None for s in stacks):
            ax.bar(positions, stack_heights, bottom=heights, color=colours, width=0.6,
                   alpha=0.45, hatch="//", label="stack peak")
            ax.legend(fontsize=7, loc="upper left")
        top = max([h + s for h, s in zip(heights, stack_heights)]
                  + [limits[key][0] if key in limits else 0.0]) or 1.0
        for x, value, stack in zip(positions, values, stacks):
            if value is None:
                text = "not measured"
            elif stack is not None:
                text = f"{value:,.0f} + {stack:,.0f}"
            else:
                text = _number(value, key)
            ax.text(x, heights[x] + stack_heights[x] + 0.02 * top, text, ha="center",
                    va="bottom", fontsize=7)
        if key in limits:
            limit, name = limits[key]
            ax.axhline(limit, color="black", linestyle="--", linewidth=1)
            ax.text(positions[-1] + 0.4, limit, f" {name}", ha="right", va="bottom", fontsize=7)
        ax.set_ylim(0, top * 1.18)
        if key == "accuracy":
            ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        else:  # 1,372,175 rather than 1.37 and a "1e6" in the corner
            ax.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
        ax.set_xticks(positions, labels, fontsize=8)
        ax.set_title(MEASURES[key], fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(measures):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
