"""Tests for tinylab.doctor: the environment report, missing toolchains and their fixes, boards.

No USB board is attached here, so pyserial's port listing is replaced by fake ports.
"""

import html
import importlib.metadata as metadata
import json
import os
import stat
from dataclasses import asdict
from types import SimpleNamespace

import pytest

from tinylab import doctor


def test_report_is_json_serializable_and_complete():
    rep = doctor.report()
    again = json.loads(json.dumps(rep))
    assert again == rep
    assert set(rep) >= {"tinylab", "platform", "ok", "checks", "serial_ports",
                        "install_missing_toolchain"}
    assert rep["ok"] == all(c["ok"] for c in rep["checks"] if c["required"])
    # the CPU, for comparing float results with someone else's (docs/reproducibility.md)
    from tinylab import machine
    assert rep["cpu"] == machine.summary() and machine.cpu_model() in rep["cpu"]
    assert f"CPU: {rep['cpu']}" in doctor.to_text(rep)


def test_every_package_appears_as_a_check():
    checks = {c["name"]: c for c in doctor.report()["checks"]}
    for distribution, purpose in doctor.PACKAGES:
        assert distribution in checks, distribution
        assert checks[distribution]["category"] == "package"
        assert checks[distribution]["detail"] == purpose
    for name, *_ in doctor.TOOLCHAIN:
        assert checks[name]["category"] == "toolchain"
    assert checks["Python"]["category"] == "python"


def test_missing_package_fix_is_the_declared_requirement(monkeypatch):
    real_version = metadata.version

    def version(distribution):
        if distribution == "tensorflow":
            raise metadata.PackageNotFoundError(distribution)
        return real_version(distribution)

    monkeypatch.setattr(doctor.metadata, "version", version)
    checks = {c.name: c for c in doctor.check_packages()}
    assert not checks["tensorflow"].ok and checks["tensorflow"].version is None
    declared = [r for r in (metadata.requires("tinylab") or []) if r.startswith("tensorflow")]
    wanted = declared[0].split(";")[0].strip() if declared else "tensorflow"
    assert f"pip install '{wanted}'" in checks["tensorflow"].fix
    assert checks["numpy"].ok and checks["numpy"].fix is None


def _toolchain_pointing_at(folder):
    """TOOLCHAIN with every absolute path moved into a folder that does not exist."""
    return [(name, package, str(folder / os.path.basename(locate)) if locate.startswith("/") else locate,
             purpose, required)
            for name, package, locate, purpose, required in doctor.TOOLCHAIN]


def _fake_tool(bin_dir, name, output):
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\necho '{output}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_nothing_installed_every_tool_fails_with_its_apt_line(tmp_path, monkeypatch):
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setattr(doctor, "TOOLCHAIN", _toolchain_pointing_at(tmp_path / "absent"))

    checks = doctor.check_toolchain()
    assert [c.name for c in checks] == [name for name, *_ in doctor.TOOLCHAIN] + ["arduino-cli"]
    for check, (_, package, *_rest) in zip(checks, doctor.TOOLCHAIN):
        assert not check.ok, check.name
        assert check.category == "toolchain"
        assert "apt-get install" in check.fix and check.fix.endswith(" " + package), check.fix
    cli = checks[-1]
    assert not cli.ok and not cli.required and cli.fix == doctor.ARDUINO_CLI_FIX

    rep = doctor.report()
    assert rep["ok"] is False
    assert rep["install_missing_toolchain"] == "sudo apt-get install -y " + " ".join(doctor.APT_PACKAGES)


def test_install_line_lists_exactly_the_missing_packages(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "avr-gcc", "avr-gcc (GCC) 7.3.0")
    _fake_tool(bin_dir, "arduino-builder", "Arduino Builder 1.3.25")
    monkeypatch.setenv("PATH", str(bin_dir))
    moved = _toolchain_pointing_at(tmp_path / "absent")
    # Keep one absolute-path tool present.
    (tmp_path / "present").mkdir()
    (tmp_path / "present" / "io.h").write_text("/* fake avr-libc header */\n")
    moved = [(n, p, str(tmp_path / "present" / "io.h") if p == "avr-libc" else loc, pur, req)
             for n, p, loc, pur, req in moved]
    monkeypatch.setattr(doctor, "TOOLCHAIN", moved)

    checks = {c.name: c for c in doctor.check_toolchain()}
    assert checks["avr-gcc"].ok and checks["avr-gcc"].version == "7.3.0"
    assert checks["avr-gcc"].fix is None
    assert str(bin_dir / "avr-gcc") in checks["avr-gcc"].detail
    assert checks["arduino-builder"].ok and checks["arduino-builder"].version == "1.3.25"
    assert checks["avr-libc"].ok

    missing = [p for p in doctor.APT_PACKAGES if p not in ("gcc-avr", "arduino-builder", "avr-libc")]
    rep = doctor.report()
    assert rep["install_missing_toolchain"] == doctor.apt_install_line(missing)
    assert rep["install_missing_toolchain"] == "sudo apt-get install -y " + " ".join(missing)


def test_all_tools_present_means_no_install_line(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    present = tmp_path / "present"
    present.mkdir()
    toolchain = []
    for name, package, locate, purpose, required in doctor.TOOLCHAIN:
        if locate.startswith("/"):
            locate = str(present / os.path.basename(locate))
            (present / os.path.basename(locate)).write_text("")
        else:
            _fake_tool(bin_dir, locate, f"{locate} 1.0")
        toolchain.append((name, package, locate, purpose, required))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(doctor, "TOOLCHAIN", toolchain)
    rep = doctor.report()
    assert rep["install_missing_toolchain"] is None
    assert all(c["ok"] for c in rep["checks"] if c["category"] == "toolchain" and c["required"])


def test_text_and_html_show_the_fix_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(doctor, "TOOLCHAIN", _toolchain_pointing_at(tmp_path / "absent"))
    rep = doctor.report()
    text, page = doctor.to_text(rep), doctor.to_html(rep)
    for check in rep["checks"]:
        if check["fix"] and not check["ok"]:
            assert f"fix: {check['fix']}" in text
            assert f"<code>{html.escape(check['fix'])}</code>" in page
    assert "sudo apt-get install -y simavr" in text
    assert rep["install_missing_toolchain"] in text
    assert "Something required is missing" in text
    assert "missing" in page


def test_html_escapes_names_details_and_fixes():
    rep = {"tinylab": "0", "platform": "test", "ok": False, "install_missing_toolchain": None,
           "checks": [{"name": "<pkg>", "category": "package", "ok": False, "version": None,
                       "detail": "a & b", "fix": "pip install 'tensorflow>=2.21,<2.22'",
                       "required": True}]}
    page = doctor.to_html(rep)
    assert "&lt;pkg&gt;" in page and "a &amp; b" in page
    assert "tensorflow&gt;=2.21,&lt;2.22" in page
    assert "<2.22" not in page and "<pkg>" not in page
    assert "fix: pip install 'tensorflow>=2.21,<2.22'" in doctor.to_text(rep)


def test_text_marks_ok_missing_and_optional():
    rep = {"tinylab": "0", "platform": "test", "ok": True, "install_missing_toolchain": None,
           "checks": [
               {"name": "numpy", "category": "package", "ok": True, "version": "2.0",
                "detail": "", "fix": None, "required": True},
               {"name": "boards", "category": "board", "ok": False, "version": None,
                "detail": "none", "fix": "plug one in", "required": False}]}
    lines = doctor.to_text(rep).splitlines()
    assert any(line.strip().startswith("ok  numpy") for line in lines)
    assert any(line.strip().startswith("--  boards") for line in lines)
    assert "Everything required is here." in lines


# --------------------------------------------------------------------------- serial ports / boards


def _port(device, vid, pid, description="USB serial"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description)


@pytest.fixture
def fake_ports(monkeypatch):
    from serial.tools import list_ports

    ports = []
    monkeypatch.setattr(list_ports, "comports", lambda *args, **kwargs: list(ports))
    return ports


def test_report_names_a_plugged_in_board(fake_ports):
    fake_ports.append(_port("/dev/ttyACM0", 0x2341, 0x805A))
    rep = doctor.report()
    board = [c for c in rep["checks"] if c["category"] == "board"][0]
    assert board["ok"] and "Arduino Nano 33 BLE (Sense) on /dev/ttyACM0" in board["detail"]
    assert rep["serial_ports"][0]["usb_name"] == "Arduino Nano 33 BLE (Sense)"
    assert rep["serial_ports"][0]["board_id"] == "nano33ble"


def test_no_board_is_optional_and_lists_other_ports(fake_ports):
    fake_ports.append(_port("/dev/ttyS0", None, None))
    rep = doctor.report()
    board = [c for c in rep["checks"] if c["category"] == "board"][0]
    assert not board["ok"] and not board["required"]
    assert "virtual Uno" in board["detail"] and "/dev/ttyS0" in board["detail"]
    assert "dialout" in board["fix"]


# --------------------------------------------------------------------------- datasets


def test_report_finds_basicmotions_inside_sktime():
    check = [c for c in doctor.report()["checks"] if c["name"] == "BasicMotions"][0]
    assert check["category"] == "dataset" and check["ok"] and not check["required"]
    assert check["detail"].startswith("80 recordings in ") and "BasicMotions" in check["detail"]


def test_missing_sktime_names_the_install_fix(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "sktime" else real_find_spec(name, *args))
    check = doctor._basicmotions_check()
    assert not check.ok and not check.required and "sktime" in check.detail
    assert "pip install sktime" in check.fix and "make lab" in check.fix
    assert f"fix: {check.fix}" in doctor.to_text({"tinylab": "0", "platform": "test", "ok": True,
                                                  "install_missing_toolchain": None,
                                                  "checks": [asdict(check)]})


# --------------------------------------------------------------------------- the Nano's core


def test_the_nano_core_check_names_the_core_and_the_imu_libraries(tmp_path, monkeypatch):
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    check = doctor.check_nano_core()        # no arduino-cli at all: install it, then the core
    assert not check.ok and not check.required and check.category == "toolchain"
    assert "arduino-cli core install arduino:mbed_nano" in check.fix
    assert "arduino-cli lib install Arduino_BMI270_BMM150" in check.fix
    assert "arduino-cli lib install Arduino_LSM9DS1" in check.fix
    assert check.fix.startswith(doctor.ARDUINO_CLI_FIX)
    assert any(c["name"] == "Nano 33 BLE core" for c in doctor.report()["checks"])

    bin_dir = tmp_path / "bin"             # arduino-cli without the core
    _fake_tool(bin_dir, "arduino-cli", "arduino:avr 1.8.6  1.8.6  Arduino AVR Boards")
    monkeypatch.setenv("PATH", str(bin_dir))
    check = doctor.check_nano_core()
    assert not check.ok and check.fix == doctor.NANO_CORE_FIX and "not installed" in check.detail

    _fake_tool(bin_dir, "arduino-cli", "arduino:mbed_nano 4.1.5  4.1.5  Arduino Mbed OS Nano Boards")
    check = doctor.check_nano_core()
    assert check.ok and check.version == "4.1.5" and check.fix is None
