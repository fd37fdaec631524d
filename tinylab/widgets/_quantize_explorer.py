"""Lessons 05 and 06: a bit-width slider: where quantization puts the weights, and its cost."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from .. import plot, prune, quantize, train
from ._panel import assemble, reporting_errors, show

#: The schemes the panel compares, as (button label, key).
SCHEMES = (("affine, asymmetric", "asymmetric"), ("affine, symmetric", "symmetric"),
           ("k-means (shared)", "k-means"))


def _levels_and_accuracies(model, masks, bits_range, X, y, seed, keys):
    """Per scheme and width: every layer's levels, and the accuracy of the quantized model.

    Affine schemes use one scale per layer (per tensor), so that one set of levels stands for
    the whole kernel and can be drawn on its histogram. The model's weights are restored.
    """
    names = prune.prunable_layers(model)
    original = model.get_weights()
    levels = {key: {} for key in keys}
    accuracies = {key: {} for key in keys}
    try:
        for bits in bits_range:
            for key in [key for key in ("asymmetric", "symmetric") if key in keys]:
                model.set_weights(original)
                params = quantize.fake_quantize_weights(model, bits, symmetric=key == "symmetric",
                                                        per_channel=False)
                levels[key][bits] = {
                    name: (params[name].scale * (np.arange(params[name].qmin, params[name].qmax + 1)
                                                 - params[name].zero_point)).astype(np.float64)
                    for name in names}
                accuracies[key][bits] = train.accuracy(model, X, y)
            if "k-means" not in keys:
                continue
            model.set_weights(original)
            sharing = quantize.WeightSharing(bits, seed=seed).fit(model, masks)
            sharing.apply(model)
            levels["k-means"][bits] = {name: sharing.codebooks_[name].astype(np.float64)
                                       for name in names}
            accuracies["k-means"][bits] = train.accuracy(model, X, y)
    finally:
        model.set_weights(original)
    return levels, accuracies


def quantize_explorer(model, data, *, masks=None, min_bits: int = 2, max_bits: int = 8,
                      bits: int = 3, part: str = "val", schemes=None,
                      seed: int = 0) -> widgets.VBox:
    """Slide the bits per weight; see one layer's quantization levels and the model's accuracy.

    Up to three schemes, each applied to every layer with a kernel (biases stay float32):
    affine asymmetric and affine symmetric (:func:`tinylab.quantize.fake_quantize_weights`
    with one scale per layer) and k-means weight sharing
    (:class:`tinylab.quantize.WeightSharing`, not fine-tuned). The accuracy of every scheme at
    every width is computed once, when the panel is built (one or two seconds for lesson 04's
    pruned teacher), so moving the slider only looks it up and redraws. ``model`` is left
    unchanged; pruned zeros stay zero in every scheme.

    Parameters
    ----------
    model : keras.Model
        Returns logits, e.g. ``tl.prune.load_or_prune(data)[0]``.
    data : tinylab.data.Dataset
    masks : dict of str -> ndarray of bool, optional
        Keep-masks for weight sharing; by default every non-zero weight is kept.
    min_bits, max_bits : int
        The slider's range, 2 to 8 (2 bits is the fewest an affine grid with a zero point can
        use; past 8, every scheme already matches float32 on the lesson models).
    bits : int
        The width shown first.
    part : {"train", "val", "test"}
        Where accuracies are measured; the validation split by default, since a student
        chooses a width from them (the test split is read once, for a lesson's final model).
    schemes : sequence of {"asymmetric", "symmetric", "k-means"}, optional
        The schemes to offer, default all three (lesson 06); lesson 05 shows the two affine
        ones.
    seed : int
        Seeds k-means.

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``bits``, ``scheme``, ``layer``, ``status``, ``figures``),
        ``accuracies`` (scheme -> {bits: accuracy}), ``float_accuracy``, ``shown`` (the two
        figures drawn last) and ``result``: ``{"bits", "scheme", "layer", "accuracy",
        "levels", "max_abs_error", "rms_error"}`` for what is shown (errors of the chosen
        layer's non-zero weights, in the weights' units).
    """
    for value, name in ((min_bits, "min_bits"), (max_bits, "max_bits"), (bits, "bits")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 2 <= value <= 8:
            raise ValueError(f"{name} must be a whole number from 2 to 8, got {value!r}")
    if min_bits >= max_bits:
        raise ValueError(f"min_bits must be below max_bits, got {min_bits} and {max_bits}")
    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    known = [key for _, key in SCHEMES]
    keys = known if schemes is None else [schemes] if isinstance(schemes, str) else list(schemes)
    if not keys or any(key not in known for key in keys) or len(set(keys)) != len(keys):
        raise ValueError(f"schemes must be some of {known}, each once, got {schemes!r}")
    X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
    bits_range = list(range(int(min_bits), int(max_bits) + 1))
    kernels = {name: np.asarray(model.get_layer(name).kernel, dtype=np.float64)
               for name in prune.prunable_layers(model)}
    if not kernels:
        raise ValueError(f"model {model.name!r} has no layer with a kernel to quantize")
    float_accuracy = train.accuracy(model, X, y)
    levels, accuracies = _levels_and_accuracies(model, masks, bits_range, X, y, seed, keys)
    offered = [(label, key) for label, key in SCHEMES if key in keys]

    slider = widgets.IntSlider(value=min(max(int(bits), bits_range[0]), bits_range[-1]),
                               min=bits_range[0], max=bits_range[-1], description="bits",
                               continuous_update=False)
    scheme = widgets.ToggleButtons(options=offered, value=offered[0][1],
                                   style={"button_width": "auto"})
    layer = widgets.Dropdown(options=list(kernels), value=list(kernels)[0],
                             description="histogram of")
    status = widgets.HTML()
    figures = widgets.Output()
    panel = widgets.VBox()
    labels = dict((key, label) for label, key in SCHEMES)

    def redraw(_=None):
        with reporting_errors(status):
            width, key, name = int(slider.value), scheme.value, layer.value
            kernel = kernels[name]
            grid = levels[key][width][name]
            alive = kernel[kernel != 0]
            moved = np.abs(alive[:, np.newaxis] - grid).min(axis=1) if alive.size \
                else np.zeros(1)
            max_abs, rmse = float(moved.max()), float(np.sqrt(np.mean(moved ** 2)))
            accuracy = accuracies[key][width]
            if key == "k-means":
                detail = f"{grid.size} shared values (a codebook) + a {width}-bit index per weight"
            else:
                detail = f"{grid.size} levels, step (scale) {grid[1] - grid[0]:.4f}"
            status.value = (
                f"<b>{width} bits</b>, {html.escape(labels[key])}: {part} accuracy "
                f"<b>{accuracy:.1%}</b> (float32 {float_accuracy:.1%}) &middot; "
                f"{html.escape(name)}: {detail}; its non-zero weights move by "
                f"{rmse:.4f} (RMS), at most {max_abs:.4f}")
            panel.result = {"bits": width, "scheme": key, "layer": name, "accuracy": accuracy,
                            "levels": grid, "max_abs_error": max_abs, "rms_error": rmse}
            panel.shown = (
                plot.accuracy_vs_bits(bits_range, {labels[k]: [accuracies[k][b] for b in bits_range]
                                                   for _, k in offered},
                                      baseline=float_accuracy, marker=width,
                                      title=f"{model.name}: {part} accuracy, weights quantized"),
                plot.quantization_levels(kernel, {f"{name}, {labels[key]}, {width} bits": grid}))
            show(figures, *panel.shown)

    panel.accuracies, panel.float_accuracy, panel.result = accuracies, float_accuracy, None
    return assemble(panel, [slider, scheme, layer], status, figures, redraw,
                    {"bits": slider, "scheme": scheme, "layer": layer, "status": status,
                     "figures": figures})
