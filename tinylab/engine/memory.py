"""Where the C engine keeps activations: one static arena, planned by lifetime.

An op's input and output are alive together, and its scratch patch only while it runs; an
activation is dead once the next op has read it. :func:`plan_memory` places each buffer of the
chain in one arena, largest first, at the lowest offset that overlaps no buffer alive at the
same time (tflite-micro's ``GreedyMemoryPlanner`` does the same). The model's input and output
stay the caller's arrays; a RESHAPE moves nothing; every buffer starts on a 4-byte boundary (a
kernel may keep int32 in its scratch); and a max pool right after a convolution,
with windows that do not overlap, is fused into it, so the convolution's full output (the
largest activation of a small CNN) is never stored.

Introduced in lesson ``10_cnn``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import Op

__all__ = ["Step", "MemoryPlan", "plan_memory"]


@dataclass(frozen=True)
class Step:
    """One call of a C kernel.

    Attributes
    ----------
    op : Op
    pool : Op or None
        A max pool fused into ``op`` (a convolution).
    input_offset, output_offset : int or None
        Offsets in the arena; None for the model's input (of the first step) and output (of
        the last).
    output_bytes : int
    scratch_offset : int or None
    scratch_bytes : int
    """

    op: Op
    pool: Op | None
    input_offset: int | None
    output_offset: int | None
    output_bytes: int
    scratch_offset: int | None
    scratch_bytes: int

    @property
    def label(self) -> str:
        return self.op.kind + (f" + {self.pool.kind} (fused)" if self.pool else "")


@dataclass(frozen=True)
class MemoryPlan:
    """The arena and what each step reads and writes in it.

    Attributes
    ----------
    steps : tuple of Step
    arena_bytes : int
        The static RAM of all activations and scratch patches.
    unplanned_bytes : int
        What one buffer per activation and per patch, none shared, would take (the comparison
        the plan is measured against).
    format : str
    fused : bool
    """

    steps: tuple
    arena_bytes: int
    unplanned_bytes: int
    format: str
    fused: bool

    def describe(self) -> str:
        """A table: each step, its output and scratch with their offsets, then the total."""
        lines = [f"{'step':<34} {'output':>16} {'scratch':>14}"]
        for step in self.steps:
            output = "model output" if step.output_offset is None else \
                f"{step.output_bytes} B @ {step.output_offset}"
            scratch = "" if not step.scratch_bytes else \
                f"{step.scratch_bytes} B @ {step.scratch_offset}"
            lines.append(f"{step.label:<34} {output:>16} {scratch:>14}")
        lines.append(f"arena: {self.arena_bytes:,} bytes of static RAM (one buffer per "
                     f"activation: {self.unplanned_bytes:,})")
        return "\n".join(lines)


def _kernels(model, fuse: bool) -> list:
    """``(op, fused pool or None)`` for each op that runs C, RESHAPEs dropped."""
    ops = [op for op in model.ops if op.c_kernel is not None]
    pairs, i = [], 0
    while i < len(ops):
        op, following = ops[i], ops[i + 1] if i + 1 < len(ops) else None
        if fuse and op.kind == "CONV_2D" and following is not None \
                and getattr(following, "fusable", False):
            pairs.append((op, following))
            i += 2
        else:
            pairs.append((op, None))
            i += 1
    return pairs


def plan_memory(model, *, format: str = "int8", fuse: bool = True) -> MemoryPlan:
    """Plan the C engine's arena for ``model`` (see the module's description).

    Parameters
    ----------
    model : tinylab.engine.graph.IntegerModel
    format : {"int8", "sparse", "huffman"}
        A format that decodes its rows gives a convolution a second scratch for its decoded
        row (:attr:`tinylab.engine.graph.Op.row_bytes`).
    fuse : bool
        Fuse a max pool into the convolution before it where the windows do not overlap.

    Returns
    -------
    MemoryPlan
    """
    from .formats import MODULES, check_format
    from .reference import check_model

    streams = MODULES[check_format(format)].STREAMS
    kernels = _kernels(check_model(model), fuse)

    def scratch(op, pool=None):
        return op.scratch(streams, pool)

    def words(size):  # buffers in whole int32 words: a kernel may keep int32 in its scratch
        return -(-size // 4) * 4

    last = len(kernels) - 1
    buffers = []  # [size, first step, last step, key]
    for k, (op, pool) in enumerate(kernels):
        if k < last:
            buffers.append([words((pool or op).n_outputs), k, k + 1, ("output", k)])
        if scratch(op, pool):
            buffers.append([words(scratch(op, pool)), k, k, ("scratch", k)])
    offsets, placed = {}, []
    for size, first, end, key in sorted(buffers, key=lambda b: (-b[0], b[1])):
        offset, moved = 0, True
        while moved:  # the lowest offset clear of every buffer alive at the same time
            moved = False
            for other_offset, other_size, other_first, other_end in placed:
                if first <= other_end and other_first <= end and offset < other_offset + \
                        other_size and other_offset < offset + size:
                    offset, moved = other_offset + other_size, True
        placed.append((offset, size, first, end))
        offsets[key] = offset
    steps = []
    for k, (op, pool) in enumerate(kernels):
        steps.append(Step(op=op, pool=pool,
                          input_offset=None if k == 0 else offsets[("output", k - 1)],
                          output_offset=offsets.get(("output", k)),
                          output_bytes=(pool or op).n_outputs,
                          scratch_offset=offsets.get(("scratch", k)),
                          scratch_bytes=scratch(op, pool)))
    arena = max((offset + size for offset, size, _, _ in placed), default=0)
    unplanned = sum(op.n_outputs for op, _ in _kernels(model, False)[:-1]) \
        + sum(scratch(op) for op, _ in _kernels(model, False))
    return MemoryPlan(steps=tuple(steps), arena_bytes=arena, unplanned_bytes=unplanned,
                      format=format, fused=fuse)
