"""App: draw a digit and watch the deep-compressed model answer on an Arduino (real or virtual)."""

from __future__ import annotations

import html
import os
import time

import ipywidgets as widgets
import numpy as np

from .. import board_server, build, deep_compressed, deploy, device, engine, flash, virtual
from ..serial.errors import SerialError
from ..serial.web import WebLinkError
from ..session import BoardSession
from ._panel import LINK_NAME, RECONNECT, BoardChoice, BoardPanel
from ._drawing_pad import drawing_pad

_VIRTUAL_NAME = "virtual Uno"
_BOARD = "uno"
_ERROR_STYLE = "color:#cf222e"
_WAITING = "Draw a digit on the pad: the board answers when you lift the pen."


def _in_words(error: Exception) -> str:
    """What went wrong with the board, as a sentence for the page (no traceback)."""
    if isinstance(error, WebLinkError):   # already in words: what happened to the page's board
        return str(error).strip() or f"the {LINK_NAME} is not there"
    if isinstance(error, board_server.BoardServerError):
        what = "the board server could not answer"
    elif isinstance(error, virtual.VirtualBoardCrashed):
        what = "the virtual Uno crashed"
    elif isinstance(error, (virtual.VirtualBoardError, device.ConnectionLostError)):
        what = "the board stopped answering (its connection is gone)"
    elif isinstance(error, device.NoBannerError):
        what = "the board did not greet"
    elif isinstance(error, SerialError):
        what = "the board did not answer as expected"
    elif isinstance(error, flash.FlashError):
        what = "uploading the firmware failed"
    elif isinstance(error, build.DoesNotFit):
        what = "the firmware does not fit the Uno"
    elif isinstance(error, virtual.HarnessBuildError):
        what = "the virtual Uno cannot run on this machine"
    elif isinstance(error, ValueError):
        what = "that cannot be done"
    else:
        what = f"something went wrong ({type(error).__name__})"
    detail = str(error).strip()
    return f"{what}: {detail}" if detail else what


class DigitOnBoardPanel(BoardPanel):
    """The panel :func:`digit_on_board` returns; closing it stops the board it started.

    With a board server (``shared``), ``session`` is a
    :class:`tinylab.board_server.SharedBoardSession` and ``board`` stays None: the kernel
    runs no board, but for the board connected in the page (a
    :class:`~tinylab.session.BoardSession` on the link's port, the kernel's own).
    """

    shared = False  # boards are the board server's (TINYLAB_BOARD_SERVER is set), but the link

    @property
    def device(self):
        """The open :class:`tinylab.device.Device` (virtual or real board; a
        :class:`tinylab.board_server.SharedDevice` with a board server), or None."""
        return self.session.link if self.session is not None else None


def digit_on_board(data=None, *, compressed=None, format: str = "huffman",
                   show_float: bool = True, timeout_s: float = 5.0) -> DigitOnBoardPanel:
    """Draw a digit; the deep-compressed model answers on an Arduino, the host beside it.

    When it is built, the panel gets the deep-compressed model (the mlp300 teacher distilled
    into the student, pruned 70%, 4-bit weight-shared, full int8:
    :func:`tinylab.deep_compressed.load_or_compress`, from the workspace after the first
    time), compiles the inference sketch with it in ``format`` (:func:`tinylab.deploy.
    build_firmware`, cached by content), starts the virtual Uno and waits for its banner. Each
    time a stroke ends (or Predict is pressed) the drawing's 8x8 counts are quantized to the
    model's int8 inputs and sent over serial (:meth:`tinylab.device.Device.infer`); the
    page shows the board's class, the host's (:func:`tinylab.engine.run_int8`, TFLM's
    arithmetic in numpy) and, with ``show_float``, the float model's (LiteRT on its float
    ``.tflite``: the kernel never imports TensorFlow once the model is saved), and the time of
    the model call measured on the board in milliseconds and CPU cycles. The board list holds
    the virtual Uno and the serial ports :func:`tinylab.flash.list_ports` finds; choosing a
    port uploads the firmware there unless the board already carries the model. Beside the
    list, a :class:`tinylab.widgets.BoardLink`: a visitor whose Uno is on their own computer
    (the app served from a hub, Binder or ``tinylab app``) clicks "Connect a board", and the
    list gains "board connected in this page" and chooses it (:class:`BoardChoice
    <tinylab.widgets._panel.BoardChoice>`); the kernel then talks to that Uno through the page
    as to a local port, with the firmware uploaded through the page only if the board does
    not greet with the model already. The page sends the board nothing but the firmware and
    the protocol's lines. Errors (a crashed or silent board, a failed upload, a lost link)
    are shown in words; Predict starts a fresh virtual Uno after a crash. ``panel.close()``
    (or the end of the Python session) stops the board. The app
    ``notebooks/apps/draw_digit.ipynb``; the model is lesson 08's.

    When ``TINYLAB_BOARD_SERVER`` is set (``tinylab app`` sets it for Voila's kernels), the
    kernel starts no board: each drawing goes to the board server
    (:mod:`tinylab.board_server`), which answers on one of its few shared virtual Unos, or
    on the chosen real board one drawing at a time. The answer is still the board's own
    (int8 scores checked bit for bit here, its cycles), and ``panel.board`` is None. The
    board connected in the page is the exception: it is the visitor's own, reached through
    this kernel's widget, which the board server's process cannot reach, so the kernel talks
    to it itself (a :class:`~tinylab.session.BoardSession` on ``link.port``).

    All of this is done before the builder returns, so Voila shows the page when the board is
    ready (about a second with the model in the workspace and the firmware in the build
    cache; the first time, making the model takes about 40 s on two cores).

    Parameters
    ----------
    data : tinylab.data.Dataset, optional
        Default ``tl.data.load("digits", seed=0)``: its normalization turns counts into inputs.
    compressed : tinylab.deep_compressed.DeepCompressed, optional
        The model to run; default :func:`tinylab.deep_compressed.load_or_compress` of ``data``.
    format : {"int8", "sparse", "huffman"}
        The weight format of the firmware (:data:`tinylab.engine.FORMATS`); Deep
        Compression's is ``"huffman"``.
    show_float : bool
        Also show the float model's class (:meth:`tinylab.deep_compressed.DeepCompressed.
        float_classes`).
    timeout_s : float
        Seconds to wait for the board's answer to one digit.

    Returns
    -------
    DigitOnBoardPanel
        A VBox with ``controls`` (``canvas``, ``clear``, ``predict``, ``port``, ``link``: the
        page's board link, ``status``, ``prediction``, ``preview``, ``pad``: the drawing pad
        it is built on);
        ``predict_counts(counts, about=None)``: send 8x8 counts 0..16 (as drawn, or
        ``data.raw`` of a test digit), show and return the result; ``result``: the last
        answer, a dict with ``board_class``, ``board_scores``, ``host_class``,
        ``host_scores``, ``float_class``, ``bit_identical``, ``latency_us``, ``cycles`` and
        ``round_trip_s`` (None before the first answer and after an error); ``error``: the
        last error, or None; ``ready``: the board answered its banner; ``shared``: the boards
        are the board server's (all but the board connected in the page); ``compressed``;
        ``firmware`` (the :class:`~tinylab.build.BuildResult`); ``timings``: seconds taken
        by ``model``, ``firmware``, ``board`` and all three (``total``).
    """
    from .. import data as datasets

    if format not in engine.FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {list(engine.FORMATS)}")
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise ValueError(f"timeout_s must be a number of seconds > 0, got {timeout_s!r}")
    data = data if data is not None else datasets.load("digits", seed=0)

    panel = DigitOnBoardPanel()
    panel.result, panel.compressed, panel.firmware, panel.ready = None, compressed, None, False
    server_socket = os.environ.get(board_server.ENV) or None
    panel.shared = server_socket is not None
    panel.error = None
    panel.timings = {}
    pad = drawing_pad(on_digit=lambda counts: predict_counts(counts))
    canvas, clear, preview = (pad.controls[key] for key in ("canvas", "clear", "preview"))
    choice = BoardChoice(_VIRTUAL_NAME, description="board",
                         on_change=lambda: on_port(), on_lost=lambda reason: on_lost(),
                         layout=widgets.Layout(width="320px"))
    port, link = choice.dropdown, choice.link
    predict = widgets.Button(description="Predict", icon="microchip", button_style="primary",
                             tooltip="send the drawing to the board")
    status = widgets.HTML("Getting the board ready ...")
    prediction = widgets.HTML(_WAITING)
    canvas.add_class("tl-canvas")
    status.add_class("tl-board-status")
    prediction.add_class("tl-board-prediction")
    predict.add_class("tl-predict")
    port.add_class("tl-port")

    def where() -> str:
        if choice.link_chosen:
            return LINK_NAME
        if not choice.virtual:
            return html.escape(port.value)
        return f"shared {_VIRTUAL_NAME}" if panel.shared else _VIRTUAL_NAME

    def shared_board() -> bool:
        """The board server runs the chosen board: not the one connected in the page, which
        only this kernel reaches (through its widget)."""
        return panel.shared and not choice.link_chosen

    def not_ready(error: Exception, what: str) -> None:
        panel.ready = False
        status.value = (f"<span style='{_ERROR_STYLE}'><b>No board:</b> "
                        f"{html.escape(_in_words(error).rstrip('.'))}. {what}</span>")

    def connect() -> None:
        """Open the chosen board (start it, or upload unless it carries the model) and wait
        for its banner."""
        panel.ready = False
        started = time.perf_counter()
        chosen = choice.port
        if choice.link_chosen and not link.connected:
            raise WebLinkError(choice.lost_text())
        if panel.session is None or panel.session.requested_port != chosen:
            panel.stop_board()
            if shared_board():    # the board server runs the board (and uploads, if needed)
                panel.session = board_server.SharedBoardSession(
                    panel.firmware, chosen, model_hash=panel.compressed.mlp.model_hash,
                    timeout=timeout_s, socket=server_socket)
            else:
                panel.session = BoardSession(
                    panel.firmware, chosen, model_hash=panel.compressed.mlp.model_hash,
                    timeout=timeout_s,
                    on_upload=lambda _: setattr(status, "value",
                                                f"Uploading the firmware to the {where()} ..."))
        panel.session.open().device()
        panel.timings["board"] = time.perf_counter() - started
        show_ready()

    def show_ready() -> None:
        panel.ready = True
        firmware, banner = panel.firmware, panel.device.banner
        status.value = (
            f"<b>{where()} ready</b>{shared_text()}: it answered with the banner of the "
            f"{banner['format']} model {banner['model']} (flash {firmware.flash_bytes:,} of "
            f"{firmware.flash_limit_bytes:,} B, RAM {firmware.ram_bytes:,} of "
            f"{firmware.ram_limit_bytes:,} B). Model {timings_text()}.")

    def shared_text() -> str:
        if not shared_board():
            return ""
        if not choice.virtual:
            return " (shared through the board server, one drawing at a time)"
        boards = getattr(panel.session, "boards", None) or "its"
        unos = "virtual Uno" if boards == 1 else "virtual Unos"
        return f" (one of the board server's {boards} shared {unos})"

    def timings_text() -> str:
        t = panel.timings
        model = (f"read from the workspace in {t['model']:.1f} s" if panel.compressed.cached
                 else f"made in {t['model']:.0f} s") if "model" in t else "given"
        made = "cached" if panel.firmware.cached else "compiled"
        return (f"{model}, firmware {made} in {t.get('firmware', 0):.1f} s, board ready in "
                f"{t.get('board', 0):.1f} s")

    def ensure_connected() -> None:
        if panel.firmware is None:
            raise ValueError("the firmware could not be built (see the line above)")
        if choice.virtual and panel.board is not None and not panel.board.running:
            # It ended since the last answer: say why; the next prediction starts a fresh one.
            raise board_failed(virtual.VirtualBoardError("the virtual Uno has stopped"))
        # Not running: no virtual Uno of the panel's own (a shared one runs on the server,
        # which replaces it by itself), or the server not asked yet.
        if panel.device is None or not panel.device.is_open or not panel.session.running:
            status.value = f"Starting the {where()} again ..."
            panel.stop_board()
            try:
                connect()
            except Exception as error:
                not_ready(error, "Press Predict to try again.")
                raise

    def board_failed(error: Exception) -> Exception:
        """After a failed exchange: the reason (the virtual board's own, if it has ended).

        A virtual board that crashed, stopped or went silent is stopped, and the next
        prediction starts a fresh one (the board server does that for its shared ones); a
        real board is kept (the Device gets back in step).
        """
        if isinstance(error, device.BoardRejectedError):
            return error
        if choice.virtual and panel.shared and not isinstance(
                error, board_server.BoardServerError):
            not_ready(error, "The board server puts a fresh one in its place. Press Predict "
                             "to try again.")
        elif choice.virtual and panel.board is not None:
            try:
                panel.board.check()
            except virtual.VirtualBoardError as reason:
                error = reason
            panel.stop_board()
            not_ready(error, "Press Predict to start it again.")
        elif choice.link_chosen and isinstance(error, (device.ConnectionLostError,
                                                      WebLinkError)):
            panel.stop_board()
            not_ready(error, RECONNECT)
        elif isinstance(error, device.ConnectionLostError):
            panel.stop_board()
            not_ready(error, "Plug it in again and press Predict, or choose the virtual Uno.")
        else:
            not_ready(error, "Press Predict to try again.")
        return error

    def predict_counts(counts, about: str | None = None):
        """Send 8x8 counts (0..16) to the board; show and return the answer next to the host's.

        ``about`` names what was sent on the page (e.g. "a test digit"; default: the drawing).
        """
        panel.result = None
        counts = np.asarray(counts)
        try:
            if counts.shape != (8, 8) and counts.shape != (64,):
                raise ValueError(f"a digit is 8x8 counts 0..16, got shape {counts.shape}")
            if not counts.any():
                raise ValueError("the pad is empty: draw a digit first")
            mlp = panel.compressed.mlp if panel.compressed is not None else None
            if mlp is None:
                raise ValueError("there is no model (see the line above)")
            x = data.normalize(counts.reshape(data.input_shape))[np.newaxis]
            x_int8 = engine.quantize_inputs(mlp, x)
            host_scores = engine.run_int8(mlp, x_int8)[0]
            float_class = None
            if show_float:
                float_class = int(panel.compressed.float_classes(x)[0])
            ensure_connected()
            prediction.value = f"Asking the {where()} ..."
            started = time.perf_counter()
            try:
                board_class, board_scores, latency_us = panel.device.infer(x_int8[0])
            except (SerialError, virtual.VirtualBoardError,
                    board_server.BoardServerError) as error:
                raise board_failed(error) from None
            round_trip_s = time.perf_counter() - started
        except Exception as error:  # a visitor sees words, never a traceback
            panel.error = error
            prediction.value = (f"<span style='{_ERROR_STYLE}'>"
                                f"{html.escape(_in_words(error))}</span>")
            return None
        panel.error = None
        if not panel.ready:
            show_ready()
        cycles = panel.device.last_cycles
        same = bool(np.array_equal(board_scores, host_scores))
        result = {"board_class": int(board_class), "board_scores": board_scores,
                  "host_class": int(np.argmax(host_scores)), "host_scores": host_scores,
                  "float_class": float_class, "bit_identical": same,
                  "latency_us": int(latency_us), "cycles": cycles, "round_trip_s": round_trip_s}
        panel.result = result
        prediction.value = _answer_html(result, where(), about)
        return result

    def on_predict(_=None):
        predict.disabled = True
        try:
            predict_counts(pad.digit())
        finally:
            predict.disabled = False

    def on_clear(_=None):
        panel.result = None
        prediction.value = _WAITING

    def on_port():
        """Another board was chosen (or the chosen link is back): connect to it now."""
        panel.stop_board()
        if panel.firmware is None:
            return
        status.value = f"Connecting to the {where()} ..."
        try:
            connect()
        except Exception as error:
            panel.error = error
            not_ready(error, "Choose another board, or press Predict to try again.")

    def on_lost():
        """The chosen link is lost: say so (a prediction running on it ends on its own)."""
        panel.ready = False
        status.value = (f"<span style='{_ERROR_STYLE}'><b>No board:</b> "
                        f"{html.escape(choice.lost_text())}</span>")

    predict.on_click(on_predict)
    clear.on_click(on_clear)
    panel.predict_counts = predict_counts
    panel.controls = {"canvas": canvas, "clear": clear, "predict": predict, "port": port,
                      "link": link, "status": status, "prediction": prediction,
                      "preview": preview, "pad": pad}
    panel.children = [widgets.HBox([canvas, preview]), widgets.HBox([port, clear, predict]),
                      link, status, prediction]

    started = time.perf_counter()
    try:
        if panel.compressed is None:
            panel.compressed = deep_compressed.load_or_compress(data)
            panel.timings["model"] = time.perf_counter() - started
        step = time.perf_counter()
        panel.firmware = build.check_fits(deploy.build_firmware(panel.compressed.mlp, format,
                                                                _BOARD))
        panel.timings["firmware"] = time.perf_counter() - step
        connect()
    except Exception as error:  # shown in words on the page; the panel is still returned
        panel.error = error
        not_ready(error, "Press Predict to try again." if panel.firmware is not None else "")
    panel.timings["total"] = time.perf_counter() - started
    return panel


def _answer_html(result: dict, where: str, about: str | None = None) -> str:
    """The board's and the host's answers and the board's timing, as the page shows them."""
    cycles = "" if result["cycles"] is None else f" ({result['cycles']:,} cycles)"
    floats = ("" if result["float_class"] is None
              else f" · float model: <b>{result['float_class']}</b>")
    if result["bit_identical"]:
        verdict = ("<span style='color:#1a7f37'>the board's ten int8 scores are bit-identical "
                   "with the host's</span>")
    else:
        differ = int(np.sum(result["board_scores"] != result["host_scores"]))
        verdict = (f"<span style='{_ERROR_STYLE}'>{differ} of the board's ten int8 scores differ "
                   f"from the host's</span>")
    scores = "".join(
        f"<td style='padding:0 0.4em;text-align:right'>{k}<br>{int(b)}<br>{int(h)}</td>"
        for k, (b, h) in enumerate(zip(result["board_scores"], result["host_scores"])))
    return (f"<div style='font-size:1.3em'>board: <b>{result['board_class']}</b> · host: "
            f"<b>{result['host_class']}</b> · {result['latency_us'] / 1000:.1f} ms{cycles} on the "
            f"board</div>"
            f"<div>{html.escape(about) + ': ' if about else ''}{verdict}{floats} · the round "
            f"trip over serial took "
            f"{result['round_trip_s'] * 1000:.0f} ms ({where}).</div>"
            f"<table style='font-family:monospace'><tr><td>class<br>board<br>host</td>{scores}"
            f"</tr></table>")
