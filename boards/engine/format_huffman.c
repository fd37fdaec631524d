/* TinyLab C engine, weight format "huffman": Deep Compression decoded on the fly (lesson 06).
 *
 * The entries of format_sparse.c, with both streams Huffman-coded: each entry's weight and
 * its gap are canonical code words. A canonical code is given by how many code words have
 * each length; the symbols follow in canonical order (by length, then symbol). For the weight
 * stream the symbols are the layer's codebook of int8 values, so a decoded code word is the
 * weight itself (a filler entry decodes to 0). Code words are at most 15 bits. As in
 * format_sparse.c, a row read again would be decoded again (TL_SOURCE_STREAMS 0): a
 * convolution decodes each row once into RAM (tl_source_row). Copied into the generated
 * model source after common.c and bits.c. */

#define TL_SOURCE_STREAMS 0

typedef struct {
    const uint8_t *counts;  /* counts[k]: code words of length k + 1 */
    const uint8_t *symbols; /* in canonical order */
    uint8_t max_length;
} tl_code_t;

typedef struct {
    uint32_t n_entries;
    tl_code_t weight_code; /* symbols: int8 weights */
    tl_code_t gap_code;    /* symbols: zeros skipped */
    const uint8_t *weight_bits;
    const uint8_t *gap_bits;
} tl_weights_t;

typedef struct {
    tl_code_t weight_code, gap_code;
    tl_bits_t weights, gaps;
    uint32_t left;   /* entries not read yet */
    uint16_t column; /* where the read entry (or the next) is, from the current row's start */
    int8_t value;    /* the entry read but not used yet, if pending */
    uint8_t pending;
} tl_source_t;

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

static TL_INLINE void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    source->weight_code = weights->weight_code;
    source->gap_code = weights->gap_code;
    tl_bits_start(&source->weights, weights->weight_bits);
    tl_bits_start(&source->gaps, weights->gap_bits);
    source->left = weights->n_entries;
    source->column = 0;
    source->pending = 0;
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
        source->column = (uint16_t)(source->column + tl_decode(&source->gap_code,
                                                               &source->gaps));
        source->value = (int8_t)tl_decode(&source->weight_code, &source->weights);
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
    tl_bits_t weights = source->weights, gaps = source->gaps;
    uint32_t left = source->left;
    uint16_t column = source->column;
    int8_t value = source->value;
    uint8_t pending = source->pending;
    for (;;) {
        if (!pending) {
            if (!left) {
                break;
            }
            --left;
            column = (uint16_t)(column + tl_decode(&source->gap_code, &gaps));
            value = (int8_t)tl_decode(&source->weight_code, &weights);
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
    source->weights = weights;
    source->gaps = gaps;
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
