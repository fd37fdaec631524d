"""Tests for tinylab.deploy: the whole path from a Keras model to answers over serial.

These run the real toolchain (arduino-builder, avr-gcc) and the virtual Uno (simavr).
"""

import json
import os
import shutil

import numpy as np
import pytest

import tinylab as tl
from tinylab import build, cli, deploy, engine, flash, virtual

# Skipped only outside CI: with CI set, a missing toolchain fails these tests with its install line.
pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and bool(build.missing_tools("uno") or virtual.missing_tools()),
    reason="board toolchain or simavr missing (see tinylab doctor)")


@pytest.fixture(scope="module")
def small_model(digits):
    """A 64-32-10 student trained briefly, as the int8 model a board runs."""
    model = tl.models.build("student", digits.input_shape, digits.n_classes, seed=0)
    tl.train.fit(model, digits, epochs=5, progress=False)
    mlp, flatbuffer = deploy.integer_model(model, digits)
    return model, mlp


@pytest.mark.parametrize("format", deploy.FORMATS)
def test_every_format_runs_bit_exact_on_the_virtual_uno(digits, small_model, format):
    _, mlp = small_model
    report = deploy.deploy(mlp, digits, format=format, limit=12, progress=False)
    assert report.virtual and report.format == format and report.examples == 12
    assert report.bit_exact == 1.0
    assert np.array_equal(report.board_classes, report.host_classes)
    assert report.board_accuracy == report.host_accuracy
    assert 0 < report.flash_bytes < report.flash_limit_bytes
    assert 0 < report.ram_bytes < report.ram_limit_bytes
    assert report.cycles_mean > 64 * 32  # at least one cycle per multiply-accumulate
    assert report.latency_us_mean > 0
    # The stack's peak, measured on the board: some bytes, and it fits beside the static data.
    assert 0 < report.stack_peak_bytes < report.ram_limit_bytes - report.ram_bytes
    assert report.ram_peak_bytes == report.ram_bytes + report.stack_peak_bytes
    assert (f"RAM {report.ram_bytes:,} static + {report.stack_peak_bytes:,} stack peak"
            in report.to_text())
    # the model's data in flash, as the one storage count gives it: less than the build
    data = sum(report.data_parts.values())
    assert report.data_parts == engine.model_storage(mlp, format).parts
    assert 0 < data < report.flash_bytes
    assert f"the model's data in flash: {data:,} bytes" in report.to_text()


def test_the_sketch_folder_holds_the_sketch_and_the_models_c(tmp_path, small_model):
    _, mlp = small_model
    folder = deploy.write_sketch(mlp, "sparse", tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["inference.ino", "model.c", "model.h",
                                                        "tl_measure.h"]
    assert (folder / "tl_measure.h").read_text() == deploy.MEASURE_HEADER.read_text()
    header = (folder / "model.h").read_text()
    assert f'"{mlp.model_hash}"' in header and '"sparse"' in header


def test_a_model_too_big_for_the_uno_is_refused_before_anything_runs(digits, monkeypatch):
    teacher = tl.models.build("mlp300", digits.input_shape, digits.n_classes, seed=0)
    mlp, _ = deploy.integer_model(teacher, digits)  # 50,200 int8 weights: over 32 KB with code
    monkeypatch.setattr(virtual, "VirtualUno", lambda *a, **k: pytest.fail("started a board"))
    with pytest.raises(build.DoesNotFit, match="flash"):
        deploy.deploy(mlp, digits, format="int8", limit=2, progress=False)


def test_tinylab_deploy_port_uploads_with_the_real_avrdude(small_model, tmp_path, monkeypatch,
                                                          capsys):
    """`tinylab deploy --port`: the real avrdude uploads to the virtual Uno's real Optiboot
    over its pty, then the test set runs over that port. The board starts empty, so answers
    can only come from the uploaded firmware."""
    if shutil.which("avrdude") is None and not os.environ.get("CI"):
        pytest.skip(f"needs avrdude ({flash.AVRDUDE_INSTALL})")
    model, mlp = small_model
    path = tmp_path / "student.keras"
    model.save(path)
    choose = flash.uploader  # avrdude even where arduino-cli is installed
    monkeypatch.setattr(flash, "uploader", lambda board="uno", tool=None: choose(board, "avrdude"))
    with virtual.VirtualUno(bootloader=True) as board:
        assert cli.main(["deploy", "--port", board.port, "--model", str(path), "--limit", "6",
                         "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert board.running
    assert not report["virtual"] and report["port"] == board.port
    assert report["bit_exact"] == 1.0 and report["examples"] == 6
    assert report["model_hash"] == mlp.model_hash


def test_deploy_refuses_bad_settings(digits, small_model):
    _, mlp = small_model
    with pytest.raises(ValueError, match="unknown format"):
        deploy.deploy(mlp, digits, format="float")
    with pytest.raises(ValueError, match="virtual board is an Uno"):
        deploy.deploy(mlp, digits, board="nano33ble")
    with pytest.raises(ValueError, match="limit"):
        deploy.deploy(mlp, digits, limit=0)


def test_cli_deploy_prints_json(small_model, tmp_path, capsys):
    model, _ = small_model
    path = tmp_path / "student.keras"
    model.save(path)
    assert cli.main(["deploy", "--virtual", "--model", str(path), "--format", "huffman",
                     "--limit", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "huffman" and report["examples"] == 3 and report["bit_exact"] == 1.0


@pytest.fixture(scope="module")
def cnn_file(digits, tmp_path_factory):
    """The lesson cnn, trained one epoch, saved as a .keras file."""
    model = tl.models.build("cnn", digits.input_shape, digits.n_classes, seed=0)
    tl.train.fit(model, digits, epochs=1, progress=False)
    path = tmp_path_factory.mktemp("cnn") / "cnn.keras"
    model.save(path)
    return path


@pytest.mark.parametrize("format", deploy.FORMATS)
def test_cli_deploys_the_lesson_cnn_in_every_format(cnn_file, format, capsys):
    # `tinylab deploy --virtual --model cnn`: conv, max pool, flatten and dense on the Uno
    assert cli.main(["deploy", "--virtual", "--model", str(cnn_file), "--format", format,
                     "--limit", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == format and report["examples"] == 3 and report["bit_exact"] == 1.0
    assert report["cycles_mean"] > 84224  # more than one cycle per multiply-accumulate
    assert 0 < report["stack_peak_bytes"] < report["ram_limit_bytes"] - report["ram_bytes"]


@pytest.mark.parametrize("argv, message", [
    ([], "give --virtual"),
    (["--virtual", "--port", "/dev/ttyACM0"], "give --virtual"),
    (["--virtual", "--model", "nothing-here"], "neither a .keras/.tflite file"),
])
def test_cli_deploy_bad_input_is_one_plain_line(capsys, argv, message):
    assert cli.main(["deploy", *argv]) in (1, 2)
    err = capsys.readouterr().err
    assert err.startswith("tinylab deploy: ") and message in err and "Traceback" not in err


# ----------------------------------------------------------------------------- raw readings

@pytest.fixture(scope="module")
def gestures():
    return tl.data.load("gestures", seed=0)


@pytest.fixture(scope="module")
def gestures_mlp(gestures):
    """The IMU MLP (one hidden layer of 16 units) trained briefly on the gestures, as int8."""
    model = tl.models.build("imu_mlp", gestures.input_shape, gestures.n_classes, seed=0)
    tl.train.fit(model, gestures, epochs=5, progress=False)
    return deploy.integer_model(model, gestures)[0]


def test_raw_readings_are_quantized_on_the_virtual_uno_bit_exact(gestures, gestures_mlp):
    report = deploy.deploy(gestures_mlp, gestures, inputs="raw", limit=6, progress=False)
    raw_input = engine.raw_input(gestures_mlp, gestures.normalization)
    assert report.inputs == "raw" and report.examples == 6
    assert report.bit_exact == 1.0
    assert np.array_equal(report.board_classes, report.host_classes)
    # the firmware's model is the model with its standardization: its own hash
    assert report.model_hash == raw_input.model_hash != gestures_mlp.model_hash
    # the gestures were recorded with 3 decimals: the board's inputs are the float path's
    assert report.input_max_difference <= 1 and report.input_agreement > 0.999
    assert report.float_path_agreement == 1.0
    assert report.data_parts["raw input"] == 18 * 6
    assert "inputs: raw readings, standardized and quantized on the board" in report.to_text()
    host = engine.run_int8(gestures_mlp, engine.quantize_inputs(gestures_mlp, gestures.X_test[:6]))
    assert np.array_equal(report.board_classes, np.argmax(host, axis=1))


def test_wide_raw_readings_run_bit_exact_on_the_virtual_uno(gestures, gestures_mlp):
    # the AVR's rescale with large differences, and saturation, through W lines
    raw_input = engine.raw_input(gestures_mlp, gestures.normalization)
    firmware = build.check_fits(deploy.build_firmware(gestures_mlp, raw_input=raw_input))
    rng = np.random.default_rng(0)
    std = np.array(raw_input.std)
    raw = rng.uniform(-1, 1, (4, 50, 6)) * std * np.array([[3], [30], [300], [1e4]])[:, :, None]
    raw[3, 0] = [1e7, -1e7, 999999.999, -999999.999, 0, 0]
    report = deploy.run_on_board(gestures_mlp, firmware, raw, np.zeros(4, int), progress=False,
                                 raw_input=raw_input)
    assert report.bit_exact == 1.0


def test_int8_inputs_are_the_default_and_keep_the_models_hash(gestures, gestures_mlp):
    report = deploy.deploy(gestures_mlp, gestures, limit=2, progress=False)
    assert report.inputs == "int8" and report.model_hash == gestures_mlp.model_hash
    assert report.input_agreement is None and "raw input" not in report.data_parts
    assert "inputs: int8, quantized on the host" in report.to_text()


def test_raw_inputs_need_a_per_channel_dataset(digits, small_model):
    _, mlp = small_model
    with pytest.raises(ValueError, match="per-channel normalization"):
        deploy.deploy(mlp, digits, inputs="raw")
    with pytest.raises(ValueError, match="inputs must be one of"):
        deploy.deploy(mlp, digits, inputs="float")


def test_cli_deploys_raw_readings_of_the_gestures(capsys, _isolated_workspace):
    assert cli.main(["deploy", "--dataset", "gestures", "--virtual", "--inputs", "raw",
                     "--limit", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"] == "raw" and report["examples"] == 3 and report["bit_exact"] == 1.0
    # the default model on an IMU dataset, saved under its own name: lesson 02's digits
    # models are not touched
    saved = sorted(p.name for p in _isolated_workspace.glob("*.keras"))
    assert saved == ["imu_mlp_gestures.keras"]
    assert tl.workspace.load_card("imu_mlp_gestures")["dataset"] == "gestures"


def test_a_sketch_file_is_never_seen_half_written_by_another_kernel(tmp_path):
    """Thirty app kernels write the same sketch into the same cache folder at once: a reader
    (another kernel's build key) must see a whole file, old or new, never a part of one."""
    import threading

    path = tmp_path / "model.c"
    versions = [b"a" * 400_000, b"b" * 300_000]
    seen, stop = set(), threading.Event()

    def write():
        for i in range(60):
            deploy._write_if_changed(path, versions[i % 2])

    def read():
        while not stop.is_set():
            try:
                seen.add(len(path.read_bytes()))
            except FileNotFoundError:
                pass

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write) for _ in range(3)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(60)
    stop.set()
    for thread in readers:
        thread.join(60)
    assert seen <= {400_000, 300_000} and seen, seen
    assert [p.name for p in tmp_path.iterdir()] == ["model.c"]  # no partial file left


def test_a_sketch_file_with_the_same_bytes_is_left_alone(tmp_path):
    path = tmp_path / "model.h"
    deploy._write_if_changed(path, b"#define TL_INPUTS 64\n")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    deploy._write_if_changed(path, b"#define TL_INPUTS 64\n")
    assert path.stat().st_mtime_ns == 1_000_000_000
    deploy._write_if_changed(path, b"#define TL_INPUTS 32\n")
    assert path.read_bytes() == b"#define TL_INPUTS 32\n"
