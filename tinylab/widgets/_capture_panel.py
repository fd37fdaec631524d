"""Lesson 01: record your own sensor rows, one button per label, from a board or the virtual Uno."""

from __future__ import annotations

import collections
import csv
import html
import re
import time
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .. import boards, build, capture
from ..session import BoardSession
from ._panel import LINK_NAME, RECONNECT, BoardChoice, BoardPanel, reporting_errors, show

_VIRTUAL_NAME = "virtual Uno (simulated IMU)"
_CAPTURE_SIM = boards.BOARDS_DIR / "sketches" / "capture_sim"
# Gestures the simulated IMU knows (docs/capture-protocol.md, command G).
SIMULATED_GESTURES = ("idle", "punch", "flex", "wave")
# The live plot shows this many of the latest rows (250 = 5 s at the sketches' 50 rows/s) and
# is redrawn every this many rows, but at most every _REDRAW_EVERY_S: drawing a PNG takes
# ~0.1 s that the reader then lacks (rows it has not read by the deadline are not kept), so
# more often loses rows, rarer looks frozen.
_PLOT_ROWS = 250
_REDRAW_EVERY_ROWS = 10
_REDRAW_EVERY_S = 0.5
_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONTROLS = ("port", "link", "seconds", "status", "counts", "plot")
_ERROR_STYLE = "color:#cf222e"


def count_labels(path) -> dict:
    """Rows per label in a capture CSV (``{}`` when the file does not exist yet)."""
    path = Path(path)
    counts: dict = {}
    if not path.is_file() or path.stat().st_size == 0:
        return counts
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[-1] != capture.LABEL_COLUMN:
            return counts
        for row in reader:
            if len(row) == len(header):
                counts[row[-1]] = counts.get(row[-1], 0) + 1
    return counts


def _counts_html(labels, counts) -> str:
    cells = "".join(f"<td style='padding:0 0.8em'>{html.escape(label)}: <b>{counts.get(label, 0):,}</b></td>"
                    for label in labels)
    others = sum(n for label, n in counts.items() if label not in labels)
    extra = f"<td>other labels: <b>{others:,}</b></td>" if others else ""
    return f"<table><tr><td>rows in the file</td>{cells}{extra}</tr></table>"


def _rows_figure(rows, columns, title: str) -> Figure:
    """The latest rows, one line per column; acceleration (g) and rotation (deg/s) apart."""
    values = np.asarray(rows, dtype=float).reshape(-1, len(columns))
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    groups = [[i for i, c in enumerate(columns) if c.startswith("a")],
              [i for i, c in enumerate(columns) if not c.startswith("a")]]
    groups = [g for g in groups if g] or [list(range(len(columns)))]
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    for ax, group in zip(axes, groups):
        for i in group:
            ax.plot(values[:, i], label=columns[i], linewidth=1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", ncol=len(group))
    axes[0].set_title(title, fontsize=10)
    axes[-1].set_xlabel(f"row (the latest {_PLOT_ROWS})")
    return fig


class CapturePanel(BoardPanel):
    """The panel :func:`capture_panel` returns; closing it stops its virtual Uno (started at
    the first virtual recording)."""


def capture_panel(out_csv, *, labels=("idle", "punch", "flex", "wave"),
                  seconds: float = 2.0) -> CapturePanel:
    """Record labelled sensor rows into ``out_csv``: pick a port, press a label's button.

    The port list starts with the virtual Uno, whose simulated IMU is told to perform the
    gesture named by the button (``G <label>``, docs/capture-protocol.md), then lists the
    serial ports there are (a real Nano 33 BLE Sense running the capture sketch). Beside it, a
    :class:`tinylab.widgets.BoardLink`: on a hub or Binder, where the kernel cannot see the
    student's USB ports, "Connect a board" lets the browser hold the board's port (Web Serial),
    and the list gains "board connected in this page" and chooses it (:class:`BoardChoice
    <tinylab.widgets._panel.BoardChoice>`); a lost link is said in words. Each press records
    ``seconds`` of rows with :func:`tinylab.capture.record`, on whichever port is chosen (no
    ``G`` command but for the virtual Uno), appending to the file (resumable), plots the latest
    rows as they arrive, and updates the rows per label; rows recorded before a board is lost
    stay in the file. The virtual Uno is started at its first recording and kept for the
    panel's life; ``panel.close()`` (or the end of the Python session) stops it. Introduced in
    lesson ``01_data``.

    Parameters
    ----------
    out_csv : str or Path
        The CSV file (``ax,ay,az,gx,gy,gz,label``); an existing one is appended to.
    labels : sequence of str
        One button per label (letters, digits, ``_ . -``).
    seconds : float
        Length of one recording, in seconds (> 0).

    Returns
    -------
    CapturePanel
        A VBox with ``controls`` (``port``, ``link``: the page's board link, ``seconds``, one
        button per label, ``status``, ``counts``, ``plot``), ``result`` (the last
        :class:`~tinylab.capture.CaptureSummary`) and ``counts`` (rows per label in the file).
    """
    labels = tuple(str(label) for label in labels)
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be one or more different names, got {labels!r}")
    bad = [label for label in labels if not _LABEL.match(label) or label in _CONTROLS]
    if bad:
        raise ValueError(f"labels must be letters, digits, '_', '.' or '-' and not a control's "
                         f"name; got {bad!r}, try e.g. 'punch'")
    if not (isinstance(seconds, (int, float)) and 0 < seconds <= 60):
        raise ValueError(f"seconds must be a number between 0 and 60, got {seconds!r}")
    out_csv = Path(out_csv)

    status = widgets.HTML(f"Pick a port (or connect a board in this page) and press a label to "
                          f"record {seconds:g} s of rows into "
                          f"<code>{html.escape(str(out_csv))}</code>.")

    def on_lost(_reason):
        # Maybe during a recording on that board (its reading waits for the page's bytes):
        # say so; the recording ends on its own, its rows kept.
        status.value = f"<span style='{_ERROR_STYLE}'>{html.escape(choice.lost_text())}</span>"

    def on_change():
        status.value = (f"Press a label to record from "
                        f"<b>{html.escape(choice.where(_VIRTUAL_NAME))}</b>.")

    choice = BoardChoice(_VIRTUAL_NAME, description="port", on_change=on_change, on_lost=on_lost)
    port, link = choice.dropdown, choice.link
    length = widgets.BoundedFloatText(value=float(seconds), min=0.2, max=60, step=0.5,
                                      description="seconds")
    buttons = {label: widgets.Button(description=label, icon="circle",
                                     tooltip=f"record {label!r} rows") for label in labels}
    counts_view = widgets.HTML()
    plot = widgets.Output()
    panel = CapturePanel()
    panel.result = None

    def refresh_counts():
        panel.counts = count_labels(out_csv)
        counts_view.value = _counts_html(labels, panel.counts)

    def virtual_port() -> str:
        if panel.session is None:
            if not _CAPTURE_SIM.is_dir():
                raise ValueError("the simulated capture sketch is missing: the virtual board "
                                 "needs a TinyLab checkout (boards/sketches/capture_sim)")
            panel.session = BoardSession(build.compile_sketch(_CAPTURE_SIM, board="uno"))
        # started at the first recording; started afresh if it crashed or was stopped since
        return panel.session.ensure_running().port

    def record(label):
        for button in buttons.values():
            button.disabled = True
        try:
            with reporting_errors(status):
                simulated = choice.virtual
                status.value = f"Starting {html.escape(choice.where('the virtual Uno'))} ..."
                device = virtual_port() if simulated else choice.port
                commands = [f"G {label}"] if simulated else []
                latest = collections.deque(maxlen=_PLOT_ROWS)
                last_redraw = [time.monotonic()]

                def on_row(values, summary):
                    latest.append(values)
                    now = time.monotonic()
                    if (summary.rows_kept % _REDRAW_EVERY_ROWS == 0
                            and now - last_redraw[0] >= _REDRAW_EVERY_S):
                        last_redraw[0] = now
                        status.value = (f"Recording <b>{html.escape(label)}</b>: "
                                        f"{summary.rows_kept} rows ...")
                        show(plot, _rows_figure(latest, summary.columns,
                                                f"recording {label} ..."))

                status.value = f"Recording <b>{html.escape(label)}</b> ..."
                summary = capture.record(device, out_csv, seconds=float(length.value), label=label,
                                         commands=commands, progress=False, on_row=on_row)
                panel.result = summary
                refresh_counts()
                if latest:
                    show(plot, _rows_figure(latest, summary.columns,
                                            f"{summary.rows_kept} rows labelled {label}"))
                colour = "" if summary.exit_status == 0 else f"{_ERROR_STYLE};"
                lost = ""
                if summary.ended == "lost_connection" and device == link.port:
                    lost = (f"<div style='{_ERROR_STYLE}'><b>Lost the {LINK_NAME}</b>"
                            f"{html.escape(choice.lost_why())} after {summary.rows_kept} rows, "
                            f"all of them saved in the file. {html.escape(RECONNECT)}</div>")
                status.value = (f"{lost}<pre style='{colour}white-space:pre-wrap;margin:0'>"
                                f"{html.escape(summary.to_text())}</pre>")
        finally:
            for button in buttons.values():
                button.disabled = False

    for label, button in buttons.items():
        button.on_click(lambda _button, label=label: record(label))
    refresh_counts()
    port.add_class("tl-port")
    length.add_class("tl-seconds")
    status.add_class("tl-capture-status")
    counts_view.add_class("tl-capture-counts")
    for label, button in buttons.items():
        button.add_class(f"tl-record-{label}")
    panel.children = [widgets.HBox([port, link, length]), widgets.HBox(list(buttons.values())),
                      counts_view, status, plot]
    panel.controls = {"port": port, "link": link, "seconds": length, **buttons, "status": status,
                      "counts": counts_view, "plot": plot}
    return panel
