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
"""

from __future__ import annotations

import concurrent.futures
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
