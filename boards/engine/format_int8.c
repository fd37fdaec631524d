/* TinyLab C engine, weight format "int8": every weight stored, one byte each (lesson 08).
 *
 * A weight format gives the ops their weights as a source of rows: tl_source_start at the
 * first row of an op's weights, then tl_source_dot(source, input, n) returns the next row of
 * n weights times n int8 inputs in RAM, summed (int32). An op never sees how the rows are
 * stored. Reading a row again costs nothing here (TL_SOURCE_STREAMS 1): a convolution
 * starts the source again at every pixel. Copied into the generated model source after
 * common.c. */

#define TL_SOURCE_STREAMS 1

typedef struct {
    const int8_t *weights; /* the rows one after another, in flash */
} tl_weights_t;

typedef struct {
    const int8_t *next; /* the next row */
    uint16_t n;         /* the last row length, and the excess of tl_dot for it */
    uint32_t excess;
} tl_source_t;

#ifdef __AVR__
/* The inner loop, about 10.5 cycles per multiply-accumulate (the bound of docs/benchmarks.md
 * counts 9: lpm, muls and four adds into 32 bits). lpm (3) fetches a weight from flash, ld (2)
 * an input, muls (2) leaves the signed 16-bit product in r1:r0. Two products always fit 16
 * bits together (|w| <= 127, so |w * x| <= 16256), so they are added in pairs (movw, add,
 * adc). Adding a signed 16-bit pair to a wider sum would need its sign extended (3 cycles);
 * flipping its top bit instead (eor, 1) adds pair + 2^15, always >= 0, and plain add/adc
 * into a 24-bit sum do (3; 240 terms fit). The loop makes eight pairs per turn (its 4 cycles
 * shared by 16 products); the n % 16 left are single products, flipped the same way.
 * TL_DOT_EXCESS(n) is what the flipped bits add: 2^15 per pair or single, for
 * (n + n % 16) / 2 of them. */
#define TL_DOT_EXCESS(n) (((uint32_t)(((n) + ((n) & 15u)) >> 1) << 16) >> 1) /* bytes, not 15 shifts */
#define TL_PAIR                      \
    "lpm %[w], Z+\n\t"               \
    "ld %[x], X+\n\t"                \
    "muls %[w], %[x]\n\t"            \
    "movw %A[pair], r0\n\t"          \
    "lpm %[w], Z+\n\t"               \
    "ld %[x], X+\n\t"                \
    "muls %[w], %[x]\n\t"            \
    "add %A[pair], r0\n\t"           \
    "adc %B[pair], r1\n\t"           \
    "eor %B[pair], %[flip]\n\t"      \
    "add %A[sum], %A[pair]\n\t"      \
    "adc %B[sum], %B[pair]\n\t"      \
    "adc %C[sum], %[zero]\n\t"
#define TL_SINGLE                    \
    "lpm %[w], Z+\n\t"               \
    "ld %[x], X+\n\t"                \
    "muls %[w], %[x]\n\t"            \
    "eor r1, %[flip]\n\t"            \
    "add %A[sum], r0\n\t"            \
    "adc %B[sum], r1\n\t"            \
    "adc %C[sum], %[zero]\n\t"

/* sum_i w[i] * x[i] + 2^15 per pair or single, over 16 * turns + left weights in flash and
 * as many inputs in RAM; at most 240 of them, so that the sum fits 24 bits. */
static inline __uint24 tl_dot_block(const int8_t *weights, const int8_t *input, uint8_t turns,
                                    uint8_t left)
{
    __uint24 sum = 0;
    const uint8_t zero = 0, flip = 0x80;
    int8_t w, x;
    uint16_t pair;
    if (turns) {
        __asm__ volatile("1:\n\t" TL_PAIR TL_PAIR TL_PAIR TL_PAIR TL_PAIR TL_PAIR TL_PAIR TL_PAIR
                         "dec %[turns]\n\t"
                         "breq 2f\n\t"
                         "rjmp 1b\n\t" /* brne reaches 64 words back; the loop is longer */
                         "2:\n\t"
                         "clr __zero_reg__\n\t"
                         : [sum] "+r"(sum), [w] "=&d"(w), [x] "=&d"(x), [pair] "=&r"(pair),
                           [turns] "+r"(turns), "+z"(weights), "+x"(input)
                         : [zero] "r"(zero), [flip] "r"(flip)
                         : "r0", "memory");
    }
    if (left) {
        __asm__ volatile("1:\n\t" TL_SINGLE
                         "dec %[left]\n\t"
                         "brne 1b\n\t"
                         "clr __zero_reg__\n\t"
                         : [sum] "+r"(sum), [w] "=&d"(w), [x] "=&d"(x),
                           [left] "+r"(left), "+z"(weights), "+x"(input)
                         : [zero] "r"(zero), [flip] "r"(flip)
                         : "r0", "memory");
    }
    return sum;
}

/* sum_i w[i] * x[i] + TL_DOT_EXCESS(n), mod 2^32: blocks of 240 (a multiple of 16, so that
 * the excess adds up), then the rest, whose size fits a byte. */
static TL_INLINE uint32_t tl_dot(const int8_t *weights, const int8_t *input, uint16_t n)
{
    uint32_t total = 0;
    uint8_t rest;
    while (n > 240u) {
        total += tl_dot_block(weights, input, 15, 0);
        weights += 240;
        input += 240;
        n -= 240u;
    }
    rest = (uint8_t)n;
    return total + tl_dot_block(weights, input, (uint8_t)(rest >> 4), (uint8_t)(rest & 15u));
}
#else
#define TL_DOT_EXCESS(n) 0u
static TL_INLINE uint32_t tl_dot(const int8_t *weights, const int8_t *input, uint16_t n)
{
    uint32_t sum = 0;
    uint16_t i;
    for (i = 0; i < n; ++i) {
        sum += (uint32_t)(int32_t)tl_mul8(weights[i], input[i]); /* mod 2^32 */
    }
    return sum;
}
#endif

static TL_INLINE void tl_source_start(tl_source_t *source, const tl_weights_t *weights)
{
    source->next = weights->weights;
    source->n = 0;
    source->excess = TL_DOT_EXCESS(0);
}

static TL_INLINE int32_t tl_source_dot(tl_source_t *source, const int8_t *input, uint16_t n)
{
    uint32_t sum;
    if (n != source->n) { /* an op's rows all have one length: computed once per op */
        source->n = n;
        source->excess = TL_DOT_EXCESS(n);
    }
    sum = tl_dot(source->next, input, n) - source->excess;
    source->next += n;
    return (int32_t)sum;
}
