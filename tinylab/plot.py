"""The lessons' figures.

Every function builds a :class:`matplotlib.figure.Figure` directly (not through pyplot) and
returns it: a notebook shows it as the cell's value, a widget panel shows it in its
``Output``, a script saves it. Nothing is kept in pyplot's figure list, so a panel that redraws
on every slider move does not leak figures, and nothing here sets global styles.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

__all__ = ["digit", "sample", "image_grid", "class_balance", "pixel_stats", "history",
           "confusion_matrix", "model_sizes", "soft_targets", "distillation_grid",
           "weight_histogram", "pruning_curve", "quantization_levels", "accuracy_vs_bits",
           "huffman_tree", "code_lengths", "bits_per_symbol", "compression_stages",
           "board_usage", "board_answer", "imu_windows"]


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


def image_grid(X, y=None, class_names=None, *, n: int = 30, cols: int = 10, predictions=None,
               titles=None):
    """The first ``n`` images in a grid, titled with their label (and prediction, red if wrong).

    ``titles``, one string per image, replaces the ``label→prediction`` titles (lesson 07
    writes the board's and the host's class); a title stays red where the prediction is wrong.
    """
    images = _images(X)[:n]
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


def _flash_lines(ax, boards, *, right: float):
    """A labelled horizontal line at each board's usable flash (dashed, then dotted)."""
    from . import boards as board_profiles

    for board_id, style in zip(boards, ("--", ":")):
        profile = board_profiles.load(board_id)
        ax.axhline(profile["flash_usable_bytes"], color="black", linestyle=style, linewidth=1)
        ax.text(right, profile["flash_usable_bytes"] * 1.12,
                f"{profile['name'].split(' (')[0]} flash", ha="right", fontsize=8)


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
    _flash_lines(ax, boards, right=len(names) - 0.5)
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


def _nearest_level(values, levels) -> np.ndarray:
    """Index into sorted ``levels`` of the level nearest each value (ties to the lower one)."""
    if len(levels) == 1:
        return np.zeros(len(values), dtype=int)
    right = np.clip(np.searchsorted(levels, values), 1, len(levels) - 1)
    left = right - 1
    return np.where(np.abs(values - levels[left]) <= np.abs(levels[right] - values), left, right)


def quantization_levels(weights, levels, *, bins: int = 80, title: str | None = None):
    """Histogram of the non-zero weights with a vertical line at every quantization level.

    Lesson 05 draws where quantization lets the weights go: an affine grid
    (``scale * (q - zero_point)`` for every integer ``q``) or a k-means codebook. A level
    that is the nearest one for at least one weight is drawn solid red, a level no weight
    uses dotted grey: the codes a uniform grid wastes, e.g. in the gap pruning cut around
    zero. Zeros (pruned weights) are left out of the bars, as in :func:`weight_histogram`.

    Parameters
    ----------
    weights : array_like of float, any shape
        One layer's kernel.
    levels : array_like of float, shape (n_levels,), or dict of str -> such arrays
        The values a weight may take; a dict draws one panel per entry, side by side, over
        the same weights (e.g. ``{"uniform, 3 bits": grid, "k-means, 3 bits": codebook}``).
    bins : int
    title : str, optional
        Above the panels.

    Returns
    -------
    matplotlib.figure.Figure
        Each panel's title gives the number of levels, how many are used and how many
        weights are drawn.
    """
    values = np.asarray(weights, dtype=float).ravel()
    alive = values[values != 0]
    entries = levels if isinstance(levels, dict) else {"": levels}
    if not entries:
        raise ValueError("quantization_levels needs levels: an array, or {label: array} entries")
    grids = {}
    for label, grid in entries.items():
        grid = np.unique(np.asarray(grid, dtype=float).ravel())
        if grid.size == 0 or not np.all(np.isfinite(grid)):
            raise ValueError(f"levels {label!r} must be a non-empty array of finite numbers")
        grids[label] = grid
    everything = np.concatenate([alive] + list(grids.values()))
    low, high = everything.min(), everything.max()
    margin = 0.03 * (high - low) if high > low else 1.0
    edges = np.linspace(alive.min(), alive.max(), int(bins) + 1) \
        if alive.size and alive.min() < alive.max() else int(bins)
    fig = Figure(figsize=(4.3 * len(grids) + 0.4, 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(grids), sharex=True, sharey=True))
    for ax, (label, grid) in zip(axes, grids.items()):
        if alive.size:
            ax.hist(alive, bins=edges, color="#4c72b0")
        used = np.zeros(grid.size, dtype=bool)
        if alive.size:
            used[_nearest_level(alive, grid)] = True
        used |= (grid == 0.0) & (alive.size < values.size)  # zero weights sit on a 0.0 level
        # a few levels are drawn over the bars; many (8 bits: 256) behind them, thin and light
        few = grid.size <= 64
        style = dict(transform=ax.get_xaxis_transform(), linewidth=1.0 if few else 0.5,
                     zorder=3 if few else 0)
        ax.vlines(grid[~used], 0, 1, colors="#8c959f", linestyles=":",
                  label="level no weight uses" if (~used).any() else None, **style)
        ax.vlines(grid[used], 0, 1, colors="#cf222e", alpha=0.8 if few else 0.35,
                  label="level in use" if used.any() else None, **style)
        ax.set_xlim(low - margin, high + margin)
        heading = f"{label}\n" if label else ""
        ax.set_title(f"{heading}{grid.size:,} levels ({int(used.sum()):,} in use); "
                     f"{alive.size:,} weights, {values.size - alive.size:,} zeros not drawn",
                     fontsize=9)
        ax.set_xlabel("weight value")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("weights")
    axes[0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def accuracy_vs_bits(bits, accuracies: dict, *, baseline: float | None = None,
                     marker: int | None = None, title: str = "accuracy vs bits per weight"):
    """Accuracy against the bits each weight is stored in, one line per entry of ``accuracies``.

    ``bits`` are whole numbers (lesson 05: 2 to 8); each entry of ``accuracies`` maps a label
    (e.g. ``"affine, asymmetric"``) to accuracies (fractions) at those widths, or to a pair
    ``(its own bits, accuracies)``. ``baseline`` draws the float32 model's accuracy,
    ``marker`` a vertical line at one width (the lesson 05 slider).
    """
    if not accuracies:
        raise ValueError("accuracy_vs_bits needs at least one {label: accuracies} entry")
    fig = Figure(figsize=(6.5, 3.0), layout="constrained")
    ax = fig.add_subplot()
    shown = []
    for label, values in accuracies.items():
        xs, ys = values if isinstance(values, tuple) else (bits, values)
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        if xs.shape != ys.shape:
            raise ValueError(f"{label!r}: {ys.size} accuracies for {xs.size} bit widths")
        style = ("o-", "s--", "^:", "D-.")[len(ax.lines) % 4]  # overlapping lines stay visible
        ax.plot(xs, 100 * ys, style, markersize=7 - 1.5 * (len(ax.lines) % 4),
                fillstyle="none" if len(ax.lines) % 2 else "full", label=label)
        shown.extend(xs.tolist())
    if baseline is not None:
        ax.axhline(100 * baseline, color="black", linestyle="--", linewidth=1, label="float32")
    if marker is not None:
        ax.axvline(marker, color="#cf222e", linewidth=1)
    ticks = np.arange(int(min(shown)), int(max(shown)) + 1)
    ax.set_xticks(ticks)
    ax.set_xlabel("bits per weight")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------- lesson 06: Huffman

def _symbol_label(symbol, labels) -> str:
    return str(labels.get(symbol, symbol)) if labels else str(symbol)


def huffman_tree(tree_nodes, *, labels: dict | None = None, title: str | None = None):
    """Huffman's tree as :func:`tinylab.huffman.tree` returns it, drawn top down (lesson 06).

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
    """How often each symbol occurs (bars) and the bits its code word takes (dots): lesson 06.

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
    """Fixed-width bits, Huffman's average and the entropy of several streams (lesson 06).

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


def compression_stages(stages, *, boards=("uno",), title: str | None = None):
    """Bytes and test accuracy after each stage of :func:`tinylab.pipeline.run` (lesson 06).

    ``stages`` is ``PipelineResult.stages``: dicts with ``stage``, ``bytes``, ``ratio`` and
    ``test_accuracy``. Left, the bytes on a log scale with each stage's compression ratio on its
    bar and the boards' flash for scale; right, the test accuracy of each stage.
    """
    from . import pipeline

    names = [s["stage"].replace(" (", "\n(") for s in stages]
    positions = np.arange(len(stages))
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    sizes, accuracy = fig.subplots(1, 2, width_ratios=(3, 2))
    bars = sizes.bar(positions, [s["bytes"] for s in stages], color="#4c72b0")
    for bar, stage in zip(bars, stages):
        sizes.text(bar.get_x() + bar.get_width() / 2, bar.get_height() * 1.15,
                   f"{stage['bytes']:,} B\n{stage['ratio']:.1f}x", ha="center", fontsize=8)
    _flash_lines(sizes, boards, right=len(stages) - 0.5)
    sizes.set_yscale("log")
    sizes.set_ylim(min(s["bytes"] for s in stages) / 3, max(s["bytes"] for s in stages) * 8)
    sizes.set_xticks(positions, names, fontsize=8)
    sizes.set_ylabel("bytes (log)")
    sizes.set_title(title or "size after each stage")
    values = [100 * s["test_accuracy"] for s in stages]
    accuracy.plot(positions, values, marker="o", color="#c44e52")
    for x, value in zip(positions, values):
        accuracy.annotate(f"{value:.1f}%", (x, value), textcoords="offset points",
                          xytext=(0, 6), ha="center", fontsize=8)
    low, high = min(values), max(values)
    accuracy.set_ylim(low - max(1.0, high - low), high + max(1.0, (high - low) / 2))
    short = [pipeline.stage_label(s["stage"]) for s in stages]  # "P+Q+H", "float32"
    accuracy.set_xticks(positions, short, fontsize=8)
    accuracy.set_xlim(-0.5, len(stages) - 0.5)
    accuracy.set_ylabel("test accuracy (%)")
    accuracy.set_title("accuracy after each stage")
    return fig


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
    """Flash and static RAM of each build against the boards' limits (lesson 07).

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
    from . import boards as board_profiles

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
    """One example, and the int8 scores a board and the host computed for it (lesson 07).

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


def imu_windows(X, y, class_names, columns, *, per_class: int = 1,
                sample_rate_hz: float | None = None, title: str | None = None):
    """Sensor windows as line plots: one row per class, one small plot per channel (lesson 08).

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
    from . import pipeline

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


__all__ += ["compression_waterfall"]  # noqa: E305 (issue 7's compression explorer app)
