/* TinyLab C engine, weight format "sparse": Deep Compression's relative indices (lesson 04).
 *
 * The rows are one stream. Only entries are stored: each non-zero int8 weight, with the count
 * of zeros skipped before it in gap_bits bits (5 for a fully connected layer, 8 for a
 * convolution). A run of zeros longer than a gap can count is bridged by a filler entry of
 * value 0. tl_source_dot walks the entries of one row and keeps the first entry of a later row
 * for the next call. Reading a row again means decoding it again (TL_SOURCE_STREAMS 0):
 * a convolution decodes each row once into RAM with tl_source_row and reuses it at every
 * pixel. Copied into the generated model source after common.c and bits.c. */

#define TL_SOURCE_STREAMS 0

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

/* The next count (1 to 8) bits, most significant first: the rest of the current byte, then
 * the top of the next when the gap spans two bytes. Whole bits at a time, not bit by bit. */
static uint8_t tl_read_bits(tl_bits_t *bits, uint8_t count)
{
    uint8_t have, need, value;
    if (bits->left >= count) {
        bits->left = (uint8_t)(bits->left - count);
        return (uint8_t)((bits->byte >> bits->left) & ((1u << count) - 1u));
    }
    have = bits->left;
    need = (uint8_t)(count - have);
    value = (uint8_t)(bits->byte & ((1u << have) - 1u));
    bits->byte = TL_U8(bits->next);
    ++bits->next;
    bits->left = (uint8_t)(8u - need);
    return (uint8_t)((value << need) | (bits->byte >> bits->left));
}

static TL_INLINE void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    tl_bits_start(&source->gaps, weights->gaps);
    source->values = weights->values;
    source->left = weights->n_entries;
    source->column = 0;
    source->pending = 0;
    source->gap_bits = weights->gap_bits;
}

/* The next entry of the current row of n weights (for tl_source_row): 1 with source->column and source->value
 * set, or 0 at the row's end (the source then stands at the next row). */
TL_UNUSED static uint8_t tl_source_entry(tl_source_t *source, uint16_t n)
{
    if (!source->pending) {
        if (!source->left) {
            return 0;
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
        return 0;
    }
    source->pending = 0;
    return 1;
}

/* The loop of tl_source_entry with the source's state in locals, which the compiler keeps
 * in registers (the bit readers' addresses go to calls; the source's would pin every field
 * in memory): the fully connected layers' hot path. */
TL_UNUSED TL_NOINLINE static int32_t tl_source_dot(tl_source_t *source, const int8_t *input,
                                         uint16_t n)
{
    int32_t acc = 0;
    tl_bits_t gaps = source->gaps;
    const int8_t *values = source->values;
    uint32_t left = source->left;
    const uint8_t gap_bits = source->gap_bits;
    uint16_t column = source->column;
    int8_t value = source->value;
    uint8_t pending = source->pending;
    for (;;) {
        if (!pending) {
            if (!left) {
                break;
            }
            --left;
            column = (uint16_t)(column + tl_read_bits(&gaps, gap_bits));
            value = (int8_t)TL_U8(values);
            ++values;
            pending = 1;
        }
        if (column >= n) { /* the entry is in a later row */
            column = (uint16_t)(column - n);
            break;
        }
        acc += tl_mul8(value, input[column]);
        ++column;
        pending = 0;
    }
    source->gaps = gaps;
    source->values = values;
    source->left = left;
    source->column = column;
    source->value = value;
    source->pending = pending;
    return acc;
}

/* The next row of n weights, decoded into RAM. */
TL_UNUSED static void tl_source_row(tl_source_t *source, int8_t *row, uint16_t n)
{
    memset(row, 0, n);
    while (tl_source_entry(source, n)) {
        row[source->column] = source->value;
        ++source->column;
    }
}
