"""Helpers shared by the browser tests (Chromium driven by Playwright's sync API).

- :func:`unavailable` and :func:`require_chromium`: a missing browser or Playwright fails under
  CI (browser tests do not skip there) and skips elsewhere, saying how to install it.
- :func:`launch_chromium`: Debian's Chromium, headless, as the apps are tested (never
  ``playwright install``).
- :func:`in_a_thread`: run a Playwright function in a thread of its own, with a bound (under
  ``make test`` another test's sync Playwright may own this thread's event loop).
- :func:`stand_in_script` and :class:`PageRelay`: give a page served by Voila or JupyterLab the
  ``navigator.serial`` stand-in (tests/fakes/web_serial.js), relayed to a pty by
  tests/fakes/serial_relay.py.
- :func:`app_notebook`, :func:`voila_visit`, :func:`stand_in_page` and :func:`connect_board`:
  a one-cell app served by Voila with the board behind the relay, visited in Chromium, its
  board link connected (the board link's browser tests and ``bench/weblink.py``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from tinylab import app

FAKES = Path(__file__).parent / "fakes"
if str(FAKES) not in sys.path:
    sys.path.insert(0, str(FAKES))
from serial_relay import SerialRelay  # noqa: E402

THREAD_BOUND_S = 240     # a Playwright thread's answer, whatever happens in the page


def unavailable(what: str) -> None:
    """Fail under CI (browser tests do not skip there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(what)


def require_chromium() -> None:
    """Playwright and Debian's Chromium are installed, or :func:`unavailable`."""
    if importlib.util.find_spec("playwright") is None:
        unavailable("Playwright is not installed: pip install -e '.[dev]' (or: make test)")
    if app.chromium_executable() is None:
        unavailable("Chromium is not installed: sudo apt-get install -y chromium "
                    "(make test installs it when run as root)")


def launch_chromium(playwright):
    """Debian's Chromium, headless, from a started ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=app.chromium_executable(), headless=True,
                                      args=app.CHROMIUM_ARGS, timeout=60_000)


def in_a_thread(function, *args, timeout_s: float = THREAD_BOUND_S):
    """``function(*args)`` in a fresh thread; its answer, or TimeoutError after ``timeout_s``."""
    thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="chromium")
    try:
        return thread.submit(function, *args).result(timeout=timeout_s)
    finally:
        thread.shutdown(wait=False)


def stand_in_script(relay_url: str) -> str:
    """tests/fakes/web_serial.js as a classic script (an init script cannot be a module) that
    installs the ``navigator.serial`` stand-in relayed through ``relay_url``."""
    text = (FAKES / "web_serial.js").read_text().replace("export class", "class")
    text = text.replace("export async function", "async function").replace(
        "export function", "function")
    return f"{text}\ninstallSerialStandIn({json.dumps(relay_url)});\n"


class PageRelay(SerialRelay):
    """The test relay, letting in a page served elsewhere: set ``page_origin`` to the server's
    URL (Voila's, JupyterLab's) once it is known."""

    page_origin = ""

    @property
    def origin(self) -> str:
        return self.page_origin


def app_notebook(*cells: str) -> dict:
    """A notebook (a JSON-ready dict) of code ``cells``: an app for Voila (one cell) or a
    notebook for JupyterLab."""
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                       "outputs": [], "source": cell.splitlines(keepends=True)}
                      for cell in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def stand_in_page(browser, url: str, relay_url: str, *, timeout_ms: float,
                  console: list | None = None):
    """A new page of ``browser`` at ``url`` whose ``navigator.serial`` is the stand-in relayed
    through ``relay_url`` (loaded until the first bytes, at most ``timeout_ms``); its console
    lines go to ``console``."""
    page = browser.new_page()
    if console is not None:
        page.on("console", lambda message: console.append(message.text))
    page.add_init_script(stand_in_script(relay_url))
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    return page


def voila_visit(folder: Path, source: str, visit, board_port: str | None = None, *,
                timeout_s: float = THREAD_BOUND_S, **faults) -> dict:
    """``source`` as ``folder/link.ipynb`` served by Voila (``tinylab.app.serve``, no boards,
    no kernel pool), ``visit(url, relay_url)`` run by :func:`in_a_thread` (bound
    ``timeout_s``), the board on ``board_port`` behind a :class:`PageRelay` with ``faults``
    (none without a port: ``relay_url`` is then None).

    Returns what ``visit`` returned, with ``"relay_errors"`` (the relay's, in words) and
    ``"relay_bytes"`` (``{"to_port": n, "from_port": n}``, the relay's counters) added. Does
    not check that Chromium is installed: a test calls :func:`require_chromium` first.
    """
    (Path(folder) / "link.ipynb").write_text(json.dumps(app_notebook(source)))
    with contextlib.ExitStack() as stack:
        relay = stack.enter_context(PageRelay(board_port, **faults)) if board_port else None
        server = stack.enter_context(app.serve(Path(folder), boards=0, prepared=False, pool=0,
                                               startup_timeout_s=90))
        if relay is not None:
            relay.page_origin = server.url
        outcome = in_a_thread(visit, server.url + app.render_path("link.ipynb"),
                              relay.url if relay else None, timeout_s=timeout_s)
    outcome["relay_errors"] = relay.errors if relay else []
    outcome["relay_bytes"] = ({"to_port": relay.to_port, "from_port": relay.from_port}
                              if relay else {})
    return outcome


def connect_board(browser, url: str, relay_url: str, console: list | None = None, *,
                  page_ms: float = 120_000, connect_ms: float = 60_000):
    """A page of ``url`` in ``browser`` with the stand-in for ``relay_url``, its board link's
    "Connect a board" clicked and the link saying "connected"; console lines go to
    ``console``. Waits at most ``page_ms`` for the page's link (a fresh kernel imports
    tinylab first) and ``connect_ms`` for the connection."""
    page = stand_in_page(browser, url, relay_url, timeout_ms=page_ms, console=console)
    page.locator(".tl-board-link-connect").wait_for(state="visible", timeout=page_ms)
    page.locator(".tl-board-link-connect").click()
    page.wait_for_function(
        "() => document.querySelector('.tl-board-link-status').innerText"
        ".includes('connected')", timeout=connect_ms)
    return page
