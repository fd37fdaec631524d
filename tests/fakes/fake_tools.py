"""Fake ``arduino-cli`` and ``avrdude`` for tests/test_flash.py: no board, same words.

The executables in ``tests/fakes/bin`` call :func:`main`. They append their arguments to the
JSON-lines file ``$TINYLAB_FAKE_LOG`` and answer like the real tools, whose output is copied
here: avrdude 7.1 (Debian 12; captured against a pty speaking STK500), avrdude 6.3 as bundled
with arduino-cli's AVR core, bossac as run by arduino-cli for the Nano 33 BLE, and
``arduino-cli board list --format json`` in its three shapes (arduino-cli docs/UPGRADING.md,
0.19.0 and 0.36.0).

Environment:
  TINYLAB_FAKE_SCENARIO   ok (default), permission, busy, no-port, not-in-sync, wrong-chip,
                          no-core, hang
  TINYLAB_FAKE_DETECTED   ports arduino-cli detects: "ADDRESS=BOARD,...", BOARD one of uno,
                          nano33ble, "" (unknown); default "/dev/ttyACM0=uno,/dev/ttyS0="
  TINYLAB_FAKE_CLI_VERSION  1.1.1 (default; {"detected_ports": [...]}), 0.35.3 (bare list),
                          0.18.3 (the pre-0.19 list)
A port that does not exist as a file gets the tools' real "No such file or directory" answer.
"""

import json
import math
import os
import sys
import time

BOARDS = {
    "uno": {"name": "Arduino Uno", "fqbn": "arduino:avr:uno", "vid": "0x2341", "pid": "0x0043",
            "serial": "954323132383515092E1"},
    "nano33ble": {"name": "Arduino Nano 33 BLE", "fqbn": "arduino:mbed_nano:nano33ble",
                  "vid": "0x2341", "pid": "0x805A", "serial": "4A5B3C2D1E0F9A8B"},
}


def _log(tool, argv):
    path = os.environ.get("TINYLAB_FAKE_LOG")
    if path:
        with open(path, "a") as log:
            log.write(json.dumps({"tool": tool, "argv": argv}) + "\n")


def _option(argv, *names):
    for i, word in enumerate(argv):
        for name in names:
            if word == name and i + 1 < len(argv):
                return argv[i + 1]
            short = name.startswith("-") and not name.startswith("--")
            if short and word.startswith(name) and len(word) > len(name):
                return word[len(name):]          # avrdude style: -P/dev/ttyACM0
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def _hex_bytes(path):
    """Data bytes in an Intel HEX file (records of type 00)."""
    total = 0
    with open(path) as text:
        for line in text:
            line = line.strip()
            if line.startswith(":") and len(line) >= 11 and line[7:9] == "00":
                total += int(line[1:3], 16)
    return total


# ------------------------------------------------------------------------------ avrdude 7.1

def _avrdude71_fail(lines):
    sys.stderr.write("\n".join(lines) + "\n\navrdude done.  Thank you.\n\n")
    return 1


def avrdude(argv):
    scenario = os.environ.get("TINYLAB_FAKE_SCENARIO", "ok")
    port = _option(argv, "-P")
    programmer = _option(argv, "-c")
    memory = _option(argv, "-U") or ""
    hex_path = memory.split(":")[2] if memory.count(":") >= 2 else ""
    if not os.path.isfile(hex_path):
        return _avrdude71_fail([f"avrdude OS error: file {hex_path} is not readable: "
                                f"No such file or directory"])
    cannot_open = {"permission": "Permission denied", "busy": "Device or resource busy"}
    if scenario in cannot_open or not os.path.exists(port or ""):
        why = cannot_open.get(scenario, "No such file or directory")
        return _avrdude71_fail([f"avrdude OS error: cannot open port {port}: {why}",
                                f"avrdude error: unable to open programmer {programmer} on port {port}"])
    if scenario == "hang":
        time.sleep(3600)
    if scenario == "not-in-sync":
        lines = []
        for attempt in range(1, 11):
            lines += ["avrdude error: programmer is not responding",
                      f"avrdude warning: attempt {attempt} of 10: not in sync: resp=0x00"]
        lines.append(f"avrdude error: unable to open programmer {programmer} on port {port}")
        return _avrdude71_fail(lines)
    if scenario == "wrong-chip":
        sys.stderr.write("\navrdude: AVR device initialized and ready to accept instructions\n"
                         "avrdude: device signature = 0x1e9406 (probably m168)\n"
                         "avrdude error: expected signature for ATmega328P is 1E 95 0F\n"
                         "        double check chip or use -F to override this check\n"
                         "\navrdude done.  Thank you.\n\n")
        return 1
    size = _hex_bytes(hex_path)
    pages = math.ceil(size / 128)
    sys.stderr.write(
        "\navrdude: AVR device initialized and ready to accept instructions\n"
        "avrdude: device signature = 0x1e950f (probably m328p)\n"
        f"avrdude: reading input file {hex_path} for flash\n"
        f"         with {size} bytes in 1 section within [0, {size - 1:#x}]\n"
        f"         using {pages} pages and {pages * 128 - size} pad bytes\n"
        f"avrdude: writing {size} bytes flash ...\n\n"
        "Writing | ################################################## | 100% 0.15s\n\n"
        f"avrdude: {size} bytes of flash written\n"
        f"avrdude: verifying flash memory against {hex_path}\n\n"
        "Reading | ################################################## | 100% 0.12s\n\n"
        f"avrdude: {size} bytes of flash verified\n\n"
        "avrdude done.  Thank you.\n\n")
    return 0


# ------------------------------------------------------------------------------ arduino-cli

def _detected():
    spec = os.environ.get("TINYLAB_FAKE_DETECTED", "/dev/ttyACM0=uno,/dev/ttyS0=")
    return [tuple(item.split("=", 1)) for item in spec.split(",") if item]


def _board_list(version):
    ports = []
    for address, board_id in _detected():
        board = BOARDS.get(board_id)
        if version.startswith("0.18"):
            item = {"address": address, "protocol": "serial",
                    "protocol_label": "Serial Port (USB)" if board else "Serial Port"}
            if board:
                item["boards"] = [{"name": board["name"], "fqbn": board["fqbn"],
                                   "vid": board["vid"], "pid": board["pid"]}]
                item["serial_number"] = board["serial"]
            ports.append(item)
            continue
        port = {"address": address, "label": address, "protocol": "serial",
                "protocol_label": "Serial Port (USB)" if board else "Serial Port"}
        item = {}
        if board:
            item["matching_boards"] = [{"name": board["name"], "fqbn": board["fqbn"]}]
            port["properties"] = {"pid": board["pid"], "serialNumber": board["serial"],
                                  "vid": board["vid"]}
            if not version.startswith("0."):
                port["hardware_id"] = board["serial"]
        item["port"] = port
        ports.append(item)
    if version.startswith("0."):
        return ports
    return {"detected_ports": ports}


def _avrdude63_upload(port, hex_path, scenario):
    """What arduino-cli prints while its bundled avrdude 6.3 uploads (not verbose, no verify)."""
    cannot_open = {"permission": "Permission denied", "busy": "Device or resource busy"}
    if scenario in cannot_open or not os.path.exists(port):
        why = cannot_open.get(scenario, "No such file or directory")
        return f'avrdude: ser_open(): can\'t open device "{port}": {why}\n', 1
    if scenario == "not-in-sync":
        said = "".join("avrdude: stk500_recv(): programmer is not responding\n"
                       f"avrdude: stk500_getsync() attempt {attempt} of 10: not in sync: resp=0x00\n"
                       for attempt in range(1, 11))
        return said, 1
    size = _hex_bytes(hex_path)
    return ("\navrdude: AVR device initialized and ready to accept instructions\n\n"
            "Reading | ################################################## | 100% 0.00s\n\n"
            "avrdude: Device signature = 0x1e950f (probably m328p)\n"
            f'avrdude: reading input file "{hex_path}"\n'
            f"avrdude: writing flash ({size} bytes):\n\n"
            "Writing | ################################################## | 100% 0.15s\n\n"
            f"avrdude: {size} bytes of flash written\n\n"
            "avrdude done.  Thank you.\n\n"), 0


def _bossac_upload(port, bin_path, scenario):
    """What arduino-cli prints while bossac uploads to a Nano 33 BLE (not verbose)."""
    if scenario == "not-in-sync" or not os.path.exists(port):
        return f"No device found on {os.path.basename(port)}\n", 1
    size = os.path.getsize(bin_path)
    pages = math.ceil(size / 4096)
    return ("Device       : nRF52840-QIAA\n"
            "Version      : Arduino Bootloader (SAM-BA extended) 2.0 [Arduino:IKXYZ]\n"
            "Address      : 0x0\nPages        : 256\nPage Size    : 4096 bytes\n"
            "Total Size   : 1024KB\nPlanes       : 1\nLock Regions : 0\nLocked       : none\n"
            "Security     : false\nErase flash\n\nDone in 0.001 seconds\n"
            f"Write {size} bytes to flash ({pages} pages)\n"
            f"[==============================] 100% ({pages}/{pages} pages)\n"
            "Done in 3.528 seconds\n"), 0


def arduino_cli(argv):
    version = os.environ.get("TINYLAB_FAKE_CLI_VERSION", "1.1.1")
    scenario = os.environ.get("TINYLAB_FAKE_SCENARIO", "ok")
    if argv[:1] == ["version"] or "--version" in argv:
        print(f"arduino-cli  Version: {version} Commit: fa6eafcb Date: 2024-11-22T09:31:36Z")
        return 0
    if argv[:2] == ["board", "list"]:
        if scenario == "hang":
            time.sleep(3600)
        print(json.dumps(_board_list(version), indent=2))
        return 0
    if argv[:1] != ["upload"]:
        sys.stderr.write(f"fake arduino-cli: command not faked: {argv}\n")
        return 1
    fqbn = _option(argv, "--fqbn", "-b")
    port = _option(argv, "--port", "-p")
    input_dir = _option(argv, "--input-dir")
    input_file = _option(argv, "--input-file", "-i")
    prefix = "Error during Upload: " if version.startswith("0.") else ""
    if not fqbn:
        sys.stderr.write("Error during Upload: Missing FQBN (Fully Qualified Board Name)\n")
        return 1
    if not port:
        sys.stderr.write("Error during Upload: Missing port\n")
        return 1
    platform = ":".join(fqbn.split(":")[:2])
    if scenario == "no-core":
        sys.stderr.write(f"Error during Upload: Platform '{platform}' not found: "
                         f"platform not installed\nTry running `arduino-cli core install {platform}`\n")
        return 1
    if scenario == "hang":
        time.sleep(3600)
    folder = input_dir or os.path.dirname(input_file or "")
    avr = fqbn.split(":")[1] == "avr"
    wanted = ".hex" if avr else ".bin"
    if input_file:
        candidates = [input_file]
    else:
        candidates = sorted(os.path.join(folder, name) for name in os.listdir(folder)
                            if name.endswith(".ino" + wanted)) if os.path.isdir(folder) else []
    if len(candidates) != 1 or not os.path.isfile(candidates[0]):
        sys.stderr.write(f"{prefix}Can't open sketch: no valid sketch found in {folder}: missing "
                         f"{wanted} file\n")
        return 1
    said, failed = (_avrdude63_upload if avr else _bossac_upload)(port, candidates[0], scenario)
    sys.stderr.write(said)
    if failed:
        sys.stderr.write(f"{prefix}Failed uploading: uploading error: exit status 1\n")
        return 1
    print(f"New upload port: {port} (serial)")
    return 0


def main(tool):
    argv = sys.argv[1:]
    _log(tool, argv)
    sys.exit({"avrdude": avrdude, "arduino-cli": arduino_cli}[tool](argv))
