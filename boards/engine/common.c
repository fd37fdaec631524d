/* TinyLab C engine: what every op and weight format shares (lessons 07_deploy, 09_cnn).
 *
 * tinylab.engine.generate_c copies this text into the model source it generates, before the
 * weight format (format_<name>.c), the ops the model uses (op_<kind>.c) and the model's data;
 * it is not compiled on its own.
 *
 * The epilogue of every op with weights, and of MEAN, is TensorFlow Lite Micro's: the bias,
 * then TFLM's default double-rounding MultiplyByQuantizedMultiplier (kernels/internal/
 * common.cc: gemmlowp's SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), the
 * output zero point and the activation's clamp, so every output byte equals TFLM's. Plain
 * C99 outside the AVR fast paths; weights live in flash (PROGMEM on AVR, const elsewhere).
 */
#include <stdint.h>
#include <string.h>

/* A helper some models do not call (a model without weights calls no weight source); a
 * function that must keep its own registers: each op's run (inlined into one large
 * tl_model_run the ops spill their state to the stack: measured 54% more cycles for the
 * sparse format's former C loop); and small helpers every output calls, inlined whatever the
 * number of ops that call them (GCC inlines them when one op does and calls them when two
 * do: 50% more cycles for the lesson cnn's first convolution, measured in simavr). */
#ifdef __GNUC__
#define TL_UNUSED __attribute__((unused))
#define TL_NOINLINE __attribute__((noinline))
#define TL_INLINE __attribute__((always_inline, unused)) inline
#else
#define TL_UNUSED
#define TL_NOINLINE
#define TL_INLINE inline
#endif

#ifdef __AVR__
#include <avr/pgmspace.h>
#define TL_FLASH PROGMEM
#define TL_U8(p) pgm_read_byte(p)
#define TL_I32(p) ((int32_t)pgm_read_dword(p))
#define TL_I16(p) ((int16_t)pgm_read_word(p))
#define TL_COPY(to, from, n) memcpy_P((to), (from), (n))
#else
#define TL_FLASH
#define TL_U8(p) (*(const uint8_t *)(p))
#define TL_I32(p) (*(p))
#define TL_I16(p) (*(p))
#define TL_COPY(to, from, n) memcpy((to), (from), (n))
#endif

/* int8 x int8 -> int16. avr-gcc turns `acc += (int16_t)(a * b)` into a call to its 16x16->32
 * multiply (__mulhisi3); one `muls` (2 cycles) is all the product needs. */
#ifdef __AVR__
TL_UNUSED static inline int16_t tl_mul8(int8_t a, int8_t b)
{
    int16_t product;
    __asm__("muls %1, %2\n\tmovw %0, r0\n\tclr __zero_reg__" : "=r"(product) : "d"(a), "d"(b));
    return product;
}
#else
TL_UNUSED static inline int16_t tl_mul8(int8_t a, int8_t b)
{
    return (int16_t)(a * b);
}
#endif

/* floor((a * b + 2^30) / 2^31) for a <= 2^31, b < 2^31; *inexact says whether the division
 * left a remainder. A 64-bit product is a libgcc call of hundreds of cycles on AVR
 * (__muldi3), and at -Os even 16x16 -> 32 becomes a 32x32 multiply. This is the schoolbook
 * product, byte by byte, starting from 2^30 (0x40 in byte 3): the partial products
 * a[i] * b[j] are added column by column (i + j = k) into bytes k, k + 1, k + 2, which
 * cannot overflow. The four products of a's top byte come last, carried through to the top,
 * and only when that byte is not 0 (an accumulator rarely reaches 2^24). The division by
 * 2^31 is one left shift of the top five bytes. About 85 cycles. */
#ifdef __AVR__
static uint32_t tl_high_mul(uint32_t a, uint32_t b, uint8_t *inexact)
{
    uint32_t q, rest;
    const uint8_t zero = 0, quarter = 0x40;
    __asm__("clr %A[rest]\n\t"
            "clr %B[rest]\n\t"
            "clr %C[rest]\n\t"
            "clr %A[q]\n\t"
            "clr %B[q]\n\t"
            "clr %C[q]\n\t"
            "clr %D[q]\n\t"
            "mov %D[rest], %[quarter]\n\t"
            "mul %A[a], %A[b]\n\t"
            "add %A[rest], r0\n\t"
            "adc %B[rest], r1\n\t"
            "adc %C[rest], %[zero]\n\t"
            "mul %A[a], %B[b]\n\t"
            "add %B[rest], r0\n\t"
            "adc %C[rest], r1\n\t"
            "adc %D[rest], %[zero]\n\t"
            "mul %B[a], %A[b]\n\t"
            "add %B[rest], r0\n\t"
            "adc %C[rest], r1\n\t"
            "adc %D[rest], %[zero]\n\t"
            "mul %A[a], %C[b]\n\t"
            "add %C[rest], r0\n\t"
            "adc %D[rest], r1\n\t"
            "adc %A[q], %[zero]\n\t"
            "mul %B[a], %B[b]\n\t"
            "add %C[rest], r0\n\t"
            "adc %D[rest], r1\n\t"
            "adc %A[q], %[zero]\n\t"
            "mul %C[a], %A[b]\n\t"
            "add %C[rest], r0\n\t"
            "adc %D[rest], r1\n\t"
            "adc %A[q], %[zero]\n\t"
            "mul %A[a], %D[b]\n\t"
            "add %D[rest], r0\n\t"
            "adc %A[q], r1\n\t"
            "adc %B[q], %[zero]\n\t"
            "mul %B[a], %C[b]\n\t"
            "add %D[rest], r0\n\t"
            "adc %A[q], r1\n\t"
            "adc %B[q], %[zero]\n\t"
            "mul %C[a], %B[b]\n\t"
            "add %D[rest], r0\n\t"
            "adc %A[q], r1\n\t"
            "adc %B[q], %[zero]\n\t"
            "mul %B[a], %D[b]\n\t"
            "add %A[q], r0\n\t"
            "adc %B[q], r1\n\t"
            "adc %C[q], %[zero]\n\t"
            "mul %C[a], %C[b]\n\t"
            "add %A[q], r0\n\t"
            "adc %B[q], r1\n\t"
            "adc %C[q], %[zero]\n\t"
            "mul %C[a], %D[b]\n\t"
            "add %B[q], r0\n\t"
            "adc %C[q], r1\n\t"
            "adc %D[q], %[zero]\n\t"
            "tst %D[a]\n\t"
            "breq 1f\n\t"
            "mul %D[a], %A[b]\n\t"
            "add %D[rest], r0\n\t"
            "adc %A[q], r1\n\t"
            "adc %B[q], %[zero]\n\t"
            "adc %C[q], %[zero]\n\t"
            "adc %D[q], %[zero]\n\t"
            "mul %D[a], %B[b]\n\t"
            "add %A[q], r0\n\t"
            "adc %B[q], r1\n\t"
            "adc %C[q], %[zero]\n\t"
            "adc %D[q], %[zero]\n\t"
            "mul %D[a], %C[b]\n\t"
            "add %B[q], r0\n\t"
            "adc %C[q], r1\n\t"
            "adc %D[q], %[zero]\n\t"
            "mul %D[a], %D[b]\n\t"
            "add %C[q], r0\n\t"
            "adc %D[q], r1\n\t"
            "1:\n\t"
            "clr __zero_reg__\n\t"
            "lsl %D[rest]\n\t"
            "rol %A[q]\n\t"
            "rol %B[q]\n\t"
            "rol %C[q]\n\t"
            "rol %D[q]\n\t"
            "or %A[rest], %B[rest]\n\t"
            "or %A[rest], %C[rest]\n\t"
            "or %A[rest], %D[rest]\n\t"
            : [q] "=&r"(q), [rest] "=&r"(rest)
            : [a] "r"(a), [b] "r"(b), [zero] "r"(zero), [quarter] "r"(quarter)
            : "r0");
    *inexact = (uint8_t)rest;
    return q;
}
#else
static uint32_t tl_high_mul(uint32_t a, uint32_t b, uint8_t *inexact)
{
    const uint64_t nudged = (uint64_t)a * b + ((uint64_t)1 << 30);
    *inexact = (nudged & 0x7FFFFFFFu) != 0;
    return (uint32_t)(nudged >> 31);
}
#endif

/* From a layer's int32 accumulator to its int8 output, one output unit at a time. */
typedef struct {
    const void *bias;          /* one per output unit, in bias_bytes each, or NULL */
    const int32_t *multiplier; /* Q0.31 fixed point: one per unit if per_channel, else one */
    const int8_t *shift;       /* power-of-two exponent of each multiplier */
    int16_t output_offset;     /* the output zero point */
    int16_t activation_min;    /* the fused activation (ReLU, or none) as a clamp, int8 values */
    int16_t activation_max;    /* (held in 16 bits: the clamp runs in 16 bits) */
    uint8_t per_channel;
    uint8_t bias_bytes;        /* 3 (24 bits, little-endian) when every bias of the op
                                  fits, else 4 (int32); 0: none */
} tl_requant_t;

/* x >> n for n < 32: whole bytes first (AVR moves them), then at most 7 one-bit steps. A
 * plain variable shift is a loop of n steps of 32 bits. */
static inline uint32_t tl_shift_right(uint32_t x, uint8_t n)
{
    if (n & 16u) {
        x >>= 16;
    }
    if (n & 8u) {
        x >>= 8;
    }
    for (n &= 7u; n; --n) {
        x >>= 1;
    }
    return x;
}

/* gemmlowp's SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT, for a multiplier
 * 0 <= b < 2^31 (tinylab.engine.quantize_multiplier makes no other; the generator checks):
 * TFLM's two roundings, bit for bit, in 32-bit pieces.
 *
 * The high mul is a * b / 2^31 to nearest, a negative half going toward zero (gemmlowp's
 * nudge): for m = |a| * b that is floor((m + 2^30 - [a < 0]) / 2^31) with a's sign. The
 * division by 2^exponent rounds half away from zero: floor((q + 2^(exponent-1)) / 2^exponent)
 * on the magnitude. With b >= 0 the product never saturates (|a| * b < 2^62).
 *
 * floor((m + 2^30 - 1) / 2^31) is floor((m + 2^30) / 2^31) less one exactly when that
 * division is exact. tl_high_mul avoids 64-bit arithmetic, which costs hundreds of cycles on
 * AVR. Equal to the 64-bit formula for every input, up to the limit of
 * +-512 (tests/test_engine.py checks edge values and random pairs, on the host and in
 * simavr). */
TL_UNUSED static int16_t tl_rescale(int32_t a, int32_t b, uint8_t exponent)
{
    const uint8_t negative = a < 0;
    const uint32_t magnitude = negative ? 0u - (uint32_t)a : (uint32_t)a;
    uint8_t inexact;
    uint32_t quotient = tl_high_mul(magnitude, (uint32_t)b, &inexact);
    if (negative && !inexact) { /* the nudge is 2^30 - 1 for a negative product */
        --quotient;
    }
    if (exponent) { /* floor((q + 2^(e-1)) / 2^e) == (floor(q / 2^(e-1)) + 1) / 2 */
        quotient = (tl_shift_right(quotient, (uint8_t)(exponent - 1)) + 1u) >> 1;
    }
    if (quotient > 512u) { /* beyond +-512 every int8 output clamps alike: go on in 16 bits */
        quotient = 512u;
    }
    return negative ? (int16_t)-(int16_t)quotient : (int16_t)quotient;
}

/* Bias, fixed-point rescale, output zero point and clamp: TFLM's per-channel epilogue. A
 * cursor walks the bias, multiplier and shift tables channel by channel: tl_units_fetch
 * reads one channel's numbers, tl_units_apply applies them to an accumulator, and
 * tl_units_next does both for ops that finish each channel once (fully connected, and a
 * convolution whose weights stream). A convolution that finishes one channel at many pixels
 * fetches once and applies many times.
 *
 * A ReLU channel whose sum is <= 0 needs no rescale: the rescale of a number <= 0 is <= 0, so
 * the output is clamped to activation_min, the output zero point. Exact, and it skips the
 * multiplies for the outputs a ReLU switches off. */
typedef struct {
    const tl_requant_t *q;
    const uint8_t *bias;
    const int32_t *multiplier;
    const int8_t *shift;
    uint8_t relu; /* activation_min is the output zero point or above: a ReLU */
} tl_units_t;

typedef struct {
    int32_t bias, multiplier;
    int8_t shift;
} tl_channel_t;

static TL_INLINE void tl_units_start(tl_units_t *units, const tl_requant_t *q)
{
    units->q = q;
    units->bias = (const uint8_t *)q->bias;
    units->multiplier = q->multiplier;
    units->shift = q->shift;
    units->relu = q->activation_min >= q->output_offset;
}

/* A 24-bit bias, little-endian, sign-extended (on AVR: three lpm, then the top byte). */
#ifdef __AVR__
static TL_INLINE int32_t tl_i24(const uint8_t *p)
{
    int32_t value;
    __asm__("lpm %A0, Z+\n\t"
            "lpm %B0, Z+\n\t"
            "lpm %C0, Z\n\t"
            "clr %D0\n\t"
            "sbrc %C0, 7\n\t"
            "com %D0\n\t"
            : "=&r"(value), "+z"(p));
    return value;
}
#else
static TL_INLINE int32_t tl_i24(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)(int32_t)(int8_t)p[2] << 16);
}
#endif

static TL_INLINE void tl_units_fetch(tl_units_t *units, tl_channel_t *channel)
{
    channel->shift = (int8_t)TL_U8(units->shift);
    channel->multiplier = TL_I32(units->multiplier);
    if (units->q->bias_bytes == 3) {
        channel->bias = tl_i24(units->bias);
        units->bias += 3;
    } else if (units->q->bias_bytes) {
        channel->bias = TL_I32((const int32_t *)units->bias);
        units->bias += 4;
    } else {
        channel->bias = 0;
    }
    if (units->q->per_channel) {
        ++units->multiplier;
        ++units->shift;
    }
}

static TL_INLINE int8_t tl_units_apply(const tl_units_t *units, const tl_channel_t *channel,
                                       int32_t acc)
{
    const tl_requant_t *q = units->q;
    const int8_t shift = channel->shift;
    int16_t value;
    acc += channel->bias;
    if (shift > 0) {
        acc = (int32_t)((uint32_t)acc << shift);
    } else if (acc <= 0 && units->relu) {
        return (int8_t)q->activation_min;
    }
    value = (int16_t)(tl_rescale(acc, channel->multiplier, (uint8_t)(shift > 0 ? 0 : -shift))
                      + q->output_offset);
    if (value < q->activation_min) {
        value = q->activation_min;
    }
    if (value > q->activation_max) {
        value = q->activation_max;
    }
    return (int8_t)value;
}

static TL_INLINE int8_t tl_units_next(tl_units_t *units, int32_t acc)
{
    tl_channel_t channel;
    tl_units_fetch(units, &channel);
    return tl_units_apply(units, &channel, acc);
}

/* sum_i w[i] * x[i] with both in RAM: for rows a weight format decoded into RAM (lesson 09).
 * On AVR a loop of single products, 13 cycles each: ld (2) and ld (2) the operands, muls (2),
 * then the product's sign bit flipped (eor, 1: adds 2^15, so the product is >= 0) and added
 * into a 24-bit sum (3), as in format_int8.c; blocks of at most 240 products keep the sum in
 * 24 bits, and each block's 2^15 per product is taken off after. */
#ifdef __AVR__
static __uint24 tl_dot_ram_block(const int8_t *weights, const int8_t *input, uint8_t n)
{
    __uint24 sum = 0;
    const uint8_t zero = 0, flip = 0x80;
    int8_t w, x;
    __asm__ volatile("1:\n\t"
                     "ld %[w], Z+\n\t"
                     "ld %[x], X+\n\t"
                     "muls %[w], %[x]\n\t"
                     "eor r1, %[flip]\n\t"
                     "add %A[sum], r0\n\t"
                     "adc %B[sum], r1\n\t"
                     "adc %C[sum], %[zero]\n\t"
                     "dec %[n]\n\t"
                     "brne 1b\n\t"
                     "clr __zero_reg__\n\t"
                     : [sum] "+r"(sum), [w] "=&d"(w), [x] "=&d"(x), [n] "+r"(n), "+z"(weights),
                       "+x"(input)
                     : [zero] "r"(zero), [flip] "r"(flip)
                     : "r0", "memory");
    return sum;
}

TL_UNUSED static int32_t tl_dot_ram(const int8_t *weights, const int8_t *input, uint16_t n)
{
    uint32_t total = 0;
    while (n) {
        const uint8_t block = n > 240u ? 240u : (uint8_t)n;
        total += (uint32_t)tl_dot_ram_block(weights, input, block) - ((uint32_t)block << 15);
        weights += block;
        input += block;
        n = (uint16_t)(n - block);
    }
    return (int32_t)total;
}
#else
TL_UNUSED static int32_t tl_dot_ram(const int8_t *weights, const int8_t *input, uint16_t n)
{
    int32_t sum = 0;
    while (n--) {
        sum += tl_mul8(*weights++, *input++);
    }
    return sum;
}
#endif
