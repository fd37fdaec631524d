"""The draw-a-digit app's panel, driven without a browser, on the virtual Uno for real.

The model comes from :func:`tinylab.deep_compressed.load_or_compress` on a short route (the
lesson student pruned and weight-shared, a few epochs) so the module trains for seconds, not
the half minute of the app's distilled route; everything after the model (int8, Huffman
firmware, simavr, serial) is what the app runs.
"""

import html
import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import psutil
import pytest
import traitlets

import tinylab as tl
from tinylab import deep_compressed

@pytest.fixture(autouse=True)
def _own_boards(monkeypatch):
    """Each kernel runs its own board unless a test sets a board server (a shell that
    `tinylab app` started may have one set)."""
    monkeypatch.delenv(tl.board_server.ENV, raising=False)


@pytest.fixture
def compressed(compressed_in_workspace):
    return compressed_in_workspace[0]


@pytest.fixture
def panel(virtual_uno_tools, digits, compressed):
    built = tl.widgets.digit_on_board(digits, compressed=compressed)
    yield built
    built.close()


def _text(widget) -> str:
    return html.unescape(widget.value)


def _host_scores(mlp, digits, counts):
    x = digits.normalize(np.asarray(counts).reshape(digits.input_shape))[np.newaxis]
    return tl.engine.run_int8(mlp, tl.engine.quantize_inputs(mlp, x))[0]


def _gone(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_load_or_compress_saves_once_and_reads_back(compressed_in_workspace, digits, monkeypatch,
                                                    quick_route):
    made, workspace = compressed_in_workspace
    assert not made.cached and made.card["route"] == quick_route
    assert made.card["model_hash"] == made.mlp.model_hash
    assert 0.5 < made.card["int8_test_accuracy"] <= 1
    monkeypatch.setenv("TINYLAB_WORKSPACE", str(workspace))
    again = deep_compressed.load_or_compress(digits, route=quick_route)
    assert again.cached and again.tflite == made.tflite
    assert again.mlp.model_hash == made.mlp.model_hash
    # The app's route is lesson 08's and bench/mcu.py's distilled one.
    assert deep_compressed.DISTILLED_ROUTE == {"model": "mlp300", "student": "student",
                                               "sparsity": 0.7, "bits": 4}


def test_the_board_answers_test_digits_bit_identical_with_the_host(panel, digits, compressed):
    c = panel.controls
    assert panel.ready and "ready" in _text(c["status"]) and "huffman" in _text(c["status"])
    assert panel.firmware.board == "uno" and panel.board.running
    for key, css in (("canvas", "tl-canvas"), ("status", "tl-board-status"),
                     ("prediction", "tl-board-prediction"), ("predict", "tl-predict"),
                     ("port", "tl-port")):
        assert css in c[key]._dom_classes, key
    for i in range(4):
        counts = digits.raw(digits.X_test[i]).reshape(8, 8)
        result = panel.predict_counts(counts)
        assert result is not None, _text(c["prediction"])
        host = _host_scores(compressed.mlp, digits, counts)
        np.testing.assert_array_equal(result["board_scores"], host)   # bit for bit
        assert result["bit_identical"] and result["host_class"] == int(np.argmax(host))
        assert result["board_class"] == result["host_class"]
        assert result["float_class"] in range(10) and result["cycles"] > 1000
        shown = _text(c["prediction"])
        assert (f"board: {result['board_class']} · host: {result['host_class']} · "
                f"{result['latency_us'] / 1000:.1f} ms ({result['cycles']:,} cycles) on the "
                f"board") in " ".join(shown.replace("<b>", "").replace("</b>", "").split())
        assert "bit-identical" in shown


def test_a_stroke_predicts_when_the_pen_lifts_and_predict_asks_again(panel, digits, compressed):
    c = panel.controls
    canvas = c["canvas"]
    assert panel.result is None
    # The pen lifts in the browser: the canvas's strokes gain the whole stroke (one update).
    canvas.set_state({"strokes": [[[128, y] for y in range(24, 240, 8)]]})
    first = panel.result
    assert first is not None, _text(c["prediction"])
    counts = c["pad"].digit()
    np.testing.assert_array_equal(first["board_scores"], _host_scores(compressed.mlp, digits, counts))
    assert f"board: <b>{first['board_class']}</b>" in c["prediction"].value
    c["predict"].click()                              # the button asks about the same drawing
    assert panel.result is not first and not c["predict"].disabled
    np.testing.assert_array_equal(panel.result["board_scores"], first["board_scores"])
    c["clear"].click()
    assert panel.result is None and "Draw a digit" in c["prediction"].value
    c["predict"].click()
    assert "the pad is empty" in _text(c["prediction"]) and panel.result is None


def test_a_crashed_board_is_reported_in_words_and_restarted(panel, digits):
    c = panel.controls
    counts = digits.raw(digits.X_test[0]).reshape(8, 8)
    pid = panel.board.pid
    os.kill(pid, signal.SIGKILL)                      # the simulation dies under the panel
    assert panel.predict_counts(counts) is None
    said = _text(c["prediction"])
    assert "Traceback" not in said and "killed by signal 9" in said, said
    assert "ready" not in _text(c["status"]) and "Press Predict" in _text(c["status"])
    assert not panel.ready and panel.board is None and _gone(pid)
    result = panel.predict_counts(counts)             # Predict starts a fresh virtual Uno
    assert result is not None and result["bit_identical"], _text(c["prediction"])
    assert panel.ready and "ready" in _text(c["status"]) and panel.board.pid != pid


def test_a_silent_board_is_reported_in_words(virtual_uno_tools, digits, compressed):
    panel = tl.widgets.digit_on_board(digits, compressed=compressed, timeout_s=1.0)
    try:
        pid = panel.board.pid
        os.kill(pid, signal.SIGSTOP)                  # alive but not answering
        wake = threading.Timer(2.0, os.kill, (pid, signal.SIGCONT))
        wake.start()
        assert panel.predict_counts(digits.raw(digits.X_test[0]).reshape(8, 8)) is None
        wake.join()
        said = _text(panel.controls["prediction"])
        assert "did not answer" in said and "Traceback" not in said, said
        assert not panel.ready and panel.board is None and _gone(pid)
    finally:
        panel.close()


def test_visitors_choose_boards_from_a_list_and_close_stops_the_board(panel):
    port = panel.controls["port"]
    assert port.options[0] == ("virtual Uno", "virtual") and port.value == "virtual"
    with pytest.raises(traitlets.TraitError):         # no free-text device path
        port.value = "/etc/passwd"
    pid = panel.board.pid
    panel.close()
    assert panel.board is None and panel.device is None and _gone(pid)


def test_a_board_that_cannot_start_is_explained_on_the_page(virtual_uno_tools, digits, compressed,
                                                            monkeypatch):
    def cannot_start(self):
        raise tl.virtual.HarnessBuildError("the virtual Uno needs simavr headers; install them")

    monkeypatch.setattr(tl.virtual.VirtualUno, "start", cannot_start)
    panel = tl.widgets.digit_on_board(digits, compressed=compressed)
    c = panel.controls
    status = _text(c["status"])
    assert not panel.ready and "ready" not in status and "Traceback" not in status
    assert "cannot run on this machine" in status and "simavr headers" in status
    assert panel.predict_counts(digits.raw(digits.X_test[0]).reshape(8, 8)) is None
    assert "simavr headers" in _text(c["prediction"])
    with pytest.raises(ValueError, match="format"):
        tl.widgets.digit_on_board(digits, compressed=compressed, format="zip")
    panel.close()


def test_the_drawing_pad_hands_each_finished_stroke_to_on_digit():
    seen = []
    pad = tl.widgets.drawing_pad(on_digit=seen.append)
    canvas = pad.controls["canvas"]
    canvas.set_state({"strokes": [[[128, 24], [128, 200]]]})   # the browser: the pen lifted
    pad.draw_stroke([(40, 128), (220, 128)])
    assert len(seen) == 2 and seen[0].shape == (8, 8)
    np.testing.assert_array_equal(seen[-1], pad.digit())
    pad.controls["clear"].click()                     # clearing asks no one
    assert len(seen) == 2 and pad.strokes == []
    with pytest.raises(TypeError, match="on_digit"):
        tl.widgets.drawing_pad(on_digit="print")

    def broken(counts):
        raise ValueError("no board here")

    pad = tl.widgets.drawing_pad(on_digit=broken)
    pad.draw_stroke([(40, 128), (220, 128)])          # the pad shows it; the stroke stays
    assert "no board here" in pad.controls["status"].value and len(pad.strokes) == 1


def test_the_drawing_pad_keeps_its_drawing_in_the_widget_state():
    """Voila connects the page after the notebook ran: what was drawn is in the state the
    page reads first, nothing has to be painted again for it."""
    pad = tl.widgets.drawing_pad()
    pad.draw_stroke([(40, 128), (220, 128)])
    assert pad.controls["canvas"].get_state()["strokes"] == [[(40.0, 128.0), (220.0, 128.0)]]


def test_a_board_on_a_serial_port_that_carries_the_model_is_used_without_upload(
        virtual_uno_tools, digits, compressed, monkeypatch):
    """A second virtual Uno stands in for a real board on a serial port (its pty)."""
    firmware = tl.build.check_fits(tl.deploy.build_firmware(compressed.mlp, "huffman", "uno"))
    with tl.virtual.VirtualUno(firmware) as plugged_in:
        monkeypatch.setattr(tl.flash, "list_ports", lambda: [
            {"device": plugged_in.port, "board": "Arduino Uno", "accessible": True}])
        monkeypatch.setattr(tl.flash, "upload", lambda *args, **kwargs: pytest.fail(
            "the board carries the model already: nothing to upload"))
        panel = tl.widgets.digit_on_board(digits, compressed=compressed)
        try:
            port, status = panel.controls["port"], panel.controls["status"]
            assert port.options[1] == (f"{plugged_in.port} - Arduino Uno", plugged_in.port)
            own = panel.board.pid
            port.value = plugged_in.port
            assert panel.ready and f"{plugged_in.port} ready" in _text(status), _text(status)
            assert panel.board is None and _gone(own)     # the panel's virtual Uno stopped
            counts = digits.raw(digits.X_test[1]).reshape(8, 8)
            result = panel.predict_counts(counts)
            assert result is not None, _text(panel.controls["prediction"])
            np.testing.assert_array_equal(result["board_scores"],
                                          _host_scores(compressed.mlp, digits, counts))
            port.value = "virtual"                        # and back to a fresh virtual Uno
            assert panel.ready and panel.board.running and "virtual Uno ready" in _text(status)
        finally:
            panel.close()


def test_a_failed_upload_is_explained_on_the_page(virtual_uno_tools, digits, compressed, monkeypatch):
    echo = tl.build.check_fits(tl.build.compile_sketch(tl.boards.BOARDS_DIR / "sketches" / "echo",
                                                       board="uno"))
    with tl.virtual.VirtualUno(echo) as other_sketch:      # no TinyLab inference banner
        monkeypatch.setattr(tl.flash, "list_ports", lambda: [
            {"device": other_sketch.port, "board": None, "description": "n/a"}])

        def upload(firmware, port, board):
            raise tl.flash.FlashError("no uploader: install arduino-cli or avrdude", "no-uploader")

        monkeypatch.setattr(tl.flash, "upload", upload)
        panel = tl.widgets.digit_on_board(digits, compressed=compressed)
        try:
            panel.controls["port"].value = other_sketch.port
            status = _text(panel.controls["status"])
            assert not panel.ready and "ready" not in status and "Traceback" not in status
            assert "uploading the firmware failed: no uploader" in status, status
        finally:
            panel.close()


def test_the_float_answer_comes_from_litert_and_equals_the_keras_models(compressed, digits):
    """The float model's class is LiteRT's on the float .tflite (no TensorFlow in an app
    kernel); it must be the Keras model's own answer."""
    litert = compressed.float_classes(digits.X_test)
    keras_classes = tl.train.predict_classes(compressed.model, digits.X_test)
    assert np.mean(litert == keras_classes) >= 0.995   # a near-tie may round the other way
    assert compressed.float_tflite[4:8] == b"TFL3"


def test_a_saved_model_reaches_the_board_without_importing_tensorflow(
        compressed_in_workspace, quick_route, virtual_uno_tools, tmp_path):
    """The draw-a-digit app's kernel, once the model is saved: the panel starts, the virtual
    Uno answers bit-identical and the float model answers, and TensorFlow is never imported
    (about 700 MiB of a kernel, issue 18)."""
    _, workspace = compressed_in_workspace
    script = tmp_path / "app_kernel.py"
    script.write_text(
        "import json, sys\n"
        "import tinylab as tl\n"
        "from tinylab import deep_compressed\n"
        "data = tl.data.load('digits', seed=0)\n"
        f"compressed = deep_compressed.load_or_compress(data, route={quick_route!r})\n"
        "panel = tl.widgets.digit_on_board(data, compressed=compressed)\n"
        "answer = panel.predict_counts(data.raw(data.X_test[0]).reshape(8, 8))\n"
        "panel.close()\n"
        "print(json.dumps({'cached': compressed.cached, 'tensorflow': 'tensorflow' in sys.modules,"
        " 'keras': 'keras' in sys.modules, 'bit_identical': answer['bit_identical'],"
        " 'float_class': answer['float_class']}))\n")
    env = dict(os.environ, TINYLAB_WORKSPACE=str(workspace), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["cached"] and result["bit_identical"] and result["float_class"] in range(10)
    assert not result["tensorflow"] and not result["keras"], result


# ----------------------------------------------------------------------------- with a board server

@pytest.fixture(scope="module")
def shared_boards(virtual_uno_tools):
    """A board server with two virtual Unos per firmware, as `tinylab app` starts it."""
    with tl.board_server.start(boards=2) as server:
        yield server


def _own_simavr() -> list:
    """simavr harnesses this test process started itself (the server's are its own children)."""
    return [child.pid for child in psutil.Process().children()
            if child.name() == "tinylab-harness" and child.status() != psutil.STATUS_ZOMBIE]


def _pool_of(server, model_hash, port=None) -> dict:
    pools = [pool for pool in server.status()["pools"]
             if pool["model_hash"] == model_hash and pool["port"] == port]
    assert len(pools) == 1, pools
    return pools[0]


def test_with_a_board_server_the_kernel_runs_no_board_and_answers_bit_identical(
        shared_boards, digits, compressed, monkeypatch):
    monkeypatch.setenv(tl.board_server.ENV, str(shared_boards.socket))
    panel = tl.widgets.digit_on_board(digits, compressed=compressed)
    try:
        c = panel.controls
        status = _text(c["status"])
        assert panel.ready and panel.shared and panel.board is None, status
        assert isinstance(panel.session, tl.board_server.SharedBoardSession)
        assert "shared virtual Uno ready" in status and "huffman" in status
        assert "one of the board server's 2 shared virtual Unos" in status
        for i in range(3):
            counts = digits.raw(digits.X_test[i]).reshape(8, 8)
            result = panel.predict_counts(counts)
            assert result is not None, _text(c["prediction"])
            np.testing.assert_array_equal(result["board_scores"],
                                          _host_scores(compressed.mlp, digits, counts))
            assert result["bit_identical"] and result["cycles"] > 1000
            assert "shared virtual Uno" in _text(c["prediction"])
        assert _own_simavr() == []                        # the kernel started no simavr
        pool = _pool_of(shared_boards, compressed.mlp.model_hash)
        below = {child.pid for child in psutil.Process(shared_boards.process.pid).children()}
        assert pool["pids"] and set(pool["pids"]) <= below  # the server's boards answered
    finally:
        panel.close()
    assert all(psutil.pid_exists(pid) for pid in pool["pids"])  # still there for the others


def test_a_shared_board_that_goes_silent_is_reported_and_replaced(
        virtual_uno_tools, digits, compressed, monkeypatch):
    counts = digits.raw(digits.X_test[0]).reshape(8, 8)
    with tl.board_server.start(boards=1) as server:
        monkeypatch.setenv(tl.board_server.ENV, str(server.socket))
        panel = tl.widgets.digit_on_board(digits, compressed=compressed, timeout_s=1.0)
        try:
            c = panel.controls
            assert panel.ready, _text(c["status"])
            assert "one of the board server's 1 shared virtual Uno)" in _text(c["status"])
            silent = _pool_of(server, compressed.mlp.model_hash)["pids"][0]
            os.kill(silent, signal.SIGSTOP)               # alive, but not answering
            assert panel.predict_counts(counts) is None
            said, status = _text(c["prediction"]), _text(c["status"])
            assert "within 1 s" in said and "Traceback" not in said, said
            assert not panel.ready and "fresh one" in status and "Press Predict" in status
            result = panel.predict_counts(counts)         # the server started another
            assert result is not None and result["bit_identical"], _text(c["prediction"])
            assert panel.ready and "shared virtual Uno ready" in _text(c["status"])
            assert _pool_of(server, compressed.mlp.model_hash)["pids"] not in ([], [silent])
            assert not psutil.pid_exists(silent) or psutil.Process(silent).status() == \
                psutil.STATUS_ZOMBIE
        finally:
            panel.close()


def test_with_a_board_server_a_board_on_a_port_is_used_through_it(
        shared_boards, digits, compressed, monkeypatch):
    """A virtual Uno started by the test stands in for a real board plugged into the server."""
    monkeypatch.setenv(tl.board_server.ENV, str(shared_boards.socket))
    firmware = tl.build.check_fits(tl.deploy.build_firmware(compressed.mlp, "huffman", "uno"))
    with tl.virtual.VirtualUno(firmware) as plugged_in:
        monkeypatch.setattr(tl.flash, "list_ports", lambda: [
            {"device": plugged_in.port, "board": "Arduino Uno", "accessible": True}])
        panel = tl.widgets.digit_on_board(digits, compressed=compressed)
        try:
            port, status = panel.controls["port"], panel.controls["status"]
            port.value = plugged_in.port
            assert panel.ready and f"{plugged_in.port} ready" in _text(status), _text(status)
            assert "shared through the board server" in _text(status) and panel.board is None
            counts = digits.raw(digits.X_test[1]).reshape(8, 8)
            result = panel.predict_counts(counts)
            assert result is not None, _text(panel.controls["prediction"])
            np.testing.assert_array_equal(result["board_scores"],
                                          _host_scores(compressed.mlp, digits, counts))
            pool = _pool_of(shared_boards, compressed.mlp.model_hash, plugged_in.port)
            assert pool["started"] == 1 and pool["pids"] == []
            port.value = "virtual"                        # back to the shared virtual Unos
            assert panel.ready and "shared virtual Uno ready" in _text(status)
        finally:
            panel.close()


def test_a_board_server_that_is_not_there_is_explained_on_the_page(
        virtual_uno_tools, digits, compressed, monkeypatch, tmp_path):
    monkeypatch.setenv(tl.board_server.ENV, str(tmp_path / "gone.sock"))
    panel = tl.widgets.digit_on_board(digits, compressed=compressed)
    try:
        status = _text(panel.controls["status"])
        assert not panel.ready and "Traceback" not in status
        assert "the board server could not answer" in status and "tinylab app" in status, status
        assert panel.predict_counts(digits.raw(digits.X_test[0]).reshape(8, 8)) is None
        assert "unset TINYLAB_BOARD_SERVER" in _text(panel.controls["prediction"])
        assert panel.board is None and _own_simavr() == []
    finally:
        panel.close()
