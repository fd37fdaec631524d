"""The engine's ops, one module each: the op's record, its numpy reference of TFLM's integer
arithmetic (``run``), its reading from the flatbuffer (``from_tflite``) and its C description;
the C kernel is one file of ``boards/engine/`` (``op_<kind>.c``).

Adding an op: a module here with ``from_tflite``, a row in :data:`OPS`, and its C file.

Introduced in lesson ``08_deploy`` (fully connected) and ``10_cnn`` (the others).
"""

from __future__ import annotations

from . import conv_2d, depthwise_conv_2d, fully_connected, mean, pooling, reshape, window

__all__ = ["OPS", "SUPPORTED_OPS", "conv_2d", "depthwise_conv_2d", "fully_connected", "mean",
           "pooling", "reshape", "window"]

#: TFLite operator -> the function that reads it into an op.
OPS = {
    "FULLY_CONNECTED": fully_connected.from_tflite,
    "CONV_2D": conv_2d.from_tflite,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d.from_tflite,
    "MAX_POOL_2D": pooling.from_tflite,
    "AVERAGE_POOL_2D": pooling.from_tflite,
    "MEAN": mean.from_tflite,
    "RESHAPE": reshape.from_tflite,
}

#: The TFLite operators the engine runs.
SUPPORTED_OPS = tuple(OPS)
