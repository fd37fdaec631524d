"""Tests for tinylab.live: the live sketches' C core, on the host, the virtual Uno and the Nano.

The same recorded rows go three ways and must give the same classifications, byte for byte:
the host's reference (:func:`tinylab.live.live_reference`: sliding windows, RawInput.quantize,
run_int8), the core compiled with gcc (``boards/live/host_live.c``), and live_sim compiled
for the Uno and run on the virtual Uno, fed over serial. live_nano33ble is compiled only
where arduino-cli has the arduino:mbed_nano core (skipped here, naming the fix).
"""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from engine_c import CFLAGS, tool
from tinylab import build, doctor, engine, live
from tinylab.boards import BOARDS_DIR

HOP = 7
NANO_SKETCH = BOARDS_DIR / "sketches" / "live_nano33ble" / "live_nano33ble.ino"
SIM_SKETCH = BOARDS_DIR / "sketches" / "live_sim" / "live_sim.ino"


@pytest.fixture(scope="module")
def gestures():
    import tinylab.data

    return tinylab.data.load("gestures", seed=0)


@pytest.fixture(scope="module")
def imu_model(gestures):
    """A small MLP on the gestures, as the int8 model and its raw-input constants."""
    pytest.importorskip("tensorflow")
    from tinylab import deploy, models, train

    model = models.mlp(gestures.input_shape, gestures.n_classes, hidden_units=(16,), seed=0)
    train.fit(model, gestures, epochs=10, seed=0, progress=False)
    mlp, _ = deploy.integer_model(model, gestures)
    return mlp, engine.raw_input(mlp, gestures.normalization, decimals=3)


@pytest.fixture(scope="module")
def rows(gestures):
    """Four test windows end to end (200 readings, four gestures' worth), and a few readings
    beyond any sensor's range at the end: the saturation at RAW_LIMIT and the clamp to int8."""
    recorded = gestures.raw(gestures.X_test[:4]).reshape(-1, 6).astype(np.float64)
    extreme = np.array([[5000.0, -5000.0, 2e6, -2e6, 123456.7894, -0.0005]] * 3)
    return np.concatenate([recorded, extreme])


# ------------------------------------------------------------------------------ Python side


def test_the_reference_classifies_when_the_window_fills_then_every_hop(imu_model, rows):
    mlp, ri = imu_model
    steps = ri.n_inputs // ri.n_channels
    reference = live.live_reference(mlp, ri, rows, HOP)
    assert reference.rows.tolist() == list(range(steps - 1, len(rows), HOP))
    # each classification is the model on the last `steps` readings, quantized by RawInput
    first = ri.quantize(rows[:steps][np.newaxis])
    assert np.array_equal(reference.inputs[0], first[0])
    assert np.array_equal(reference.scores[0], engine.run_int8(mlp, first)[0])
    assert np.array_equal(reference.labels, np.argmax(reference.scores, axis=1))
    later = reference.rows[3]
    assert np.array_equal(reference.inputs[3], ri.quantize(rows[later - steps + 1:later + 1])[0])
    assert len(live.live_reference(mlp, ri, rows[:steps - 1], HOP).rows) == 0


def test_rows_travel_as_the_fixed_integers_of_raw_input(imu_model):
    _, ri = imu_model
    readings = np.array([[0.0125, -0.0125, 1.0, -176.7, 0.0004, 2e6]])
    fixed = live.fixed_rows(ri, readings)
    assert fixed.tolist() == [[13, -13, 1000, -176700, 0, 999_999_999]]  # halves away from 0
    assert live.row_line(fixed[0], 3) == "S 0.013 -0.013 1.000 -176.700 0.000 999999.999"
    assert live.row_line([-5, 7], 0) == "S -5 7"
    with pytest.raises(ValueError, match=r"shape \(n, 6\)"):
        live.fixed_rows(ri, np.zeros((2, 50, 6)))


def test_write_live_sketch_puts_the_core_model_and_settings_beside_the_sketch(imu_model, gestures,
                                                                              tmp_path):
    mlp, ri = imu_model
    folder = live.write_live_sketch(mlp, ri, gestures.class_names, hop=HOP, rate_hz=50,
                                    folder=tmp_path)
    assert folder == tmp_path / "live_sim"
    assert sorted(p.name for p in folder.iterdir()) == [
        "live_config.h", "live_sim.ino", "model.c", "model.h", "tl_live.c", "tl_live.h",
        "tl_live_banner.h", "tl_measure.h"]
    header = (folder / "model.h").read_text()
    assert f'"{ri.model_hash}"' in header and "#define TL_RAW_CHANNELS 6" in header
    config = (folder / "live_config.h").read_text()
    assert f"#define TL_LIVE_HOP {HOP}" in config and "#define TL_LIVE_RATE_HZ 50" in config
    assert f'#define TL_LIVE_CLASS_LIST "{",".join(gestures.class_names)}"' in config
    assert "#define TL_LIVE_UNIT_SCALE {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f}" in config
    (folder / "stray.c").write_text("int main(void) { return 0; }\n")
    nano = live.write_live_sketch(mlp, ri, gestures.class_names, board="nano33ble", rate_hz=10,
                                  unit_scale=[9.80665] * 3 + [0.0174533] * 3, folder=tmp_path)
    assert nano.name == "live_nano33ble" and (nano / "live_nano33ble.ino").is_file()
    assert (nano / "tl_measure.h").is_file()           # the cycle counter, as in live_sim
    assert (nano / "tl_live_banner.h").is_file()       # the banner, as in live_sim
    config = (nano / "live_config.h").read_text()
    assert "#define TL_LIVE_HOP 10" in config          # default: a fifth of the 50-reading window
    assert "9.80665f" in config and "0.0174533f" in config
    again = live.write_live_sketch(mlp, ri, gestures.class_names, hop=HOP, rate_hz=50,
                                   folder=tmp_path)
    assert not (again / "stray.c").exists()            # the folder is written afresh


@pytest.mark.parametrize("change, words", [
    (dict(hop=0), "hop must be a whole number"),
    (dict(rate_hz=None), "rate_hz must be a whole number"),
    (dict(board="esp32"), "board must be one of"),
    (dict(class_names=["a", "b"]), "4 outputs but 2 class names"),
    (dict(class_names=["flex", "idle", "punch", "wavé"]), "printable ASCII"),
    (dict(unit_scale=[1.0] * 5), "unit_scale must hold 6"),
    (dict(format="zip"), "unknown format"),
])
def test_bad_settings_are_refused_in_plain_words(imu_model, gestures, tmp_path, change, words):
    mlp, ri = imu_model
    arguments = dict(class_names=gestures.class_names, hop=HOP, rate_hz=50, folder=tmp_path)
    arguments.update(change)
    with pytest.raises(ValueError, match=words):
        live.write_live_sketch(mlp, ri, **arguments)


# ------------------------------------------------------------------------------ host (gcc)


@pytest.fixture(scope="module")
def host_program(imu_model, gestures, tmp_path_factory):
    """The core, the generated model and boards/live/host_live.c, compiled with gcc."""
    gcc = tool("gcc", "gcc")
    mlp, ri = imu_model
    folder = live.write_live_sketch(mlp, ri, gestures.class_names, hop=HOP, rate_hz=50,
                                    folder=tmp_path_factory.mktemp("host"))
    shutil.copy(live.CORE_DIR / "host_live.c", folder)
    program = folder / "live"
    built = subprocess.run([gcc, *CFLAGS, "-O2", "-I", str(folder), str(folder / "model.c"),
                            str(folder / "tl_live.c"), str(folder / "host_live.c"), "-o",
                            str(program)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return program


def host_classifications(program, fixed, hop, n_outputs):
    done = subprocess.run([str(program), str(hop)], input=np.asarray(fixed, "<i4").tobytes(),
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [[int(word) for word in line.split()] for line in done.stdout.decode().splitlines()]
    table = np.array(lines, dtype=np.int64).reshape(-1, n_outputs + 2)
    return table[:, 0], table[:, 1], table[:, 2:].astype(np.int8)


@pytest.mark.parametrize("hop", [1, HOP, 50])
def test_the_core_on_the_host_prints_exactly_the_reference(imu_model, rows, host_program, hop):
    mlp, ri = imu_model
    reference = live.live_reference(mlp, ri, rows, hop)
    at, labels, scores = host_classifications(host_program, live.fixed_rows(ri, rows), hop,
                                              mlp.n_outputs)
    assert len(at) == len(reference.rows) > 0
    assert np.array_equal(at, reference.rows)
    assert np.array_equal(labels, reference.labels)
    assert np.array_equal(scores, reference.scores)


def test_the_core_knows_the_window_and_rounds_floats_half_away_from_zero(host_program):
    info = subprocess.run([str(host_program), "info"], capture_output=True, text=True, check=True)
    assert info.stdout.split() == ["50", "6", "3", "300", "4"]
    # floats whose scaled value is exact in float32: 62.5 -> 63, -62.5 -> -63, 187.5 -> 188
    readings = "0.0625\n-0.0625\n0.1875\n-1.2\n0\n1e9\n-1e9\nnan\n"
    done = subprocess.run([str(host_program), "fixed"], input=readings, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["63", "-63", "188", "-1200", "0", "999999999", "-999999999",
                                   "0"]


# ------------------------------------------------------------------------------ virtual Uno


def not_a_number(value: int, byte: int) -> str:
    """live_sim's refusal of a bad reading: the inference sketch's words for its W lines."""
    return f"! value {value} is not a number (byte {byte}): write readings like -0.019 or 12.5"


@pytest.fixture(scope="module")
def live_firmware(imu_model, gestures, tmp_path_factory, virtual_uno_tools):
    """live_sim with the model, compiled for the Uno in a fresh cache."""
    mlp, ri = imu_model
    folder = live.write_live_sketch(mlp, ri, gestures.class_names, hop=HOP, rate_hz=50,
                                    folder=tmp_path_factory.mktemp("sketch"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYLAB_CACHE", str(tmp_path_factory.mktemp("tinylab-cache")))
        yield build.compile_sketch(folder, "uno")


def test_live_sim_on_the_virtual_uno_prints_exactly_the_reference(imu_model, gestures, rows,
                                                                  live_firmware, record_property):
    mlp, ri = imu_model
    firmware = build.check_fits(live_firmware)
    run = live.run_live(firmware, rows, ri)
    reference = live.live_reference(mlp, ri, rows, HOP)
    assert run.banner["sketch"] == "live" and run.banner["model"] == ri.model_hash
    assert (run.banner["steps"], run.banner["channels"], run.banner["hop"]) == (50, 6, HOP)
    assert run.banner["classes"] == list(gestures.class_names)
    assert run.readings == len(rows)
    assert np.array_equal(run.rows, reference.rows)
    assert np.array_equal(run.scores, reference.scores)
    assert run.matches(reference)
    # cycles at least one per multiply-accumulate; the stack fits beside the static RAM
    assert np.all(run.cycles > mlp.macs) and np.all(run.latency_us > 0)
    stack = int(run.stack_bytes.max())
    ram_peak = firmware.ram_bytes + stack
    for name, value in [("flash_bytes", firmware.flash_bytes), ("ram_bytes", firmware.ram_bytes),
                        ("stack_peak_bytes", stack), ("cycles_mean", float(run.cycles.mean())),
                        ("latency_us_mean", float(run.latency_us.mean()))]:
        record_property(f"live_sim_{name}", value)
    print(f"live_sim on the Uno: {firmware.flash_bytes:,} B flash, {firmware.ram_bytes} B static "
          f"RAM + {stack} B stack peak = {ram_peak} of 2,048 B; a classification "
          f"{run.latency_us.mean():.0f} us, {run.cycles.mean():,.0f} cycles "
          f"({mlp.macs:,} MACs)")
    assert ram_peak < 2048 - 256                          # room to spare on the Uno


def test_live_sim_refuses_bad_rows_in_plain_words_and_truncates_extra_decimals(
        imu_model, rows, live_firmware):
    from tinylab import virtual

    mlp, ri = imu_model
    steps = ri.n_inputs // ri.n_channels
    fixed = live.fixed_rows(ri, rows[:steps])
    with virtual.VirtualUno(live_firmware) as board, \
            live.LiveSession(board.port, expect_model=ri.model_hash) as session:
        assert session.ask("?").startswith("#TINYLAB proto=1 sketch=live board=uno ")
        assert session.ask("S 1 2 3") == "! expected 6 values, got 3"
        assert session.ask("S 1 2 x 4 5 6") == not_a_number(3, 120)
        assert session.ask("S 1 2 - 4 5 6") == not_a_number(3, 45)
        assert session.ask("S 1 2 1.2.3 4 5 6") == not_a_number(3, 46)
        assert session.ask("S 1 2 3 4 5 6 7") == "! expected 6 values, got 7"
        assert session.ask("hello") == "! unknown command (byte 104): send 'S v1 ... v6' or '?'"
        # refused lines keep nothing: the first good reading is reading 1. Each value here
        # carries two decimals too many ("...17"), which the board drops.
        answers = [session.ask("S " + " ".join(word + "17" for word in
                                               live.row_line(row, 3).split()[1:]))
                   for row in fixed]
    assert answers[0] == "K 1" and answers[steps - 2] == f"K {steps - 1}"
    label, *scores = [int(word) for word in answers[-1].split()[1:mlp.n_outputs + 2]]
    reference = live.live_reference(mlp, ri, rows[:steps], HOP)
    assert label == reference.labels[0] and scores == reference.scores[0].tolist()


# ------------------------------------------------------------------------------ the Nano


def nano_core_missing() -> str | None:
    """Why the Nano sketch cannot be compiled here, with the fix; None when it can."""
    check = doctor.check_nano_core()
    return None if check.ok else f"{check.detail}: {check.fix}"


def test_live_nano33ble_compiles_with_arduino_cli(imu_model, gestures, tmp_path):
    reason = nano_core_missing()
    if reason:
        pytest.skip(f"live_nano33ble needs arduino-cli with the arduino:mbed_nano core and "
                    f"Arduino_BMI270_BMM150: {reason}")
    mlp, ri = imu_model
    folder = live.write_live_sketch(mlp, ri, gestures.class_names, board="nano33ble",
                                    rate_hz=50, folder=tmp_path)
    result = build.check_fits(build.compile_sketch(folder, "nano33ble", toolchain="arduino-cli"))
    print(f"live_nano33ble: {result.flash_bytes:,} B flash, {result.ram_bytes:,} B static RAM")


def test_the_nano_sketch_uses_the_core_and_both_imus():
    """What the offline machine can check of live_nano33ble: it shares the core and the capture
    sketch's choice of IMU, and announces the same banner keys as live_sim."""
    nano, sim = NANO_SKETCH.read_text(), SIM_SKETCH.read_text()
    for text in (nano, sim):
        assert '#include "tl_live.h"' in text and '#include "live_config.h"' in text
        assert "tl_live_init(&live, TL_LIVE_HOP)" in text and "tl_live_push(&live," in text
        assert "tl_live_classify(&live, scores)" in text
        assert '#include "tl_live_banner.h"' in text and "print_banner();" in text
    banner = (BOARDS_DIR / "live" / "tl_live_banner.h").read_text()   # one banner for both
    assert "sketch=live board=" in banner
    for key in ("channels", "decimals", "steps", "hop", "rate_hz"):
        assert f'F(" {key}=")' in banner, key
    assert '#define TL_LIVE_BANNER_EXTRA " sensor=" TL_SENSOR' in nano
    assert "Arduino_LSM9DS1.h" in nano and "Arduino_BMI270_BMM150.h" in nano
    assert re.search(r"#define TL_IMU_REV 2\b", nano) and "TL_LIVE_RATE_HZ" in nano
    assert "tl_live_fixed_from_float(accel_g[axis] * unit_scale[axis])" in nano
    assert "tl_live_fixed_from_float(gyro_dps[axis] * unit_scale[3 + axis])" in nano


def test_the_host_harness_is_not_part_of_a_sketch():
    assert "host_live.c" not in live.CORE_FILES
    assert os.path.isfile(live.CORE_DIR / "host_live.c")
