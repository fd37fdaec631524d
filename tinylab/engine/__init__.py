"""The TinyLab C engine: an int8 model from a ``.tflite`` file, run in numpy, written as C.

The survey's last step (section 1.2.5.1, "compile and burn into the MCU") usually goes through
TensorFlow Lite Micro: the ``.tflite`` file becomes a C array (:mod:`tinylab.export`) and an
interpreter runs it. TFLM targets 32-bit MCUs, not the Uno's 8-bit ATmega328P (2 KB of RAM),
and it cannot run a model stored the way Deep Compression stores it. This package writes the
model as plain C instead, with the *same integer arithmetic* as TFLM's int8 reference
kernels, so that the board's outputs are bit-exact with the tflite-micro interpreter:

- :mod:`~tinylab.engine.flatbuffer`: :func:`read_tflite`, the flatbuffer -> an
  :class:`IntegerModel`, a chain of ops;
- :mod:`~tinylab.engine.ops`: one module per op (FULLY_CONNECTED, CONV_2D,
  DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, MEAN, RESHAPE), each with its numpy
  reference of TFLM's kernel and its C description; the C kernel is ``boards/engine/
  op_<kind>.c``;
- :mod:`~tinylab.engine.fixed_point` and :mod:`~tinylab.engine.requant`: TFLM's fixed-point
  rescale, shared by the ops;
- :mod:`~tinylab.engine.reference`: :func:`run_int8` and :func:`quantize_inputs`;
- :mod:`~tinylab.engine.formats`: how weights are stored (:data:`FORMATS`: ``"int8"``, every
  weight; ``"sparse"``, lesson 04's non-zero weights with relative indices; ``"huffman"``,
  lesson 07's Deep Compression decoded on the MCU as it computes), one module and one C file
  (``format_<name>.c``) each; any op runs in any format;
- :mod:`~tinylab.engine.memory`: :func:`plan_memory`, the activations' arena planned by
  lifetime, a max pool fused into the convolution before it;
- :mod:`~tinylab.engine.c_source`: :func:`generate_c`;
- :mod:`~tinylab.engine.raw_input`: :func:`raw_input`, a :class:`RawInput`: raw sensor
  readings standardized and quantized on the board in integers, bit-exact with the host.

TensorFlow's converter quantizes weights *per channel* (one scale per output channel), and
TFLM then uses one multiplier per channel; both that and one scale per tensor are handled.
Per-channel scales map a shared float weight to a different int8 value in each channel, so a
weight-shared layer holds more distinct int8 values than its float codebook has entries; for
weight-shared models convert with one scale per layer (``tinylab.convert.to_tflite(...,
per_channel=False)``): the codebook stays as many int8 values.

On AVR the int8 inner loop and the fixed-point rescale are hand-written assembly inside the C
(``boards/engine/format_int8.c``, ``common.c``; about 11 cycles per multiply-accumulate);
elsewhere the same C computes the same integers in plain C99.

Introduced in lesson ``08_deploy``; the convolutions in lesson ``10_cnn``.
"""

from __future__ import annotations

from . import (c_source, c_text, fixed_point, flatbuffer, formats, graph, memory, ops, reference,
               requant, storage)
from .c_source import generate_c
from .fixed_point import (ACTIVATIONS, multiply_by_quantized_multiplier, quantize_multiplier,
                          rounding_divide_by_pot, saturating_rounding_doubling_high_mul)
from .flatbuffer import read_tflite
from .formats import FORMATS, store
from .graph import IntegerModel, Op
from .memory import MemoryPlan, plan_memory
from .ops import SUPPORTED_OPS
from .ops.conv_2d import Conv2D
from .ops.depthwise_conv_2d import DepthwiseConv2D
from .ops.fully_connected import FullyConnected
from .ops.mean import Mean
from .ops.pooling import Pool2D
from .ops.reshape import Reshape
# ``tl.engine.raw_input`` is the function (it shadows its module's name here; the module is
# ``sys.modules["tinylab.engine.raw_input"]``, or ``from tinylab.engine.raw_input import ...``).
from .raw_input import RAW_LIMIT, RawInput, decimal_text, parse_reading, raw_input, to_fixed
from .reference import quantize_inputs, run_int8
from .storage import ModelStorage, OpStorage, model_storage, op_storage

__all__ = ["FORMATS", "SUPPORTED_OPS", "ACTIVATIONS", "IntegerModel", "Op",
           "FullyConnected", "Conv2D", "DepthwiseConv2D", "Pool2D", "Mean", "Reshape",
           "MemoryPlan", "read_tflite", "quantize_multiplier",
           "saturating_rounding_doubling_high_mul", "rounding_divide_by_pot",
           "multiply_by_quantized_multiplier", "quantize_inputs", "run_int8", "store",
           "model_storage", "op_storage", "ModelStorage", "OpStorage", "plan_memory",
           "generate_c", "RawInput", "raw_input", "parse_reading", "to_fixed", "decimal_text",
           "RAW_LIMIT",
           # modules
           "c_source", "c_text", "fixed_point", "flatbuffer", "formats", "graph", "memory",
           "ops", "reference", "requant", "storage"]
