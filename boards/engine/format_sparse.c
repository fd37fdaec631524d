/* TinyLab C engine, weight format "sparse": only the non-zero weights (lessons 04 and 08).
 *
 * Deep Compression's relative indices, laid out for an 8-bit MCU. Each row starts with its
 * count of entries (counts: one byte per row, two, little-endian, if wide_counts), so a row
 * ends when its count runs out: no division and no compare per weight. An entry is a weight
 * and its gap, the zeros skipped since the previous entry of the row (or the row's start); a
 * longer run is bridged by a filler entry of weight 0. Two layouts (tinylab.engine.formats.
 * sparse chooses per op):
 *
 *   "shared" (codebook != NULL): EIE's byte (Han et al. 2016), gap << 4 | codebook index.
 *            The codebook (at most 15 distinct weights, then 0 for the fillers) is copied
 *            to RAM when the op starts; each weight is looked up there.
 *   "wide":  two bytes per entry, the gap (0-255) then the int8 weight.
 *
 * Reading a row again means decoding it again (TL_SOURCE_STREAMS 0): a convolution decodes
 * each row once into RAM with tl_source_row and reuses it at every pixel. Copied into the
 * generated model source after common.c. */

#define TL_SOURCE_STREAMS 0

typedef struct {
    const uint8_t *counts;   /* entries per row */
    const uint8_t *entries;  /* the rows' entries, one after another */
    const int8_t *codebook;  /* "shared": the distinct weights, then 0; NULL: "wide" */
    uint8_t n_codebook;
    uint8_t wide_counts;     /* counts take two bytes */
} tl_weights_t;

typedef struct {
    const uint8_t *counts, *entries;
    uint8_t shared, wide_counts;
} tl_source_t;

/* The codebook of the op running now, in RAM. Aligned to 16 bytes, so that the address of
 * entry i is the address of entry 0 with i in its low four bits (one `or` on AVR). */
static int8_t tl_codebook[16] __attribute__((aligned(16)));

static TL_INLINE void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    source->counts = weights->counts;
    source->entries = weights->entries;
    source->wide_counts = weights->wide_counts;
    source->shared = weights->codebook != 0;
    if (source->shared) {
        TL_COPY(tl_codebook, weights->codebook, weights->n_codebook);
    }
}

/* The next row's count of entries. */
static TL_INLINE uint16_t tl_source_count(tl_source_t *source)
{
    uint16_t count = TL_U8(source->counts);
    ++source->counts;
    if (source->wide_counts) {
        count |= (uint16_t)TL_U8(source->counts) << 8;
        ++source->counts;
    }
    return count;
}

#ifdef __AVR__
/* The inner loops on AVR: sum_i w[i] * x[column i] for one block of at most 240 entries (so
 * that the sum stays in 24 bits), plus 2^15 per pair of entries. As in format_int8.c, muls
 * leaves a signed product in r1:r0; two products fit 16 bits together, so they are added in
 * pairs, the pair's top bit flipped (subi 0x80: adds 2^15, making it >= 0) and the pair
 * added into the 24-bit sum with plain add/adc; an odd last entry is a pair of one. Z walks
 * the entries in flash, X the inputs in RAM: each gap moves X on (add, adc), then ld x, X+
 * reads the input and steps past it.
 *
 * "shared", per entry: lpm the byte (3); its low nibble or'd into the 16-byte-aligned
 * codebook's address in Y (3) and the weight loaded (2); swap, andi (2) for the gap; add,
 * adc (2); ld (2); muls (2); then half of a pair's sum (3.5) and of the loop (1.5): 21.
 * "wide", per entry: lpm the gap (3); add, adc (2); lpm the weight (3); ld (2); muls (2):
 * with the pair and loop, 17. */
#define TL_SHARED_ENTRY(then)         \
    "lpm %[e], Z+\n\t"                \
    "mov r28, %[e]\n\t"               \
    "andi r28, 0x0F\n\t"              \
    "ori r28, lo8(%[book])\n\t"       \
    "ld %[w], Y\n\t"                  \
    "swap %[e]\n\t"                   \
    "andi %[e], 0x0F\n\t"             \
    "add r26, %[e]\n\t"               \
    "adc r27, %[zero]\n\t"            \
    "ld %[x], X+\n\t"                 \
    "muls %[w], %[x]\n\t" then
#define TL_WIDE_ENTRY(then)           \
    "lpm %[e], Z+\n\t"                \
    "add r26, %[e]\n\t"               \
    "adc r27, %[zero]\n\t"            \
    "lpm %[w], Z+\n\t"                \
    "ld %[x], X+\n\t"                 \
    "muls %[w], %[x]\n\t" then
#define TL_FIRST "movw %A[pair], r0\n\t"
#define TL_SUM                        \
    "subi %B[pair], 0x80\n\t"         \
    "add %A[sum], %A[pair]\n\t"       \
    "adc %B[sum], %B[pair]\n\t"       \
    "adc %C[sum], %[zero]\n\t"
#define TL_SECOND                     \
    "add %A[pair], r0\n\t"            \
    "adc %B[pair], r1\n\t" TL_SUM
#define TL_LOOP(entry)                                                                     \
    "lsr %[pairs]\n\t" /* carry: an odd count */                                           \
    "brcc 1f\n\t"                                                                          \
    entry(TL_FIRST) TL_SUM                                                                 \
    "1:\n\t"                                                                               \
    "tst %[pairs]\n\t"                                                                     \
    "breq 3f\n\t"                                                                          \
    "2:\n\t" entry(TL_FIRST) entry(TL_SECOND)                                              \
    "dec %[pairs]\n\t"                                                                     \
    "brne 2b\n\t"                                                                          \
    "3:\n\t"                                                                               \
    "clr __zero_reg__\n\t"

#endif

/* The entry at *entries, in plain C: its weight, with *column moved on by its gap and
 * *entries past it. */
static TL_INLINE int8_t tl_entry(const tl_source_t *source, const uint8_t **entries,
                                 uint16_t *column)
{
    const uint8_t e = TL_U8(*entries);
    if (source->shared) {
        *column = (uint16_t)(*column + (e >> 4));
        ++*entries;
        return tl_codebook[e & 15u];
    }
    *column = (uint16_t)(*column + e);
    *entries += 2;
    return (int8_t)TL_U8(*entries - 1);
}

/* sum_i w[i] * x[column i] over count entries, in plain C: the host's loop, and on AVR the
 * loop for a row of more than 240 entries. */
TL_NOINLINE static int32_t tl_entries_dot(tl_source_t *source, const int8_t *input,
                                          uint16_t count)
{
    const uint8_t *entries = source->entries;
    int32_t sum = 0;
    uint16_t column = 0;
    while (count--) {
        const int8_t w = tl_entry(source, &entries, &column);
        sum += tl_mul8(w, input[column]);
        ++column;
    }
    source->entries = entries;
    return sum;
}

/* The next row times n int8 inputs in RAM, summed (int32). Inlined into the op's run: the
 * assembly keeps its own registers, and a call cost 116 more cycles per row (its saved
 * registers and the source's fields through a pointer; measured in simavr on the distilled
 * 64-25-10 model). */
static TL_INLINE int32_t tl_source_dot(tl_source_t *source, const int8_t *input, uint16_t n)
{
    const uint16_t count = tl_source_count(source);
#ifdef __AVR__
    const uint8_t *entries = source->entries;
    const uint8_t zero = 0;
    uint8_t size = (uint8_t)count, e;
    int8_t w, x;
    uint16_t pair;
    __uint24 sum = 0;
    (void)n;
    if (count > 240u) { /* the 24-bit sum could overflow: rare, slow */
        return tl_entries_dot(source, input, count);
    }
    /* The shared loop points Y (r28:r29) into the codebook. Y may hold this function's
     * stack frame, so the loop saves it, and no operand may sit in it: the operands'
     * classes, "a" (r16-r23) and "l" (r2-r15), leave it out. */
    if (source->shared) {
        __asm__ volatile("push r28\n\t"
                         "push r29\n\t"
                         "ldi r29, hi8(%[book])\n\t" TL_LOOP(TL_SHARED_ENTRY)
                         "pop r29\n\t"
                         "pop r28\n\t"
                         : [sum] "+l"(sum), [e] "=&a"(e), [w] "=&a"(w), [x] "=&a"(x),
                           [pair] "=&a"(pair), [pairs] "+l"(size), "+z"(entries), "+x"(input)
                         : [zero] "l"(zero), [book] "i"(tl_codebook)
                         : "r0", "memory");
    } else {
        __asm__ volatile(TL_LOOP(TL_WIDE_ENTRY)
                         : [sum] "+r"(sum), [e] "=&r"(e), [w] "=&d"(w), [x] "=&d"(x),
                           [pair] "=&d"(pair), [pairs] "+r"(size), "+z"(entries), "+x"(input)
                         : [zero] "r"(zero)
                         : "r0", "memory");
    }
    source->entries = entries;
    /* minus 2^15 per pair or odd entry: byte moves, not 15 shifts */
    return (int32_t)((uint32_t)sum - (((uint32_t)(uint8_t)((count + 1u) >> 1) << 16) >> 1));
#else
    (void)n;
    return tl_entries_dot(source, input, count);
#endif
}

/* The next row of n weights, decoded into RAM. */
TL_UNUSED static void tl_source_row(tl_source_t *source, int8_t *row, uint16_t n)
{
    uint16_t count = tl_source_count(source), column = 0;
    const uint8_t *entries = source->entries;
    memset(row, 0, n);
    while (count--) {
        const int8_t w = tl_entry(source, &entries, &column);
        row[column] = w; /* a filler writes its 0 over a 0 */
        ++column;
    }
    source->entries = entries;
}
