"""Weight format ``"sparse"``: only the non-zero weights, each with the zeros skipped before it.

Deep Compression's relative indices (lesson 04), laid out for an 8-bit MCU. Each row starts
with its count of entries, so a row ends without a division or a compare per weight; an
entry is a non-zero weight and its *gap*, the zeros skipped since the previous entry of the
row (or since the row's start). A gap longer than the layout can count is bridged by a
filler entry of weight 0, as in the paper. Two layouts, chosen per op:

- ``"shared"``, for a weight-shared layer (at most :data:`SHARED_VALUES` distinct non-zero
  int8 weights, as lessons 05-07 make them): EIE's byte (Han et al. 2016), the gap in its
  high 4 bits and the index of the weight in the layer's codebook in its low 4 bits. One
  byte per entry; the codebook (the distinct weights, then 0 for the fillers) is copied to
  RAM when the op starts, and each weight is looked up there.
- ``"wide"``, for any other layer: two bytes per entry, the gap (0-255) then the int8 weight.

The counts are one byte per row, or two when a row holds more than 255 entries. C:
``boards/engine/format_sparse.c`` (the AVR inner loops in assembly).

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import numpy as np

from .stored import Array, Stored

__all__ = ["NAME", "STREAMS", "C_FILES", "SHARED_VALUES", "GAP_LIMITS", "row_entries",
           "store", "decode"]

NAME = "sparse"
#: Rows are decoded: a convolution decodes each once into RAM (``Op.row_bytes``).
STREAMS = False
C_FILES = ("format_sparse.c",)

#: The most distinct non-zero weights the ``"shared"`` layout holds: 16 codebook slots, one
#: of them the fillers' 0.
SHARED_VALUES = 15
#: The longest gap each layout's entry can count.
GAP_LIMITS = {"shared": 15, "wide": 255}


def row_entries(row, gap_limit: int):
    """One row's entries: ``(gaps, values)``, fillers (value 0) bridging the long gaps.

    >>> row_entries([0, 0, 5, 0, -3], 15)
    (array([2, 1]), array([ 5, -3], dtype=int8))
    >>> row_entries([0, 0, 0, 7], 1)
    (array([1, 1]), array([0, 7], dtype=int8))
    """
    row = np.asarray(row)
    gaps, values, previous = [], [], -1
    for column in np.flatnonzero(row):
        gap = int(column - previous - 1)
        while gap > gap_limit:  # a filler stands gap_limit zeros on, at a zero of its own
            gaps.append(gap_limit)
            values.append(0)
            gap -= gap_limit + 1
        gaps.append(gap)
        values.append(row[column])
        previous = column
    return np.asarray(gaps, dtype=np.int64), np.asarray(values, dtype=np.int8)


def store(rows) -> Stored:
    """The rows' entries in the ``"shared"`` layout when the op's distinct non-zero weights
    fit it, else ``"wide"``. ``details``: ``gaps`` and ``values`` (per entry, fillers 0),
    ``counts`` (per row), ``codebook`` (``"shared"``: the distinct weights, then 0)."""
    rows = np.asarray(rows, dtype=np.int8)
    distinct = np.unique(rows[rows != 0])
    layout = "shared" if len(distinct) <= SHARED_VALUES else "wide"
    per_row = [row_entries(row, GAP_LIMITS[layout]) for row in rows]
    counts = np.array([len(gaps) for gaps, _ in per_row], dtype=np.int64)
    gaps = np.concatenate([g for g, _ in per_row]) if per_row else np.zeros(0, np.int64)
    values = np.concatenate([v for _, v in per_row]) if per_row else np.zeros(0, np.int8)
    count_type = "uint8_t" if counts.max(initial=0) <= 255 else "uint16_t"
    arrays = [Array("counts", count_type, counts, "row lengths")]
    details = {"gaps": gaps, "values": values, "counts": counts}
    if layout == "shared":
        codebook = np.append(distinct, 0).astype(np.int8)
        index = np.searchsorted(distinct, values)
        index[values == 0] = len(distinct)
        arrays += [Array("codebook", "int8_t", codebook, "codebook"),
                   Array("entries", "uint8_t", gaps << 4 | index, "weights")]
        details.update(codebook=codebook, indices=index)
        fields = [("codebook", "{prefix}_codebook"), ("n_codebook", str(len(codebook)))]
    else:
        pairs = np.stack([gaps, values.astype(np.int64) & 0xFF], axis=1)
        arrays.append(Array("entries", "uint8_t", pairs, "weights"))
        fields = [("codebook", "0"), ("n_codebook", "0")]
    fields = [("counts", "{prefix}_counts"), ("entries", "{prefix}_entries"), *fields,
              ("wide_counts", str(int(count_type == "uint16_t")))]
    return Stored(NAME, tuple(arrays), tuple(fields), n_weights=int(rows.size),
                  n_nonzero=int(np.count_nonzero(rows)), n_entries=len(gaps), layout=layout,
                  details=details)


def decode(stored: Stored, row_length: int) -> np.ndarray:
    """The rows back from the stored arrays, read as ``format_sparse.c`` reads them."""
    counts = stored.array("counts").values
    entries = stored.array("entries").values
    codebook = stored.array("codebook").values if stored.layout == "shared" else None
    rows = np.zeros((len(counts), row_length), dtype=np.int8)
    at = 0
    for r, count in enumerate(counts):
        column = 0
        for _ in range(int(count)):
            if codebook is not None:
                column += int(entries[at]) >> 4
                value = codebook[int(entries[at]) & 15]
                at += 1
            else:
                column += int(entries[at])
                value = np.int64(entries[at + 1]).astype(np.uint8).view(np.int8)
                at += 2
            rows[r, column] = value  # a filler writes its 0 over a 0
            column += 1
    return rows
