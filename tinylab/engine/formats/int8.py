"""Weight format ``"int8"``: every weight stored, one byte each, row after row.

C: ``boards/engine/format_int8.c`` (the AVR inner loop in assembly, about 10.5 cycles per
multiply-accumulate). Introduced in lesson ``07_deploy``.
"""

from __future__ import annotations

import numpy as np

from ..c_text import c_array

__all__ = ["NAME", "STREAMS", "C_FILES", "streams", "c_arrays"]

NAME = "int8"
#: A row read again costs nothing: convolutions stream the rows at every pixel.
STREAMS = True
C_FILES = ("format_int8.c",)


def streams(rows, gap_bits: int) -> dict:
    """``weights`` (int8, the rows one after another), ``n_entries`` 0, ``stored_bytes``."""
    weights = np.asarray(rows, dtype=np.int8).ravel()
    return {"weights": weights, "n_entries": 0, "stored_bytes": int(weights.size)}


def c_arrays(stored: dict, prefix: str) -> tuple:
    """The C arrays of :func:`streams` and the ``tl_weights_t`` initializer."""
    return (c_array("int8_t", f"{prefix}_weights", stored["weights"]),
            f"{{.weights = {prefix}_weights}}")
