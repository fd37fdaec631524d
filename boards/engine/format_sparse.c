/* TinyLab C engine, weight format "sparse": Deep Compression's relative indices (lesson 04).
 *
 * The rows are one stream. Only entries are stored: each non-zero int8 weight, with the count
 * of zeros skipped before it in gap_bits bits (5 for a fully connected layer, 8 for a
 * convolution). A run of zeros longer than a gap can count is bridged by a filler entry of
 * value 0. tl_source_dot walks the entries of one row and keeps the first entry of a later row
 * for the next call. Copied into the generated model source after common.c and bits.c. */

typedef struct {
    uint32_t n_entries;
    const int8_t *values; /* one byte per entry */
    const uint8_t *gaps;  /* gap_bits per entry, packed, most significant bit first */
    uint8_t gap_bits;
} tl_weights_t;

typedef struct {
    tl_bits_t gaps;
    const int8_t *values;
    uint32_t left;   /* entries not read yet */
    uint16_t column; /* where the read entry (or the next) is, from the current row's start */
    int8_t value;    /* the entry read but not used yet, if pending */
    uint8_t pending;
    uint8_t gap_bits;
} tl_source_t;

static uint8_t tl_read_bits(tl_bits_t *bits, uint8_t count)
{
    uint8_t value = 0;
    while (count--) {
        value = (uint8_t)((value << 1) | tl_bit(bits));
    }
    return value;
}

static void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    tl_bits_start(&source->gaps, weights->gaps);
    source->values = weights->values;
    source->left = weights->n_entries;
    source->column = 0;
    source->pending = 0;
    source->gap_bits = weights->gap_bits;
}

static int32_t tl_source_dot(tl_source_t *source, const int8_t *input, uint16_t n)
{
    int32_t acc = 0;
    for (;;) {
        if (!source->pending) {
            if (!source->left) {
                break;
            }
            --source->left;
            source->column = (uint16_t)(source->column + tl_read_bits(&source->gaps,
                                                                      source->gap_bits));
            source->value = (int8_t)TL_U8(source->values);
            ++source->values;
            source->pending = 1;
        }
        if (source->column >= n) { /* the entry is in a later row */
            source->column = (uint16_t)(source->column - n);
            break;
        }
        acc += tl_mul8(source->value, input[source->column]);
        ++source->column;
        source->pending = 0;
    }
    return acc;
}
