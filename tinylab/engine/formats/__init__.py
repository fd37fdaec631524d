"""How an op's weights are stored in flash, one module per format, each with its C file.

Every op with weights hands its rows (:meth:`tinylab.engine.graph.Op.weight_rows`) to the
format; in C the op pulls them through the format's source (``tl_source_start``,
``tl_source_dot``), so ops and formats combine without knowing each other, the way
tflite-micro keeps its DECODE state apart from ``fully_connected.cc``.

A format that decodes its rows (``STREAMS`` False: sparse, huffman) also gives
``tl_source_row``, a row decoded into RAM: a convolution, which uses each row at every pixel,
decodes it once and keeps it while it runs (``Op.row_bytes`` of scratch).

Adding a format: a module here (``NAME``, ``STREAMS``, ``C_FILES``, ``streams``,
``c_arrays``), a row in :data:`MODULES`, and its C file in ``boards/engine/``.

Introduced in lesson ``07_deploy``.
"""

from __future__ import annotations

from . import huffman, int8, sparse

__all__ = ["FORMATS", "MODULES", "check_format", "weight_streams", "huffman", "int8", "sparse"]

#: Format name -> its module.
MODULES = {module.NAME: module for module in (int8, sparse, huffman)}

#: The weight formats: every weight (``"int8"``), lesson 04's non-zero weights with relative
#: indices (``"sparse"``), lesson 06's Deep Compression (``"huffman"``).
FORMATS = tuple(MODULES)


def check_format(format: str) -> str:
    if format not in MODULES:
        raise ValueError(f"unknown format {format!r}; choose one of {list(FORMATS)}")
    return format


def weight_streams(op, format: str) -> dict:
    """What a weight format stores in flash for one op's weights (not biases or scales).

    Parameters
    ----------
    op : tinylab.engine.graph.Op
        An op with weights (``op.weight_rows()`` is not None).
    format : {"int8", "sparse", "huffman"}

    Returns
    -------
    dict
        The format module's ``streams``: ``"int8"``: ``weights``; ``"sparse"``: ``values``,
        ``gaps``, ``gap_bytes``; ``"huffman"``: ``codebook``, ``indices``, ``gaps``,
        ``weight_table``, ``gap_table``. Every format also gives ``n_entries`` (0 for
        ``"int8"``) and ``stored_bytes``, the bytes of those arrays in flash. The firmware's
        flash also holds biases, multipliers and the code: measure it on the build.
    """
    check_format(format)
    rows = op.weight_rows()
    if rows is None:
        raise ValueError(f"{op.kind} {op.name!r} has no weights to store")
    return MODULES[format].streams(rows, op.gap_bits)
