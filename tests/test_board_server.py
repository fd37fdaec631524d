"""Tests for tinylab.board_server: one process that runs the apps' boards for every kernel.

Real boards throughout: the server's virtual Unos run in simavr, and a virtual Uno started by
the test stands in for a real board on a serial port (its pty). The model is a 64-32-10 int8
MLP made in numpy (no training, no TensorFlow), so its firmware compiles in about two
seconds and every answer can be compared with :func:`tinylab.engine.run_int8` bit for bit.
"""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import psutil
import pytest

from tinylab import board_server, build, deploy, engine, virtual
from tinylab.board_server import BoardServerError, SharedBoardSession
from tinylab.serial.errors import SerialError

HARNESS = "tinylab-harness"


@pytest.fixture(scope="module")
def mlp(random_mlp):
    return random_mlp()


@pytest.fixture(scope="module")
def firmware(virtual_uno_tools, mlp):
    return build.check_fits(deploy.build_firmware(mlp, "int8", "uno"))


@pytest.fixture(scope="module")
def test_inputs(mlp, digits):
    """The int8 inputs of 12 different test digits, and the host's scores for them."""
    x_int8 = engine.quantize_inputs(mlp, digits.X_test[:12].reshape(12, -1))
    return x_int8, engine.run_int8(mlp, x_int8)


@pytest.fixture(scope="module")
def server(firmware):
    with board_server.start(boards=2) as started:
        yield started


def _harnesses(process) -> list:
    """The simavr harnesses running below ``process`` (a psutil.Process or a pid)."""
    process = process if isinstance(process, psutil.Process) else psutil.Process(process)
    try:
        below = process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in below:
        try:
            if child.name() == HARNESS and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def _pool(server, *, port=None) -> dict:
    pools = [pool for pool in server.status()["pools"] if pool["port"] == port]
    assert len(pools) == 1, pools
    return pools[0]


def _gone(pid, within_s=5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _two_boards(server, load) -> dict:
    """The pool once it runs two boards again: a board starts when requests wait, so
    ``load()`` (a burst of requests) runs until one has (about half a second each)."""
    for _ in range(20):
        pool = _pool(server)
        if len(pool["pids"]) == 2:
            return pool
        load()
    raise AssertionError(f"the pool did not start a second board again: {pool}")


def test_clients_in_threads_and_another_process_share_two_boards_bit_exact(
        server, firmware, mlp, test_inputs, tmp_path):
    x_int8, host = test_inputs
    # Another kernel: a separate Python that finds the server in TINYLAB_BOARD_SERVER.
    (tmp_path / "firmware.json").write_text(json.dumps(board_server.firmware_fields(firmware)))
    script = tmp_path / "kernel.py"
    script.write_text(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from tinylab import board_server, build\n"
        "fields = json.loads(Path(sys.argv[1]).read_text())\n"
        "for key in ('sketch_dir', 'build_dir', 'elf_path', 'hex_path'):\n"
        "    fields[key] = Path(fields[key])\n"
        "session = board_server.SharedBoardSession(build.BuildResult(**fields),\n"
        f"                                         model_hash={mlp.model_hash!r})\n"
        "link = session.open().device()\n"
        "answers = []\n"
        f"for x in {x_int8[8:11].tolist()!r}:\n"
        "    label, scores, latency_us = link.infer(x)\n"
        "    answers.append([label, scores.tolist(), link.last_cycles])\n"
        "print(json.dumps(answers))\n")
    other = subprocess.Popen([sys.executable, str(script), str(tmp_path / "firmware.json")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **server.env})
    answers, errors, most_harnesses = {}, [], []
    start = threading.Barrier(8)
    done = threading.Event()

    def watch():  # never more than two simavr under the server
        while not done.is_set():
            most_harnesses.append(len(_harnesses(server.process.pid)))
            time.sleep(0.02)

    def kernel(i):
        try:
            link = SharedBoardSession(firmware, model_hash=mlp.model_hash,
                                      socket=server.socket).device()
            start.wait(10)
            for repeat in range(3):
                label, scores, latency_us = link.infer(x_int8[i])
                answers[i, repeat] = (label, scores, latency_us, link.last_cycles)
        except Exception as error:  # reported below
            errors.append(error)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=kernel, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    out, err = other.communicate(timeout=60)
    done.set()
    watcher.join()
    assert errors == [] and len(answers) == 24
    for (i, _), (label, scores, latency_us, cycles) in answers.items():
        np.testing.assert_array_equal(scores, host[i])      # the board's own, bit for bit
        assert scores.dtype == np.int8 and label == int(np.argmax(host[i]))
        assert cycles > 64 * 32 and latency_us > 0
    assert other.returncode == 0, err[-2000:]
    for (label, scores, cycles), expected in zip(json.loads(out), host[8:11]):
        assert scores == expected.tolist() and label == int(np.argmax(expected)) and cycles > 0
    pool = _pool(server)
    assert pool["capacity"] == 2 and pool["started"] == 2 and len(pool["pids"]) == 2
    assert pool["most_busy"] == 2 and max(most_harnesses) <= 2
    assert sorted(p.pid for p in _harnesses(server.process.pid)) == pool["pids"]


def test_a_killed_or_silent_board_is_replaced(firmware, mlp, test_inputs):
    x_int8, host = test_inputs
    with board_server.start(boards=2) as server:
        def burst(n=6):
            """n concurrent requests (test digits 0..n-1); each answer, or its error."""
            results = [None] * n
            start = threading.Barrier(n)

            def ask(i):
                link = SharedBoardSession(firmware, model_hash=mlp.model_hash, timeout=1.0,
                                          socket=server.socket).device()
                start.wait(10)
                try:
                    results[i] = link.infer(x_int8[i])[1]
                except Exception as error:
                    results[i] = error
            threads = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            return results

        def answered(results):
            for i, result in enumerate(results):
                assert isinstance(result, np.ndarray), result
                np.testing.assert_array_equal(result, host[i])

        answered(burst())
        first, second = _pool(server)["pids"]
        # A crash while idle: found before anyone uses the board, and replaced.
        os.kill(first, signal.SIGKILL)
        assert _gone(first)
        answered(burst())
        pool = _two_boards(server, lambda: answered(burst()))
        assert first not in pool["pids"] and pool["retired"] == 1 and pool["started"] == 3
        assert len(_harnesses(server.process.pid)) <= 2
        # A crash in the middle of a burst: a request it cuts short gets the reason in words.
        doomed = pool["pids"][0]
        killer = threading.Timer(0.05, os.kill, (doomed, signal.SIGKILL))
        killer.start()
        results = burst(8)
        killer.join()
        for i, result in enumerate(results):
            if isinstance(result, Exception):
                assert isinstance(result, (virtual.VirtualBoardError, SerialError)), result
                assert "killed by signal 9" in str(result) or "within 1 s" in str(result)
            else:
                np.testing.assert_array_equal(result, host[i])
        assert _gone(doomed)
        answered(burst())
        assert doomed not in _two_boards(server, lambda: answered(burst()))["pids"]
        # A board that goes silent mid-life (SIGSTOP): the request it holds fails in words
        # after its timeout, the board is stopped, and the next requests are answered.
        silent = _pool(server)["pids"][0]
        os.kill(silent, signal.SIGSTOP)
        link = SharedBoardSession(firmware, model_hash=mlp.model_hash, timeout=1.0,
                                  socket=server.socket).device()
        failed = []
        for i in range(4):               # round robin: the silent board's turn comes
            try:
                np.testing.assert_array_equal(link.infer(x_int8[i])[1], host[i])
            except SerialError as error:
                failed.append(error)
        assert len(failed) == 1 and "within 1 s" in str(failed[0]), failed
        assert _gone(silent)
        answered(burst())
        assert _pool(server)["retired"] == 3 and len(_harnesses(server.process.pid)) <= 2
        assert "virtual Uno" in server.log() and "failed a request" in server.log()


def test_a_board_on_a_port_serves_one_request_at_a_time(server, firmware, mlp, test_inputs):
    """A virtual Uno started by the test stands in for a real board plugged into the server."""
    x_int8, host = test_inputs
    with virtual.VirtualUno(firmware) as plugged_in:
        answers, errors = {}, []
        start = threading.Barrier(6)

        def kernel(i):
            try:
                session = SharedBoardSession(firmware, plugged_in.port,
                                             model_hash=mlp.model_hash, socket=server.socket)
                start.wait(10)
                link = session.device()
                for repeat in range(2):
                    answers[i, repeat] = link.infer(x_int8[i])[1]
            except Exception as error:
                errors.append(error)

        threads = [threading.Thread(target=kernel, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == [] and len(answers) == 12
        for (i, _), scores in answers.items():
            np.testing.assert_array_equal(scores, host[i])   # no answer mixed with another's
        pool = _pool(server, port=plugged_in.port)
        assert pool["capacity"] == 1 and pool["most_busy"] == 1 and pool["started"] == 1
        assert pool["pids"] == []                  # the server started no simavr for it
        assert plugged_in.running and "uploading" not in server.log()  # it carried the model


def test_no_server_is_an_error_that_names_the_fix(firmware, mlp, tmp_path, monkeypatch):
    with pytest.raises(BoardServerError, match="there is no socket") as raised:
        SharedBoardSession(firmware, model_hash=mlp.model_hash, socket=tmp_path / "none").open()
    assert "tinylab app" in str(raised.value) and "TINYLAB_BOARD_SERVER" in str(raised.value)
    left = tmp_path / "left.sock"                    # a socket its killed server left behind
    with socket.socket(socket.AF_UNIX) as nobody:
        nobody.bind(str(left))
    with pytest.raises(BoardServerError, match="nobody listens"):
        SharedBoardSession(firmware, socket=left).open()
    monkeypatch.delenv(board_server.ENV, raising=False)
    with pytest.raises(BoardServerError, match="tinylab app"):
        SharedBoardSession(firmware)


def test_malformed_requests_get_error_replies_and_the_server_keeps_serving(
        server, firmware, mlp, test_inputs, tmp_path):
    x_int8, host = test_inputs
    good = {"op": "infer", "firmware": board_server.firmware_fields(firmware),
            "model_hash": mlp.model_hash, "port": None, "x": x_int8[0].tolist(), "timeout_s": 5}

    def kind(reply):
        assert reply["ok"] is False, reply
        return reply["error"]["kind"], reply["error"]["message"]

    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(10)
        raw.connect(str(server.socket))
        lines = raw.makefile("rb")
        raw.sendall(b"not json\n")
        assert kind(json.loads(lines.readline()))[0] == "ValueError"
        raw.sendall(b'{"op": "dance"}\n[1, 2]\n')        # two in a row on one connection
        assert "'infer', 'open' or 'status'" in kind(json.loads(lines.readline()))[1]
        assert "JSON object" in kind(json.loads(lines.readline()))[1]
        raw.sendall(b"x" * (board_server.MAX_REQUEST_BYTES + 10) + b"\n")
        assert "at most" in kind(json.loads(lines.readline()))[1]
        assert lines.readline() == b""                   # and hung up on the rest of it
    broken = [
        ({"firmware": None}, "BuildResult's fields"),
        ({"firmware": {**good["firmware"], "elf_path": str(tmp_path / "gone.elf")}},
         "no firmware at"),
        ({"x": [0] * 63 + [200]}, "int8"),
        ({"x": [0] * 10}, "takes 64 int8 inputs"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"port": 7}, "'port'"),
    ]
    for change, words in broken:
        reply = board_server.request({**good, **change}, socket=server.socket)
        assert words in kind(reply)[1], (change, reply)
    reply = board_server.request(good, socket=server.socket)
    assert reply["ok"] and reply["scores"] == host[0].tolist() and reply["cycles"] > 0
    # The wrong model hash: the board's own words, raised in the kernel as a SerialError.
    with pytest.raises(SerialError, match="deadbeef"):
        SharedBoardSession(firmware, model_hash="deadbeef", socket=server.socket).open()
    link = SharedBoardSession(firmware, model_hash=mlp.model_hash, socket=server.socket).device()
    with pytest.raises(ValueError, match="64 int8 inputs"):
        link.infer(x_int8[0][:10])


def test_stopping_the_server_stops_its_boards_and_its_socket_is_private(
        firmware, mlp, test_inputs, tmp_path):
    x_int8, _ = test_inputs
    with pytest.raises(ValueError, match="private folder"):
        open_folder = tmp_path / "open"
        open_folder.mkdir(mode=0o755)
        open_folder.chmod(0o755)
        board_server.start(open_folder)
    for way in ("SIGTERM", "parent gone"):
        server = board_server.start(tmp_path / way.replace(" ", "-"), boards=2)
        assert stat.S_IMODE(server.socket.parent.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(server.socket.stat().st_mode)
        links = [SharedBoardSession(firmware, model_hash=mlp.model_hash,
                                    socket=server.socket).device() for _ in range(4)]
        threads = [threading.Thread(target=link.infer, args=(x_int8[i],))
                   for i, link in enumerate(links)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        boards = _harnesses(server.process.pid)
        assert 1 <= len(boards) <= 2
        if way == "SIGTERM":
            assert server.stop() == 0
        else:                                   # the parent died: its end of stdin closed
            server.process.stdin.close()
            assert server.process.wait(20) == 0
        assert all(_gone(board.pid) for board in boards)
        assert not server.socket.exists() and "stopped" in server.log()
        with pytest.raises(BoardServerError):
            links[0].infer(x_int8[0])
    own = board_server.start(boards=1)
    own.stop()
    assert not own.directory.exists()           # the folder start() made is removed
