"""Weight format ``"huffman"``: Deep Compression decoded on the fly (lesson 07).

The rows are read as one stream of *entries*, as in :mod:`tinylab.engine.formats.sparse`:
each entry is a non-zero weight and its *gap*, the zeros skipped since the previous entry
(a gap runs on across the end of a row, so a row needs no count and ends no entry early).
A gap longer than :data:`GAP_LIMIT` is bridged by a filler entry of weight 0.

Both parts of an entry are Huffman-coded (Deep Compression's third stage), each with its
own canonical code per op (:func:`tinylab.huffman.build_code`), code words at most
:data:`MAX_CODE_BITS` bits long. The entries are stored in one bit stream, most significant
bit first: the gap's code word, then the weight's, entry after entry; then 9 or more 0 bits,
to a whole byte, since the decoder always holds the byte after the one it reads.

A canonical code is stored as in JPEG (lesson 07's :func:`tinylab.huffman.serialize_code`,
with plain bytes): how many code words have each length, 1 to the code's longest, then the
symbols in canonical order (by length, then symbol). :func:`code_table` makes the two
arrays. The weight code's symbols are the int8 weights themselves (0 for a filler): they are
the layer's codebook, so the decoder's symbol is the weight, with no codebook lookup.

The arrays of one op (``<prefix>_<name>``, see :class:`~tinylab.engine.formats.stored.Stored`):

============== ======= =========== ======================================================
name           C type  part        holds
============== ======= =========== ======================================================
``bits``       uint8_t weights     the entries' code words, then 9 to 16 zero bits
``wcounts``    uint8_t code tables weight code: code words of each length, 1 .. longest
``wsymbols``   int8_t  codebook    weight code: the weights in canonical order
``gcounts``    uint8_t code tables gap code: code words of each length, 1 .. longest
``gsymbols``   uint8_t code tables gap code: the gaps in canonical order
============== ======= =========== ======================================================

The C decoder (``boards/engine/format_huffman.c``) reads a code word by table, not bit by
bit: it holds the next 8 bits (:data:`MAX_CODE_BITS` is 8, so they hold any code word) and
looks their first 6 up in a table it builds in RAM from ``counts`` and ``symbols`` when the op
starts (symbol and length at once); a longer code word is found by comparing the 8 bits with
each length's first code word, as zlib's and JPEG's canonical decoders do. The table costs
RAM while the op runs (256 bytes on the stack), no flash.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import numpy as np

from ... import huffman
from .sparse import row_entries
from .stored import Array, Stored

__all__ = ["NAME", "STREAMS", "C_FILES", "MAX_CODE_BITS", "GAP_LIMIT", "code_table", "store"]

NAME = "huffman"
#: Rows are decoded: a convolution decodes each once into RAM (``Op.row_bytes``).
STREAMS = False
C_FILES = ("format_huffman.c",)

#: Longest code word: one byte, so the decoder's look-ahead of 8 bits holds any code word.
#: Every int8 alphabet fits (256 symbols in 8 bits). Measured on the lessons' pruned,
#: weight-shared models, capping at 8 rather than 15 bits costs at most 1 byte per op.
MAX_CODE_BITS = 8
#: Longest gap an entry counts; longer runs of zeros take filler entries. Chosen by
#: measurement on the 90%-pruned teacher (stream bytes: 4,625 with gaps up to 15, 4,360 up
#: to 31); the gap code then has at most 32 symbols.
GAP_LIMIT = 31


def code_table(code: huffman.HuffmanCode) -> tuple:
    """The canonical ``code`` as the decoder reads it: ``(counts, symbols)``.

    Parameters
    ----------
    code : tinylab.huffman.HuffmanCode
        At most :data:`MAX_CODE_BITS` bits per code word.

    Returns
    -------
    counts : ndarray of int64, shape (code.max_length,)
        ``counts[i]``: how many code words have ``i + 1`` bits.
    symbols : ndarray of int64, shape (len(code),)
        The symbols in canonical order: by code length, then by symbol.
    """
    if code.max_length > MAX_CODE_BITS:
        raise ValueError(f"the code has {code.max_length}-bit code words; the C decoder reads "
                         f"at most {MAX_CODE_BITS}")
    counts = np.bincount(code.lengths, minlength=code.max_length + 1)[1:]
    if counts.max(initial=0) > 255:  # all 256 int8 values, equally frequent
        raise ValueError(f"the code has {counts.max()} code words of one length; the C table "
                         f"counts at most 255 (TFLite's int8 weights never use -128, so only a "
                         f"hand-made layer meets this): store it in the int8 or sparse format")
    order = np.lexsort((code.symbols, code.lengths))
    return counts.astype(np.int64), code.symbols[order]


def _code(symbols) -> huffman.HuffmanCode:
    return huffman.build_code(symbols=symbols, max_length=MAX_CODE_BITS)


def store(rows) -> Stored:
    """The rows' entries, Huffman-coded, in the layout of the module docstring.

    Parameters
    ----------
    rows : array_like of int8, shape (n_rows, n)

    Returns
    -------
    Stored
        ``details``: ``codebook`` (the distinct non-zero weights, ascending), ``indices``
        (each entry's codebook index; a filler takes ``len(codebook)``, as in
        :func:`tinylab.pipeline.layer_streams`), ``gaps`` and ``values`` (per entry),
        ``weight_code`` and ``gap_code`` (:class:`tinylab.huffman.HuffmanCode`), and
        ``weight_bits`` and ``gap_bits``, the stream's bits of each code.
    """
    rows = np.asarray(rows, dtype=np.int8)
    gaps, values = row_entries(rows.ravel(), GAP_LIMIT)
    if len(gaps) > 0xFFFF:
        raise ValueError(f"{len(gaps)} entries; the C decoder counts at most 65535 per op "
                         f"(an ATmega328P's flash holds far fewer)")
    values = values.astype(np.int64)
    codebook = np.unique(values[values != 0])
    indices = np.where(values != 0, np.searchsorted(codebook, values), len(codebook))
    weight_code, gap_code = _code(values), _code(gaps)
    lengths = {}
    for name, code, symbols in (("weight", weight_code, values), ("gap", gap_code, gaps)):
        lengths[name] = code.lengths[np.searchsorted(code.symbols, symbols)].astype(np.int64)
    # Interleave the code words: gap, weight, gap, weight, ... then pack them MSB first.
    words = np.stack([gap_code.codewords[np.searchsorted(gap_code.symbols, gaps)],
                      weight_code.codewords[np.searchsorted(weight_code.symbols, values)]],
                     axis=1).ravel().astype(np.int64)
    widths = np.stack([lengths["gap"], lengths["weight"]], axis=1).ravel()
    shifts = np.arange(MAX_CODE_BITS - 1, -1, -1)
    bits = (words[:, None] << (MAX_CODE_BITS - widths[:, None]) >> shifts) & 1
    stream = bits[np.arange(MAX_CODE_BITS) < widths[:, None]].astype(np.uint8)
    # 9 zero bits more, to a whole byte: the reader holds the byte after the one it reads.
    packed = np.packbits(np.append(stream, np.zeros(9, np.uint8))).astype(np.int64)
    wcounts, wsymbols = code_table(weight_code)
    gcounts, gsymbols = code_table(gap_code)
    arrays = (Array("bits", "uint8_t", packed, "weights"),
              Array("wcounts", "uint8_t", wcounts, "code tables"),
              Array("wsymbols", "int8_t", wsymbols, "codebook"),
              Array("gcounts", "uint8_t", gcounts, "code tables"),
              Array("gsymbols", "uint8_t", gsymbols, "code tables"))
    fields = (("n_entries", str(len(gaps))), ("bits", "{prefix}_bits"),
              ("weight_code", f"{{{{.counts = {{prefix}}_wcounts, .symbols = (const uint8_t *)"
                              f"{{prefix}}_wsymbols, .max_length = {weight_code.max_length}}}}}"),
              ("gap_code", f"{{{{.counts = {{prefix}}_gcounts, .symbols = {{prefix}}_gsymbols, "
                           f".max_length = {gap_code.max_length}}}}}"))
    details = {"codebook": codebook.astype(np.int8), "indices": indices, "gaps": gaps,
               "values": values.astype(np.int8), "weight_code": weight_code,
               "gap_code": gap_code, "weight_bits": int(lengths["weight"].sum()),
               "gap_bits": int(lengths["gap"].sum())}
    return Stored(NAME, arrays, fields, n_weights=int(rows.size),
                  n_nonzero=int(np.count_nonzero(rows)), n_entries=len(gaps), layout="huffman",
                  details=details)
