/* TinyLab C engine, weight format "huffman": Deep Compression decoded on the fly (lesson 06).
 *
 * The rows are one stream of entries, each a gap (the zeros skipped since the previous
 * entry, across row ends) and a weight (0 for a filler that bridges a long gap). Both are
 * canonical Huffman code words, gap then weight, in one bit stream, most significant bit
 * first, then 9 to 16 zero bits (the reader holds the byte after the one it reads). A
 * canonical code is given by how many code words have each length, 1 to max_length (at
 * most 8), and its symbols in canonical order (by length, then symbol); the weight code's
 * symbols are the int8 weights themselves.
 *
 * A code word is read by table, not bit by bit. The reader always has the next 8 bits at
 * hand (two bytes and how far into the first it is: two `mul` shift them into place on AVR,
 * where a shift by a variable amount is a loop), and 8 bits hold any code word. When an op
 * starts, each code's canonical counts and symbols are expanded into a RAM table indexed by
 * the first TL_PEEK_BITS of those bits: symbol and length in one lookup. A longer code word
 * (2% of them in the 70%-pruned 64-25-10 model, 5% in the 90%-pruned teacher) takes the
 * canonical slow path: canonical code words of one length are consecutive numbers and
 * shorter ones come first, so its length is the first L whose limit, (first code word of
 * L bits + count of L bits) << (8 - L), is above the 8 bits, and its symbol's index is the
 * top L bits plus delta[L] (index of the first L-bit symbol minus the first L-bit code
 * word), as in zlib's and JPEG's decoders. Past a code word of L bits the reader multiplies
 * its scale by 2^L (one `mul` again).
 *
 * As in format_sparse.c, a row read again is decoded again (TL_SOURCE_STREAMS 0): a
 * convolution decodes each row once into RAM (tl_source_row). Copied into the generated model
 * source after common.c. */

#define TL_SOURCE_STREAMS 0

typedef struct {
    const uint8_t *counts;  /* counts[k]: code words of length k + 1 */
    const uint8_t *symbols; /* in canonical order */
    uint8_t max_length;     /* 0 (an empty code) to 8 */
} tl_code_t;

typedef struct {
    uint16_t n_entries;
    const uint8_t *bits; /* the entries' code words, gap then weight, then 0 bits */
    tl_code_t weight_code; /* symbols: int8 weights */
    tl_code_t gap_code;    /* symbols: zeros skipped */
} tl_weights_t;

/* The next 8 bits are looked up in a table of their first TL_PEEK_BITS: 2 bytes of RAM per
 * entry and code, 256 bytes in all at 6 (the tables live on the op's stack while it runs).
 * Measured (simavr, the 64-25-10 and 64-280-67-10 pruned models): at 6, 2% and 5% of the
 * code words are longer and take the slow path. */
#define TL_PEEK_BITS 6

typedef struct {
    uint8_t symbol;
    uint8_t half; /* 2^(L - 1) for a code word of L <= TL_PEEK_BITS bits; 0: a longer one */
} tl_entry_t;

/* A code ready to decode (RAM). */
typedef struct {
    tl_entry_t table[1u << TL_PEEK_BITS];
    const uint8_t *symbols;
    uint8_t limit[8]; /* the next 8 bits below limit[L - 1]: a code word of L bits (L < max) */
    uint8_t delta[8]; /* its symbol's index: the code word + delta[L - 1], mod 256 */
    uint8_t last;     /* max_length - 1: the length tried last, taken without a compare */
} tl_decoder_t;

/* The bit reader: the bytes cur and after, of which 8 - log2(scale) bits are left in cur. */
typedef struct {
    const uint8_t *next; /* the byte to load after `after` */
    uint8_t cur, after;
    uint8_t scale; /* 2^(bits of cur read), 1 to 128 */
} tl_reader_t;

typedef struct {
    tl_decoder_t gap, weight;
    tl_reader_t bits;
    uint16_t left;   /* entries not read yet */
    uint16_t column; /* where the read entry (or the next) is, from the current row's start */
    int8_t value;    /* the entry read but not used yet, if pending */
    uint8_t pending;
} tl_source_t;

static void tl_code_start(tl_decoder_t *decoder, const tl_code_t *code)
{
    uint16_t first = 0;       /* the first code word of length `length` */
    uint16_t span = 1u << 8;  /* 2^(8 - length): the 8-bit windows one code word covers */
    uint8_t index = 0, length, count, half = 1;
    const uint8_t *symbol = code->symbols;
    tl_entry_t *entry = decoder->table, *end = decoder->table + (1u << TL_PEEK_BITS);
    decoder->symbols = code->symbols;
    decoder->last = (uint8_t)(code->max_length - 1u);
    for (length = 1; length <= code->max_length; ++length, half = (uint8_t)(half << 1)) {
        count = TL_U8(code->counts + length - 1);
        span >>= 1;
        decoder->limit[length - 1] = (uint8_t)((first + count) * span);
        decoder->delta[length - 1] = (uint8_t)(index - first);
        index = (uint8_t)(index + count);
        first = (uint16_t)((first + count) << 1);
        if (length <= TL_PEEK_BITS) { /* each code word fills span >> (8 - TL_PEEK_BITS) entries */
            for (; count; --count, ++symbol) {
                const uint8_t value = TL_U8(symbol);
                uint8_t repeat = (uint8_t)(span >> (8 - TL_PEEK_BITS));
                for (; repeat; --repeat, ++entry) {
                    entry->symbol = value;
                    entry->half = half;
                }
            }
        }
    }
    for (; entry < end; ++entry) { /* longer code words: tl_decode_long */
        entry->half = 0;
    }
}

#ifdef __AVR__
/* The next 8 bits and their table entry: peek (6 cycles: two `mul` shift the bytes cur and
 * after into place) and look up (10). */
static TL_INLINE uint8_t tl_lookup(const tl_decoder_t *decoder, const tl_reader_t *bits,
                                   uint8_t *symbol, uint8_t *half)
{
    uint8_t window, offset;
    const tl_entry_t *table = decoder->table;
    __asm__("mul %[cur], %[scale]\n\t"
            "mov %[window], r0\n\t"
            "mul %[after], %[scale]\n\t"
            "or %[window], r1\n\t"
            "clr __zero_reg__\n\t"
            "mov %[offset], %[window]\n\t"
            "lsr %[offset]\n\t"
            "andi %[offset], 0xFE\n\t" /* 2 * (window >> 2): 2 bytes per entry */
            "add %A[table], %[offset]\n\t"
            "adc %B[table], __zero_reg__\n\t"
            "ld %[symbol], %a[table]+\n\t"
            "ld %[half], %a[table]\n\t"
            : [window] "=&r"(window), [offset] "=&d"(offset), [symbol] "=&r"(*symbol),
              [half] "=r"(*half), [table] "+e"(table)
            : [cur] "r"(bits->cur), [after] "r"(bits->after), [scale] "r"(bits->scale)
            : "r0");
    return window;
}

/* Past a code word of L bits, half = 2^(L - 1): scale * 2^L is 256 or more when cur is
 * read (one `mul`, 7 cycles; 5 more to load the next byte). */
static TL_INLINE void tl_skip(tl_reader_t *bits, uint8_t half)
{
    __asm__("mul %[scale], %[half]\n\t"
            "lsl r0\n\t"
            "rol r1\n\t"
            "mov %[scale], r0\n\t"
            "breq 1f\n\t"
            "mov %[scale], r1\n\t"
            "mov %[cur], %[after]\n\t"
            "lpm %[after], %a[next]+\n\t"
            "1:\n\t"
            "clr __zero_reg__\n\t"
            : [scale] "+r"(bits->scale), [cur] "+r"(bits->cur), [after] "+r"(bits->after),
              [next] "+z"(bits->next)
            : [half] "r"(half)
            : "r0");
}
#else
static TL_INLINE uint8_t tl_lookup(const tl_decoder_t *decoder, const tl_reader_t *bits,
                                   uint8_t *symbol, uint8_t *half)
{
    const uint8_t window = (uint8_t)((uint8_t)(bits->cur * bits->scale)
                                     | (uint8_t)(((uint16_t)bits->after * bits->scale) >> 8));
    const tl_entry_t *entry = &decoder->table[window >> (8 - TL_PEEK_BITS)];
    *symbol = entry->symbol;
    *half = entry->half;
    return window;
}

static TL_INLINE void tl_skip(tl_reader_t *bits, uint8_t half)
{
    const uint16_t scale = (uint16_t)(((uint16_t)bits->scale * half) << 1);
    if (scale >> 8) { /* cur is read: the next byte */
        bits->scale = (uint8_t)(scale >> 8);
        bits->cur = bits->after;
        bits->after = TL_U8(bits->next);
        ++bits->next;
    } else {
        bits->scale = (uint8_t)scale;
    }
}
#endif

/* A code word longer than TL_PEEK_BITS: its length by the limits, its symbol's index by the
 * deltas. Returns the symbol, and half (2^(L - 1)) in the high byte. */
static TL_NOINLINE uint16_t tl_decode_long(const tl_decoder_t *decoder, uint8_t window)
{
    uint8_t length = TL_PEEK_BITS;
    uint8_t half = 1u << TL_PEEK_BITS; /* of a code word of TL_PEEK_BITS + 1 bits */
    while (length < decoder->last && window >= decoder->limit[length]) {
        ++length;
        half = (uint8_t)(half << 1);
    }
    return (uint16_t)((uint16_t)half << 8
                      | TL_U8(decoder->symbols
                              + (uint8_t)((uint8_t)(((uint16_t)window * half * 2u) >> 8)
                                          + decoder->delta[length])));
}

static TL_INLINE uint8_t tl_decode(const tl_decoder_t *decoder, tl_reader_t *bits)
{
    uint8_t symbol, half;
    const uint8_t window = tl_lookup(decoder, bits, &symbol, &half);
    if (!half) {
        const uint16_t found = tl_decode_long(decoder, window);
        symbol = (uint8_t)found;
        half = (uint8_t)(found >> 8);
    }
    tl_skip(bits, half);
    return symbol;
}

static TL_INLINE void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    tl_code_start(&source->gap, &weights->gap_code);
    tl_code_start(&source->weight, &weights->weight_code);
    source->bits.cur = TL_U8(weights->bits);
    source->bits.after = TL_U8(weights->bits + 1);
    source->bits.next = weights->bits + 2;
    source->bits.scale = 1;
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
        source->column = (uint16_t)(source->column + tl_decode(&source->gap, &source->bits));
        source->value = (int8_t)tl_decode(&source->weight, &source->bits);
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
 * in registers: the fully connected layers' hot path. */
TL_UNUSED TL_NOINLINE static int32_t tl_source_dot(tl_source_t *source, const int8_t *input,
                                                   uint16_t n)
{
    int32_t acc = 0;
    tl_reader_t bits = source->bits;
    uint16_t left = source->left;
    uint16_t column = source->column;
    int8_t value = source->value;
    uint8_t pending = source->pending;
    for (;;) {
        if (!pending) {
            if (!left) {
                break;
            }
            --left;
            column = (uint16_t)(column + tl_decode(&source->gap, &bits));
            value = (int8_t)tl_decode(&source->weight, &bits);
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
    source->bits = bits;
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
