"""What a weight format stores in flash for one op: its C arrays, each with what it holds.

Every format module's ``store(rows)`` returns a :class:`Stored`; the generated C writes
exactly its :attr:`Stored.arrays` (:func:`c_arrays`), and every byte count TinyLab reports
(the pipeline's stages, the compression grid, the lessons' tables, ``bench mcu``) adds up
these arrays (:mod:`tinylab.engine.storage`). One definition, so the bytes a lesson prints
are the bytes the board's flash holds.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..c_text import c_array

__all__ = ["CTYPES", "PARTS", "Array", "Stored", "c_arrays", "c_definitions"]

#: The C types a format's arrays may have, with their bytes per element.
CTYPES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4}

#: What an array may hold, in the order tables print them: a format's weight data, then
#: what every format stores beside it (each op's biases and requantization data).
PARTS = ("weights", "gaps", "codebook", "code tables", "row lengths", "biases",
         "requantization")


@dataclass(frozen=True)
class Array:
    """One C array of a format: ``<prefix>_<name>``, of ``ctype``, holding ``part``."""

    name: str
    ctype: str
    values: np.ndarray = field(repr=False)
    part: str

    def __post_init__(self):
        if self.ctype not in CTYPES:
            raise ValueError(f"unknown C type {self.ctype!r}; choose one of {list(CTYPES)}")
        if self.part not in PARTS:
            raise ValueError(f"unknown part {self.part!r}; choose one of {list(PARTS)}")
        values = np.asarray(self.values, dtype=np.int64).ravel()
        object.__setattr__(self, "values", values)

    @property
    def length(self) -> int:
        """Elements in C (an empty array is written with one 0: C has no arrays of 0)."""
        return max(int(self.values.size), 1)

    @property
    def nbytes(self) -> int:
        return self.length * CTYPES[self.ctype]


@dataclass(frozen=True)
class Stored:
    """One op's weights in one format.

    Attributes
    ----------
    format : str
    arrays : tuple of Array
        What the generated C holds in flash, in order.
    fields : tuple of (str, str)
        The ``tl_weights_t`` initializer: field name, C expression; ``{prefix}`` stands for
        the op's C prefix (an array ``name`` is ``{prefix}_name``).
    n_weights, n_nonzero, n_entries : int
        Weights of the rows, the non-zero ones, and the entries stored (non-zero weights
        plus fillers; equal to ``n_weights`` for ``"int8"``).
    layout : str
        How the entries are laid out (a format may choose per op: ``"dense"``, ``"wide"``,
        ``"shared"``, ``"huffman"``).
    details : dict
        The streams before packing, for lessons and tests (format-specific).
    """

    format: str
    arrays: tuple
    fields: tuple
    n_weights: int
    n_nonzero: int
    n_entries: int
    layout: str
    details: dict = field(default_factory=dict, repr=False)

    @property
    def parts(self) -> dict:
        """Bytes in flash by what they hold (:data:`PARTS`), the parts this format uses."""
        out = {}
        for array in self.arrays:
            out[array.part] = out.get(array.part, 0) + array.nbytes
        return {part: out[part] for part in PARTS if part in out}

    @property
    def nbytes(self) -> int:
        """Every byte of the arrays in flash."""
        return sum(array.nbytes for array in self.arrays)

    def array(self, name: str) -> Array:
        for array in self.arrays:
            if array.name == name:
                return array
        raise KeyError(f"{self.format} stores no array {name!r}; it stores "
                       f"{[a.name for a in self.arrays]}")


def c_definitions(arrays, fields, prefix: str) -> tuple:
    """C text of ``arrays`` and the struct initializer of ``fields``, for op ``prefix``."""
    text = "".join(c_array(array.ctype, f"{prefix}_{array.name}", array.values)
                   for array in arrays)
    init = "{" + ", ".join(f".{name} = {value.format(prefix=prefix)}"
                           for name, value in fields) + "}"
    return text, init


def c_arrays(stored: Stored, prefix: str) -> tuple:
    """The C arrays of ``stored`` and its ``tl_weights_t`` initializer, for op ``prefix``."""
    return c_definitions(stored.arrays, stored.fields, prefix)
