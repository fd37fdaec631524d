"""Lesson 01: draw a digit with the mouse, see it as the 8x8 counts a model reads, save it."""

from __future__ import annotations

import csv
import html
import math
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets
from IPython.display import HTML

from .. import data as data_module
from ._panel import reporting_errors, show

CANVAS_PIXELS = 256
# Pen width in canvas pixels, for what the student sees. The 8x8 digit does not depend on it:
# tinylab.data.digit_from_strokes scales the drawing to the box and picks its own pen width, so
# that the digit is 30% ink like the UCI digits, wherever and however big it was drawn.
PEN_WIDTH = 16
DIGIT_PIXELS = 64
# What a drawing may hold, so that a page (or a visitor of a Voila app, who can send any
# widget state) cannot hand the kernel a drawing it would take long to rasterize. The pad's
# front end keeps a point only when it is a pixel from the last, so a hand never comes near.
MAX_STROKES = 200
MAX_POINTS = 20_000
HEADER = [f"p{i}" for i in range(DIGIT_PIXELS)] + ["label"]


def counts_html(counts, title: str = "") -> str:
    """The 8x8 counts as the model reads them: a grid of gray cells (0 white, 16 black), each
    with its count written on it, under ``title``.

    HTML rather than a matplotlib figure: nothing to import or render in the kernel (a Voila
    app's kernel stays light, a stroke's preview costs microseconds), and as sharp at any zoom.
    """
    counts = np.clip(np.asarray(counts, dtype=float).reshape(8, 8), 0, 16)
    cells = []
    for row in counts:
        tds = []
        for value in row:
            gray = round(255 * (1 - value / 16))
            ink = "#fff" if value > 8 else "#000"
            tds.append(f"<td style='width:26px;height:26px;padding:0;text-align:center;"
                       f"font:11px monospace;background:rgb({gray},{gray},{gray});color:{ink};"
                       f"border:1px solid #ddd'>{value:.0f}</td>")
        cells.append(f"<tr>{''.join(tds)}</tr>")
    caption = (f"<caption style='caption-side:top;font-size:12px;padding-bottom:4px'>"
               f"{html.escape(title)}</caption>" if title else "")
    return (f"<table class='tl-counts' style='border-collapse:collapse;margin:8px'>{caption}"
            f"{''.join(cells)}</table>")


def count_rows(path) -> int:
    """Examples already in a drawing-pad CSV (0 when it does not exist yet)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with path.open(newline="") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def append_row(path, counts, label: int) -> int:
    """Append one 8x8 digit (raw counts 0..16) and its label to ``path``; return the row count.

    A new or empty file gets the header ``p0..p63,label`` first; an existing file must have
    that header, so rows of another kind are never mixed in.
    """
    path = Path(path)
    counts = np.asarray(counts)
    if counts.shape != (8, 8):
        raise ValueError(f"a digit must be 8x8 counts, got shape {counts.shape}")
    if not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a digit 0..9, got {label!r}")
    fresh = not path.is_file() or path.stat().st_size == 0
    if not fresh:
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), None)
        if header != HEADER:
            raise ValueError(f"{path} is not a drawing-pad CSV (its header is not p0..p63,label); "
                             "choose another file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if fresh:
            writer.writerow(HEADER)
        writer.writerow([int(v) for v in counts.ravel()] + [int(label)])
    return count_rows(path)


class Pad(anywidget.AnyWidget):
    """The canvas of :func:`drawing_pad`: the browser draws, the kernel gets whole strokes.

    The front end (``_drawing_pad.js``, an ES module anywidget loads; no build step) paints
    the ink as the pen moves and appends the finished stroke to ``strokes`` when the pen
    lifts, so a stroke is one message to the kernel, however long it was. ``strokes`` is the
    whole drawing: set it (``[]`` clears) and every view repaints; a view that connects late
    paints it from the widget's state.
    """

    _esm = Path(__file__).with_name("_drawing_pad.js")
    size = traitlets.Int(CANVAS_PIXELS).tag(sync=True)
    pen_width = traitlets.Int(PEN_WIDTH).tag(sync=True)
    strokes = traitlets.List().tag(sync=True)

    @traitlets.validate("strokes")
    def _check_strokes(self, proposal):
        return check_strokes(proposal["value"])


def check_strokes(strokes) -> list:
    """``strokes`` as a list of strokes of ``(x, y)`` float tuples, or a ValueError that says
    what is wrong with them (the pad's ``strokes`` accepts nothing else)."""
    if not isinstance(strokes, (list, tuple)) or len(strokes) > MAX_STROKES:
        raise ValueError(f"a drawing is a list of at most {MAX_STROKES} strokes, "
                                   f"got {type(strokes).__name__} "
                                   f"{len(strokes) if isinstance(strokes, (list, tuple)) else ''}")
    clean, total = [], 0
    for number, stroke in enumerate(strokes, 1):
        if not isinstance(stroke, (list, tuple)):
            raise ValueError(f"stroke {number} is not a list of (x, y) points")
        total += len(stroke)
        if total > MAX_POINTS:
            raise ValueError(f"the drawing has more than {MAX_POINTS:,} points: "
                                       "clear the pad and draw again")
        points = []
        for point in stroke:
            if (not isinstance(point, (list, tuple)) or len(point) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               and math.isfinite(v) for v in point)):
                raise ValueError(f"stroke {number} has a point {point!r}: a point is "
                                           "two finite numbers (x, y), canvas pixels")
            points.append((float(point[0]), float(point[1])))
        clean.append(points)
    return clean


class DrawingPad(widgets.VBox):
    """What :func:`drawing_pad` returns (a VBox): ``strokes`` is its canvas's drawing."""

    @property
    def strokes(self) -> list:
        return self.controls["canvas"].strokes


def drawing_pad(out_csv=None, *, model=None, data=None, on_digit=None) -> widgets.VBox:
    """Draw a digit with the mouse; see its 8x8 counts; label and save it; ask a model.

    The strokes become a digit the way scikit-learn's digits were made
    (:func:`tinylab.data.digit_from_strokes`): scaled so that they fill a 32x32 box, drawn
    with a pen thick enough for 30% ink, cut into 4x4 blocks, so a drawing becomes 64 counts
    0..16 wherever and however big it was drawn. Save appends
    them with the chosen label to ``out_csv`` (header ``p0..p63,label``; an existing file is
    appended to). With a Keras ``model`` and the ``data`` it was trained on (for
    ``data.normalize``), Predict shows the model's answer. Introduced in lesson ``01_data``.

    Parameters
    ----------
    out_csv : str or Path, optional
        Where Save appends; without it Save is disabled (drawings can still be previewed).
    model : keras.Model, optional
        A classifier taking ``data.input_shape`` inputs (e.g. (8, 8, 1)), ten outputs.
    data : tinylab.data.Dataset, optional
        Needed with ``model``: its normalization turns the counts into the model's inputs.
    on_digit : callable, optional
        Called as ``on_digit(counts)`` (the 8x8 counts, int64) whenever a stroke ends (the pen
        lifts in the browser, or :meth:`draw_stroke`), after the preview is drawn: the hook of
        panels that ask a board (:func:`tinylab.widgets.digit_on_board`). It reports its own
        errors; an exception it lets out is shown in the pad's status line.

    Returns
    -------
    VBox
        With ``controls`` (``canvas``: the :class:`Pad`, ``label``, ``clear``, ``save``,
        ``predict``, ``status``, ``preview``), ``strokes`` (list of point lists, canvas
        pixels), ``draw_stroke(points)``,
        ``digit()`` (the current 8x8 counts), ``preview_counts`` (the counts the preview
        shows), ``saved`` (rows saved by this panel) and
        ``prediction`` (the last predicted class, or None).
    """
    if (model is None) != (data is None):
        raise ValueError("give both model and data (data.normalize prepares the model's input), "
                         "or neither")
    if on_digit is not None and not callable(on_digit):
        raise TypeError(f"on_digit must be a function of the 8x8 counts, got {on_digit!r}")
    out_csv = Path(out_csv) if out_csv is not None else None

    # flex "0 0 auto": in an HBox beside the preview, a browser would otherwise shrink the
    # canvas to a sliver (seen in Chromium under Voila).
    canvas = Pad(layout=widgets.Layout(width=f"{CANVAS_PIXELS + 2}px", flex="0 0 auto"))
    label = widgets.Dropdown(options=list(range(10)), value=0, description="label",
                             layout=widgets.Layout(width="150px"))
    clear = widgets.Button(description="Clear", icon="eraser")
    save = widgets.Button(description="Save", icon="save", button_style="primary",
                          disabled=out_csv is None,
                          tooltip="append the 8x8 digit and its label" if out_csv else
                          "give drawing_pad an out_csv to save")
    predict = widgets.Button(description="Predict", icon="question", disabled=model is None,
                             tooltip="what the model says" if model is not None else
                             "give drawing_pad a model and its data to predict")
    status = widgets.HTML()
    preview = widgets.Output()

    panel = DrawingPad()
    panel.saved = []
    panel.prediction = None

    def digit() -> np.ndarray:
        return data_module.digit_from_strokes(canvas.strokes, CANVAS_PIXELS)

    def counts_text() -> str:
        if out_csv is None:
            return "no file: give drawing_pad an out_csv to save drawings"
        return f"{count_rows(out_csv):,} digits in {html.escape(str(out_csv))}"

    def refresh():
        with reporting_errors(status):
            counts = digit()
            panel.preview_counts = counts
            panel.prediction = None
            title = f"8x8 counts (sum {int(counts.sum())})"
            if model is not None and counts.any():
                panel.prediction = predict_digit(counts)
                title += f"; model says {panel.prediction}"
            show(preview, HTML(counts_html(counts, title)))

    def predict_digit(counts) -> int:
        from .. import train  # imports TensorFlow: only when a Keras model is given

        x = data.normalize(counts).reshape((1,) + tuple(data.input_shape))
        return int(train.predict_classes(model, x)[0])

    def on_strokes(change):
        refresh()
        # A stroke more than before is a pen lifted; fewer (Clear, Save) asks no one.
        if on_digit is not None and len(change["new"]) > len(change["old"]):
            with reporting_errors(status):
                on_digit(panel.preview_counts)

    def draw_stroke(points):
        """Add one stroke (a list of (x, y) canvas pixels), as if drawn in the browser."""
        points = [(float(x), float(y)) for x, y in points]
        if not points:
            raise ValueError("a stroke needs at least one (x, y) point")
        canvas.strokes = [*canvas.strokes, points]

    def on_clear(_=None):
        canvas.strokes = []
        status.value = counts_text()
        refresh()

    def on_save(_):
        with reporting_errors(status):
            counts = digit()
            if not counts.any():
                raise ValueError("the pad is empty: draw a digit first")
            append_row(out_csv, counts, label.value)
            panel.saved.append((counts, int(label.value)))
            on_clear()
            status.value = f"saved a {label.value}; " + counts_text()

    def on_predict(_):
        with reporting_errors(status):
            counts = digit()
            if not counts.any():
                raise ValueError("the pad is empty: draw a digit first")
            panel.prediction = predict_digit(counts)
            status.value = f"the model says <b>{panel.prediction}</b>"

    canvas.observe(on_strokes, "strokes")
    clear.on_click(on_clear)
    save.on_click(on_save)
    predict.on_click(on_predict)

    panel.draw_stroke = draw_stroke
    panel.digit = digit
    panel.controls = {"canvas": canvas, "label": label, "clear": clear, "save": save,
                      "predict": predict, "status": status, "preview": preview}
    panel.children = [widgets.HBox([canvas, preview]),
                      widgets.HBox([label, clear, save, predict]), status]
    on_clear()
    return panel
