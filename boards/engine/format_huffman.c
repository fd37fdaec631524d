/* TinyLab C engine, weight format "huffman": Deep Compression decoded on the fly (lesson 07).
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
 * starts, both codes' canonical counts and symbols are expanded into one RAM table indexed
 * by the first 6 of those bits (TL_PEEK_BITS): for each, a slot of 4 bytes, the gap code's
 * symbol and 2^L (L its code word's length), then the weight code's. A longer code word
 * (2% of them in the 70%-pruned 64-25-10 model, 5% in the 90%-pruned teacher, most weights
 * of the unpruned student) is 7 or 8 bits long and takes the canonical slow path: canonical
 * code words of one length are consecutive numbers and shorter ones come first, so it has 7
 * bits if the 8 bits are at most the last 7-bit code word's (limit), and its symbol's index
 * is its value plus delta7 or delta8 (index of the first symbol of that length minus the
 * first code word), as in zlib's and JPEG's decoders. Past a code word of L bits the
 * reader multiplies its scale by 2^L (one `mul` again).
 *
 * On AVR the rows' loop (tl_source_dot, and tl_source_row for convolutions) is one inline
 * asm block, with the cycle budget below; elsewhere the same logic is plain C.
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

/* The next 8 bits are looked up in a table of their first TL_PEEK_BITS: 4 bytes of RAM per
 * entry (both codes), 256 bytes in all (on the op's stack while it runs). Measured (simavr,
 * the 64-25-10 and 64-280-67-10 pruned models): 2% and 5% of the code words are longer. The
 * AVR loop assumes 6 (andi 0xFC makes the slot's offset) and code words of 7 and 8 bits
 * past it. */
#define TL_PEEK_BITS 6
#define TL_GAP 0    /* the codes, in a slot and in tl_decoder_t.longs */
#define TL_WEIGHT 1

typedef struct {
    uint8_t symbol;
    uint8_t mult; /* 2^L for a code word of L <= TL_PEEK_BITS bits; 0: a longer one */
} tl_entry_t;

typedef struct {
    tl_entry_t code[2]; /* TL_GAP, TL_WEIGHT */
} tl_slot_t;

/* A code's code words of 7 and 8 bits. */
typedef struct {
    /* The last 7-bit code word's 8 bits, 7 bits then a 1: ((first7 + count7) << 1) - 1, mod
     * 256. Exact for every code the format stores: it wraps only if first7 + count7 is 128
     * (then no code word has 8 bits: 255 is right) or 0 (all 256 code words have 8 bits,
     * whose count does not fit counts' uint8_t). */
    uint8_t limit;
    uint8_t delta7; /* a 7-bit code word's symbol index: the code word + delta7, mod 256 */
    uint8_t delta8; /* an 8-bit one's: the code word + delta8 */
    const uint8_t *symbols;
} tl_long_t;

/* The op's codes, ready to decode (RAM). The AVR loop finds longs 256 bytes past table. */
typedef struct {
    tl_slot_t table[1u << TL_PEEK_BITS];
    tl_long_t longs[2];
} tl_decoder_t;

/* The bit reader: the bytes cur and after, of which 8 - log2(scale) bits are left in cur. */
typedef struct {
    const uint8_t *next; /* the byte to load after `after` */
    uint8_t cur, after;
    uint8_t scale; /* 2^(bits of cur read), 1 to 128 */
} tl_reader_t;

/* The reader's state first: the AVR loop reaches it by ldd/std from the source's address. */
typedef struct {
    tl_reader_t bits;
    uint16_t left;   /* entries not read yet */
    uint16_t column; /* where the read entry (or the next) is, from the current row's start */
    int8_t value;    /* the entry read but not used yet, if pending */
    uint8_t pending;
    tl_decoder_t decoder;
} tl_source_t;

#ifdef __AVR__
/* Fills n (a power of 2) table entries from entry (4 bytes apart) with symbol and mult: two
 * per turn, 6.5 cycles an entry. */
static TL_INLINE uint8_t *tl_fill(uint8_t *entry, uint8_t n, uint8_t symbol, uint8_t mult)
{
    if (n == 1) {
        entry[0] = symbol;
        entry[1] = mult;
        return entry + sizeof(tl_slot_t);
    }
    n >>= 1;
    __asm__ volatile("1:\n\t"
                     "st Z, %[symbol]\n\t"
                     "std Z+1, %[mult]\n\t"
                     "std Z+4, %[symbol]\n\t"
                     "std Z+5, %[mult]\n\t"
                     "adiw r30, 8\n\t"
                     "dec %[n]\n\t"
                     "brne 1b\n\t"
                     : "+z"(entry), [n] "+r"(n)
                     : [symbol] "r"(symbol), [mult] "r"(mult)
                     : "memory");
    return entry;
}
#else
static uint8_t *tl_fill(uint8_t *entry, uint8_t n, uint8_t symbol, uint8_t mult)
{
    for (; n; --n, entry += sizeof(tl_slot_t)) {
        entry[0] = symbol;
        entry[1] = mult;
    }
    return entry;
}
#endif

/* Expands a canonical code into its entries of the table (every 4th byte from `entry`) and
 * its long code words' limit and deltas. */
static TL_NOINLINE void tl_code_start(tl_decoder_t *decoder, uint8_t which, const tl_code_t *code)
{
    uint8_t first = 0; /* the first code word of length `length`, mod 256 */
    uint8_t index = 0, length, count, k, mult = 1;
    uint8_t repeat = 1u << TL_PEEK_BITS; /* table entries per code word of `length` bits */
    const uint8_t *symbol = code->symbols, *counts = code->counts;
    const uint8_t max_length = code->max_length;
    uint8_t *entry = &decoder->table[0].code[which].symbol;
    uint8_t *const end = entry + sizeof decoder->table;
    tl_long_t *longs = &decoder->longs[which];
    longs->symbols = symbol;
    longs->limit = 0xFF;
    for (length = 1; length <= max_length; ++length) {
        count = TL_U8(counts);
        ++counts;
        repeat >>= 1;
        mult = (uint8_t)(mult << 1);
        if (length <= TL_PEEK_BITS) {
            for (k = count; k; --k) {
                entry = tl_fill(entry, repeat, TL_U8(symbol), mult);
                ++symbol;
            }
        } else if (length == TL_PEEK_BITS + 1) {
            longs->limit = (uint8_t)(((first + count) << 1) - 1u);
            longs->delta7 = (uint8_t)(index - first);
        } else {
            longs->delta8 = (uint8_t)(index - first);
        }
        index = (uint8_t)(index + count);
        first = (uint8_t)((first + count) << 1);
    }
    for (; entry < end; entry += sizeof(tl_slot_t)) { /* longer code words (or none) */
        entry[1] = 0;
    }
}

static TL_INLINE void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    tl_code_start(&source->decoder, TL_GAP, &weights->gap_code);
    tl_code_start(&source->decoder, TL_WEIGHT, &weights->weight_code);
    source->bits.cur = TL_U8(weights->bits);
    source->bits.after = TL_U8(weights->bits + 1);
    source->bits.next = weights->bits + 2;
    source->bits.scale = 1;
    source->left = weights->n_entries;
    source->column = 0;
    source->pending = 0;
}

#ifdef __AVR__
#include <stddef.h> /* offsetof */

/* The rows' loop on AVR, one asm block: load the source's state, decode entries and, for each
 * in the row (X = its input or row element, below end), do `action`; stop at an entry past
 * the row (pending) or when none is left; store the state. Z walks the bit stream in flash,
 * X the row, Y the table (Y may be the frame pointer: it is saved). Registers are fixed
 * (named below); avr-gcc saves the call-saved ones in the prologue (11 of them: 44 cycles a
 * row). With the loads and stores, about 110 cycles a row besides the entries.
 *
 * A code word, table path: the next 8 bits (t) by two `mul` (6 cycles); Y = table + (t &
 * 0xFC), the code's symbol and 2^L loaded (8); scale * 2^L by `mul`, 0 (breq) for a long
 * code word (3); its low byte is the new scale unless its high byte is not 0 (2, a branch:
 * 2 or 1), then that is, and the next byte is loaded (+5). Code words of 3 bits on average:
 * about 22.5 cycles. Per entry: the gap's code word, X += gap (2), the weight's, X against
 * end (3), the action (dot: ld, muls, add into 32 bits with the product's top bit flipped as
 * in format_int8.c: 9), the count of entries left (subi, brcc: 3): about 62 cycles.
 *
 * A long code word (the slow path) adds about 25 cycles: the 8 bits again, the limit,
 * delta and symbol pointer from Y = table + 256, the symbol by lpm (Z saved on the stack). */
#define TL_CUR "r2"
#define TL_AFTER "r3"
#define TL_SCALE "r4"
#define TL_ZERO "r5"
#define TL_TABLE "r6"   /* r6:r7, the source's decoder.table */
#define TL_END "r8"     /* r8:r9, start + n */
#define TL_END_HI "r9"
#define TL_FLIP "r10"   /* 0x80 */
#define TL_T "r16"      /* the next 8 bits */
#define TL_MULT "r17"   /* 2^L */
#define TL_W "r18"      /* the weight */
#define TL_SYM "r19"    /* the gap, then the input */
#define TL_LEFT "r20"   /* r20:r21, entries left */
#define TL_LEFT_HI "r21"
#define TL_REGS "r0", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r16", "r17", \
                "r18", "r19", "memory"
#define TL_PEEK                                  \
    "mul " TL_CUR ", " TL_SCALE "\n\t"           \
    "mov " TL_T ", r0\n\t"                       \
    "mul " TL_AFTER ", " TL_SCALE "\n\t"         \
    "or " TL_T ", r1\n\t"
/* One code word into dest; its symbol and 2^L at Y + sym_at and Y + mult_at; a long one goes
 * to `slow`, which comes back to the label `done`. */
#define TL_DECODE(dest, sym_at, mult_at, slow, done) \
    TL_PEEK                                      \
    "andi " TL_T ", 0xFC\n\t"                    \
    "movw r28, " TL_TABLE "\n\t"                 \
    "add r28, " TL_T "\n\t"                      \
    "adc r29, " TL_ZERO "\n\t"                   \
    "ldd " dest ", Y+" sym_at "\n\t"             \
    "ldd " TL_MULT ", Y+" mult_at "\n\t"         \
    "mul " TL_SCALE ", " TL_MULT "\n\t"          \
    "breq " slow "\n\t"                          \
    "mov " TL_SCALE ", r0\n\t"                   \
    "tst r1\n\t"                                 \
    "breq " done "f\n\t"                         \
    "mov " TL_SCALE ", r1\n\t" /* cur is read */ \
    "mov " TL_CUR ", " TL_AFTER "\n\t"           \
    "lpm " TL_AFTER ", Z+\n\t"                   \
    done ":\n\t"
/* A code word of 7 or 8 bits into dest; the code's tl_long_t is at table + 256 + `longs`. */
#define TL_LONG(dest, longs, back)                                                      \
    TL_PEEK                                                                             \
    "movw r28, " TL_TABLE "\n\t"                                                        \
    "inc r29\n\t"                                                                       \
    "ldd " TL_MULT ", Y+" longs "\n\t" /* limit */                                      \
    "cp " TL_MULT ", " TL_T "\n\t"                                                      \
    "brlo 10f\n\t"                                                                      \
    "lsr " TL_T "\n\t" /* 7 bits */                                                     \
    "ldd " TL_MULT ", Y+" longs "+1\n\t"                                                \
    "lsr " TL_SCALE "\n\t" /* scale * 2^7 / 2^8 */                                      \
    "brne 11f\n\t"                                                                      \
    "ror " TL_SCALE "\n\t" /* scale was 1: 128, from the carry */                       \
    "rjmp 12f\n\t"                                                                      \
    "10:\n\t"                                                                           \
    "ldd " TL_MULT ", Y+" longs "+2\n\t" /* 8 bits: the scale stays, the next byte */   \
    "11:\n\t"                                                                           \
    "mov " TL_CUR ", " TL_AFTER "\n\t"                                                  \
    "lpm " TL_AFTER ", Z+\n\t"                                                          \
    "12:\n\t"                                                                           \
    "add " TL_T ", " TL_MULT "\n\t"                                                     \
    "push r30\n\t"                                                                      \
    "push r31\n\t"                                                                      \
    "ldd r30, Y+" longs "+3\n\t"                                                        \
    "ldd r31, Y+" longs "+4\n\t"                                                        \
    "add r30, " TL_T "\n\t"                                                             \
    "adc r31, " TL_ZERO "\n\t"                                                          \
    "lpm " dest ", Z\n\t"                                                               \
    "pop r31\n\t"                                                                       \
    "pop r30\n\t"                                                                       \
    "rjmp " back "\n\t"
/* tl_long_t's offsets from table + 256 (1-byte alignment on AVR) */
#define TL_GAP_LONG "0"
#define TL_WEIGHT_LONG "5"
/* In: Z = source, X = start (the input or row), r20:r21 = n. `setup` and `finish` are the
 * action's. */
#define TL_LOOP(setup, action, finish)                                                      \
    "push r28\n\t"                                                                          \
    "push r29\n\t"                                                                          \
    "movw r28, r30\n\t" /* Y = source */                                                    \
    "movw " TL_END ", r26\n\t"                                                              \
    "add " TL_END ", r20\n\t"                                                               \
    "adc " TL_END_HI ", r21\n\t"                                                             \
    "ldd r30, Y+%[o_next]\n\t"                                                              \
    "ldd r31, Y+%[o_next]+1\n\t"                                                            \
    "ldd " TL_CUR ", Y+%[o_cur]\n\t"                                                        \
    "ldd " TL_AFTER ", Y+%[o_after]\n\t"                                                    \
    "ldd " TL_SCALE ", Y+%[o_scale]\n\t"                                                    \
    "ldd " TL_T ", Y+%[o_column]\n\t"                                                       \
    "add r26, " TL_T "\n\t"                                                                 \
    "ldd " TL_T ", Y+%[o_column]+1\n\t"                                                     \
    "adc r27, " TL_T "\n\t" /* X = start + column */                                        \
    "ldd " TL_LEFT ", Y+%[o_left]\n\t"                                                      \
    "ldd " TL_LEFT_HI ", Y+%[o_left]+1\n\t"                                                  \
    "ldd " TL_W ", Y+%[o_value]\n\t"                                                        \
    "ldd " TL_MULT ", Y+%[o_pending]\n\t"                                                   \
    "clr " TL_ZERO "\n\t"                                                                   \
    setup                                                                                   \
    "adiw r28, %[o_table]\n\t"                                                              \
    "movw " TL_TABLE ", r28\n\t"                                                            \
    "cpse " TL_MULT ", " TL_ZERO "\n\t"                                                     \
    "rjmp 5f\n\t" /* the pending entry: is it in this row? */                               \
    "rjmp 4f\n\t"                                                                           \
    "7:\n\t" TL_LONG(TL_SYM, TL_GAP_LONG, "2f")                                             \
    "1:\n\t" TL_DECODE(TL_SYM, "0", "1", "7b", "2")                                         \
    "add r26, " TL_SYM "\n\t"                                                               \
    "adc r27, " TL_ZERO "\n\t"                                                              \
    TL_DECODE(TL_W, "2", "3", "8f", "3")                                                    \
    "5:\n\t"                                                                                \
    "cp r26, " TL_END "\n\t"                                                                \
    "cpc r27, " TL_END_HI "\n\t"                                                             \
    "brsh 6f\n\t" /* in a later row */                                                      \
    action                                                                                  \
    "4:\n\t"                                                                                \
    "subi " TL_LEFT ", 1\n\t"                                                               \
    "brcc 1b\n\t"                                                                           \
    "subi " TL_LEFT_HI ", 1\n\t"                                                             \
    "brcc 1b\n\t"                                                                           \
    "rjmp 9f\n\t" /* none left */                                                          \
    "8:\n\t" TL_LONG(TL_W, TL_WEIGHT_LONG, "3b")                                            \
    "6:\n\t" /* pending: X is column (of the next row) past end */                          \
    "movw r28, " TL_TABLE "\n\t"                                                            \
    "sbiw r28, %[o_table]\n\t"                                                              \
    "sub r26, " TL_END "\n\t"                                                               \
    "sbc r27, " TL_END_HI "\n\t"                                                            \
    "std Y+%[o_column], r26\n\t"                                                            \
    "std Y+%[o_column]+1, r27\n\t"                                                          \
    "ldi " TL_MULT ", 1\n\t"                                                                \
    "rjmp 13f\n\t"                                                                          \
    "9:\n\t" /* none left (0xFFFF): 0, none pending, the column does not matter */          \
    "movw r28, " TL_TABLE "\n\t"                                                            \
    "sbiw r28, %[o_table]\n\t"                                                              \
    "clr " TL_LEFT "\n\t"                                                                   \
    "clr " TL_LEFT_HI "\n\t"                                                                \
    "clr " TL_MULT "\n\t"                                                                   \
    "13:\n\t"                                                                               \
    finish /* Y = source: its old left and pending, r20:r21 and r17 the new */              \
    "std Y+%[o_pending], " TL_MULT "\n\t"                                                   \
    "std Y+%[o_left], " TL_LEFT "\n\t"                                                      \
    "std Y+%[o_left]+1, " TL_LEFT_HI "\n\t"                                                  \
    "std Y+%[o_value], " TL_W "\n\t"                                                        \
    "std Y+%[o_next], r30\n\t"                                                              \
    "std Y+%[o_next]+1, r31\n\t"                                                            \
    "std Y+%[o_cur], " TL_CUR "\n\t"                                                        \
    "std Y+%[o_after], " TL_AFTER "\n\t"                                                    \
    "std Y+%[o_scale], " TL_SCALE "\n\t"                                                    \
    "pop r29\n\t"                                                                           \
    "pop r28\n\t"                                                                           \
    "clr __zero_reg__\n\t"
#define TL_OFFSETS                                                                          \
    [o_next] "I"(offsetof(tl_source_t, bits.next)),                                         \
    [o_cur] "I"(offsetof(tl_source_t, bits.cur)),                                           \
    [o_after] "I"(offsetof(tl_source_t, bits.after)),                                       \
    [o_scale] "I"(offsetof(tl_source_t, bits.scale)),                                       \
    [o_left] "I"(offsetof(tl_source_t, left)),                                              \
    [o_column] "I"(offsetof(tl_source_t, column)),                                          \
    [o_value] "I"(offsetof(tl_source_t, value)),                                            \
    [o_pending] "I"(offsetof(tl_source_t, pending)),                                        \
    [o_table] "I"(offsetof(tl_source_t, decoder.table))

/* The next row times n int8 inputs in RAM, summed (int32). Each product is added with its
 * top bit flipped (2^15 more, so that 32-bit add/adc need no sign extension); the excess,
 * 2^15 per entry used, is taken off at the end: entries used = old left + old pending - new
 * left - new pending. */
TL_UNUSED TL_NOINLINE static int32_t tl_source_dot(tl_source_t *source, const int8_t *input,
                                                   uint16_t n)
{
    register uint32_t sum __asm__("r22");
    register tl_source_t *z __asm__("r30") = source;
    register const int8_t *x __asm__("r26") = input;
    register uint16_t count __asm__("r20") = n;
    __asm__ volatile(TL_LOOP("ldi " TL_T ", 0x80\n\t"
                             "mov " TL_FLIP ", " TL_T "\n\t"
                             "clr r22\n\t"
                             "clr r23\n\t"
                             "movw r24, r22\n\t",
                             "ld " TL_SYM ", X+\n\t"
                             "muls " TL_W ", " TL_SYM "\n\t"
                             "eor r1, " TL_FLIP "\n\t"
                             "add r22, r0\n\t"
                             "adc r23, r1\n\t"
                             "adc r24, " TL_ZERO "\n\t"
                             "adc r25, " TL_ZERO "\n\t",
                             "ldd r26, Y+%[o_left]\n\t" /* X = entries used */
                             "ldd r27, Y+%[o_left]+1\n\t"
                             "ldd " TL_T ", Y+%[o_pending]\n\t"
                             "add r26, " TL_T "\n\t"
                             "adc r27, " TL_ZERO "\n\t"
                             "sub r26, " TL_LEFT "\n\t"
                             "sbc r27, " TL_LEFT_HI "\n\t"
                             "sub r26, " TL_MULT "\n\t"
                             "sbc r27, " TL_ZERO "\n\t"
                             "lsr r27\n\t" /* sum -= X << 15 */
                             "ror r26\n\t"
                             "clr " TL_T "\n\t"
                             "ror " TL_T "\n\t"
                             "sub r23, " TL_T "\n\t"
                             "sbc r24, r26\n\t"
                             "sbc r25, r27\n\t")
                     : "=r"(sum), "+z"(z), "+x"(x), "+r"(count)
                     : TL_OFFSETS
                     : TL_REGS);
    return (int32_t)sum;
}

/* The next row of n weights, decoded into RAM. */
TL_UNUSED TL_NOINLINE static void tl_source_row(tl_source_t *source, int8_t *row, uint16_t n)
{
    memset(row, 0, n);
    {
        register tl_source_t *z __asm__("r30") = source;
        register int8_t *x __asm__("r26") = row;
        register uint16_t count __asm__("r20") = n;
        __asm__ volatile(TL_LOOP("",
                                 "st X+, " TL_W "\n\t", /* a filler writes its 0 over a 0 */
                                 "")
                         : "+z"(z), "+x"(x), "+r"(count)
                         : TL_OFFSETS
                         : TL_REGS, "r22", "r23", "r24", "r25");
    }
}
#else
/* One code word (code: TL_GAP or TL_WEIGHT): the logic of the AVR loop. */
static uint8_t tl_decode(const tl_decoder_t *decoder, uint8_t code, tl_reader_t *bits)
{
    const uint8_t window = (uint8_t)((uint8_t)(bits->cur * bits->scale)
                                     | (uint8_t)(((uint16_t)bits->after * bits->scale) >> 8));
    const tl_entry_t *entry = &decoder->table[window >> (8 - TL_PEEK_BITS)].code[code];
    uint8_t symbol = entry->symbol;
    uint16_t scale = (uint16_t)(bits->scale * entry->mult);
    if (!entry->mult) { /* 7 or 8 bits */
        const tl_long_t *longs = &decoder->longs[code];
        uint8_t index;
        if (window <= longs->limit) {
            index = (uint8_t)((window >> 1) + longs->delta7);
            scale = (uint16_t)(bits->scale << 7);
        } else {
            index = (uint8_t)(window + longs->delta8);
            scale = (uint16_t)(bits->scale << 8);
        }
        symbol = TL_U8(longs->symbols + index);
    }
    if (scale >> 8) { /* cur is read: the next byte */
        bits->scale = (uint8_t)(scale >> 8);
        bits->cur = bits->after;
        bits->after = TL_U8(bits->next);
        ++bits->next;
    } else {
        bits->scale = (uint8_t)scale;
    }
    return symbol;
}

/* The next entry of the current row of n weights: 1 with source->column and source->value
 * set, or 0 at the row's end (the source then stands at the next row). */
static uint8_t tl_source_entry(tl_source_t *source, uint16_t n)
{
    if (!source->pending) {
        if (!source->left) {
            return 0;
        }
        --source->left;
        source->column = (uint16_t)(source->column + tl_decode(&source->decoder, TL_GAP,
                                                               &source->bits));
        source->value = (int8_t)tl_decode(&source->decoder, TL_WEIGHT, &source->bits);
        source->pending = 1;
    }
    if (source->column >= n) { /* the entry is in a later row */
        source->column = (uint16_t)(source->column - n);
        return 0;
    }
    source->pending = 0;
    return 1;
}

/* The next row times n int8 inputs in RAM, summed (int32). */
TL_UNUSED static int32_t tl_source_dot(tl_source_t *source, const int8_t *input, uint16_t n)
{
    int32_t acc = 0;
    while (tl_source_entry(source, n)) {
        acc += tl_mul8(source->value, input[source->column]);
        ++source->column;
    }
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
#endif
