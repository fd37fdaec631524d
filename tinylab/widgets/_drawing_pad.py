"""Lesson 01: draw a digit with the mouse, see it as the 8x8 counts a model reads, save it."""

from __future__ import annotations

import csv
import html
import time
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from IPython.display import HTML
from ipycanvas import Canvas, hold_canvas

from .. import data as data_module
from ._panel import reporting_errors, show

CANVAS_PIXELS = 256
# Pen width in canvas pixels, for what the student sees. The 8x8 digit does not depend on it:
# tinylab.data.digit_from_strokes scales the drawing to the box and picks its own pen width, so
# that the digit is 30% ink like the UCI digits, wherever and however big it was drawn.
PEN_WIDTH = 16
DIGIT_PIXELS = 64
# The ink is painted at most this often while the pen moves (the points since, as one line):
# each paint is a message from the kernel through the server to the page, and a browser sends
# a mouse move every 16 ms. 40 ms still looks continuous, and a room of thirty drawing at
# once sends the server 2.5 times fewer messages.
PAINT_EVERY_S = 0.04
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
        Called as ``on_digit(counts)`` (the 8x8 counts, int64) whenever a stroke ends (mouse
        up or out, touch end, :meth:`draw_stroke`), after the preview is drawn: the hook of
        panels that ask a board (:func:`tinylab.widgets.digit_on_board`). It reports its own
        errors; an exception it lets out is shown in the pad's status line.

    Returns
    -------
    VBox
        With ``controls`` (``canvas``, ``label``, ``clear``, ``save``, ``predict``, ``status``,
        ``preview``), ``strokes`` (list of point lists, canvas pixels), ``draw_stroke(points)``,
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
    canvas = Canvas(width=CANVAS_PIXELS, height=CANVAS_PIXELS,
                    layout=widgets.Layout(width=f"{CANVAS_PIXELS}px", height=f"{CANVAS_PIXELS}px",
                                          min_width=f"{CANVAS_PIXELS}px", flex="0 0 auto",
                                          border="1px solid #888"))
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

    panel = widgets.VBox()
    panel.strokes = []
    panel.saved = []
    panel.prediction = None
    pen = {"down": False, "painted": 0, "painted_at": 0.0}

    def paint_background():
        canvas.clear()
        canvas.fill_style = "white"
        canvas.fill_rect(0, 0, CANVAS_PIXELS, CANVAS_PIXELS)
        set_pen()

    def set_pen():
        canvas.stroke_style = "black"
        canvas.fill_style = "black"
        canvas.line_width = PEN_WIDTH
        canvas.line_cap = "round"
        canvas.line_join = "round"

    def paint_segment(start, end):
        if start == end:
            canvas.fill_circle(start[0], start[1], PEN_WIDTH / 2)
        else:
            canvas.stroke_line(start[0], start[1], end[0], end[1])

    def on_client_ready():
        # A browser view has just connected. Under Voila the page connects only after the
        # notebook has run, so whatever was painted before never reached it, including
        # ipycanvas's "draw on this canvas" switch, which ipycanvas sends only when the canvas
        # it draws on changes (it remembers the last one in _current_canvas). Forget it, so
        # the next command re-sends the switch, then paint everything again.
        canvas._canvas_manager._current_canvas = None
        with hold_canvas():
            paint_background()
            for stroke in panel.strokes:
                for start, end in zip(stroke[:1] + stroke[:-1], stroke):
                    paint_segment(start, end)

    def digit() -> np.ndarray:
        return data_module.digit_from_strokes(panel.strokes, CANVAS_PIXELS)

    def counts_text() -> str:
        if out_csv is None:
            return "no file: give drawing_pad an out_csv to save drawings"
        return f"{count_rows(out_csv):,} digits in {html.escape(str(out_csv))}"

    def refresh(_=None):
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

    def on_down(x, y):
        pen["down"] = True
        point = (float(x), float(y))
        panel.strokes.append([point])
        paint_segment(point, point)
        pen["painted"], pen["painted_at"] = 1, time.monotonic()

    def on_move(x, y):
        if not pen["down"] or not panel.strokes:
            return
        panel.strokes[-1].append((float(x), float(y)))
        if time.monotonic() - pen["painted_at"] >= PAINT_EVERY_S:
            paint_unpainted()

    def paint_unpainted():
        """Paint the current stroke's points not painted yet, as one polyline (one message)."""
        stroke, first = panel.strokes[-1], pen["painted"]
        if first < len(stroke):  # from the last painted point on (on_down painted the first)
            canvas.stroke_lines(stroke[first - 1:])
        pen["painted"], pen["painted_at"] = len(stroke), time.monotonic()

    def on_up(x, y):
        if pen["down"]:
            pen["down"] = False
            paint_unpainted()
            refresh()
            if on_digit is not None:
                with reporting_errors(status):
                    on_digit(panel.preview_counts)

    def on_touch_start(points):
        if points:
            on_down(*points[0])

    def on_touch_move(points):
        if points:
            on_move(*points[0])

    def on_touch_end(points):
        on_up(0, 0)

    def draw_stroke(points):
        """Add one stroke (a list of (x, y) canvas pixels), as if drawn with the mouse."""
        points = [(float(x), float(y)) for x, y in points]
        if not points:
            raise ValueError("a stroke needs at least one (x, y) point")
        on_down(*points[0])
        for point in points[1:]:
            on_move(*point)
        on_up(*points[-1])

    def on_clear(_=None):
        panel.strokes.clear()
        pen["down"] = False
        with hold_canvas():
            paint_background()
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

    canvas.on_client_ready(on_client_ready)
    canvas.on_mouse_down(on_down)
    canvas.on_mouse_move(on_move)
    canvas.on_mouse_up(on_up)
    canvas.on_mouse_out(on_up)
    canvas.on_touch_start(on_touch_start)
    canvas.on_touch_move(on_touch_move)
    canvas.on_touch_end(on_touch_end)
    canvas.on_touch_cancel(on_touch_end)
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
