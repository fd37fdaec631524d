"""The model as C99 source: the kernels it needs, its data in flash, its arena, its run function.

:func:`generate_c` writes a header (the contract a sketch uses) and a source file that holds,
in order: ``boards/engine/common.c``; the weight format's C (``format_<name>.c``); the C
file of each kind of op the model uses
(``op_<kind>.c``); then per step of the :func:`tinylab.engine.memory.plan_memory` plan the
op's arrays and its description (``static const tl_<kind>_t tl_op_<i> TL_FLASH``), the arena,
and ``tl_model_run``, one call per step. With a :class:`tinylab.engine.raw_input.RawInput` it
also writes ``tl_model_quantize_reading``: a raw reading to the model's int8 input, with the
per-channel constants in flash; and ``boards/engine/raw_reading.c``, the parser with which the
sketches read a reading from its decimal text (``tl_reading_byte``, ``tl_reading_end``), the
board's side of :func:`tinylab.engine.raw_input.parse_reading`.

Introduced in lesson ``08_deploy``; raw readings with lesson ``09_gestures``.
"""

from __future__ import annotations

from .._paths import BOARDS_DIR
from ..export import banner, check_c_name
from .c_text import c_array, c_float
from .formats import MODULES, c_arrays, check_format
from .formats.stored import c_definitions
from .memory import plan_memory
from .raw_input import RAW_LIMIT, RawInput
from .reference import check_model

__all__ = ["KERNELS_DIR", "kernel_text", "generate_c"]

#: Where the engine's C files live.
KERNELS_DIR = BOARDS_DIR / "engine"


def kernel_text(names) -> str:
    """The text of the engine's C files ``names``, in order."""
    missing = [name for name in names if not (KERNELS_DIR / name).is_file()]
    if missing:
        raise FileNotFoundError(f"the C engine's files {missing} are missing from "
                                f"{KERNELS_DIR}; they ship with TinyLab's repository "
                                f"(boards/engine/)")
    return "\n".join((KERNELS_DIR / name).read_text() for name in names)


def _c_name(op) -> str:
    """``op_conv_2d.c`` -> ``tl_conv_2d``: the op's C type adds ``_t``, its call ``_run``."""
    return "tl_" + op.c_kernel[len("op_"):-len(".c")]


def _step_source(step, i: int, format: str):
    """The arrays and the flash description of step ``i``."""
    op, prefix, arrays, fields = step.op, f"tl_op_{i}", "", {}
    if hasattr(op, "requant_flash"):
        requant_arrays, fields["requant"] = c_definitions(*op.requant_flash(), prefix)
        arrays += requant_arrays
    rows = op.weight_rows()
    if rows is not None:
        weight_arrays, fields["weights"] = c_arrays(MODULES[format].store(rows), prefix)
        arrays += weight_arrays
    if step.pool is not None:
        fields["pool"] = step.pool
    body = ",\n    ".join(op.c_fields(**fields))
    what = op.summary() + (f", then {step.pool.summary()} (fused)" if step.pool else "")
    return (f"/* step {i}: {op.name}: {what} */\n" + arrays
            + f"static const {_c_name(op)}_t {prefix} TL_FLASH = {{\n    {body}\n}};\n\n")


def _run_source(plan) -> str:
    lines = ["/* activations and scratch: static RAM, planned by lifetime, in int32 words (a "
             "kernel may keep int32 in its scratch) */",
             f"TL_UNUSED static int32_t tl_arena_words[{max(-(-plan.arena_bytes // 4), 1)}];",
             "#define tl_arena ((int8_t *)tl_arena_words)", "",
             "void tl_model_run(const int8_t *input, int8_t *output)", "{"]

    def where(offset, outside):
        return outside if offset is None else f"tl_arena + {offset}"

    for i, step in enumerate(plan.steps):
        scratch = "0" if step.scratch_offset is None else f"tl_arena + {step.scratch_offset}"
        lines.append(f"    {_c_name(step.op)}_run(&tl_op_{i}, {where(step.input_offset, 'input')}"
                     f", {where(step.output_offset, 'output')}, {scratch});")
    return "\n".join(lines + ["}", ""])


def _check_raw_input(model, raw_input):
    """``raw_input`` if it was made for ``model`` (None passes); else a ValueError/TypeError."""
    if raw_input is None:
        return None
    if not isinstance(raw_input, RawInput):
        raise TypeError(f"raw_input must be a RawInput (tl.engine.raw_input(model, "
                        f"data.normalization)), got {type(raw_input).__name__}")
    if (raw_input.base_model_hash != model.model_hash
            or raw_input.input_shape != tuple(model.input_shape)
            or raw_input.input_scale != float(model.input_scale)
            or raw_input.input_zero_point != model.input_zero_point):
        raise ValueError(f"this RawInput was made for model {raw_input.base_model_hash}, not "
                         f"{model.model_hash}: make it from this model, "
                         f"tl.engine.raw_input(model, data.normalization)")
    return raw_input


def _raw_header(raw_input) -> str:
    if raw_input is None:
        return ""
    return f"""
/* Raw readings ({', '.join(raw_input.channels)}): a reading of channel c (value i of an
 * example is channel i % TL_RAW_CHANNELS) as the integer fixed = reading * 10^TL_RAW_DECIMALS,
 * |fixed| <= TL_RAW_LIMIT (saturated), becomes the model's int8 input with the training
 * split's standardization and the input quantization, in integers only: bit-exact with
 * tinylab.engine.RawInput.quantize. */
#define TL_RAW_CHANNELS {raw_input.n_channels}
#define TL_RAW_DECIMALS {raw_input.decimals}
#define TL_RAW_LIMIT {RAW_LIMIT}L
int8_t tl_model_quantize_reading(int32_t fixed, uint8_t channel);

/* A reading's decimal text, read byte by byte as tinylab.engine.raw_input.parse_reading reads
 * it (boards/engine/raw_reading.c): an optional sign, digits, an optional '.' and digits;
 * decimals beyond TL_RAW_DECIMALS dropped, missing ones zeros, magnitudes beyond TL_RAW_LIMIT
 * saturated. The sketch splits the line at its separators:
 *   static tl_reading_t reading;   zero (or tl_reading_clear) is a reading not yet begun
 *   each byte c of a word: if (!tl_reading_byte(&reading, c)) c is not part of a number;
 *   at a separator: tl_reading_end(&reading, &fixed) is TL_READING_NUMBER (fixed holds
 *   reading * 10^TL_RAW_DECIMALS), TL_READING_NONE (no word: two separators in a row), or the
 *   byte ('.', '-' or '+') that stood without digits. It leaves the state cleared. */
typedef struct {{
    uint32_t magnitude; /* |reading| * 10^decimals so far, saturated at TL_RAW_LIMIT */
    int8_t decimals;    /* digits kept after the '.' */
    uint8_t flags;      /* a digit, a sign, a minus, the '.' were read */
}} tl_reading_t;
#define TL_READING_NONE 0
#define TL_READING_NUMBER 1
void tl_reading_clear(tl_reading_t *reading);
uint8_t tl_reading_byte(tl_reading_t *reading, char c);
uint8_t tl_reading_end(tl_reading_t *reading, int32_t *fixed);
"""


def _raw_source(raw_input) -> str:
    """Per channel, in flash: the mean as an integer and its fraction, the clamp, the rescale."""
    if raw_input is None:
        return ""
    means = ", ".join(f"{m:g}" for m in raw_input.mean)
    stds = ", ".join(f"{s:g}" for s in raw_input.std)
    return (f"/* raw readings, {raw_input.decimals} decimals: per channel (means {means}; "
            f"stds {stds})\n * the mean * 10^{raw_input.decimals} as n + f / 2^p, the "
            f"clamp L of fixed - n, and quantize_multiplier(1 / (10^{raw_input.decimals} * std *"
            f"\n * {c_float(raw_input.input_scale)} * 2^p)) (tinylab.engine.RawInput) */\n"
            + c_array("int32_t", "tl_raw_mean", raw_input.fixed_mean)
            + c_array("int32_t", "tl_raw_mean_fraction", raw_input.mean_fraction)
            + c_array("uint8_t", "tl_raw_fraction_bits", raw_input.fraction_bits)
            + c_array("int32_t", "tl_raw_limit", raw_input.limit)
            + c_array("int32_t", "tl_raw_multiplier", raw_input.multiplier)
            + c_array("uint8_t", "tl_raw_exponent", [-shift for shift in raw_input.shift])
            + _RAW_FUNCTION + kernel_text(["raw_reading.c"]))


_RAW_FUNCTION = """
/* q = clamp(zero point + MultiplyByQuantizedMultiplier(d, multiplier, -exponent), -128, 127)
 * with d = clamp(fixed - n, -L, L) * 2^p - f: TFLM's rescale (tl_rescale), |d| <= 2^30. */
int8_t tl_model_quantize_reading(int32_t fixed, uint8_t channel)
{
    int32_t difference, limit;
    int16_t value;
    if (channel >= TL_RAW_CHANNELS) {
        return (int8_t)TL_INPUT_ZERO_POINT;
    }
    if (fixed > TL_RAW_LIMIT) {
        fixed = TL_RAW_LIMIT;
    } else if (fixed < -TL_RAW_LIMIT) {
        fixed = -TL_RAW_LIMIT;
    }
    difference = fixed - TL_I32(&tl_raw_mean[channel]);
    limit = TL_I32(&tl_raw_limit[channel]);
    if (difference > limit) {
        difference = limit;
    } else if (difference < -limit) {
        difference = -limit;
    }
    difference = (int32_t)((uint32_t)difference << TL_U8(&tl_raw_fraction_bits[channel]))
                 - TL_I32(&tl_raw_mean_fraction[channel]);
    value = (int16_t)(tl_rescale(difference, TL_I32(&tl_raw_multiplier[channel]),
                                 TL_U8(&tl_raw_exponent[channel]))
                      + TL_INPUT_ZERO_POINT);
    if (value < -128) {
        value = -128;
    }
    if (value > 127) {
        value = 127;
    }
    return (int8_t)value;
}

"""


def _header(model, plan, format, name, top, raw_input=None) -> str:
    guard = f"{name.upper()}_H"
    model_hash = model.model_hash if raw_input is None else raw_input.model_hash
    hash_note = ("the first 8 hex digits of the .tflite's SHA-256" if raw_input is None else
                 "the .tflite's hash and the raw readings' constants (RawInput.model_hash)")
    return f"""{top}
#ifndef {guard}
#define {guard}

#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

/* The model's contract with the sketch: {model.describe()} */
#define TL_INPUTS {model.n_inputs}
#define TL_OUTPUTS {model.n_outputs}
#define TL_LAYERS {len(model.layers)}
#define TL_MODEL_HASH "{model_hash}" /* {hash_note} */
#define TL_FORMAT "{format}"

/* Inputs: q = round(x / TL_INPUT_SCALE) + TL_INPUT_ZERO_POINT (halves away from zero),
 * clamped to [-128, 127]. Outputs: x = TL_OUTPUT_SCALE * (q - TL_OUTPUT_ZERO_POINT). */
#define TL_INPUT_SCALE {c_float(model.input_scale)}
#define TL_INPUT_ZERO_POINT ({model.input_zero_point})
#define TL_OUTPUT_SCALE {c_float(model.output_scale)}
#define TL_OUTPUT_ZERO_POINT ({model.output_zero_point})

/* Static RAM the engine keeps: its arena of activations and patches (tl.engine.plan_memory).
 * While it runs it also uses the stack: a copy of one op's description and its locals. */
#define TL_ARENA_BYTES {plan.arena_bytes}

/* Run the model on one example: TL_INPUTS int8 in, TL_OUTPUTS int8 out. Not reentrant. */
void tl_model_run(const int8_t *input, int8_t *output);
{_raw_header(raw_input)}
#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""


def generate_c(model, format: str = "int8", name: str = "tl_model", *, fuse: bool = True,
               raw_input=None) -> dict:
    """C99 source of the model in one weight format, bit-exact with :func:`run_int8`.

    The header holds the contract a sketch uses: ``TL_INPUTS``, ``TL_OUTPUTS``, ``TL_LAYERS``
    (ops with weights), ``TL_MODEL_HASH`` (:attr:`IntegerModel.model_hash`), ``TL_FORMAT``,
    the input and output scales and zero points, ``TL_ARENA_BYTES`` and ``void
    tl_model_run(const int8_t *input, int8_t *output)``. The source holds the engine's C
    files the model needs and the model's data in flash (``PROGMEM`` read with ``pgm_read_*``
    on AVR, plain ``const`` elsewhere), and one static arena planned by
    :func:`tinylab.engine.plan_memory`. Flash and RAM are what the compiler reports for it
    (``avr-size``), not estimated here.

    Parameters
    ----------
    model : IntegerModel
    format : {"int8", "sparse", "huffman"}
        See :func:`tinylab.engine.formats.store`.
    name : str
        The files' base name and include guard, a C identifier. The C symbols are fixed by
        the contract (one model per firmware).
    fuse : bool
        Fuse a max pool into the convolution before it (see :func:`plan_memory`).
    raw_input : RawInput, optional
        Made for this model by :func:`tinylab.engine.raw_input`: the header then also defines
        ``TL_RAW_CHANNELS``, ``TL_RAW_DECIMALS`` and ``TL_RAW_LIMIT`` and declares ``int8_t
        tl_model_quantize_reading(int32_t fixed, uint8_t channel)`` (a reading times
        ``10**TL_RAW_DECIMALS`` to the model's int8 input, bit-exact with
        :meth:`RawInput.quantize`), and ``TL_MODEL_HASH`` is :attr:`RawInput.model_hash`.

    Returns
    -------
    dict of str -> str
        ``{f"{name}.h": header, f"{name}.c": source}``.
    """
    check_model(model)
    check_format(format)
    name = check_c_name(name, "name")
    raw_input = _check_raw_input(model, raw_input)
    plan = plan_memory(model, format=format, fuse=fuse)
    raw_call, raw_lines = "", []
    if raw_input is not None:
        raw_call = ", raw_input=raw_input"
        raw_lines = [f"Inputs: {raw_input.describe()}."]
    top = banner(f"tinylab.engine.generate_c(model, format={format!r}, name={name!r}{raw_call})",
                 [f"{model.describe()}, weight format {format!r}.", *raw_lines])
    files = ["common.c"]
    if model.layers:
        files += list(MODULES[format].C_FILES)
    for step in plan.steps:
        if step.op.c_kernel not in files:
            files.append(step.op.c_kernel)
    parts = [top, f'#include "{name}.h"\n\n', kernel_text(files),
             "\n/* " + "-" * 64 + " the model */\n\n"]
    parts += [_step_source(step, i, format) for i, step in enumerate(plan.steps)]
    parts.append(_run_source(plan))
    parts.append(_raw_source(raw_input))
    return {f"{name}.h": _header(model, plan, format, name, top, raw_input),
            f"{name}.c": "".join(parts)}
