"""The capture sketches (docs/capture-protocol.md): capture_sim runs on the virtual Uno.

capture_sim is compiled for the Uno and run in simavr; the tests read it over pyserial like a
real board: the banner, rows at rate_hz, gestures that change the signals as documented, the
trigger window, errors. Without the Uno toolchain or simavr they skip on a laptop and fail
under CI (``CI`` set), naming the install lines. capture_nano33ble cannot be compiled here
(no arduino-cli, no mbed core): one test checks that its text speaks the same protocol.
"""

import math
import re
import time

import pytest
import serial

from tinylab import boards, build, virtual

SKETCHES = boards.BOARDS_DIR / "sketches"
SIM_SKETCH = SKETCHES / "capture_sim"
NANO_SKETCH = SKETCHES / "capture_nano33ble" / "capture_nano33ble.ino"
COLUMNS = ["ax", "ay", "az", "gx", "gy", "gz"]
BANNER_WAIT_S = 8.0


@pytest.fixture(scope="module")
def capture_build(tmp_path_factory, virtual_uno_tools):
    """capture_sim compiled for the Uno, in a fresh cache; fails under CI when tools are absent."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYLAB_CACHE", str(tmp_path_factory.mktemp("tinylab-cache")))
        yield build.compile_sketch(SIM_SKETCH, "uno")


@pytest.fixture
def port(capture_build):
    """An open serial port to a freshly reset virtual Uno running capture_sim."""
    with virtual.VirtualUno(capture_build) as board, serial.Serial(board.port, 115200, timeout=2) as opened:
        yield opened


def read_line(port) -> str:
    line = port.readline()
    if not line.endswith(b"\n"):
        raise AssertionError(f"no complete line within {port.timeout} s, got {line!r}")
    return line.decode("ascii").rstrip("\r\n")


def parse_banner(line: str) -> dict:
    assert line.startswith("#TINYLAB "), line
    return dict(word.split("=", 1) for word in line.split()[1:])


def read_banner(port) -> dict:
    deadline = time.monotonic() + BANNER_WAIT_S
    while time.monotonic() < deadline:
        line = port.readline().decode("ascii", errors="replace")
        if "#TINYLAB " in line:
            return parse_banner(line[line.index("#TINYLAB "):].rstrip("\r\n"))
    raise AssertionError(f"no #TINYLAB banner within {BANNER_WAIT_S} s")


def is_row(line: str) -> bool:
    return line[:1].isdigit() or line[:1] == "-"


def parse_row(line: str) -> list:
    fields = line.split(",")
    assert len(fields) == len(COLUMNS), f"expected {len(COLUMNS)} values: {line!r}"
    values = [float(field) for field in fields]
    assert all(math.isfinite(value) for value in values), line
    return values


def read_rows(port, seconds: float) -> tuple:
    """Rows (lists of 6 floats) read for `seconds`, and their arrival times."""
    rows, times = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = read_line(port)
        assert is_row(line), f"expected only rows, got {line!r}"
        rows.append(parse_row(line))
        times.append(time.monotonic())
    return rows, times


def command(port, text: str) -> str:
    """Send one command; return its answer line (a '#' or '!' line), skipping rows and window
    frames before it (an armed window may start while the command is on its way)."""
    port.write(text.encode("ascii") + b"\n")
    for _ in range(200):
        line = read_line(port)
        if not is_row(line) and not line.startswith("# window "):
            return line
    raise AssertionError(f"no answer to {text!r}")


def peak(rows: list, column: str) -> float:
    index = COLUMNS.index(column)
    return max(abs(row[index]) for row in rows)


def test_capture_sim_fits_the_uno_with_room_for_the_stack(capture_build, record_property):
    result = build.check_fits(capture_build)
    record_property("capture_sim_flash_bytes", result.flash_bytes)
    record_property("capture_sim_ram_bytes", result.ram_bytes)
    print(f"capture_sim on the Uno: {result.flash_bytes} B flash, {result.ram_bytes} B static RAM")
    assert result.flash_bytes < 16 * 1024          # half the Uno's flash, at most
    assert result.ram_bytes < 512                  # a quarter of its 2 KB: the rest is stack


def test_banner_announces_a_simulated_imu_and_its_columns(port):
    banner = read_banner(port)
    assert banner["proto"] == "1" and banner["sketch"] == "capture" and banner["board"] == "uno"
    assert banner["sensor"] == "sim-imu" and banner["simulated"] == "1"
    assert banner["columns"].split(",") == COLUMNS
    assert banner["units"] == "g,g,g,dps,dps,dps"
    assert int(banner["rate_hz"]) == 50 and int(banner["window_rows"]) == 50
    assert banner["mode"] == "stream" and banner["gesture"] == "idle"
    assert parse_banner(command(port, "?")) == banner     # '?' prints it again


def test_rows_are_six_finite_numbers_at_rate_hz(port):
    rate_hz = int(read_banner(port)["rate_hz"])
    rows, times = read_rows(port, 2.0)
    measured_hz = (len(rows) - 1) / (times[-1] - times[0])
    print(f"{len(rows)} rows, {measured_hz:.1f} rows/s (rate_hz={rate_hz})")
    # Generous: simulated real time on a shared machine, and pyserial's reads come in bursts.
    assert 0.6 * rate_hz < measured_hz < 1.5 * rate_hz
    idle_az = [row[2] for row in rows]
    assert all(0.8 < az < 1.2 for az in idle_az)     # lying flat: gravity on z, plus noise


def test_punch_is_a_sharp_forward_spike_that_idle_lacks(port):
    read_banner(port)
    idle, _ = read_rows(port, 1.2)
    assert command(port, "G punch") == "# gesture=punch"
    punch, _ = read_rows(port, 2.2)                  # two repetitions, 1 s each
    assert peak(idle, "ax") < 0.2
    assert peak(punch, "ax") > 2.0                   # the thrust: ~3.5 g x jitter 0.8..1.2
    assert min(row[0] for row in punch) < -0.8       # then the stop, on -x
    spikes = [i for i, row in enumerate(punch) if row[0] > 1.0]
    assert len(spikes) < len(punch) / 4              # sharp: a few samples a second


@pytest.mark.parametrize("gesture, column, at_least", [("flex", "gy", 60.0), ("wave", "gz", 80.0),
                                                       ("wave", "ay", 0.4)])
def test_each_gesture_moves_its_own_axis(port, gesture, column, at_least):
    read_banner(port)
    idle, _ = read_rows(port, 1.0)
    assert command(port, f"G {gesture}") == f"# gesture={gesture}"
    moving, _ = read_rows(port, 1.2)
    assert peak(moving, column) > at_least > 5 * peak(idle, column)


def test_unknown_gestures_and_commands_get_one_error_line(port):
    read_banner(port)
    assert command(port, "G jump").startswith("! unknown gesture 'jump'")
    assert command(port, "X").startswith("! unknown command (byte 88)")
    assert command(port, "G " + "x" * 20).startswith("! line too long")
    assert command(port, "G idle") == "# gesture=idle"     # still listening, in step


def test_trigger_sends_one_framed_window_then_silence(port):
    window_rows = int(read_banner(port)["window_rows"])
    assert command(port, "G punch") == "# gesture=punch"
    assert command(port, "T") == f"# armed rows={window_rows}"
    lines = []
    while not lines or lines[-1] != "# window end":
        lines.append(read_line(port))
        assert len(lines) < window_rows + 20, lines
    start = lines.index(f"# window start rows={window_rows}")
    rows = [parse_row(line) for line in lines[start + 1:-1]]
    assert len(rows) == window_rows
    assert peak(rows, "ax") > 2.0                    # the gesture is inside the window
    port.timeout = 0.4
    assert port.readline() == b""                    # one T, one window: then nothing
    port.timeout = 2
    assert command(port, "T").startswith("# armed")
    assert command(port, "T").startswith("! a window is already armed")
    assert command(port, "S") == "# mode=stream"
    assert is_row(read_line(port)) and is_row(read_line(port))


def test_capture_records_whole_triggered_windows_from_the_virtual_board(capture_build, tmp_path):
    """The host side of trigger mode, end to end: T, framed windows, re-armed after each."""
    import numpy as np

    from tinylab import capture

    out = tmp_path / "punch.csv"
    with virtual.VirtualUno(capture_build) as board:
        summary = capture.record(board.port, out, windows=3, label="punch",
                                 commands=["G punch"], progress=False)
    print(summary.to_text())
    assert summary.ended == "windows" and summary.exit_status == 0
    assert summary.windows_kept == 3 and summary.rows_kept == 150
    assert not any(summary.windows_dropped.values()) and not any(summary.rejected.values())
    header, *lines = out.read_text().splitlines()
    assert header == ",".join(COLUMNS + ["window", "label"])
    assert [line.split(",")[-2] for line in lines] == [str(w) for w in range(3) for _ in range(50)]
    X, y = capture.windows(out, length=50, step=50)
    assert X.shape == (3, 50, 6) and y.tolist() == ["punch"] * 3
    # Each window starts with the gesture: the thrust sits at the same rows in every one.
    thrust = (X[:, :, COLUMNS.index("ax")] > 1.0).argmax(axis=1)
    assert np.all(X[:, :, 0].max(axis=1) > 2.0) and len(set(thrust.tolist())) == 1


def test_the_same_rows_come_after_every_reset(capture_build):
    """A fixed seed at reset: opening the port resets the board and replays the same noise."""
    with virtual.VirtualUno(capture_build) as board:
        first_rows = []
        for _ in range(2):
            with serial.Serial(board.port, 115200, timeout=2) as opened:
                read_banner(opened)
                first_rows.append([read_line(opened) for _ in range(10)])
    assert first_rows[0] == first_rows[1]


def test_the_nano_sketch_speaks_the_same_protocol():
    """capture_nano33ble cannot be compiled here; its text must at least match the protocol."""
    nano = NANO_SKETCH.read_text()
    sim = (SIM_SKETCH / "capture_sim.ino").read_text()
    for text in (nano, sim):
        assert "#TINYLAB proto=1 sketch=capture board=" in text
        assert " columns=ax,ay,az,gx,gy,gz units=g,g,g,dps,dps,dps window_rows=" in text
        assert re.search(r"#define CAPTURE_RATE_HZ 50\b", text)
        assert re.search(r"#define CAPTURE_WINDOW_ROWS 50\b", text)
        for answer in ("# window start rows=", "# window end", "# armed rows=", "# mode=stream"):
            assert answer in text
    assert "Arduino_LSM9DS1.h" in nano and "Arduino_BMI270_BMM150.h" in nano
    assert '"lsm9ds1"' in nano and '"bmi270"' in nano and "TL_IMU_REV" in nano
    assert "simulated=1" not in nano
