"""Weight format ``"sparse"``: Deep Compression's relative indices (lesson 04's layout).

The rows are read as one stream. Only entries are stored: each non-zero int8 weight, with the
count of zeros skipped before it in ``gap_bits`` bits (5 for a fully connected layer, 8 for a
convolution); a run of zeros longer than a gap can count is bridged by a filler entry of
value 0 (:func:`tinylab.prune.relative_indices`). C: ``boards/engine/format_sparse.c``.

Introduced in lesson ``07_deploy``.
"""

from __future__ import annotations

import numpy as np

from ..c_text import c_array

__all__ = ["NAME", "STREAMS", "C_FILES", "entries", "pack_bits", "streams", "c_arrays"]

NAME = "sparse"
#: Rows are decoded: a convolution decodes each once into RAM (``Op.row_bytes``).
STREAMS = False
C_FILES = ("bits.c", "format_sparse.c")


def entries(rows, gap_bits: int):
    """Deep Compression's stored entries of the rows: int8 values (fillers 0) and gaps."""
    from ...prune import relative_indices

    values, gaps, _ = relative_indices(np.asarray(rows, dtype=np.float32).ravel(), gap_bits)
    return values.astype(np.int8), gaps.astype(np.int64)


def pack_bits(values, width: int) -> bytes:
    """Each value in ``width`` bits, most significant bit first, zero-padded to whole bytes."""
    values = np.asarray(values, dtype=np.int64)
    bits = (values[:, None] >> np.arange(width - 1, -1, -1)) & 1
    return np.packbits(bits.astype(np.uint8).ravel()).tobytes()


def streams(rows, gap_bits: int) -> dict:
    """``values`` (int8, one per entry), ``gaps`` (int64), ``gap_bytes`` (packed),
    ``gap_bits``, ``n_entries`` and ``stored_bytes``."""
    values, gaps = entries(rows, gap_bits)
    packed = pack_bits(gaps, gap_bits)
    return {"values": values, "gaps": gaps, "gap_bytes": packed, "gap_bits": int(gap_bits),
            "n_entries": len(values), "stored_bytes": len(values) + len(packed)}


def c_arrays(stored: dict, prefix: str) -> tuple:
    """The C arrays of :func:`streams` and the ``tl_weights_t`` initializer."""
    arrays = (c_array("int8_t", f"{prefix}_values", stored["values"])
              + c_array("uint8_t", f"{prefix}_gaps", stored["gap_bytes"]))
    return arrays, (f"{{.n_entries = {stored['n_entries']}, .values = {prefix}_values, "
                    f".gaps = {prefix}_gaps, .gap_bits = {stored['gap_bits']}}}")
