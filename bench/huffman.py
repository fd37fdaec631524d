"""Benchmark: TinyLab's Huffman codec (lesson 07), its speed and how close it gets to entropy.

Two parts:

1. The codec on 1,000,000 synthetic symbols from three distributions (uniform over 32
   symbols, geometric, Zipf over 256): entropy against Huffman's bits per symbol, encode and
   decode throughput (million symbols per second), code table bytes. Every stream is decoded
   and compared with the input.
2. Deep Compression's streams: the 64-300-100-10 teacher through ``tinylab.pipeline.run``
   (90% sparsity, 5-bit codebooks, seed 0); per layer, the codebook-index stream and the
   relative-index (gap) stream, entropy against Huffman's bits per symbol, and the bytes of
   ``huffman.compress`` (table and stream length included) against fixed-width storage.
3. Side by side on the same streams (the three synthetic ones and the largest layer's two):
   TinyLab's ``huffman.compress``, zlib at level 9, lzma at preset 9 (both on the symbols as
   bytes) and the ``dahuffman`` package (pure Python; its code table pickled, since a decoder
   needs it): the bytes a decoder reads, encode and decode throughput (best of 3, the code
   built inside the encode for both Huffman coders), every stream decoded back and compared.

    tinylab bench huffman [--json] [--write]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import arguments, markdown_table, report, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

N_SYMBOLS = 1_000_000
REPEATS = 3  # best of 3 for the timings


def _streams(rng) -> dict:
    return {"uniform, 32 symbols": rng.integers(0, 32, N_SYMBOLS),
            "geometric, p = 0.3": np.minimum(rng.geometric(0.3, N_SYMBOLS) - 1, 255),
            "Zipf (a = 1.5), 256 symbols": np.minimum(rng.zipf(1.5, N_SYMBOLS) - 1, 255)}


def _best_seconds(function) -> tuple:
    best, result = float("inf"), None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def codec(seed: int = 0) -> list:
    from tinylab import huffman

    rows = []
    for name, symbols in _streams(np.random.default_rng(seed)).items():
        code = huffman.build_code(symbols=symbols)
        encode_s, (packed, n_bits) = _best_seconds(lambda: huffman.encode(symbols, code))
        decode_s, decoded = _best_seconds(lambda: huffman.decode(packed, code, n_bits=n_bits))
        if not np.array_equal(decoded, symbols):
            raise AssertionError(f"{name}: the decoded stream differs from the input")
        rows.append({"stream": name, "symbols": int(symbols.size),
                     "entropy_bits": huffman.entropy(symbols=symbols),
                     "huffman_bits": n_bits / symbols.size,
                     "table_bytes": huffman.table_bytes(code),
                     "encode_msym_per_s": symbols.size / encode_s / 1e6,
                     "decode_msym_per_s": symbols.size / decode_s / 1e6})
    return rows


def model_streams(seed: int = 0) -> tuple:
    from tinylab import huffman, pipeline, prune

    result = pipeline.run(model="mlp300", sparsity=0.9, bits=5, seed=seed, progress=False)
    rows = []
    # the paper's streams (5-bit relative indices, the layer's codebook width), not the
    # board's layout, whose bytes tinylab.engine.model_storage counts (result.layers)
    index_bits = prune.INDEX_BITS["dense"]
    for name, width_bits in result.sharing.bits_.items():
        indices, gaps = pipeline.layer_streams(result.sharing, name, index_bits)
        for kind, symbols, width in (("codebook indices", indices, width_bits),
                                     ("index gaps", gaps, index_bits)):
            stored = huffman.storage(symbols)
            rows.append({"layer": name, "stream": kind, "symbols": int(symbols.size),
                         "fixed_bits": width, "entropy_bits": stored["entropy_bits_per_symbol"],
                         "huffman_bits": stored["bits_per_symbol"],
                         "fixed_bytes": -(-symbols.size * width // 8),
                         "huffman_bytes": stored["total_bytes"]})
    return rows, result.settings


def _coders() -> dict:
    """Per coder: ``encode(symbols) -> bytes`` (everything a decoder reads) and
    ``decode(bytes) -> symbols``."""
    import lzma
    import pickle
    import zlib

    from tinylab import huffman

    def da_encode(symbols):
        from dahuffman import HuffmanCodec

        values = symbols.tolist()
        codec = HuffmanCodec.from_data(values)
        table = pickle.dumps(codec.get_code_table())
        return len(table).to_bytes(4, "little") + table + codec.encode(values)

    def da_decode(data):
        from dahuffman import HuffmanCodec

        size = int.from_bytes(data[:4], "little")
        codec = HuffmanCodec(pickle.loads(data[4:4 + size]), check=False)
        return np.asarray(codec.decode(data[4 + size:]))

    def as_bytes(symbols):
        return np.asarray(symbols, dtype=np.uint8).tobytes()

    return {
        "TinyLab Huffman": (huffman.compress, huffman.decompress),
        "zlib, level 9": (lambda s: zlib.compress(as_bytes(s), 9),
                          lambda d: np.frombuffer(zlib.decompress(d), dtype=np.uint8)),
        "lzma, preset 9": (lambda s: lzma.compress(as_bytes(s), preset=9),
                           lambda d: np.frombuffer(lzma.decompress(d), dtype=np.uint8)),
        "dahuffman 0.4": (da_encode, da_decode),
    }


def comparison(model_rows_source, seed: int = 0) -> list:
    """Every coder of :func:`_coders` on the synthetic streams and the largest layer's two."""
    streams = dict(_streams(np.random.default_rng(seed)))
    streams.update(model_rows_source)
    rows = []
    for name, symbols in streams.items():
        symbols = np.asarray(symbols, dtype=np.int64)
        if symbols.max() > 255:
            raise ValueError(f"{name}: symbols above 255 do not fit the byte coders")
        for coder, (encode, decode) in _coders().items():
            encode_s, data = _best_seconds(lambda: encode(symbols))
            decode_s, decoded = _best_seconds(lambda: decode(data))
            if not np.array_equal(np.asarray(decoded, dtype=np.int64), symbols):
                raise AssertionError(f"{coder} on {name}: the decoded stream differs")
            rows.append({"stream": name, "coder": coder, "symbols": int(symbols.size),
                         "bytes": len(data), "bits_per_symbol": 8 * len(data) / symbols.size,
                         "encode_msym_per_s": symbols.size / encode_s / 1e6,
                         "decode_msym_per_s": symbols.size / decode_s / 1e6})
    return rows


def largest_layer_streams(seed: int = 0) -> dict:
    """The codebook-index and gap streams of the pipeline's largest layer (as part 2)."""
    from tinylab import pipeline, prune

    result = pipeline.run(model="mlp300", sparsity=0.9, bits=5, seed=seed, progress=False)
    name = max(result.sharing.bits_, key=lambda layer: pipeline.layer_streams(
        result.sharing, layer, prune.INDEX_BITS["dense"])[0].size)
    indices, gaps = pipeline.layer_streams(result.sharing, name, prune.INDEX_BITS["dense"])
    return {f"{name}, codebook indices": indices, f"{name}, index gaps": gaps}


def write_docs(result: dict, target: Path) -> None:
    machine = result["machine"]
    codec_rows = [[r["stream"], f"{r['entropy_bits']:.3f}", f"{r['huffman_bits']:.3f}",
                   f"{r['huffman_bits'] - r['entropy_bits']:.3f}", r["table_bytes"],
                   f"{r['encode_msym_per_s']:.1f}", f"{r['decode_msym_per_s']:.1f}"]
                  for r in result["codec"]]
    model_rows = [[r["layer"], r["stream"], f"{r['symbols']:,}", r["fixed_bits"],
                   f"{r['entropy_bits']:.2f}", f"{r['huffman_bits']:.2f}",
                   f"{r['fixed_bytes']:,}", f"{r['huffman_bytes']:,}"]
                  for r in result["model_streams"]]
    body = (
        f"{measured_on(machine)}.\n\n"
        f"**The codec** on {N_SYMBOLS:,} symbols per stream (best of {REPEATS}; every stream "
        f"decoded back and compared):\n\n"
        + markdown_table(["stream", "entropy (bits/symbol)", "Huffman (bits/symbol)",
                          "overhead", "table bytes", "encode (M symbols/s)",
                          "decode (M symbols/s)"], codec_rows)
        + "\n\n**Deep Compression's streams** of the 64-300-100-10 teacher after 90% pruning and "
          "5-bit weight sharing (seed 0). Huffman bytes include the code table and the stream "
          "length, i.e. everything a decoder reads:\n\n"
        + markdown_table(["layer", "stream", "symbols", "fixed bits", "entropy (bits)",
                          "Huffman (bits)", "fixed bytes", "Huffman bytes"], model_rows)
        + "\n\n**Side by side** on the same streams: TinyLab's Huffman coder, zlib (level 9) "
          "and lzma (preset 9) on the symbols as bytes, and the `dahuffman` package (pure "
          "Python; its code table pickled and counted). Bytes are everything a decoder reads; "
          f"throughput is the best of {REPEATS}, with the Huffman code built inside the encode; "
          "every stream decoded back and compared:\n\n"
        + markdown_table(["stream", "coder", "bytes", "bits/symbol", "encode (M symbols/s)",
                          "decode (M symbols/s)"],
                         [[r["stream"], r["coder"], f"{r['bytes']:,}",
                           f"{r['bits_per_symbol']:.3f}", f"{r['encode_msym_per_s']:.2f}",
                           f"{r['decode_msym_per_s']:.2f}"] for r in result.get("comparison", [])])
        + "\n\nCommand: `tinylab bench huffman --json --write`.")
    write_section("huffman", body, target, title="Huffman coding (lesson 07)")


def main(argv=None) -> int:
    parser = arguments(__doc__, "huffman")
    args = parser.parse_args(argv)
    streams, settings = model_streams()
    result = {"benchmark": "huffman", "machine": current_machine(), "codec": codec(),
              "model_streams": streams, "pipeline_settings": settings,
              "comparison": comparison(largest_layer_streams())}
    return report(result, args.write, write_docs)


if __name__ == "__main__":
    sys.exit(main())
