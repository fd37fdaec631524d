"""What every panel does the same way: show figures in an Output, report errors there."""

from __future__ import annotations

import contextlib
import html

import ipywidgets as widgets
from IPython.display import display


def show(output: widgets.Output, *items) -> None:
    """Replace what ``output`` shows with ``items`` (figures, HTML, text)."""
    output.clear_output(wait=True)
    with output:
        for item in items:
            display(item)


def assemble(panel: widgets.VBox, controls: list, status: widgets.HTML, output: widgets.Output,
             redraw, named: dict) -> widgets.VBox:
    """Lay ``panel`` out as a row of ``controls`` over ``status`` and ``output``, and draw it.

    ``redraw`` runs whenever a control's value changes, and once now; ``named`` becomes
    ``panel.controls``, the handles tests and lessons use to set values.
    """
    for control in controls:
        control.observe(redraw, names="value")
    panel.children = [widgets.HBox(controls), status, output]
    panel.controls = named
    redraw()
    return panel


@contextlib.contextmanager
def reporting_errors(status: widgets.HTML):
    """Run a callback body; a ValueError or any failure becomes a plain message in ``status``.

    Without this, an exception in a widget callback vanishes into the browser's log in
    JupyterLab and Voila, and the student sees nothing happen.
    """
    try:
        yield
    except Exception as error:  # a panel must never fail silently
        status.value = (f"<span style='color:#cf222e'><b>{type(error).__name__}:</b> "
                        f"{html.escape(str(error))}</span>")
