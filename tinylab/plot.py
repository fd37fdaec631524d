"""The lessons' figures.

Every function builds a :class:`matplotlib.figure.Figure` directly (not through pyplot) and
returns it: a notebook shows it as the cell's value, a widget panel shows it in its
``Output``, a script saves it. Nothing is kept in pyplot's figure list, so a panel that redraws
on every slider move does not leak figures, and nothing here sets global styles.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["digit", "sample", "image_grid", "class_balance", "pixel_stats", "history",
           "confusion_matrix", "model_sizes", "soft_targets", "distillation_grid",
           "weight_histogram", "pruning_curve"]


def _images(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim == 2:  # flat vectors with a square number of values
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise ValueError(f"cannot show vectors of length {X.shape[1]} as square images")
        X = X.reshape(-1, side, side)
    if X.ndim != 3:
        raise ValueError(f"expected images of shape (n, h, w) or (n, h, w, 1), got {X.shape}")
    return X


def digit(x, *, title: str | None = None, annotate: bool = True, raw_scale: float = 16.0,
          ax=None):
    """One image, large, with each pixel's raw value written on it (8x8 digits: 0..16).

    ``raw_scale`` converts a normalized pixel back to its raw value for the annotations.
    """
    image = _images(np.asarray(x)[np.newaxis])[0]
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
    image = _images(np.asarray(x)[np.newaxis])[0]
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax_image, ax_vector = fig.subplots(2, 1, height_ratios=[6, 1])
    digit(image, ax=ax_image, title=title, raw_scale=raw_scale)
    ax_vector.imshow(image.reshape(1, -1), cmap="gray_r", vmin=0, vmax=1, aspect="auto")
    ax_vector.set_yticks([])
    ax_vector.set_xlabel(f"the same {image.size} values, flattened row by row: the input vector")
    return fig


def image_grid(X, y=None, class_names=None, *, n: int = 30, cols: int = 10, predictions=None):
    """The first ``n`` images in a grid, titled with their label (and prediction, red if wrong)."""
    images = _images(X)[:n]
    if len(images) == 0:
        raise ValueError("image_grid needs at least one image")
    rows = int(np.ceil(len(images) / cols))
    fig = Figure(figsize=(cols * 0.9, rows * 1.05), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    names = class_names if class_names is not None else None
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= len(images):
            continue
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        if y is not None:
            label = names[y[i]] if names is not None else str(y[i])
            title, colour = label, "black"
            if predictions is not None:
                guess = names[predictions[i]] if names is not None else str(predictions[i])
                title, colour = f"{label}→{guess}", ("black" if predictions[i] == y[i] else "red")
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
    images = _images(data.X_train)
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
    from . import boards as board_profiles

    names = list(sizes)
    fig = Figure(figsize=(7, 2.9), layout="constrained")
    ax = fig.add_subplot()
    positions = np.arange(len(names))
    for offset, key, colour in ((-0.2, "float32", "#4c72b0"), (0.2, "int8", "#55a868")):
        values = [sizes[name][key] for name in names]
        ax.bar(positions + offset, values, width=0.4, label=key, color=colour)
    for board_id, style in zip(boards, ("--", ":")):
        profile = board_profiles.load(board_id)
        ax.axhline(profile["flash_usable_bytes"], color="black", linestyle=style, linewidth=1)
        ax.text(len(names) - 0.5, profile["flash_usable_bytes"] * 1.1,
                f"{profile['name'].split(' (')[0]} flash", ha="right", fontsize=8)
    ax.set_yscale("log")
    tallest = max([v for size in sizes.values() for v in size.values()] +
                  [board_profiles.load(b)["flash_usable_bytes"] for b in boards])
    ax.set_ylim(top=tallest * 4)
    ax.set_xticks(positions, names)
    ax.set_ylabel("bytes (log)")
    ax.set_title("parameters in bytes vs a board's flash")
    ax.legend(fontsize=8, loc="upper left")
    return fig


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
