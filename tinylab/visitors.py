"""Emulated visitors of a Voila app: what a browser's page asks of the server, without a browser.

A lecture hall is thirty browsers opening one link at once. Thirty Chromiums cannot run beside
the server on a 2-core machine (in the hall they run on the students' laptops), so
:func:`run_visitors` plays each visitor as Voila 0.5's page and its JavaScript talk to the
server, read from voila 0.5.13's templates and bundles, ipywidgets 8.1's widget manager and
the drawing pad's front end (``tinylab/widgets/_drawing_pad.js``), and checked against the websocket frames of a Chromium session
(``tests/test_apps_load.py`` says how). One visitor:

1. ``GET /voila/render/<app>``: the page, streamed while Voila runs the notebook (or handed
   over from a preheated kernel). From it: the kernel id (``jupyter-config-data``), the
   widget views (the cell outputs' ``model_id``), a failed cell (Voila's error text);
2. the static files the page names (stylesheets, scripts, the widget extensions' entry
   points) and ``assets`` (the chunks those scripts load, e.g. recorded with
   :func:`browser_assets`), six at a time like a browser;
3. ``GET /api/kernels/<id>``, the kernel's websocket ``/api/kernels/<id>/channels`` (the
   ``v1.kernel.websocket.jupyter.org`` binary protocol) and a ``kernel_info_request``;
4. the widget manager: a ``jupyter.widget.control`` comm asks ``request_states``, and the
   ``update_states`` reply holds every model's state. Without it after 4 s the front end falls
   back to asking each widget comm for its state, and so does a visitor (``fallback``).
   **First render** is from the request to the states of the page's views, and of every model
   they refer to, having arrived;
5. what the visitor does. On a page with a ``tl-canvas`` and a ``tl-board-prediction`` (the
   draw-a-digit app): a digit-like stroke, drawn in the browser for as long as a mouse takes
   at 60 Hz, then sent as the drawing pad's front end sends it when the pen lifts (one
   ``update`` of the canvas's ``strokes``, in canvas pixels). **Stroke-to-answer** is from
   the pen lifting to the prediction showing the board's
   answer (read by :func:`parse_answer`) or an error. On a page with a ``tl-bits`` slider
   (the compression explorer): one step of the slider as its arrow key makes it (an
   ``update`` of ``index`` or ``value``). **Slider latency** is until the ``tl-summary`` and
   the ``tl-figure`` have both been redrawn. Output widgets capture the messages of the
   callback they wrap and send them back as their ``outputs``, as ipywidgets' front end does;
6. leaving: the page's ``beforeunload`` beacon ``POST /voila/api/shutdown/<id>`` (a form with
   the ``_xsrf`` cookie's value, empty without the cookie), then the websocket closes.

The kernel websocket's front-end side (frames, widget models, Output capture, throttled
updates) is :mod:`tinylab._frontend`. A browser's own work (parsing, layout, painting) is not
emulated: in the hall it happens on the laptops. Every wait has a bound, and whatever fails becomes a sentence in its visitor's
:class:`VisitResult`: one visitor's failure never stops the others. Written for issue 18 (the
apps in a lecture hall): ``tinylab bench apps --visitors N`` and ``tests/test_apps_load.py``.
"""

from __future__ import annotations

import asyncio
import collections
import html as html_module
import json
import math
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from ._frontend import (WS_PROTOCOL, VisitError, WidgetFrontEnd, decode_legacy, decode_v1,
                        encode_v1, message_signature, seconds_left)

__all__ = ["VisitResult", "VisitError", "run_visitors", "visit_all", "visit", "parse_answer",
           "stroke_points", "DIGITS", "summarize", "percentile", "browser_assets", "page_config", "page_kernel_id", "page_views", "page_errors",
           "page_assets", "message_signature", "request_signature", "encode_v1", "decode_v1",
           "decode_legacy"]

#: Connections a browser opens to one host (HTTP/1.1), so assets come six at a time.
BROWSER_CONNECTIONS = 6
#: The digits visitors draw, in turn: visitor ``i`` draws ``DIGITS[i % 10]``.
DIGITS = "1704235689"
CANVAS_PIXELS = 256  # the drawing pad's canvas (tinylab.widgets._drawing_pad.CANVAS_PIXELS)
MOUSE_INTERVAL_S = 1 / 60  # a mouse reports its moves at the screen's refresh rate
#: What Chromium accepts; TinyLab's Voila (tinylab._voila) sends static files gzip-compressed.
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate, br, zstd"}
LEAVE_TIMEOUT_S = 10.0  # the shutdown beacon and closing the socket, even after the deadline
ANSWER_TIMEOUT_S = 60.0  # a stroke's answer or a slider's redraw (the browser tests' bound)

# What the draw-a-digit app's prediction shows (tinylab.widgets._digit_on_board._answer_html).
_ERROR_STYLE = "color:#cf222e"
_ANSWER = re.compile(r"board: <b>(?P<board>\d+)</b> · host: <b>(?P<host>\d+)</b> · "
                     r"(?P<ms>[\d.]+) ms(?: \((?P<cycles>[\d,]+) cycles\))? on the board")
_SCORE_CELL = re.compile(r"<td[^>]*>(\d+)<br>(-?\d+)<br>(-?\d+)</td>")
_FLOAT = re.compile(r"float model: <b>(\d+)</b>")
_ROUND_TRIP = re.compile(r"round trip over serial took (\d+) ms")
_DIFFER = re.compile(r"(\d+) of the board's ten int8 scores differ")
_CELL_ERROR = "There was an error when executing"


@dataclass
class VisitResult:
    """What one emulated visitor saw and how long it waited (seconds; None: not reached).

    Attributes
    ----------
    visitor : int
        Its number in the run (0, 1, ...).
    app : str
        The app notebook's file name.
    started_s : float
        When it asked for the page, seconds after the run began.
    kernel_id : str or None
        The page's kernel.
    page_s : float or None
        Request -> the whole page received.
    assets_s : float or None
        Request -> the static files received.
    kernel_s : float or None
        Request -> the kernel's websocket open and its info reply received.
    first_render_s : float or None
        Request -> the states of the page's views and the models they refer to received.
    fallback : bool
        ``request_states`` had no answer within 4 s, so the states were asked widget by widget
        (a browser does the same).
    board_status : str or None
        Draw app: the board status line at first render, as text.
    digit : str or None
        Draw app: the digit this visitor drew.
    answer_s : float or None
        Draw app: pen lifted -> the board's answer (or an error) on the page.
    asking_s : float or None
        Draw app: pen lifted -> the prediction's first change ("Asking the board ..."): the
        kernel's own work before it asks the board (the preview figure, the host's answer);
        ``answer_s - asking_s`` is the board's part (queue, serial, inference).
    answer : dict or None
        Draw app: :func:`parse_answer` of the answer (board and host classes and scores,
        ``bit_identical``, latency, cycles).
    slider_s : float or None
        Explorer: the slider's update sent -> summary and figure both redrawn.
    left : bool
        The server accepted the page's kernel shutdown on leaving.
    errors : list of str
        Every failure, each a sentence starting with the step (page, assets, kernel, widgets,
        stroke, slider, leave).
    received_bytes, received_messages, sent_messages : int
        Kernel websocket traffic.
    assets_bytes : int
        Bytes of static files fetched, as they came over the wire (gzip where the server
        compressed them).
    trace : list of str or None
        With ``visit(..., trace=True)``: every request and message the visitor sent, in order
        (:func:`message_signature`, :func:`request_signature`), to compare with a browser's.
    """

    visitor: int
    app: str
    started_s: float = 0.0
    kernel_id: str | None = None
    page_s: float | None = None
    assets_s: float | None = None
    kernel_s: float | None = None
    first_render_s: float | None = None
    fallback: bool = False
    board_status: str | None = None
    digit: str | None = None
    answer_s: float | None = None
    asking_s: float | None = None
    answer: dict | None = None
    slider_s: float | None = None
    left: bool = False
    errors: list = field(default_factory=list)
    received_bytes: int = 0
    received_messages: int = 0
    sent_messages: int = 0
    assets_bytes: int = 0
    trace: list | None = None

    @property
    def ok(self) -> bool:
        """No error at any step."""
        return not self.errors

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return asdict(self)


# --- what the page and the app show --------------------------------------------------------

def page_config(page: str) -> dict:
    """The page's ``jupyter-config-data`` (Voila's page config), or {} without one."""
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, re.S)
    if not found:
        return {}
    try:
        return json.loads(found.group(1))
    except json.JSONDecodeError:
        return {}


def page_kernel_id(page: str) -> str | None:
    """The id of the kernel Voila started (or took from its pool) for this page."""
    return page_config(page).get("kernelId") or None


def _cell_outputs(page: str) -> list:
    outputs = []
    for block in re.findall(r'<script type="application/vnd.voila.cell-output\+json">(.*?)'
                            r'</script>', page, re.S):
        try:
            outputs.append(json.loads(block))
        except json.JSONDecodeError:
            continue
    return outputs


def page_views(page: str) -> list[str]:
    """Model ids of the widget views the page shows (its cells' widget outputs), in order."""
    views = []
    for output in _cell_outputs(page):
        view = (output.get("data") or {}).get("application/vnd.jupyter.widget-view+json")
        if view and view.get("model_id"):
            views.append(view["model_id"])
    return views


def page_errors(page: str) -> list[str]:
    """What the page says about failed cells (Voila shows no traceback, only that one failed)."""
    errors = []
    for output in _cell_outputs(page):
        if output.get("output_type") == "error":
            errors.append(" ".join(output.get("traceback") or [])
                          or f"{output.get('ename')}: {output.get('evalue')}")
    if not errors and _CELL_ERROR in page:
        errors.append(_text(page[page.index(_CELL_ERROR):][:300]))
    return errors


def page_assets(page: str) -> list[str]:
    """Paths of the static files the page names on this server: its stylesheets and scripts,
    and the entry point of each widget extension in its config (what a browser fetches
    before the page's scripts ask for more)."""
    paths = []
    for tag in re.findall(r"<(?:link|script)\b[^>]*>", page):
        if tag.startswith("<link") and "stylesheet" not in tag:
            continue
        found = re.search(r'\b(?:href|src)="(/[^"/][^"]*)"', tag)
        if found:
            paths.append(html_module.unescape(found.group(1)))
    config = page_config(page)
    base = config.get("fullLabextensionsUrl")
    for extension in config.get("federated_extensions") or []:
        if base and extension.get("name") and extension.get("load"):
            paths.append(f"{base}/{extension['name']}/{extension['load']}")
    return list(dict.fromkeys(paths))


def _text(markup: str) -> str:
    """Markup as the words a visitor reads."""
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


_STATIC = ("/voila/static/", "/voila/templates/", "/voila/labextensions/")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def request_signature(method: str, path: str) -> str:
    """What an HTTP request is, without ids or cache-busting queries: ``GET static``,
    ``GET /api/kernels/<id>``, ``POST /voila/api/shutdown/<id>``..."""
    path = _UUID.sub("<id>", path.split("?")[0])
    return f"{method} {'static' if path.startswith(_STATIC) else path}"


def parse_answer(markup: str) -> dict:
    """The draw-a-digit app's answer, read back from the HTML its prediction widget shows.

    The inverse of ``tinylab.widgets._digit_on_board._answer_html`` (the page of
    ``notebooks/apps/draw_digit.ipynb``): the board's and the host's classes and ten int8
    scores (from the table), whether the page says they are bit-identical, the model's time
    on the board.

    Returns
    -------
    dict
        ``board_class``, ``host_class`` (int); ``board_scores``, ``host_scores`` (lists of ten
        ints); ``bit_identical`` (bool, from the scores); ``page_says_identical`` (bool, from
        the page's verdict); ``latency_ms`` (float); ``cycles`` (int or None);
        ``float_class`` (int or None); ``round_trip_ms`` (int or None).

    Raises
    ------
    ValueError
        When ``markup`` is an error the app shows (its words in the message), or not an
        answer at all.
    """
    head = _ANSWER.search(markup)
    cells = _SCORE_CELL.findall(markup)
    if head is None and _ERROR_STYLE in markup:  # (an answer's "scores differ" is red too)
        raise ValueError(f"the app shows an error: {_text(markup)}")
    if head is None or not cells:
        raise ValueError(f"not an answer of the board: {_text(markup)[:200]!r}")
    if [int(k) for k, _, _ in cells] != list(range(len(cells))):
        raise ValueError(f"the score table's classes are not 0, 1, 2, ...: {cells}")
    board_scores = [int(b) for _, b, _ in cells]
    host_scores = [int(h) for _, _, h in cells]
    floats, round_trip = _FLOAT.search(markup), _ROUND_TRIP.search(markup)
    return {"board_class": int(head["board"]), "host_class": int(head["host"]),
            "board_scores": board_scores, "host_scores": host_scores,
            "bit_identical": board_scores == host_scores,
            "page_says_identical": "bit-identical" in markup and not _DIFFER.search(markup),
            "latency_ms": float(head["ms"]),
            "cycles": int(head["cycles"].replace(",", "")) if head["cycles"] else None,
            "float_class": int(floats.group(1)) if floats else None,
            "round_trip_ms": int(round_trip.group(1)) if round_trip else None}


# One pen stroke per digit, as a student might draw it without lifting the pen, in a unit
# square (x right, y down); stroke_points scales it onto the canvas.
def _arc(cx, cy, rx, ry, start_deg, end_deg, n=12):
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in (start_deg + (end_deg - start_deg) * i / n for i in range(n + 1))]


_STROKES = {
    "0": _arc(0.5, 0.5, 0.22, 0.34, -90, 270, 24),
    "1": [(0.40, 0.25), (0.52, 0.15), (0.52, 0.85)],
    "2": _arc(0.5, 0.34, 0.2, 0.18, 200, 380, 10) + [(0.28, 0.85), (0.76, 0.85)],
    "3": _arc(0.48, 0.33, 0.2, 0.16, 210, 450, 10) + _arc(0.48, 0.66, 0.22, 0.18, 270, 510, 10),
    "4": [(0.30, 0.15), (0.28, 0.56), (0.74, 0.56), (0.66, 0.15), (0.66, 0.88)],
    "5": [(0.72, 0.16), (0.34, 0.16), (0.31, 0.46)] + _arc(0.5, 0.64, 0.22, 0.2, 230, 490, 12),
    "6": _arc(0.7, 0.55, 0.4, 0.43, -110, -180, 6) + _arc(0.5, 0.66, 0.2, 0.19, 180, 540, 16),
    "7": [(0.27, 0.18), (0.76, 0.18), (0.42, 0.86)],
    "8": [(0.5 + 0.2 * math.sin(2 * t), 0.5 - 0.33 * math.cos(t))
          for t in (2 * math.pi * i / 32 for i in range(33))],
    "9": _arc(0.48, 0.34, 0.18, 0.17, 0, -360, 16) + [(0.64, 0.86)],
}


def stroke_points(digit, size: int = CANVAS_PIXELS, step_px: float = 8.0) -> list[tuple]:
    """A one-stroke drawing of ``digit`` as mouse positions on a ``size`` x ``size`` canvas.

    Points ``step_px`` apart along the stroke (a mouse reporting at 60 Hz, drawing at about
    0.5 canvas per second), rounded to 1/64 px as a browser's coordinates are.

    Parameters
    ----------
    digit : int or str
        0..9.
    size : int
        Canvas pixels (the drawing pad's is 256).
    step_px : float
        Distance between reported positions, canvas pixels.

    Returns
    -------
    list of (x, y)
        Canvas pixels, x to the right, y down.
    """
    key = str(digit)
    if key not in _STROKES:
        raise ValueError(f"no stroke for {digit!r}: give a digit 0..9")
    if not step_px > 0:
        raise ValueError(f"step_px must be > 0 pixels, got {step_px!r}")
    corners = [(x * size, y * size) for x, y in _STROKES[key]]
    points = [corners[0]]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step_px))
        points += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
                   for i in range(1, steps + 1)]
    return [(round(x * 64) / 64, round(y * 64) / 64) for x, y in points]


# --- one visitor -------------------------------------------------------------------------

class _Browser:
    """The HTTP side of one visitor: a cookie jar and six connections, as a browser tab."""

    def __init__(self, url: str, trace: list | None = None):
        from tornado.httpclient import AsyncHTTPClient

        self.trace = trace
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.cookies: dict = {}
        self.client = AsyncHTTPClient(force_instance=True, max_clients=BROWSER_CONNECTIONS)

    def headers(self, **extra) -> dict:
        headers = {"Origin": self.origin, **extra}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _keep_cookies(self, response) -> None:
        for line in response.headers.get_list("Set-Cookie"):
            name, _, rest = line.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    async def fetch(self, path: str, deadline: float, *, method: str = "GET", body=None,
                    headers: dict | None = None):
        """``(status, body bytes, reason)``; a timeout or refused connection is a status 599."""
        from tornado.httpclient import HTTPClientError, HTTPRequest

        if self.trace is not None:
            self.trace.append(f"http {request_signature(method, path)}")
        seconds = max(seconds_left(deadline), 0.001)
        request = HTTPRequest(self.url + path, method=method, body=body,
                              headers=self.headers(**(headers or {})), connect_timeout=seconds,
                              request_timeout=seconds, follow_redirects=False,
                              decompress_response=True)
        try:
            response = await self.client.fetch(request, raise_error=False)
        except HTTPClientError as error:
            return error.code, b"", str(error)
        except OSError as error:  # refused, reset
            return 599, b"", f"{type(error).__name__}: {error}"
        self._keep_cookies(response)
        if response.code == 599:
            return 599, b"", str(response.error)
        return response.code, response.body or b"", response.reason

    async def fetch_all(self, paths: list, deadline: float, headers: dict | None = None) -> list:
        """GET each of ``paths`` as a browser loads a page's static files: over
        :data:`BROWSER_CONNECTIONS` kept-alive connections, each taking the next path when its
        last answer is in. ``[(status, body as sent, reason)]`` in the order of ``paths``, the
        body as it came over the wire (gzip where the server sent it so: a browser unpacks it on
        its own machine); a connection that fails gives its path a status 599 and is opened
        again for the next.

        Tornado's client opens a connection per request, which no browser does: for a room's
        thousands of static requests the server would pay a TCP accept and a new HTTP
        connection each time.
        """
        answers: list = [None] * len(paths)
        queue = collections.deque(enumerate(paths))
        parts = urlsplit(self.url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        lines = "".join(f"{k}: {v}\r\n" for k, v in self.headers(**(headers or {})).items())

        async def connection() -> None:
            reader = writer = None
            while queue:
                index, path = queue.popleft()
                if self.trace is not None:
                    self.trace.append(f"http {request_signature('GET', path)}")
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(
                            asyncio.open_connection(host, port), seconds_left(deadline))
                    writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{lines}"
                                 "Connection: keep-alive\r\n\r\n".encode("latin-1"))
                    answers[index], keep = await asyncio.wait_for(
                        _read_response(reader), max(seconds_left(deadline), 0.001))
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                        ValueError) as error:
                    answers[index], keep = (599, b"", f"{type(error).__name__}: {error}"), False
                if not keep and writer is not None:
                    writer.close()
                    reader = writer = None
            if writer is not None:
                writer.close()

        await asyncio.gather(*(connection() for _ in range(min(BROWSER_CONNECTIONS, len(paths)))))
        return answers

    def close(self) -> None:
        self.client.close()


async def _read_response(reader) -> tuple:
    """One HTTP/1.1 response: ``((status, body, reason), keep the connection)``."""
    status_line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    fields = {}
    while (line := (await reader.readline()).decode("latin-1").rstrip("\r\n")):
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        body = await reader.readexactly(int(fields["content-length"]))
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        chunks = []
        while (size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16)):
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()  # the empty trailer
        body = b"".join(chunks)
    elif int(code) in (204, 304):
        body = b""
    else:
        body = await reader.read()  # to the end: the server closes
        return (int(code), body, reason), False
    return (int(code), body, reason), fields.get("connection", "").lower() != "close"


async def visit(url: str, app: str, visitor: int = 0, *, timeout_s: float = 120.0,
                think_s: float = 1.0, digit=None, assets=(), leave: bool = True,
                mouse_interval_s: float = MOUSE_INTERVAL_S, clock_origin: float | None = None,
                trace: bool = False, answer_timeout_s: float = ANSWER_TIMEOUT_S) -> VisitResult:
    """One emulated visitor of ``app`` on the Voila server at ``url`` (a coroutine).

    Parameters
    ----------
    url : str
        The server, e.g. ``http://127.0.0.1:8866`` (``tinylab.app.Server.url``).
    app : str
        The app notebook's file name, e.g. ``draw_digit.ipynb``.
    visitor : int
        Its number (chooses the digit drawn: ``DIGITS[visitor % 10]``).
    timeout_s : float
        Bound of the whole visit but the leaving (which has its own 10 s).
    think_s : float
        Seconds between the first render and the visitor's action (reading the page).
    digit : int or str, optional
        The digit to draw (default by ``visitor``).
    assets : sequence of str
        Static paths fetched besides those the page names (:func:`browser_assets`).
    leave : bool
        Leave as the page does (kernel shutdown); False keeps the kernel (a visitor who stays).
    mouse_interval_s : float
        Seconds between mouse moves.
    clock_origin : float, optional
        ``time.perf_counter()`` of the run's start, for ``started_s``.
    trace : bool
        Keep the list of what was sent (``VisitResult.trace``).
    answer_timeout_s : float
        Bound of the wait for a stroke's answer or a slider's redraw (within ``timeout_s``).

    Returns
    -------
    VisitResult
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    digit = str(digit) if digit is not None else DIGITS[visitor % len(DIGITS)]
    result = VisitResult(visitor=visitor, app=app, trace=[] if trace else None)
    browser, kernel, step = _Browser(url, result.trace), None, "page"
    start = time.perf_counter()
    result.started_s = start - clock_origin if clock_origin is not None else 0.0
    try:
        status, body, reason = await browser.fetch(f"/voila/render/{app}", deadline)
        page = body.decode("utf-8", errors="replace")
        result.page_s = time.perf_counter() - start
        if status != 200:
            raise VisitError(f"the page answered {status} {reason}" + (
                " (no page within the visit's time limit)" if status == 599 else ""))
        result.kernel_id = page_kernel_id(page)
        for error in page_errors(page):
            result.errors.append(f"page: a cell failed: {error}")
        if result.kernel_id is None:
            raise VisitError("the page names no kernel (no jupyter-config-data with a "
                             "kernelId): Voila did not finish it")
        views = page_views(page)

        step = "assets"
        paths = list(dict.fromkeys(page_assets(page) + list(assets)))
        answers = await browser.fetch_all(paths, deadline, ACCEPT_ENCODING)
        failed = [f"{path} ({code} {why})" for path, (code, _, why) in zip(paths, answers)
                  if code not in (200, 304)]
        result.assets_bytes = sum(len(body) for _, body, _ in answers)
        result.assets_s = time.perf_counter() - start
        if failed:
            result.errors.append(f"assets: {len(failed)} of {len(paths)} static files failed: "
                                 f"{', '.join(failed[:3])}")

        step = "kernel"
        kernel = await _connect(browser, result, deadline)
        await kernel.request("kernel_info_request", {}, deadline, "the kernel's info reply")
        result.kernel_s = time.perf_counter() - start

        step = "widgets"
        result.fallback = await kernel.load_widgets(views, deadline)
        result.first_render_s = time.perf_counter() - start

        status_id = kernel.with_class("tl-board-status")
        if status_id:
            result.board_status = _text(kernel.value(status_id) or "")
            if _ERROR_STYLE in (kernel.value(status_id) or ""):
                result.errors.append(f"widgets: the page says: {result.board_status}")
        canvas = kernel.with_class("tl-canvas", "AnyModel")
        prediction = kernel.with_class("tl-board-prediction")
        bits = kernel.with_class("tl-bits")
        if (canvas and prediction) or bits:
            await asyncio.sleep(min(think_s, max(seconds_left(deadline), 0)))
        if canvas and prediction:
            step = "stroke"
            result.digit = digit
            await _draw(kernel, result, canvas, prediction, digit, deadline, mouse_interval_s,
                        answer_timeout_s)
        elif bits:
            step = "slider"
            await _move_slider(kernel, result, bits, deadline, answer_timeout_s)
    except VisitError as error:
        result.errors.append(f"{step}: {error}")
    except Exception as error:  # anything else, in words: never out into the other visitors
        result.errors.append(f"{step}: unexpected {type(error).__name__}: {error}")
    finally:
        if leave and result.kernel_id:
            await _leave(browser, result)
        if kernel is not None:
            await kernel.close()
        browser.close()
    return result


async def _connect(browser: _Browser, result: VisitResult, deadline: float) -> WidgetFrontEnd:
    """The front end's ``KernelAPI.getKernelModel`` then ``KernelConnection``'s websocket."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    status, _, reason = await browser.fetch(
        f"/api/kernels/{result.kernel_id}?{int(time.time() * 1000)}", deadline)
    if status != 200:
        raise VisitError(f"the server does not give the page's kernel ({status} {reason})")
    session = str(uuid.uuid4())
    ws_url = browser.url.replace("http", "ws", 1) + \
        f"/api/kernels/{result.kernel_id}/channels?session_id={session}"
    seconds = max(seconds_left(deadline), 0.001)
    request = HTTPRequest(ws_url, headers=browser.headers(), connect_timeout=seconds,
                          request_timeout=seconds)
    try:
        socket = await asyncio.wait_for(websocket_connect(
            request, subprotocols=[WS_PROTOCOL], max_message_size=512 * 1024 * 1024),
            seconds)
    except asyncio.TimeoutError:
        raise VisitError("the kernel's websocket did not open within the visit's time "
                         "limit") from None
    except Exception as error:
        raise VisitError(f"the kernel's websocket did not open: {type(error).__name__}: "
                         f"{error}") from None
    if result.trace is not None:
        result.trace.append(f"ws open /api/kernels/<id>/channels {socket.selected_subprotocol}")
    return WidgetFrontEnd(socket, socket.selected_subprotocol, session, result)


async def _draw(kernel: WidgetFrontEnd, result: VisitResult, canvas: str, prediction: str,
                digit: str, deadline: float, interval_s: float, answer_timeout_s: float) -> None:
    """Draw ``digit`` as the pad's front end does: the browser inks the stroke as the pen
    moves (nothing is sent), and when the pen lifts the canvas's ``strokes`` gets the whole
    stroke appended, one ``update``."""
    points = [[x, y] for x, y in stroke_points(digit)]
    await asyncio.sleep(min((len(points) - 1) * interval_s, max(seconds_left(deadline), 0)))
    drawn = list(kernel.models[canvas]["state"].get("strokes") or [])
    before = kernel.updates[prediction]
    sent = time.perf_counter()
    await kernel.sync(canvas, {"strokes": [*drawn, points]})

    def shown() -> bool:
        value = kernel.value(prediction) or ""
        return kernel.updates[prediction] > before and (
            _ERROR_STYLE in value or "board: <b>" in value)

    bound = min(deadline, asyncio.get_running_loop().time() + answer_timeout_s)
    try:
        await kernel.until(lambda: kernel.updates[prediction] > before, bound,
                           "a change of the prediction")
        result.asking_s = time.perf_counter() - sent
        await kernel.until(shown, bound, "the board's answer")
    except VisitError as error:
        raise VisitError(f"{error}; the prediction shows: "
                         f"{_text(kernel.value(prediction) or '')[:300]!r}") from None
    result.answer_s = time.perf_counter() - sent
    try:
        result.answer = parse_answer(kernel.value(prediction))
    except ValueError as error:
        raise VisitError(str(error)) from None
    if not result.answer["bit_identical"]:
        raise VisitError(f"the board's scores {result.answer['board_scores']} differ from "
                         f"the host's {result.answer['host_scores']}")
    if not result.answer["page_says_identical"]:
        raise VisitError("the page says the scores differ, but its table shows them equal")


async def _move_slider(kernel: WidgetFrontEnd, result: VisitResult, slider: str,
                       deadline: float, answer_timeout_s: float) -> None:
    """One arrow-key step of the slider, then wait until summary and figure are redrawn."""
    state = kernel.models[slider]["state"]
    if "index" in state and state.get("_options_labels"):
        last, index = len(state["_options_labels"]) - 1, state["index"]
        change = {"index": index + 1 if index < last else index - 1}
    elif isinstance(state.get("value"), (int, float)) and "max" in state:
        step = state.get("step") or 1
        value = state["value"]
        change = {"value": value + step if value + step <= state["max"] else value - step}
    else:
        raise VisitError(f"the tl-bits widget ({kernel.models[slider]['name']}) is not a "
                         f"slider a visitor can move")
    watched = {}
    for css_class in ("tl-summary", "tl-figure"):
        model_id = kernel.with_class(css_class)
        if model_id is None:
            raise VisitError(f"the page has no widget with class {css_class}")
        watched[css_class] = kernel.tree(model_id)

    def redraws() -> dict:
        return {name: sum(kernel.updates[m] for m in ids) for name, ids in watched.items()}

    before = redraws()
    sent = time.perf_counter()
    await kernel.sync(slider, change)
    bound = min(deadline, asyncio.get_running_loop().time() + answer_timeout_s)
    await kernel.until(lambda: all(count > before[name] for name, count in redraws().items()),
                       bound, "the redrawn summary and figure")
    result.slider_s = time.perf_counter() - sent


async def _leave(browser: _Browser, result: VisitResult) -> None:
    """The page's ``beforeunload``: ``navigator.sendBeacon`` of a form with ``_xsrf``."""
    boundary = "----WebKitFormBoundary" + secrets.token_hex(8)
    xsrf = browser.cookies.get("_xsrf", "")
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="_xsrf"\r\n\r\n{xsrf}\r\n'
            f"--{boundary}--\r\n").encode()
    deadline = asyncio.get_running_loop().time() + LEAVE_TIMEOUT_S
    status, answer, reason = await browser.fetch(
        f"/voila/api/shutdown/{result.kernel_id}", deadline, method="POST", body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    result.left = status in (200, 204)
    if not result.left:
        detail = _server_message(answer) or reason
        result.errors.append(f"leave: the server refused the page's kernel shutdown ({status} "
                             f"{detail}): the kernel keeps running until the server stops")


def _server_message(body: bytes) -> str:
    try:
        return json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        return _text(body.decode("utf-8", errors="replace"))[:200]


# --- a room of visitors --------------------------------------------------------------------

async def visit_all(url: str, app: str, n: int, *, stagger_s: float = 0.0,
                    timeout_s: float = 120.0, digits=None, **options) -> list[VisitResult]:
    """``n`` visitors of ``app``, visitor ``i`` arriving ``i * stagger_s`` after the first and
    drawing ``digits[i % len(digits)]`` (a coroutine, for a caller with its own event loop;
    :func:`run_visitors` checks the arguments and runs it). Other options as :func:`visit`."""
    digits = [str(d) for d in (digits if digits is not None else DIGITS)]
    origin = time.perf_counter()

    async def one(i: int) -> VisitResult:
        await asyncio.sleep(i * stagger_s)
        return await _bounded_visit(url, app, i, timeout_s, origin,
                                    digit=digits[i % len(digits)], **options)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def run_visitors(url: str, app: str, n: int, *, stagger_s: float = 0.0, timeout_s: float = 120.0,
                 think_s: float = 1.0, assets=(), leave: bool = True, digits=None,
                 mouse_interval_s: float = MOUSE_INTERVAL_S,
                 answer_timeout_s: float = ANSWER_TIMEOUT_S) -> list[VisitResult]:
    """``n`` emulated visitors of a Voila app at once, in this process; one result each.

    Each visitor opens the page, loads its widgets, acts (draws a digit on the draw app,
    moves the bit-width slider on the explorer) and leaves, as the module docstring says.
    Nothing is raised for a visitor's failure: it is in that visitor's ``errors``.
    Introduced for issue 18 (the apps in a lecture hall).

    Parameters
    ----------
    url : str
        The server (``tinylab.app.Server.url``).
    app : str
        The app notebook's file name, e.g. ``"draw_digit.ipynb"``.
    n : int
        Visitors (>= 1).
    stagger_s : float
        Seconds between arrivals (0: all at once).
    timeout_s : float
        Bound of each visit (the leaving has 10 s more).
    think_s : float
        Seconds a visitor looks at the page before acting.
    assets : sequence of str
        Static paths each visitor also fetches (:func:`browser_assets`).
    leave : bool
        Leave as the page does (kernel shutdown).
    digits : sequence, optional
        The digit visitor ``i`` draws is ``digits[i % len(digits)]`` (default :data:`DIGITS`).
    mouse_interval_s : float
        Seconds between mouse moves of a stroke.
    answer_timeout_s : float
        Bound of the wait for a stroke's answer or a slider's redraw.

    Returns
    -------
    list of VisitResult
        In visitor order.

    Raises
    ------
    ValueError
        For a bad ``n``, bound or digit (nothing is started).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of visitors >= 1, got {n!r}")
    for name, value in (("stagger_s", stagger_s), ("think_s", think_s),
                        ("mouse_interval_s", mouse_interval_s)):
        if not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    for name, value in (("timeout_s", timeout_s), ("answer_timeout_s", answer_timeout_s)):
        if not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
    digits = [str(d) for d in (digits if digits is not None else DIGITS)]
    if not digits:
        raise ValueError("digits is empty: give at least one digit 0..9")
    for d in digits:
        stroke_points(d)  # ValueError for a digit without a stroke

    room = visit_all(url, app, n, stagger_s=stagger_s, timeout_s=timeout_s, digits=digits,
                     think_s=think_s, assets=tuple(assets), leave=leave,
                     mouse_interval_s=mouse_interval_s, answer_timeout_s=answer_timeout_s)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # none here: the usual case
        return asyncio.run(room)
    # An event loop already runs in this thread (a notebook, Playwright's sync API): the
    # visitors get a loop of their own in a thread of their own.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, room).result()


async def _bounded_visit(url, app, i, timeout_s, origin, **options) -> VisitResult:
    bound = timeout_s + LEAVE_TIMEOUT_S + 15  # the visit honours its own deadline before this
    try:
        return await asyncio.wait_for(visit(url, app, i, timeout_s=timeout_s,
                                            clock_origin=origin, **options), bound)
    except asyncio.TimeoutError:
        error = f"visit: did not end within {bound:.0f} s"
    except Exception as failure:
        error = f"visit: unexpected {type(failure).__name__}: {failure}"
    return VisitResult(visitor=i, app=app, started_s=time.perf_counter() - origin,
                       errors=[error])


def percentile(values, share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0.9: p90) of ``values``; None when empty."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarize(results: list) -> dict:
    """A room's numbers: per measure (``first_render_s``, ``answer_s``, ``slider_s``, ``page_s``)
    count, median, p90 and max; errors counted and listed in words (ids stripped);
    ``bit_exact`` answers; visitors who ``left``."""
    summary = {"visitors": len(results), "ok": sum(r.ok for r in results)}
    for measure in ("page_s", "assets_s", "kernel_s", "first_render_s", "asking_s", "answer_s",
                    "slider_s"):
        values = [getattr(r, measure) for r in results if getattr(r, measure) is not None]
        if values:
            summary[measure] = {"n": len(values), "median": percentile(values, 0.5),
                                "p90": percentile(values, 0.9), "max": max(values)}
    words = collections.Counter(
        re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}",
               "<id>", error) for r in results for error in r.errors)
    summary["errors"] = {"count": sum(words.values()), "visitors_with_errors":
                         sum(not r.ok for r in results),
                         "kinds": [{"error": e, "times": t} for e, t in words.most_common()]}
    answers = [r.answer for r in results if r.answer]
    if answers or any(r.digit for r in results):
        summary["answers"] = len(answers)
        summary["bit_exact"] = sum(a["bit_identical"] for a in answers)
        summary["classes"] = {r.digit: r.answer["board_class"] for r in results if r.answer}
    summary["fallbacks"] = sum(r.fallback for r in results)
    summary["left"] = sum(r.left for r in results)
    return summary


# --- for benchmarks: the static files a browser loads --------------------------------------

def browser_assets(url: str, app: str, *, timeout_s: float = 300.0) -> list[str]:
    """The static files a real browser loads for ``app``: paths on the server at ``url``.

    Opens the app in Debian's Chromium (headless, Playwright) until its widgets render, and
    lists the static files it fetched from the server (``/voila/static``, ``/voila/templates``,
    ``/voila/labextensions``). Pass them as ``assets`` so that emulated visitors load the
    server as browsers do. The visit takes a kernel of the server: use a server of its own.

    Raises
    ------
    RuntimeError
        Without Chromium or Playwright, or when the page does not render within
        ``timeout_s``.
    """
    from . import app as app_module

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError("Playwright is not installed: pip install -e '.[dev]'") from None
    executable = app_module.chromium_executable()
    if executable is None:
        raise RuntimeError("Chromium is not installed: sudo apt-get install -y chromium")
    origin = url.rstrip("/")
    paths = []

    def seen(request):
        if request.method == "GET" and request.url.startswith(origin + "/voila/") and any(
                part in request.url for part in ("/voila/static/", "/voila/templates/",
                                                 "/voila/labextensions/")):
            paths.append(request.url[len(origin):])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=app_module.CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", seen)
            try:
                page.goto(origin + app_module.render_path(app), wait_until="commit",
                          timeout=timeout_s * 1000)
                page.wait_for_function(
                    "() => document.querySelector('.jupyter-widgets') && "
                    "!document.body.innerText.includes('Loading widget')",
                    timeout=timeout_s * 1000, polling=250)
                page.wait_for_load_state("networkidle", timeout=30_000)
            except Exception as error:  # Playwright's TimeoutError, with what was awaited
                raise RuntimeError(f"{app} did not render in Chromium within {timeout_s:.0f} s: "
                                   f"{error}") from None
            finally:
                page.close(run_before_unload=True)
        finally:
            browser.close()
    return list(dict.fromkeys(paths))
