"""Tests for tinylab.device and the inference sketch (boards/sketches/inference).

No hardware: the board is either a thread playing the protocol on a pty (tests/fakes/
fake_board.py), the real sketch compiled for this computer with a tiny stand-in for the
Arduino core (tests/fakes/arduino_host), or the real sketch compiled for the Uno and run on the
virtual Uno (simavr). The model is the hand-written stand-in of tests/fakes/model.
"""

import os
import shutil
import subprocess
import sys
import time
import tty
from pathlib import Path

import numpy as np
import pytest

from tinylab import device
from tinylab.device import (BoardRejectedError, BoardResetError, ConnectionLostError, Device,
                            DeviceError, NoBannerError)

FAKES = Path(__file__).parent / "fakes"
sys.path.insert(0, str(FAKES))
from fake_board import BANNER, FakeBoard, answer_line, reference_scores  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import engine_c  # noqa: E402

SKETCH = Path(__file__).resolve().parents[1] / "boards" / "sketches" / "inference" / "inference.ino"


def _sample(seed, n=64):
    return np.random.default_rng(seed).integers(-128, 128, size=n).astype(np.int8)


def _require(*tools):
    """Skip when a tool is missing, except in CI, where a skipped toolchain test is a failure."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"needs {', '.join(missing)} (the board toolchain: see the README)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


# ----------------------------------------------------------------------------- pure parsing

def test_parse_banner_reads_every_field():
    banner = device.parse_banner(BANNER)
    assert banner == {"proto": 1, "sketch": "inference", "board": "uno", "format": "int8",
                      "model": "f00dcafe", "inputs": 64, "outputs": 10}


def test_parse_banner_skips_a_partial_line_before_it_and_keeps_extra_keys():
    # A board that resets mid-line leaves "#TINYLAB p" in front of its new banner (seen on the
    # virtual Uno); a later protocol may add keys.
    banner = device.parse_banner("#TINYLAB p" + BANNER + " clock_hz=16000000")
    assert banner["model"] == "f00dcafe" and banner["clock_hz"] == "16000000"


@pytest.mark.parametrize("line", ["R 1 2 3", "# a comment", "#TINYLAB proto=1 sketch=inference",
                                  BANNER.replace("inputs=64", "inputs=many"), BANNER + " stray"])
def test_parse_banner_rejects_what_is_not_a_whole_banner(line):
    assert device.parse_banner(line) is None


def test_parse_banner_reads_the_raw_input_keys_as_integers():
    banner = device.parse_banner(BANNER + " raw=6 decimals=3")
    assert (banner["raw"], banner["decimals"]) == (6, 3)
    assert device.parse_banner(BANNER + " raw=six decimals=3") is None
    assert "raw" not in device.parse_banner(BANNER)


def test_format_input_is_the_I_line():
    assert device.format_input(np.array([0, -3, 127, -128], dtype=np.int8)) == b"I 0 -3 127 -128\n"


def test_parse_answer_with_and_without_cycles():
    label, scores, latency_us, cycles, _ = device.parse_answer("R 2 -5 3 7 1836 29370", 3)
    assert (label, latency_us, cycles) == (2, 1836, 29370)
    assert scores.dtype == np.int8 and scores.tolist() == [-5, 3, 7]
    assert device.parse_answer("R 0 9 9 -1 12", 3)[3] is None  # ties: the first maximum wins


def test_parse_answer_reads_the_stack_peak_after_the_cycles():
    assert device.parse_answer("R 2 -5 3 7 1836 29370 164", 3)[2:] == (1836, 29370, 164)
    # Lines of firmware without the field (or without cycles) still parse: the field is None.
    assert device.parse_answer("R 2 -5 3 7 1836 29370", 3)[3:] == (29370, None)
    assert device.parse_answer("R 2 -5 3 7 1836", 3)[3:] == (None, None)


@pytest.mark.parametrize("line", ["R 2 -5 3 1836",          # a score missing
                                  "R 2 -5 3 7 1836 1 2 3",   # one field too many
                                  "R 2 -5 3 7 1836 1 -2",    # negative stack bytes
                                  "R 1 -5 3 7 1836",         # class is not the maximum
                                  "R 2 -5 3 300 1836",       # score outside int8
                                  "R 2 -5 3 7 -4",           # negative latency
                                  "R 2 -5 x 7 1836"])        # not a number
def test_parse_answer_rejects_garbled_lines(line):
    with pytest.raises(DeviceError, match="garbled"):
        device.parse_answer(line, 3)


# ----------------------------------------------------------------------------- fake board

def test_opens_on_the_boot_banner_like_an_uno():
    with FakeBoard() as board, Device(board.port, timeout=2) as dev:
        assert dev.banner == device.parse_banner(BANNER)
        assert (dev.n_inputs, dev.n_outputs) == (64, 10)
        assert "f00dcafe" in repr(dev) and "uno" in repr(dev)
        assert board.lines == []  # it greeted by itself: nothing had to be asked


def test_asks_a_board_that_does_not_reset_on_open():
    # A Nano 33 BLE (native USB) or a board left running does not greet again: Device asks "?".
    with FakeBoard(greet_on_open=False) as board:
        started = time.monotonic()
        with Device(board.port, timeout=2) as dev:
            assert dev.banner["model"] == "f00dcafe"
        assert "?" in board.lines
        assert time.monotonic() - started < 3


def test_what_shares_a_write_with_the_banner_does_not_disturb_the_first_answer():
    # The capture flaw of issue 12 (rows in the banner's write lost) cannot hit inference: the
    # sketch sends nothing unasked after its banner. What may follow it at once (the banner
    # again, answering a "?", and a comment) is read through, not taken for a reset.
    class EagerBoard(FakeBoard):
        def _greet(self):
            self.write(((BANNER + "\r\n") * 2 + "# ready\r\n").encode())

    with EagerBoard(greet_on_open=False) as board, Device(board.port, timeout=2) as dev:
        x = np.arange(-32, 32, dtype=np.int8)
        label, scores, _ = dev.infer(x)
        assert scores.tolist() == reference_scores(x).tolist()


def test_infer_returns_the_models_answer_and_paces_its_writes():
    with FakeBoard() as board, Device(board.port, timeout=2) as dev:
        for seed in range(5):
            x = _sample(seed)
            label, scores, latency_us = dev.infer(x)
            assert scores.dtype == np.int8
            np.testing.assert_array_equal(scores, reference_scores(x))
            assert label == int(np.argmax(scores)) and latency_us == 1836
            assert dev.last_cycles == 29370
        # The line of 64 values is ~250 bytes; never more than 32 went out unacknowledged.
        assert len(device.format_input(x)) > 4 * device.ACK_EVERY_BYTES
        assert board.max_unacked_bytes == 0


def test_the_pacing_detector_sees_an_unpaced_host():
    # The check above means something: the same fake does see a host that does not wait.
    with FakeBoard() as board, Device(board.port, timeout=2) as dev:
        dev._serial.write(device.format_input(_sample(0)))
        time.sleep(0.3)
        assert board.max_unacked_bytes > 0


def test_infer_many_collects_arrays_and_draws_a_bar(capsys):
    X = np.stack([_sample(seed) for seed in range(6)])
    with FakeBoard() as board, Device(board.port, timeout=2) as dev:
        run = dev.infer_many(X, progress=True)
        quiet = dev.infer_many(X[:2], progress=False)
    expected = np.stack([reference_scores(x) for x in X])
    np.testing.assert_array_equal(run.scores, expected)
    np.testing.assert_array_equal(run.labels, expected.argmax(axis=1))
    assert run.scores.dtype == np.int8 and run.latency_us.tolist() == [1836] * 6
    assert run.cycles.tolist() == [29370] * 6 and run.banner["model"] == "f00dcafe"
    assert quiet.labels.shape == (2,)
    assert "6/6" in capsys.readouterr().err


def test_cycles_are_none_when_the_board_does_not_count_them():
    with FakeBoard(cycles=None) as board, Device(board.port, timeout=2) as dev:
        dev.infer(_sample(1))
        assert dev.last_cycles is None
        assert dev.infer_many(np.stack([_sample(2)]), progress=False).cycles is None


def test_stack_bytes_are_read_per_sample_and_none_from_older_firmware():
    def with_stack(board, index, text):  # the AVR sketch's answer: cycles, then stack bytes
        return [board.normal_answer(text).replace(b"\r\n", b" %d\r\n" % (150 + index))]

    X = np.stack([_sample(seed) for seed in range(3)])
    with FakeBoard(on_line=with_stack) as board, Device(board.port, timeout=2) as dev:
        dev.infer(X[0])
        assert dev.last_cycles == 29370 and dev.last_stack_bytes == 150
        run = dev.infer_many(X, progress=False)
    assert run.stack_bytes.tolist() == [151, 152, 153] and run.cycles.tolist() == [29370] * 3
    np.testing.assert_array_equal(run.scores, np.stack([reference_scores(x) for x in X]))
    with FakeBoard() as board, Device(board.port, timeout=2) as dev:  # cycles only, as before
        dev.infer(X[0])
        assert dev.last_cycles == 29370 and dev.last_stack_bytes is None
        assert dev.infer_many(X, progress=False).stack_bytes is None


def test_noise_comments_stray_acks_and_split_lines_are_read_through():
    def noisy(board, index, text):
        answer = board.normal_answer(text)
        return [b"\x00\xff garbage\r\n", b"# a comment from the board\r\n", b".",
                answer[:7], 0.15, answer[7:20], 0.1, answer[20:]]

    with FakeBoard(on_line=noisy) as board, Device(board.port, timeout=2) as dev:
        x = _sample(3)
        np.testing.assert_array_equal(dev.infer(x)[1], reference_scores(x))


def test_an_error_answer_raises_with_the_boards_words_and_the_device_goes_on():
    def reject_first(board, index, text):
        return [b"! expected 64 values, got 63\r\n"] if index == 0 else None

    with FakeBoard(on_line=reject_first) as board, Device(board.port, timeout=2) as dev:
        with pytest.raises(BoardRejectedError, match="expected 64 values, got 63") as caught:
            dev.infer(_sample(0))
        assert caught.value.board_message == "expected 64 values, got 63"
        x = _sample(1)
        np.testing.assert_array_equal(dev.infer(x)[1], reference_scores(x))


def test_a_silent_board_times_out_and_a_late_answer_is_not_taken_for_the_next():
    # The first answer comes 1 s late, after the host gave up: it must not be read as the
    # answer to the second input.
    def late_first(board, index, text):
        return [1.0, answer_line([0] * 64)] if index == 0 else None

    with FakeBoard(on_line=late_first) as board, Device(board.port, timeout=0.4) as dev:
        started = time.monotonic()
        with pytest.raises(DeviceError, match="did not send its answer within 0.4 s"):
            dev.infer(_sample(0))
        assert time.monotonic() - started < 1.5
        dev.timeout = 3
        x = _sample(1)
        np.testing.assert_array_equal(dev.infer(x)[1], reference_scores(x))


def test_a_missing_ack_times_out():
    with FakeBoard(send_acks=False) as board, Device(board.port, timeout=0.5) as dev:
        with pytest.raises(DeviceError, match="did not send the '.' acknowledging 32 bytes"):
            dev.infer(_sample(0))


def test_a_reset_mid_answer_is_reported_and_the_device_recovers():
    def reset_second(board, index, text):
        return [b"R 3 1 2", BANNER.encode() + b"\r\n"] if index == 1 else None

    with FakeBoard(on_line=reset_second) as board, Device(board.port, timeout=2) as dev:
        dev.infer(_sample(0))
        with pytest.raises(BoardResetError, match="reset while answering") as caught:
            dev.infer(_sample(1))
        assert "RAM" in str(caught.value)
        x = _sample(2)
        np.testing.assert_array_equal(dev.infer(x)[1], reference_scores(x))


def test_a_reset_into_another_model_says_so():
    other = BANNER.replace("f00dcafe", "deadbeef")

    def reflashed(board, index, text):
        board.banner = other
        return [other.encode() + b"\r\n"]

    with FakeBoard(on_line=reflashed) as board, Device(board.port, timeout=2) as dev:
        with pytest.raises(BoardResetError, match="now carries model deadbeef"):
            dev.infer(_sample(0))
        assert dev.banner["model"] == "deadbeef"


def test_a_board_unplugged_mid_line_is_a_lost_connection():
    def unplug(board, index, text):
        return [b"R 3 1 2 ", 0.1, "close"]

    with FakeBoard(on_line=unplug) as board:
        dev = Device(board.port, timeout=2)
        with pytest.raises(ConnectionLostError, match="lost the connection"):
            dev.infer(_sample(0))
        assert not dev.is_open
        with pytest.raises(DeviceError, match="closed"):
            dev.infer(_sample(0))


def test_wrong_baud_rate_gives_the_banner_hint():
    with FakeBoard() as board:
        started = time.monotonic()
        with pytest.raises(NoBannerError) as caught:
            Device(board.port, baudrate=9600, banner_timeout=1.5)
        assert time.monotonic() - started < 3
    message = str(caught.value)
    assert "no TinyLab banner" in message and "within 1.5 s" in message
    assert "is the inference sketch flashed, at 115200 baud?" in message
    assert "opened at 9600 baud" in message and "Heard instead" in message


def test_a_silent_port_does_not_hang():
    with FakeBoard(banner=None) as board:
        started = time.monotonic()
        with pytest.raises(NoBannerError, match="Heard nothing"):
            Device(board.port, banner_timeout=1.0)
        assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("banner, expect_model, words", [
    (BANNER.replace("proto=1", "proto=2"), None, "protocol 2, this TinyLab speaks 1"),
    (BANNER.replace("sketch=inference", "sketch=capture"), None, "'capture' sketch"),
    (BANNER, "0badf00d", "carries model f00dcafe, not 0badf00d"),
])
def test_a_wrong_sketch_protocol_or_model_is_refused(banner, expect_model, words):
    with FakeBoard(banner=banner) as board:
        with pytest.raises(DeviceError, match=words):
            Device(board.port, banner_timeout=2, expect_model=expect_model)


def test_a_port_held_by_another_device_is_busy():
    with FakeBoard() as board, Device(board.port, timeout=2):
        with pytest.raises(DeviceError, match="is busy"):
            Device(board.port)


def test_a_missing_port_lists_the_ports_there_are(monkeypatch):
    from tinylab.serial import ports

    monkeypatch.setattr(ports, "serial_ports", lambda: [
        {"device": "/dev/ttyTLS7", "description": "ttyTLS7", "board_id": None, "usb_name": None}])
    with pytest.raises(DeviceError, match=r"no serial port /dev/ttyTINYLAB9.*/dev/ttyTLS7"):
        Device("/dev/ttyTINYLAB9")


def test_bad_inputs_are_refused_before_anything_is_sent():
    with FakeBoard() as board, Device(board.port, timeout=2) as dev:
        with pytest.raises(ValueError, match="takes 64 int8 inputs"):
            dev.infer(np.zeros(63, dtype=np.int8))
        with pytest.raises(TypeError, match="quantize"):
            dev.infer(np.zeros(64))
        with pytest.raises(ValueError, match="int8 range"):
            dev.infer(np.full(64, 200))
        with pytest.raises(ValueError, match="2-D"):
            dev.infer_many(np.zeros(64, dtype=np.int8))
        assert board.input_lines == 0
    with pytest.raises(ValueError, match="port"):
        Device("")


# ----------------------------------------------------------------------------- the real sketch

@pytest.fixture(scope="session")
def host_sketch(tmp_path_factory):
    """The inference sketch and the stand-in model, compiled for this computer."""
    _require("gcc", "g++")
    out = tmp_path_factory.mktemp("host_sketch")
    model_object = out / "model.o"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-c", "-o", str(model_object),
                    f"-I{FAKES / 'model'}", str(FAKES / "model" / "model.c")], check=True)
    return engine_c.inference_on_host(out, FAKES / "model", model_object)


@pytest.fixture
def host_board(host_sketch):
    """The host-compiled sketch running on the master side of a pty: yields the port."""
    master, slave = os.openpty()
    tty.setraw(slave)
    process = subprocess.Popen([str(host_sketch)], stdin=master, stdout=master)
    try:
        yield os.ttyname(slave)
    finally:
        process.kill()
        process.wait(timeout=5)
        os.close(master)
        os.close(slave)


def test_the_sketch_answers_like_the_model(host_board):
    with Device(host_board, timeout=2) as dev:
        assert dev.banner == device.parse_banner(BANNER)
        for seed in range(10):
            x = _sample(seed)
            label, scores, latency_us = dev.infer(x)
            np.testing.assert_array_equal(scores, reference_scores(x))
            assert label == int(np.argmax(reference_scores(x))) and latency_us >= 0
        extremes = np.array([-128, 127] * 32, dtype=np.int8)
        np.testing.assert_array_equal(dev.infer(extremes)[1], reference_scores(extremes))


@pytest.mark.parametrize("line, answer", [
    ("I 1 2 3", "! expected 64 values, got 3"),
    ("I " + "1," * 70, "! expected 64 values, got 70"),
    ("I 1 200 3", "! value 2 is outside the int8 range -128..127"),
    ("I 1 -129", "! value 2 is outside the int8 range -128..127"),
    ("I 1 x 3", "! unexpected byte 120 in value 2"),
    ("I 4 - 5", "! unexpected byte 45 in value 2"),
    ("hello", "! unknown command (byte 104): send 'I v1 v2 ...' or '?'"),
    ("W 0.1 0.2", "! this model takes int8 inputs only: send 'I ...'"),
    ("?", BANNER),
])
def test_the_sketch_rejects_bad_lines_in_plain_words(host_board, line, answer):
    with Device(host_board, timeout=2) as dev:
        assert dev.ask(line) == answer


def test_raw_readings_need_a_board_built_with_raw_input(host_board):
    from tinylab import engine

    model = engine.IntegerModel(ops=(), input_shape=(32, 2), output_shape=(10,), input_scale=0.1,
                                input_zero_point=0, output_scale=1.0, output_zero_point=0,
                                model_hash="f00dcafe")
    raw_input = engine.raw_input(model, {"per_channel": True, "mean": [0.0, 0.0],
                                         "std": [1.0, 1.0], "channels": ["a", "b"]})
    with Device(host_board, timeout=2) as dev:
        assert not dev.takes_raw
        with pytest.raises(DeviceError, match="takes int8 inputs only .* --inputs raw"):
            dev.infer_raw(np.zeros(64), raw_input)
        np.testing.assert_array_equal(dev.infer(_sample(3))[1], reference_scores(_sample(3)))


def test_the_sketch_accepts_commas_crlf_and_plus_signs(host_board):
    x = _sample(7)
    line = "I " + ",".join(f"+{v}" if v > 0 else str(v) for v in x) + "\r"
    with Device(host_board, timeout=2) as dev:
        answer = dev.ask(line)
    np.testing.assert_array_equal(device.parse_answer(answer, 10)[1], reference_scores(x))


def test_without_pacing_the_64_byte_buffer_overflows(host_board):
    # Why Device paces: sent at once, a 250-byte line overflows the receive buffer (the host
    # stand-in drops bytes like the AVR's UART does) and the board never sees its end.
    with Device(host_board, timeout=1) as dev:
        dev._serial.write(device.format_input(_sample(0)))
        dev._serial.timeout = 0.5
        assert b"R " not in dev._serial.read(200)
        dev._serial.timeout = device._POLL_S
        dev.resync()  # ends the board's half line, waits for the banner that answers "?"
        x = _sample(1)
        np.testing.assert_array_equal(dev.infer(x)[1], reference_scores(x))


# ----------------------------------------------------------------------------- on the virtual Uno

def _compile_for_the_uno(tmp_path_factory, model_c: str):
    """The inference sketch around the stand-in model.h and ``model_c``, compiled for the Uno."""
    _require("arduino-builder", "avr-gcc")
    from tinylab import build

    sketch_dir = tmp_path_factory.mktemp("sketches") / "inference"
    sketch_dir.mkdir()
    shutil.copy(SKETCH, sketch_dir)
    shutil.copy(SKETCH.with_name("tl_measure.h"), sketch_dir)
    shutil.copy(FAKES / "model" / "model.h", sketch_dir)
    (sketch_dir / "model.c").write_text(model_c)
    return build.compile_sketch(sketch_dir, board="uno", build_dir=tmp_path_factory.mktemp("build"),
                                toolchain="arduino-builder")


@pytest.fixture(scope="session")
def uno_build(tmp_path_factory):
    """The inference sketch with the stand-in model, compiled for the Uno."""
    return _compile_for_the_uno(tmp_path_factory, (FAKES / "model" / "model.c").read_text())


#: Bytes of the stack buffer the model of ``uno_build_with_stack_buffer`` adds.
STACK_BUFFER_BYTES = 200


@pytest.fixture(scope="session")
def uno_build_with_stack_buffer(tmp_path_factory):
    """The same, but the model call also fills a volatile STACK_BUFFER_BYTES-byte local array."""
    plain = (FAKES / "model" / "model.c").read_text()
    assert "void tl_model_run(" in plain
    model_c = plain.replace("void tl_model_run(", "static void plain_model_run(") + f"""
/* The same model, with {STACK_BUFFER_BYTES} more bytes of stack: written whole (volatile), so
   that all of them are stack the sketch's painting sees used. */
void tl_model_run(const int8_t *input, int8_t *output)
{{
    volatile uint8_t buffer[{STACK_BUFFER_BYTES}];
    for (uint16_t k = 0; k < {STACK_BUFFER_BYTES}; k++) buffer[k] = (uint8_t)k;
    plain_model_run(input, output);
    (void)buffer[0];
}}
"""
    return _compile_for_the_uno(tmp_path_factory, model_c)


def test_the_sketch_is_small_on_the_uno(uno_build):
    # The sketch's own RAM: 64 + 10 bytes of vectors and ~16 of state, on top of the core's
    # ~180 bytes (Serial's two 64-byte rings and its bookkeeping, millis()).
    assert uno_build.fits
    assert uno_build.ram_bytes < 300
    assert uno_build.flash_bytes < 4096


def test_the_virtual_uno_answers_like_the_model_and_counts_cycles(uno_build):
    _require("simavr")
    from tinylab import virtual

    with virtual.VirtualUno(uno_build) as board, Device(board.port, timeout=5) as dev:
        assert dev.banner == device.parse_banner(BANNER)
        for seed in range(3):
            x = _sample(seed)
            label, scores, latency_us = dev.infer(x)
            np.testing.assert_array_equal(scores, reference_scores(x))
            # Timer1 counts cycles at 16 MHz; micros() moves in 4 us steps and its own calls
            # and the timer's start and stop (a few us) fall inside the latency.
            assert abs(dev.last_cycles / 16 - latency_us) <= 20
            # The stack's peak: some bytes (return addresses at least), within the free RAM.
            assert 0 < dev.last_stack_bytes < 2048 - uno_build.ram_bytes


def _stack_peak_bytes(build_result, n=4) -> int:
    """The largest stack peak the virtual Uno reports over ``n`` inferences of ``build_result``."""
    from tinylab import virtual

    with virtual.VirtualUno(build_result) as board, Device(board.port, timeout=5) as dev:
        run = dev.infer_many(np.stack([_sample(seed) for seed in range(n)]), progress=False)
    np.testing.assert_array_equal(run.scores, np.stack([reference_scores(_sample(s))
                                                        for s in range(n)]))
    return int(run.stack_bytes.max())


def test_a_model_with_a_stack_buffer_reports_a_peak_larger_by_that_buffer(
        uno_build, uno_build_with_stack_buffer):
    # The painting measures what the model puts on the stack: 200 bytes more give a peak
    # larger by 200 bytes, give or take a few for the registers the larger frame saves.
    _require("simavr")
    plain = _stack_peak_bytes(uno_build)
    with_buffer = _stack_peak_bytes(uno_build_with_stack_buffer)
    assert 0 < plain < with_buffer < 2048 - uno_build_with_stack_buffer.ram_bytes
    assert STACK_BUFFER_BYTES - 8 <= with_buffer - plain <= STACK_BUFFER_BYTES + 24
