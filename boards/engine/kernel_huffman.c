/* TinyLab C engine, format "huffman": Deep Compression decoded on the fly (lesson 07_deploy).
 *
 * The layout of kernel_sparse.c, with both streams Huffman-coded (lesson 06): each entry's
 * weight and its gap are canonical code words. A canonical code is given by how many code
 * words have each length; the symbols follow in canonical order (by length, then symbol).
 * For the weight stream the symbols are the layer's codebook of int8 values, so a decoded
 * code word is the weight itself (a filler entry decodes to 0). Code words are at most 15
 * bits. Copied into the generated model source after kernel_common.c and kernel_bits.c. */

typedef struct {
    const uint8_t *counts;  /* counts[k]: code words of length k + 1 */
    const uint8_t *symbols; /* in canonical order */
    uint8_t max_length;
} tl_code_t;

typedef struct {
    tl_dense_t dense;
    uint32_t n_entries;
    tl_code_t weight_code; /* symbols: int8 weights */
    tl_code_t gap_code;    /* symbols: zeros skipped, 0..31 */
    const uint8_t *weight_bits;
    const uint8_t *gap_bits;
} tl_layer_t;

/* One symbol: read bits until they make a code word (zlib's puff.c walks codes the same way). */
static uint8_t tl_decode(const tl_code_t *code, tl_bits_t *bits)
{
    uint16_t word = 0, first = 0, index = 0, count;
    uint8_t length;
    for (length = 0; length < code->max_length; ++length) {
        word = (uint16_t)(word | tl_bit(bits));
        count = TL_U8(code->counts + length);
        if ((uint16_t)(word - first) < count) {
            return TL_U8(code->symbols + index + (uint16_t)(word - first));
        }
        index = (uint16_t)(index + count);
        first = (uint16_t)((first + count) << 1);
        word = (uint16_t)(word << 1);
    }
    return 0; /* not reached: TinyLab writes only complete code words */
}

static void tl_layer_run(const tl_layer_t *flash_layer, const int8_t *input, int8_t *output)
{
    tl_layer_t layer;
    tl_bits_t weights, gaps;
    uint32_t entry;
    uint16_t unit = 0, column = 0; /* column: where the next entry could be */
    int32_t acc = 0;
    tl_units_t units;
    TL_COPY(&layer, flash_layer, sizeof layer);
    tl_units_start(&units, &layer.dense.requant);
    tl_bits_start(&weights, layer.weight_bits);
    tl_bits_start(&gaps, layer.gap_bits);
    for (entry = 0; entry < layer.n_entries; ++entry) {
        column += tl_decode(&layer.gap_code, &gaps);
        while (column >= layer.dense.n_inputs) { /* the entry is in a later row */
            output[unit] = tl_units_next(&units, acc);
            acc = 0;
            ++unit;
            column -= layer.dense.n_inputs;
        }
        acc += tl_mul8((int8_t)tl_decode(&layer.weight_code, &weights), input[column]);
        ++column;
    }
    for (; unit < layer.dense.n_outputs; ++unit) { /* rows after the last entry */
        output[unit] = tl_units_next(&units, acc);
        acc = 0;
    }
}
