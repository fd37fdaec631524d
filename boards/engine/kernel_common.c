/* TinyLab C engine: what every weight format shares (lesson 07_deploy).
 *
 * tinylab.engine.generate_c copies this text into the model source it generates, before the
 * format's kernel and the model's data; it is not compiled on its own.
 *
 * The arithmetic is TensorFlow Lite Micro's int8 reference fully connected kernel
 * (tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h), with TFLM's
 * default double-rounding MultiplyByQuantizedMultiplier (kernels/internal/common.cc:
 * gemmlowp's SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), so every output
 * byte equals TFLM's. Plain C99; weights live in flash (PROGMEM on AVR, const elsewhere).
 */
#include <stdint.h>
#include <string.h>

#ifdef __AVR__
#include <avr/pgmspace.h>
#define TL_FLASH PROGMEM
#define TL_U8(p) pgm_read_byte(p)
#define TL_I32(p) ((int32_t)pgm_read_dword(p))
#define TL_COPY(to, from, n) memcpy_P((to), (from), (n))
#else
#define TL_FLASH
#define TL_U8(p) (*(const uint8_t *)(p))
#define TL_I32(p) (*(p))
#define TL_COPY(to, from, n) memcpy((to), (from), (n))
#endif

/* int8 x int8 -> int16. avr-gcc turns `acc += (int16_t)(a * b)` into a call to its 16x16->32
 * multiply (__mulhisi3); one `muls` (2 cycles) is all the product needs. */
#ifdef __AVR__
static inline int16_t tl_mul8(int8_t a, int8_t b)
{
    int16_t product;
    __asm__("muls %1, %2\n\tmovw %0, r0\n\tclr __zero_reg__" : "=r"(product) : "d"(a), "d"(b));
    return product;
}
#else
static inline int16_t tl_mul8(int8_t a, int8_t b)
{
    return (int16_t)(a * b);
}
#endif

/* From a layer's int32 accumulator to its int8 output, one output unit at a time. */
typedef struct {
    const int32_t *bias;       /* one per output unit, or NULL */
    const int32_t *multiplier; /* Q0.31 fixed point: one per unit if per_channel, else one */
    const int8_t *shift;       /* power-of-two exponent of each multiplier */
    int16_t output_offset;     /* the output zero point */
    int8_t activation_min;     /* the fused activation (ReLU, or none) as a clamp */
    int8_t activation_max;
    uint8_t per_channel;
} tl_requant_t;

/* The shape of a fully connected layer. TFLM computes sum_i w[i] * (x[i] - zp) + bias; the
 * generator folds the input zero point into the bias (bias - zp * sum_i w[i], exact in int32),
 * so the kernels multiply int8 by int8 into 16 bits: one `muls` on AVR, not a 16-bit multiply. */
typedef struct {
    uint16_t n_inputs;
    uint16_t n_outputs;
    tl_requant_t requant;
} tl_dense_t;

/* gemmlowp's SaturatingRoundingDoublingHighMul: a * b / 2^31 to nearest (a negative half
 * goes toward zero, as gemmlowp's nudge makes it), saturating. */
static int32_t tl_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int32_t nudge, quotient;
    uint32_t low;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int32_t)1 << 30) : (1 - ((int32_t)1 << 30));
    ab += nudge;
    /* (ab / 2^31, toward zero) from the two 32-bit halves: on AVR a 64-bit shift by 31 is a
     * libgcc loop of 31 steps, this is a few byte moves. Equal to the division for all inputs
     * (checked against it on 5e7 random pairs and the edge values). */
    low = (uint32_t)ab;
    quotient = (int32_t)(((uint32_t)(ab >> 32) << 1) | (low >> 31)); /* floor(ab / 2^31) */
    if (ab < 0 && (low & 0x7FFFFFFFu) != 0) {
        quotient += 1;
    }
    return quotient;
}

/* gemmlowp's RoundingDivideByPOT: x / 2^exponent, rounding half away from zero. */
static int32_t tl_divide_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    const int32_t rounded_down = x >= 0 ? x >> exponent : ~(~x >> exponent); /* no >> of x < 0 */
    return rounded_down + (remainder > threshold ? 1 : 0);
}

/* Bias, fixed-point rescale, output zero point and clamp: TFLM's per-unit epilogue. */
static int8_t tl_requantize(const tl_requant_t *q, uint16_t unit, int32_t acc)
{
    const uint16_t channel = q->per_channel ? unit : 0;
    const int shift = (int8_t)TL_U8(q->shift + channel);
    if (q->bias) {
        acc += TL_I32(q->bias + unit);
    }
    if (shift > 0) {
        acc = (int32_t)((uint32_t)acc << shift);
    }
    acc = tl_high_mul(acc, TL_I32(q->multiplier + channel));
    acc = tl_divide_pot(acc, shift > 0 ? 0 : -shift);
    acc += q->output_offset;
    if (acc < q->activation_min) {
        acc = q->activation_min;
    }
    if (acc > q->activation_max) {
        acc = q->activation_max;
    }
    return (int8_t)acc;
}
