"""Serve the Voila apps in ``notebooks/apps/``, and nothing else: ``tinylab app``, ``make app``.

Voila is started on the apps folder itself, so its root, its tree page, its ``/voila/render/``
and ``/voila/files/`` URLs cannot reach a lesson, the package or the README: a path that leaves
the root is refused (404/403). On top of Voila 0.5's defaults, stated here so that a change of
default cannot loosen them:

- sources are stripped from the page and tracebacks never reach the visitor (the kernel only
  takes widget messages, no code);
- static files: only images directly in the apps folder (what an app's markdown may show);
  notebooks, Python files, data and hidden files are refused;
- a visitor cannot switch the template with ``?template=`` (a template decides what is shown).

Voila, unlike JupyterLab, has no root check and no ``--allow-root`` option: as root it starts
as it is. :func:`serve` runs a server in the background for tests and benchmarks and stops it
with its kernels and whatever they started (the virtual Uno's simavr).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import _paths

DEFAULT_PORT = 8866  # Voila's own default; the next free port is taken when it is busy
# Regular expressions on the path below the apps folder (Voila matches the whole path).
FILE_ALLOWLIST = [r"[^/\\]+\.(png|jpe?g|gif|svg)"]
FILE_DENYLIST = [r"(.*[/\\])?\..*", r".*\.(ipynb|py|pyc|json|csv|txt|md|keras|tflite|h5)"]


#: For browser tests and ``bench/apps.py`` (Playwright's ``page.evaluate(js, selector)``): a
#: signature of what an element shows (image sources, canvas pixels, SVG, text), so that a
#: test can wait until a figure is redrawn whatever widget draws it.
SHOWN_SIGNATURE_JS = """(selector) => {
  const root = document.querySelector(selector);
  if (!root) return null;
  const parts = [];
  for (const node of [root, ...root.querySelectorAll('img, canvas, svg')]) {
    if (node.tagName === 'IMG') parts.push(node.src);
    else if (node.tagName === 'CANVAS') { try { parts.push(node.toDataURL()); } catch (e) {} }
    else if (node.tagName && node.tagName.toLowerCase() === 'svg') parts.push(node.outerHTML);
  }
  parts.push(root.innerText);
  return parts.join('|');
}"""


#: The draw-a-digit app's canvas (ipycanvas puts the class on the canvas or around it).
CANVAS_SELECTOR = "canvas.tl-canvas, .tl-canvas canvas"


def draw_stroke(page, selector: str = CANVAS_SELECTOR, *, pause_ms: int = 0) -> None:
    """For browser tests and benchmarks: a '1'-like vertical stroke with Playwright's mouse,
    down the middle of the visible part of the canvas ``selector`` (only that part gets mouse
    events), in 20 moves, ``pause_ms`` apart."""
    canvas = page.locator(selector).first
    canvas.scroll_into_view_if_needed()
    box, viewport = canvas.bounding_box(), page.viewport_size
    if not box or box["width"] <= 20 or box["height"] <= 20:
        raise RuntimeError(f"the canvas {selector!r} is not drawn at a usable size: {box}")
    top, bottom = max(box["y"], 0), min(box["y"] + box["height"], viewport["height"])
    x = box["x"] + 0.5 * min(box["width"], viewport["width"] - box["x"])
    page.mouse.move(x, top + 0.15 * (bottom - top))
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x, top + (0.15 + 0.7 * step / 20) * (bottom - top))
        if pause_ms:
            page.wait_for_timeout(pause_ms)
    page.mouse.up()


def apps_dir(root: Path | None = None) -> Path:
    """The folder of app notebooks: ``notebooks/apps`` in the checkout ``root``.

    Parameters
    ----------
    root : Path, optional
        A TinyLab checkout (default: the one this package runs from).

    Raises
    ------
    FileNotFoundError
        When there is no such folder (an installation without a checkout).
    """
    root = Path(root) if root is not None else _paths.ROOT
    directory = root / "notebooks" / "apps"
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no apps folder at {directory}: the Voila apps live in a TinyLab checkout's "
            f"notebooks/apps/ (git clone, then `make app`)")
    return directory


def list_apps(directory: Path) -> list[str]:
    """File names of the app notebooks in ``directory``, sorted (``draw_digit.ipynb``, ...)."""
    return sorted(p.name for p in Path(directory).glob("*.ipynb") if not p.name.startswith("."))


def check_port(port) -> int:
    """``port`` as an int in 1-65535, else ``ValueError`` saying what would do."""
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise ValueError(f"port {port!r} is not a number: give an integer from 1 to 65535, "
                         f"e.g. {DEFAULT_PORT}") from None
    if str(number) != str(port).strip() or not 1 <= number <= 65535:
        raise ValueError(f"port {port!r} is out of range: give an integer from 1 to 65535, "
                         f"e.g. {DEFAULT_PORT}")
    return number


def voila_command(directory: Path, *, port: int | None = None, ip: str | None = None,
                  port_retries: int | None = None, python: str = sys.executable) -> list[str]:
    """The argv that starts Voila on the apps folder ``directory``, without a browser.

    Parameters
    ----------
    directory : Path
        The apps folder (Voila's root: nothing outside it is served).
    port : int, optional
        Port to listen on (default 8866, or the next free one).
    ip : str, optional
        Address to listen on (default: Voila's, localhost).
    port_retries : int, optional
        How many other ports Voila may try when ``port`` is busy (0: fail instead).
    python : str
        The Python that runs Voila (default: this one).
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder of app notebooks")
    command = [python, "-m", "voila", str(directory), "--no-browser",
               f"--port={check_port(port if port is not None else DEFAULT_PORT)}",
               "--VoilaConfiguration.strip_sources=True",
               "--VoilaConfiguration.show_tracebacks=False",
               "--VoilaConfiguration.allow_template_override=NO"]
    command += [f"--VoilaConfiguration.file_allowlist={pattern}" for pattern in FILE_ALLOWLIST]
    command += [f"--VoilaConfiguration.file_denylist={pattern}" for pattern in FILE_DENYLIST]
    if ip:
        command.append(f"--Voila.ip={ip}")
    if port_retries is not None:
        command.append(f"--Voila.port_retries={int(port_retries)}")
    return command


# Headless Debian Chromium for the browser tests and benchmarks (no browser download): these
# flags keep it from calling home, which a closed network answers with refusals or hangs.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_executable() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or any ``chromium`` on PATH."""
    import shutil

    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def render_path(name: str) -> str:
    """The URL path of an app, e.g. ``/voila/render/draw_digit.ipynb``."""
    return f"/voila/render/{name}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A Voila server started by :func:`serve`: ``url`` (no trailing slash) and its process."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        """What Voila printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def descendants(self) -> list:
        """The server's live descendant processes (kernels, and what they started), psutil."""
        import psutil

        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """Stop a Voila server and everything below it.

    SIGTERM first (Voila then shuts its kernels down), SIGKILL for whatever is still alive
    after ``timeout_s``. Kernels run in sessions of their own, so they are found by
    parentage (psutil) before the server goes, not by process group.
    """
    import psutil

    try:
        below = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        below = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    alive = [p for p in below if p.is_running()]
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(alive, timeout=10)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=10)


@contextlib.contextmanager
def serve(directory: Path | None = None, *, port: int | None = None, env: dict | None = None,
          log_path: Path | None = None, startup_timeout_s: float = 90):
    """Run Voila on the apps folder in the background; yields a :class:`Server`.

    The same command as ``tinylab app`` (:func:`voila_command`), on ``port`` (default: a free
    one, with no retries elsewhere) of 127.0.0.1. Waits until the tree page answers, and
    on leaving stops the server, its kernels and their children (:func:`stop`).

    Raises
    ------
    RuntimeError
        When Voila exits or does not answer within ``startup_timeout_s`` (its log attached).
    """
    directory = apps_dir() if directory is None else Path(directory)
    port = check_port(port) if port is not None else free_port()
    if log_path is None:
        import tempfile
        log_path = Path(tempfile.mkstemp(prefix="tinylab-voila-", suffix=".log")[1])
    command = voila_command(directory, port=port, ip="127.0.0.1", port_retries=0)
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(env or {})})
    server = Server(url, process, Path(log_path))
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _answers(url + "/"):
            if process.poll() is not None:
                raise RuntimeError(f"Voila exited with code {process.returncode}:\n{server.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Voila did not answer on {url} within {startup_timeout_s} s:"
                                   f"\n{server.log()}")
            time.sleep(0.25)
        yield server
    finally:
        stop(process)
