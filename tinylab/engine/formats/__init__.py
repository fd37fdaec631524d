"""How an op's weights are stored in flash, one module per format, each with its C file.

Every op with weights hands its rows (:meth:`tinylab.engine.graph.Op.weight_rows`) to the
format; in C the op pulls them through the format's source (``tl_source_start``,
``tl_source_dot``), so ops and formats combine without knowing each other, the way
tflite-micro keeps its DECODE state apart from ``fully_connected.cc``.

A format that decodes its rows (``STREAMS`` False: sparse, huffman) also gives
``tl_source_row``, a row decoded into RAM: a convolution, which uses each row at every pixel,
decodes it once and keeps it while it runs (``Op.row_bytes`` of scratch).

A format's ``store(rows)`` returns a :class:`~tinylab.engine.formats.stored.Stored`: the C
arrays it writes, each labelled with what it holds. The generated C writes exactly those
arrays, and every byte count TinyLab reports adds them up (:mod:`tinylab.engine.storage`).

Adding a format: a module here (``NAME``, ``STREAMS``, ``C_FILES``, ``store``), a row in
:data:`MODULES`, and its C file in ``boards/engine/``.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

from . import huffman, int8, sparse
from .stored import Array, Stored, c_arrays

__all__ = ["FORMATS", "MODULES", "Array", "Stored", "c_arrays", "check_format", "store",
           "huffman", "int8", "sparse"]

#: Format name -> its module.
MODULES = {module.NAME: module for module in (int8, sparse, huffman)}

#: The weight formats: every weight (``"int8"``), lesson 04's non-zero weights with relative
#: indices (``"sparse"``), lesson 07's Deep Compression (``"huffman"``).
FORMATS = tuple(MODULES)


def check_format(format: str) -> str:
    if format not in MODULES:
        raise ValueError(f"unknown format {format!r}; choose one of {list(FORMATS)}")
    return format


def store(op, format: str) -> Stored:
    """What a weight format stores in flash for one op's weights (not biases or scales).

    Parameters
    ----------
    op : tinylab.engine.graph.Op
        An op with weights (``op.weight_rows()`` is not None).
    format : {"int8", "sparse", "huffman"}

    Returns
    -------
    Stored
        Its C arrays (``arrays``, ``parts``, ``nbytes``), entry counts and layout. The op's
        biases and requantization data are counted by :func:`tinylab.engine.storage.op_storage`.
    """
    check_format(format)
    rows = op.weight_rows()
    if rows is None:
        raise ValueError(f"{op.kind} {op.name!r} has no weights to store")
    return MODULES[format].store(rows)
