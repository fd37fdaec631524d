/* TinyLab C engine, format "sparse": Deep Compression's relative indices (lesson 04's layout).
 *
 * The weights are read as one stream, one row of n_inputs per output unit. Only entries are
 * stored: each non-zero int8 weight, with the count of zeros skipped before it in gap_bits
 * bits (5 for a fully connected layer). A run of zeros longer than the gap can count is
 * bridged by a filler entry of value 0. Copied into the generated model source after
 * kernel_common.c and kernel_bits.c. */

typedef struct {
    tl_dense_t dense;
    uint32_t n_entries;
    const int8_t *values;  /* one byte per entry */
    const uint8_t *gaps;   /* gap_bits per entry, packed, most significant bit first */
    uint8_t gap_bits;
} tl_layer_t;

static uint8_t tl_read_bits(tl_bits_t *bits, uint8_t count)
{
    uint8_t value = 0;
    while (count--) {
        value = (uint8_t)((value << 1) | tl_bit(bits));
    }
    return value;
}

static void tl_layer_run(const tl_layer_t *flash_layer, const int8_t *input, int8_t *output)
{
    tl_layer_t layer;
    tl_bits_t gaps;
    uint32_t entry;
    uint16_t unit = 0, column = 0; /* column: where the next entry could be */
    int32_t acc = 0;
    tl_units_t units;
    TL_COPY(&layer, flash_layer, sizeof layer);
    tl_units_start(&units, &layer.dense.requant);
    tl_bits_start(&gaps, layer.gaps);
    for (entry = 0; entry < layer.n_entries; ++entry) {
        column += tl_read_bits(&gaps, layer.gap_bits);
        while (column >= layer.dense.n_inputs) { /* the entry is in a later row */
            output[unit] = tl_units_next(&units, acc);
            acc = 0;
            ++unit;
            column -= layer.dense.n_inputs;
        }
        acc += tl_mul8((int8_t)TL_U8(layer.values + entry), input[column]);
        ++column;
    }
    for (; unit < layer.dense.n_outputs; ++unit) { /* rows after the last entry */
        output[unit] = tl_units_next(&units, acc);
        acc = 0;
    }
}
