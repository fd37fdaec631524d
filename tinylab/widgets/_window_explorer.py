"""Lesson 09: pick a sensor window; see its channels through the model's one int8 input scale."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .. import boards, quantize
from ._panel import assemble, reporting_errors, show

#: The two ways of feeding the windows to an int8 model, as (button label, key).
SCALINGS = (("as the model gets them", "model"), ("raw sensor values", "raw"))

INT8_MIN, INT8_MAX = -128, 127


def _int8(values, scale: float, zero_point: int):
    """``(q, clipped)``: TFLite's input quantization in float32, half away from zero
    (:func:`tinylab.convert.quantize_tensor`), and where a value fell outside int8's range."""
    scaled = np.asarray(values, dtype=np.float32) / np.float32(scale)
    unclipped = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5)) + zero_point
    q = np.clip(unclipped, INT8_MIN, INT8_MAX).astype(np.int8)
    return q, (unclipped < INT8_MIN) | (unclipped > INT8_MAX)


def _channel_names(data, n_channels: int) -> list:
    for source in (data.normalization, data.provenance):
        names = source.get("channels")
        if names and len(names) == n_channels:
            return [str(name) for name in names]
    return [f"ch{c}" for c in range(n_channels)]


def _window_figure(time, raw_window, seen_window, clipped, names, units, titles, *, title, xlabel):
    """One small plot per channel: the window in its units, and what the int8 input keeps."""
    n_channels = len(names)
    cols = min(3, n_channels)
    rows = -(-n_channels // cols)
    fig = Figure(figsize=(3.3 * cols, 2.0 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False).ravel()
    for c, ax in enumerate(axes):
        if c >= n_channels:
            ax.set_visible(False)
            continue
        ax.plot(time, raw_window[:, c], color="0.6", linewidth=2.5, label="recorded")
        ax.plot(time, seen_window[:, c], color="C0", linewidth=1, drawstyle="steps-mid",
                label="int8 input, back in units")
        if clipped[:, c].any():
            ax.plot(time[clipped[:, c]], seen_window[clipped[:, c], c], "x", color="C3",
                    label="clipped")
        ax.set_title(titles[c], fontsize=9)
        ax.set_ylabel(f"{names[c]} ({units[c]})" if units[c] else names[c], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if c >= n_channels - cols:
            ax.set_xlabel(xlabel, fontsize=8)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    return fig


def window_explorer(data, *, integer_model=None, part: str = "test", label: int = 0,
                    index: int = 0) -> widgets.VBox:
    """Pick a class and one of its windows; see each channel through one int8 input scale.

    A full-int8 model (lessons 05, 08) quantizes its whole input with **one** scale and zero
    point, calibrated on the training windows' range. Each channel is drawn in its own units
    (g, deg/s) with what the int8 input keeps of it, and the panel counts, per channel, the
    step of one int8 level in those units, the int8 values the window uses and those all the
    ``part``'s windows use, and the values clipped at int8's ends. "raw sensor values" shows
    what the same quantization would do to the windows left raw (one scale calibrated on the
    raw training windows): the lesson's reason to standardize each channel. Every window of
    ``part`` is quantized once, when the panel is built, so the controls only look up and
    redraw.

    Works on any :class:`tinylab.data.Dataset` of windows ``(n, steps, channels)``: channel
    names come from ``normalization["channels"]`` or ``provenance["channels"]`` (else
    ``ch0``, ``ch1``, ...), units from ``provenance["units"]``, the time axis from
    ``provenance["sample_rate_hz"]`` when there is one.

    Parameters
    ----------
    data : tinylab.data.Dataset
        Windows as the model gets them (e.g. ``tl.data.load("gestures")``, standardized per
        channel); :meth:`Dataset.raw` takes them back to sensor units.
    integer_model : tinylab.engine.IntegerModel, optional
        The int8 model (``tl.deploy.integer_model(model, data)[0]``): its ``input_scale`` and
        ``input_zero_point`` are used. Without it they are computed from ``data.X_train``'s
        range, as the converter calibrates them (:func:`tinylab.quantize.quantization_params`).
    part : {"train", "val", "test"}
    label : int
        The class shown first.
    index : int
        The window shown first, counted among that class's windows in ``part``.

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``label``, ``index``, ``scaling``, ``info``, ``figure``), ``shown``
        (the figure drawn last) and ``state``: ``{"part", "label", "index" (into
        data.X_<part>), "scaling", "input_scale", "zero_point", "step_units" (one int8 step
        per channel, in its units), "window_int8" (steps, channels), "window_levels",
        "part_levels", "window_clipped", "part_clipped" (per channel), "bytes_int8",
        "bytes_float32"}`` for what is shown.
    """
    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    X, y = np.asarray(getattr(data, f"X_{part}")), np.asarray(getattr(data, f"y_{part}"))
    if X.ndim != 3:
        raise ValueError(f"window_explorer needs windows of shape (n, steps, channels); "
                         f"{data.name!r} has examples of shape {tuple(data.input_shape)}")
    if not 0 <= int(label) < data.n_classes:
        raise ValueError(f"label must be a class index from 0 to {data.n_classes - 1}, "
                         f"got {label!r}")
    n_steps, n_channels = X.shape[1:]
    names = _channel_names(data, n_channels)
    unit_of = data.provenance.get("units") or {}
    units = [str(unit_of.get(name, "")) for name in names]
    rate_hz = data.provenance.get("sample_rate_hz")
    time = np.arange(n_steps) / rate_hz if rate_hz else np.arange(n_steps)

    raw = data.raw(X)  # sensor units
    raw_train = data.raw(data.X_train)
    if integer_model is not None:
        model_scale = float(integer_model.input_scale)
        model_zero_point = int(integer_model.input_zero_point)
    else:
        params = quantize.quantization_params(data.X_train, 8)
        model_scale, model_zero_point = float(params.scale), int(params.zero_point)
    raw_params = quantize.quantization_params(raw_train, 8)
    # one step of the model's int8 input, back in each channel's units (x = (raw - offset) * s)
    units_per_model_unit = np.broadcast_to(1.0 / np.asarray(data.normalization["scale"], float),
                                           (n_channels,))
    scalings = {}
    for key, values, scale, zero_point, to_units, steps in (
            ("model", X, model_scale, model_zero_point, data.raw,
             model_scale * units_per_model_unit),
            ("raw", raw, float(raw_params.scale), int(raw_params.zero_point),
             lambda v: np.asarray(v, np.float32), np.full(n_channels, float(raw_params.scale)))):
        q, clipped = _int8(values, scale, zero_point)
        seen = to_units(np.float32(scale) * (q.astype(np.float32) - zero_point))
        scalings[key] = {"scale": scale, "zero_point": zero_point, "int8": q, "clipped": clipped,
                         "seen": seen, "step_units": steps,
                         "part_levels": [len(np.unique(q[..., c])) for c in range(n_channels)],
                         "part_clipped": clipped.sum(axis=(0, 1)).astype(int).tolist()}
    ram_bytes = boards.load("uno")["ram_bytes"]
    bytes_int8 = n_steps * n_channels
    labels = dict((key, text) for text, key in SCALINGS)

    choose_label = widgets.Dropdown(options=[(str(n), i) for i, n in enumerate(data.class_names)],
                                    value=int(label), description="class")
    choose_index = widgets.IntSlider(value=0, min=0, max=max(int(np.sum(y == int(label))) - 1, 0),
                                     description="window", continuous_update=False)
    choose_index.value = int(index)  # after max is set: a bad value is clipped
    scaling = widgets.ToggleButtons(options=list(SCALINGS), value="model",
                                    style={"button_width": "auto"})
    info = widgets.HTML()
    figure = widgets.Output()
    panel = widgets.VBox()

    def follow_label(change):
        choose_index.max = max(int(np.sum(y == change["new"])) - 1, 0)

    choose_label.observe(follow_label, names="value")  # before the redraw assemble() adds

    def draw(_=None):
        with reporting_errors(info):
            k, key = int(choose_label.value), scaling.value
            members = np.flatnonzero(y == k)
            class_name = html.escape(str(data.class_names[k]))
            if not len(members):
                raise ValueError(f"the {part} split has no window of class {data.class_names[k]!r}")
            i = int(members[min(int(choose_index.value), len(members) - 1)])
            s = scalings[key]
            window_levels = [len(np.unique(s["int8"][i, :, c])) for c in range(n_channels)]
            window_clipped = s["clipped"][i].sum(axis=0).astype(int).tolist()
            steps = s["step_units"]
            titles = [f"{names[c]}: {window_levels[c]} int8 value"
                      f"{'' if window_levels[c] == 1 else 's'}, step {steps[c]:.3g} "
                      f"{units[c]}".rstrip() for c in range(n_channels)]
            rows = "".join(
                f"<tr><td>{html.escape(names[c])}</td><td>{steps[c]:.3g} {html.escape(units[c])}"
                f"</td><td>{window_levels[c]}</td><td>{s['part_levels'][c]}</td>"
                f"<td>{s['part_clipped'][c]:,}</td></tr>" for c in range(n_channels))
            info.value = (
                f"<b>{part}[{i}]</b>, class <b>{class_name}</b>, window "
                f"{int(choose_index.value) + 1} of {len(members)} &middot; "
                f"{html.escape(labels[key])}: one int8 step is {s['scale']:.4g}, zero point "
                f"{s['zero_point']} &middot; one window, {n_steps}x{n_channels} values: "
                f"<b>{bytes_int8:,} B</b> as int8, {4 * bytes_int8:,} B as float32 (the Uno "
                f"has {ram_bytes:,} B of RAM)"
                f"<table style='font-size:90%'><tr><th>channel</th><th>one int8 step</th>"
                f"<th>int8 values, this window</th><th>all {len(y)} {part} windows</th>"
                f"<th>clipped in {part}</th></tr>{rows}</table>")
            panel.state = {"part": part, "label": k, "index": i, "scaling": key,
                           "input_scale": s["scale"], "zero_point": s["zero_point"],
                           "step_units": [float(v) for v in steps],
                           "window_int8": s["int8"][i], "window_levels": window_levels,
                           "part_levels": list(s["part_levels"]),
                           "window_clipped": window_clipped,
                           "part_clipped": list(s["part_clipped"]),
                           "bytes_int8": bytes_int8, "bytes_float32": 4 * bytes_int8}
            panel.shown = _window_figure(
                time, raw[i], s["seen"][i], s["clipped"][i], names, units, titles,
                title=f"{part}[{i}], {data.class_names[k]}: {labels[key]}, one int8 scale",
                xlabel="s" if rate_hz else "step")
            show(figure, panel.shown)

    panel.state = panel.shown = None
    return assemble(panel, [choose_label, choose_index, scaling], info, figure, draw,
                    {"label": choose_label, "index": choose_index, "scaling": scaling,
                     "info": info, "figure": figure})
