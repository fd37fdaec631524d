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

For a room of visitors arriving at once (a lecture, an open day) two things are added:

- **preheated kernels**: Voila keeps a pool of kernels per app that have already run the app
  notebook, so a visitor gets a finished page instead of waiting for it to run; a visitor
  takes one and Voila starts another (``pool``: how many per app, :data:`DEFAULT_POOL`);
- **shared boards**: one board server (:mod:`tinylab.board_server`) beside Voila runs the
  virtual Unos (``boards`` per firmware, :data:`DEFAULT_BOARDS`) that every visitor's kernel
  sends its drawings to in turn, instead of one simavr per visitor; a real board plugged into
  the server is shared the same way, one request at a time.

One default is changed, and it loosens nothing: Voila 0.5.13's page never sets the ``_xsrf``
cookie that its own front end must echo when the page closes and asks the server to shut its
kernel down (``POST /voila/api/shutdown/<kernel id>``), so Voila refuses that request (403,
voila-dashboards/voila#1458, seen from Chromium too) and every visit's kernel, with its
memory, stays until the server stops. The XSRF check is turned off (``disable_check_xsrf``):
it guards requests a browser authenticates with a login cookie, and this server has no login;
its only POST is that shutdown, which needs the kernel's random id.

Voila, unlike JupyterLab, has no root check and no ``--allow-root`` option: as root it starts
as it is. :func:`serve` runs the server (``tinylab app`` in the foreground, tests and
benchmarks in the background) and stops it with its kernels, the board server and whatever
they started (the virtual Uno's simavr).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import _paths

DEFAULT_PORT = 8866  # Voila's own default; the next free port is taken when it is busy
#: Preheated kernels per app when none are asked for: the first visitor's page comes at once,
#: and an idle server holds one kernel per app.
DEFAULT_POOL = 1
#: Virtual Unos the board server runs per firmware: one per core of a small server.
DEFAULT_BOARDS = 2
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


#: The draw-a-digit app's canvas (the drawing pad puts the class around its <canvas>).
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


def prepare() -> dict:
    """Make what the apps load, so that no visitor's kernel makes it: the draw-a-digit app's
    deep-compressed model (in the workspace; about a minute with TensorFlow the first time,
    then read back in milliseconds), its firmware (in the build cache) and the virtual Uno's
    harness. What ``binder/postBuild`` runs once, and :func:`serve` in a child process before
    Voila starts (so that TensorFlow's memory goes with it). Returns what was made or found.
    """
    from . import data, deep_compressed, deploy, virtual

    # What tinylab.widgets.digit_on_board loads and builds with its defaults (a test checks
    # that the app then finds both ready).
    model = deep_compressed.load_or_compress(data.load("digits", seed=0))
    firmware = deploy.build_firmware(model.mlp, "huffman", "uno")
    return {"model": "read" if model.cached else "made", "firmware": str(firmware.hex_path),
            "harness": str(virtual.harness_path())}


#: :func:`prepare`'s bound when :func:`serve` runs it: making the model on a busy 2-core machine.
PREPARE_TIMEOUT_S = 900


def _prepare_in_child(env: dict, console: bool) -> None:
    """:func:`prepare` in a child Python with ``env``; its output shown (``console``) or kept
    for the error."""
    code = "from tinylab import app; print('apps prepared:', app.prepare())"
    try:
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                              stdin=subprocess.DEVNULL, timeout=PREPARE_TIMEOUT_S,
                              capture_output=not console, text=True)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"preparing the apps (the draw-a-digit app's model and firmware) took "
                           f"more than {PREPARE_TIMEOUT_S} s; run `python -c 'from tinylab import "
                           f"app; app.prepare()'` alone to see where it stops") from None
    if done.returncode != 0:
        raise RuntimeError(f"preparing the apps (the draw-a-digit app's model and firmware) "
                           f"failed with code {done.returncode}:\n{(done.stderr or '')[-4000:]}")


def pools(apps: list, pool=DEFAULT_POOL) -> dict:
    """Preheated kernels per app: ``{"draw_digit.ipynb": 30, ...}`` for the app names ``apps``.

    Parameters
    ----------
    apps : list of str
        The app notebooks' file names (:func:`list_apps`).
    pool : int or dict
        One number for every app, or numbers by app name (with or without ``.ipynb``); an
        app the dict does not name gets :data:`DEFAULT_POOL`. 0 preheats nothing.

    Raises
    ------
    ValueError
        A negative or non-integer size, or a name that is not one of ``apps``.
    """
    named = pool if isinstance(pool, dict) else {name: pool for name in apps}
    sizes = {name: DEFAULT_POOL for name in apps}
    for name, size in named.items():
        full = name if str(name).endswith(".ipynb") else f"{name}.ipynb"
        if full not in sizes:
            raise ValueError(f"no app {name!r} to preheat kernels for: the apps are "
                             f"{', '.join(a.removesuffix('.ipynb') for a in apps)}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"the pool of {full} must be a whole number of kernels >= 0, "
                             f"got {size!r}")
        sizes[full] = size
    return sizes


#: Seconds Voila waits, after a visitor takes a preheated kernel, before it starts the one
#: that replaces it. Voila's default is 1 s: a room of thirty arriving at once then starts
#: thirty kernels while it is still loading its pages. Waiting lets the room's pages, scripts
#: and first drawings through first; a pool sized for the room has kernels for everyone.
FILL_DELAY_S = 30.0


#: The JupyterLab extensions an app's page loads: Voila's widget manager, ipywidgets' controls
#: (sliders and buttons render through it) and anywidget (the drawing pad's canvas). Voila
#: otherwise loads every extension installed beside it: here also the Pygments theme (code
#: highlighting; the apps show no code), on a class's hub whatever else is installed, each a
#: few more static requests for every visitor of a room. An app that uses another widget
#: library adds its extension here (its widgets would show "Error displaying widget").
APP_EXTENSIONS = ("@voila-dashboards/widgets-manager8", "@jupyter-widgets/jupyterlab-manager",
                  "anywidget")


def voila_config(sizes: dict, fill_delay_s: float = FILL_DELAY_S) -> dict:
    """Voila's configuration (``voila.json``): preheated kernels (``sizes`` by app; an app not
    named keeps no pool: Voila's ``default`` entry is 0, not its own 1), the refill's delay,
    the front-end extensions a page loads (:data:`APP_EXTENSIONS`),
    the XSRF setting (see the module's docstring), and kernels that talk over Unix sockets in
    Voila's private folder (``ipc``) instead of TCP ports: jupyter_client picks five free
    ports per kernel and frees them for the kernel to bind, and with thirty kernels starting
    at once another process took one in between (seen in a room benchmark: the kernel died,
    and its pool never filled)."""
    return {"Voila": {"tornado_settings": {"disable_check_xsrf": True}},
            "KernelManager": {"transport": "ipc"},
            "VoilaConfiguration": {"preheat_kernel": any(sizes.values()),
                                   "extension_allowlist": list(APP_EXTENSIONS)},
            "VoilaKernelManager": {"fill_delay": float(fill_delay_s), "kernel_pools_config": {
                "default": {"pool_size": 0},
                **{name: {"pool_size": size} for name, size in sizes.items()}}}}


#: How much lower than Voila's the kernels' CPU priority is (``nice``): when a room arrives
#: and Voila starts a kernel for every preheated one taken, those thirty Python starts must
#: not starve the server's pages, scripts and websockets, nor the board server.
KERNEL_NICENESS = 10


def kernel_spec(niceness: int = KERNEL_NICENESS, python: str = sys.executable) -> dict:
    """The ``python3`` kernelspec Voila's kernels start from under :func:`serve`: this
    Python's ipykernel, run by ``nice`` at ``niceness`` (without ``nice`` on PATH, as is)."""
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    nice = shutil.which("nice")
    if nice and niceness:
        argv = [nice, "-n", str(int(niceness)), *argv]
    return {"argv": argv, "display_name": "Python 3 (TinyLab apps)", "language": "python",
            "metadata": {"debugger": False}}


def voila_command(directory: Path, *, port: int | None = None, ip: str | None = None,
                  port_retries: int | None = None, python: str = sys.executable,
                  config_dir: Path | None = None) -> list[str]:
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
    config_dir : Path, optional
        The only folder Voila reads ``voila.json`` from (:func:`voila_config`: the preheated
        kernels); without it no kernel is preheated and Voila reads its usual folders.
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder of app notebooks")
    command = [python, "-m", "tinylab._voila", str(directory), "--no-browser",
               f"--port={check_port(port if port is not None else DEFAULT_PORT)}",
               "--VoilaConfiguration.strip_sources=True",
               "--VoilaConfiguration.show_tracebacks=False",
               "--VoilaConfiguration.allow_template_override=NO"]
    command += [f"--VoilaConfiguration.file_allowlist={pattern}" for pattern in FILE_ALLOWLIST]
    command += [f"--VoilaConfiguration.file_denylist={pattern}" for pattern in FILE_DENYLIST]
    if config_dir is not None:
        command.append(f"--Voila.config_file_paths={Path(config_dir).resolve()}")
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


def first_free_port(start: int = DEFAULT_PORT, host: str = "127.0.0.1", tries: int = 50) -> int:
    """``start`` if nobody listens on it, else the next free port (as Voila's own retries)."""
    for port in range(start, min(start + tries, 65536)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    return free_port(host)


@dataclass
class Server:
    """A Voila server started by :func:`serve`: ``url`` (no trailing slash) and its process.

    ``pools``: preheated kernels by app; ``boards``: the board server beside it (None when
    every kernel runs its own board).
    """

    url: str
    process: subprocess.Popen
    log_path: Path | None
    pools: dict = field(default_factory=dict)
    boards: object = None

    def log(self) -> str:
        """What Voila printed so far ("" when it prints to the console)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def descendants(self) -> list:
        """The server's live descendant processes (kernels, and what they started), psutil."""
        import psutil

        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def process_nice(self) -> int:
        """Voila's own niceness (its kernels run :data:`KERNEL_NICENESS` below it)."""
        import psutil

        return psutil.Process(self.process.pid).nice()

    def kernels(self) -> list:
        """The server's kernel processes (psutil), idle or busy."""
        import psutil

        found = []
        for process in self.descendants():
            try:
                if "ipykernel" in " ".join(process.cmdline()):
                    found.append(process)
            except psutil.Error:  # ended meanwhile
                continue
        return found

    def wait_preheated(self, timeout_s: float = 300, quiet_s: float = 1.5) -> float:
        """Wait until every app's pool of preheated kernels has run its notebook; seconds taken.

        Voila logs "Kernel pool of draw_digit.ipynb is filled" once the pool's kernels have
        *started*; they have run the notebook when, on top of that, there are as many kernels
        as the pools hold and none has used the CPU (beyond 2%) for ``quiet_s`` seconds.

        Raises
        ------
        RuntimeError
            When Voila has ended, a kernel of a pool died (Voila does not replace it until the
            pool's kernels are handed out, so the pool would never be full), or the pools are
            not ready within ``timeout_s`` (which pools are missing, and the log's end).
        """
        import psutil

        started = time.monotonic()
        waiting = {name for name, size in self.pools.items() if size > 0}
        expected = sum(self.pools.values())
        previous, quiet_since = None, None
        while True:
            log = self.log()
            waiting = {name for name in waiting
                       if not re.search(rf"Kernel pool of {re.escape(name)} is filled", log)}
            kernels = self.kernels() if not waiting else []
            if kernels and len(kernels) >= expected:
                used = {}
                for kernel in kernels:
                    with contextlib.suppress(psutil.Error):
                        times = kernel.cpu_times()
                        used[kernel.pid] = times.user + times.system
                now = time.monotonic()
                if previous is not None and previous[1].keys() == used.keys() and all(
                        used[pid] - previous[1][pid] <= 0.02 * (now - previous[0])
                        for pid in used):
                    quiet_since = quiet_since or previous[0]
                    if now - quiet_since >= quiet_s:
                        return now - started
                else:
                    quiet_since = None
                previous = (now, used)
            if self.process.poll() is not None:
                raise RuntimeError(f"Voila exited with code {self.process.returncode} before "
                                   f"its kernels were preheated:\n{log[-4000:]}")
            died = re.search(r"Kernel (\S+) died, removing from map", log)
            if died:
                raise RuntimeError(f"a preheated kernel ({died[1]}) died while starting, so its "
                                   f"pool will not fill; Voila's log ends:\n{log[-4000:]}")
            if time.monotonic() - started > timeout_s:
                missing = ", ".join(sorted(waiting)) or f"{expected} kernels, running quiet"
                raise RuntimeError(f"the preheated kernels ({missing}) were not ready within "
                                   f"{timeout_s:.0f} s; Voila's log ends:\n{log[-4000:]}")
            time.sleep(0.25)


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
def serve(directory: Path | None = None, *, port: int | None = None, ip: str = "127.0.0.1",
          env: dict | None = None, log_path: Path | None = None, console: bool = False,
          pool=DEFAULT_POOL, boards: int = DEFAULT_BOARDS, prepared: bool | None = None,
          fill_delay_s: float = FILL_DELAY_S, startup_timeout_s: float = 90):
    """Run Voila on the apps folder, with preheated kernels and shared boards; yields a
    :class:`Server`.

    The command :func:`voila_command` builds, on ``port`` (default: a free one, with no
    retries elsewhere) of ``ip``. Waits until the tree page answers (not for the pools:
    :meth:`Server.wait_preheated`), and on leaving stops the server, its kernels and their
    children (:func:`stop`), then the board server.

    Parameters
    ----------
    pool : int or dict
        Preheated kernels per app (:func:`pools`); 0: none, every visitor waits for the
        notebook to run.
    boards : int
        Virtual Unos per firmware in the board server the kernels share
        (:mod:`tinylab.board_server`); 0: no board server, each kernel runs its own.
    fill_delay_s : float
        Seconds before Voila replaces a preheated kernel a visitor took (:data:`FILL_DELAY_S`).
    prepared : bool, optional
        Run :func:`prepare` (in a child process) before Voila starts; default: when the folder
        holds the draw-a-digit app. False leaves the making to the first kernel that needs it.
    env : dict, optional
        Added to the environment of Voila and its kernels (e.g. ``TINYLAB_WORKSPACE``).
    log_path : Path, optional
        Where Voila's output goes (default: a temporary file); with ``console`` it goes to
        this process's own output instead, as ``tinylab app`` shows it.

    Raises
    ------
    RuntimeError
        When Voila exits or does not answer within ``startup_timeout_s`` (its log attached).
    ValueError
        A bad ``pool`` or ``boards``.
    """
    directory = apps_dir() if directory is None else Path(directory)
    sizes = pools(list_apps(directory), pool)
    if isinstance(boards, bool) or not isinstance(boards, int) or boards < 0:
        raise ValueError(f"boards must be a whole number of virtual Unos >= 0, got {boards!r}")
    port = check_port(port) if port is not None else free_port()
    private = Path(tempfile.mkdtemp(prefix="tinylab-voila-"))
    if log_path is None and not console:  # kept after the server stops, for a failed test
        log_path = Path(tempfile.mkstemp(prefix="tinylab-voila-", suffix=".log")[1])
    config_dir = private / "config"
    config_dir.mkdir()
    (config_dir / "voila.json").write_text(json.dumps(voila_config(sizes, fill_delay_s), indent=1))
    # The apps' notebooks name the "python3" kernel: a folder first on JUPYTER_PATH gives
    # Voila that name with a lower priority (kernel_spec).
    share = private / "share"
    (share / "kernels" / "python3").mkdir(parents=True)
    (share / "kernels" / "python3" / "kernel.json").write_text(json.dumps(kernel_spec()))
    jupyter_path = os.pathsep.join(p for p in (str(share), os.environ.get("JUPYTER_PATH")) if p)
    command = voila_command(directory, port=port, ip=ip, port_retries=0, config_dir=config_dir)
    url = f"http://{'127.0.0.1' if ip in ('0.0.0.0', '') else ip}:{port}"
    board_server = process = None
    if prepared is None:
        prepared = "draw_digit.ipynb" in sizes
    try:
        extra = {"JUPYTER_PATH": jupyter_path, **(env or {})}
        if prepared:
            _prepare_in_child(extra, console)
        if boards:
            from . import board_server as _board_server

            board_server = _board_server.start(boards=boards)
            extra.update(board_server.env)
        if console:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                       env={**os.environ, **extra})
        else:
            with open(log_path, "wb") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL,
                                           env={**os.environ, **extra})
        server = Server(url, process, Path(log_path) if log_path else None, sizes, board_server)
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
        if process is not None:
            stop(process)
        if board_server is not None:
            board_server.stop()
        shutil.rmtree(private, ignore_errors=True)
