"""Lesson 04: a sparsity slider showing what one-shot pruning does, with no retraining.

It scores on the validation split: a student reads a sparsity off it (a choice), and lesson 01
promises the test split is read once, for the final model.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import plot, prune
from ._panel import assemble, reporting_errors, show

#: How the panel names each part of the dataset on screen.
PART_NAMES = {"val": "validation", "train": "training", "test": "test"}


def prune_explorer(model, data, *, step_percent: int = 5, max_percent: int = 95,
                   part: str = "val") -> widgets.VBox:
    """Slide the sparsity; see the accuracy of the pruned model and its weight histogram.

    Accuracy is computed once, when the panel is built, at every slider position
    (``0, step_percent, ..., max_percent`` percent, each layer pruned by magnitude and never
    retrained); moving the slider only looks it up and redraws. ``model`` is left unchanged.

    Parameters
    ----------
    model : keras.Model
    data : tinylab.data.Dataset
    step_percent, max_percent : int
        The slider's step and end, in percent.
    part : {"val", "train", "test"}
        Where accuracy is measured: validation by default, since what the slider shows is used
        to choose (the test split is for the final model only).

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``sparsity``, ``layer``, ``status``, ``figures``), ``accuracies``
        (a dict percent -> accuracy) and ``shown`` (the two figures drawn last).
    """
    if int(step_percent) != step_percent or not 1 <= step_percent <= 50:
        raise ValueError(f"step_percent must be a whole number from 1 to 50, got {step_percent!r}")
    if int(max_percent) != max_percent or not 0 <= max_percent < 100:
        raise ValueError(f"max_percent must be a whole number in [0, 100), got {max_percent!r}")
    if part not in PART_NAMES:
        raise ValueError(f"part must be 'val', 'train' or 'test' (choose on 'val'), got {part!r}")
    percents = list(range(0, int(max_percent) + 1, int(step_percent)))
    accuracies = prune.accuracy_without_retraining(model, data, [p / 100 for p in percents],
                                                   part=part)
    lookup = dict(zip(percents, accuracies))
    kernels = {name: np.asarray(model.get_layer(name).kernel) for name in prune.prunable_layers(model)}
    n_weights = sum(k.size for k in kernels.values())

    sparsity = widgets.IntSlider(value=0, min=0, max=percents[-1], step=int(step_percent),
                                 description="sparsity %", continuous_update=False)
    layer = widgets.Dropdown(options=list(kernels), value=list(kernels)[0],
                             description="histogram of")
    status = widgets.HTML()
    figures = widgets.Output()
    panel = widgets.VBox()

    def redraw(_=None):
        with reporting_errors(status):
            percent = int(sparsity.value)
            fraction = percent / 100
            kept = sum(int(prune.sparsity_mask(k, fraction).sum()) for k in kernels.values())
            kernel = kernels[layer.value]
            pruned = np.where(prune.sparsity_mask(kernel, fraction), kernel, 0.0)
            status.value = (f"At <b>{percent}%</b> sparsity: {kept:,} of {n_weights:,} weights "
                            f"kept; {PART_NAMES[part]} accuracy <b>{lookup[percent]:.1%}</b> "
                            f"without retraining (unpruned: {lookup[0]:.1%}).")
            panel.shown = (
                plot.pruning_curve([p / 100 for p in percents],
                                   {"pruned, no retraining": accuracies},
                                   baseline=lookup[0], marker=fraction,
                                   title=f"{model.name}: one-shot pruning, "
                                         f"{PART_NAMES[part]} accuracy"),
                plot.weight_histogram({f"{layer.value}, trained": kernel,
                                       f"{layer.value}, {percent}% pruned": pruned}))
            show(figures, *panel.shown)

    panel.accuracies = lookup
    return assemble(panel, [sparsity, layer], status, figures, redraw,
                    {"sparsity": sparsity, "layer": layer, "status": status, "figures": figures})
