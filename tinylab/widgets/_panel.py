"""What every panel does the same way: show figures in an Output, report errors there."""

from __future__ import annotations

import contextlib
import html

import ipywidgets as widgets
from IPython.display import display


#: The port value of the virtual Uno in a panel's board dropdown.
VIRTUAL = "virtual"


def port_options(virtual_name: str) -> list:
    """(shown name, port) pairs for a board dropdown: the virtual Uno first, then the serial
    ports :func:`tinylab.flash.list_ports` sees. Only these can be chosen: a visitor of an app
    never types a device path."""
    from .. import flash

    options = [(virtual_name, VIRTUAL)]
    try:
        ports = flash.list_ports()
    except Exception:  # no pyserial backend, no arduino-cli: the virtual board still works
        ports = []
    for port in ports:
        about = port.get("board") or port.get("usb_name") or port.get("description") or ""
        locked = "" if port.get("accessible", True) else " (no permission)"
        shown = f"{port['device']}{f' - {about}' if about and about != 'n/a' else ''}{locked}"
        options.append((shown, port["device"]))
    return options


class BoardPanel(widgets.VBox):
    """A panel that may run a board: its :class:`tinylab.session.BoardSession` stops with it."""

    session = None  # the tinylab.session.BoardSession of the panel's board, once there is one

    @property
    def board(self):
        """The virtual Uno this panel started, while it runs (else None)."""
        return self.session.board if self.session is not None else None

    def stop_board(self) -> None:
        """Close the link and stop the virtual Uno, if the panel started one; a later use
        starts a fresh one."""
        session, self.session = self.session, None
        if session is not None:
            session.close()

    def close(self) -> None:
        self.stop_board()
        super().close()


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
