"""Tests for tinylab.engine.raw_input: raw readings standardized and quantized in integers.

The host's integer reference (RawInput.quantize) against hand-computed cases and the float
path; the generated C (tl_model_quantize_reading) against it on the host and on a simulated
ATmega328P; the inference sketch's W lines (compiled for this computer, as in
test_device.py) against it. The models are made by hand (no TensorFlow): a fully connected
layer over windows of (steps, channels).
"""

import os
import re
import subprocess
import sys
import tty
from pathlib import Path

import numpy as np
import pytest

from tinylab import device, engine
from tinylab.device import Device, DeviceError
from tinylab.engine import RAW_LIMIT, parse_reading

sys.path.insert(0, str(Path(__file__).parent))
import engine_c  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "tests" / "fakes"
SKETCH = ROOT / "boards" / "sketches" / "inference" / "inference.ino"

#: Two channels by hand: a reads around 1.0 (std 0.5), b around -2.0 (std 4.0).
HAND = {"per_channel": True, "channels": ["a", "b"], "mean": [1.0, -2.0], "std": [0.5, 4.0],
        "offset": [1.0, -2.0], "scale": [2.0, 0.25]}
#: The gestures' statistics (tl.data.load("gestures").normalization, training split seed 0).
GESTURES = {"per_channel": True, "channels": ["ax", "ay", "az", "gx", "gy", "gz"],
            "mean": [-0.0617530954298785, 0.00031523810308759236, 0.9789073811755293,
                     0.028761904903111004, -0.4918452241981313, 0.020071423337573096],
            "std": [0.49351539591739957, 0.27811192377789024, 0.05931756758266899,
                    0.9996839457896316, 44.492827968699274, 51.97340707482054],
            "raw_range": [-4.011, 176.9]}


def _model(input_shape=(4, 2), n_outputs=3, input_scale=0.1, input_zero_point=0, seed=0,
           model_hash="0badf00d"):
    """A fully connected layer over a window, with random int8 weights: an IntegerModel."""
    rng = np.random.default_rng(seed)
    n_inputs = int(np.prod(input_shape))
    layer = engine.FullyConnected.from_scales(
        rng.integers(-127, 128, (n_outputs, n_inputs)), rng.integers(-500, 500, n_outputs),
        input_scale=input_scale, input_zero_point=input_zero_point,
        weight_scales=[0.01] * n_outputs, output_scale=0.5, output_zero_point=0)
    return engine.IntegerModel(ops=(layer,), input_shape=tuple(input_shape),
                               output_shape=(n_outputs,), input_scale=input_scale,
                               input_zero_point=input_zero_point, output_scale=0.5,
                               output_zero_point=0, model_hash=model_hash)


def _gestures_model():
    """A (50, 6) window -> 4 classes, with the input scale and zero point of a trained one."""
    return _model((50, 6), 4, input_scale=0.052388522773981094, input_zero_point=-31)


def _readings(raw_input, n, seed=0, spread=4.0):
    """Readings around each channel's mean, a few standard deviations either side."""
    rng = np.random.default_rng(seed)
    channel = np.arange(raw_input.n_inputs) % raw_input.n_channels
    mean, std = np.array(raw_input.mean)[channel], np.array(raw_input.std)[channel]
    return mean + std * rng.uniform(-spread, spread, (n, raw_input.n_inputs))


# ----------------------------------------------------------------------------- parsing and text

@pytest.mark.parametrize("word, decimals, fixed", [
    ("-0.019", 3, -19), ("-0.0196", 3, -19), ("0.0199", 3, 19),  # extra decimals: truncated
    ("2", 3, 2000), ("+1.5", 3, 1500), (".25", 3, 250), ("5.", 3, 5000), ("-0.0004", 3, 0),
    ("12.34", 0, 12), ("12.34", 1, 123), ("007.5", 2, 750),
    ("123456789012", 3, RAW_LIMIT), ("-999999.9999", 3, -RAW_LIMIT),  # saturated
])
def test_a_reading_is_read_as_the_board_reads_it(word, decimals, fixed):
    assert parse_reading(word, decimals) == fixed


@pytest.mark.parametrize("word", ["1e5", "1.2.3", "-", ".", "", "--1", "1-2", "0x10", "nan"])
def test_what_is_not_a_reading_is_refused(word):
    with pytest.raises(ValueError, match="not a reading"):
        parse_reading(word)


def test_the_constants_by_hand():
    raw_input = engine.raw_input(_model(), HAND, decimals=1)
    # one step of the last decimal (0.1) is 0.1 / 0.5 / 0.1 = 2 int8 levels on a, 0.25 on b
    assert raw_input.fixed_mean == (10, -20) and raw_input.mean_fraction == (0, 0)
    for c, real in enumerate((2.0, 0.25)):
        bits, shift = raw_input.fraction_bits[c], raw_input.shift[c]
        assert raw_input.multiplier[c] * 2.0 ** shift / 2 ** 31 == pytest.approx(real / 2 ** bits)
        assert raw_input.limit[c] == int(np.ceil(257 / real)) + 1
        assert (raw_input.limit[c] + 1) << bits <= 1 << 30
    assert raw_input.n_channels == 2 and raw_input.n_inputs == 8


def test_quantize_by_hand():
    raw_input = engine.raw_input(_model(), HAND, decimals=1)
    raw = [[1.3, -1.0, 1.0, -2.0, 0.0, 10.0, 100.0, -1000.0]]
    # a: (1.3 - 1) * 2 / 0.1... in levels: (13 - 10) * 2 = 6; b: (-10 + 20) * 0.25 = 2.5 -> 3;
    # 0 and 0; a: (0 - 10) * 2 = -20; b: (100 + 20) * 0.25 = 30; then saturated both ways
    assert raw_input.quantize(raw).tolist() == [[6, 3, 0, 0, -20, 30, 127, -128]]
    assert raw_input.float_path(raw).tolist() == [[6, 3, 0, 0, -20, 30, 127, -128]]
    assert raw_input.quantize(raw).dtype == np.int8


def test_the_text_carries_exactly_the_fixed_integers():
    raw_input = engine.raw_input(_gestures_model(), GESTURES)
    raw = _readings(raw_input, 3, spread=30)
    raw[0, :4] = [-0.0004, 0.0005, -0.0005, 123456789.0]  # a negative zero, two halves, huge
    for example, fixed in zip(raw, raw_input.fixed(raw)):
        words = raw_input.text(example).split()
        assert len(words) == 300 and all(re.fullmatch(r"-?\d+\.\d{3}", w) for w in words)
        assert [parse_reading(w, 3) for w in words] == fixed.tolist()
    assert raw_input.fixed(raw)[0, :4].tolist() == [0, 1, -1, RAW_LIMIT]  # halves away from 0
    assert raw_input.text(raw[0]).startswith("0.000 0.001 -0.001 999999.999 ")


def test_the_integer_path_is_the_float_path_but_for_a_level_near_a_boundary():
    raw_input = engine.raw_input(_gestures_model(), GESTURES)
    raw = _readings(raw_input, 400, spread=5)
    integer, floating = raw_input.quantize(raw).astype(int), raw_input.float_path(raw).astype(int)
    # readings of any precision are sent with 3 decimals: up to 0.0005 off, a third of a
    # level on az (0.0593 g * 0.0524 per level), so some land one level away
    assert np.abs(integer - floating).max() <= 1
    assert np.mean(integer == floating) > 0.95
    # readings with 3 decimals, as the gestures were recorded, travel exactly, and the mean is
    # kept to 2^-16 of a step: only a value within a hair of a boundary may differ
    on_grid = np.round(raw, 3)
    integer, floating = raw_input.quantize(on_grid), raw_input.float_path(on_grid)
    assert np.abs(integer.astype(int) - floating).max() <= 1
    assert np.mean(integer == floating) > 0.9995


def test_the_model_hash_names_the_constants():
    model = _gestures_model()
    three = engine.raw_input(model, GESTURES)
    assert model.model_hash == "0badf00d" and three.base_model_hash == "0badf00d"
    assert re.fullmatch(r"[0-9a-f]{8}", three.model_hash) and three.model_hash != model.model_hash
    assert engine.raw_input(model, GESTURES).model_hash == three.model_hash  # deterministic
    assert engine.raw_input(model, GESTURES, decimals=2).model_hash != three.model_hash
    moved = dict(GESTURES, mean=[m + 0.01 for m in GESTURES["mean"]])
    assert engine.raw_input(model, moved).model_hash != three.model_hash


@pytest.mark.parametrize("normalization, decimals, words", [
    ({"offset": 0.0, "scale": 1 / 16, "raw_range": [0, 16]}, 3, "per-channel normalization"),
    (dict(HAND, mean=[1.0], std=[0.5], channels=["a"]), 3, "has 2 channels"),
    (dict(HAND, std=[0.5, 0.0]), 3, "channel(s) b is not > 0"),
    (dict(HAND, mean=[1.0, "x"]), 3, "'mean' and 'std'"),
    (HAND, 7, "decimals must be a whole number from 0 to 6"),
    (HAND, 1.5, "decimals must be"),
    (dict(HAND, raw_range=[-2000.0, 2000.0]), 6, "readings reach 2000"),
    (dict(HAND, mean=[1e7, 0.0]), 3, "mean of channel a"),
    (dict(HAND, std=[1e-9, 1.0]), 0, "far finer than 0 decimals"),
    (dict(HAND, std=[1e9, 1.0]), 6, "use fewer decimals"),
])
def test_bad_normalizations_are_refused_with_what_to_do(normalization, decimals, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        engine.raw_input(_model(), normalization, decimals=decimals)


def test_bad_readings_are_refused():
    raw_input = engine.raw_input(_model(), HAND)
    with pytest.raises(ValueError, match=r"examples of shape \(4, 2\) or \(8,\)"):
        raw_input.quantize(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="NaN"):
        raw_input.quantize([np.nan] * 8)
    with pytest.raises(TypeError, match="numbers"):
        raw_input.quantize(np.array(["1"] * 8))
    with pytest.raises(ValueError, match="one example"):
        raw_input.text(np.zeros((2, 8)))
    with pytest.raises(TypeError, match="IntegerModel"):
        engine.raw_input("model.tflite", HAND)


# ----------------------------------------------------------------------------- the generated C

def test_the_header_declares_the_raw_input_only_when_asked():
    model = _gestures_model()
    raw_input = engine.raw_input(model, GESTURES)
    header = engine.generate_c(model, "int8", name="model", raw_input=raw_input)["model.h"]
    assert "#define TL_RAW_CHANNELS 6\n" in header and "#define TL_RAW_DECIMALS 3\n" in header
    assert "int8_t tl_model_quantize_reading(int32_t fixed, uint8_t channel);" in header
    assert f'#define TL_MODEL_HASH "{raw_input.model_hash}"' in header
    source = engine.generate_c(model, "int8", name="model", raw_input=raw_input)["model.c"]
    sizes = {"int32_t": 4, "uint8_t": 1}
    tables = re.findall(r"static const (\w+) tl_raw_\w+\[(\d+)\] TL_FLASH", source)
    assert len(tables) == 6
    assert sum(sizes[ctype] * int(n) for ctype, n in tables) == raw_input.flash_bytes == 108
    plain = engine.generate_c(model, "int8", name="model")
    assert "TL_RAW" not in plain["model.h"] + plain["model.c"]
    assert f'#define TL_MODEL_HASH "{model.model_hash}"' in plain["model.h"]
    with pytest.raises(ValueError, match="made for model 0badf00d, not 12345678"):
        engine.generate_c(_model((50, 6), 4, model_hash="12345678"), raw_input=raw_input)
    with pytest.raises(TypeError, match="RawInput"):
        engine.generate_c(model, raw_input=GESTURES)


def _extreme_fixed(raw_input, seed=0):
    """Readings as integers: realistic ones, wide ones, and the limits of int32."""
    rng = np.random.default_rng(seed)
    n = raw_input.n_inputs
    return np.concatenate([
        raw_input.fixed(_readings(raw_input, 20, seed)),
        raw_input.fixed(_readings(raw_input, 20, seed + 1, spread=400)),
        rng.integers(-2_000_000, 2_000_000, (20, n)),
        rng.integers(-2 ** 31, 2 ** 31, (5, n)),
        np.full((1, n), 2 ** 31 - 1), np.full((1, n), -2 ** 31), np.zeros((1, n)),
    ]).astype(np.int32)


def _host_program(model, raw_input, folder):
    """The model with raw input and boards/engine/host_main.c, compiled with gcc in ``folder``."""
    gcc = engine_c.tool("gcc", "gcc")
    engine_c.write(engine.generate_c(model, "int8", raw_input=raw_input), folder, "host_main.c")
    program = folder / "model"
    built = subprocess.run([gcc, *engine_c.CFLAGS, "-O2", "-I", str(folder),
                            str(folder / "tl_model.c"), str(folder / "host_main.c"), "-o",
                            str(program)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return program


@pytest.mark.parametrize("normalization, decimals", [(GESTURES, 3), (GESTURES, 1), (HAND, 0)])
def test_the_c_quantizes_every_channel_like_the_host(tmp_path, normalization, decimals):
    model = _gestures_model() if normalization is GESTURES else _model()
    raw_input = engine.raw_input(model, normalization, decimals=decimals)
    program = _host_program(model, raw_input, tmp_path)
    fixed = _extreme_fixed(raw_input)
    done = subprocess.run([str(program), "readings"], input=fixed.tobytes(), capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    got = np.frombuffer(done.stdout, np.int8).reshape(fixed.shape)
    np.testing.assert_array_equal(got, raw_input.quantize_fixed(fixed))


def _reading_words(seed=0):
    """Words a sketch may be sent as one reading: hand-picked edges, saturating ones, and
    random ones (well-formed and not) over the bytes a reading is made of."""
    rng = np.random.default_rng(seed)
    words = ["0", "-0", "+0", "7", "+12", "-0.019", "-0.0196", "0.0199", "12.", ".5", "-.5", "+1",
             "+1.5", "007.5", "-0.0009", "-0.0000001", "9999999999", "999999999",
             "1000000000", "99999999", "100000000", "999999.999", "1000000.0", "-999999.9999",
             "123456789012345.678", "99999999.99999", "0.000000000000001", "00000000000001",
             "-", "+", ".", "-.", "+.", "1.2.3", "1-", "+-1", "--1", "1e5", "1..", "..1", "12a",
             "1x", "\x7f", "-+"]
    alphabet = list("0123456789") * 3 + list(".-+e")
    for _ in range(300):
        words.append("".join(rng.choice(alphabet, rng.integers(1, 16))))
    for _ in range(300):
        sign = rng.choice(["", "-", "+"])
        whole = "".join(rng.choice(list("0123456789"), rng.integers(0, 13)))
        fraction = "".join(rng.choice(list("0123456789"), rng.integers(0, 10)))
        words.append(sign + whole + ("." + fraction if rng.random() < 0.7 else ""))
    return [word for word in words if word]


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 6])
def test_the_c_parser_reads_every_word_like_parse_reading(tmp_path, decimals):
    """The parser the sketches share (boards/engine/raw_reading.c, in the generated model)
    against the host's parse_reading, word by word: the same integer, or a refusal."""
    model = _model()
    raw_input = engine.raw_input(model, HAND, decimals=decimals)
    program = _host_program(model, raw_input, tmp_path)
    words = _reading_words()
    done = subprocess.run([str(program), "words"], input="".join(w + "\n" for w in words) + "\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answers = done.stdout.splitlines()
    assert len(answers) == len(words) + 1 and answers[-1] == "none"  # an empty word: no value
    for word, answer in zip(words, answers):
        try:
            expected = str(parse_reading(word, decimals))
        except ValueError:
            expected = None
        if expected is None:
            assert answer.startswith("! "), (word, answer)
        else:
            assert answer == expected, (word, answer)
    # a refusal names the byte that was wrong: the first that cannot continue a number, or the
    # sign or point that stood without digits
    refused = dict(zip(words, answers))
    assert [refused[w] for w in ("-", "+", ".", "-.", "1.2.3", "1-", "+-1", "1e5", "12a")] == [
        "! 45", "! 43", "! 46", "! 46", "! 46", "! 45", "! 45", "! 101", "! 97"]
    assert refused["9999999999"] == refused["123456789012345.678"] == str(RAW_LIMIT)
    assert refused["-0.0009"] == str(-(9 * 10 ** decimals // 10_000))  # truncated toward 0
    assert refused["12."] == refused["+12"] == str(12 * 10 ** decimals)


AVR_READINGS = r"""
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/sleep.h>
#include <avr/pgmspace.h>
#include "tl_model.h"
#include "readings.h"

static void put(char c)
{
    while (!(UCSR0A & (1 << UDRE0))) {
    }
    UDR0 = c;
}

int main(void)
{
    static const char hex[] = "0123456789abcdef";
    uint16_t i, cycles, slowest = 0;
    UBRR0 = 8;
    UCSR0B = (1 << TXEN0);
    TCCR1A = 0;
    TCCR1B = (1 << CS10);
    for (i = 0; i < N_READINGS; ++i) {
        int32_t fixed = (int32_t)pgm_read_dword(&readings[i]);
        uint16_t start = TCNT1;
        uint8_t q = (uint8_t)tl_model_quantize_reading(fixed, (uint8_t)(i % TL_RAW_CHANNELS));
        cycles = TCNT1 - start;
        if (cycles > slowest) {
            slowest = cycles;
        }
        put(hex[q >> 4]);
        put(hex[q & 15]);
    }
    put('\n');
    put(hex[slowest >> 12]);
    put(hex[(slowest >> 8) & 15]);
    put(hex[(slowest >> 4) & 15]);
    put(hex[slowest & 15]);
    put('\n');
    cli();
    sleep_cpu();
    return 0;
}
"""


def test_the_atmega328p_quantizes_like_the_host(tmp_path):
    model = _gestures_model()
    raw_input = engine.raw_input(model, GESTURES)
    avr_gcc = engine_c.tool("avr-gcc", "gcc-avr avr-libc")
    simavr = engine_c.tool("simavr", "simavr")
    fixed = _extreme_fixed(raw_input)[:, :18].ravel()  # every channel, wide and extreme values
    engine_c.write(engine.generate_c(model, "int8", raw_input=raw_input), tmp_path)
    (tmp_path / "main.c").write_text(AVR_READINGS)
    (tmp_path / "readings.h").write_text(
        f"#define N_READINGS {len(fixed)}\nstatic const int32_t readings[{len(fixed)}] PROGMEM = "
        f"{{\n{', '.join(f'{int(v)}L' for v in fixed)}\n}};\n")
    built = subprocess.run([avr_gcc, "-mmcu=atmega328p", "-Os", *engine_c.CFLAGS, "-I",
                            str(tmp_path), str(tmp_path / "tl_model.c"), str(tmp_path / "main.c"),
                            "-o", str(tmp_path / "check.elf")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    done = subprocess.run([simavr, "-m", "atmega328p", "-f", "16000000",
                           str(tmp_path / "check.elf")], capture_output=True, text=True,
                          timeout=300)
    printed = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    # simavr prints the UART's bytes in lines of its own: join the hex lines back
    hex_lines = re.findall(r"^([0-9a-f]+)\.?$", printed, flags=re.M)
    text = "".join(hex_lines)
    assert len(text) == 2 * len(fixed) + 4, printed[-2000:]
    got = np.frombuffer(bytes.fromhex(text[:2 * len(fixed)]), np.int8)
    padded = np.resize(fixed, (-(-len(fixed) // 300), 300))  # value i is channel i % 6 here too
    np.testing.assert_array_equal(got, raw_input.quantize_fixed(padded).ravel()[:len(fixed)])
    slowest = int(text[-4:], 16)  # Timer1 at 16 MHz around one call: 691 cycles measured
    assert slowest < 1000  # 0.06 ms: a reading takes 0.5 ms to arrive at 115200 baud


# ----------------------------------------------------------------------------- the sketch's W lines

@pytest.fixture(scope="module")
def raw_sketch(tmp_path_factory):
    """The inference sketch around the hand model with raw input, compiled for this computer."""
    engine_c.tool("gcc", "gcc")
    model = _model()
    raw_input = engine.raw_input(model, HAND, decimals=2)
    out = tmp_path_factory.mktemp("raw_sketch")
    for name, text in engine.generate_c(model, "int8", name="model", raw_input=raw_input).items():
        (out / name).write_text(text)
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-c", "-o", str(out / "model.o"),
                    f"-I{out}", str(out / "model.c")], check=True)
    program = engine_c.inference_on_host(out, out, out / "model.o")
    return program, model, raw_input


@pytest.fixture
def raw_board(raw_sketch):
    """The sketch running on the master side of a pty: yields (port, model, raw_input)."""
    program, model, raw_input = raw_sketch
    master, slave = os.openpty()
    tty.setraw(slave)
    process = subprocess.Popen([str(program)], stdin=master, stdout=master)
    try:
        yield os.ttyname(slave), model, raw_input
    finally:
        process.kill()
        process.wait(timeout=5)
        os.close(master)
        os.close(slave)


def _scores(model, x_int8):
    return engine.run_int8(model, np.asarray(x_int8, np.int8).reshape(1, -1))[0]


def test_the_sketch_answers_w_lines_like_the_host(raw_board):
    port, model, raw_input = raw_board
    raw = _readings(raw_input, 12, spread=6)
    with Device(port, timeout=2) as board:
        assert board.banner["raw"] == 2 and board.banner["decimals"] == 2 and board.takes_raw
        assert board.banner["model"] == raw_input.model_hash
        run = board.infer_many_raw(raw, raw_input, progress=False)
        np.testing.assert_array_equal(run.scores, engine.run_int8(model, raw_input.quantize(raw)))
        # the same model answers I lines as before
        x = raw_input.quantize(raw[:1])[0]
        np.testing.assert_array_equal(board.infer(x)[1], _scores(model, x))


def test_extra_decimals_are_truncated_and_missing_ones_are_zeros(raw_board):
    port, model, raw_input = raw_board
    # 1.0199 is read as 1.01 (not rounded to 1.02), 1.5 as 1.50, -3 as -3.00, +0.25 as 0.25
    words = ["1.0199", "-1.999", "1.5", "-3", "+0.25", "-.5", "7.", "0"]
    fixed = [101, -199, 150, -300, 25, -50, 700, 0]
    assert [parse_reading(w, 2) for w in words] == fixed
    with Device(port, timeout=2) as board:
        answer = board.ask("W " + ",".join(words))
    scores = device.parse_answer(answer, 3)[1]
    np.testing.assert_array_equal(scores, _scores(model, raw_input.quantize_fixed(fixed)))


def test_absurd_readings_saturate(raw_board):
    port, model, raw_input = raw_board
    words = ["123456789012345.678", "-99999999999", "9999999.99", "-0.0000001"] * 2
    fixed = [RAW_LIMIT, -RAW_LIMIT, RAW_LIMIT, 0] * 2
    with Device(port, timeout=2) as board:
        answer = board.ask("W " + " ".join(words))
    np.testing.assert_array_equal(device.parse_answer(answer, 3)[1],
                                  _scores(model, raw_input.quantize_fixed(fixed)))


@pytest.mark.parametrize("line, answer", [
    ("W 1 2 3", "! expected 8 values, got 3"),
    ("W " + "1.5 " * 9, "! expected 8 values, got 9"),
    ("W 1 2 x 4", "! value 3 is not a number (byte 120): write readings like -0.019 or 12.5"),
    ("W 1 2 3 1e5", "! value 4 is not a number (byte 101): write readings like -0.019 or 12.5"),
    ("W 1.2.3", "! value 1 is not a number (byte 46): write readings like -0.019 or 12.5"),
    ("W 1 - 2", "! value 2 is not a number (byte 45): write readings like -0.019 or 12.5"),
    ("W 1 . 2", "! value 2 is not a number (byte 46): write readings like -0.019 or 12.5"),
    ("W 1 2-3", "! value 2 is not a number (byte 45): write readings like -0.019 or 12.5"),
    ("hello", "! unknown command (byte 104): send 'I v1 v2 ...', 'W r1 r2 ...' or '?'"),
    ("I 1 200", "! value 2 is outside the int8 range -128..127"),
])
def test_the_sketch_refuses_bad_w_lines_in_plain_words(raw_board, line, answer):
    port, _, _ = raw_board
    with Device(port, timeout=2) as board:
        assert board.ask(line) == answer


def test_a_raw_input_the_board_was_not_built_with_is_refused(raw_board):
    port, model, raw_input = raw_board
    other = engine.raw_input(model, HAND, decimals=3)
    moved = engine.raw_input(model, dict(HAND, mean=[1.5, -2.0]), decimals=2)
    with Device(port, timeout=2) as board:
        with pytest.raises(DeviceError, match="2 channels with 2 decimals, this RawInput 2 with 3"):
            board.infer_raw(np.zeros(8), other)
        with pytest.raises(DeviceError, match=f"not {moved.model_hash}"):
            board.infer_raw(np.zeros(8), moved)
        with pytest.raises(TypeError, match="RawInput"):
            board.infer_raw(np.zeros(8), HAND)
        with pytest.raises(ValueError, match="examples of shape"):
            board.infer_raw(np.zeros(7), raw_input)
        assert board.infer_raw(np.zeros(8), raw_input)[1].shape == (3,)  # still in step
