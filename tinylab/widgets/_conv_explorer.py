"""Lesson 10: pick a digit, a convolution and one of its filters; see the map it makes."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from .. import models, plot
from ._panel import assemble, reporting_errors, show


def conv_explorer(model, data, *, index: int = 0, layer: str | None = None,
                  filter_index: int = 0, part: str = "test") -> widgets.VBox:
    """Pick an example, a Conv2D layer and a filter; see the filter, its map and its cost.

    The maps of a layer are computed once for the whole ``part`` the first time the layer is
    chosen (:func:`tinylab.models.feature_maps`), so moving a slider only redraws.

    Parameters
    ----------
    model : keras.Model
        A trained model with Conv2D layers (the lesson ``cnn`` or ``cnn_student``).
    data : tinylab.data.Dataset
    index : int
        The example shown first (an index into ``data.X_<part>``).
    layer : str, optional
        The Conv2D layer shown first; default the first one.
    filter_index : int
        The filter shown first.
    part : {"train", "val", "test"}

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``index``, ``layer``, ``filter``, ``info``, ``figure``) and
        ``state``: ``{"index", "layer", "filter", "feature_map", "layer_macs", "layer_params",
        "filter_macs", "filter_params"}`` for what is shown; ``shown`` is the figure drawn last.
    """
    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    rows = {row["layer"]: row for row in models.mac_table(model) if row["kind"] == "Conv2D"}
    if not rows:
        raise ValueError(f"model {model.name!r} has no Conv2D layer; build one with "
                         f"tl.models.build('cnn_student')")
    layer = list(rows)[0] if layer is None else layer
    if layer not in rows:
        raise ValueError(f"layer must be one of the Conv2D layers {list(rows)}, got {layer!r}")
    X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
    maps = {}  # layer -> its maps for the whole part, computed on first use

    example = widgets.IntSlider(value=int(index), min=0, max=len(y) - 1,
                                description=f"{part} example", continuous_update=False,
                                style={"description_width": "initial"})
    choose_layer = widgets.Dropdown(options=list(rows), value=layer, description="layer")
    choose_filter = widgets.IntSlider(value=0, min=0, max=rows[layer]["output_shape"][-1] - 1,
                                      description="filter", continuous_update=False)
    choose_filter.value = int(filter_index)  # after max is set: a bad value is clipped
    info = widgets.HTML()
    figure = widgets.Output()
    panel = widgets.VBox()

    def follow_layer(change):
        choose_filter.max = rows[change["new"]]["output_shape"][-1] - 1

    choose_layer.observe(follow_layer, names="value")  # before the redraw assemble() adds

    def draw(_=None):
        with reporting_errors(info):
            i, name, k = int(example.value), choose_layer.value, int(choose_filter.value)
            if name not in maps:
                maps[name] = models.feature_maps(model, name, X)
            row = rows[name]
            kernel = np.asarray(model.get_layer(name).kernel)[..., k]
            out_h, out_w, filters = row["output_shape"]
            filter_params = kernel.size + 1  # its weights and its bias
            filter_macs = out_h * out_w * kernel.size
            feature_map = maps[name][i, ..., k]
            sees = ("the digit" if kernel.shape[-1] == 1 else
                    f"the {kernel.shape[-1]} maps of the layer before (after pooling), not "
                    f"the digit itself")
            info.value = (
                f"<b>{html.escape(name)}</b>: {filters} filters of {kernel.shape[0]}x"
                f"{kernel.shape[1]}x{kernel.shape[2]}, output {out_h}x{out_w}x{filters}: "
                f"<b>{row['params']:,}</b> parameters, <b>{row['macs']:,}</b> MACs per "
                f"inference ({row['macs'] / row['params']:.1f} per parameter). "
                f"Filter {k}: {filter_params} parameters used at {out_h * out_w} positions = "
                f"{filter_macs:,} MACs. It sees {sees}. &middot; {part}[{i}], true class "
                f"<b>{html.escape(str(data.class_names[y[i]]))}</b>; its map's largest value "
                f"{feature_map.max():.2f}, {np.mean(feature_map > 0):.0%} of it above zero")
            panel.state = {"index": i, "layer": name, "filter": k, "feature_map": feature_map,
                           "layer_macs": row["macs"], "layer_params": row["params"],
                           "filter_macs": filter_macs, "filter_params": filter_params}
            panel.shown = plot.feature_map(X[i], kernel, feature_map,
                                           title=f"{name}, filter {k}, on {part}[{i}]")
            show(figure, panel.shown)

    panel.state = panel.shown = None
    return assemble(panel, [example, choose_layer, choose_filter], info, figure, draw,
                    {"index": example, "layer": choose_layer, "filter": choose_filter,
                     "info": info, "figure": figure})
