"""The real upload path without a physical board: avrdude over a pty into the Uno's Optiboot.

The virtual Uno in bootloader mode (``VirtualUno(bootloader=True)``) runs the Uno's real
bootloader; ``tinylab.flash.upload`` runs the real ``avrdude -c arduino`` against its pty
exactly as against ``/dev/ttyACM0``. Each test checks what the board runs afterwards by its
banner (the model hash) and by answers compared bit for bit with the host.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import psutil
import pytest

from tinylab import _bootloader, _ihex, flash, virtual
from tinylab.device import Device
from tinylab.serial.errors import SerialError
from tinylab.session import BoardSession

from _boards import check_runs


# Every test here runs the real avrdude (the fixture skips, or fails under CI, without it).
pytestmark = pytest.mark.usefixtures("boards_tools")


@pytest.fixture(scope="module")
def boards_tools(virtual_uno_tools):
    if shutil.which("avrdude") is None:
        message = f"the real upload path needs avrdude ({flash.AVRDUDE_INSTALL})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _upload(firmware, port, **kwargs):
    return flash.upload(firmware, port, "uno", tool="avrdude", **kwargs)


def test_avrdude_uploads_through_optiboot_and_the_board_runs_the_new_sketch(
        old_sketch, new_sketch):
    old_mlp, old_firmware = old_sketch
    new_mlp, new_firmware, x_int8, host = new_sketch
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        assert board.info["bootloader"] is True
        check_runs(board.port, old_mlp)     # Optiboot waited for an upload, then started the sketch
        result = _upload(new_firmware, board.port)
        data_bytes = len(_ihex.read(new_firmware.hex_path))
        assert result["tool"] == "avrdude" and result["bytes_written"] == data_bytes
        assert "-c" in result["command"] and "arduino" in result["command"]
        check_runs(board.port, new_mlp, x_int8, host)
        with pytest.raises(SerialError, match=f"carries model {new_mlp.model_hash}"):
            check_runs(board.port, old_mlp)
        assert board.running


def test_an_empty_board_stays_silent_until_its_first_upload(new_sketch):
    new_mlp, new_firmware, x_int8, host = new_sketch
    with virtual.VirtualUno(bootloader=True) as board:
        with pytest.raises(SerialError, match="no TinyLab banner"):
            with Device(board.port, banner_timeout=2.5):
                pass
        assert board.running
        _upload(new_firmware, board.port)
        check_runs(board.port, new_mlp, x_int8, host)


def test_a_wrong_hex_is_refused_before_anything_is_written(old_sketch, new_sketch, tmp_path):
    old_mlp, old_firmware = old_sketch
    _, new_firmware, _, _ = new_sketch
    lines = new_firmware.hex_path.read_text().splitlines()
    corrupt = tmp_path / "corrupt.hex"
    corrupt.write_text("\n".join([lines[0][:-3] + ("0" if lines[0][-3] != "0" else "1")
                                  + lines[0][-2:], *lines[1:]]) + "\n")
    cut = tmp_path / "cut.hex"
    cut.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    renamed = tmp_path / "renamed.hex"           # an ELF under a .hex name
    renamed.write_bytes(new_firmware.elf_path.read_bytes())
    big = tmp_path / "big.hex"
    records = [[16, (a >> 8) & 0xFF, a & 0xFF, 0, *([0] * 16)] for a in range(0, 0x7E10, 16)]
    big.write_text("".join(":" + bytes(r).hex().upper() + f"{-sum(r) & 0xFF:02X}\n"
                           for r in records) + ":00000001FF\n")
    wrong = [(corrupt, "bad-hex", "checksum mismatch"), (cut, "bad-hex", "cut short"),
             (renamed, "bad-hex", "binary"),
             (_bootloader.optiboot_hex(), "bad-hex", "holds a bootloader"),
             (big, "too-big", "past the 32,256 bytes")]
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        for path, reason, words in wrong:
            with pytest.raises(flash.FlashError, match=words) as refused:
                _upload(path, board.port)
            assert refused.value.reason == reason and "Nothing was uploaded" in str(refused.value)
        with pytest.raises(ValueError, match="Intel HEX file"):
            _upload(new_firmware.elf_path, board.port)
        check_runs(board.port, old_mlp)     # still the old sketch: nothing was written


def _kill_avrdude_after(seconds: float) -> threading.Thread:
    """SIGKILL this process's avrdude ``seconds`` after it starts (a Ctrl-C, a crash)."""
    def kill():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = [p for p in psutil.Process().children() if p.name() == "avrdude"]
            if running:
                time.sleep(seconds)
                running[0].send_signal(signal.SIGKILL)
                return
            time.sleep(0.01)
    killer = threading.Thread(target=kill)
    killer.start()
    return killer


def test_an_interrupted_upload_is_named_and_the_board_is_not_taken_for_working(
        old_sketch, new_sketch):
    old_mlp, old_firmware = old_sketch
    new_mlp, new_firmware, x_int8, host = new_sketch
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        # Optiboot listens about 0.7 s after the port opens; 7.7 KB take about 0.5 s to write.
        killer = _kill_avrdude_after(1.2)
        with pytest.raises(flash.FlashError, match="interrupted") as cut:
            _upload(new_firmware, board.port)
        killer.join()
        assert cut.value.reason == "interrupted" and "half-written" in str(cut.value)
        assert "upload again" in str(cut.value)
        # Whatever the board runs now (half a sketch, or the old one), it is not taken for the
        # firmware that was being uploaded...
        with pytest.raises(SerialError):
            check_runs(board.port, new_mlp)
        # ...and the session that wants that firmware uploads it again.
        with BoardSession(new_firmware, board.port, model_hash=new_mlp.model_hash,
                          upload="if-needed") as session:
            assert session.uploaded is not None and session.uploaded["tool"] == "avrdude"
            run = session.device().infer_many(x_int8, progress=False)
            np.testing.assert_array_equal(run.scores, host)


def test_a_busy_port_is_refused_and_nothing_is_written(old_sketch, new_sketch):
    old_mlp, old_firmware = old_sketch
    _, new_firmware, _, _ = new_sketch
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        with Device(board.port, expect_model=old_mlp.model_hash):    # a notebook's open link
            with pytest.raises(flash.FlashError, match="is busy") as busy:
                _upload(new_firmware, board.port)
            assert busy.value.reason == "busy"
        holder = subprocess.Popen([sys.executable, "-c", "import os, sys, time; "
                                   "fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY); "
                                   "print('open', flush=True); time.sleep(60)", board.port],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "open"     # a serial monitor, no lock
            with pytest.raises(flash.FlashError, match=f"pid {holder.pid} ") as busy:
                _upload(new_firmware, board.port)
            assert busy.value.reason == "busy" and "nothing was written" in str(busy.value)
        finally:
            holder.kill()
            holder.wait()
        check_runs(board.port, old_mlp)     # still the old sketch


def test_tinylab_virtual_uno_waits_for_an_upload_until_ctrl_c(new_sketch):
    """`tinylab virtual-uno`: an empty Uno with Optiboot for a lab PC without boards."""
    new_mlp, new_firmware, x_int8, host = new_sketch
    command = [sys.executable, "-m", "tinylab.cli", "virtual-uno"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as uno:
        try:
            first = uno.stdout.readline()
            assert first.startswith("virtual Uno on /dev/") and "Optiboot" in first, first
            port = first.split()[3]
            assert f"tinylab deploy --port {port}" in uno.stdout.readline()
            _upload(new_firmware, port)
            check_runs(port, new_mlp, x_int8, host)
        finally:
            uno.send_signal(signal.SIGINT)
            out, err = uno.communicate(timeout=30)
    assert uno.returncode == 0 and "stopped" in out, err
    assert not os.path.exists(port)     # the harness went with it


def test_tinylab_virtual_uno_without_bootloader_needs_a_firmware(boards_tools, capsys):
    from tinylab import cli

    assert cli.main(["virtual-uno", "--no-bootloader"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinylab virtual-uno: ") and "give FIRMWARE.elf" in err
