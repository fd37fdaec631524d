"""Float training is reproducible on one machine, and the knob that shows cross-CPU drift works.

docs/reproducibility.md has the measurements behind these. In short: TinyLab seeds every
random choice at the op level (initializers, the shuffle) and never a global seed, and its CPU
training needs no ``tf.config.experimental.enable_op_determinism()``: the same call gives the
same bits twice in one process and in two processes. Another CPU is another story: oneDNN
picks its matrix kernels by the instruction sets the CPU has, so the last bits move, and
``ONEDNN_MAX_CPU_ISA`` makes that happen on one machine (``make test-isa``).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tinylab import machine

pytest.importorskip("tensorflow")

#: Trains lesson 02's teacher shape for 2 epochs and prints a fingerprint of its weights and
#: its test accuracy. Run in this process (through ``exec``) and in fresh ones.
FINGERPRINT = """
import hashlib, json
import numpy as np
from tinylab import data, models, train

def fingerprint(name="mlp300", epochs=2):
    dataset = data.load("digits", seed=0)
    model = models.build(name, dataset.input_shape, dataset.n_classes, seed=0)
    train.fit(model, dataset, epochs=epochs, seed=0, progress=False)
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    return {"sha256": hashlib.sha256(weights.tobytes()).hexdigest(),
            "test_accuracy": train.accuracy(model, dataset.X_test, dataset.y_test)}
"""


def _in_this_process(name="mlp300"):
    scope = {}
    exec(FINGERPRINT, scope)
    return scope["fingerprint"](name)


def _in_a_new_process(name="mlp300", **env):
    code = FINGERPRINT + f"\nprint(json.dumps(fingerprint({name!r})))"
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.cross_cpu
@pytest.mark.parametrize("name", ["mlp300", "cnn"])
def test_the_same_training_twice_in_one_process_gives_the_same_bits(name):
    first, second = _in_this_process(name), _in_this_process(name)
    assert first == second


@pytest.mark.cross_cpu
def test_the_same_training_in_two_processes_gives_the_same_bits():
    here = _in_this_process()
    assert _in_a_new_process() == here
    assert _in_a_new_process() == here


#: The knobs ``make test-isa`` turns, and a model whose bits each one moves on this kind of
#: CPU (measured: docs/reproducibility.md). The oneDNN custom ops are on by default only on
#: CPUs with AVX512_VNNI, AVX512_BF16 or AMX, and change the convolutions, not the MLP's
#: matrix products (which go through oneDNN's sgemm either way, so the ISA cap reaches them).
KNOBS = [("mlp300", {"ONEDNN_MAX_CPU_ISA": "SSE41"}, "avx", None),
         ("cnn", {"TF_ENABLE_ONEDNN_OPTS": "1"}, None, "avx512_vnni")]


@pytest.mark.cross_cpu
@pytest.mark.parametrize("name, env, needs, not_with", KNOBS)
def test_each_drift_knob_moves_the_last_bits_here(name, env, needs, not_with):
    # What `make test-isa` relies on: each setting makes this CPU run other float kernels,
    # so the trained weights differ in their last bits. If this fails, the knob no longer
    # reaches TensorFlow's kernels and make test-isa proves nothing.
    flags = machine.isa_flags()
    if needs and needs not in flags:
        pytest.skip(f"this CPU has no {needs}: the setting changes nothing here")
    if not_with and not_with in flags:
        pytest.skip(f"this CPU has {not_with}: TensorFlow already runs with the setting")
    if any(os.environ.get(key) for key in env):
        pytest.skip("already set (make test-isa): compared with the default in make test")
    default = _in_a_new_process(name)
    moved = _in_a_new_process(name, **env)
    assert moved["sha256"] != default["sha256"]
    # the last bits, not the model: the accuracy stays within a digit or two of 270
    assert abs(moved["test_accuracy"] - default["test_accuracy"]) <= 2 / 270


def test_describe_names_the_cpu_and_its_instruction_sets():
    described = machine.describe()
    assert described["cpu_model"] and described["cpus"] >= 1
    assert set(described["isa"]) <= set(machine.ISA_FLAGS)
    assert described["versions"]["numpy"] == np.__version__
    json.dumps(described)  # recorded as JSON
    text = machine.summary(described)
    assert described["cpu_model"] in text and f"{described['cpus']} CPUs" in text


def test_isa_flags_and_summary_from_a_cpuinfo_by_hand(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8375C\n"
                       "flags\t\t: fpu sse4_1 sse4_2 avx avx2 fma avx512f avx512_vnni\n\n"
                       "processor\t: 1\nmodel name\t: another\nflags\t: fpu\n")
    info = machine._cpuinfo(cpuinfo)
    assert machine.cpu_model(info) == "Intel(R) Xeon(R) Platinum 8375C"
    assert machine.isa_flags(info) == ["sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f",
                                       "avx512_vnni"]
    described = {"cpu_model": "Xeon", "cpus": 2, "isa": machine.isa_flags(info),
                 "onednn_max_cpu_isa": "AVX2"}
    assert machine.summary(described) == ("Xeon, 2 CPUs, SSE4.1 AVX AVX2 FMA AVX-512 "
                                          "AVX512-VNNI, oneDNN capped at AVX2")
    assert machine._cpuinfo(tmp_path / "absent") == {}
    assert machine.isa_flags({}) == []
