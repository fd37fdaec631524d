"""Tests for tinylab.app and ``tinylab app``: the Voila command that serves only the apps.

No server is started here (tests/test_apps_browser.py does that, in a browser): these check
the argv, the folder it serves and the validation of what a user types.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tinylab import app, cli

ROOT = Path(__file__).resolve().parents[1]


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
    assert argv[:4] == ["/py", "-m", "voila", str(apps.resolve())]
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

def test_app_command_execs_voila_on_the_apps(monkeypatch, apps, capsys):
    started = []
    monkeypatch.setattr(cli, "_checkout", lambda: apps.parents[1])
    monkeypatch.setattr(cli.os, "execv", lambda program, argv: started.append((program, argv)))
    cli.main(["app", "--port", "9125", "--ip", "0.0.0.0"])
    [(program, argv)] = started
    assert program == sys.executable
    assert argv == app.voila_command(apps, port=9125, ip="0.0.0.0")
    out = capsys.readouterr().out
    assert "compression_explorer.ipynb" in out and "9125" in out


def test_app_command_as_root_passes_no_allow_root(monkeypatch, apps):
    started = []
    monkeypatch.setattr(cli, "_checkout", lambda: apps.parents[1])
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0, raising=False)
    monkeypatch.setattr(cli.os, "execv", lambda program, argv: started.append(argv))
    cli.main(["app"])
    assert "--allow-root" not in started[0]
    assert _options(started[0])["--port"] == "8866"


def test_app_command_without_a_checkout_returns_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_checkout", lambda: tmp_path)
    monkeypatch.setattr(cli.os, "execv", lambda *args: pytest.fail("must not start Voila"))
    assert cli.main(["app"]) == 2
    assert "notebooks/apps" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_app_command_refuses_a_bad_port(monkeypatch, capsys, port):
    monkeypatch.setattr(cli.os, "execv", lambda *args: pytest.fail("must not start Voila"))
    with pytest.raises(SystemExit) as caught:
        cli.main(["app", "--port", port])
    assert caught.value.code == 2
    assert "1 to 65535" in capsys.readouterr().err


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
