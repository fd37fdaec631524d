"""Lesson 01: browse the dataset one example at a time."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import plot
from ._panel import reporting_errors, show


def sample_browser(data) -> widgets.VBox:
    """Pick a part (train/val/test) and a class, slide through its examples.

    Each example is drawn with its raw pixel values and as the flat input vector.
    """
    part = widgets.ToggleButtons(options=["train", "val", "test"], value="train",
                                 description="part")
    label = widgets.Dropdown(options=[("all classes", -1)] +
                             [(name, i) for i, name in enumerate(data.class_names)],
                             value=-1, description="class")
    index = widgets.IntSlider(value=0, min=0, max=len(data.y_train) - 1, description="example",
                              continuous_update=True)
    info = widgets.HTML()
    figure = widgets.Output()
    raw_scale = 1.0 / data.normalization["scale"]

    def selection():
        y = getattr(data, f"y_{part.value}")
        return np.arange(len(y)) if label.value < 0 else np.flatnonzero(y == label.value)

    def draw(_=None):
        with reporting_errors(info):
            chosen = selection()
            X, y = getattr(data, f"X_{part.value}"), getattr(data, f"y_{part.value}")
            i = int(chosen[min(index.value, len(chosen) - 1)])
            x = X[i]
            info.value = (f"<b>{part.value}[{i}]</b>: class <b>{data.class_names[y[i]]}</b> "
                          f"&middot; {len(chosen)} examples in this selection &middot; "
                          f"values {x.min():.2f}..{x.max():.2f} after normalization "
                          f"({data.normalization['description']})")
            show(figure, plot.sample(x, title=f"class {data.class_names[y[i]]}",
                                     raw_scale=raw_scale))

    def reselect(_=None):
        index.max = max(len(selection()) - 1, 0)
        index.value = min(index.value, index.max)
        draw()

    part.observe(reselect, names="value")
    label.observe(reselect, names="value")
    index.observe(draw, names="value")
    reselect()
    panel = widgets.VBox([widgets.HBox([part, label]), index, info, figure])
    panel.controls = {"part": part, "label": label, "index": index, "info": info, "figure": figure}
    return panel
