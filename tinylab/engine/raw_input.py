"""Raw sensor readings standardized and quantized on the board, in integers only (issue 17).

A model trained on per-channel standardized windows (``tl.data.standardize_channels``: the
gestures, an IMU) takes ``x = (raw - mean_c) / std_c`` per channel ``c``, quantized to int8
with the model's input scale ``s`` and zero point ``z``. A board that reads its own sensor
must do that itself. It does it in integers, bit-exact with the host:

1. A reading travels as decimal text with ``D`` decimals (default 3): ``-0.019``. The board
   reads it as the integer ``r = reading * 10**D`` exactly (``-19``): decimals beyond ``D``
   are dropped (truncated toward zero), fewer are padded with zeros, and a magnitude beyond
   :data:`RAW_LIMIT` (999,999,999) saturates there; no exponents.
2. Per channel ``c``, with ``real_c = 1 / (10**D * std_c * s)`` levels per unit of the last
   decimal: ``d = clamp(r - n_c, -L_c, L_c) * 2**p_c - f_c`` and ``q = clamp(z +
   MultiplyByQuantizedMultiplier(d, M_c, shift_c), -128, 127)``, where ``n_c + f_c / 2**p_c``
   is ``mean_c * 10**D`` (``n_c`` its nearest integer, ``f_c`` the rest in ``p_c`` more binary
   places, up to 16), ``(M_c, shift_c) = quantize_multiplier(real_c / 2**p_c)`` (TFLM's
   rescale, the one every op of the engine ends with: :mod:`tinylab.engine.fixed_point`,
   ``tl_rescale`` in ``boards/engine/common.c``) and ``L_c = ceil(257 / real_c) + 1``, a
   difference beyond which every output saturates anyway, so that ``d`` stays within
   ``+-2**30``. The binary places keep the mean as exact as the float path's: rounded to ``D``
   decimals it shifted every reading alike, and readings recorded on the same grid of ``D``
   decimals crossed a rounding boundary together (a quarter of the gestures' ``az`` inputs
   one level off).

:class:`RawInput` holds those constants, :func:`raw_input` makes it from a model and a
dataset's ``normalization``, :meth:`RawInput.quantize` is the host's integer reference and
:func:`tinylab.engine.generate_c` writes the same tables into the firmware
(``tl_model_quantize_reading``). The float path (``quantize_inputs(model, normalize(raw))``,
:meth:`RawInput.float_path`) rounds in float32 instead, so on a value within a hair of a
rounding boundary it may land one int8 level away, never further.

Introduced with lesson ``09_gestures`` (the board classifies its own IMU windows).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from .fixed_point import multiply_by_quantized_multiplier, quantize_multiplier, round_half_away
from .reference import check_model

__all__ = ["RAW_LIMIT", "RawInput", "raw_input", "parse_reading", "to_fixed", "decimal_text"]

#: Largest magnitude of a reading as an integer (``reading * 10**decimals``): 9 decimal
#: digits, so that the difference with a mean of the same size still fits in int32.
RAW_LIMIT = 999_999_999
#: Decimals a reading may carry: 0 (whole units) to 6 (a micro-unit).
MAX_DECIMALS = 6
#: Binary places kept of each mean beyond its ``D`` decimals (fewer when the clamp's limit
#: needs the bits): 16 leave it 1/65,536 of the last decimal off, nothing beside a level.
_FRACTION_BITS = 16


def parse_reading(word: str, decimals: int = 3) -> int:
    """One reading as the board's parser reads it: ``reading * 10**decimals`` as an integer.

    A Python model of the inference sketch's ``W`` parser (``docs/serial-protocol.md``): an
    optional sign, digits, an optional ``.`` and digits; decimals beyond ``decimals`` are
    dropped (truncated toward zero), missing ones count as zeros, and the magnitude saturates
    at :data:`RAW_LIMIT`.

    >>> parse_reading("-0.0196"), parse_reading("2"), parse_reading("+1.5"), parse_reading(".25")
    (-19, 2000, 1500, 250)
    """
    text = word.strip()
    sign, body = (-1, text[1:]) if text[:1] == "-" else (1, text[1:] if text[:1] == "+" else text)
    whole, point, fraction = body.partition(".")
    digits = whole + fraction
    if not digits or not digits.isascii() or not digits.isdigit() or "." in fraction:
        raise ValueError(f"{word!r} is not a reading: write an optional sign, digits and an "
                         f"optional '.' with more digits, e.g. -0.019 (no exponents)")
    fraction = (fraction + "0" * decimals)[:decimals]
    return sign * min(int(whole + fraction or "0"), RAW_LIMIT)


def _check_decimals(decimals) -> int:
    if isinstance(decimals, bool) or int(decimals) != decimals or not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"decimals must be a whole number from 0 to {MAX_DECIMALS} (the "
                         f"readings' decimal places on the wire), got {decimals!r}")
    return int(decimals)


@dataclass(frozen=True)
class RawInput:
    """How a board turns raw readings into the model's int8 inputs, in integers only.

    Make one with :func:`raw_input`. Values are flattened row-major, so value ``i`` of an
    example belongs to channel ``i % n_channels`` (the channel is the last axis).

    Attributes
    ----------
    channels : tuple of str
        The channels' names (``ax, ay, az, gx, gy, gz``), in order.
    mean, std : tuple of float
        Per channel, in sensor units: the training split's statistics.
    decimals : int
        ``D``: readings travel with this many decimals.
    input_scale : float
    input_zero_point : int
        The model's input quantization.
    input_shape : tuple of int
        One example's shape, channel last (``(50, 6)``); ``TL_INPUTS`` values flattened.
    base_model_hash : str
        :attr:`IntegerModel.model_hash` of the model these constants were made for.
    fixed_mean, mean_fraction, fraction_bits : tuple of int
        ``n_c``, ``f_c`` and ``p_c``: ``mean_c * 10**D ~ n_c + f_c / 2**p_c``.
    limit : tuple of int
        ``L_c``: ``r - n_c`` is clamped to ``+-L_c`` (every output beyond saturates).
    multiplier, shift : tuple of int
        ``quantize_multiplier(real_c / 2**p_c)`` per channel (``shift <= 0``).
    """

    channels: tuple
    mean: tuple
    std: tuple
    decimals: int
    input_scale: float
    input_zero_point: int
    input_shape: tuple
    base_model_hash: str
    fixed_mean: tuple
    mean_fraction: tuple
    fraction_bits: tuple
    limit: tuple
    multiplier: tuple
    shift: tuple

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def flash_bytes(self) -> int:
        """Bytes of the tables the generated C keeps in flash: per channel the mean's integer
        and fraction, the clamp and the multiplier (4 bytes each), its bits and shift (1)."""
        return 18 * self.n_channels

    @property
    def model_hash(self) -> str:
        """8 hex digits naming the firmware's model *with* these constants (``TL_MODEL_HASH``).

        The SHA-256 of the base model's hash and every constant: a firmware that standardizes
        its readings differently is a different model, and its banner says so. The int8 path
        keeps :attr:`IntegerModel.model_hash`.
        """
        tables = (self.fixed_mean, self.mean_fraction, self.fraction_bits, self.limit,
                  self.multiplier, self.shift)
        text = "|".join(["raw-input-1", self.base_model_hash, str(self.decimals),
                         repr(float(self.input_scale)), str(self.input_zero_point),
                         *(",".join(map(str, table)) for table in tables)])
        return hashlib.sha256(text.encode("ascii")).hexdigest()[:8]

    def _examples(self, raw, name="raw") -> np.ndarray:
        raw = np.asarray(raw)
        shapes = {tuple(self.input_shape), (self.n_inputs,)}
        if raw.shape in shapes:
            raw = raw[np.newaxis]
        if raw.ndim < 2 or raw.shape[1:] not in shapes:
            raise ValueError(f"{name} must hold examples of shape {tuple(self.input_shape)} or "
                             f"({self.n_inputs},) (readings, channel last), one example or many "
                             f"along a first axis; got shape {raw.shape}")
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be numbers (readings in sensor units), got dtype "
                            f"{raw.dtype}")
        flat = raw.reshape(-1, self.n_inputs)
        if flat.size and not np.all(np.isfinite(flat)):
            raise ValueError(f"{name} holds NaN or infinite readings: a sensor that failed? "
                             f"Drop or repair those examples first")
        return flat

    def fixed(self, raw) -> np.ndarray:
        """The readings as the integers the text carries: ``round(raw * 10**D)``, saturated.

        Halves round away from zero (in float64, on the float32 or float64 value given);
        magnitudes beyond :data:`RAW_LIMIT` saturate there, as the board's parser does.

        Parameters
        ----------
        raw : array_like of float, shape (n, *input_shape), (n, n_inputs) or (n_inputs,)
            Readings in sensor units (g, deg/s), e.g. ``data.raw(data.X_test)``.

        Returns
        -------
        ndarray of int32, shape (n, n_inputs)
        """
        return to_fixed(self._examples(raw), self.decimals)

    def text(self, raw_example) -> str:
        """The readings of one example as the host sends them: ``"v1 v2 ..."``, ``D`` decimals.

        Written from :meth:`fixed`, so the board's parser reads back exactly those integers.
        """
        fixed = self.fixed(raw_example)
        if fixed.shape[0] != 1:
            raise ValueError(f"text() takes one example of {self.n_inputs} readings, got "
                             f"{fixed.shape[0]}; call it once per example")
        return " ".join(decimal_text(int(v), self.decimals) for v in fixed[0])

    def quantize_fixed(self, fixed) -> np.ndarray:
        """The int8 inputs from readings already as integers (``reading * 10**D``), as the board
        computes them; ``fixed`` of shape ``(n, n_inputs)`` (or one example)."""
        fixed = np.clip(np.asarray(fixed, dtype=np.int64).reshape(-1, self.n_inputs),
                        -RAW_LIMIT, RAW_LIMIT)
        channel = np.arange(self.n_inputs) % self.n_channels

        def table(values):
            return np.asarray(values, dtype=np.int64)[channel]

        limit = table(self.limit)
        difference = np.clip(fixed - table(self.fixed_mean), -limit, limit)
        difference = (difference << table(self.fraction_bits)) - table(self.mean_fraction)
        scaled = multiply_by_quantized_multiplier(difference.astype(np.int32),
                                                  table(self.multiplier), table(self.shift))
        return np.clip(scaled.astype(np.int64) + self.input_zero_point, -128, 127).astype(np.int8)

    def quantize(self, raw) -> np.ndarray:
        """The host's integer reference: the int8 inputs a board computes from these readings.

        Parameters
        ----------
        raw : array_like of float, shape (n, *input_shape), (n, n_inputs) or (n_inputs,)
            Readings in sensor units.

        Returns
        -------
        ndarray of int8, shape (n, n_inputs)
            Equal, byte for byte, to ``tl_model_quantize_reading`` on the board.
        """
        return self.quantize_fixed(self.fixed(raw))

    def normalize(self, raw) -> np.ndarray:
        """The float path's standardization, ``(raw - mean) * (1 / std)`` in float32, as
        :meth:`tinylab.data.Dataset.normalize` computes it; shape ``(n, n_inputs)``."""
        flat = self._examples(raw).astype(np.float32)
        channel = np.arange(self.n_inputs) % self.n_channels
        offset = np.asarray(self.mean, dtype=np.float32)[channel]
        scale = np.asarray([1.0 / s for s in self.std], dtype=np.float32)[channel]
        return ((flat - offset) * scale).astype(np.float32)

    def float_path(self, raw) -> np.ndarray:
        """The int8 inputs of the host's float path, ``quantize_inputs(model, normalize(raw))``:
        what a host that standardizes and quantizes in float sends (``I`` lines)."""
        from ..convert import quantize_tensor

        return quantize_tensor(self.normalize(raw), {"dtype": np.dtype(np.int8),
                                                     "scale": self.input_scale,
                                                     "zero_point": self.input_zero_point})

    def describe(self) -> str:
        """One line: channels, decimals, the hash."""
        return (f"raw readings, {self.n_channels} channels ({', '.join(self.channels)}) with "
                f"{self.decimals} decimals, standardized and quantized on the board; model "
                f"{self.model_hash}")


def to_fixed(values, decimals: int) -> np.ndarray:
    """Readings as the integers their text carries, ``round(value * 10**decimals)``, any shape.

    Halves round away from zero (in float64, on the float32 or float64 value given);
    magnitudes beyond :data:`RAW_LIMIT` saturate there, as the board's parser does. Returns
    int32 of the same shape (what :meth:`RawInput.fixed` and ``tinylab.live`` send).
    """
    scaled = np.asarray(values).astype(np.float64) * 10.0 ** decimals
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded, -RAW_LIMIT, RAW_LIMIT).astype(np.int32)


def decimal_text(fixed: int, decimals: int) -> str:
    """One reading's text from its integer: ``decimal_text(-19, 3) == "-0.019"`` (what
    :func:`parse_reading` reads back to the same integer)."""
    sign = "-" if fixed < 0 else ""
    whole, fraction = divmod(abs(fixed), 10 ** decimals)
    return f"{sign}{whole}.{fraction:0{decimals}d}" if decimals else f"{sign}{whole}"


def raw_input(model, normalization: dict, *, decimals: int = 3) -> RawInput:
    """The constants with which a board standardizes and quantizes its own raw readings.

    Parameters
    ----------
    model : IntegerModel
        The int8 model; its input's last axis must be the channels.
    normalization : dict
        A dataset's ``normalization`` with ``"per_channel": True`` (made by
        :func:`tinylab.data.standardize_channels`): ``mean`` and ``std`` lists, one per
        channel, and ``channels`` (names).
    decimals : int
        ``D``, the readings' decimal places on the wire (0 to 6; default 3: a milli-g, a
        thousandth of a deg/s). The step ``10**-D`` should be finer than one int8 level,
        ``input_scale * std_c`` in sensor units.

    Returns
    -------
    RawInput

    Raises
    ------
    ValueError
        The normalization is not per channel, its channels do not match the model's input,
        a standard deviation is not > 0, or a mean (or the data's range) is too large for
        ``D`` decimals in 9 digits.
    """
    check_model(model)
    decimals = _check_decimals(decimals)
    if not isinstance(normalization, dict) or not normalization.get("per_channel"):
        raise ValueError("raw inputs need a per-channel normalization (a dataset made with "
                         "tl.data.standardize_channels, e.g. 'gestures'); this one has one "
                         "offset and scale for every value: send int8 inputs instead "
                         "(inputs='int8')")
    try:
        mean = [float(v) for v in normalization["mean"]]
        std = [float(v) for v in normalization["std"]]
    except (KeyError, TypeError, ValueError):
        raise ValueError("the normalization must hold 'mean' and 'std', one number per channel "
                         "(tl.data.standardize_channels writes them)") from None
    channels = tuple(str(c) for c in normalization.get("channels") or
                     [f"ch{c}" for c in range(len(mean))])
    n_channels = int(model.input_shape[-1]) if model.input_shape else 0
    if not (len(mean) == len(std) == len(channels) == n_channels):
        raise ValueError(f"the model's input {tuple(model.input_shape)} has {n_channels} channels "
                         f"on its last axis, but the normalization has {len(mean)} means, "
                         f"{len(std)} standard deviations and {len(channels)} channel names: "
                         f"use the model trained on this dataset, and the dataset's "
                         f"normalization")
    bad = [channels[c] for c in range(n_channels) if not (math.isfinite(std[c]) and std[c] > 0)]
    if bad:
        raise ValueError(f"the standard deviation of channel(s) {', '.join(bad)} is not > 0: "
                         f"standardize with tl.data.standardize_channels (it keeps a constant "
                         f"channel's std at min_std)")
    unit = 10 ** decimals
    largest = max((abs(float(v)) for v in normalization.get("raw_range") or []), default=0.0)
    if largest * unit > RAW_LIMIT:
        raise ValueError(f"readings reach {largest:g}, beyond {RAW_LIMIT / unit:g} (9 digits with "
                         f"{decimals} decimals): use fewer decimals")
    tables = {key: [] for key in ("fixed_mean", "mean_fraction", "fraction_bits", "limit",
                                  "multiplier", "shift")}
    for c in range(n_channels):
        scaled_mean = mean[c] * unit
        if not abs(scaled_mean) <= RAW_LIMIT:
            raise ValueError(f"the mean of channel {channels[c]} ({mean[c]:g}) does not fit "
                             f"{decimals} decimals in 9 digits: use fewer decimals")
        fixed = round_half_away(scaled_mean)
        real = 1.0 / (unit * std[c] * float(model.input_scale))  # int8 levels per 10**-D
        limit = math.ceil(257.0 / real) + 1
        if limit >= 1 << 30:
            raise ValueError(f"channel {channels[c]}: one int8 level is "
                             f"{std[c] * model.input_scale:.3g} sensor units, over 4 million "
                             f"steps of {10.0 ** -decimals:g}: use fewer decimals")
        # the most bits for which |d| <= (L + 1) * 2**p <= 2**30
        bits = min(_FRACTION_BITS, ((1 << 30) // (limit + 1)).bit_length() - 1)
        multiplier, shift = quantize_multiplier(real / (1 << bits))
        if shift > 0:
            raise ValueError(f"channel {channels[c]}: one int8 level is "
                             f"{std[c] * model.input_scale:.3g} sensor units, far finer than "
                             f"{decimals} decimals carry: use more decimals")
        for key, value in (("fixed_mean", fixed), ("limit", limit), ("fraction_bits", bits),
                           ("mean_fraction", round_half_away((scaled_mean - fixed) * (1 << bits))),
                           ("multiplier", multiplier), ("shift", shift)):
            tables[key].append(int(value))
    return RawInput(channels=channels, mean=tuple(mean), std=tuple(std), decimals=decimals,
                    input_scale=float(model.input_scale),
                    input_zero_point=int(model.input_zero_point),
                    input_shape=tuple(int(d) for d in model.input_shape),
                    base_model_hash=model.model_hash,
                    **{key: tuple(values) for key, values in tables.items()})
