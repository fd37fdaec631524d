"""Lesson 07: Huffman-code a pruned, weight-shared model layer by layer, and see what it saves."""

from __future__ import annotations

import ipywidgets as widgets

from .. import huffman, pipeline, plot, quantize
from ._panel import assemble, reporting_errors, show

STREAMS = ("codebook indices", "index gaps")


def huffman_explorer(model, masks, *, bits_options=(2, 3, 4, 5, 6, 7, 8), bits: int = 5,
                     index_bits: int = 5, seed: int = 0) -> widgets.VBox:
    """Pick a layer, a stream and the codebook width; see the symbols, their code, the bits.

    For every width in ``bits_options`` the panel shares the weights once, when it is built
    (:class:`tinylab.quantize.WeightSharing` with a spare index for fillers), cuts every
    layer into its two streams (:func:`tinylab.pipeline.layer_streams`: the codebook index
    and the relative index of each stored entry) and Huffman-codes each; moving a control only
    looks the result up and redraws. ``model`` is left unchanged.

    Parameters
    ----------
    model : keras.Model
        A pruned model, e.g. from :func:`tinylab.prune.load_or_prune`.
    masks : dict of str -> ndarray of bool
        Its keep-masks.
    bits_options : sequence of int
        Codebook widths the slider offers (each from 1 to 16).
    bits : int
        The width shown first, if ``bits_options`` holds it (else the first option): lesson 07
        starts at lesson 06's 4 bits (``tl.quantize.SHARED_RECIPE["bits"]``).
    index_bits : int
        Width of a relative index (5 for Dense layers in Deep Compression).
    seed : int
        Seeds the weight sharing.

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``layer``, ``stream``, ``bits``, ``status``, ``figures``),
        ``table`` (one dict per width, layer and stream: ``bits``, ``layer``, ``stream``,
        ``symbols``, ``distinct``, ``fixed_bits``, ``bits_per_symbol``,
        ``entropy_bits_per_symbol``, ``bytes_fixed``, ``bytes_huffman``) and ``shown`` (the
        two figures drawn last).
    """
    options = [int(b) for b in bits_options]
    if not options or any(not 1 <= b <= 16 for b in options) or len(set(options)) != len(options):
        raise ValueError(f"bits_options must be distinct whole numbers from 1 to 16 (e.g. "
                         f"(2, 3, 4, 5)), got {bits_options!r}")
    if int(index_bits) != index_bits or not 1 <= index_bits <= 16:
        raise ValueError(f"index_bits must be a whole number from 1 to 16 (5 for Dense layers), "
                         f"got {index_bits!r}")
    found, table = {}, []
    for codebook_bits in options:
        sharing = quantize.WeightSharing(codebook_bits, seed=seed, reserve_filler=True)
        sharing.fit(model, masks)
        for name in sharing.codebooks_:
            streams = pipeline.layer_streams(sharing, name, int(index_bits))
            for stream, symbols, width in zip(STREAMS, streams, (codebook_bits, int(index_bits))):
                if symbols.size == 0:
                    continue
                counts = huffman.symbol_counts(symbols)
                code = huffman.build_code(counts)
                row = dict(huffman.storage(symbols, code), bits=codebook_bits, layer=name,
                           stream=stream, fixed_bits=width,
                           bytes_fixed=-(-symbols.size * width // 8),
                           filler=len(sharing.codebooks_[name]))
                row["bytes_huffman"] = row["total_bytes"]
                found[codebook_bits, name, stream] = (counts, code, row)
                table.append(row)
    layers = list(dict.fromkeys(row["layer"] for row in table))
    if not layers:
        raise ValueError("the model has no kept weights to code: give a pruned model with its "
                         "masks, e.g. tl.prune.load_or_prune(data)")

    layer = widgets.Dropdown(options=layers, value=layers[0], description="layer")
    stream = widgets.ToggleButtons(options=list(STREAMS), value=STREAMS[0], description="stream")
    bits_slider = widgets.SelectionSlider(options=options,
                                          value=bits if bits in options else options[0],
                                          description="codebook bits", continuous_update=False)
    status = widgets.HTML()
    figures = widgets.Output()
    panel = widgets.VBox()

    def redraw(_=None):
        with reporting_errors(status):
            bits = bits_slider.value
            counts, code, row = found[bits, layer.value, stream.value]
            rows = [r for r in table if r["bits"] == bits]
            before = sum(r["bytes_fixed"] for r in rows)
            after = sum(r["bytes_huffman"] for r in rows)
            status.value = (
                f"<b>{layer.value}</b>, {stream.value} ({bits}-bit codebook): {row['symbols']:,} "
                f"symbols, {row['distinct']} distinct. Fixed width {row['fixed_bits']} bits; "
                f"Huffman <b>{row['bits_per_symbol']:.2f}</b> bits/symbol; entropy "
                f"{row['entropy_bits_per_symbol']:.2f}. Bytes {row['bytes_fixed']:,} &rarr; "
                f"{row['bytes_huffman']:,} (code table included).<br>All layers, both streams: "
                f"{before:,} &rarr; <b>{after:,}</b> bytes ({1 - after / before:.0%} saved).")
            labels = {row["filler"]: "fill"} if stream.value == STREAMS[0] else None
            panel.shown = (
                plot.code_lengths(counts, code, labels=labels,
                                  title=f"{layer.value}, {stream.value} ({bits}-bit codebook)\n"
                                        f"entropy {row['entropy_bits_per_symbol']:.2f} bits, Huffman "
                                        f"{row['bits_per_symbol']:.2f} bits/symbol"),
                plot.bits_per_symbol({f"{r['layer']}\n{r['stream'].split()[-1]}": r for r in rows},
                                     highlight=f"{layer.value}\n{stream.value.split()[-1]}",
                                     title=f"every layer at a {bits}-bit codebook"))
            show(figures, *panel.shown)

    panel.table = table
    return assemble(panel, [layer, stream, bits_slider], status, figures, redraw,
                    {"layer": layer, "stream": stream, "bits": bits_slider, "status": status,
                     "figures": figures})
