"""C literals for the generated model source: arrays in flash, float32 constants.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["c_array", "c_float"]


def c_array(ctype: str, name: str, values) -> str:
    """``static const ctype name[n] TL_FLASH = {...};`` from numbers (or bytes)."""
    per_line = 8 if ctype == "int32_t" else 16  # lines under 100 characters
    if isinstance(values, bytes):
        values = np.frombuffer(values, dtype=np.uint8)
    values = [int(v) for v in np.asarray(values).ravel()]
    note = ""
    if not values:
        values, note = [0], "  /* empty: C has no arrays of 0 elements */"
    rows = [", ".join(map(str, values[i:i + per_line])) for i in range(0, len(values), per_line)]
    return (f"static const {ctype} {name}[{len(values)}] TL_FLASH = {{{note}\n    "
            + ",\n    ".join(rows) + "\n};\n")


def c_float(value: float) -> str:
    """A float32 constant that gives back the same float32 (9 significant digits)."""
    text = f"{float(np.float32(value)):.9g}"
    return text + (".0f" if "." not in text and "e" not in text else "f")
