"""Weight format ``"int8"``: every weight stored, one byte each, row after row.

C: ``boards/engine/format_int8.c`` (the AVR inner loop in assembly, about 10.5 cycles per
multiply-accumulate). Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import numpy as np

from .stored import Array, Stored

__all__ = ["NAME", "STREAMS", "C_FILES", "store"]

NAME = "int8"
#: A row read again costs nothing: convolutions stream the rows at every pixel.
STREAMS = True
C_FILES = ("format_int8.c",)


def store(rows) -> Stored:
    """The rows one after another, one int8 per weight."""
    rows = np.asarray(rows, dtype=np.int8)
    return Stored(NAME, (Array("weights", "int8_t", rows.ravel(), "weights"),),
                  (("weights", "{prefix}_weights"),), n_weights=int(rows.size),
                  n_nonzero=int(np.count_nonzero(rows)), n_entries=int(rows.size),
                  layout="dense")
