"""The exercise checker of lesson ``07_huffman``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_huffman_lengths"]


def _lengths_answer(answer, n_symbols):
    """The student's lengths as a list of ints, or ``(None, what is wrong)``."""
    if isinstance(answer, dict):
        answer = [answer.get(symbol, answer.get(str(symbol))) for symbol in range(n_symbols)]
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__len__"):
        return None, (f"return one code length per symbol, e.g. a list like [1, 2, 3, 3], not "
                      f"{answer!r}.")
    values = list(np.asarray(answer, dtype=object).ravel()) if isinstance(answer, np.ndarray) \
        else list(answer)
    if len(values) != n_symbols:
        return None, (f"return one length per symbol: counts has {n_symbols} entries, your list "
                      f"has {len(values)}.")
    if any(isinstance(v, str) for v in values):
        return None, (f"you returned code words {values}; return their lengths (numbers of bits): "
                      f"the length of '110' is 3.")
    lengths = []
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
                or value != int(value) or value < 0:
            return None, (f"code lengths are whole numbers of bits; got {value!r} in {values}.")
        lengths.append(int(value))
    return lengths, None


def _heaviest_first_lengths(counts) -> list:
    """Lengths from merging the two *heaviest* groups (a usual mistake), for a hint."""
    return solutions.huffman_lengths([-count for count in counts])  # the heap then pops the heaviest


def check_huffman_lengths(code_lengths) -> CheckResult:
    """Lesson 07: ``code_lengths(counts)``, Huffman's code length in bits of each symbol.

    ``counts`` is a list whose entry ``i`` (> 0) counts symbol ``i``; the answer is a list of
    one length per symbol (a dict ``{symbol: length}`` is accepted too). Ties can be broken
    either way, giving different trees of the same cost, so any lengths pass that form a prefix
    code (Kraft: ``sum 2**-length <= 1``) and cost as few bits in total as Huffman's. A wrong
    answer is compared with the usual mistakes (fixed width, merging the heaviest groups, one
    bit too many or too few, Shannon's ``ceil(-log2 p)``) to give a hint.
    """
    name = "Huffman code lengths"
    probes = [[5, 2, 1, 1], [1, 1, 1, 1], [1, 2, 4, 8, 16, 32], [3, 7],
              np.random.default_rng(6).integers(1, 60, size=12).tolist()]
    for counts in probes:
        got, failed = call_student(name, code_lengths, list(counts), returns="the list of code lengths")
        if failed is not None:
            return failed
        lengths, problem = _lengths_answer(got, len(counts))
        if problem is not None:
            return CheckResult(name, False, f"for counts {counts}: {problem}")
        expected = solutions.huffman_lengths(counts)
        best = sum(c * n for c, n in zip(counts, expected))
        cost = sum(c * n for c, n in zip(counts, lengths))
        kraft = sum(2.0 ** -n for n in lengths)
        if kraft <= 1.0 and cost == best:
            continue
        total = sum(counts)
        if lengths == [n - 1 for n in expected]:
            hint = ("every length is one bit short: each merge adds a bit to every symbol in "
                    "both groups, the last merge too.")
        elif min(lengths) < 1:
            hint = ("every symbol needs a code word of at least 1 bit: a length of 0 would be "
                    "an empty word, which the decoder cannot see.")
        elif kraft > 1.0:
            hint = (f"no prefix code has these lengths: the sum of 2**-length is {kraft:g} > 1, "
                    f"so some code word would be the start of another. Each merge must add one "
                    f"bit to every symbol in both groups.")
        elif lengths == [n + 1 for n in expected]:
            hint = ("every length is one bit too long: a symbol's length is the number of merges "
                    "it takes part in (the root costs no bit).")
        elif len(set(lengths)) == 1 and len(set(expected)) > 1:
            hint = (f"every symbol got {lengths[0]} bits: that is a fixed-width code. Huffman "
                    f"gives the frequent symbols shorter words: merge the two lightest groups.")
        elif lengths == _heaviest_first_lengths(counts):
            hint = ("you merged the two heaviest groups; Huffman merges the two lightest "
                    "(heapq.heappop gives the smallest first).")
        elif lengths == [int(np.ceil(-np.log2(c / total))) for c in counts]:
            hint = ("those are Shannon's lengths, ceil(-log2 p): a valid prefix code, but "
                    "Huffman's merges can do better.")
        else:
            hint = ("merge the two lightest groups until one is left; each merge adds one bit to "
                    "every symbol in both.")
        return CheckResult(name, False, f"for counts {counts} you returned lengths {lengths}, "
                                        f"{cost} bits in total; Huffman's lengths {expected} "
                                        f"take {best}. Hint: {hint}")
    return CheckResult(name, True, "on counts 5, 2, 1, 1 the lengths 1, 2, 3, 3 take 15 bits for "
                                   "9 symbols, against 18 bits at a fixed 2 bits each.")
