/* TinyLab C engine: what every op and weight format shares (lessons 09_deploy, 10_cnn).
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

#ifdef __AVR__
/* tl_rescale on AVR: one hand-written routine, all in registers: about 135 cycles with the
 * call (a 64-bit product is a libgcc call of hundreds of cycles, and the former C version
 * around a 32 x 32 asm multiply took about 250).
 *
 * The two roundings are one: nested floor divisions merge, floor((floor(x / 2^31) + k) / 2^e)
 * == floor((x + k 2^31) / 2^(31 + e)), so the magnitude of the result is
 *     floor((|a| b + 2^30 - [a < 0] + [e > 0] 2^(30 + e)) / 2^(31 + e))
 * and the quotient needs no remainder flag. The product is built column by column (the
 * partial products a[i] b[j], i + j = k, added into a window of three bytes k, k + 1, k + 2
 * that cannot overflow), starting from 2^30 - [a < 0]: bytes 0 to 2 all 0xFF for a < 0, byte 3
 * 0x40 or 0x3F plus the carry out of byte 2 (the one column the window cannot hold). Bytes 0
 * to 2 only carry; bytes 3 to 7 are kept (W = the product / 2^24). 12 multiplies when |a| <
 * 2^24 (the usual accumulator: its byte 3 is then the zero register the carries need); 16,
 * and r17 saved for the zero register, otherwise.
 *
 * Then W / 2^(7 + e), rounded up when e > 0 and bit 6 + e of W is set: whole bytes first, then
 * the last 1 to 8 bits by a multiply by 2^(8 - bits) (the wanted bits land in the product's
 * upper bytes; the rounding bit is bit 7 of its lowest byte, rounded in by adding 0x80 to it).
 * A result beyond 512 is 512, as in the C version; then the sign.
 *
 * Its own convention, so that the caller keeps its registers: a in r22..r25, b in r18..r21
 * (0 <= b < 2^31), e in r26 (0 to 31); the result in r24:r25; r0, r18..r27, r30, r31 used
 * (all of them call-clobbered in avr-gcc's convention), r1 cleared at the end. */
__attribute__((naked, noinline, used)) static void tl_rescale_avr(void)
{
    __asm__ volatile(
        /* |a|, the sign in T */
        /* bytes 0, 1, 2 (r27, r30, r31) start at 0xFF for a < 0, else 0 */
        "clr r27\n\t"
        "clr r30\n\t"
        "clr r31\n\t"
        "bst r25, 7\n\t"
        "brtc 1f\n\t"
        "com r25\n\t"
        "com r24\n\t"
        "com r23\n\t"
        "neg r22\n\t"
        "sbci r23, 0xFF\n\t"
        "sbci r24, 0xFF\n\t"
        "sbci r25, 0xFF\n\t"
        "dec r27\n\t"
        "mov r30, r27\n\t"
        "mov r31, r27\n\t"
        "1:\n\t"
        "tst r25\n\t"
        "breq 2f\n\t"
        "rjmp 5f\n\t"
        "2:\n\t"
        /* |a| < 2^24, r25 is zero. Column 0 */
        "mul r22, r18\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r25\n\t"
        /* column 1; byte 3 (r27) starts at 0x3F + the carry for a < 0, else 0x40 */
        "ldi r27, 0x3F\n\t"
        "adc r27, r25\n\t"
        "brts 3f\n\t"
        "inc r27\n\t"
        "3:\n\t"
        "mul r22, r19\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r27, r25\n\t"
        "mul r23, r18\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r27, r25\n\t"
        /* column 2; byte 4 in r30 */
        "clr r30\n\t"
        "mul r22, r20\n\t"
        "add r31, r0\n\t"
        "adc r27, r1\n\t"
        "adc r30, r25\n\t"
        "mul r23, r19\n\t"
        "add r31, r0\n\t"
        "adc r27, r1\n\t"
        "adc r30, r25\n\t"
        "mul r24, r18\n\t"
        "add r31, r0\n\t"
        "adc r27, r1\n\t"
        "adc r30, r25\n\t"
        /* column 3; byte 5 in r31 */
        "clr r31\n\t"
        "mul r22, r21\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r25\n\t"
        "mul r23, r20\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r25\n\t"
        "mul r24, r19\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r25\n\t"
        /* column 4; byte 6 in r18 */
        "clr r18\n\t"
        "mul r23, r21\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r18, r25\n\t"
        "mul r24, r20\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r18, r25\n\t"
        /* column 5, the last: the product is below 2^55 */
        "mul r24, r21\n\t"
        "add r31, r0\n\t"
        "adc r18, r1\n\t"
        "clr r19\n\t"
        /* W = r27 (bit 0), r30, r31, r18, r19. r23 zero, r21 the rounding (0x80 if e > 0),
         * r26 d = e + 6: W / 2^(d + 1) rounded by bit d */
        "6:\n\t"
        "clr r23\n\t"
        "clr r21\n\t"
        "cpse r26, r23\n\t"
        "ldi r21, 0x80\n\t"
        "subi r26, -6\n\t"
        "sbrs r26, 4\n\t"
        "rjmp 7f\n\t"
        "mov r27, r31\n\t"
        "mov r30, r18\n\t"
        "mov r31, r19\n\t"
        "clr r18\n\t"
        "clr r19\n\t"
        "7:\n\t"
        "sbrs r26, 3\n\t"
        "rjmp 8f\n\t"
        "mov r27, r30\n\t"
        "mov r30, r31\n\t"
        "mov r31, r18\n\t"
        "mov r18, r19\n\t"
        "clr r19\n\t"
        "8:\n\t"
        "sbrs r26, 5\n\t"
        "rjmp 9f\n\t"
        "mov r27, r19\n\t"
        "clr r30\n\t"
        "clr r31\n\t"
        "clr r18\n\t"
        "clr r19\n\t"
        "9:\n\t"
        /* 2^24 or more left after the whole bytes: 2^16 or more after the bits */
        "or r18, r19\n\t"
        "brne 12f\n\t"
        /* r22 = 2^(7 - (d & 7)) */
        "ldi r22, 1\n\t"
        "sbrs r26, 1\n\t"
        "ldi r22, 4\n\t"
        "sbrs r26, 0\n\t"
        "lsl r22\n\t"
        "sbrs r26, 2\n\t"
        "swap r22\n\t"
        "mul r27, r22\n\t"
        "add r0, r21\n\t"
        "mov r24, r1\n\t"
        "adc r24, r23\n\t"
        "mul r30, r22\n\t"
        "add r24, r0\n\t"
        "mov r25, r1\n\t"
        "adc r25, r23\n\t"
        "mul r31, r22\n\t"
        "add r25, r0\n\t"
        "adc r1, r23\n\t"
        "cpi r25, 2\n\t"
        "cpc r1, r23\n\t"
        "brcc 12f\n\t"
        "10:\n\t"
        "brtc 11f\n\t"
        "com r25\n\t"
        "neg r24\n\t"
        "sbci r25, 0xFF\n\t"
        "11:\n\t"
        "clr r1\n\t"
        "ret\n\t"
        "12:\n\t"
        "ldi r24, 0\n\t"
        "ldi r25, 2\n\t"
        "rjmp 10b\n\t"
        /* |a| >= 2^24: all 16 products, r17 the zero register */
        "5:\n\t"
        "push r17\n\t"
        "clr r17\n\t"
        "mul r22, r18\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r17\n\t"
        "ldi r27, 0x3F\n\t"
        "adc r27, r17\n\t"
        "brts 3f\n\t"
        "inc r27\n\t"
        "3:\n\t"
        "mul r22, r19\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r27, r17\n\t"
        "mul r23, r18\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r27, r17\n\t"
        "clr r30\n\t"
        "mul r22, r20\n\t"
        "add r31, r0\n\t"
        "adc r27, r1\n\t"
        "adc r30, r17\n\t"
        "mul r23, r19\n\t"
        "add r31, r0\n\t"
        "adc r27, r1\n\t"
        "adc r30, r17\n\t"
        "mul r24, r18\n\t"
        "add r31, r0\n\t"
        "adc r27, r1\n\t"
        "adc r30, r17\n\t"
        "clr r31\n\t"
        "mul r22, r21\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r17\n\t"
        "mul r23, r20\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r17\n\t"
        "mul r24, r19\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r17\n\t"
        "mul r25, r18\n\t"
        "add r27, r0\n\t"
        "adc r30, r1\n\t"
        "adc r31, r17\n\t"
        "clr r18\n\t"
        "mul r23, r21\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r18, r17\n\t"
        "mul r24, r20\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r18, r17\n\t"
        "mul r25, r19\n\t"
        "add r30, r0\n\t"
        "adc r31, r1\n\t"
        "adc r18, r17\n\t"
        "clr r19\n\t"
        "mul r24, r21\n\t"
        "add r31, r0\n\t"
        "adc r18, r1\n\t"
        "adc r19, r17\n\t"
        "mul r25, r20\n\t"
        "add r31, r0\n\t"
        "adc r18, r1\n\t"
        "adc r19, r17\n\t"
        "mul r25, r21\n\t"
        "add r18, r0\n\t"
        "adc r19, r1\n\t"
        "pop r17\n\t"
        "rjmp 6b\n\t");
}

/* gemmlowp's SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT, for a multiplier
 * 0 <= b < 2^31, limited to +-512: see tl_rescale_avr above and the C version below. */
TL_UNUSED static TL_INLINE int16_t tl_rescale(int32_t a, int32_t b, uint8_t exponent)
{
    register int32_t a_reg __asm__("r22") = a;
    register int32_t b_reg __asm__("r18") = b;
    register uint8_t e_reg __asm__("r26") = exponent;
    __asm__("%~call %x3" : "+r"(a_reg), "+r"(b_reg), "+r"(e_reg) : "i"(tl_rescale_avr)
            : "r0", "r27", "r30", "r31");
    return (int16_t)((uint32_t)a_reg >> 16);
}
#else
/* The plain C99 version, for every other host (AVR's is tl_rescale_avr above).
 *
 * floor((a * b + 2^30) / 2^31) for a <= 2^31, b < 2^31; *inexact says whether the division
 * left a remainder. */
static uint32_t tl_high_mul(uint32_t a, uint32_t b, uint8_t *inexact)
{
    const uint64_t nudged = (uint64_t)a * b + ((uint64_t)1 << 30);
    *inexact = (nudged & 0x7FFFFFFFu) != 0;
    return (uint32_t)(nudged >> 31);
}

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
 * division is exact. Equal to the 64-bit formula for every input, up to the limit of
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
#endif

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

/* sum_i w[i] * x[i] with both in RAM: for rows a weight format decoded into RAM (lesson 10).
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
