/* TinyLab C engine, op CONV_2D (Keras Conv2D, and Conv1D after a RESHAPE): TFLM's
 * ConvPerChannel (reference/integer_ops/conv.h), lesson 10_cnn. NHWC, dilation 1.
 *
 * For each output pixel the input window (k_h x k_w pixels of in_c channels) is copied into
 * the scratch patch, taps outside the image filled with the input zero point: then every
 * output channel is one row of weights (TFLite's OHWI filter: out_c rows of k_h*k_w*in_c)
 * times the patch, pulled through the weight format like a fully connected layer, and the
 * folded bias stays exact at the borders (TFLM skips those taps: x - zp = 0 there).
 *
 * With a format whose rows cost nothing to read again (TL_SOURCE_STREAMS, int8), the loop
 * goes pixel by pixel and streams every row at each pixel. With one that decodes its rows
 * (sparse, huffman), it goes channel by channel: the channel's row is decoded once into RAM
 * (the second half of the scratch) and run over every pixel, so a weight is decoded once per
 * inference, not once per pixel.
 *
 * A max pool with pool_h x pool_w windows that do not overlap may be fused in: the output is
 * then the pooled map, each pooled pixel the largest of its window's convolution outputs
 * (computed one after another, never stored), clamped to the pool's activation. The
 * requantization never decreases as the accumulator grows, so with pool_raw (set by the
 * generator when no channel shifts left, where int32 could wrap) the kernel keeps the largest
 * accumulator of each channel instead and requantizes it once per pooled pixel: a quarter of
 * the rescales with 2x2 pools. While rows stream, those accumulators are the first
 * 4 * out_c bytes of the scratch (the arena is int32-aligned). */

typedef struct {
    uint16_t in_h, in_w, in_c;
    uint16_t out_h, out_w, out_c; /* the convolution's output, before a fused pool */
    uint8_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int8_t input_zero_point;
    uint8_t pool_h, pool_w; /* a fused max pool, or 1 x 1 */
    uint8_t pool_raw;       /* pool the accumulators, requantize once */
    int16_t pool_min, pool_max;
    tl_requant_t requant;
    tl_weights_t weights;
} tl_conv_2d_t;

/* The window whose top left tap is (y0, x0), padding held as the zero point, into patch. */
static void tl_conv_2d_window(const tl_conv_2d_t *op, const int8_t *input, int16_t y0,
                              int16_t x0, int8_t *patch)
{
    const size_t pixel = op->in_c, row = (size_t)op->k_w * op->in_c;
    uint8_t ky, kx;
    for (ky = 0; ky < op->k_h; ++ky, patch += row) {
        const int16_t y = (int16_t)(y0 + ky);
        if (y < 0 || y >= (int16_t)op->in_h) {
            memset(patch, op->input_zero_point, row);
        } else if (x0 >= 0 && x0 + op->k_w <= (int16_t)op->in_w) { /* the whole row inside */
            memcpy(patch, input + ((size_t)y * op->in_w + (size_t)x0) * pixel, row);
        } else {
            for (kx = 0; kx < op->k_w; ++kx) {
                const int16_t x = (int16_t)(x0 + kx);
                if (x < 0 || x >= (int16_t)op->in_w) {
                    memset(patch + kx * pixel, op->input_zero_point, pixel);
                } else {
                    memcpy(patch + kx * pixel, input + ((size_t)y * op->in_w + (size_t)x) * pixel,
                           pixel);
                }
            }
        }
    }
}

/* Where the window of convolution output (y, x) starts in the input. */
static void tl_conv_2d_at(const tl_conv_2d_t *op, const int8_t *input, uint16_t y, uint16_t x,
                          int8_t *patch)
{
    tl_conv_2d_window(op, input, (int16_t)(y * op->stride_h - op->pad_top),
                      (int16_t)(x * op->stride_w - op->pad_left), patch);
}

/* A fused pool's clamp, on one pooled pixel of n channels spaced by step. */
static void tl_conv_2d_clamp(const tl_conv_2d_t *op, int8_t *pixel, uint16_t n, uint16_t step)
{
    if (op->pool_h == 1 && op->pool_w == 1) {
        return;
    }
    for (; n; --n, pixel += step) {
        if (*pixel < op->pool_min) {
            *pixel = (int8_t)op->pool_min;
        }
        if (*pixel > op->pool_max) {
            *pixel = (int8_t)op->pool_max;
        }
    }
}

#if TL_SOURCE_STREAMS
TL_NOINLINE static void tl_conv_2d_run(const tl_conv_2d_t *flash_op, const int8_t *input,
                                       int8_t *output, int8_t *scratch)
{
    tl_conv_2d_t op;
    tl_units_t units;
    tl_source_t source;
    uint16_t oy, ox, c, rows, cols, n;
    uint8_t py, px;
    int32_t *best;
    int8_t *patch;
    TL_COPY(&op, flash_op, sizeof op);
    rows = (uint16_t)(op.out_h / op.pool_h);
    cols = (uint16_t)(op.out_w / op.pool_w);
    n = (uint16_t)(op.k_h * op.k_w * op.in_c);
    best = (int32_t *)(void *)scratch;
    patch = op.pool_raw ? scratch + 4u * op.out_c : scratch;
    for (oy = 0; oy < rows; ++oy) {
        for (ox = 0; ox < cols; ++ox, output += op.out_c) {
            for (py = 0; py < op.pool_h; ++py) {
                for (px = 0; px < op.pool_w; ++px) {
                    const uint8_t first = py == 0 && px == 0;
                    tl_conv_2d_at(&op, input, (uint16_t)(oy * op.pool_h + py),
                                  (uint16_t)(ox * op.pool_w + px), patch);
                    tl_units_start(&units, &op.requant);
                    tl_source_start(&source, &op.weights);
                    for (c = 0; c < op.out_c; ++c) {
                        const int32_t acc = tl_source_dot(&source, patch, n);
                        if (op.pool_raw) {
                            if (first || acc > best[c]) {
                                best[c] = acc;
                            }
                        } else {
                            const int8_t value = tl_units_next(&units, acc);
                            if (first || value > output[c]) {
                                output[c] = value;
                            }
                        }
                    }
                }
            }
            if (op.pool_raw) {
                tl_units_start(&units, &op.requant);
                for (c = 0; c < op.out_c; ++c) {
                    output[c] = tl_units_next(&units, best[c]);
                }
            }
            tl_conv_2d_clamp(&op, output, op.out_c, 1);
        }
    }
}
#else
TL_NOINLINE static void tl_conv_2d_run(const tl_conv_2d_t *flash_op, const int8_t *input, int8_t *output,
                           int8_t *scratch)
{
    tl_conv_2d_t op;
    tl_units_t units;
    tl_channel_t channel;
    tl_source_t source;
    uint16_t oy, ox, c, rows, cols, n;
    uint8_t py, px;
    int8_t *patch = scratch, *row;
    TL_COPY(&op, flash_op, sizeof op);
    rows = (uint16_t)(op.out_h / op.pool_h);
    cols = (uint16_t)(op.out_w / op.pool_w);
    n = (uint16_t)(op.k_h * op.k_w * op.in_c);
    row = scratch + n;
    tl_units_start(&units, &op.requant);
    tl_source_start(&source, &op.weights);
    for (c = 0; c < op.out_c; ++c) {
        int8_t *pixel = output + c;
        tl_source_row(&source, row, n);
        tl_units_fetch(&units, &channel);
        for (oy = 0; oy < rows; ++oy) {
            for (ox = 0; ox < cols; ++ox, pixel += op.out_c) {
                int32_t best = 0;
                for (py = 0; py < op.pool_h; ++py) {
                    for (px = 0; px < op.pool_w; ++px) {
                        const uint8_t first = py == 0 && px == 0;
                        int32_t acc;
                        tl_conv_2d_at(&op, input, (uint16_t)(oy * op.pool_h + py),
                                      (uint16_t)(ox * op.pool_w + px), patch);
                        acc = tl_dot_ram(row, patch, n);
                        if (op.pool_raw) {
                            if (first || acc > best) {
                                best = acc;
                            }
                        } else {
                            const int8_t value = tl_units_apply(&units, &channel, acc);
                            if (first || value > *pixel) {
                                *pixel = value;
                            }
                        }
                    }
                }
                if (op.pool_raw) {
                    *pixel = tl_units_apply(&units, &channel, best);
                }
                tl_conv_2d_clamp(&op, pixel, 1, 1);
            }
        }
    }
}
#endif
