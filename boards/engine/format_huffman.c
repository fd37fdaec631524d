/* TinyLab C engine, weight format "huffman": Deep Compression decoded on the fly (lesson 06).
 *
 * The entries of format_sparse.c, with both streams Huffman-coded: each entry's weight and
 * its gap are canonical code words. A canonical code is given by how many code words have
 * each length; the symbols follow in canonical order (by length, then symbol). For the weight
 * stream the symbols are the layer's codebook of int8 values, so a decoded code word is the
 * weight itself (a filler entry decodes to 0). Code words are at most 15 bits. Copied into
 * the generated model source after common.c and bits.c. */

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

static void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    source->weight_code = weights->weight_code;
    source->gap_code = weights->gap_code;
    tl_bits_start(&source->weights, weights->weight_bits);
    tl_bits_start(&source->gaps, weights->gap_bits);
    source->left = weights->n_entries;
    source->column = 0;
    source->pending = 0;
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
            source->column = (uint16_t)(source->column + tl_decode(&source->gap_code,
                                                                   &source->gaps));
            source->value = (int8_t)tl_decode(&source->weight_code, &source->weights);
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
