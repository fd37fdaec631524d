"""Voila as ``tinylab app`` runs it (``python -m tinylab._voila``): Voila's own application,
with its static files held in memory and sent compressed, and preheated kernels refilled
without making a visitor wait (:class:`RefillLater`).

A visitor's first page load fetches about a hundred static files (Voila's scripts and
stylesheets, the widget extensions' chunks: 5 MB). Voila serves them with tornado's
``StaticFileHandler``, which for every request resolves the path on disk (``realpath``,
``exists``, ``stat``), reads the file and formats its headers again. Thirty visitors arriving
at once are 3,000 such requests through Voila's one process, which also renders their pages
and carries their kernels' messages: measured on 2 cores, 30 curl clients fetching one
visit's files each took 2.5 s, and 102 requests for a 7 KB file took as long as the 102 real
files (the cost is per request, not per byte).

Here the first request for a file goes through Voila's handler's own checks (a path outside
its folders is refused as before) and headers, and the answer (headers and the file's bytes)
is kept; later requests for the same URL get the kept answer. Text files (scripts, stylesheets, JSON, SVG) are also kept gzip-compressed, once,
and sent that way to browsers that accept it: a lecture hall's Wi-Fi carries a quarter of the
bytes. Requests that ask for part of a file or revalidate a cached copy (``Range``,
``If-None-Match``, ``If-Modified-Since``) go to Voila's handler unchanged, and so does every
other URL. The files are those of the installed packages (Voila's, the widget extensions'),
which do not change while the server runs; the apps folder's own files (``/voila/files/``)
are not kept.

Both are subclasses, of Voila's application (:meth:`voila.app.Voila.init_handlers`) and of
its kernel manager, not patches: Voila's handlers, settings and lock-down
(:mod:`tinylab.app`) are unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass

from voila.app import Voila

#: URL patterns of Voila 0.5's static handlers (below its base URL), kept in memory.
STATIC_PATTERNS = ("/voila/static/(.*)", "/voila/templates/(.*)", "/voila/labextensions/(.*)")
#: Content types sent gzip-compressed (fonts and images are compressed already).
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
#: Smaller files are sent as they are: compressing them saves less than its header costs.
COMPRESS_FROM_BYTES = 1024
#: Headers never kept: the date is the response's own; the length is the variant's.
_NOT_KEPT = {"date", "content-length", "server", "transfer-encoding"}
#: Request headers that ask for something else than the whole, current file.
_CONDITIONAL = ("Range", "If-None-Match", "If-Modified-Since")


@dataclass
class Kept:
    """One static file as it was first sent: its headers and bytes, and its gzip form."""

    headers: list
    body: bytes
    gzipped: bytes | None

    @classmethod
    def of(cls, headers: list, body: bytes) -> "Kept":
        kind = next((v for k, v in headers if k.lower() == "content-type"), "")
        gzipped = None
        if len(body) >= COMPRESS_FROM_BYTES and kind.startswith(COMPRESSIBLE):
            smaller = gzip.compress(body, compresslevel=6, mtime=0)
            gzipped = smaller if len(smaller) < len(body) else None
        return cls(headers, body, gzipped)


class KeptStatic:
    """Mixin for a tornado ``StaticFileHandler``: answers a plain GET or HEAD for a URL it
    has answered before from memory (module docstring)."""

    kept: dict = {}  # request path (without the query) -> Kept; shared by all handlers

    async def get(self, path: str, include_body: bool = True) -> None:
        if any(self.request.headers.get(name) for name in _CONDITIONAL):
            return await super().get(path, include_body)
        key = self.request.path
        kept = self.kept.get(key)
        if kept is None:
            # What StaticFileHandler.get does before it sends, with the handler's own checks
            # (a path outside its folders is refused there, 403 or 404) and headers.
            self.path = self.parse_url_path(path)
            absolute = self.get_absolute_path(self.root, self.path)
            self.absolute_path = self.validate_absolute_path(self.root, absolute)
            if self.absolute_path is None:
                return None
            self.modified = self.get_modified_time()
            self.set_headers()
            with open(self.absolute_path, "rb") as handle:
                body = handle.read()
            headers = [(k, v) for k, v in self._headers.get_all() if k.lower() not in _NOT_KEPT]
            kept = self.kept[key] = Kept.of(headers, body)
        self.send_kept(kept, include_body)
        return None

    def send_kept(self, kept: Kept, include_body: bool) -> None:
        for name, value in kept.headers:
            self.set_header(name, value)
        body = kept.body
        if kept.gzipped is not None:
            self.set_header("Vary", "Accept-Encoding")
            if "gzip" in self.request.headers.get("Accept-Encoding", ""):
                body = kept.gzipped
                self.set_header("Content-Encoding", "gzip")
                etag = next((v for k, v in kept.headers if k.lower() == "etag"), None)
                if etag:  # another representation: another tag
                    self.set_header("Etag", etag[:-1] + '-gzip"' if etag.endswith('"')
                                    else etag + "-gzip")
        self.set_header("Content-Length", len(body))
        if include_body:
            self.write(body)


def keeping(handler_class: type) -> type:
    """``handler_class`` with :class:`KeptStatic` in front of its ``get``."""
    return type(f"Kept{handler_class.__name__}", (KeptStatic, handler_class), {})


class RefillLater:
    """Mixin for Voila's kernel manager: a preheated kernel taken by a visitor is replaced
    ``fill_delay`` seconds later, and until then the pool is empty, so that the next visitor
    gets a kernel started for them at once instead of waiting for the replacement.

    Voila 0.5 puts the replacement into the pool at once, as a task that sleeps
    ``fill_delay`` before starting its kernel, and a visitor who finds only such tasks waits
    for one: with the 30 s that :data:`tinylab.app.FILL_DELAY_S` gives a room (so that thirty
    kernel starts do not land while its pages load), a teacher reloading the app waited 30 s.
    Here the refill is a timer, one per app, and Voila's own fallback for an empty pool, a
    kernel started for the visitor, serves whoever comes before it fires.
    """

    def fill_if_needed(self, delay=None, notebook_name=None, **kwargs) -> None:
        delay = self.fill_delay if delay is None else delay
        if delay <= 0:
            return super().fill_if_needed(delay=0, notebook_name=notebook_name, **kwargs)
        pending = self.__dict__.setdefault("_tinylab_refills", {})
        if notebook_name in pending:  # one refill per app fills the whole pool
            return None

        def refill() -> None:
            pending.pop(notebook_name, None)
            super(RefillLater, self).fill_if_needed(delay=0, notebook_name=notebook_name,
                                                    **kwargs)

        pending[notebook_name] = asyncio.get_event_loop().call_later(delay, refill)
        return None


class TinyLabVoila(Voila):
    """Voila, with the static handlers of :data:`STATIC_PATTERNS` keeping what they send, and
    preheated kernels refilled as :class:`RefillLater` says."""

    def init_settings(self) -> dict:
        settings = super().init_settings()
        manager = self.kernel_manager
        # Voila builds its kernel manager's class inside a factory function, so it cannot be
        # subclassed ahead: the instance gets the subclass instead, with only the refill's
        # timing changed.
        if hasattr(manager, "fill_if_needed") and not isinstance(manager, RefillLater):
            manager.__class__ = type(f"Later{type(manager).__name__}",
                                     (RefillLater, type(manager)), {})
        return settings

    def init_handlers(self) -> list:
        handlers = []
        for handler in super().init_handlers():
            pattern, cls, *rest = handler
            if isinstance(pattern, str) and pattern.endswith(STATIC_PATTERNS):
                handler = (pattern, keeping(cls), *rest)
            handlers.append(handler)
        return handlers


main = TinyLabVoila.launch_instance

if __name__ == "__main__":
    main()
