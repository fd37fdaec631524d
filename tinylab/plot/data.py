"""The figures of lessons 01 and 09: digits, samples, the dataset's balance and pixels, IMU windows."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import as_images

__all__ = ["digit", "sample", "image_grid", "class_balance", "pixel_stats", "imu_windows"]


def digit(x, *, title: str | None = None, annotate: bool = True, raw_scale: float = 16.0,
          ax=None):
    """One image, large, with each pixel's raw value written on it (8x8 digits: 0..16).

    ``raw_scale`` converts a normalized pixel back to its raw value for the annotations.
    """
    image = as_images(np.asarray(x)[np.newaxis])[0]
    fig = None
    if ax is None:
        fig = Figure(figsize=(3.2, 3.2))
        ax = fig.add_subplot()
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    if annotate and image.size <= 256:
        for (row, col), value in np.ndenumerate(image):
            ax.text(col, row, f"{value * raw_scale:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.5 else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig if fig is not None else ax.figure


def sample(x, *, title: str | None = None, raw_scale: float = 16.0):
    """One example twice: as the image a person sees, and as the flat vector a network reads."""
    image = as_images(np.asarray(x)[np.newaxis])[0]
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax_image, ax_vector = fig.subplots(2, 1, height_ratios=[6, 1])
    digit(image, ax=ax_image, title=title, raw_scale=raw_scale)
    ax_vector.imshow(image.reshape(1, -1), cmap="gray_r", vmin=0, vmax=1, aspect="auto")
    ax_vector.set_yticks([])
    ax_vector.set_xlabel(f"the same {image.size} values, flattened row by row: the input vector")
    return fig


def image_grid(X, y=None, class_names=None, *, n: int = 30, cols: int = 10, predictions=None,
               titles=None):
    """The first ``n`` images in a grid, titled with their label (and prediction, red if wrong).

    ``titles``, one string per image, replaces the ``label→prediction`` titles (lesson 08
    writes the board's and the host's class); a title stays red where the prediction is wrong.
    """
    images = as_images(X)[:n]
    if len(images) == 0:
        raise ValueError("image_grid needs at least one image")
    if titles is not None and len(titles) < len(images):
        raise ValueError(f"titles must give one string per image shown ({len(images)}), got "
                         f"{len(titles)}")
    rows = int(np.ceil(len(images) / cols))
    fig = Figure(figsize=(cols * 0.9, rows * 1.05), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    names = class_names if class_names is not None else None
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= len(images):
            continue
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        title, colour = None, "black"
        if y is not None:
            label = names[y[i]] if names is not None else str(y[i])
            title = label
            if predictions is not None:
                guess = names[predictions[i]] if names is not None else str(predictions[i])
                title, colour = f"{label}→{guess}", ("black" if predictions[i] == y[i] else "red")
        if titles is not None:
            title = titles[i]
        if title is not None:
            ax.set_title(title, fontsize=9, color=colour)
    return fig


def class_balance(data):
    """Examples per class in the train, validation and test parts (stacked bars)."""
    fig = Figure(figsize=(6.5, 2.8), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(data.n_classes)
    for part, colour in (("train", "#4c72b0"), ("val", "#dd8452"), ("test", "#55a868")):
        counts = np.bincount(getattr(data, f"y_{part}"), minlength=data.n_classes)
        ax.bar(data.class_names, counts, bottom=bottom, label=f"{part} ({counts.sum()})", color=colour)
        bottom += counts
    ax.set_xlabel("class")
    ax.set_ylabel("examples")
    ax.set_title(f"{data.name}: {data.n_examples} examples")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def pixel_stats(data):
    """Mean image, standard-deviation image and the histogram of raw pixel values (train part)."""
    images = as_images(data.X_train)
    raw = data.raw(images)
    fig = Figure(figsize=(9.5, 2.8), layout="constrained")
    ax_mean, ax_std, ax_hist = fig.subplots(1, 3, width_ratios=[1, 1, 1.6])
    for ax, image, title in ((ax_mean, raw.mean(0), "mean pixel"), (ax_std, raw.std(0), "pixel std")):
        shown = ax.imshow(image, cmap="viridis")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(shown, ax=ax, shrink=0.8)
    lo, hi = data.normalization["raw_range"]
    bins = np.arange(lo, hi + 2) - 0.5 if hi - lo <= 64 else 50
    ax_hist.hist(raw.ravel(), bins=bins, color="#4c72b0")
    ax_hist.set_yscale("log")
    ax_hist.set_xlabel(f"raw pixel value ({lo:g}..{hi:g})")
    ax_hist.set_ylabel("pixels (log)")
    ax_hist.set_title("pixel values")
    return fig


def imu_windows(X, y, class_names, columns, *, per_class: int = 1,
                sample_rate_hz: float | None = None, title: str | None = None):
    """Sensor windows as line plots: one row per class, one small plot per channel (lesson 09).

    Each plot draws the first ``per_class`` windows of its class for one channel. The plots of
    a channel (a column of the grid) share their y axis, so the classes compare at a glance;
    channels do not, since acceleration (g) and rotation rate (deg/s) differ a hundredfold.

    Parameters
    ----------
    X : array_like of float, shape (n, steps, channels) or (n, steps * channels)
        Windows, time step first then channel (flat windows are read in that order, as in
        ``datasets/gestures/data.csv``).
    y : array_like of int, shape (n,)
        Class index of each window.
    class_names : sequence of str
        One name per class: one row each. A class with no window gets an empty row.
    columns : sequence of str
        One name per channel, e.g. ``("ax", "ay", "az", "gx", "gy", "gz")``.
    per_class : int
        Windows drawn per class (overlaid).
    sample_rate_hz : float, optional
        Puts the x axis in seconds; without it the x axis counts time steps.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    columns, names = list(columns), list(class_names)
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
    if not columns or not names:
        raise ValueError("imu_windows needs at least one channel name and one class name")
    if X.ndim == 2 and X.shape[1] % len(columns) == 0:
        X = X.reshape(len(X), -1, len(columns))
    if X.ndim != 3 or X.shape[2] != len(columns):
        raise ValueError(f"expected windows of shape (n, steps, {len(columns)}) or "
                         f"(n, steps * {len(columns)}) for columns {columns}, got {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} windows but y has {len(y)} labels")
    if int(per_class) != per_class or per_class < 1:
        raise ValueError(f"per_class must be a whole number >= 1, got {per_class!r}")
    steps = np.arange(X.shape[1])
    time = steps / sample_rate_hz if sample_rate_hz else steps
    fig = Figure(figsize=(1.45 * len(columns) + 0.6, 1.05 * len(names) + 0.7),
                 layout="constrained")
    axes = fig.subplots(len(names), len(columns), sharex=True, sharey="col", squeeze=False)
    for row, name in enumerate(names):
        windows = X[y == row][:int(per_class)]
        for col, channel in enumerate(columns):
            ax = axes[row, col]
            for window in windows:
                ax.plot(time, window[:, col], linewidth=1)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(channel, fontsize=9)
            if row == len(names) - 1:
                ax.set_xlabel("s" if sample_rate_hz else "step", fontsize=8)
        axes[row, 0].set_ylabel(name if len(windows) else f"{name}\n(none)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
