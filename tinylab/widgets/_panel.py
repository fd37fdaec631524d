"""What every panel does the same way: show figures in an Output, report errors there, and
offer the boards there are in a dropdown (the virtual Uno, the serial ports, the board connected
in the page)."""

from __future__ import annotations

import contextlib
import html

import ipywidgets as widgets
from IPython.display import display


#: The port value of the virtual Uno in a panel's board dropdown.
VIRTUAL = "virtual"
#: How a board dropdown names the board the student connected in the page (a BoardLink).
LINK_NAME = "board connected in this page"
#: What to do when the board connected in the page is lost.
RECONNECT = ("Plug it in, click \"Connect a board\" and pick its port again, or choose the "
             "virtual Uno.")


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


class BoardChoice:
    """A panel's board dropdown, offering the board the student connects in the page too.

    One interface, two transports: the dropdown lists the virtual Uno and the serial ports
    (:func:`port_options`) and, beside it, a :class:`tinylab.widgets.BoardLink` shows
    "Connect a board". When the student connects one (the link's ``connected`` turns true),
    the dropdown gains the option :data:`LINK_NAME` (value: ``link.port``, a ``webserial:``
    name that :class:`tinylab.device.Device` and :func:`tinylab.capture.record` open as they
    open a local port) after the virtual Uno, and chooses it. When the link is lost, the
    option goes; if it is the chosen board it stays chosen, named "... (lost)", until the
    student connects a board again or chooses another: a board never changes under a panel
    by itself (a recording or a prediction that was running on it ends with its own error).

    Parameters
    ----------
    virtual_name : str
        The virtual Uno's name in the list.
    description : str
        The dropdown's label.
    on_change : callable, optional
        ``on_change()`` when the student chooses another board, and when the chosen link
        comes back (connected again); never for the dropdown's own rewrites of its options.
    on_lost : callable, optional
        ``on_lost(reason)`` when the chosen link is lost (``reason``: the page's words). It
        may run while the kernel waits for that board's bytes (in
        :mod:`tinylab.serial.web`'s pump): it should only say so, not use a board.
    layout : ipywidgets.Layout, optional
        The dropdown's layout.

    Attributes
    ----------
    dropdown : ipywidgets.Dropdown
        The choices; its ``value`` is :data:`VIRTUAL`, a serial port, or ``link.port``.
    link : tinylab.widgets.BoardLink
        The page's board link, to show beside the dropdown.
    """

    def __init__(self, virtual_name: str, *, description: str = "port", on_change=None,
                 on_lost=None, layout=None):
        from ._board_link import BoardLink

        self.dropdown = widgets.Dropdown(options=port_options(virtual_name), value=VIRTUAL,
                                         description=description,
                                         **({"layout": layout} if layout is not None else {}))
        self.link = BoardLink()
        self.on_change, self.on_lost = on_change, on_lost
        self._rewriting = False
        self.dropdown.observe(self._on_value, names="value")
        self.link.observe(self._on_connected, names="connected")

    @property
    def virtual(self) -> bool:
        """The virtual Uno is chosen."""
        return self.dropdown.value == VIRTUAL

    @property
    def link_chosen(self) -> bool:
        """The board connected in the page is chosen (connected now or not)."""
        return self.dropdown.value == self.link.port

    @property
    def port(self) -> str | None:
        """The chosen board's port: None for the virtual Uno, else a serial port or the
        link's ``webserial:`` name."""
        return None if self.virtual else self.dropdown.value

    def where(self, virtual_name: str) -> str:
        """The chosen board in words (plain text)."""
        if self.virtual:
            return virtual_name
        return f"the {LINK_NAME}" if self.link_chosen else self.dropdown.value

    def lost_why(self) -> str:
        """The page's reason for losing the link, in brackets after a space, or "" (plain
        text)."""
        reason = self.link.link.lost
        return f" ({reason.rstrip('.')})" if reason else ""

    def lost_text(self) -> str:
        """Why the chosen link has no board, and what to do, in words (plain text)."""
        return f"The {LINK_NAME} is not there any more{self.lost_why()}. {RECONNECT}"

    # ------------------------------------------------------------------ the dropdown's options

    def _others(self) -> list:
        return [option for option in self.dropdown.options if option[1] != self.link.port]

    def _with_link(self, name: str) -> list:
        others = self._others()
        return others[:1] + [(name, self.link.port)] + others[1:]

    def _rewrite(self, options: list, value) -> None:
        """New options, the same choice (ipywidgets chooses the first option on a change of
        options: that intermediate choice is nobody's business)."""
        self._rewriting = True
        try:
            self.dropdown.options = options
            self.dropdown.value = value
        finally:
            self._rewriting = False

    def _on_connected(self, change) -> None:
        if change["new"]:
            chosen = self.link_chosen
            self._rewrite(self._with_link(LINK_NAME), self.dropdown.value)
            if chosen:            # the chosen board came back: the panel may use it again
                self._changed()
            else:
                self.dropdown.value = self.link.port
        elif self.link_chosen:
            self._rewrite(self._with_link(f"{LINK_NAME} (lost)"), self.link.port)
            if self.on_lost is not None:
                self.on_lost(self.link.link.lost or "the page holds no port")
        elif any(value == self.link.port for _, value in self.dropdown.options):
            self._rewrite(self._others(), self.dropdown.value)

    def _on_value(self, change) -> None:
        if self._rewriting:
            return
        if not self.link.connected and not self.link_chosen and len(self._others()) < len(
                self.dropdown.options):    # a lost link's option, left now
            self._rewrite(self._others(), self.dropdown.value)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


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
