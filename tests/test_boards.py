import json

import pytest

import tinylab as tl


def test_every_profile_has_its_numbers_and_a_source_for_each():
    assert {"uno", "nano33ble"} <= set(tl.boards.available())
    for board_id in tl.boards.available():
        profile = tl.boards.load(board_id)
        for key in ("clock_hz", "flash_usable_bytes", "ram_bytes"):
            assert profile[key] > 0
            assert profile["sources"].get(key), f"{board_id}: {key} has no source"
        assert profile["flash_usable_bytes"] <= profile.get("flash_bytes", profile["flash_usable_bytes"])


def test_uno_profile_agrees_with_the_installed_arduino_core():
    boards_txt = tl.doctor.TOOLCHAIN[1][2]  # the Arduino AVR core's boards.txt
    from pathlib import Path

    if not Path(boards_txt).is_file():
        pytest.fail(f"{boards_txt} missing: {tl.doctor.apt_install_line(['arduino-core-avr'])}")
    values = dict(line.split("=", 1) for line in Path(boards_txt).read_text().splitlines()
                  if line.startswith("uno.") and "=" in line)
    uno = tl.boards.load("uno")
    assert int(values["uno.upload.maximum_size"]) == uno["flash_usable_bytes"]
    assert int(values["uno.upload.maximum_data_size"]) == uno["ram_bytes"]
    assert int(values["uno.build.f_cpu"].rstrip("L")) == uno["clock_hz"]
    # the USB ids tinylab.serial.ports names an Uno by (clones' chips aside)
    core = {(int(values[f"uno.vid.{i}"], 16), int(values[f"uno.pid.{i}"], 16))
            for i in range(16) if f"uno.vid.{i}" in values}
    ours = {(int(e["vid"], 16), int(e["pid"], 16)) for e in uno["usb_ids"] if not e.get("clone")}
    assert ours == core


def test_fits_by_hand():
    uno = tl.boards.load("uno")
    exact = tl.boards.fits("uno", uno["flash_usable_bytes"], uno["ram_bytes"])
    assert exact["fits"] and exact["flash_share"] == 1.0 and exact["ram_share"] == 1.0
    assert not tl.boards.fits("uno", uno["flash_usable_bytes"] + 1)["fits"]
    assert not tl.boards.fits("uno", 100, uno["ram_bytes"] + 1)["fits"]
    assert tl.boards.fits("nano33ble", 202_440)["fits"]


def test_unknown_board_and_bad_sizes():
    with pytest.raises(ValueError, match="uno"):
        tl.boards.load("esp32")
    with pytest.raises(ValueError, match=">= 0"):
        tl.boards.fits("uno", -1)


def test_profile_missing_a_key_is_reported(tmp_path, monkeypatch):
    (tmp_path / "broken.json").write_text(json.dumps({"id": "broken", "name": "x"}))
    monkeypatch.setattr(tl.boards, "BOARDS_DIR", tmp_path)
    with pytest.raises(ValueError, match="lacks"):
        tl.boards.load("broken")
