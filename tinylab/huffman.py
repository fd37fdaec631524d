"""Canonical Huffman coding: frequent symbols get short code words.

Deep Compression's third stage (Han, Mao & Dally 2016, section 4) Huffman-codes the quantized
weights and the relative indices of a pruned layer (:func:`tinylab.prune.relative_indices`):
both are small integers with skewed counts, so a variable-length code beats a fixed width.
A symbol of probability ``p`` ideally costs ``-log2 p`` bits; Huffman's code averages between
the entropy ``H = -sum p log2 p`` and ``H + 1`` bits per symbol.

- the code: :func:`symbol_counts`, :func:`code_lengths` (Huffman's merges, length-limited),
  :func:`canonical_code` (code words from the lengths alone), :func:`build_code`,
  :class:`HuffmanCode`, :func:`tree` (the merges, as data for a figure);
- the bits: :func:`encode`, :func:`decode` (a bit stream, most significant bit first);
- the bytes a decoder needs: :func:`serialize_code`, :func:`deserialize_code`,
  :func:`table_bytes`, :func:`compress`, :func:`decompress`, :func:`storage`;
- the yardsticks: :func:`entropy`, :func:`average_length`.

A *canonical* code is fully described by each symbol's code length: sort the symbols by
(length, symbol) and count up, so ``5, 2, 1, 1`` (lengths 1, 2, 3, 3) gives ``0, 10, 110,
111``. The table stored next to the bits therefore holds lengths and symbols, no code words.

Introduced in lesson ``07_huffman``.
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MAX_CODE_LENGTH", "HuffmanCode", "symbol_counts", "code_lengths", "canonical_code",
           "build_code", "tree", "encode", "decode", "entropy", "average_length",
           "serialize_code", "deserialize_code", "table_bytes", "compress", "decompress",
           "storage"]

#: Longest code word allowed. The decoder looks the next ``max_length`` bits up in a table of
#: ``2**max_length`` entries (64 K entries at 16, as in JPEG); raising it costs decoder memory.
MAX_CODE_LENGTH = 16

_INT64 = np.iinfo(np.int64)


# --------------------------------------------------------------------------- checking input

def _check_symbol(value, where):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"symbols must be integers; {where} is {value!r}")
    value = int(value)
    if not _INT64.min <= value <= _INT64.max:
        raise ValueError(f"symbols must fit in int64; {where} is {value}")
    return value


def _symbol_array(symbols) -> np.ndarray:
    """``symbols`` as a flat int64 array, or a ValueError naming the first value that is not an integer."""
    array = np.asarray(symbols)
    flat = array.ravel()
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind == "i":
        return flat.astype(np.int64, copy=False)
    if array.dtype.kind == "u":
        if int(flat.max()) > _INT64.max:
            position = int(np.argmax(flat > _INT64.max))
            raise ValueError(f"symbols must fit in int64; symbols[{position}] is {flat[position]}")
        return flat.astype(np.int64)
    if array.dtype.kind == "O":
        return np.array([_check_symbol(v, f"symbols[{i}]") for i, v in enumerate(flat)], dtype=np.int64)
    if array.dtype.kind == "f":
        whole = np.isfinite(flat) & (flat == np.floor(flat))
        if not whole.all():
            position = int(np.argmin(whole))
            raise ValueError(f"symbols must be integers; symbols[{position}] is {flat[position].item()!r}")
        raise ValueError(f"symbols must be integers, got a {array.dtype} array (symbols[0] is "
                         f"{flat[0].item()!r}); convert whole numbers with .astype(np.int64)")
    raise ValueError(f"symbols must be integers, got a {array.dtype} array (symbols[0] is "
                     f"{flat[0].item()!r}); give an integer numpy array such as np.array([0, 3, 1])")


def _check_count(count, symbol):
    if isinstance(count, (bool, np.bool_)) or not isinstance(count, (numbers.Real, np.number)) \
            or not math.isfinite(count) or count < 0:
        raise ValueError(f"the count of symbol {symbol} is {count!r}; counts must be numbers >= 0 "
                         f"(how often the symbol occurs)")
    return count.item() if isinstance(count, np.generic) else count


def _counts(counts, symbols) -> dict:
    """{symbol: count} from exactly one of ``counts`` (dict or sequence) and ``symbols``."""
    if (counts is None) == (symbols is None):
        raise ValueError("give exactly one of counts= (a dict {symbol: count}, or a sequence whose "
                         "i-th entry counts symbol i) or symbols= (an array of integer symbols)")
    if symbols is not None:
        return symbol_counts(symbols)
    if isinstance(counts, Mapping):
        items = [(_check_symbol(s, f"the symbol {s!r}"), c) for s, c in counts.items()]
    else:
        values = counts.tolist() if isinstance(counts, np.ndarray) else list(counts)
        if np.ndim(counts) != 1:
            raise ValueError(f"counts must be a dict {{symbol: count}} or a 1-D sequence of counts "
                             f"(entry i counts symbol i), got shape {np.shape(counts)}")
        items = list(enumerate(values))
    return {s: _check_count(c, s) for s, c in sorted(items)}


def _check_max_length(max_length, n_symbols):
    if isinstance(max_length, bool) or not isinstance(max_length, (numbers.Integral, np.integer)) \
            or not 1 <= max_length <= MAX_CODE_LENGTH:
        raise ValueError(f"max_length must be a whole number from 1 to {MAX_CODE_LENGTH} (the "
                         f"decoder's table has 2**max_length entries), got {max_length!r}")
    needed = max(1, math.ceil(math.log2(max(n_symbols, 1))))
    if needed > max_length:
        raise ValueError(f"max_length={max_length} is too short for {n_symbols} symbols: a prefix "
                         f"code with {n_symbols} words needs code words of up to {needed} bits")
    return int(max_length)


def _as_bytes(data, name) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1:
        return data.tobytes()
    raise TypeError(f"{name} must be bytes or a 1-D uint8 array, got {type(data).__name__}")


def _check_whole(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- the code

@dataclass(frozen=True, eq=False)
class HuffmanCode:
    """A canonical prefix code: each symbol's code length, and the code words they imply.

    Build one with :func:`build_code` (from counts) or :func:`canonical_code` (from lengths).
    Code words are dealt in canonical order, by (length, symbol): the first gets all zeros,
    each next one is the previous plus one, shifted left when the length grows.

    Attributes
    ----------
    symbols : ndarray of int64, shape (n,)
        The symbols, ascending.
    lengths : ndarray of uint8, shape (n,)
        Code length of each symbol, in bits (1 to :data:`MAX_CODE_LENGTH`).
    codewords : ndarray of uint32, shape (n,)
        Each symbol's code word as a ``lengths``-bit number (``0b110`` for ``"110"``).
    """

    symbols: np.ndarray
    lengths: np.ndarray
    codewords: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        symbols = np.array(self.symbols, dtype=np.int64).ravel()
        lengths = np.array(self.lengths, dtype=np.int64).ravel()
        if symbols.shape != lengths.shape:
            raise ValueError(f"symbols and lengths must have one entry each per symbol, got "
                             f"{symbols.size} symbols and {lengths.size} lengths")
        if not (symbols[1:] > symbols[:-1]).all():
            raise ValueError("symbols must be distinct and in ascending order")
        bad = (lengths < 1) | (lengths > MAX_CODE_LENGTH)
        if bad.any():
            at = int(np.argmax(bad))
            raise ValueError(f"symbol {symbols[at]} has code length {lengths[at]}; lengths must "
                             f"be from 1 to {MAX_CODE_LENGTH} bits")
        kraft = int(np.sum(1 << (MAX_CODE_LENGTH - lengths)))
        if kraft > 1 << MAX_CODE_LENGTH:
            raise ValueError(f"no prefix code has these lengths: their Kraft sum, sum of "
                             f"2**-length, is {kraft / 2 ** MAX_CODE_LENGTH:g} > 1 (too many "
                             f"short code words)")
        # Canonical order (length, symbol); a left-aligned code word is the running total of
        # 2**(max_length - length) over the words before it.
        order = np.lexsort((symbols, lengths))
        top = int(lengths.max()) if lengths.size else 0
        spans = 1 << (top - lengths[order])
        left_aligned = np.cumsum(spans) - spans
        codewords = np.empty(symbols.size, dtype=np.uint32)
        codewords[order] = left_aligned >> (top - lengths[order])
        for name, value in (("symbols", symbols), ("lengths", lengths.astype(np.uint8)),
                            ("codewords", codewords)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def max_length(self) -> int:
        """The longest code word, in bits (0 for a code with no symbols)."""
        return int(self.lengths.max()) if self.lengths.size else 0

    def __len__(self) -> int:
        return int(self.symbols.size)

    def __eq__(self, other):
        if not isinstance(other, HuffmanCode):
            return NotImplemented
        return np.array_equal(self.symbols, other.symbols) and np.array_equal(self.lengths, other.lengths)

    __hash__ = None

    def as_dict(self) -> dict:
        """``{symbol: code word}`` with code words as bit strings, e.g. ``{0: '0', 1: '10'}``."""
        return {int(s): format(int(w), f"0{int(n)}b")
                for s, n, w in zip(self.symbols, self.lengths, self.codewords)}

    def __repr__(self):
        if len(self) <= 8:
            return f"HuffmanCode({self.as_dict()})"
        return (f"HuffmanCode({len(self)} symbols from {self.symbols[0]} to {self.symbols[-1]}, "
                f"lengths {self.lengths.min()} to {self.max_length} bits)")


def symbol_counts(symbols) -> dict:
    """How often each distinct symbol occurs: ``{symbol: count}``, symbols ascending.

    Parameters
    ----------
    symbols : array_like of int, any shape
    """
    values, counts = np.unique(_symbol_array(symbols), return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def _merges(counts: dict) -> list:
    """Huffman's merges as a list of nodes: leaves first, then one node per merge, root last."""
    nodes = []
    heap = []
    for symbol, weight in counts.items():
        if weight > 0:
            heap.append((weight, 0, -symbol, len(nodes)))
            nodes.append({"id": len(nodes), "weight": weight, "symbol": symbol, "children": (),
                          "parent": None, "bit": None, "step": None})
    heapq.heapify(heap)

    def join(children, weight, step):
        node = {"id": len(nodes), "weight": weight, "symbol": None, "children": tuple(children),
                "parent": None, "bit": None, "step": step}
        for bit, child in enumerate(children):
            nodes[child]["parent"], nodes[child]["bit"] = node["id"], bit
        nodes.append(node)
        return node["id"]

    if len(heap) == 1:  # one symbol still needs one bit per occurrence
        join([0], nodes[0]["weight"], None)
    step = 0
    while len(heap) > 1:
        weight_0, _, _, first = heapq.heappop(heap)
        weight_1, _, _, second = heapq.heappop(heap)
        step += 1
        merged = join([first, second], weight_0 + weight_1, step)
        heapq.heappush(heap, (weight_0 + weight_1, 1, step, merged))
    for node in reversed(nodes):  # parents come after their children
        parent = nodes[node["parent"]] if node["parent"] is not None else None
        node["depth"] = 0 if parent is None else parent["depth"] + 1
        node["path"] = "" if parent is None else parent["path"] + str(node["bit"])
    return nodes


def _limit(lengths: dict, counts: dict, max_length: int) -> dict:
    """Shorten codes longer than ``max_length`` (JPEG, ITU T.81 Annex K.3); Kraft sum stays 1."""
    per_length = [0] * (max(lengths.values()) + 1)
    for length in lengths.values():
        per_length[length] += 1
    i = len(per_length) - 1
    while i > max_length:
        if per_length[i] == 0:
            i -= 1
            continue
        j = i - 2  # the nearest shorter leaf becomes a node with two leaves under it
        while per_length[j] == 0:
            j -= 1
        per_length[i] -= 2
        per_length[i - 1] += 1
        per_length[j + 1] += 2
        per_length[j] -= 1
    most_frequent_first = iter(sorted(lengths, key=lambda s: (-counts[s], s)))
    limited = {next(most_frequent_first): length
               for length in range(1, max_length + 1) for _ in range(per_length[length])}
    return dict(sorted(limited.items()))


def code_lengths(counts=None, *, symbols=None, max_length: int = MAX_CODE_LENGTH) -> dict:
    """Huffman code length of each symbol, in bits: ``{symbol: length}``.

    Huffman's algorithm merges the two lightest subtrees until one tree is left; a symbol's
    code length is its depth. Ties are broken so that the result is reproducible: among equal
    weights a leaf is taken before a merged subtree (which keeps the tree shallow), leaves are
    taken largest symbol first (so among equal counts a smaller symbol gets a shorter or equal
    code) and subtrees oldest first. Symbols with count 0 get no code. One symbol gets 1 bit.

    If a code would be longer than ``max_length``, the lengths are adjusted as in JPEG
    (ITU T.81, Annex K.3): close to optimal, not always optimal.

    Parameters
    ----------
    counts : dict {int: number} or sequence of numbers, optional
        How often each symbol occurs; a sequence counts symbols 0, 1, 2, ...
    symbols : array_like of int, optional
        The data itself, instead of ``counts``.
    max_length : int
        Longest code word allowed, 1 to :data:`MAX_CODE_LENGTH`.

    Returns
    -------
    dict of int -> int
        Symbols ascending.
    """
    counts = _counts(counts, symbols)
    nodes = _merges(counts)
    lengths = {n["symbol"]: n["depth"] for n in nodes if n["symbol"] is not None}
    max_length = _check_max_length(max_length, len(lengths))
    if lengths and max(lengths.values()) > max_length:
        return _limit(lengths, counts, max_length)
    return dict(sorted(lengths.items()))


def canonical_code(lengths) -> HuffmanCode:
    """The canonical code with the given code lengths (no counts needed: the lengths say it all).

    Parameters
    ----------
    lengths : dict {int: int} or sequence of int
        Code length in bits of each symbol; a sequence gives symbols 0, 1, 2, ... and a length
        of 0 means the symbol is absent. The lengths must satisfy Kraft's inequality,
        ``sum 2**-length <= 1``.

    Returns
    -------
    HuffmanCode
    """
    if isinstance(lengths, Mapping):
        items = [(_check_symbol(s, f"the symbol {s!r}"), n) for s, n in lengths.items()]
    else:
        items = list(enumerate(lengths.ravel().tolist() if isinstance(lengths, np.ndarray)
                               else list(lengths)))
    for symbol, length in items:
        if isinstance(length, bool) or not isinstance(length, (numbers.Integral, np.integer)) \
                or not 0 <= length <= MAX_CODE_LENGTH:
            raise ValueError(f"symbol {symbol} has code length {length!r}; lengths must be whole "
                             f"numbers from 1 to {MAX_CODE_LENGTH} bits (0: symbol absent)")
    items = sorted((s, int(n)) for s, n in items if n > 0)
    return HuffmanCode(np.array([s for s, _ in items], dtype=np.int64),
                       np.array([n for _, n in items], dtype=np.int64))


def build_code(counts=None, *, symbols=None, max_length: int = MAX_CODE_LENGTH) -> HuffmanCode:
    """The canonical Huffman code for some counts (or data): :func:`code_lengths` then :func:`canonical_code`.

    Parameters
    ----------
    counts : dict {int: number} or sequence of numbers, optional
        How often each symbol occurs; a sequence counts symbols 0, 1, 2, ...
    symbols : array_like of int, optional
        The data itself, instead of ``counts``.
    max_length : int
        Longest code word allowed, 1 to :data:`MAX_CODE_LENGTH`.

    Returns
    -------
    HuffmanCode
        Empty if nothing was counted.

    Examples
    --------
    Symbols 0..3 seen 5, 2, 1 and 1 times:

    >>> build_code([5, 2, 1, 1]).as_dict()
    {0: '0', 1: '10', 2: '110', 3: '111'}
    """
    return canonical_code(code_lengths(counts, symbols=symbols, max_length=max_length))


def tree(counts=None, *, symbols=None) -> list:
    """Huffman's tree for some counts, as data for a figure (nodes, weights, 0/1 edges).

    Each merge takes the two lightest nodes (ties as in :func:`code_lengths`); the edge to
    the first one taken (the lighter) is labelled 0, the other 1. A leaf's depth is its code
    length (when no code is longer than :data:`MAX_CODE_LENGTH`), but its path is not always
    its canonical code word: the canonical code keeps the lengths and re-deals the words in
    order, at the same cost. With one symbol the root has a single child, on edge 0.

    Parameters
    ----------
    counts : dict {int: number} or sequence of numbers, optional
    symbols : array_like of int, optional
        The data itself, instead of ``counts``.

    Returns
    -------
    list of dict
        One dict per node, leaves first (ascending symbol), then merged nodes in the order they
        were made; the root is last. Keys: ``id`` (position in the list), ``weight`` (total
        count below), ``symbol`` (``None`` for a merged node), ``children`` (ids: the 0 child,
        then the 1 child), ``parent`` (id, ``None`` for the root), ``bit`` (label of the edge
        from the parent), ``depth``, ``path`` (bits from the root, e.g. ``"010"``) and ``step``
        (1 for the first merge, ``None`` for leaves).
    """
    return _merges(_counts(counts, symbols))


# --------------------------------------------------------------------------- yardsticks

def entropy(counts=None, *, symbols=None) -> float:
    """Shannon entropy ``H = -sum p log2 p`` in bits per symbol, with ``p`` = count / total.

    No code with one word per symbol averages fewer bits; Huffman's averages less than H + 1.

    Parameters
    ----------
    counts : dict {int: number} or sequence of numbers, optional
    symbols : array_like of int, optional
        The data itself, instead of ``counts``.

    Returns
    -------
    float
        Bits per symbol; 0.0 for one symbol or none.
    """
    weights = np.array([c for c in _counts(counts, symbols).values() if c > 0], dtype=np.float64)
    if weights.size == 0:
        return 0.0
    p = weights / weights.sum()
    return float(max(0.0, -np.sum(p * np.log2(p))))


def average_length(code: HuffmanCode, counts=None, *, symbols=None) -> float:
    """Average code length in bits per symbol, ``sum p * length``, of ``code`` on some counts.

    Parameters
    ----------
    code : HuffmanCode
    counts : dict {int: number} or sequence of numbers, optional
    symbols : array_like of int, optional
        The data itself, instead of ``counts``.

    Returns
    -------
    float
        Bits per symbol; 0.0 if nothing was counted.
    """
    counts = {s: c for s, c in _counts(counts, symbols).items() if c > 0}
    if not counts:
        return 0.0
    index = _positions(np.array(list(counts), dtype=np.int64), code)
    weights = np.array(list(counts.values()), dtype=np.float64)
    return float(np.sum(weights * code.lengths[index]) / weights.sum())


# --------------------------------------------------------------------------- bits

def _positions(values, code) -> np.ndarray:
    """Index of each value in ``code.symbols``, or a ValueError naming the first one missing."""
    index = np.searchsorted(code.symbols, values)
    found = code.symbols[np.minimum(index, max(len(code) - 1, 0))] == values if len(code) \
        else np.zeros(values.size, dtype=bool)
    if not found.all():
        at = int(np.argmin(found))
        known = code.symbols.tolist()
        known = known if len(known) <= 10 else known[:10] + ["..."]
        raise ValueError(f"symbol {values[at]} (at position {at}) is not in the code, whose "
                         f"symbols are {known}; build the code from data that includes it")
    return index


_ENCODE_CHUNK = 1 << 16  # symbols expanded to bits at a time (bounds the memory used)


def encode(symbols, code: HuffmanCode):
    """Replace each symbol by its code word and pack the bits, most significant bit first.

    Vectorised: every symbol's code word is left-aligned in ``max_length`` bits, the bits past
    its length are dropped, and :func:`numpy.packbits` packs the rest. The last byte is padded
    with 0 bits.

    Parameters
    ----------
    symbols : array_like of int, any shape
        Read in C order (``ravel``).
    code : HuffmanCode
        Must have a code word for every symbol.

    Returns
    -------
    packed : bytes
        ``ceil(n_bits / 8)`` bytes.
    n_bits : int
        Bits used, without the padding.
    """
    values = _symbol_array(symbols)
    if values.size == 0:
        return b"", 0
    index = _positions(values, code)
    top = code.max_length
    shifts = np.arange(top - 1, -1, -1, dtype=np.uint32)
    columns = np.arange(top)
    pieces = []
    for start in range(0, values.size, _ENCODE_CHUNK):
        chunk = index[start:start + _ENCODE_CHUNK]
        lengths = code.lengths[chunk].astype(np.uint32)
        left_aligned = code.codewords[chunk] << (top - lengths)
        bits = ((left_aligned[:, None] >> shifts) & 1).astype(np.uint8)
        pieces.append(bits[columns < lengths[:, None]])
    stream = np.concatenate(pieces)
    return np.packbits(stream).tobytes(), int(stream.size)


def _decode_table(code) -> list:
    """Entry for every ``max_length``-bit window: ``index << 5 | length`` of the code word it
    starts with, 0 where no code word matches (only in an incomplete code). Canonical code
    words fill the windows in order, so the table is each word's entry repeated."""
    top = code.max_length
    order = np.lexsort((code.symbols, code.lengths))
    lengths = code.lengths[order].astype(np.int64)
    table = np.zeros(1 << top, dtype=np.int64)
    entries = np.repeat((order << 5) | lengths, 1 << (top - lengths))
    table[:entries.size] = entries
    return table.tolist()


def decode(packed, code: HuffmanCode, n_symbols=None, *, n_bits=None) -> np.ndarray:
    """Read symbols back from a bit stream made by :func:`encode`.

    Table-driven: the next ``code.max_length`` bits index a table that gives the symbol and
    its length at once, so each symbol costs the same few operations whatever its length.
    The stream is checked as it is read: running out of bits, a bit pattern that is no code
    word (possible when the code is incomplete), bytes left over, or padding bits that are
    not 0 raise ValueError; nothing is read past the end.

    Parameters
    ----------
    packed : bytes or ndarray of uint8
    code : HuffmanCode
        The code the stream was encoded with.
    n_symbols : int, optional
        How many symbols to read.
    n_bits : int, optional
        How many bits the stream holds (``encode``'s second result). Give ``n_symbols``,
        ``n_bits`` or both (then they must agree). ``n_bits`` catches more mistakes: with
        ``n_symbols`` alone, a too-large count can go unnoticed when the last byte's 0 padding
        bits spell code words (``"0"`` is one in many codes).

    Returns
    -------
    ndarray of int64, shape (n_symbols,)
    """
    data = _as_bytes(packed, "packed")
    if n_symbols is None and n_bits is None:
        raise ValueError("give n_symbols= (how many symbols to read) or n_bits= (encode's second "
                         "result): the padding bits of the last byte could read as symbols")
    n_symbols = None if n_symbols is None else _check_whole(n_symbols, "n_symbols")
    limit = 8 * len(data)
    if n_bits is not None:
        n_bits = _check_whole(n_bits, "n_bits")
        if n_bits > limit:
            raise ValueError(f"the stream is truncated: n_bits={n_bits} needs {-(-n_bits // 8)} "
                             f"bytes, got {len(data)}")
        limit = n_bits
    if not len(code):
        if n_symbols or limit:
            raise ValueError("the code has no symbols, so it cannot decode any; use the code the "
                             "stream was encoded with")
        return np.zeros(0, dtype=np.int64)
    if n_symbols is not None and n_symbols * int(code.lengths.min()) > limit:
        raise ValueError(f"the stream is too short for {n_symbols} symbols: {limit} bits hold at "
                         f"most {limit // int(code.lengths.min())} symbols of this code")
    top = code.max_length
    table = _decode_table(code)
    padded = np.frombuffer(data + b"\0\0\0", dtype=np.uint8).astype(np.int64)
    windows = ((padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:]).tolist()  # 24 bits per byte
    shift, mask = 24 - top, (1 << top) - 1
    found = []
    position = 0
    while (position < limit) if n_symbols is None else (len(found) < n_symbols):
        if position >= limit:
            raise ValueError(f"the stream is truncated: it ends after {len(found)} of {n_symbols} "
                             f"symbols ({limit} bits)")
        entry = table[(windows[position >> 3] >> (shift - (position & 7))) & mask]
        length = entry & 31
        if length == 0:
            raise ValueError(f"the bits at position {position} match no code word: the stream is "
                             f"corrupted, or was encoded with another code")
        if position + length > limit:
            raise ValueError(f"the stream is truncated: the code word at bit {position} runs past "
                             f"the end ({limit} bits), after {len(found)} symbols")
        found.append(entry >> 5)
        position += length
    if n_bits is not None and position != n_bits:
        raise ValueError(f"{n_symbols} symbols end at bit {position}, not at n_bits={n_bits}: "
                         f"wrong n_symbols or n_bits")
    used = -(-position // 8)
    if len(data) > used:
        raise ValueError(f"{len(data) - used} bytes are left over after {len(found)} symbols "
                         f"({position} bits): wrong n_symbols, or the wrong code")
    if position % 8 and data[-1] & (0xFF >> (position % 8)):
        raise ValueError(f"the padding bits after bit {position} are not 0: the stream is "
                         f"corrupted, or n_symbols is wrong")
    return code.symbols[np.array(found, dtype=np.int64)]


# --------------------------------------------------------------------------- bytes

def _varint(value: int) -> bytes:
    """LEB128: 7 bits per byte, low bits first, the top bit set on every byte but the last."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, position: int, what: str):
    start, value, shift = position, 0, 0
    while True:
        if position >= len(data):
            raise ValueError(f"the data ends inside {what} (byte {start}): it is truncated")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise ValueError(f"{what} at byte {start} runs over 10 bytes: not written by TinyLab")
    if byte == 0 and position - start > 1:
        raise ValueError(f"{what} at byte {start} has a needless trailing 0 byte: not written by "
                         f"TinyLab")
    return value, position


def _zigzag(symbol: int) -> int:  # 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
    return 2 * symbol if symbol >= 0 else -2 * symbol - 1


def _unzigzag(value: int) -> int:
    return value >> 1 if value % 2 == 0 else -((value + 1) >> 1)


def serialize_code(code: HuffmanCode) -> bytes:
    """The code table a decoder needs, in as few bytes as a canonical code allows.

    As in a JPEG Huffman table, the table holds the number of code words of each length and
    the symbols in canonical order, never the code words themselves. Every number is a LEB128
    varint (7 bits per byte), symbols zigzag-mapped (0, -1, 1, -2 -> 0, 1, 2, 3):

    - the longest code length ``L`` (0 for an empty code);
    - ``L`` counts: how many code words have 1 bit, 2 bits, ..., ``L`` bits;
    - the symbols ordered by (length, symbol).

    Parameters
    ----------
    code : HuffmanCode

    Returns
    -------
    bytes
        ``table_bytes(code)`` bytes; symbols between -64 and 63 take one byte each.
    """
    per_length = np.bincount(code.lengths, minlength=code.max_length + 1)[1:]
    order = np.lexsort((code.symbols, code.lengths))
    return b"".join([_varint(code.max_length), *map(_varint, per_length.tolist()),
                     *(_varint(_zigzag(s)) for s in code.symbols[order].tolist())])


def _read_code(data: bytes, position: int):
    top, position = _read_varint(data, position, "the longest code length")
    if top > MAX_CODE_LENGTH:
        raise ValueError(f"the table's longest code length is {top}, above {MAX_CODE_LENGTH}: "
                         f"garbage, or not a table written by serialize_code")
    per_length, kraft = [], 0
    for length in range(1, top + 1):
        count, position = _read_varint(data, position, f"the count of {length}-bit code words")
        per_length.append(count)
        kraft += count << (top - length)
        if kraft > 1 << top:
            raise ValueError("the table's counts of code words per length break Kraft's "
                             "inequality (too many short words): garbage or corrupted table")
    if top and per_length[-1] == 0:
        raise ValueError(f"the table says the longest code has {top} bits but has no {top}-bit "
                         f"code word: garbage or corrupted table")
    symbols, lengths = [], []
    for length, count in enumerate(per_length, start=1):
        previous = None
        for _ in range(count):
            value, position = _read_varint(data, position, "a symbol")
            symbol = _unzigzag(value)
            if not _INT64.min <= symbol <= _INT64.max:
                raise ValueError(f"the table holds symbol {symbol}, outside int64: garbage")
            if previous is not None and symbol <= previous:
                raise ValueError(f"the table's {length}-bit symbols are not ascending ({previous}, "
                                 f"then {symbol}): garbage or corrupted table")
            previous = symbol
            symbols.append(symbol)
            lengths.append(length)
    if len(set(symbols)) != len(symbols):
        raise ValueError("the table lists a symbol twice: garbage or corrupted table")
    order = np.argsort(np.array(symbols, dtype=np.int64), kind="stable")
    code = HuffmanCode(np.array(symbols, dtype=np.int64)[order], np.array(lengths, dtype=np.int64)[order])
    return code, position


def deserialize_code(data) -> HuffmanCode:
    """The code stored by :func:`serialize_code`; ValueError if ``data`` is not such a table.

    Parameters
    ----------
    data : bytes or ndarray of uint8
    """
    data = _as_bytes(data, "data")
    code, position = _read_code(data, 0)
    if position != len(data):
        raise ValueError(f"{len(data) - position} bytes follow the code table ({position} bytes): "
                         f"garbage, or not a table written by serialize_code")
    return code


def table_bytes(code: HuffmanCode) -> int:
    """Bytes of the stored code table (:func:`serialize_code`); times 8 for bits."""
    return len(serialize_code(code))


def compress(symbols, code: HuffmanCode | None = None) -> bytes:
    """Everything a decoder needs in one byte string: table, stream length, bits.

    Parameters
    ----------
    symbols : array_like of int, any shape
        Read in C order; the shape is not stored.
    code : HuffmanCode, optional
        Default: :func:`build_code` on ``symbols``.

    Returns
    -------
    bytes
        :func:`serialize_code`, then ``n_bits`` as a varint (the exact end of the stream,
        see :func:`decode`), then :func:`encode`'s bytes. :func:`decompress` reads it back.
    """
    values = _symbol_array(symbols)
    code = build_code(symbols=values) if code is None else code
    packed, n_bits = encode(values, code)
    return serialize_code(code) + _varint(n_bits) + packed


def decompress(data) -> np.ndarray:
    """The symbols stored by :func:`compress`, as a flat int64 array.

    Parameters
    ----------
    data : bytes or ndarray of uint8
    """
    data = _as_bytes(data, "data")
    code, position = _read_code(data, 0)
    n_bits, position = _read_varint(data, position, "the stream length")
    return decode(data[position:], code, n_bits=n_bits)


def storage(symbols, code: HuffmanCode | None = None) -> dict:
    """Bits per symbol against the entropy, and the bytes of :func:`compress`, part by part.

    The bytes of lesson 07's self-contained byte string (a varint code table, the stream's
    length, the bits), for one stream. The board stores its Huffman-coded weights otherwise
    (gap and weight code words interleaved in one stream, the tables as plain bytes:
    :mod:`tinylab.engine.formats.huffman`); their bytes are
    :func:`tinylab.engine.model_storage`'s, which :mod:`tinylab.pipeline` reports.

    Parameters
    ----------
    symbols : array_like of int, any shape
    code : HuffmanCode, optional
        Default: :func:`build_code` on ``symbols``.

    Returns
    -------
    dict
        ``symbols`` (how many), ``distinct``, ``entropy_bits_per_symbol``,
        ``bits_per_symbol`` (the code's average length on these symbols), ``payload_bits``,
        ``payload_bytes``, ``table_bytes``, ``n_bits_bytes`` (the stream length's varint) and
        ``total_bytes`` (their sum: ``len(compress(symbols, code))``).
    """
    values = _symbol_array(symbols)
    code = build_code(symbols=values) if code is None else code
    packed, n_bits = encode(values, code)
    counts = symbol_counts(values)
    row = {"symbols": int(values.size), "distinct": len(counts),
           "entropy_bits_per_symbol": entropy(counts),
           "bits_per_symbol": n_bits / values.size if values.size else 0.0,
           "payload_bits": n_bits, "payload_bytes": len(packed), "table_bytes": table_bytes(code),
           "n_bits_bytes": len(_varint(n_bits))}
    row["total_bytes"] = row["payload_bytes"] + row["table_bytes"] + row["n_bits_bytes"]
    return row
