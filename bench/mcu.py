"""Benchmark: the TinyLab C engine on the virtual Uno, per weight format (lesson 08).

For each model and each weight format of :func:`tinylab.engine.generate_c` (``int8``,
``sparse``, ``huffman``), the inference sketch is compiled for the Arduino Uno and run on the
virtual Uno (simavr, ATmega328P at 16 MHz) with the whole digits test split sent over serial
(what :func:`tinylab.deploy.run_on_board` does, in :func:`_on_uno`). Measured: flash and
static RAM (from the build), the stack's peak (painted and read by the sketch), CPU cycles
per inference (Timer1 inside the simulated MCU: they do not depend on the host's load,
unlike wall-clock time), test accuracy on the board, and the share of examples whose
int8 outputs are bit-identical with the host's integer reference
(:func:`tinylab.engine.run_int8`).

Models (settings fixed before the run, nothing tuned here; seed 0, digits split seed 0):

- the lesson student (``tl.train.load_or_train("student")``, 64-32-10 dense);
- the distilled route of ``bench/quantize.py``: mlp300 distilled into the student, pruned to
  70% and shared with 4-bit codebooks (``tl.pipeline.run`` with
  ``tl.pipeline.ROUTES["distilled"]``, lesson 08's model);
- the first route of ``bench/quantize.py``: mlp300 pruned to 90% and shared with 4-bit
  codebooks (``tl.pipeline.ROUTES["compressed_teacher"]``). Its dense int8 form does not fit
  the Uno: reported with the bytes it needs;
- the lesson ``cnn`` teacher (``tl.train.load_or_train("cnn")``: two 3x3 convolutions with
  2x2 max pools, then a dense layer) and the CNN student (``"cnn_student"`` of
  ``tl.models.ARCHITECTURES``, distilled from that teacher with ``tl.pipeline.distill_stage`` at
  its defaults, T=4 and alpha 0.9), both with dense int8 weights (per channel) in every format:
  lesson 04's dead-unit removal, which the pipeline's pruning route needs, takes MLPs only.
  For these, also: the RAM total (static + stack peak) against the arena tflite-micro needs
  for the same ``.tflite`` (``tl.convert.arena_bytes``) and the engine's own planned arena
  (``tl.engine.plan_memory``); and the convolutions alone (:func:`conv_cost_probe`), in
  cycles per multiply-accumulate.

Baselines: the same inference sketch with an empty model (``tl_model_run`` writes zeros), so
that "model flash" = firmware flash - that sketch's flash; and a float32 C MLP of the same shape.
emlearn (a benchmark-only dependency) is tried first for the float MLP; when it cannot give one
that runs on the Uno, why is recorded and a plain float C MLP written here (emlearn's own loop,
``eml_net_forward``, with the weights in flash) is measured instead, labelled as such.

Goals (issue 5): 100% bit-exact; deep-compressed (huffman) flash <= 1/8 of dense int8 flash;
dense int8 cycles <= 2x the MAC lower bound; >= 4x fewer cycles than the float C MLP.
Goals (issue 14): the CNNs 100% bit-exact in every format; conv cycles per MAC <= 1.3x the
dense int8 layer's (:func:`int8_cost_probe`); RAM total <= half the tflite-micro arena; the
64-32-10 student's int8 cycles no more than before the engine's version 2 (42,036).

    tinylab bench mcu [--json] [--write] [--limit N]
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import arguments, markdown_table, report, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

import numpy as np  # noqa: E402
from tinylab.pipeline import ROUTES  # noqa: E402

SEED = 0
FORMATS = ("int8", "sparse", "huffman")


def _route_label(route: dict) -> str:
    """A route in words, e.g. "mlp300 distilled into the student, pruned 70%, 4-bit shared"."""
    model = route["model"] + (f" distilled into the {route['student']},"
                              if route.get("student") else "")
    return f"{model} pruned {route['sparsity']:.0%}, {route['bits']}-bit shared"


MODELS = {  # key: (label, tl.pipeline.run settings or None for the plain lesson student)
    "student": ("lesson student 64-32-10 (dense)", None),
    "distilled": (_route_label(ROUTES["distilled"]), ROUTES["distilled"]),
    "mlp300_p90": (_route_label(ROUTES["compressed_teacher"]), ROUTES["compressed_teacher"]),
}

# The MAC lower bound on the ATmega328P (AVR instruction set manual, cycle counts): the work no
# int8 multiply-accumulate can avoid is fetching the weight from flash (lpm, 3 cycles), the
# 8x8 signed multiply (muls, 2 cycles) and adding the product into a 32-bit accumulator
# (add + 3 adc, 4 cycles). Loading the input (ld, 2), the zero-point offset, sign extension
# and loop control come on top, so 9 is optimistic; the goal's factor 2 leaves room for them.
CYCLES_PER_MAC = 3 + 2 + 4
CLOCK_HZ = 16_000_000

GOAL_BIT_EXACT = 1.0
GOAL_FLASH_FRACTION = 1 / 8
GOAL_MAC_BOUND_FACTOR = 2
GOAL_FLOAT_SPEEDUP = 4
# Issue 14.
GOAL_CONV_VS_DENSE = 1.3           # conv cycles per MAC / the dense int8 layer's, at most
GOAL_RAM_FRACTION_OF_TFLM = 1 / 2  # static RAM + stack peak / tflite-micro's arena, at most
GOAL_STUDENT_INT8_CYCLES = 42_036  # the 64-32-10 student, int8, with the engine's version 1
# Issue 15 (compressed formats that pay on the chip).
GOAL_SPARSE_SPEEDUP = 1.5          # the distilled model: int8 cycles / sparse cycles, at least
GOAL_HUFFMAN_VS_INT8 = 2.5         # the distilled model: huffman cycles / int8 cycles, at most
GOAL_SPARSE_PER_NONZERO = 1.5      # the 90% teacher: sparse cycles per non-zero weight over
                                   # the dense layer's cycles per MAC, at most
# int8 cycles before issue 15 (docs/benchmarks.md, bench mcu of 2026-12-05): "no slower".
INT8_CYCLES_BEFORE = {"student": 41_375, "distilled": 34_947}

# The CNNs (lesson 10): key -> how the model is made (see _make_cnn).
CNN_MODELS = {
    "cnn": {"architecture": "cnn"},
    "cnn_student": {"architecture": "cnn_student", "distilled_from": "cnn",
                    "temperature": 4.0, "alpha": 0.9},
}

# Seconds to wait for one answer of the virtual Uno, paced to real time (16 million cycles a
# second): room for an inference of a few hundred million cycles (a CNN in the sparse or
# huffman format, before its kernels were tuned, took 86 million).
ANSWER_TIMEOUT_S = 300
# The virtual Uno runs paced to real time: flat out (speed=0) it was seen to lose part of
# a long answer line (the 256 outputs of a convolution alone), and cycles do not depend on it.
VIRTUAL_SPEED = 1.0

# Examples for the measurements whose cycles hardly depend on the input (the float conversion
# overhead and the int8 cost probes): a few suffice.
PROBE_EXAMPLES = 10


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- sketches

def _contract_header(n_inputs: int, n_outputs: int, model_hash: str, format: str) -> str:
    """model.h honouring the inference sketch's contract (boards/sketches/inference)."""
    return f"""/* Generated by bench/mcu.py. */
#ifndef MODEL_H
#define MODEL_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {{
#endif
#define TL_INPUTS {n_inputs}
#define TL_OUTPUTS {n_outputs}
#define TL_MODEL_HASH "{model_hash}"
#define TL_FORMAT "{format}"
void tl_model_run(const int8_t *input, int8_t *output);
#ifdef __cplusplus
}}
#endif
#endif
"""


def _sketch(name: str, files: dict) -> Path:
    """The inference sketch with ``files`` beside it, in the build cache; its folder."""
    from tinylab import build, deploy

    return deploy.sketch_around(files, build.cache_dir() / "sketches" / f"bench-mcu-{name}",
                                fresh=True)


def _hash(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:8]


def _build_row(firmware) -> dict:
    return {"fits": bool(firmware.fits), "flash_bytes": firmware.flash_bytes,
            "ram_bytes": firmware.ram_bytes, "flash_limit_bytes": firmware.flash_limit_bytes,
            "ram_limit_bytes": firmware.ram_limit_bytes, "problem": firmware.problem}


def empty_sketch() -> dict:
    """The inference sketch around a model that does nothing: what every firmware shares."""
    from tinylab import build

    source = ('#include "model.h"\n\nvoid tl_model_run(const int8_t *input, int8_t *output)\n'
              '{\n    uint8_t i;\n    (void)input;\n'
              '    for (i = 0; i < TL_OUTPUTS; ++i) {\n        output[i] = 0;\n    }\n}\n')
    sketch_dir = _sketch("empty", {"model.h": _contract_header(64, 10, "00000000", "empty"),
                                   "model.c": source})
    firmware = build.compile_sketch(sketch_dir, board="uno")
    row = _build_row(firmware)
    run = _run_sketch(firmware, "00000000", np.zeros((2, 64), dtype=np.int8))
    stack = getattr(run, "stack_bytes", None)
    row["stack_peak_bytes"] = None if stack is None else int(np.max(stack))
    return row


def _run_sketch(firmware, model_hash: str, x_int8) -> object:
    """Run int8 inputs through a firmware on the virtual Uno; the device's InferenceRun."""
    from tinylab.session import BoardSession

    with BoardSession(firmware, model_hash=model_hash, speed=VIRTUAL_SPEED,
                      timeout=ANSWER_TIMEOUT_S) as session:
        return session.device().infer_many(x_int8, progress=False)


def _on_uno(model, firmware, x_int8, y=None) -> dict:
    """What :func:`tinylab.deploy.run_on_board` measures, from int8 inputs, waiting longer.

    ``run_on_board`` takes float inputs and waits 5 s for each answer; a convolution alone
    (:func:`conv_cost_probe`) takes the int8 activations of the ops before it, and a CNN in
    the sparse or huffman format can take longer than 5 s. The same comparison: the board's
    int8 outputs against :func:`tinylab.engine.run_int8`'s, byte for byte.
    """
    from tinylab import engine

    x_int8 = np.asarray(x_int8).reshape(len(x_int8), model.n_inputs)
    host_scores = engine.run_int8(model, x_int8)
    run = _run_sketch(firmware, model.model_hash, x_int8)
    row = {"examples": len(x_int8),
           "bit_exact": float(np.mean(np.all(run.scores == host_scores, axis=1))),
           "cycles_mean": None if run.cycles is None else float(np.mean(run.cycles)),
           "latency_us_mean": float(np.mean(run.latency_us)),
           "stack_peak_bytes": None if getattr(run, "stack_bytes", None) is None
           else int(np.max(run.stack_bytes))}
    if y is not None:
        row["board_accuracy"] = float(np.mean(run.labels == y))
        row["host_accuracy"] = float(np.mean(np.argmax(host_scores, axis=1) == y))
    return row


# --------------------------------------------------------------------------- TinyLab engine

def _macs(mlp) -> int:
    return int(sum(layer.n_inputs * layer.n_outputs for layer in mlp.layers))


def _requant_bytes(mlp) -> int:
    """Flash every format spends on biases and requantization data (``tl.engine.storage``)."""
    from tinylab import engine

    parts = engine.model_storage(mlp, "int8").parts
    return parts.get("biases", 0) + parts.get("requantization", 0)


def measure_format(mlp, format: str, X, y) -> dict:
    """Build one weight format; if it fits, run every example on the virtual Uno."""
    from tinylab import deploy, engine

    firmware = deploy.build_firmware(mlp, format, "uno")
    storage = engine.model_storage(mlp, format)
    row = {"format": format, **_build_row(firmware), "weight_bytes": storage.weight_bytes,
           "data_bytes": storage.nbytes, "parts": storage.parts, "entries": storage.n_entries,
           "layouts": [op.layout for op in storage.ops if op.layout]}
    if not firmware.fits:
        _log(f"    {format}: does not fit ({firmware.flash_bytes} bytes of flash, "
             f"{firmware.ram_bytes} of RAM)")
        return row
    start = time.perf_counter()
    row.update(_on_uno(mlp, firmware, engine.quantize_inputs(mlp, X), y))
    row["seconds"] = time.perf_counter() - start
    stack = row["stack_peak_bytes"]
    row["ram_total_bytes"] = None if stack is None else row["ram_bytes"] + stack
    _log(f"    {format}: flash {row['flash_bytes']:,}, RAM {row['ram_bytes']:,} + stack "
         f"{_bytes(stack)}, {row['cycles_mean']:,.0f} cycles, board "
         f"{row['board_accuracy']:.2%}, bit-exact {row['bit_exact']:.1%} "
         f"({row['seconds']:.0f} s)")
    return row


def _probe_layer(n_in: int, n_out: int, relu_off: bool, rng):
    """A one-layer int8 model whose units all take the same path through the epilogue.

    Random int8 weights; a bias of +1e6 keeps every sum positive (the full rescale), -1e7
    keeps every sum negative (a ReLU that skips it). The scales give a multiplier of 0.001
    (shift -9, as in the lesson student's layers).
    """
    from tinylab import engine

    weights = rng.integers(-127, 128, (n_out, n_in))
    bias = np.full(n_out, -10 ** 7 if relu_off else 10 ** 6)
    layer = engine.FullyConnected.from_scales(
        weights, bias, input_scale=0.05, input_zero_point=0, weight_scales=np.full(n_out, 0.01),
        output_scale=0.5, output_zero_point=-128, activation="RELU")
    return engine.IntegerModel(ops=(layer,), input_shape=(n_in,), output_shape=(n_out,),
                               input_scale=0.05, input_zero_point=0, output_scale=0.5,
                               output_zero_point=-128,
                               model_hash=_hash("probe", n_in, n_out, relu_off))


def int8_cost_probe() -> dict:
    """Where dense int8 cycles go: per multiply-accumulate, per output unit, per layer call.

    Four one-layer models on the virtual Uno (:func:`_probe_layer`): 64x32, 16x32 and 64x16
    with every unit rescaled, and 64x32 with every unit skipped by its ReLU. Assuming
    cycles = call + units * (per_unit + inputs * per_mac), their differences give each part.
    ``layer_cycles_per_mac``: the whole 64x32 layer's cycles per MAC, requantization included.
    """
    from tinylab import deploy, engine

    rng = np.random.default_rng(SEED)
    shapes = {"full": (64, 32, False), "quarter_inputs": (16, 32, False),
              "half_units": (64, 16, False), "relu_off": (64, 32, True)}
    cycles = {}
    for name, (n_in, n_out, relu_off) in shapes.items():
        mlp = _probe_layer(n_in, n_out, relu_off, rng)
        firmware = deploy.build_firmware(mlp, "int8", "uno")
        X = rng.normal(size=(PROBE_EXAMPLES, n_in)).astype(np.float32)
        measured = _on_uno(mlp, firmware, engine.quantize_inputs(mlp, X))
        if measured["bit_exact"] < 1:
            raise RuntimeError(f"int8 cost probe {name}: the board disagrees with the host")
        cycles[name] = measured["cycles_mean"]
    per_mac = (cycles["full"] - cycles["quarter_inputs"]) / ((64 - 16) * 32)
    per_unit = (cycles["full"] - cycles["half_units"]) / 16 - 64 * per_mac
    call = cycles["full"] - 32 * (per_unit + 64 * per_mac)
    return {"layer": "64x32", "cycles": cycles, "cycles_per_mac": per_mac,
            "cycles_per_unit": per_unit, "cycles_per_call": call,
            "cycles_saved_per_relu_skip": (cycles["full"] - cycles["relu_off"]) / 32,
            # the whole one-layer model (call, units, requantization) per MAC: what a
            # convolution measured the same way (conv_cost_probe) is compared with
            "layer_cycles_per_mac": cycles["full"] / (64 * 32)}


# --------------------------------------------------------------------------- CNNs (issue 14)

def sub_model(model, start: int, end: int):
    """``model.ops[start:end]`` as a model of its own (the scales of its first and last op)."""
    from tinylab import engine

    ops = tuple(model.ops[start:end])
    if not ops:
        raise ValueError(f"ops[{start}:{end}] of a {len(model.ops)}-op model is empty")
    return engine.IntegerModel(
        ops=ops, input_shape=tuple(ops[0].input_shape), output_shape=tuple(ops[-1].output_shape),
        input_scale=ops[0].input_scale, input_zero_point=ops[0].input_zero_point,
        output_scale=ops[-1].output_scale, output_zero_point=ops[-1].output_zero_point,
        model_hash=_hash(model.model_hash, start, end))


def _conv_spans(model) -> list:
    """``(start, end)`` in ``model.ops`` of each convolution with the max pool fused into it.

    The spans follow the engine's plan (:func:`tinylab.engine.plan_memory`): a convolution and
    the pool it absorbs run as one C call, so they are measured together.
    """
    from tinylab import engine

    position = {id(op): k for k, op in enumerate(model.ops)}
    spans = []
    for step in engine.plan_memory(model).steps:
        if "CONV" in step.op.kind:
            start = position[id(step.op)]
            spans.append((start, position[id(step.pool)] + 1 if step.pool else start + 1))
    return spans


def conv_cost_probe(model, x_int8) -> dict:
    """The convolutions alone on the virtual Uno: cycles per multiply-accumulate, int8 format.

    Each convolution, with the max pool the engine fuses into it, becomes a model of its own
    (:func:`sub_model`) fed with the activations it gets inside the CNN (the host's integer
    reference of the ops before it); then the chain of all convolutions, from the model's
    input to the last one's pool, as one model. Cycles / the convolutions' MACs is their cost
    with the patch copy, the requantization of every output and the pooling; the same
    measure as the dense probe's ``layer_cycles_per_mac``.

    Inside the whole model the convolutions can cost more than alone (once seen: the compiler
    inlined less when several ops shared the weight format's code), so the ops after the chain are
    measured alone too, and the whole model on the same examples: ``in_model_cycles_per_mac``
    = (whole - the ops after the chain) / the convolutions' MACs.
    """
    from tinylab import deploy, engine

    spans = _conv_spans(model)
    if not spans:
        raise ValueError("the model has no convolution")
    x_int8 = np.asarray(x_int8).reshape(len(x_int8), model.n_inputs)
    chain = (spans[0][0], spans[-1][1])
    parts = [("layer", s) for s in spans] + [("chain", chain)]
    if chain[1] < len(model.ops):
        parts.append(("after", (chain[1], len(model.ops))))
    parts.append(("whole", (0, len(model.ops))))
    rows = []
    for role, (start, end) in parts:
        part = sub_model(model, start, end)
        inputs = x_int8 if start == 0 else engine.run_int8(sub_model(model, 0, start), x_int8)
        firmware = deploy.build_firmware(part, "int8", "uno")
        measured = _on_uno(part, firmware, inputs)
        conv_macs = sum(op.macs for op in part.ops if "CONV" in op.kind)
        conv = part.ops[0] if role == "layer" else None
        rows.append({"role": role, "ops": f"{start}:{end}",
                     "fan_in": None if conv is None else int(conv.weight_rows().shape[1]),
                     "outputs": None if conv is None else conv.n_outputs,
                     "what": " + ".join(op.kind for op in part.ops),
                     "names": [op.name for op in part.ops], "conv_macs": conv_macs,
                     "macs": part.macs, "cycles_mean": measured["cycles_mean"],
                     "bit_exact": measured["bit_exact"], "flash_bytes": firmware.flash_bytes,
                     "cycles_per_mac": measured["cycles_mean"] / conv_macs
                     if role in ("layer", "chain") else None})
        _log(f"    ops[{start}:{end}] {rows[-1]['what']}: {measured['cycles_mean']:,.0f} cycles, "
             f"bit-exact {measured['bit_exact']:.0%}")
    by_role = {r["role"]: r for r in rows}
    after = by_role["after"]["cycles_mean"] if "after" in by_role else 0.0
    in_model = (by_role["whole"]["cycles_mean"] - after) / by_role["chain"]["conv_macs"]
    return {"examples": len(x_int8), "layers": [r for r in rows if r["role"] == "layer"],
            "chain": by_role["chain"], "after": by_role.get("after"), "whole": by_role["whole"],
            "in_model_cycles_per_mac": in_model}


def _make_cnn(key: str, data, teacher=None):
    """The trained Keras CNN for ``key`` of :data:`CNN_MODELS`, and its settings."""
    import tinylab as tl

    settings = dict(CNN_MODELS[key])
    architecture = settings["architecture"]
    settings["filters"] = list(tl.models.ARCHITECTURES[architecture]["filters"])
    if "distilled_from" not in settings:
        return tl.train.load_or_train(architecture, data, seed=SEED, progress=False), settings
    if teacher is None:
        teacher = tl.train.load_or_train(settings["distilled_from"], data, seed=SEED,
                                         progress=False)
    student = tl.pipeline.distill_stage(teacher, data, architecture,
                                        temperature=settings["temperature"],
                                        alpha=settings["alpha"], seed=SEED, progress=False)
    return student, settings


def _cnn_label(key: str, settings: dict) -> str:
    filters = ", ".join(map(str, settings["filters"]))
    if "distilled_from" in settings:
        return (f"CNN student `{settings['architecture']}` (filters {filters}), distilled from "
                f"`{settings['distilled_from']}` at T={settings['temperature']:g}")
    return f"lesson `{settings['architecture']}` teacher (filters {filters})"


def measure_cnn(key: str, data, X, y, baseline: dict, teacher=None) -> tuple:
    """One CNN in every format, its memory against tflite-micro's, its convolutions alone."""
    import tinylab as tl
    from tinylab import convert, deploy, engine

    start = time.perf_counter()
    model, settings = _make_cnn(key, data, teacher)
    integer, flatbuffer = deploy.integer_model(model, data, per_channel=True)
    plan = engine.plan_memory(integer)
    label = _cnn_label(key, settings)
    _log(f"{label}\n  {integer.describe()}\n  " + plan.describe().replace("\n", "\n  "))
    entry = {"kind": "CNN", "label": label, "settings": settings, "describe": integer.describe(),
             "ops": [op.summary() for op in integer.ops],
             "macs": integer.macs,
             "conv_macs": int(sum(op.macs for op in integer.ops if "CONV" in op.kind)),
             "weights": integer.n_weights,
             "keras_test_accuracy": tl.train.accuracy(model, X, y),
             "tflite_bytes": len(flatbuffer),
             "tflm_arena_bytes": convert.arena_bytes(flatbuffer),
             "engine_arena_bytes": plan.arena_bytes,
             "engine_unplanned_bytes": plan.unplanned_bytes, "plan": plan.describe(),
             "formats": {}}
    entry["model_seconds"] = time.perf_counter() - start
    for format in FORMATS:
        row = measure_format(integer, format, X, y)
        if row["flash_bytes"] is not None and baseline["flash_bytes"] is not None:
            row["model_flash_bytes"] = row["flash_bytes"] - baseline["flash_bytes"]
        if row.get("ram_total_bytes") is not None:
            row["ram_fraction_of_tflm"] = row["ram_total_bytes"] / entry["tflm_arena_bytes"]
        entry["formats"][format] = row
    _log("  the convolutions alone (int8)")
    entry["conv_probe"] = conv_cost_probe(
        integer, engine.quantize_inputs(integer, X[:PROBE_EXAMPLES]))
    return entry, model


# --------------------------------------------------------------------------- float C MLP

def _dense_layers(model) -> list:
    """(kernel [in, out], bias, activation name) of each Dense layer of a Keras MLP."""
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            kernel, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
            activation = layer.activation.__name__
            if activation not in ("relu", "linear"):
                raise ValueError(f"layer {layer.name}: activation {activation!r}; the float C "
                                 f"MLP here supports relu and linear")
            layers.append((kernel, bias, activation))
        elif kind not in ("Flatten", "InputLayer", "Dropout"):
            raise ValueError(f"layer {layer.name} is a {kind}; the float C MLP here supports "
                             f"Flatten and Dense layers")
    return layers


def _c_floats(values) -> str:
    values = [_c_float(v) for v in np.ravel(values)]
    return ",\n    ".join(", ".join(values[i:i + 8]) for i in range(0, len(values), 8))


def _c_float(value: float) -> str:
    text = f"{float(np.float32(value)):.9g}"
    return text + (".0f" if "." not in text and "e" not in text else "f")


def _float_io(mlp) -> tuple:
    """C: int8 input -> float (the int8 model's input scale), float scores -> int8."""
    to_float = (f"    for (i = 0; i < TL_INPUTS; ++i) {{\n"
                f"        tl_x[i] = {_c_float(mlp.input_scale)}"
                f" * (float)(input[i] - ({mlp.input_zero_point}));\n    }}\n")
    to_int8 = (f"    for (i = 0; i < TL_OUTPUTS; ++i) {{\n"
               f"        float q = SCORES[i] / {_c_float(mlp.output_scale)};\n"
               f"        long r = (long)(q < 0 ? q - 0.5f : q + 0.5f)"
               f" + ({mlp.output_zero_point});\n"
               f"        output[i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);\n    }}\n")
    return to_float, to_int8


def float_c_source(layers, mlp, conversion_only: bool = False) -> str:
    """A plain float32 C MLP: emlearn's ``eml_net_forward`` loop, weights in flash (PROGMEM).

    The weights keep emlearn's layout ([in][out], ``w[o + i * n_out]``) and its order of
    operations (sum over inputs, then the bias, then the activation). The sketch hands int8
    inputs, so ``tl_model_run`` converts them to float first and the scores back to int8
    after; ``conversion_only`` builds just that, to subtract its cycles.
    """
    widest = max(max(k.shape) for k, _, _ in layers)
    parts = ['/* Generated by bench/mcu.py: a float32 MLP, emlearn\'s eml_net_forward loop with\n'
             ' * the weights in flash. */\n#include "model.h"\n',
             "#ifdef __AVR__\n#include <avr/pgmspace.h>\n#define TL_FLASH PROGMEM\n"
             "#define TL_F32(p) pgm_read_float(p)\n#else\n#define TL_FLASH\n"
             "#define TL_F32(p) (*(p))\n#endif\n\n"]
    for k, (kernel, bias, _) in enumerate(layers):
        parts.append(f"static const float tl_w{k}[{kernel.size}] TL_FLASH = {{\n    "
                     f"{_c_floats(kernel.ravel(order='C'))}\n}};\n")
        parts.append(f"static const float tl_b{k}[{bias.size}] TL_FLASH = {{\n    "
                     f"{_c_floats(bias)}\n}};\n")
    parts.append(f"""
static float tl_x[{widest}];
static float tl_y[{widest}];

static void tl_dense(const float *in, uint16_t n_in, const float *weights, const float *biases,
                     uint8_t relu, float *out, uint16_t n_out)
{{
    uint16_t o, i;
    for (o = 0; o < n_out; ++o) {{
        const float *weight = weights + o; /* emlearn's w[o + i * n_out], walked */
        float sum = 0.0f;
        for (i = 0; i < n_in; ++i, weight += n_out) {{
            sum += TL_F32(weight) * in[i];
        }}
        sum += TL_F32(biases + o);
        out[o] = (relu && sum < 0.0f) ? 0.0f : sum;
    }}
}}

void tl_model_run(const int8_t *input, int8_t *output)
{{
    uint16_t i;
""")
    to_float, to_int8 = _float_io(mlp)
    parts.append(to_float)
    scores = "tl_x"
    if not conversion_only:
        for k, (kernel, _, activation) in enumerate(layers):
            source, target = ("tl_x", "tl_y") if k % 2 == 0 else ("tl_y", "tl_x")
            parts.append(f"    tl_dense({source}, {kernel.shape[0]}, tl_w{k}, tl_b{k}, "
                         f"{int(activation == 'relu')}, {target}, {kernel.shape[1]});\n")
            scores = target
    parts.append(to_int8.replace("SCORES", scores) + "}\n")
    return "".join(parts)


def measure_float(model, mlp, X, y, key: str) -> dict:
    """The plain float C MLP on the virtual Uno; its conversion overhead measured apart."""
    from tinylab import boards, build, engine

    layers = _dense_layers(model)
    x_int8 = engine.quantize_inputs(mlp, X)
    keras_classes = np.argmax(np.asarray(model(np.asarray(X, np.float32), training=False)), axis=1)
    n_in, n_out = layers[0][0].shape[0], layers[-1][0].shape[1]
    weight_bytes = 4 * sum(k.size + b.size for k, b, _ in layers)
    label = "plain float32 C MLP (generated here, emlearn's loop, weights in PROGMEM)"
    flash_limit = boards.load("uno")["flash_usable_bytes"]
    if weight_bytes > flash_limit:
        _log(f"    float C MLP: {weight_bytes:,} bytes of float32 weights, more than the Uno's "
             f"flash: not built")
        return {"label": label, "fits": False, "flash_bytes": None, "ram_bytes": None,
                "weight_bytes": weight_bytes,
                "problem": f"its {weight_bytes:,} bytes of float32 weights and biases exceed "
                           f"the Uno's {flash_limit:,} bytes of flash"}
    rows = {}
    for variant, conversion_only in (("mlp", False), ("conversion", True)):
        model_hash = _hash(key, variant, [k.tobytes() for k, _, _ in layers])
        sketch_dir = _sketch(f"float-{key}-{variant}", {
            "model.h": _contract_header(n_in, n_out, model_hash, "float32"),
            "model.c": float_c_source(layers, mlp, conversion_only)})
        firmware = build.compile_sketch(sketch_dir, board="uno")
        rows[variant] = row = {**_build_row(firmware), "weight_bytes": weight_bytes}
        if not firmware.fits:
            _log(f"    float C MLP ({variant}): does not fit ({firmware.flash_bytes} bytes of "
                 f"flash, {firmware.ram_bytes} of RAM)")
            break
        n = len(y) if variant == "mlp" else min(PROBE_EXAMPLES, len(y))
        start = time.perf_counter()
        run = _run_sketch(firmware, model_hash, x_int8[:n])
        stack = getattr(run, "stack_bytes", None)
        row.update({"examples": n, "cycles_mean": float(np.mean(run.cycles)),
                    "stack_peak_bytes": None if stack is None else int(np.max(stack)),
                    "seconds": time.perf_counter() - start})
        if variant == "mlp":
            row.update({"board_accuracy": float(np.mean(run.labels == y[:n])),
                        "agreement_with_keras": float(np.mean(run.labels == keras_classes[:n]))})
    result = {**rows["mlp"], "label": label, "keras_accuracy": float(np.mean(keras_classes == y))}
    if "conversion" in rows and rows["conversion"].get("cycles_mean") is not None:
        result["conversion_cycles_mean"] = rows["conversion"]["cycles_mean"]
        result["model_cycles_mean"] = result["cycles_mean"] - result["conversion_cycles_mean"]
        _log(f"    float C MLP: flash {result['flash_bytes']:,}, RAM {result['ram_bytes']:,}, "
             f"{result['cycles_mean']:,.0f} cycles ({result['conversion_cycles_mean']:,.0f} of "
             f"them int8 <-> float), board {result['board_accuracy']:.2%}")
    return result


def try_emlearn(model, mlp, key: str) -> dict:
    """Ask emlearn for the float MLP and build it for the Uno; what happened, in words."""
    from tinylab import build

    try:
        import emlearn
        import emlearn.net
    except ImportError:
        return {"available": False, "version": None,
                "why_not": "emlearn is not installed (pip install emlearn, the bench extra)"}
    out = {"available": True, "version": emlearn.__version__ if hasattr(emlearn, "__version__")
           else _dist_version("emlearn")}
    try:
        emlearn.convert(model)
        out["convert"] = "ok"
    except Exception as error:  # what emlearn says is the finding
        out["convert"] = f"{type(error).__name__}: {error}"
    # Flatten is a reshape: hand emlearn the Dense layers directly and build the C it writes
    # for them (what emlearn.net.Wrapper.save writes, its default "loadable" inference).
    layers = _dense_layers(model)
    code = emlearn.net.c_generate_net_loadable(
        ["relu" if a == "relu" else "identity" for _, _, a in layers],
        [k for k, _, _ in layers], [b for _, b, _ in layers], prefix="tl_emlearn")
    headers = {}
    folder = Path(emlearn.__file__).parent
    for name in ("eml_common.h", "eml_log.h", "eml_net.h", "eml_net_common.h"):
        # angle-bracket includes of emlearn's own headers, made local to the sketch
        headers[name] = re.sub(r"#include <(eml_\w+\.h)>", r'#include "\1"',
                               (folder / name).read_text())
    code = re.sub(r"#include <(eml_\w+\.h)>", r'#include "\1"', code)
    to_float, to_int8 = _float_io(mlp)
    n_in = layers[0][0].shape[0]
    wrapper = (f"\nstatic float tl_x[{n_in}];\nstatic float tl_scores[{layers[-1][0].shape[1]}];"
               f"\n\nvoid tl_model_run(const int8_t *input, int8_t *output)\n{{\n"
               f"    uint16_t i;\n{to_float}"
               f"    tl_emlearn_regress(tl_x, TL_INPUTS, tl_scores, TL_OUTPUTS);\n"
               + to_int8.replace("SCORES", "tl_scores") + "}\n")
    model_hash = _hash(key, "emlearn", [k.tobytes() for k, _, _ in layers])
    sketch_dir = _sketch(f"emlearn-{key}", {
        **headers, "model.h": _contract_header(n_in, layers[-1][0].shape[1], model_hash,
                                               "emlearn"),
        "model.c": '#include "model.h"\n' + code + wrapper})
    try:
        firmware = build.compile_sketch(sketch_dir, board="uno")
    except build.CompileError as error:
        out["build"] = {"fits": False, "problem": f"compile error: {str(error)[:300]}"}
        return out
    out["build"] = _build_row(firmware)
    float_bytes = 4 * sum(k.size + b.size for k, b, _ in layers)
    if not firmware.fits:
        out["why_not"] = (
            f"emlearn {out['version']}: emlearn.convert rejects the Keras model "
            f"({out['convert']}); given the Dense layers directly, it writes the "
            f"{float_bytes:,} bytes of float weights as `static const float` arrays read "
            f"through plain pointers (eml_net_forward), with no PROGMEM option, and avr-gcc "
            f"places const data in RAM on the ATmega328P: the firmware needs "
            f"{firmware.ram_bytes:,} bytes of RAM of {firmware.ram_limit_bytes:,}")
    return out


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------- the run

def _make_model(key: str, data):
    import tinylab as tl

    label, settings = MODELS[key]
    if settings is None:
        model = tl.train.load_or_train("student", data, seed=SEED, progress=False)
        return model, {"architecture": "student"}
    result = tl.pipeline.run(data, seed=SEED, progress=False, **settings)
    return result.model, {**settings, "pipeline_stages": result.stages}


def _toolchain() -> dict:
    def first_line(command):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
            return (done.stdout or done.stderr).splitlines()[0].strip()
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None

    def debian(package):
        line = first_line(["dpkg-query", "-W", "-f", "${Version}", package])
        return line

    return {"avr_gcc": first_line(["avr-gcc", "--version"]),
            "arduino_core_avr": debian("arduino-core-avr"), "simavr": debian("simavr"),
            "arduino_builder": debian("arduino-builder")}


def run(limit: int | None = None) -> dict:
    import tinylab as tl
    from tinylab import deploy, engine

    data = tl.data.load("digits", seed=0)
    n = len(data.y_test) if limit is None else min(limit, len(data.y_test))
    X, y = data.X_test[:n], np.asarray(data.y_test[:n])
    out = {"examples": n, "toolchain": _toolchain(), "cycles_per_mac_bound": CYCLES_PER_MAC}
    _log("empty sketch (the baseline)")
    out["empty_sketch"] = baseline = empty_sketch()
    out["models"] = {}
    for key, (label, _) in MODELS.items():
        _log(f"{label}: building the model")
        start = time.perf_counter()
        model, settings = _make_model(key, data)
        # weight-shared models: one weight scale per layer keeps their few shared values few
        per_channel = MODELS[key][1] is None
        mlp, _ = deploy.integer_model(model, data, per_channel=per_channel)
        entry = {"key": key, "label": label, "settings": settings, "describe": mlp.describe(),
                 "weight_scales": "per channel" if per_channel else "per layer",
                 "shape": [mlp.n_inputs] + [layer.n_outputs for layer in mlp.layers],
                 "macs": _macs(mlp), "units": int(sum(l.n_outputs for l in mlp.layers)),
                 "nonzero_weights": int(sum(np.count_nonzero(l.weights) for l in mlp.layers)),
                 "requant_bytes": _requant_bytes(mlp),
                 "distinct_int8_weights": [int(np.unique(l.weights[l.weights != 0]).size)
                                           for l in mlp.layers],
                 "keras_test_accuracy": tl.train.accuracy(model, X, y),
                 "model_seconds": time.perf_counter() - start, "formats": {}}
        _log(f"  {mlp.describe()}")
        for format in FORMATS:
            row = measure_format(mlp, format, X, y)
            if row["flash_bytes"] is not None and baseline["flash_bytes"] is not None:
                row["model_flash_bytes"] = row["flash_bytes"] - baseline["flash_bytes"]
            if row["ram_bytes"] is not None and baseline["ram_bytes"] is not None:
                row["model_ram_bytes"] = row["ram_bytes"] - baseline["ram_bytes"]
            entry["formats"][format] = row
        entry["float"] = measure_float(model, mlp, X, y, key)
        float_flash = entry["float"].get("flash_bytes")
        if float_flash is not None:
            entry["float"]["model_flash_bytes"] = float_flash - baseline["flash_bytes"]
        if key == "student":
            _log("  emlearn")
            entry["emlearn"] = try_emlearn(model, mlp, key)
            _log(f"    {entry['emlearn'].get('why_not') or entry['emlearn'].get('build')}")
            _log("  int8 cost probe")
            entry["int8_probe"] = int8_cost_probe()
            _log(f"    {entry['int8_probe']}")
        probe = out["models"].get("student", {}).get("int8_probe")
        if key == "mlp300_p90" and probe:
            _log("  sparse cost probe")
            entry["sparse_probe"] = sparse_cost_probe(
                mlp, engine.quantize_inputs(mlp, X), _dense_reference(probe))
            _log(f"    {entry['sparse_probe']['whole']}")
        entry["goals"] = goals(entry)
        out["models"][key] = entry
    probe = out["models"].get("student", {}).get("int8_probe")
    out["cnns"], teacher = {}, None
    for key in CNN_MODELS:
        entry, model = measure_cnn(key, data, X, y, baseline, teacher)
        teacher = model if key == "cnn" else teacher
        if probe:
            entry["dense_reference"] = _dense_reference(probe)
        entry["goals"] = goals(entry)
        out["cnns"][key] = entry
    return out


def _dense_reference(probe: dict) -> dict:
    """The dense int8 probe's parts, as :func:`dense_equivalent_cycles` reads them."""
    return {"layer": probe["layer"], "layer_cycles_per_mac": probe["layer_cycles_per_mac"],
            "inner_loop_cycles_per_mac": probe["cycles_per_mac"],
            "cycles_per_unit": probe["cycles_per_unit"],
            "cycles_per_call": probe["cycles_per_call"]}


def goals(entry: dict) -> dict:
    """Each goal for one model: the numbers compared and the verdict (None: n/a).

    An MLP: the goals of issue 5 (and, for the lesson student, issue 14's "no worse than
    before"); a CNN: those of issue 14 (:func:`cnn_goals`).
    """
    if entry.get("kind") == "CNN":
        return cnn_goals(entry)
    formats, float_row = entry["formats"], entry["float"]
    int8, huffman = formats["int8"], formats["huffman"]
    ran = [r for r in formats.values() if r.get("bit_exact") is not None]
    result = {"bit_exact": {
        "min": min((r["bit_exact"] for r in ran), default=None),
        "formats": [r["format"] for r in ran],
        "met": bool(ran) and all(r["bit_exact"] >= GOAL_BIT_EXACT for r in ran)}}
    flash = {"firmware_ratio": None, "model_ratio": None, "weights_ratio": None,
             "met_firmware": None, "met_model": None}
    if int8["flash_bytes"] and huffman["flash_bytes"]:
        flash["firmware_ratio"] = int8["flash_bytes"] / huffman["flash_bytes"]
        flash["met_firmware"] = huffman["flash_bytes"] <= GOAL_FLASH_FRACTION * int8["flash_bytes"]
    if int8.get("model_flash_bytes") and huffman.get("model_flash_bytes"):
        flash["model_ratio"] = int8["model_flash_bytes"] / huffman["model_flash_bytes"]
        flash["met_model"] = (huffman["model_flash_bytes"]
                              <= GOAL_FLASH_FRACTION * int8["model_flash_bytes"])
    if int8["weight_bytes"] and huffman["weight_bytes"]:
        flash["weights_ratio"] = int8["weight_bytes"] / huffman["weight_bytes"]
    result["flash"] = flash
    bound = entry["macs"] * CYCLES_PER_MAC
    mac = {"macs": entry["macs"], "bound_cycles": bound, "int8_cycles": int8.get("cycles_mean"),
           "factor": None, "met": None}
    if int8.get("cycles_mean"):
        mac["factor"] = int8["cycles_mean"] / bound
        mac["met"] = mac["factor"] <= GOAL_MAC_BOUND_FACTOR
    result["mac_bound"] = mac
    speed = {"float_cycles": float_row.get("model_cycles_mean"),
             "int8_cycles": int8.get("cycles_mean"), "speedup": None, "met": None}
    if speed["float_cycles"] and speed["int8_cycles"]:
        speed["speedup"] = speed["float_cycles"] / speed["int8_cycles"]
        speed["met"] = speed["speedup"] >= GOAL_FLOAT_SPEEDUP
    result["float_speedup"] = speed
    if entry.get("settings", {}).get("architecture") == "student":
        cycles = int8.get("cycles_mean")
        result["student_cycles"] = {
            "before": GOAL_STUDENT_INT8_CYCLES, "int8_cycles": cycles,
            "met": None if cycles is None else cycles <= GOAL_STUDENT_INT8_CYCLES}
    key = entry.get("key")
    cycles = {f: r.get("cycles_mean") for f, r in formats.items()}
    if key in INT8_CYCLES_BEFORE and cycles["int8"]:
        result["int8_no_slower"] = {"before": INT8_CYCLES_BEFORE[key], "now": cycles["int8"],
                                    "met": cycles["int8"] <= INT8_CYCLES_BEFORE[key]}
    if key == "distilled" and cycles["int8"] and cycles["sparse"] and cycles["huffman"]:
        speedup = cycles["int8"] / cycles["sparse"]
        result["sparse_speedup"] = {"int8": cycles["int8"], "sparse": cycles["sparse"],
                                    "speedup": speedup, "met": speedup >= GOAL_SPARSE_SPEEDUP}
        ratio = cycles["huffman"] / cycles["int8"]
        result["huffman_vs_int8"] = {"int8": cycles["int8"], "huffman": cycles["huffman"],
                                     "ratio": ratio, "met": ratio <= GOAL_HUFFMAN_VS_INT8}
    probe = entry.get("sparse_probe")
    if probe:
        result["sparse_per_nonzero"] = {**probe["whole"],
                                        "met": probe["whole"]["ratio"] <= GOAL_SPARSE_PER_NONZERO}
    return result


def sparse_cost_probe(mlp, x_int8, dense: dict) -> dict:
    """The sparse format's cycles per non-zero weight, layer by layer, against dense int8's.

    Each layer of ``mlp`` runs alone (:func:`sub_model`) in the sparse format on the virtual
    Uno, on the int8 activations the layers before it give; its cycles over its non-zero
    weights are compared with what a dense int8 layer of its shape costs per MAC
    (:func:`dense_equivalent_cycles` from the dense probe). ``whole``: the layers summed.
    ``marginal``: the same without the per-unit epilogue both share (the probe's
    ``cycles_per_unit`` and ``cycles_per_call`` taken off both sides): what one entry costs
    against one dense multiply-accumulate.
    """
    from tinylab import deploy, engine

    rows, activations = [], np.asarray(x_int8)
    for i, layer in enumerate(mlp.ops):
        part = sub_model(mlp, i, i + 1)
        if layer.weight_rows() is None:  # a reshape: the host passes its output on
            activations = engine.run_int8(part, activations)
            continue
        firmware = deploy.build_firmware(part, "sparse", "uno")
        measured = _on_uno(part, firmware, activations[:PROBE_EXAMPLES])
        if measured["bit_exact"] < 1:
            raise RuntimeError(f"sparse probe {layer.name}: the board disagrees with the host")
        nonzero = int(np.count_nonzero(layer.weights))
        macs = layer.n_inputs * layer.n_outputs
        dense_cycles = dense_equivalent_cycles(layer.n_inputs, layer.n_outputs, dense)
        overhead = dense["cycles_per_call"] + layer.n_outputs * dense["cycles_per_unit"]
        rows.append({"layer": layer.name, "shape": [layer.n_inputs, layer.n_outputs],
                     "nonzero": nonzero, "entries": engine.formats.store(layer, "sparse").n_entries,
                     "cycles": measured["cycles_mean"], "dense_cycles": dense_cycles,
                     "macs": macs, "overhead": overhead})
        activations = engine.run_int8(part, activations)
    whole = {key: sum(r[key] for r in rows)
             for key in ("nonzero", "entries", "cycles", "dense_cycles", "macs", "overhead")}
    whole["per_nonzero"] = whole["cycles"] / whole["nonzero"]
    whole["dense_per_mac"] = whole["dense_cycles"] / whole["macs"]
    whole["ratio"] = whole["per_nonzero"] / whole["dense_per_mac"]
    marginal = {"per_nonzero": (whole["cycles"] - whole["overhead"]) / whole["nonzero"],
                "dense_per_mac": dense["inner_loop_cycles_per_mac"]}
    marginal["ratio"] = marginal["per_nonzero"] / marginal["dense_per_mac"]
    return {"layers": rows, "whole": whole, "marginal": marginal}


def cnn_goals(entry: dict) -> dict:
    """Issue 14's goals for one CNN: bit-exact, conv cost, RAM against tflite-micro's arena."""
    formats = entry["formats"]
    ran = [r for r in formats.values() if r.get("bit_exact") is not None]
    result = {"bit_exact": {
        "min": min((r["bit_exact"] for r in ran), default=None),
        "formats": [r["format"] for r in ran],
        "per_format": {r["format"]: r["bit_exact"] for r in ran},
        "met": len(ran) == len(formats) and all(r["bit_exact"] >= GOAL_BIT_EXACT for r in ran)}}
    chain, dense = entry["conv_probe"]["chain"], entry.get("dense_reference")
    conv = {"conv_cycles_per_mac": chain["cycles_per_mac"],
            "per_layer": [r["cycles_per_mac"] for r in entry["conv_probe"]["layers"]],
            "dense_cycles_per_mac": None, "ratio": None, "per_layer_ratio": None, "met": None}
    if dense:
        reference = dense["layer_cycles_per_mac"]
        conv.update({"dense_cycles_per_mac": reference,
                     "ratio": chain["cycles_per_mac"] / reference,
                     "per_layer_ratio": [c / reference for c in conv["per_layer"]]})
        conv["met"] = conv["ratio"] <= GOAL_CONV_VS_DENSE
    result["conv_vs_dense"] = conv
    in_model = entry["conv_probe"]["in_model_cycles_per_mac"]
    result["conv_in_model_vs_dense"] = {
        "conv_cycles_per_mac": in_model,
        "dense_cycles_per_mac": dense["layer_cycles_per_mac"] if dense else None,
        "ratio": in_model / dense["layer_cycles_per_mac"] if dense else None,
        "met": in_model / dense["layer_cycles_per_mac"] <= GOAL_CONV_VS_DENSE if dense else None}
    tflm = entry["tflm_arena_bytes"]
    totals = {r["format"]: r.get("ram_total_bytes") for r in formats.values()}
    measured = {f: t for f, t in totals.items() if t is not None}
    worst = max(measured, key=measured.get) if measured else None
    result["ram"] = {
        "tflm_arena_bytes": tflm, "limit_bytes": GOAL_RAM_FRACTION_OF_TFLM * tflm,
        "ram_total_bytes": totals, "worst_format": worst,
        "worst_fraction": None if worst is None else measured[worst] / tflm,
        "met": None if len(measured) < len(totals) else
        all(t <= GOAL_RAM_FRACTION_OF_TFLM * tflm for t in measured.values())}
    return result


# --------------------------------------------------------------------------- the docs

def _bytes(value) -> str:
    return "n/a" if value is None else f"{value:,}"


def _verdict(met) -> str:
    return "n/a" if met is None else ("yes" if met else "**no**")


def _format_rows(entry: dict, baseline: dict) -> list:
    rows = []
    for format, r in entry["formats"].items():
        fits = "yes" if r["fits"] else f"**no** (needs {_bytes(r['flash_bytes'])} bytes)"
        if r.get("cycles_mean") is None:
            rows.append([f"`{format}`", fits, _bytes(r["flash_bytes"]),
                         _bytes(r.get("model_flash_bytes")), f"{r['weight_bytes']:,}",
                         _bytes(r["ram_bytes"]), "not run", "not run", "", "", ""])
            continue
        rows.append([f"`{format}`", fits, _bytes(r["flash_bytes"]),
                     _bytes(r.get("model_flash_bytes")), f"{r['weight_bytes']:,}",
                     _bytes(r["ram_bytes"]), _bytes(r.get("stack_peak_bytes")),
                     f"{r['cycles_mean']:,.0f}",
                     f"{r['cycles_mean'] / CLOCK_HZ * 1000:.1f}",
                     f"{100 * r['board_accuracy']:.2f}", f"{100 * r['bit_exact']:.1f}"])
    f = entry["float"]
    label = "float32 C MLP (plain, generated here)"
    if f.get("cycles_mean") is None:
        needs = (f"weights alone {f['weight_bytes']:,} bytes" if f["flash_bytes"] is None
                 else f"needs {_bytes(f['flash_bytes'])} bytes")
        rows.append([label, f"**no** ({needs})", _bytes(f["flash_bytes"]),
                     _bytes(f.get("model_flash_bytes")), f"{f['weight_bytes']:,}",
                     _bytes(f["ram_bytes"]), "not run", "not run", "", "", "n/a"])
    else:
        cycles = f.get("model_cycles_mean", f["cycles_mean"])
        rows.append([label, "yes", _bytes(f["flash_bytes"]), _bytes(f.get("model_flash_bytes")),
                     f"{f['weight_bytes']:,}", _bytes(f["ram_bytes"]),
                     _bytes(f.get("stack_peak_bytes")),
                     f"{cycles:,.0f} (+ {f.get('conversion_cycles_mean', 0):,.0f})",
                     f"{cycles / CLOCK_HZ * 1000:.1f}", f"{100 * f['board_accuracy']:.2f}",
                     "n/a"])
    return rows


def _cnn_rows(entry: dict) -> list:
    rows, tflm = [], entry["tflm_arena_bytes"]
    for format, r in entry["formats"].items():
        fits = "yes" if r["fits"] else f"**no** (needs {_bytes(r['flash_bytes'])} bytes)"
        cells = [f"`{format}`", fits, _bytes(r["flash_bytes"]), _bytes(r.get("model_flash_bytes")),
                 f"{r['weight_bytes']:,}", _bytes(r["ram_bytes"])]
        if r.get("cycles_mean") is None:
            rows.append(cells + ["not run"] + [""] * 7)
            continue
        total = r.get("ram_total_bytes")
        rows.append(cells + [
            _bytes(r.get("stack_peak_bytes")), _bytes(total),
            "n/a" if total is None else f"{total / tflm:.2f}", f"{r['cycles_mean']:,.0f}",
            f"{r['cycles_mean'] / entry['macs']:.1f}", f"{r['cycles_mean'] / CLOCK_HZ * 1000:.1f}",
            f"{100 * r['board_accuracy']:.2f}", f"{100 * r['bit_exact']:.1f}"])
    return rows


def dense_equivalent_cycles(fan_in: int, outputs: int, dense: dict) -> float:
    """What a dense int8 layer with the same fan-in and as many outputs would cost, from the
    dense probe's parts: a call, and per output its requantization and ``fan_in`` MACs.

    A convolution's cost per MAC depends on its fan-in (``k_h * k_w * in_c``) far more than on
    being a convolution: every output pays one exact rescale whatever its number of products.
    This separates the two: the convolution's cycles over a dense layer of its shape."""
    return dense["cycles_per_call"] + outputs * (dense["cycles_per_unit"]
                                                 + fan_in * dense["inner_loop_cycles_per_mac"])


def _conv_rows(entry: dict) -> list:
    probe, dense = entry["conv_probe"], entry.get("dense_reference")
    rows = []
    extra = [probe[k] for k in ("after", "whole") if probe.get(k)]
    for r in probe["layers"] + [probe["chain"]] + extra:
        what = {"chain": "all convolutions (one model)", "after": "the ops after them",
                "whole": "the whole model"}.get(r["role"]) \
            or " + ".join(f"`{n}`" for n in r["names"])
        per_mac = r["cycles_per_mac"]
        shaped = ""
        if r.get("fan_in") is not None and dense and "cycles_per_unit" in dense:
            equivalent = dense_equivalent_cycles(r["fan_in"], r["outputs"], dense)
            shaped = f"{r['fan_in']} x {r['outputs']:,}: {r['cycles_mean'] / equivalent:.2f}x"
        rows.append([entry["settings"]["architecture"], what, f"`ops[{r['ops']}]`",
                     f"{r['conv_macs']:,}", f"{r['cycles_mean']:,.0f}",
                     "" if per_mac is None else f"{per_mac:.1f}",
                     "" if per_mac is None or not dense else
                     f"{per_mac / dense['layer_cycles_per_mac']:.2f}x",
                     shaped,
                     f"{100 * r['bit_exact']:.0f}"])
    if dense:
        in_model = probe["in_model_cycles_per_mac"]
        rows.append([entry["settings"]["architecture"],
                     "the convolutions inside the whole model (whole - after)", "",
                     f"{probe['chain']['conv_macs']:,}", "", f"{in_model:.1f}",
                     f"{in_model / dense['layer_cycles_per_mac']:.2f}x", "", ""])
    return rows


def _cnn_goal_rows(result: dict) -> list:
    rows = []
    student = result["models"].get("student", {}).get("goals", {}).get("student_cycles")
    if student:
        rows.append([result["models"]["student"]["label"],
                     f"int8 cycles no more than before ({student['before']:,})",
                     "not run" if student["int8_cycles"] is None else
                     f"{student['int8_cycles']:,.0f}", _verdict(student["met"])])
    for entry in result.get("cnns", {}).values():
        g, name = entry["goals"], entry["label"]
        per_format = ", ".join(f"{f} {100 * v:.1f}%"
                               for f, v in g["bit_exact"]["per_format"].items())
        rows.append([name, "100% bit-exact in every format", per_format or "not run",
                     _verdict(g["bit_exact"]["met"])])
        c = g["conv_vs_dense"]
        rows.append([name, f"conv cycles per MAC <= {GOAL_CONV_VS_DENSE}x the dense int8 layer's",
                     "n/a (no dense probe in this run)" if c["ratio"] is None else
                     f"{c['conv_cycles_per_mac']:.1f} / {c['dense_cycles_per_mac']:.1f} = "
                     f"{c['ratio']:.2f}x (per layer: "
                     + ", ".join(f"{v:.2f}x" for v in c["per_layer_ratio"]) + ")",
                     _verdict(c["met"])])
        c = g["conv_in_model_vs_dense"]
        probe = entry["conv_probe"]
        after = probe["after"]["cycles_mean"] if probe["after"] else 0
        rows.append([name, "the same, the convolutions inside the whole model",
                     "n/a" if c["ratio"] is None else
                     f"({probe['whole']['cycles_mean']:,.0f} - {after:,.0f}) / "
                     f"{probe['chain']['conv_macs']:,} = {c['conv_cycles_per_mac']:.1f}; "
                     f"/ {c['dense_cycles_per_mac']:.1f} = {c['ratio']:.2f}x",
                     _verdict(c["met"])])
        ram = g["ram"]
        measured = ", ".join(f"{f} {_bytes(t)}" for f, t in ram["ram_total_bytes"].items())
        rows.append([name, "RAM total (static + stack peak) <= 1/2 of tflite-micro's arena",
                     f"{measured} vs {ram['tflm_arena_bytes']:,} / 2 = "
                     f"{ram['limit_bytes']:,.0f}" + ("" if ram["worst_fraction"] is None else
                                                    f" (at most {ram['worst_fraction']:.2f}x)"),
                     _verdict(ram["met"])])
    return rows


def _side_by_side(result: dict) -> list:
    """MLPs and CNNs in the int8 format, one row each (those that ran)."""
    rows = []
    for entry in list(result["models"].values()) + list(result.get("cnns", {}).values()):
        r = entry["formats"]["int8"]
        if r.get("cycles_mean") is None:
            continue
        weights = entry.get("weights", entry.get("nonzero_weights"))
        total = r.get("ram_total_bytes")
        rows.append([entry["label"], entry.get("kind", "MLP"), f"{weights:,}",
                     f"{entry['macs']:,}", f"{r['flash_bytes']:,}",
                     f"{r['ram_bytes']:,} + {_bytes(r.get('stack_peak_bytes'))} = "
                     f"{_bytes(total)}", f"{r['cycles_mean']:,.0f}",
                     f"{r['cycles_mean'] / entry['macs']:.1f}",
                     f"{100 * r['board_accuracy']:.2f}"])
    return rows


def _cnn_docs(result: dict) -> str:
    """The CNN part of the section: how it was measured, the tables, issue 14's goals."""
    cnns = result.get("cnns") or {}
    if not cnns:
        return ""
    baseline = result["empty_sketch"]
    student = result["models"].get("student", {})
    probe = student.get("int8_probe")
    header = ["weight format", "fits the Uno", "flash bytes", "model flash bytes",
              "weight bytes", "static RAM bytes", "stack peak bytes", "RAM total bytes",
              "RAM total / TFLM arena", "cycles / inference", "cycles / MAC", "ms at 16 MHz",
              "board test %", "bit-exact %"]
    sections = []
    for entry in cnns.values():
        host = [r["host_accuracy"] for r in entry["formats"].values() if "host_accuracy" in r]
        sections.append(
            f"**{entry['label']}**: `{entry['describe']}` ({entry['conv_macs']:,} of the MACs in "
            f"convolutions); Keras float32 test accuracy "
            f"{100 * entry['keras_test_accuracy']:.2f}%"
            + (f", host int8 reference {100 * host[0]:.2f}%" if host else "")
            + f". Its int8 `.tflite` ({entry['tflite_bytes']:,} bytes) needs a tflite-micro "
              f"arena of {entry['tflm_arena_bytes']:,} bytes; the engine's arena, planned by "
              f"lifetime with each pool fused into its convolution, is "
              f"{entry['engine_arena_bytes']:,} bytes (one buffer per activation would take "
              f"{entry['engine_unplanned_bytes']:,}).\n\n"
            + markdown_table(header, _cnn_rows(entry)))
    conv_rows = [row for entry in cnns.values() for row in _conv_rows(entry)]
    dense = (f"{probe['layer_cycles_per_mac']:.1f} cycles per MAC: the probe's one-layer "
             f"{probe['layer']} int8 model, {probe['cycles']['full']:,.0f} cycles for "
             f"{64 * 32:,} MACs, its call, bias, requantization and clamp included (its inner "
             f"loop alone: {probe['cycles_per_mac']:.1f}; the whole 64-32-10 student: "
             f"{student['formats']['int8']['cycles_mean'] / student['macs']:.1f})"
             if probe else "not measured in this run")
    how = (
        "**The CNNs (issue 14).** The same run, the same sketch and test examples; each CNN "
        "with dense int8 weights (per channel) in every format (the pipeline's pruning route "
        "removes dead units, which lesson 04 does for MLPs only). **Stack peak**: the sketch "
        "paints the free RAM before each inference and reports the deepest byte the stack "
        "reached (the whole sketch's stack, the model's frames included; the deepest over the "
        "examples; the empty-model sketch reaches "
        f"{_bytes(baseline.get('stack_peak_bytes'))}). **RAM total** = static RAM of the "
        "build (the Arduino core and its serial buffers, the sketch's input and output, the "
        "engine's arena) + stack peak: what the firmware needs. **TFLM arena**: "
        "`tl.convert.arena_bytes` of the same `.tflite`, the smallest tensor arena in which "
        "the tflite-micro interpreter (host build, reference kernels) runs it, found by "
        "bisection; it excludes the interpreter's own code, static data and stack, so the "
        "ratio favours tflite-micro. **Engine arena**: `tl.engine.plan_memory(model)."
        "arena_bytes`, part of the static RAM. **Cycles / MAC**: cycles over all the "
        "model's multiply-accumulates (`IntegerModel.macs`).\n\n"
        "MLPs and CNNs side by side, int8 format (weights: non-zero weights for the MLPs, "
        "all weights for the CNNs):\n\n"
        + markdown_table(["model", "kind", "weights", "MACs", "flash bytes",
                          "RAM bytes: static + stack peak = total", "cycles / inference",
                          "cycles / MAC", "board test %"], _side_by_side(result))
        + "\n\n" + "\n\n".join(sections)
        + "\n\n**The convolutions alone** (`conv_cost_probe`, int8, the first "
          f"{cnns[next(iter(cnns))]['conv_probe']['examples']} test examples): each "
          "convolution, with the max pool the engine fuses into it, built as a model of its "
          "own from its ops (`tl.engine.IntegerModel` of `model.ops[a:b]`, the scales of the "
          "first and last op) and fed the activations it gets inside the CNN (the host's "
          "integer reference of the ops before it); then all the convolutions as one model, "
          "from the input to the last pool. Cycles / the convolutions' MACs is their cost "
          "with the patch copy, every output's requantization and the pooling, compared "
          f"with the dense int8 layer's measured the same way: {dense}. The ops after the "
          "convolutions and the whole model are measured on the same examples: inside the "
          "whole model the convolutions cost (whole - the ops after them) / their MACs, which "
          "can differ from their cost alone (the compiler inlines the kernels' helpers "
          "differently when several ops share them). The last column compares each "
          "convolution with a dense layer of its shape (its fan-in `k_h * k_w * in_c` and "
          "as many outputs, before the pool), costed from the dense probe's parts "
          "(`dense_equivalent_cycles`: a call, then per output one requantization and "
          "fan-in MACs): a first convolution on a one-channel image has 9 products per "
          "output against one exact rescale each, and so would a dense layer of 9 inputs.\n\n"
        + markdown_table(["model", "ops", "slice", "conv MACs", "cycles / inference",
                          "cycles / conv MAC", "vs the dense layer",
                          "vs a dense layer of its shape (fan-in x outputs)", "bit-exact %"],
                         conv_rows)
        + "\n\nGoals (issue 14).\n\n"
        + markdown_table(["model", "goal", "measured", "goal met"], _cnn_goal_rows(result)))
    return how


def _entropy(p: float) -> float:
    """Bits of information in a yes/no choice made with probability ``p``."""
    return 0.0 if p <= 0 or p >= 1 else float(-p * np.log2(p) - (1 - p) * np.log2(1 - p))


def _issue15_notes(result: dict, probe) -> list:
    """Why each of issue 15's missed goals is out of reach, from the measured numbers."""
    from tinylab.engine.formats import sparse

    notes, models = [], result["models"]
    distilled, teacher = models.get("distilled"), models.get("mlp300_p90")
    if distilled and probe and distilled["goals"].get("sparse_speedup", {}).get("met") is False:
        int8, row = distilled["formats"]["int8"], distilled["formats"]["sparse"]
        entries = row.get("entries") or row["parts"]["weights"]  # shared: a byte per entry
        macs = distilled["macs"] * probe["cycles_per_mac"]
        rest = int8["cycles_mean"] - macs
        per_entry = (row["cycles_mean"] - rest) / entries
        need = (int8["cycles_mean"] / GOAL_SPARSE_SPEEDUP - rest) / entries
        notes.append(
            f"**Why the sparse format is not {GOAL_SPARSE_SPEEDUP}x faster on the distilled "
            f"model.** Of the int8 build's {int8['cycles_mean']:,.0f} cycles, about "
            f"{macs:,.0f} are its {distilled['macs']:,} multiply-accumulates "
            f"({probe['cycles_per_mac']:.1f} each, the dense probe below) and the other "
            f"{rest:,.0f} (requantizing {distilled['units']} output units, the calls and "
            f"loops) are paid by the sparse build too. Its {entries:,} entries "
            f"({distilled['nonzero_weights']:,} non-zero weights and the fillers; layout "
            f"{'/'.join(sorted(set(row['layouts'])))}) then cost about {per_entry:.1f} cycles "
            f"each; {GOAL_SPARSE_SPEEDUP}x would need at most {need:.1f} per entry, less than "
            f"an entry takes on this CPU (fetch it, move the input pointer by its gap, load "
            f"the input, fetch or look up the weight, multiply, add: about 17 cycles in the "
            f"wide layout's loop, 21 in the shared one's, whose entries are half the size; "
            f"`boards/engine/format_sparse.c`). The model keeps {distilled['nonzero_weights']:,}"
            f" of its {distilled['macs']:,} weights ({distilled['nonzero_weights'] / distilled['macs']:.0%}"
            f"): pruning removed dead units, which int8 profits from too.")
    if teacher and probe and teacher.get("sparse_probe"):
        whole = teacher["sparse_probe"]["whole"]
        units = sum(r["shape"][1] for r in teacher["sparse_probe"]["layers"])
        notes.append(
            f"**Why the 90%-pruned teacher's sparse cycles per non-zero weight stay above "
            f"{GOAL_SPARSE_PER_NONZERO}x a dense MAC.** A dense layer spreads each output "
            f"unit's requantization ({probe['cycles_per_unit']:,.0f} cycles, the dense probe) "
            f"over its fan-in of multiply-accumulates; at {whole['nonzero'] / whole['macs']:.0%}"
            f" density the sparse layer spreads it over a tenth as many. Of the sparse layers' "
            f"{whole['cycles']:,.0f} cycles, {whole['overhead']:,.0f} are that per-unit work for "
            f"{units} units; the entries themselves cost "
            f"{(whole['cycles'] - whole['overhead']) / whole['nonzero']:.1f} cycles per non-zero "
            f"weight ({whole['entries']:,} entries for {whole['nonzero']:,} non-zero weights: "
            f"gaps of up to {sparse.GAP_LIMITS['shared']} zeros per entry in the shared layout).")
    if teacher and teacher["goals"]["flash"].get("met_model") is False:
        row, int8 = teacher["formats"]["huffman"], teacher["formats"]["int8"]
        goal = GOAL_FLASH_FRACTION * int8["model_flash_bytes"]
        density = teacher["nonzero_weights"] / teacher["macs"]
        positions = teacher["macs"] * _entropy(density) / 8
        notes.append(
            f"**Why the deep-compressed teacher's model flash misses 1/8 of int8's.** 1/8 of "
            f"{int8['model_flash_bytes']:,} is {goal:,.0f} bytes. The Huffman build's data "
            f"alone is {row['data_bytes']:,} bytes ({row['parts'].get('weights', 0):,} of code "
            f"words, {row['parts'].get('biases', 0):,} of biases), before its "
            f"{row['model_flash_bytes'] - row['data_bytes']:,} bytes of code. Which "
            f"{teacher['nonzero_weights']:,} of its {teacher['macs']:,} weights are kept is "
            f"itself {positions:,.0f} bytes of information ({_entropy(density):.2f} bits per "
            f"weight at {density:.1%} density), whatever the coding, and each kept weight's "
            f"value from a 15-value codebook adds about 3 to 4 bits more.")
    return notes


def write_docs(result: dict, target: Path) -> None:
    machine, baseline, tools = result["machine"], result["empty_sketch"], result["toolchain"]
    header = ["weight format", "fits the Uno", "flash bytes", "model flash bytes",
              "weight bytes", "static RAM bytes", "stack peak bytes", "cycles / inference",
              "ms at 16 MHz", "board test %", "bit-exact %"]
    sections = []
    for key, entry in result["models"].items():
        host = [r["host_accuracy"] for r in entry["formats"].values() if "host_accuracy" in r]
        title = (f"**{entry['label']}**: int8 MLP {' -> '.join(map(str, entry['shape']))} "
                 f"(weight scales {entry.get('weight_scales', 'per channel')}), "
                 f"{entry['macs']:,} MACs, {entry['nonzero_weights']:,} non-zero weights; "
                 f"Keras float32 test accuracy {100 * entry['keras_test_accuracy']:.2f}%"
                 + (f", host int8 reference {100 * host[0]:.2f}%." if host else "."))
        sections.append(title + "\n\n" + markdown_table(header, _format_rows(entry, baseline)))
    goal_rows = []
    for key, entry in result["models"].items():
        g, name = entry["goals"], entry["label"]
        goal_rows.append([name, "100% bit-exact (every format that runs)",
                          "n/a" if g["bit_exact"]["min"] is None else
                          f"lowest {100 * g['bit_exact']['min']:.1f}% "
                          f"({', '.join(g['bit_exact']['formats'])})",
                          _verdict(g["bit_exact"]["met"])])
        fl = g["flash"]
        goal_rows.append([name, "huffman model flash <= 1/8 of dense int8's",
                          "n/a" if fl["model_ratio"] is None else
                          f"int8 / huffman = {fl['model_ratio']:.2f}x (weight bytes alone: "
                          f"{fl['weights_ratio']:.2f}x)",
                          _verdict(fl["met_model"])])
        goal_rows.append([name, "huffman firmware flash <= 1/8 of dense int8's",
                          "n/a" if fl["firmware_ratio"] is None else
                          f"int8 / huffman = {fl['firmware_ratio']:.2f}x",
                          _verdict(fl["met_firmware"])])
        mb = g["mac_bound"]
        goal_rows.append([name, f"dense int8 cycles <= {GOAL_MAC_BOUND_FACTOR}x the MAC bound",
                          "int8 does not run on the Uno" if mb["factor"] is None else
                          f"{mb['int8_cycles']:,.0f} / ({mb['macs']:,} x {CYCLES_PER_MAC}) = "
                          f"{mb['factor']:.2f}x", _verdict(mb["met"])])
        fs = g["float_speedup"]
        goal_rows.append([name, f">= {GOAL_FLOAT_SPEEDUP}x fewer cycles than float32 C",
                          "not measurable (a model does not fit)" if fs["speedup"] is None else
                          f"{fs['float_cycles']:,.0f} / {fs['int8_cycles']:,.0f} = "
                          f"{fs['speedup']:.2f}x",
                          _verdict(fs["met"])])
    goal15 = []
    for key, entry in result["models"].items():
        g, name = entry["goals"], entry["label"]
        if "int8_no_slower" in g:
            n = g["int8_no_slower"]
            goal15.append([name, "dense int8 no slower than before issue 15",
                           f"{n['now']:,.0f} vs {n['before']:,}", _verdict(n["met"])])
        if "sparse_speedup" in g:
            sp = g["sparse_speedup"]
            goal15.append([name, f"sparse >= {GOAL_SPARSE_SPEEDUP}x faster than dense int8",
                           f"{sp['int8']:,.0f} / {sp['sparse']:,.0f} = {sp['speedup']:.2f}x",
                           _verdict(sp["met"])])
            hv = g["huffman_vs_int8"]
            goal15.append([name, f"huffman <= {GOAL_HUFFMAN_VS_INT8}x the dense int8 cycles",
                           f"{hv['huffman']:,.0f} / {hv['int8']:,.0f} = {hv['ratio']:.2f}x",
                           _verdict(hv["met"])])
        if "sparse_per_nonzero" in g:
            sn, marginal = g["sparse_per_nonzero"], entry["sparse_probe"]["marginal"]
            goal15.append([name, f"sparse cycles per non-zero weight <= "
                                 f"{GOAL_SPARSE_PER_NONZERO}x the dense layer's per MAC",
                           f"{sn['per_nonzero']:.1f} / {sn['dense_per_mac']:.1f} = "
                           f"{sn['ratio']:.2f}x (without the per-unit epilogue both share: "
                           f"{marginal['per_nonzero']:.1f} / {marginal['dense_per_mac']:.1f} = "
                           f"{marginal['ratio']:.2f}x)", _verdict(sn["met"])])
        if key == "mlp300_p90":
            fl = g["flash"]
            goal15.append([name, "huffman model flash <= 1/8 of dense int8's",
                           "n/a" if fl["model_ratio"] is None else
                           f"int8 / huffman = {fl['model_ratio']:.2f}x",
                           _verdict(fl["met_model"])])
    student = result["models"].get("student", {})
    emlearn = student.get("emlearn", {})
    probe = student.get("int8_probe")
    notes = _issue15_notes(result, probe)
    if emlearn:
        if emlearn.get("why_not"):
            notes.append(f"**Why not emlearn's float MLP.** {emlearn['why_not']}. So the float "
                         f"comparison is a plain float32 C MLP generated by this benchmark: "
                         f"emlearn's loop (`eml_net_forward`: for each output, the sum over "
                         f"inputs of `w[o + i * n_out] * in[i]`, then the bias, then ReLU) with "
                         f"the weights in flash read by `pgm_read_float`, avr-gcc's soft "
                         f"float.")
        elif emlearn.get("build", {}).get("fits"):
            notes.append(f"emlearn {emlearn['version']} built a float MLP that fits "
                         f"({emlearn['build']['flash_bytes']:,} bytes of flash, "
                         f"{emlearn['build']['ram_bytes']:,} of RAM); this run still compares "
                         f"with the plain float C MLP.")
    parts = []
    for entry in result["models"].values():
        int8 = entry["formats"]["int8"]
        int8_code = (None if int8.get("model_flash_bytes") is None
                     else int8["model_flash_bytes"] - int8["data_bytes"])
        for format, row in entry["formats"].items():
            if row.get("model_flash_bytes") is None or "parts" not in row:
                continue
            code = row["model_flash_bytes"] - row["data_bytes"]
            listed = ", ".join(f"{n:,} {part}" for part, n in row["parts"].items())
            decoder = ("" if format == "int8" or int8_code is None else
                       f", of which {code - int8_code:,} more than int8's: the decoder")
            parts.append(f"{entry['label']}, `{format}`"
                         + (f" ({'/'.join(sorted(set(row['layouts'])))})"
                            if format == "sparse" else "")
                         + f": {row['model_flash_bytes']:,} = {listed} + {code:,} of code "
                         f"(kernels, op descriptions){decoder}")
    if parts:
        notes.append(
            "**What the model flash holds** (`tl.engine.model_storage`, the arrays the "
            "generated C writes, by part; the rest is code). Every format stores, beside its "
            "weights, a bias per output unit (24 bits when every folded bias of the op fits, else 32) "
            "and a multiplier and shift per unit (the dense student, converted per channel) or "
            "per layer (the weight-shared models, converted with one weight scale per layer so "
            "that a layer's 15 shared values stay 15 int8 values). "
            + "; ".join(parts) + ".")
    if probe:
        notes.append(
            f"**Where the dense int8 cycles go** (one-layer {probe['layer']} models made for "
            f"the probe, `int8_cost_probe`): {probe['cycles_per_mac']:.1f} cycles per "
            f"multiply-accumulate in the inner loop (the bound counts {CYCLES_PER_MAC}; the "
            f"hand-written loop also loads the input and adds products in pairs), "
            f"{probe['cycles_per_unit']:,.0f} cycles per output unit outside it (the call of "
            f"the dot product, the bias, TFLM's fixed-point rescale done in 32-bit pieces, "
            f"the rounding shift and the clamp), of which a ReLU unit whose sum is <= 0 skips "
            f"{probe['cycles_saved_per_relu_skip']:,.0f}, and {probe['cycles_per_call']:,.0f} "
            f"per layer call.")
    body = (
        f"{measured_on(machine)}; "
        f"{tools['avr_gcc']}, Debian arduino-core-avr {tools['arduino_core_avr']}, simavr "
        f"{tools['simavr']}. The virtual Uno (ATmega328P, 16 MHz, 32,256 bytes of usable flash, "
        f"2,048 of RAM) runs the inference sketch; each of the {result['examples']} digits test "
        f"examples goes over serial. **Cycles** are counted by Timer1 inside the simulated MCU "
        f"around `tl_model_run` (mean over the examples): they do not depend on the host's load, "
        f"unlike wall-clock time (the CPU was shared with other jobs). Flash and static RAM "
        f"come from the build; the stack's peak is measured on the board (see the CNNs "
        f"below). **Model flash** = flash minus "
        f"the same sketch built around an empty model ({_bytes(baseline['flash_bytes'])} bytes "
        f"of flash, {_bytes(baseline['ram_bytes'])} of RAM: the Arduino core, Serial, the "
        f"protocol and the cycle counter), so it holds the model's data *and* its kernel code. "
        f"**Weight bytes**: the format's arrays alone (weights, gaps, codebooks, code "
        f"tables, row lengths; `tl.engine.model_storage(model, format).weight_bytes`). "
        f"**Bit-exact**: examples whose 10 int8 outputs equal the host's integer reference "
        f"(`tl.engine.run_int8`, itself bit-exact with tflite-micro). Models: seed 0, digits "
        f"split seed 0, pipeline settings fixed in advance (candidates of `bench/quantize.py`), "
        f"none tuned on this benchmark; each model converted to int8 with the training split as "
        f"representative set.\n\n"
        + "\n\n".join(sections)
        + "\n\nThe float32 row's cycles exclude converting the int8 inputs to float and the "
          "scores back (measured apart, in parentheses); its board accuracy is the argmax of "
          "its scores quantized to the int8 output scale.\n\n"
        + "Goals (issue 5). The MAC lower bound: MACs (sum of inputs x outputs over the "
          f"layers) x {CYCLES_PER_MAC} cycles: on the ATmega328P an int8 multiply-accumulate "
          "cannot avoid fetching the weight from flash (`lpm`, 3 cycles), the 8x8 signed "
          "multiply (`muls`, 2) and adding the product into a 32-bit accumulator (`add` + 3 "
          "`adc`, 4); the input load (`ld`, 2), the zero-point offset, sign extension, loop "
          "control and the per-unit requantization come on top. The flash goal is judged both "
          "on the model's share (the fair comparison of formats) and on the whole firmware.\n\n"
        + markdown_table(["model", "goal", "measured", "goal met"], goal_rows)
        + ("\n\nGoals (issue 15: compressed formats that pay on the chip). Cycles per "
           "non-zero weight: each layer of the 90%-pruned teacher run alone in the sparse "
           "format (`sparse_cost_probe`), its cycles over its non-zero weights, against a "
           "dense int8 layer of the same shape per MAC (from the dense probe below).\n\n"
           + markdown_table(["model", "goal", "measured", "goal met"], goal15)
           if goal15 else "")
        + ("\n\n" + "\n\n".join(notes) if notes else "")
        + ("\n\n" + _cnn_docs(result) if result.get("cnns") else "")
        + f"\n\nWhole run {result['seconds']:.0f} s. Command: `tinylab bench mcu --json --write`.")
    write_section("mcu", body, target, title="On the microcontroller (lesson 08)")


def main(argv=None) -> int:
    parser = arguments(__doc__, "mcu")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N test examples (a quick check; not with --write)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be >= 1, got {args.limit}")
    if args.limit is not None and args.write:
        parser.error("--write records the whole test split: drop --limit")
    start = time.perf_counter()
    result = {"benchmark": "mcu", "machine": current_machine(), **run(args.limit)}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return report(result, args.write, write_docs)


if __name__ == "__main__":
    sys.exit(main())
