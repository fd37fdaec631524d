"""Tests for tinylab.session.BoardSession: a firmware on a board, real or virtual, and its link.

Real firmware on the virtual Uno throughout; a second virtual Uno's pty stands in for a real
board's port (a board that already carries the model, or one running another sketch). Only
the upload itself is replaced (by a function that records its call): a real upload needs a
real board, and flash.upload is tested on its own with fake avrdude/arduino-cli (test_flash).
"""

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinylab import build, flash, virtual
from tinylab.session import BoardSession

FAKES = Path(__file__).parent / "fakes"
sys.path.insert(0, str(FAKES))
from fake_board import BANNER, reference_scores  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SKETCH = ROOT / "boards" / "sketches" / "inference" / "inference.ino"
MODEL = "f00dcafe"  # the stand-in model's hash (tests/fakes/model)


@pytest.fixture(scope="module")
def firmware(tmp_path_factory, virtual_uno_tools):
    """The inference sketch with the stand-in model of tests/fakes/model, for the Uno."""
    sketch_dir = tmp_path_factory.mktemp("sketches") / "inference"
    sketch_dir.mkdir()
    shutil.copy(SKETCH, sketch_dir)
    shutil.copy(SKETCH.with_name("tl_measure.h"), sketch_dir)
    for name in ("model.h", "model.c"):
        shutil.copy(FAKES / "model" / name, sketch_dir)
    return build.compile_sketch(sketch_dir, board="uno")


@pytest.fixture(scope="module")
def echo_firmware(virtual_uno_tools):
    return build.compile_sketch(ROOT / "boards" / "sketches" / "echo", board="uno")


@pytest.fixture
def uploads(monkeypatch):
    """Record flash.upload's calls; the 'upload' leaves the board as it is."""
    calls = []

    def upload(firmware, port, board):
        calls.append((firmware.board, port, board))
        return {"port": port}

    monkeypatch.setattr(flash, "upload", upload)
    return calls


def _x(seed):
    return np.random.default_rng(seed).integers(-128, 128, 64).astype(np.int8)


def test_a_virtual_session_starts_the_board_and_hands_out_the_link(firmware):
    with BoardSession(firmware, model_hash=MODEL) as session:
        assert session.virtual and session.running and session.port == session.board.port
        link = session.device()
        assert link.banner["model"] == MODEL and session.device() is link  # opened once
        label, scores, _ = link.infer(_x(0))
        assert scores.tolist() == reference_scores(_x(0)).tolist()
        board = session.board
    assert not board.running and session.board is None and session.link is None


def test_a_crashed_virtual_board_is_started_again(firmware):
    with BoardSession(firmware, model_hash=MODEL) as session:
        first = session.board
        session.device()
        os.kill(first.pid, signal.SIGKILL)   # the simulation dies under the session
        with pytest.raises(virtual.VirtualBoardError, match="signal 9"):
            for _ in range(100):             # until the harness is seen to have ended
                session.check()
                time.sleep(0.05)
        link = session.device()       # a fresh virtual Uno, a fresh link
        assert session.board is not first and session.board.running and link.is_open
        assert link.infer(_x(1))[1].tolist() == reference_scores(_x(1)).tolist()


def test_a_board_that_carries_the_model_is_not_uploaded_to(firmware, uploads):
    with virtual.VirtualUno(firmware) as plugged_in:
        with BoardSession(firmware, plugged_in.port, model_hash=MODEL) as session:
            assert session.uploaded is None and uploads == []
            assert session.device().banner["model"] == MODEL


def test_a_board_running_another_sketch_is_uploaded_to_once(firmware, echo_firmware, uploads):
    said = []
    with virtual.VirtualUno(echo_firmware) as other_sketch:
        session = BoardSession(firmware, other_sketch.port, model_hash=MODEL,
                               on_upload=said.append)
        session.open()
        session.close()
    assert uploads == [("uno", other_sketch.port, "uno")] and said == [other_sketch.port]
    assert session.uploaded == {"port": other_sketch.port}


def test_upload_always_and_never(firmware, uploads):
    with virtual.VirtualUno(firmware) as plugged_in:
        with BoardSession(firmware, plugged_in.port, model_hash=MODEL, upload="always"):
            pass
        with BoardSession(firmware, plugged_in.port, upload="never") as session:
            assert session.port == plugged_in.port
        with BoardSession(None, plugged_in.port) as session:  # the sketch it runs, as is
            assert session.port == plugged_in.port and not session.virtual
    assert uploads == [("uno", plugged_in.port, "uno")]


def test_a_firmware_too_big_is_refused_before_anything_starts(firmware, monkeypatch, uploads):
    from dataclasses import replace

    too_big = replace(firmware, flash_bytes=firmware.flash_limit_bytes + 1, fits=False)
    monkeypatch.setattr(virtual, "VirtualUno", lambda *a, **k: pytest.fail("started a board"))
    with pytest.raises(build.DoesNotFit, match="flash"):
        BoardSession(too_big)
    with pytest.raises(build.DoesNotFit):
        BoardSession(too_big, "/dev/ttyACM0")
    assert uploads == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="needs a firmware"):
        BoardSession()
    with pytest.raises(ValueError, match="upload must be one of"):
        BoardSession(None, "/dev/ttyACM0", upload="sometimes")


def test_the_fake_boards_banner_names_the_same_model():
    assert f"model={MODEL}" in BANNER
