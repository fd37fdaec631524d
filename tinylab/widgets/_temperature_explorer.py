"""Lesson 03: slide the temperature, watch the teacher's soft targets spread out."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from .. import distill, plot
from ._panel import assemble, reporting_errors, show


def temperature_explorer(data, teacher, *, index: int = 0, temperature: float = 1.0,
                         part: str = "test") -> widgets.VBox:
    """Pick an example and a temperature; see the teacher's soft targets (eq. (2)) and entropy.

    Parameters
    ----------
    data : tinylab.data.Dataset
    teacher : keras.Model
        Returns logits; they are computed once for the whole ``part``, so moving a slider only
        redoes the softmax.
    index : int
        The example shown first (an index into ``data.X_<part>``).
    temperature : float
        The starting ``T``, between 1 and 20.
    part : {"train", "val", "test"}

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``index``, ``temperature``, ``info``, ``figure``) and ``state``:
        ``{"index", "temperature", "soft_targets", "entropy_nats"}`` for what is shown.
    """
    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
    logits = teacher.predict(np.asarray(X, dtype=np.float32), batch_size=256, verbose=0)
    predicted = np.argmax(logits, axis=-1)
    example = widgets.IntSlider(value=int(index), min=0, max=len(y) - 1,
                                description=f"{part} example", continuous_update=True,
                                style={"description_width": "initial"})
    slider = widgets.FloatSlider(value=float(temperature), min=1.0, max=20.0, step=0.5,
                                 description="temperature T", continuous_update=True,
                                 style={"description_width": "initial"})
    info = widgets.HTML()
    figure = widgets.Output()
    panel = widgets.VBox()
    uniform_nats = np.log(data.n_classes)

    def draw(_=None):
        with reporting_errors(info):
            i, temp = int(example.value), float(slider.value)
            p = distill.softmax(logits[i], temp)
            h = float(distill.entropy(p))
            top = np.argsort(-p)[:3]
            ranked = ", ".join(f"{data.class_names[c]}: {p[c]:.3f}" for c in top)
            verdict = "right" if predicted[i] == y[i] else "wrong"
            info.value = (f"<b>{part}[{i}]</b>: true class <b>{html.escape(data.class_names[y[i]])}"
                          f"</b>, teacher says <b>{html.escape(data.class_names[predicted[i]])}</b> "
                          f"({verdict}) &middot; T = {temp:g}: {ranked} &middot; entropy "
                          f"<b>{h:.3f}</b> nats (one-hot 0, uniform {uniform_nats:.3f})")
            panel.state = {"index": i, "temperature": temp, "soft_targets": p, "entropy_nats": h}
            bars = plot.soft_targets({f"T = {temp:g}": p}, data.class_names,
                                     title=f"teacher's soft targets at T = {temp:g}")
            image = plot.digit(X[i], title=f"true {data.class_names[y[i]]}", annotate=False)
            image.set_size_inches(2.2, 2.2)
            show(figure, widgets.HBox([_figure_output(image), _figure_output(bars)]))

    panel.state = None
    return assemble(panel, [example, slider], info, figure, draw,
                    {"index": example, "temperature": slider, "info": info, "figure": figure})


def _figure_output(fig) -> widgets.Output:
    out = widgets.Output()
    show(out, fig)
    return out

