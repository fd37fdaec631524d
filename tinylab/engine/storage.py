"""Every byte of a model's data in flash, by op and by what it holds, in one weight format.

The one definition of TinyLab's byte counts: the arrays the generated C writes
(:func:`tinylab.engine.generate_c`), each labelled by its format or by the op's epilogue
(:data:`tinylab.engine.formats.stored.PARTS`). The pipeline's stages
(:mod:`tinylab.pipeline`), the compression grid and its explorer, the lessons' tables and
``bench mcu`` all count with :func:`model_storage`, so a byte count printed anywhere is the
bytes the board's flash holds for that model, format and op. What it leaves out is code: the
kernels, the decoders and each op's small description (shapes, pointers), which the
compiler reports (``avr-size``, ``tinylab deploy``).

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .formats import check_format, store
from .formats.stored import PARTS

__all__ = ["WEIGHT_PARTS", "OpStorage", "ModelStorage", "op_storage", "model_storage"]

#: The parts that are the weight data of a format; the others (biases, requantization data)
#: every format stores alike.
WEIGHT_PARTS = PARTS[:PARTS.index("biases")]


@dataclass(frozen=True)
class OpStorage:
    """One op's data in flash: its weights in one format, its biases and requantization data.

    ``parts`` holds bytes by :data:`~tinylab.engine.formats.stored.PARTS`; ``layout`` is the
    format's layout for this op (``""`` for an op without weights).
    """

    name: str
    kind: str
    format: str
    layout: str
    n_weights: int
    n_nonzero: int
    n_entries: int
    parts: dict

    @property
    def weight_bytes(self) -> int:
        """The weight format's bytes: weights, gaps, codebook, code tables, row lengths."""
        return sum(n for part, n in self.parts.items() if part in WEIGHT_PARTS)

    @property
    def nbytes(self) -> int:
        return sum(self.parts.values())

    def row(self) -> dict:
        """``op``, ``kind``, ``layout``, the counts ``n_weights``, ``n_nonzero``,
        ``n_entries``, then bytes: one key per part, ``weight_bytes`` and ``bytes``."""
        return {"op": self.name, "kind": self.kind, "layout": self.layout,
                "n_weights": self.n_weights, "n_nonzero": self.n_nonzero,
                "n_entries": self.n_entries, **{part: self.parts.get(part, 0) for part in PARTS},
                "weight_bytes": self.weight_bytes, "bytes": self.nbytes}


@dataclass(frozen=True)
class ModelStorage:
    """A model's data in flash in one format: :class:`OpStorage` per op that stores any."""

    format: str
    ops: tuple

    @property
    def parts(self) -> dict:
        return {part: sum(op.parts.get(part, 0) for op in self.ops) for part in PARTS
                if any(part in op.parts for op in self.ops)}

    @property
    def weight_bytes(self) -> int:
        return sum(op.weight_bytes for op in self.ops)

    @property
    def nbytes(self) -> int:
        return sum(op.nbytes for op in self.ops)

    @property
    def n_weights(self) -> int:
        return sum(op.n_weights for op in self.ops)

    @property
    def n_nonzero(self) -> int:
        return sum(op.n_nonzero for op in self.ops)

    @property
    def n_entries(self) -> int:
        return sum(op.n_entries for op in self.ops)

    def rows(self) -> list:
        """One dict per op (:meth:`OpStorage.row`), then a ``"total"`` row."""
        rows = [op.row() for op in self.ops]
        total = {"op": "total", "kind": "", "layout": ""}
        for key in rows[0] if rows else ():
            if key not in total:
                total[key] = sum(row[key] for row in rows)
        return rows + [total]

    def to_text(self) -> str:
        """A table: per op its layout and counts, then its bytes by part."""
        columns = ["op", "layout", "n_weights", "n_nonzero", "n_entries",
                   *[part for part in PARTS if part in self.parts], "bytes"]
        labels = ["op", "layout", "weights", "non-zero", "entries",
                  *[f"{part} B" for part in PARTS if part in self.parts], "bytes"]
        rows = [[row[c] if isinstance(row[c], str) else f"{row[c]:,}" for c in columns]
                for row in self.rows()]
        widths = [max(len(str(x)) for x in col) for col in zip(labels, *rows)]
        lines = ["  ".join(str(x).rjust(w) for x, w in zip(line, widths))
                 for line in [labels, *rows]]
        return (f"{self.format}: {self.nbytes:,} bytes of data in flash\n"
                + "\n".join(lines[:1] + ["  ".join("-" * w for w in widths)] + lines[1:]))


def op_storage(op, format: str) -> OpStorage | None:
    """``op``'s data in flash in ``format``, or None when it stores none (pool, reshape)."""
    check_format(format)
    parts, layout, counts = {}, "", (0, 0, 0)
    arrays = list(op.requant_flash()[0]) if hasattr(op, "requant_flash") else []
    if op.weight_rows() is not None:
        stored = store(op, format)
        arrays += stored.arrays
        layout = stored.layout
        counts = (stored.n_weights, stored.n_nonzero, stored.n_entries)
    if not arrays:
        return None
    for array in arrays:
        parts[array.part] = parts.get(array.part, 0) + array.nbytes
    parts = {part: parts[part] for part in PARTS if part in parts}
    return OpStorage(op.name, op.kind, format, layout, *counts, parts)


def model_storage(model, format: str) -> ModelStorage:
    """Every op's data in flash, as :func:`tinylab.engine.generate_c` writes it.

    Parameters
    ----------
    model : tinylab.engine.IntegerModel
    format : {"int8", "sparse", "huffman"}

    Returns
    -------
    ModelStorage
    """
    found = (op_storage(op, format) for op in model.ops)
    return ModelStorage(format, tuple(op for op in found if op is not None))
