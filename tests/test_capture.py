"""Tests for tinylab.capture: recording from a board over serial, windowing, datasets.

No hardware: the board is a thread playing the capture sketch on a pty
(tests/fakes/fake_capture_board.py) that misbehaves in every way the issue lists. In every
case the rows already received must be on disk, in order, exactly once.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinylab import capture, data
from tinylab.capture import CaptureError, NoBannerError

FAKES = Path(__file__).parent / "fakes"
sys.path.insert(0, str(FAKES))
from fake_capture_board import BANNER, FakeCaptureBoard, row, rows  # noqa: E402


def _rows_on_disk(path):
    lines = Path(path).read_text().splitlines()
    assert lines[0] == "ax,ay,az,label"
    return lines[1:]


def _expected(indices, label=""):
    return [row(i).decode().strip() + "," + label for i in indices]


def _record(board, path, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("banner_timeout", 3.0)
    kwargs.setdefault("timeout", 2.0)
    return capture.record(board.port, path, **kwargs)


# ----------------------------------------------------------------------------- pure parsing

def test_parse_capture_banner_reads_every_field():
    banner = capture.parse_capture_banner("junk#TINYLAB p" + BANNER)
    assert banner == {"proto": 1, "sketch": "capture", "board": "uno", "sensor": "simimu",
                      "rate_hz": 50.0, "columns": ["ax", "ay", "az"], "units": ["g", "g", "g"],
                      "simulated": True}
    assert capture.parse_capture_banner(BANNER.replace(" simulated=1", ""))["simulated"] is False
    assert capture.parse_capture_banner("1,2,3") is None
    assert capture.parse_capture_banner(BANNER + " stray") is None


@pytest.mark.parametrize("text, reason", [
    ("1,-2.5,3e2", None), (" 1 , .5 , -0. ", None), ("1,2", "wrong_columns"),
    ("1,2,3,4", "wrong_columns"), ("1,x,3", "not_a_number"), ("1,1_0,3", "not_a_number"),
    ("1,,3", "not_a_number"), ("1,nan,3", "not_finite"), ("1,-inf,3", "not_finite"),
    ("ovf,1,2", "not_finite"), ("1e999,1,2", "not_finite")])
def test_check_row(text, reason):
    assert capture.check_row(text, 3) == reason


# ----------------------------------------------------------------------------- recording

def test_records_rows_with_the_label_and_stops_at_the_count(tmp_path):
    out = tmp_path / "punch.csv"
    with FakeCaptureBoard([rows(0, 30)]) as board:
        summary = _record(board, out, rows=20, label="punch", commands=["G punch"])
    assert summary.ended == "rows" and summary.exit_status == 0 and not summary.lost_connection
    assert summary.rows_kept == summary.rows_in_file == 20
    assert _rows_on_disk(out) == _expected(range(20), "punch")
    assert board.lines == ["G punch"]  # commands reach the board; the label stays on the host
    assert summary.meta()["sample_rate_hz"] == 50.0 and summary.meta()["simulated"] is True
    assert json.loads(summary.to_json())["rows_kept"] == 20
    assert "recorded 20 rows labelled 'punch'" in summary.to_text()


def test_stops_after_the_seconds(tmp_path):
    out = tmp_path / "idle.csv"
    with FakeCaptureBoard([rows(0, 5), 2.0, rows(5, 10)]) as board:
        summary = _record(board, out, seconds=0.8, label="idle", timeout=5.0)
    assert summary.ended == "seconds" and 0.7 < summary.duration_s < 1.5
    assert _rows_on_disk(out) == _expected(range(5), "idle")


def test_every_bad_line_is_counted_by_reason_and_good_rows_all_kept_in_order(tmp_path):
    out = tmp_path / "messy.csv"
    script = [rows(0, 3),
              b"\x00\xff\xfe\x81binary\r\n",             # binary noise
              b"1,2\r\n", b"1,2,3,4\r\n",                 # wrong column counts
              b"1,two,3\r\n",                             # not a number
              b"nan,1,2\r\n", b"1,inf,2\r\n",             # not finite
              rows(3, 5),
              b"9" * 2000 + b",1,2\r\n",                  # far too long
              b"# a comment\r\n", b"! sensor not found, retrying\r\n", b"\r\n",
              rows(5, 7),
              b"7,7." + (BANNER + "\r\n").encode(),      # a reset cuts a row: it greets again
              rows(7, 10),
              b"10,10.5,-1"]                              # then it is unplugged mid-line
    with FakeCaptureBoard(script, then="close") as board:
        summary = _record(board, out, label="wave")
    assert summary.ended == "lost_connection" and summary.lost_connection
    assert summary.exit_status == 1 and "Rows so far are saved" in summary.message
    assert _rows_on_disk(out) == _expected(range(10), "wave")
    assert summary.rows_kept == 10
    assert summary.rejected == {"garbage": 1, "too_long": 1, "wrong_columns": 2,
                                "not_a_number": 1, "not_finite": 2, "board_reset": 1,
                                "partial_at_close": 1}
    assert summary.board_messages == ["sensor not found, retrying"]


def test_a_reset_into_other_columns_ends_the_recording_after_saving(tmp_path):
    out = tmp_path / "x.csv"
    other = BANNER.replace("columns=ax,ay,az", "columns=gx,gy")
    with FakeCaptureBoard([rows(0, 4), (other + "\r\n").encode(), b"1,2\r\n"]) as board:
        summary = _record(board, out)
    assert summary.ended == "board_changed" and summary.exit_status == 1
    assert "gx" in summary.message
    assert _rows_on_disk(out) == _expected(range(4))


def test_a_silent_board_ends_the_recording_after_the_timeout(tmp_path):
    out = tmp_path / "x.csv"
    with FakeCaptureBoard([rows(0, 3)]) as board:
        summary = _record(board, out, rows=100, timeout=0.5)
    assert summary.ended == "silent" and summary.exit_status == 1
    assert _rows_on_disk(out) == _expected(range(3))


def test_resume_appends_to_the_same_file(tmp_path):
    out = tmp_path / "gestures.csv"
    with FakeCaptureBoard([rows(0, 5)]) as board:
        _record(board, out, rows=5, label="punch")
    with FakeCaptureBoard([rows(100, 105)]) as board:
        summary = _record(board, out, rows=3, label="flex")
    assert summary.resumed and summary.rows_kept == 3 and summary.rows_in_file == 8
    assert _rows_on_disk(out) == _expected(range(5), "punch") + _expected(range(100, 103), "flex")


def test_resume_into_a_file_with_other_columns_is_an_error_and_writes_nothing(tmp_path):
    out = tmp_path / "other.csv"
    out.write_text("gx,gy,label\n1,2,a\n")
    with FakeCaptureBoard([rows(0, 5)]) as board:
        with pytest.raises(CaptureError, match="other columns.*nothing was written"):
            _record(board, out, rows=3)
    assert out.read_text() == "gx,gy,label\n1,2,a\n"


def test_ctrl_c_keeps_every_row_received(tmp_path):
    out = tmp_path / "x.csv"

    def stop_after_five(values, summary):
        assert values.shape == (3,) and values.dtype == np.float64
        if summary.rows_kept == 5:
            raise KeyboardInterrupt

    with FakeCaptureBoard([rows(0, 50)]) as board:
        summary = _record(board, out, rows=40, on_row=stop_after_five)
    assert summary.ended == "interrupted" and summary.exit_status == 130
    assert _rows_on_disk(out) == _expected(range(5))


def test_ctrl_c_from_another_thread_keeps_the_rows(tmp_path):
    # Ctrl-C arrives as KeyboardInterrupt in the main thread at any moment: a real SIGINT to
    # this process while rows are streaming
    import os
    import signal

    out = tmp_path / "x.csv"

    def ctrl_c():  # sent by the board once the host is streaming, never before
        os.kill(os.getpid(), signal.SIGINT)

    script = [rows(0, 10), 0.5, ctrl_c] + [row(i) for i in range(10, 200)]
    # Python turns SIGINT into KeyboardInterrupt only if it was not ignored when Python
    # started, and a shell starts background jobs (`make test &`) with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with FakeCaptureBoard(script) as board:
            summary = _record(board, out, timeout=5.0)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert summary.ended == "interrupted" and summary.exit_status == 0  # no target given
    on_disk = _rows_on_disk(out)
    assert len(on_disk) >= 10 and on_disk == _expected(range(len(on_disk)))


def test_no_banner_says_wrong_baud_or_wrong_sketch(tmp_path):
    with FakeCaptureBoard([b"\xf3\x81\x7f garbage \r\n"], banner=None) as board:
        with pytest.raises(NoBannerError, match="wrong baud or wrong sketch"):
            _record(board, tmp_path / "x.csv", banner_timeout=1.5)
        assert "?" in board.lines  # it asked
    assert not (tmp_path / "x.csv").exists()


def test_a_board_that_greets_only_when_asked_is_recorded(tmp_path):
    out = tmp_path / "x.csv"
    with FakeCaptureBoard([1.0, rows(0, 5)], greet=False) as board:
        summary = _record(board, out, rows=5)
    assert _rows_on_disk(out) == _expected(range(5)) and summary.rejected["board_reset"] == 0


def test_rows_in_the_same_write_as_the_banner_are_kept_and_stale_bytes_before_it_dropped(
        tmp_path):
    # Before the banner: a row and half a row left from before the reset, and noise. Then
    # the banner and the first rows in one write (one USB packet), as a fast board sends them.
    out = tmp_path / "x.csv"
    stale = b"99,99.5,-99\r\n\x00\xff noise\r\n98,98."
    greeting = (BANNER + "\r\n").encode() + rows(0, 4)
    with FakeCaptureBoard([greeting, rows(4, 8)], greet=False, stale=stale,
                          answer=b"") as board:
        summary = _record(board, out, rows=8)
    assert _rows_on_disk(out) == _expected(range(8))
    assert sum(summary.rejected.values()) == 0


def test_a_board_that_answers_the_probe_with_rows_at_once_loses_none(tmp_path):
    # A board that does not reset on open (a Nano 33 BLE) answers "?" and streams on at once;
    # asked twice, it greets twice: the second banner is not a reset and the rows are kept.
    out = tmp_path / "x.csv"
    answer = (BANNER + "\r\n").encode() * 2 + rows(0, 3)
    with FakeCaptureBoard([], greet=False, answer=answer) as board:
        summary = _record(board, out, rows=3)
    assert _rows_on_disk(out) == _expected(range(3))
    assert summary.rejected["board_reset"] == 0


def _hostile_stream(n_rows, seed):
    """``n_rows`` good rows (0, 1, ...) among every kind of bad line, cut into random writes."""
    rng = np.random.default_rng(seed)
    bad = [b"\x00\xff\xfe\x81binary\r\n", b"1,2\r\n", b"1,2,3,4\r\n", b"1,two,3\r\n",
           b"nan,1,2\r\n", b"1,-inf,2\r\n", b"9" * 700 + b",1,2\r\n", b"# comment\r\n",
           b"! sensor hiccup\r\n", b"\r\n", b"5,5." + (BANNER + "\r\n").encode()]
    stream = bytearray((BANNER + "\r\n").encode())  # the first rows follow it at once
    for i in range(n_rows):
        stream += row(i)
        if rng.random() < 0.05:
            stream += bad[rng.integers(len(bad))]
    stream += b"1,2."  # half a row at the close
    cuts = np.cumsum(rng.integers(1, 200, size=len(stream)))
    cuts = [0] + [int(c) for c in cuts[cuts < len(stream)]] + [len(stream)]
    return [bytes(stream[a:b]) for a, b in zip(cuts, cuts[1:])]


def test_a_hostile_board_loses_no_valid_row_after_the_banner(tmp_path):
    # The yardstick: 2,000 good rows among garbage, over-long and binary lines,
    # NaN/Inf, split writes, resets mid-stream and half a row at the close; the first rows
    # in the same write as the banner, stale bytes before it. Every good row is kept.
    out = tmp_path / "x.csv"
    script = _hostile_stream(2000, seed=12)
    with FakeCaptureBoard(script, greet=False, stale=b"7,7.5,-7\r\n\x81\x82 12,1",
                          answer=b"", then="close") as board:
        summary = _record(board, out, label="h", timeout=5.0)
    assert summary.ended == "lost_connection"
    assert _rows_on_disk(out) == _expected(range(2000), "h")
    assert summary.rejected["partial_at_close"] == 1 and summary.rejected["board_reset"] > 0


def test_the_inference_sketch_is_named(tmp_path):
    inference = ("#TINYLAB proto=1 sketch=inference board=uno format=int8 model=f00dcafe "
                 "inputs=64 outputs=10")
    with FakeCaptureBoard(banner=inference) as board:
        with pytest.raises(CaptureError, match="'inference' sketch, not 'capture'"):
            _record(board, tmp_path / "x.csv")


def test_missing_port_lists_the_ports(tmp_path, monkeypatch):
    from tinylab.serial import ports

    monkeypatch.setattr(ports, "serial_ports", lambda: [{"device": "/dev/ttyACM7", "board": "Uno"}])
    with pytest.raises(CaptureError, match=r"no serial port /dev/nope.*/dev/ttyACM7"):
        capture.record("/dev/nope", tmp_path / "x.csv", progress=False)


def test_busy_port(tmp_path):
    with FakeCaptureBoard([rows(0, 3)]) as board:
        import serial

        holder = serial.Serial(board.port, 115200, exclusive=True)
        try:
            with pytest.raises(CaptureError, match="is busy"):
                _record(board, tmp_path / "x.csv")
        finally:
            holder.close()


def test_permission_denied_gives_the_dialout_fix(tmp_path, monkeypatch):
    # Tests may run as root (any port opens): make pyserial fail as it does for a user
    # outside the dialout group.
    import errno

    import serial

    def refuse(self):
        raise serial.SerialException(errno.EACCES, f"could not open port {self.port}: "
                                                   f"[Errno 13] Permission denied")

    monkeypatch.setattr(serial.Serial, "open", refuse)
    with pytest.raises(CaptureError, match="permission denied.*dialout"):
        capture.record("/dev/ttyACM0", tmp_path / "x.csv", progress=False)


@pytest.mark.parametrize("kwargs", [{"rows": 0}, {"seconds": -1}, {"label": "a,b"},
                                    {"timeout": 0}, {"commands": ["G a\nS"]}, {"windows": 0},
                                    {"windows": 1.5}])
def test_bad_arguments(kwargs, tmp_path):
    with pytest.raises(ValueError):
        capture.record("/dev/whatever", tmp_path / "x.csv", **kwargs)


# ----------------------------------------------------------------------------- trigger mode

START, END = b"# window start rows=3\r\n", b"# window end\r\n"


def _framed_on_disk(path):
    lines = Path(path).read_text().splitlines()
    assert lines[0] == "ax,ay,az,window,label"
    return lines[1:]


def _framed(indices, window, label=""):
    return [row(i).decode().strip() + f",{window},{label}" for i in indices]


def test_trigger_mode_keeps_whole_windows_numbered_and_rearms_after_each(tmp_path):
    out = tmp_path / "punch.csv"
    script = [rows(0, 3),                                  # streamed before "T" took effect
              b"# gesture=punch\r\n", b"# armed rows=3\r\n",
              START, rows(10, 13), END, 0.2,
              b"# armed rows=3\r\n", START, rows(20, 23), END, rows(30, 32)]
    with FakeCaptureBoard(script) as board:
        summary = _record(board, out, windows=2, label="punch", commands=["G punch"])
    assert summary.ended == "windows" and summary.exit_status == 0 and summary.trigger
    assert summary.windows_kept == 2 and summary.rows_kept == 6
    assert summary.rows_outside_windows == 3
    assert summary.windows_dropped == dict.fromkeys(capture.WINDOW_DROP_REASONS, 0)
    assert _framed_on_disk(out) == (_framed(range(10, 13), 0, "punch")
                                    + _framed(range(20, 23), 1, "punch"))
    assert board.lines[:4] == ["S", "G punch", "T", "T"]  # disarmed, armed, re-armed after an end
    assert "trigger mode: 2 whole windows kept" in summary.to_text()
    assert "trigger" in summary.meta()


def test_a_window_cut_short_is_dropped_whole_and_counted_by_reason(tmp_path):
    out = tmp_path / "wave.csv"
    script = [START, rows(0, 2), (BANNER + "\r\n").encode(),   # the board resets mid-window
              0.3,                                                # (the host sets it up again)
              START, row(2), b"1,x,3\r\n", row(3), END,          # a row lost: 2 of 3
              START, rows(4, 7), END,                             # a whole window: kept
              START, row(7), b"8,8."]                             # unplugged mid-window, mid-row
    with FakeCaptureBoard(script, then="close") as board:
        summary = _record(board, out, trigger=True, label="wave", commands=["G wave"])
    assert summary.ended == "lost_connection" and summary.exit_status == 1
    assert _framed_on_disk(out) == _framed(range(4, 7), 0, "wave")   # nothing half-saved
    assert summary.windows_kept == 1 and summary.rows_kept == 3
    assert summary.windows_dropped == {"board_reset": 1, "lost_connection": 1, "wrong_rows": 1,
                                       "stopped": 0}
    assert summary.rejected["board_reset"] == 1 and summary.rejected["not_a_number"] == 1
    assert summary.rejected["partial_at_close"] == 1
    assert board.lines[:5] == ["S", "G wave", "T", "G wave", "T"]  # set up again after the reset


def test_a_window_open_when_the_recording_ends_is_dropped(tmp_path):
    out = tmp_path / "flex.csv"
    with FakeCaptureBoard([START, rows(0, 2), 3.0]) as board:
        summary = _record(board, out, seconds=0.8, trigger=True, timeout=5.0)
    assert summary.ended == "seconds" and summary.exit_status == 0
    assert summary.windows_dropped["stopped"] == 1 and summary.rows_kept == 0
    assert _framed_on_disk(out) == []


def test_trigger_mode_resumes_the_numbering_and_windows_never_mix_two(tmp_path):
    out = tmp_path / "g.csv"
    for first in (0, 10):
        with FakeCaptureBoard([START, rows(first, first + 3), END]) as board:
            summary = _record(board, out, windows=1, label="flex")
    assert summary.resumed and summary.rows_in_file == 6
    assert _framed_on_disk(out) == (_framed(range(0, 3), 0, "flex")
                                    + _framed(range(10, 13), 1, "flex"))
    # Same label throughout, but length 2 step 1 cuts within each window only: 2 + 2, not 5.
    X, y = capture.windows(out, length=2, step=1)
    assert X.shape == (4, 2, 3) and X[:, 0, 0].tolist() == [0, 1, 10, 11]
    with pytest.raises(CaptureError, match="other columns"):   # a stream-mode file is not one
        with FakeCaptureBoard([rows(0, 3)]) as board:
            _record(board, out, rows=3)


def test_windows_of_an_array_with_groups():
    X, y = capture.windows(np.arange(6), length=2, step=1, labels=list("aaaaaa"),
                           groups=[0, 0, 0, 1, 1, 1])
    assert X[:, :, 0].tolist() == [[0, 1], [1, 2], [3, 4], [4, 5]]
    with pytest.raises(ValueError, match="one value per row"):
        capture.windows(np.arange(6), 2, 1, labels=list("aaaaaa"), groups=[0, 1])


# ----------------------------------------------------------------------------- windows

def test_windows_golden_case_by_hand():
    # 7 rows: a a a a a b b, one channel = the row number. length 2, step 2:
    # run a (rows 0-4): [0,1] [2,3] (row 4 left over); run b (rows 5-6): [5,6].
    X, y = capture.windows(np.arange(7), length=2, step=2, labels=list("aaaaabb"))
    assert X.shape == (3, 2, 1) and X.dtype == np.float32
    assert X[:, :, 0].tolist() == [[0, 1], [2, 3], [5, 6]]
    assert y.tolist() == ["a", "a", "b"]
    # step 1 overlaps: run a gives 4 windows, run b 1.
    X, y = capture.windows(np.arange(7), length=2, step=1, labels=list("aaaaabb"))
    assert X[:, 0, 0].tolist() == [0, 1, 2, 3, 5] and y.tolist() == list("aaaab")
    X, y = capture.windows(np.arange(3), length=5, step=1, labels=list("aaa"))
    assert X.shape == (0, 5, 1) and y.shape == (0,)


def test_windows_of_a_recorded_csv(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("ax,ay,az,label\n" + "".join(f"{i},{i}.5,-{i},{'ab'[i >= 4]}\n"
                                                 for i in range(7)))
    X, y = capture.windows(out, length=3, step=1)
    assert X.shape == (3, 3, 3) and y.tolist() == ["a", "a", "b"]
    assert X[1].tolist() == [[1, 1.5, -1], [2, 2.5, -2], [3, 3.5, -3]]
    with pytest.raises(ValueError, match="no label column 'gesture'"):
        capture.windows(out, 3, 1, label_column="gesture")


def test_save_dataset_round_trips_through_load_recorded(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4, 3)).astype(np.float32)
    y = np.array(["punch", "flex"] * 10)
    meta = {"board": "uno", "sensor": "simimu", "sample_rate_hz": 50.0,
            "units": {"ax": "g", "ay": "g", "az": "g"}, "simulated": True, "date": "2025-01-02"}
    folder = capture.save_dataset(X, y, "gestures", meta, columns=["ax", "ay", "az"],
                                  root=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "data.csv", "meta.json"]
    stored = json.loads((folder / "meta.json").read_text())
    assert stored["feature_columns"][:4] == ["ax_0", "ay_0", "az_0", "ax_1"]
    assert stored["provenance"]["simulated"] is True and stored["provenance"]["date"] == "2025-01-02"
    loaded = data.load_recorded(folder, seed=0)
    assert loaded.input_shape == (4, 3) and loaded.class_names == ("flex", "punch")
    got = np.concatenate([loaded.X_train, loaded.X_val, loaded.X_test])
    labels = np.concatenate([loaded.y_train, loaded.y_val, loaded.y_test])
    order = np.lexsort(got.reshape(len(got), -1).T)
    want_order = np.lexsort(X.reshape(len(X), -1).T)
    np.testing.assert_array_equal(got[order], X[want_order])
    assert [loaded.class_names[i] for i in labels[order]] == y[want_order].tolist()
    with pytest.raises(ValueError, match="exists already"):
        capture.save_dataset(X, y, "gestures", meta, root=tmp_path)
    with pytest.raises(ValueError, match="meta lacks"):
        capture.save_dataset(X, y, "other", {"board": "uno"}, root=tmp_path)


def test_record_then_window_then_dataset(tmp_path):
    out = tmp_path / "r.csv"
    with FakeCaptureBoard([rows(0, 12)]) as board:
        first = _record(board, out, rows=9, label="punch")
    with FakeCaptureBoard([rows(0, 12)]) as board:
        _record(board, out, rows=9, label="idle")
    X, y = capture.windows(out, length=3, step=3)
    assert X.shape == (6, 3, 3) and y.tolist() == ["punch"] * 3 + ["idle"] * 3
    folder = capture.save_dataset(X, y, "tiny", first.meta(), columns=first.columns, root=tmp_path)
    loaded = data.load_recorded(folder, split=(1 / 3, 1 / 3, 1 / 3))
    assert loaded.n_examples == 6 and loaded.input_shape == (3, 3)
    assert json.loads((folder / "meta.json").read_text())["provenance"]["units"]["ax"] == "g"


class _StreamingPort:
    """A serial port stand-in whose board is in the middle of a row when the host clears."""

    def __init__(self, waiting: bytes, later: bytes):
        self.waiting, self.later = bytearray(waiting), bytearray(later)

    @property
    def in_waiting(self):
        return len(self.waiting)

    def reset_input_buffer(self):
        self.waiting.clear()

    def read(self, n):
        if not self.waiting:
            self.waiting, self.later = self.later, bytearray()
        chunk = bytes(self.waiting[:n])
        del self.waiting[:n]
        return chunk


def _link_on(port):
    link = capture._Link.__new__(capture._Link)
    link.port, link.serial, link.buffer, link.skipping = "fake", port, bytearray(), False
    return link


def test_a_clear_that_cuts_a_row_drops_the_rows_tail_not_the_next_row():
    link = _link_on(_StreamingPort(b"1.0,2.", b"5\n3.0,4.0\n"))  # "1.0,2." then "5\n" arrives
    link.clear()
    assert link.next_line(time.monotonic() + 1) == b"3.0,4.0"


def test_a_clear_between_rows_keeps_the_next_row():
    link = _link_on(_StreamingPort(b"", b"3.0,4.0\n"))
    link.clear()
    assert link.next_line(time.monotonic() + 1) == b"3.0,4.0"
