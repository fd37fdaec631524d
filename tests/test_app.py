"""Tests for tinylab.app and ``tinylab app``: the Voila command that serves only the apps.

Mostly no server is started here (tests/test_apps_browser.py does that, in a browser, and
tests/test_apps_load.py with a room of visitors): these check the argv, the folder it serves,
the preheated pools and the validation of what a user types. One test starts a real Voila
with a preheated kernel and checks that a visitor is given it.
"""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tinylab import app, cli

ROOT = Path(__file__).resolve().parents[1]
SERVER_START_S = 90


@pytest.fixture
def apps(tmp_path):
    directory = tmp_path / "notebooks" / "apps"
    directory.mkdir(parents=True)
    for name in ("draw_digit.ipynb", "compression_explorer.ipynb", ".hidden.ipynb", "notes.md"):
        (directory / name).write_text("{}")
    return directory


def _options(argv):
    return {item.split("=", 1)[0]: item.split("=", 1)[1] for item in argv if "=" in item}


def test_apps_dir_is_notebooks_apps_of_the_checkout(apps):
    assert app.apps_dir(apps.parents[1]) == apps


def test_apps_dir_without_a_checkout_says_where_apps_live(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebooks/apps"):
        app.apps_dir(tmp_path)


def test_list_apps_gives_only_visible_notebooks_sorted(apps):
    assert app.list_apps(apps) == ["compression_explorer.ipynb", "draw_digit.ipynb"]


def test_voila_command_serves_the_apps_folder_and_nothing_else(apps):
    argv = app.voila_command(apps, port=9123, python="/py")
    assert argv[:4] == ["/py", "-m", "tinylab._voila", str(apps.resolve())]  # Voila, static files kept
    # One positional argument only: the apps folder is Voila's root (no notebook path, no
    # parent folder).
    assert [item for item in argv[3:] if not item.startswith("-")] == [str(apps.resolve())]
    assert "--no-browser" in argv
    options = _options(argv)
    assert options["--port"] == "9123"
    assert options["--VoilaConfiguration.strip_sources"] == "True"
    assert options["--VoilaConfiguration.show_tracebacks"] == "False"
    assert options["--VoilaConfiguration.allow_template_override"] == "NO"
    assert "--Voila.ip" not in options and "--Voila.port_retries" not in options
    assert "--allow-root" not in argv  # Voila has no such option (nor a root check)


def test_voila_command_defaults_to_voilas_port_and_passes_ip_and_retries(apps):
    options = _options(app.voila_command(apps, ip="0.0.0.0", port_retries=0))
    assert options["--port"] == str(app.DEFAULT_PORT) == "8866"
    assert options["--Voila.ip"] == "0.0.0.0"
    assert options["--Voila.port_retries"] == "0"


def test_voila_command_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        app.voila_command(tmp_path / "nope")


@pytest.mark.parametrize("path, served", [
    ("logo.png", True), ("figure.SVG", True), ("photo.jpeg", True),
    ("draw_digit.ipynb", False), ("helpers.py", False), ("sub/logo.png", False),
    ("../logo.png", False), (".secret.png", False), ("model.tflite", False),
    ("data.csv", False), ("README.md", False),
])
def test_static_file_rules_serve_only_images_beside_the_apps(path, served):
    import re

    allowed = any(re.fullmatch(p, path, re.I) for p in app.FILE_ALLOWLIST)
    denied = any(re.fullmatch(p, path, re.I) for p in app.FILE_DENYLIST)
    assert (allowed and not denied) == served


def test_voila_reads_the_lists_as_given(apps):
    """Voila's own parser turns the repeated options into the intended lists."""
    argv = app.voila_command(apps, port=9124) + ["--Voila.show_config_json=True"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    import json

    config = json.loads(done.stdout)["VoilaConfiguration"]
    assert config["file_allowlist"] == app.FILE_ALLOWLIST
    assert config["file_denylist"] == app.FILE_DENYLIST


@pytest.mark.parametrize("port", [1, 8866, "8866", 65535])
def test_check_port_accepts_1_to_65535(port):
    assert app.check_port(port) == int(port)


@pytest.mark.parametrize("port", [0, -1, 65536, "abc", "80.5", "", None, "8866x"])
def test_check_port_refuses_anything_else_with_the_range(port):
    with pytest.raises(ValueError, match="1 to 65535"):
        app.check_port(port)


def test_render_path():
    assert app.render_path("draw_digit.ipynb") == "/voila/render/draw_digit.ipynb"


def test_free_port_is_bindable():
    import socket

    port = app.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# --- the command ------------------------------------------------------------------------

class _Served:
    """Stands in for app.serve in the command's tests: records its arguments."""

    def __init__(self):
        self.calls = []

    def __call__(self, directory, **options):
        self.calls.append((directory, options))
        served = self

        class _Context:
            def __enter__(self):
                process = type("P", (), {"wait": lambda self: 0})()
                return type("S", (), {"process": process, "pools": {}, "boards": None})()

            def __exit__(self, *exc):
                served.stopped = True
                return False

        return _Context()


@pytest.fixture
def served(monkeypatch, apps):
    recorder = _Served()
    monkeypatch.setattr(cli, "_checkout", lambda: apps.parents[1])
    monkeypatch.setattr(app, "serve", recorder)
    return recorder


def test_app_command_serves_the_apps_with_pools_and_boards(served, apps, capsys):
    assert cli.main(["app", "--port", "9125", "--ip", "0.0.0.0", "--pool", "draw_digit=30",
                     "--boards", "3"]) == 0
    [(directory, options)] = served.calls
    assert directory == apps
    assert options["port"] == 9125 and options["ip"] == "0.0.0.0"
    assert app.pools(app.list_apps(apps), options["pool"]) == {
        "compression_explorer.ipynb": app.DEFAULT_POOL, "draw_digit.ipynb": 30}
    assert options["boards"] == 3 and options["console"] is True and served.stopped
    out = capsys.readouterr().out
    assert "compression_explorer.ipynb" in out and "9125" in out and "draw_digit 30" in out


def test_app_command_defaults_one_preheated_kernel_per_app_and_shared_boards(served):
    assert cli.main(["app"]) == 0
    [(_, options)] = served.calls
    assert options["pool"] == app.DEFAULT_POOL == 1 and options["boards"] == app.DEFAULT_BOARDS
    assert options["port"] == app.first_free_port(app.DEFAULT_PORT)


def test_app_command_pool_for_every_app_then_one(served, apps):
    cli.main(["app", "--pool", "4", "--pool", "draw_digit=0", "--boards", "0"])
    [(_, options)] = served.calls
    assert app.pools(app.list_apps(apps), options["pool"]) == {
        "compression_explorer.ipynb": 4, "draw_digit.ipynb": 0}
    assert options["boards"] == 0


def test_app_command_names_the_apps_for_an_unknown_pool(served, capsys):
    assert cli.main(["app", "--pool", "draw=3"]) == 2
    assert not served.calls
    err = capsys.readouterr().err
    assert "no app 'draw'" in err and "draw_digit" in err and "compression_explorer" in err


@pytest.mark.parametrize("argv", [["--pool", "-1"], ["--pool", "draw_digit=many"],
                                  ["--boards", "-2"], ["--boards", "two"]])
def test_app_command_refuses_bad_sizes_in_words(served, capsys, argv):
    with pytest.raises(SystemExit) as caught:
        cli.main(["app", *argv])
    assert caught.value.code == 2
    assert "whole number" in capsys.readouterr().err
    assert not served.calls


def test_app_command_without_a_checkout_returns_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_checkout", lambda: tmp_path)
    monkeypatch.setattr(app, "serve", lambda *a, **k: pytest.fail("must not start Voila"))
    assert cli.main(["app"]) == 2
    assert "notebooks/apps" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_app_command_refuses_a_bad_port(monkeypatch, capsys, port):
    monkeypatch.setattr(app, "serve", lambda *a, **k: pytest.fail("must not start Voila"))
    with pytest.raises(SystemExit) as caught:
        cli.main(["app", "--port", port])
    assert caught.value.code == 2
    assert "1 to 65535" in capsys.readouterr().err


def test_first_free_port_skips_a_busy_port():
    import socket

    start = app.free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", start))
        busy.listen()
        assert app.first_free_port(start) != start
    assert app.first_free_port(start) >= start


# --- preheated kernels ------------------------------------------------------------------

def test_pools_one_size_for_every_app_or_by_name(apps):
    names = app.list_apps(apps)
    assert app.pools(names, 3) == {"compression_explorer.ipynb": 3, "draw_digit.ipynb": 3}
    assert app.pools(names, {"draw_digit": 30}) == {
        "compression_explorer.ipynb": app.DEFAULT_POOL, "draw_digit.ipynb": 30}
    assert app.pools(names, {"compression_explorer.ipynb": 0}) == {
        "compression_explorer.ipynb": 0, "draw_digit.ipynb": app.DEFAULT_POOL}


@pytest.mark.parametrize("pool, words", [(-1, "whole number"), (1.5, "whole number"),
                                         (True, "whole number"), ({"lesson_01": 2}, "no app")])
def test_pools_refuse_what_cannot_be_a_pool(apps, pool, words):
    with pytest.raises(ValueError, match=words):
        app.pools(app.list_apps(apps), pool)


def test_voila_config_preheats_the_named_apps_and_no_other(apps, tmp_path):
    config = app.voila_config({"draw_digit.ipynb": 30, "compression_explorer.ipynb": 0},
                              fill_delay_s=12)
    assert config["VoilaConfiguration"]["preheat_kernel"] is True
    assert config["VoilaKernelManager"]["fill_delay"] == 12.0
    assert app.voila_config({"draw_digit.ipynb": 0})["VoilaConfiguration"] == {
        "preheat_kernel": False, "extension_allowlist": list(app.APP_EXTENSIONS)}
    kernels = config["VoilaKernelManager"]["kernel_pools_config"]
    # Voila's own default pool is 1 for an app not named: TinyLab's is 0.
    assert kernels["default"] == {"pool_size": 0}
    assert kernels["draw_digit.ipynb"] == {"pool_size": 30}
    argv = app.voila_command(apps, config_dir=tmp_path)
    assert _options(argv)["--Voila.config_file_paths"] == str(tmp_path.resolve())
    assert "--Voila.config_file_paths" not in _options(app.voila_command(apps))


def test_kernel_spec_runs_this_pythons_ipykernel_below_voilas_priority():
    spec = app.kernel_spec(niceness=7, python="/py")
    assert spec["argv"][-5:] == ["/py", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["argv"][:3] == [shutil.which("nice"), "-n", "7"] and spec["language"] == "python"
    assert app.kernel_spec(niceness=0, python="/py")["argv"][0] == "/py"


def page_kernel_id(page: str) -> str:
    """The kernel id Voila writes into the page's configuration."""
    import re

    return re.search(r'"kernelId": "([0-9a-f-]{36})"', page)[1]


def test_a_visitor_is_given_the_preheated_kernel(tmp_path):
    """A real Voila on a one-cell app with a pool of 1: the page comes from the kernel that
    ran the notebook before the visit (its pid is on the page), and Voila starts another."""
    import urllib.request

    (tmp_path / "pid.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                   "outputs": [], "source": "import os, time\nprint('kernel', os.getpid(), "
                                            "round(time.time(), 1))"}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    with app.serve(tmp_path, pool=1, boards=0, fill_delay_s=0.5,
                   startup_timeout_s=SERVER_START_S) as server:
        server.wait_preheated(timeout_s=SERVER_START_S)
        [ready] = server.kernels()
        # Started from TinyLab's kernelspec: below Voila's priority, so that a room's kernel
        # starts cannot starve the server.
        assert ready.nice() == server.process_nice() + app.KERNEL_NICENESS
        # Its channels are Unix sockets in Voila's private folder, not TCP ports that a room's
        # thirty kernel starts could collide on.
        connection = json.loads(Path(ready.cmdline()[-1]).read_text())
        assert connection["transport"] == "ipc" and "voila_" in connection["ip"]
        with urllib.request.urlopen(server.url + app.render_path("pid.ipynb"),
                                    timeout=SERVER_START_S) as response:
            page = response.read().decode()
        assert f"kernel {ready.pid} " in page
        assert "Using pre-heated kernel" in server.log()
        server.wait_preheated(timeout_s=SERVER_START_S)  # the pool is filled again
        assert len(server.kernels()) == 2
        # Leaving, the page asks Voila to shut its kernel down, with no _xsrf (Voila's page
        # never sets the cookie): accepted, and the kernel is gone.
        request = urllib.request.Request(
            f"{server.url}/voila/api/shutdown/{page_kernel_id(page)}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status in (200, 204)
        deadline = time.monotonic() + 30
        while ready.is_running() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not ready.is_running() and len(server.kernels()) == 1


def test_the_checkout_has_an_apps_folder():
    assert app.apps_dir() == ROOT / "notebooks" / "apps"


def test_make_app_runs_tinylab_app():
    makefile = (ROOT / "Makefile").read_text()
    assert "\napp: setup\n\t$(BIN)/tinylab app\n" in makefile


def test_readme_binder_badges_open_the_welcome_lesson_and_every_app():
    # each mybinder link's urlpath names a file of the repository (lab/tree/PATH or
    # voila/render/PATH), and every app has its badge
    import re
    from urllib.parse import unquote

    readme = (ROOT / "README.md").read_text()
    urlpaths = [unquote(u) for u in re.findall(r"https://mybinder\.org/v2/gh/[^)\s]*?\?urlpath=([^)\s&]+)", readme)]
    targets = {}
    for urlpath in urlpaths:
        kind, _, path = urlpath.partition("/")
        prefix = {"lab": "tree/", "voila": "render/"}.get(kind)
        assert prefix and path.startswith(prefix), f"unexpected Binder urlpath {urlpath!r}"
        target = path[len(prefix):]
        assert (ROOT / target).is_file(), f"the README's Binder badge opens {target}, which is missing"
        targets.setdefault(kind, []).append(target)
    assert targets.get("lab") == ["notebooks/00_welcome.ipynb"]
    assert sorted(targets.get("voila", [])) == [f"notebooks/apps/{name}"
                                                for name in app.list_apps(ROOT / "notebooks" / "apps")]


def test_voila_keeps_its_static_files_and_sends_them_compressed(tmp_path):
    """tinylab._voila: a static file's second request is answered from memory with what the
    first sent; gzip when the browser accepts it; a part or a revalidation by Voila itself."""
    import gzip
    import urllib.error
    import urllib.request

    def get(path, **headers):
        request = urllib.request.Request(server.url.rstrip("/") + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), b""

    (tmp_path / "empty.ipynb").write_text(json.dumps({
        "cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with app.serve(tmp_path, pool=0, boards=0, startup_timeout_s=SERVER_START_S) as server:
        page = get(app.render_path("empty.ipynb"))[2].decode()
        script = "/voila/static/voila.js"
        assert script in page
        first = get(script)
        assert first[0] == 200 and len(first[2]) > 10_000
        second = get(script)
        assert second[0] == 200 and second[2] == first[2]
        for name in ("Etag", "Content-Type", "Last-Modified"):
            assert second[1][name] == first[1][name], name
        assert "Content-Encoding" not in second[1]
        # Compressed: only the kept answer is (Voila's handler never compresses).
        packed = get(script, **{"Accept-Encoding": "gzip, deflate"})
        assert packed[1]["Content-Encoding"] == "gzip" and packed[1]["Vary"] == "Accept-Encoding"
        assert gzip.decompress(packed[2]) == first[2] and len(packed[2]) < len(first[2]) / 2
        assert packed[1]["Etag"] != first[1]["Etag"]  # another representation, another tag
        part = get(script, Range="bytes=10-19")
        assert part[0] == 206 and part[2] == first[2][10:20]
        again = get(script, **{"If-None-Match": first[1]["Etag"]})
        assert again[0] == 304
        for _ in range(2):  # a missing file stays missing (only a 200 is kept)
            assert get("/voila/static/no-such-file.js")[0] in (403, 404)
        for escape in ("/voila/static/..%2F..%2F..%2Fetc%2Fpasswd",
                       "/voila/labextensions/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd"):
            status, _, body = get(escape)
            assert status in (403, 404) and b"root:" not in body, escape


def test_the_extensions_an_app_page_loads_are_installed():
    """A name in APP_EXTENSIONS that is not installed would leave its widgets unrendered."""
    from voila.utils import get_voila_labextensions_path

    installed = {package.parent.relative_to(root).as_posix()
                 for root in map(Path, get_voila_labextensions_path()) if root.is_dir()
                 for package in [*root.glob("*/package.json"), *root.glob("@*/*/package.json")]}
    for name in app.APP_EXTENSIONS:
        assert name in installed, f"{name} is not among the installed extensions {installed}"


def test_a_visitor_after_the_pool_is_taken_does_not_wait_for_the_refill(tmp_path):
    """The refill waits fill_delay (30 s for a room); a second visitor meanwhile gets a
    kernel started for them (Voila's fallback), not the refill's 30 s."""
    import urllib.request

    (tmp_path / "pid.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                   "outputs": [], "source": "import os\nprint('kernel', os.getpid())"}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    fill_delay_s = 60
    with app.serve(tmp_path, pool=1, boards=0, fill_delay_s=fill_delay_s,
                   startup_timeout_s=SERVER_START_S) as server:
        server.wait_preheated(timeout_s=SERVER_START_S)
        pages = []
        for _ in range(2):
            started = time.monotonic()
            with urllib.request.urlopen(server.url + app.render_path("pid.ipynb"),
                                        timeout=SERVER_START_S) as response:
                pages.append(response.read().decode())
            seconds = time.monotonic() - started
        assert all("kernel " in page for page in pages)
        assert page_kernel_id(pages[0]) != page_kernel_id(pages[1])
        assert server.log().count("Using pre-heated kernel") == 1
        assert seconds < fill_delay_s / 2, f"the second visitor waited {seconds:.0f} s"
        assert len(server.kernels()) == 2  # the refill has not started yet
