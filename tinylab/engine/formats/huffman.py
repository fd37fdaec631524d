"""Weight format ``"huffman"``: Deep Compression decoded on the fly (lesson 06).

The entries of :mod:`tinylab.engine.formats.sparse`, with both streams Huffman-coded: each
entry's weight is a code word over the layer's codebook of int8 values (a filler decodes to
0) and its gap a code word over 0 .. 2**gap_bits - 1. A canonical code is stored as how many
code words have each length, then the symbols in canonical order. Code words are at most
:data:`MAX_CODE_BITS` bits. C: ``boards/engine/format_huffman.c``.

Introduced in lesson ``07_deploy``.
"""

from __future__ import annotations

import numpy as np

from ... import huffman
from ..c_text import c_array
from .sparse import entries

__all__ = ["NAME", "STREAMS", "C_FILES", "MAX_CODE_BITS", "code_table", "streams", "c_arrays"]

NAME = "huffman"
#: Rows are decoded: a convolution decodes each once into RAM (``Op.row_bytes``).
STREAMS = False
C_FILES = ("bits.c", "format_huffman.c")

#: Longest Huffman code word the C decoder reads, so that it computes in 16-bit integers
#: (cheap on an 8-bit AVR). Codes longer than this are shortened as in JPEG.
MAX_CODE_BITS = 15


def code_table(symbols, code_symbol_values) -> dict:
    """Huffman-code ``symbols``: the code, per-length counts, symbols' values in canonical order."""
    code = huffman.build_code(symbols=symbols, max_length=MAX_CODE_BITS)
    packed, n_bits = huffman.encode(symbols, code)
    counts = np.bincount(code.lengths, minlength=code.max_length + 1)[1:]
    if counts.size and counts.max() > 255:
        raise ValueError(f"a code has {counts.max()} words of one length; the C table holds "
                         f"at most 255 per length")
    order = np.lexsort((code.symbols, code.lengths))
    return {"code": code, "counts": counts.astype(np.uint8),
            "symbols": np.asarray(code_symbol_values(code.symbols[order])),
            "bits": packed, "n_bits": n_bits}


def streams(rows, gap_bits: int) -> dict:
    """``codebook`` (the distinct non-zero int8 weights, ascending), ``indices`` (each entry's
    codebook index; a filler takes ``len(codebook)``, as in
    :func:`tinylab.pipeline.layer_streams`), ``gaps``, and ``weight_table`` and ``gap_table``
    (:func:`code_table`: ``code``, ``counts``, ``symbols``, ``bits``, ``n_bits``), with
    ``n_entries`` and ``stored_bytes``."""
    rows = np.asarray(rows, dtype=np.int8)
    values, gaps = entries(rows, gap_bits)
    codebook = np.unique(rows[rows != 0])
    indices = np.where(values != 0, np.searchsorted(codebook, values), len(codebook))
    value_of = np.append(codebook, 0).astype(np.int8)
    weight_table = code_table(indices, lambda symbols: value_of[symbols])
    gap_table = code_table(gaps, lambda symbols: symbols.astype(np.uint8))
    tables = (weight_table, gap_table)
    return {"codebook": codebook.astype(np.int8), "indices": indices, "gaps": gaps,
            "weight_table": weight_table, "gap_table": gap_table, "n_entries": len(values),
            "stored_bytes": sum(t["counts"].size + t["symbols"].size + len(t["bits"])
                               for t in tables)}


def c_arrays(stored: dict, prefix: str) -> tuple:
    """The C arrays of :func:`streams` and the ``tl_weights_t`` initializer."""
    arrays, fields = [], [f".n_entries = {stored['n_entries']}"]
    for part in ("weight", "gap"):
        table = stored[f"{part}_table"]
        arrays += [c_array("uint8_t", f"{prefix}_{part}_counts", table["counts"]),
                   c_array("uint8_t", f"{prefix}_{part}_symbols",
                           table["symbols"].astype(np.int64) & 0xFF),
                   c_array("uint8_t", f"{prefix}_{part}_bits", table["bits"])]
        fields += [f".{part}_code = {{.counts = {prefix}_{part}_counts, .symbols = "
                   f"{prefix}_{part}_symbols, .max_length = {table['code'].max_length}}}",
                   f".{part}_bits = {prefix}_{part}_bits"]
    return "".join(arrays), "{" + ", ".join(fields) + "}"
