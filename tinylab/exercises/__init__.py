"""Checkers for the lessons' exercises, and their reference solutions.

A checker never raises on a wrong answer: it returns a :class:`CheckResult` that says what
went wrong and gives a hint, so a notebook still runs top to bottom with the student's
unfinished stub in it. Each lesson's checker lives in the module named for the lesson
(``exercises/pruning.py`` for ``04_pruning``); the reference solutions live in
:mod:`tinylab.exercises.solutions` (``tl.exercises.solutions``), tested like the rest of the
package.
"""

from __future__ import annotations

import inspect

from . import solutions
from ._result import CheckResult
from .cnn import check_conv_macs
from .data import check_normalize
from .deploy import check_fits_uno, check_int8_dense
from .distillation import check_soft_loss
from .gestures import check_standardize_channels
from .huffman import check_huffman_lengths
from .pruning import check_prune_mask
from .quantization import check_quantize
from .sharing import check_share_linear
from .train import check_dense_params
from .welcome import check_uno_weights

__all__ = ["CheckResult", "check_uno_weights", "check_normalize", "check_dense_params",
           "check_soft_loss", "check_prune_mask", "check_quantize", "check_share_linear",
           "check_huffman_lengths", "check_fits_uno", "check_int8_dense",
           "check_standardize_channels", "check_conv_macs", "solutions", "show_solution"]


def show_solution(name: str) -> str:
    """The source of a reference solution, for after the student has tried."""
    if name not in solutions.__all__:
        raise ValueError(f"no solution {name!r}; choose one of {sorted(solutions.__all__)}")
    return inspect.getsource(getattr(solutions, name))
