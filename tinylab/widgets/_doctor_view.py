"""Lesson 00: the environment check as a table, with a button to check again."""

from __future__ import annotations

import ipywidgets as widgets

from .. import doctor


def doctor_view() -> widgets.VBox:
    """The ``tinylab doctor`` report as an HTML table, each missing piece with its fix."""
    table = widgets.HTML()
    again = widgets.Button(description="Check again", icon="refresh",
                           tooltip="run the checks again (after installing something)")

    def refresh(_=None):
        table.value = doctor.to_html(doctor.report())

    again.on_click(refresh)
    refresh()
    panel = widgets.VBox([table, again])
    panel.controls = {"table": table, "again": again}
    return panel
