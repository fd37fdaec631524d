/* TinyLab C engine, ops MAX_POOL_2D and AVERAGE_POOL_2D (Keras MaxPooling, AveragePooling):
 * TFLM's int8 MaxPool and AveragePool (reference/integer_ops/pooling.h), lesson 10_cnn.
 *
 * Over the part of each window inside the image: the largest value, or the sum divided by
 * the count, rounded half away from zero; then the activation's clamp. Input and output share
 * their quantization, so there is no rescale. No weights. */

typedef struct {
    uint16_t in_h, in_w, c, out_h, out_w;
    uint8_t k_h, k_w, stride_h, stride_w, pad_top, pad_left, average;
    int16_t activation_min, activation_max;
} tl_pooling_t;

TL_NOINLINE static void tl_pooling_run(const tl_pooling_t *flash_op, const int8_t *input, int8_t *output,
                           int8_t *scratch)
{
    tl_pooling_t op;
    uint16_t oy, ox, c;
    (void)scratch;
    TL_COPY(&op, flash_op, sizeof op);
    for (oy = 0; oy < op.out_h; ++oy) {
        for (ox = 0; ox < op.out_w; ++ox) {
            const int16_t y0 = (int16_t)(oy * op.stride_h - op.pad_top);
            const int16_t x0 = (int16_t)(ox * op.stride_w - op.pad_left);
            const int16_t y_start = y0 < 0 ? (int16_t)-y0 : 0;
            const int16_t x_start = x0 < 0 ? (int16_t)-x0 : 0;
            const int16_t y_end = op.k_h < (int16_t)op.in_h - y0 ? op.k_h : (int16_t)(op.in_h - y0);
            const int16_t x_end = op.k_w < (int16_t)op.in_w - x0 ? op.k_w : (int16_t)(op.in_w - x0);
            for (c = 0; c < op.c; ++c) {
                int32_t value = op.average ? 0 : -128;
                int16_t ky, kx;
                for (ky = y_start; ky < y_end; ++ky) {
                    const int8_t *pixel = input + ((size_t)(y0 + ky) * op.in_w
                                                   + (size_t)(x0 + x_start)) * op.c + c;
                    for (kx = x_start; kx < x_end; ++kx, pixel += op.c) {
                        if (op.average) {
                            value += *pixel;
                        } else if (*pixel > value) {
                            value = *pixel;
                        }
                    }
                }
                if (op.average) { /* C's division truncates: add half the count away from 0 */
                    const int32_t count = (int32_t)(y_end - y_start) * (x_end - x_start);
                    value = value > 0 ? (value + count / 2) / count : (value - count / 2) / count;
                }
                if (value < op.activation_min) {
                    value = op.activation_min;
                }
                if (value > op.activation_max) {
                    value = op.activation_max;
                }
                *output++ = (int8_t)value;
            }
        }
    }
}
