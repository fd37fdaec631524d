"""Huffman coding: a 4-symbol code by hand, round trips, entropy bounds, tables, broken streams."""

import math

import numpy as np
import pytest

from tinylab import huffman, prune

# The lesson's example: symbols 0..3 seen 5, 2, 1, 1 times. Huffman merges the two 1s (-> 2),
# then symbol 1 with that subtree (-> 4), then 4 with symbol 0 (-> 9): depths 1, 2, 3, 3.
# Canonical words, counting up in (length, symbol) order: 0, 10, 110, 111.
COUNTS = [5, 2, 1, 1]
WORDS = {0: "0", 1: "10", 2: "110", 3: "111"}


@pytest.fixture
def golden():
    return huffman.build_code(COUNTS)


def reference_bits(values, code):
    """The stream spelled out as a string of '0'/'1', straight from the code table."""
    words = code.as_dict()
    return "".join(words[int(v)] for v in np.ravel(values))


def bits_to_bytes(bits):
    n_bytes = -(-len(bits) // 8)
    return int(bits.ljust(8 * n_bytes, "0") or "0", 2).to_bytes(n_bytes, "big")


def kraft(code):
    return sum(2.0 ** -int(n) for n in code.lengths)


# --------------------------------------------------------------------------- the code by hand

def test_golden_four_symbol_code(golden):
    assert huffman.code_lengths(COUNTS) == {0: 1, 1: 2, 2: 3, 3: 3}
    assert golden.as_dict() == WORDS
    assert golden.symbols.tolist() == [0, 1, 2, 3]
    assert golden.lengths.tolist() == [1, 2, 3, 3]
    assert golden.codewords.tolist() == [0b0, 0b10, 0b110, 0b111]
    assert golden.max_length == 3 and len(golden) == 4
    # the same counts as a dict, or the data itself, give the same code
    assert huffman.build_code({0: 5, 1: 2, 2: 1, 3: 1}) == golden
    data = np.array([0, 1, 0, 2, 0, 1, 3, 0, 0])
    assert huffman.symbol_counts(data) == {0: 5, 1: 2, 2: 1, 3: 1}
    assert huffman.build_code(symbols=data) == golden


def test_golden_encoding(golden):
    # 0 | 10 | 110 | 111 | 0 -> 01011011 10(000000): 0x5B 0x80, 10 bits
    packed, n_bits = huffman.encode([0, 1, 2, 3, 0], golden)
    assert (packed, n_bits) == (bytes([0x5B, 0x80]), 10)
    np.testing.assert_array_equal(huffman.decode(packed, golden, 5), [0, 1, 2, 3, 0])
    np.testing.assert_array_equal(huffman.decode(packed, golden, n_bits=10), [0, 1, 2, 3, 0])


def test_golden_averages_and_entropy(golden):
    # (5*1 + 2*2 + 1*3 + 1*3) / 9 = 15/9 bits per symbol
    assert huffman.average_length(golden, COUNTS) == pytest.approx(15 / 9)
    h = (5 / 9) * math.log2(9 / 5) + (2 / 9) * math.log2(9 / 2) + 2 * (1 / 9) * math.log2(9)
    assert huffman.entropy(COUNTS) == pytest.approx(h)
    # dyadic probabilities 1/2, 1/4, 1/4: the code meets the entropy, 1.5 bits
    assert huffman.entropy([2, 1, 1]) == pytest.approx(1.5)
    assert huffman.entropy(symbols=[0, 0, 1, 2]) == pytest.approx(1.5)
    assert huffman.average_length(huffman.build_code([2, 1, 1]), [2, 1, 1]) == pytest.approx(1.5)
    assert huffman.entropy([1, 1, 1, 1]) == pytest.approx(2.0)
    assert huffman.entropy({7: 4}) == 0.0
    assert huffman.entropy([]) == 0.0


def test_golden_tree():
    nodes = huffman.tree(COUNTS)
    leaves = {n["symbol"]: n for n in nodes if n["symbol"] is not None}
    root = nodes[-1]
    assert root["weight"] == 9 and root["parent"] is None and root["depth"] == 0
    # edge 0 goes to the lighter node of each merge; the two 1s tie and symbol 3 is taken first
    assert {s: n["path"] for s, n in leaves.items()} == {0: "1", 1: "00", 2: "011", 3: "010"}
    assert [n["weight"] for n in nodes if n["symbol"] is None] == [2, 4, 9]
    assert [n["step"] for n in nodes if n["symbol"] is None] == [1, 2, 3]
    # depths are the code lengths; children's weights add up; ids are list positions
    assert {s: n["depth"] for s, n in leaves.items()} == huffman.code_lengths(COUNTS)
    for node in nodes:
        assert nodes[node["id"]] is node
        if node["children"]:
            assert sum(nodes[c]["weight"] for c in node["children"]) == node["weight"]
            assert [nodes[c]["bit"] for c in node["children"]] == [0, 1]
    assert huffman.tree([]) == []


def test_tie_breaking_is_documented():
    # equal counts: a leaf goes before a subtree of the same weight, which keeps all at 2 bits
    # (taking the subtree first would give 1, 2, 3, 3 bits at the same total cost)
    assert huffman.code_lengths([1, 1, 2, 2]) == {0: 2, 1: 2, 2: 2, 3: 2}
    # among equal counts, larger symbols are merged first, so the smallest gets the short word
    assert huffman.build_code({9: 1, 3: 1, 5: 1}).as_dict() == {3: "0", 5: "10", 9: "11"}
    assert huffman.build_code([1, 1, 1, 1]).as_dict() == {0: "00", 1: "01", 2: "10", 3: "11"}


def test_equal_counts_never_give_a_smaller_symbol_a_longer_code():
    rng = np.random.default_rng(3)
    for _ in range(300):
        counts = rng.integers(1, 5, size=rng.integers(2, 12)).tolist()  # many ties
        lengths = huffman.code_lengths(counts)
        for a in range(len(counts)):
            for b in range(a + 1, len(counts)):
                if counts[a] == counts[b]:
                    assert lengths[a] <= lengths[b], (counts, lengths)
                if counts[a] > counts[b]:
                    assert lengths[a] <= lengths[b], (counts, lengths)


def test_build_code_is_deterministic():
    rng = np.random.default_rng(5)
    counts = {int(s): int(c) for s, c in zip(rng.permutation(40) - 20, rng.integers(0, 6, 40))}
    reversed_counts = dict(reversed(list(counts.items())))
    assert huffman.build_code(counts) == huffman.build_code(reversed_counts)
    assert huffman.serialize_code(huffman.build_code(counts)) == \
        huffman.serialize_code(huffman.build_code(reversed_counts))


# --------------------------------------------------------------------------- canonical codes

def test_canonical_code_from_lengths_only(golden):
    assert huffman.canonical_code({0: 1, 1: 2, 2: 3, 3: 3}) == golden
    assert huffman.canonical_code([1, 2, 3, 3]).as_dict() == WORDS
    # a length of 0 in a sequence means "absent"; dict order does not matter
    assert huffman.canonical_code([0, 2, 2, 0, 1]).as_dict() == {4: "0", 1: "10", 2: "11"}
    assert huffman.canonical_code({2: 2, 4: 1, 1: 2}).as_dict() == {4: "0", 1: "10", 2: "11"}


@pytest.mark.parametrize("seed", range(5))
def test_canonical_property_on_random_codes(seed):
    rng = np.random.default_rng(seed)
    counts = {int(s): int(c) for s, c in
              zip(rng.choice(1000, 60, replace=False) - 500, rng.geometric(0.1, 60))}
    code = huffman.build_code(counts)
    rebuilt = huffman.canonical_code(dict(zip(code.symbols.tolist(), code.lengths.tolist())))
    np.testing.assert_array_equal(rebuilt.codewords, code.codewords)
    words = code.as_dict()
    assert kraft(code) == pytest.approx(1.0)  # a Huffman code wastes no bit pattern
    # canonical: in (length, symbol) order the first word is all zeros, each next is +1 (shifted)
    order = sorted(words, key=lambda s: (len(words[s]), s))
    assert set(words[order[0]]) == {"0"}
    for previous, current in zip(order, order[1:]):
        grown = len(words[current]) - len(words[previous])
        assert int(words[current], 2) == (int(words[previous], 2) + 1) << grown
    # prefix-free
    for a in words.values():
        for b in words.values():
            assert a == b or not b.startswith(a)


def test_lengths_no_prefix_code_can_have_are_refused():
    with pytest.raises(ValueError, match="Kraft sum"):
        huffman.canonical_code({0: 1, 1: 1, 2: 1})
    with pytest.raises(ValueError, match="symbol 3 has code length 17"):
        huffman.canonical_code({0: 1, 3: 17})
    with pytest.raises(ValueError, match="symbol 1 has code length 2.0"):
        huffman.canonical_code([1, 2.0])


def test_length_limit_by_hand():
    # counts 1, 1, 2, 4, 8: Huffman gives 4, 4, 3, 2, 1 bits (avg 30/16)
    assert huffman.code_lengths([1, 1, 2, 4, 8]) == {0: 4, 1: 4, 2: 3, 3: 2, 4: 1}
    # at most 3 bits (JPEG Annex K.3): two 4-bit words move up, the 2-bit leaf moves down:
    # 1, 3, 3, 3, 3 bits, still Kraft sum 1/2 + 4/8 = 1, avg (8 + 8*3) / 16 = 2
    limited = huffman.code_lengths([1, 1, 2, 4, 8], max_length=3)
    assert limited == {0: 3, 1: 3, 2: 3, 3: 3, 4: 1}
    code = huffman.build_code([1, 1, 2, 4, 8], max_length=3)
    assert huffman.average_length(code, [1, 1, 2, 4, 8]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="max_length=2 is too short for 5 symbols"):
        huffman.build_code([1, 1, 2, 4, 8], max_length=2)
    with pytest.raises(ValueError, match="max_length must be a whole number from 1 to 16"):
        huffman.build_code([1, 1], max_length=17)


def test_long_codes_are_limited_to_16_bits():
    fibonacci = [1, 1]
    while len(fibonacci) < 30:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    # unlimited, Fibonacci counts make a 29-deep tree
    assert max(n["depth"] for n in huffman.tree(fibonacci)) == 29
    code = huffman.build_code(fibonacci)
    assert code.max_length == huffman.MAX_CODE_LENGTH
    assert kraft(code) == pytest.approx(1.0)
    # limiting costs a little, never less than the optimal (unlimited) Huffman average
    optimal = sum(c * n["depth"] for c, n in zip(fibonacci, huffman.tree(fibonacci))) / sum(fibonacci)
    assert huffman.average_length(code, fibonacci) >= optimal
    assert huffman.average_length(code, fibonacci) < huffman.entropy(fibonacci) + 1
    sample = np.random.default_rng(0).integers(0, 30, 5000)
    packed, n_bits = huffman.encode(sample, code)
    np.testing.assert_array_equal(huffman.decode(packed, code, sample.size, n_bits=n_bits), sample)


# --------------------------------------------------------------------------- round trips

DISTRIBUTIONS = {
    "uniform8": lambda rng, n: rng.integers(0, 8, n),
    "geometric": lambda rng, n: rng.geometric(0.3, n),
    "zipf": lambda rng, n: np.minimum(rng.zipf(1.5, n), 300),
    "int8_weights": lambda rng, n: np.clip(np.round(rng.normal(0, 20, n)), -128, 127).astype(np.int8),
    "sparse_and_large": lambda rng, n: rng.choice(np.array([-(10 ** 12), -1, 7, 2 ** 40]), n,
                                                  p=[0.1, 0.6, 0.2, 0.1]),
    "uint8": lambda rng, n: rng.integers(0, 256, n).astype(np.uint8),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_round_trip(distribution, seed):
    rng = np.random.default_rng(seed)
    values = DISTRIBUTIONS[distribution](rng, int(rng.integers(1, 3000)))
    code = huffman.build_code(symbols=values)
    packed, n_bits = huffman.encode(values, code)
    bits = reference_bits(values, code)
    assert n_bits == len(bits) and packed == bits_to_bytes(bits)
    np.testing.assert_array_equal(huffman.decode(packed, code, values.size), values)
    np.testing.assert_array_equal(huffman.decode(packed, code, n_bits=n_bits), values)
    np.testing.assert_array_equal(huffman.decode(np.frombuffer(packed, np.uint8), code,
                                                 values.size, n_bits=n_bits), values)
    np.testing.assert_array_equal(huffman.decompress(huffman.compress(values)), values)


def test_two_dimensional_symbols_are_read_in_c_order(golden):
    grid = np.array([[0, 1], [2, 3]])
    packed, n_bits = huffman.encode(grid, golden)
    assert n_bits == 9  # 0 10 110 111
    np.testing.assert_array_equal(huffman.decode(packed, golden, 4), [0, 1, 2, 3])


def test_one_symbol_stream():
    code = huffman.build_code(symbols=[7] * 5)
    assert code.as_dict() == {7: "0"}  # one symbol still gets 1 bit
    packed, n_bits = huffman.encode([7] * 5, code)
    assert (packed, n_bits) == (b"\x00", 5)
    np.testing.assert_array_equal(huffman.decode(packed, code, 5), [7] * 5)
    assert huffman.entropy(symbols=[7] * 5) == 0.0
    assert huffman.tree({7: 5})[-1]["children"] == (0,)
    # "1" is no code word of this (incomplete) code
    with pytest.raises(ValueError, match="bits at position 0 match no code word"):
        huffman.decode(b"\x80", code, 1)


def test_two_symbol_stream():
    code = huffman.build_code(symbols=[1, 0, 0, 1])
    assert code.as_dict() == {0: "0", 1: "1"}
    packed, n_bits = huffman.encode([1, 0, 0, 1], code)
    assert (packed, n_bits) == (bytes([0b10010000]), 4)
    np.testing.assert_array_equal(huffman.decode(packed, code, n_bits=4), [1, 0, 0, 1])


def test_empty_input():
    code = huffman.build_code(symbols=[])
    assert len(code) == 0 and code.max_length == 0 and code.as_dict() == {}
    assert huffman.build_code({3: 0}) == code  # a symbol never seen gets no code
    assert huffman.encode([], code) == (b"", 0)
    assert huffman.decode(b"", code, 0).size == 0
    assert huffman.decode(b"", code, n_bits=0).dtype == np.int64
    assert huffman.serialize_code(code) == b"\x00"
    assert huffman.deserialize_code(b"\x00") == code
    assert huffman.decompress(huffman.compress([])).size == 0
    assert huffman.average_length(code, []) == 0.0
    with pytest.raises(ValueError, match="no symbols"):
        huffman.decode(b"\x00", code, 1)


def test_large_array_round_trip():
    values = np.random.default_rng(7).geometric(0.2, 200_000) - 1
    code = huffman.build_code(symbols=values)
    packed, n_bits = huffman.encode(values, code)
    np.testing.assert_array_equal(huffman.decode(packed, code, values.size), values)
    blob = huffman.compress(values, code)
    np.testing.assert_array_equal(huffman.decompress(blob), values)
    row = huffman.storage(values, code)
    assert row["total_bytes"] == len(blob) and row["payload_bits"] == n_bits
    assert row["entropy_bits_per_symbol"] <= row["bits_per_symbol"] < row["entropy_bits_per_symbol"] + 1


def test_pruning_gaps_round_trip():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(100, 30)) * (rng.random((100, 30)) < 0.1)
    _, gaps, _ = prune.relative_indices(weights, index_bits=5)
    blob = huffman.compress(gaps)
    np.testing.assert_array_equal(huffman.decompress(blob), gaps)
    assert huffman.storage(gaps)["total_bytes"] == len(blob)


# --------------------------------------------------------------------------- entropy bound

def test_within_one_bit_of_entropy():
    rng = np.random.default_rng(11)
    for trial in range(50):
        k = int(rng.integers(2, 60))
        concentration = [0.1, 1.0, 10.0][trial % 3]  # skewed to nearly uniform
        counts = np.maximum(1, np.round(rng.dirichlet([concentration] * k) * 10_000)).astype(int)
        code = huffman.build_code(counts)
        h, bits = huffman.entropy(counts), huffman.average_length(code, counts)
        assert h <= bits < h + 1, (counts, h, bits)


def test_average_length_matches_the_encoded_stream():
    values = np.random.default_rng(2).zipf(2.0, 1000)
    code = huffman.build_code(symbols=values)
    _, n_bits = huffman.encode(values, code)
    assert huffman.average_length(code, symbols=values) == pytest.approx(n_bits / values.size)


# --------------------------------------------------------------------------- tables and sizes

def test_golden_table_bytes(golden):
    # longest length 3; one 1-bit, one 2-bit, two 3-bit words; symbols 0, 1, 2, 3 zigzagged
    table = huffman.serialize_code(golden)
    assert table == bytes([3, 1, 1, 2, 0, 2, 4, 6])
    assert huffman.table_bytes(golden) == 8
    assert huffman.deserialize_code(table) == golden
    # zigzag and varints: -1 -> 1 (one byte), 64 -> 128 (two bytes: 0x80 0x01)
    assert huffman.serialize_code(huffman.canonical_code({-1: 1, 64: 1})) == bytes([1, 2, 1, 0x80, 1])
    assert huffman.serialize_code(huffman.build_code(symbols=[7])) == bytes([1, 1, 14])


def test_golden_storage_counts_every_byte(golden):
    # table 8 bytes + n_bits = 10 in one byte + 2 payload bytes
    blob = huffman.compress([0, 1, 2, 3, 0], golden)
    assert blob == bytes([3, 1, 1, 2, 0, 2, 4, 6, 10, 0x5B, 0x80])
    row = huffman.storage([0, 1, 2, 3, 0], golden)
    assert row == {"symbols": 5, "distinct": 4, "entropy_bits_per_symbol": pytest.approx(
        0.4 * math.log2(2.5) + 3 * 0.2 * math.log2(5)), "bits_per_symbol": 2.0,
        "payload_bits": 10, "payload_bytes": 2, "table_bytes": 8, "n_bits_bytes": 1,
        "total_bytes": 11}


@pytest.mark.parametrize("seed", range(4))
def test_serialize_round_trip(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    symbols = rng.choice(np.arange(-5000, 5000), n, replace=False)
    counts = dict(zip(symbols.tolist(), rng.geometric(0.05, n).tolist()))
    for code in (huffman.build_code(counts), huffman.build_code({-(2 ** 63): 1, 2 ** 63 - 1: 3}),
                 huffman.canonical_code({5: 2, -3: 3})):  # the last one incomplete
        table = huffman.serialize_code(code)
        assert huffman.deserialize_code(table) == code
        assert huffman.deserialize_code(np.frombuffer(table, np.uint8)) == code
        assert len(table) == huffman.table_bytes(code)


@pytest.mark.parametrize("garbage, message", [
    (b"", "ends inside the longest code length"),
    (bytes([17, 0]), "longest code length is 17"),
    (bytes([2, 3, 0]), "Kraft"),                       # three 1-bit words
    (bytes([2, 1, 0]), "no 2-bit code word"),
    (bytes([3, 1, 1, 2, 0, 2, 4]), "ends inside a symbol"),  # the golden table, cut short
    (bytes([3, 1, 1, 2, 0, 2, 4, 6, 9]), "1 bytes follow the code table"),
    (bytes([2, 0, 4, 0, 2, 2, 4]), "not ascending"),
    (bytes([2, 1, 2, 0, 0, 2]), "lists a symbol twice"),
    (bytes([1, 1]) + b"\x80" * 11, "runs over 10 bytes"),
    (bytes([1, 1, 0x80, 0]), "needless trailing 0"),
])
def test_garbage_tables_are_refused(garbage, message):
    with pytest.raises(ValueError, match=message):
        huffman.deserialize_code(garbage)


def test_random_garbage_never_crashes_or_hangs():
    rng = np.random.default_rng(0)
    accepted = 0
    for _ in range(3000):
        garbage = rng.integers(0, 256, int(rng.integers(0, 14)), dtype=np.uint8).tobytes()
        if rng.random() < 0.5:
            garbage = bytes([int(rng.integers(0, 5))]) + garbage[1:]  # plausible first byte
        try:
            code = huffman.deserialize_code(garbage)
        except ValueError:
            continue
        accepted += 1
        assert huffman.serialize_code(code) == garbage  # one table, one byte string
        try:
            huffman.decompress(garbage + bytes(rng.integers(0, 256, 4, dtype=np.uint8)))
        except ValueError:
            pass
    assert accepted > 0  # the test did reach codes that parse


# --------------------------------------------------------------------------- broken streams

def test_truncated_and_inconsistent_streams(golden):
    packed = bytes([0x5B, 0x80])  # 0 10 110 111 0, 10 bits
    with pytest.raises(ValueError, match="truncated: n_bits=17 needs 3 bytes, got 2"):
        huffman.decode(packed, golden, n_bits=17)
    with pytest.raises(ValueError, match="word at bit 6 runs past the end"):
        huffman.decode(packed, golden, n_bits=8)  # ends inside 111
    with pytest.raises(ValueError, match="word at bit 3 runs past the end"):
        huffman.decode(packed, golden, n_bits=5)  # ends inside 110
    # 0 10 110 111 is exactly 9 bits: a shorter stream, not a broken one
    np.testing.assert_array_equal(huffman.decode(packed, golden, n_bits=9), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="ends after 5 of 6 symbols"):
        huffman.decode(packed, golden, 6, n_bits=10)
    # 6 padding 0s read as 6 more 0s (see decode's docstring), then the stream ends
    with pytest.raises(ValueError, match="ends after 11 of 12 symbols"):
        huffman.decode(packed, golden, 12)
    with pytest.raises(ValueError, match="too short for 10000000000 symbols"):
        huffman.decode(packed, golden, 10 ** 10)  # refused at once, nothing allocated
    with pytest.raises(ValueError, match="end at bit 9, not at n_bits=10"):
        huffman.decode(packed, golden, 4, n_bits=10)
    with pytest.raises(ValueError, match="1 bytes are left over"):
        huffman.decode(packed + b"\x00", golden, 5)
    with pytest.raises(ValueError, match="1 bytes are left over"):
        huffman.decode(packed + b"\x00", golden, n_bits=10)
    with pytest.raises(ValueError, match="padding bits after bit 10 are not 0"):
        huffman.decode(bytes([0x5B, 0x81]), golden, 5)
    with pytest.raises(ValueError, match="give n_symbols="):
        huffman.decode(packed, golden)


def test_truncated_random_stream():
    values = np.random.default_rng(4).geometric(0.4, 1000)
    code = huffman.build_code(symbols=values)
    packed, n_bits = huffman.encode(values, code)
    for cut in (1, 2, len(packed) // 2):
        with pytest.raises(ValueError, match="truncated|too short"):
            huffman.decode(packed[:-cut], code, values.size)
        with pytest.raises(ValueError, match="truncated"):
            huffman.decode(packed[:-cut], code, n_bits=n_bits)
    blob = huffman.compress(values, code)
    for cut in (1, len(blob) - 3):
        with pytest.raises(ValueError, match="truncated|ends inside"):
            huffman.decompress(blob[:-cut])


def test_pattern_outside_an_incomplete_code():
    code = huffman.canonical_code({0: 1, 1: 2})  # 0, 10; nothing starts with 11
    assert code.as_dict() == {0: "0", 1: "10"}
    np.testing.assert_array_equal(huffman.decode(bytes([0b01000000]), code, 2), [0, 1])
    with pytest.raises(ValueError, match="bits at position 3 match no code word"):
        huffman.decode(bytes([0b01011000]), code, 3)


@pytest.mark.parametrize("complete", [True, False])
def test_flipped_bits_give_an_array_or_a_value_error(complete):
    rng = np.random.default_rng(1)
    values = rng.integers(0, 5, 200)
    code = huffman.build_code(symbols=values) if complete else \
        huffman.canonical_code({0: 2, 1: 2, 2: 3, 3: 4, 4: 4})  # Kraft 7/8: 111x unused
    packed, n_bits = huffman.encode(values, code)
    refused = 0
    for _ in range(300):
        corrupted = bytearray(packed)
        position = int(rng.integers(0, n_bits))
        corrupted[position // 8] ^= 0x80 >> (position % 8)
        try:
            decoded = huffman.decode(bytes(corrupted), code, n_bits=n_bits)
        except ValueError:
            refused += 1
        else:
            assert decoded.dtype == np.int64 and set(decoded.tolist()) <= set(code.symbols.tolist())
    assert refused > 0  # a flipped bit usually breaks a code word boundary or the length


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, message", [
    (lambda: huffman.build_code({0: 3, 1: -2}), "count of symbol 1 is -2"),
    (lambda: huffman.build_code([3, -1]), "count of symbol 1 is -1"),
    (lambda: huffman.build_code([3, float("nan")]), "count of symbol 1 is nan"),
    (lambda: huffman.build_code({"a": 1}), "symbols must be integers; the symbol 'a'"),
    (lambda: huffman.build_code({1.5: 1}), "symbols must be integers; the symbol 1.5"),
    (lambda: huffman.build_code([[1, 2], [3, 4]]), "shape \\(2, 2\\)"),
    (lambda: huffman.build_code(symbols=[1, 2.5]), "symbols\\[1\\] is 2.5"),
    (lambda: huffman.build_code(symbols=np.array([1.0, 2.0])), "astype\\(np.int64\\)"),
    (lambda: huffman.build_code(symbols=["a", "b"]), "symbols\\[0\\] is np.str_\\('a'\\)|'a'"),
    (lambda: huffman.build_code(symbols=[1, 2 ** 70]), "fit in int64; symbols\\[1\\] is " + str(2 ** 70)),
    (lambda: huffman.build_code(symbols=np.array([True, False])), "bool"),
    (lambda: huffman.build_code([1, 1], symbols=[0]), "exactly one of counts="),
    (lambda: huffman.build_code(), "exactly one of counts="),
    (lambda: huffman.encode([0, 9, 1], huffman.build_code(COUNTS)), "symbol 9 \\(at position 1\\)"),
    (lambda: huffman.average_length(huffman.build_code(COUNTS), {8: 1}), "symbol 8"),
    (lambda: huffman.decode(b"\x00", huffman.build_code(COUNTS), -1), "n_symbols must be"),
    (lambda: huffman.decode(b"\x00", huffman.build_code(COUNTS), n_bits=2.5), "n_bits must be"),
])
def test_bad_input_names_the_offending_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_packed_must_be_bytes(golden):
    with pytest.raises(TypeError, match="bytes or a 1-D uint8 array, got list"):
        huffman.decode([0x5B, 0x80], golden, 5)
