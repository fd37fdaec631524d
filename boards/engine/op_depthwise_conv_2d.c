/* TinyLab C engine, op DEPTHWISE_CONV_2D (Keras DepthwiseConv2D): TFLM's
 * DepthwiseConvPerChannel (reference/integer_ops/depthwise_conv.h), lesson 10_cnn.
 *
 * Output channel oc filters input channel oc / depth_multiplier alone. For each output pixel
 * and channel, that channel's window is copied into the scratch patch (k_h * k_w bytes,
 * padding held as the input zero point), and the channel's row of weights (the filter
 * transposed to [oc][ky][kx] by the generator) is pulled through the weight format: pixel
 * by pixel when rows cost nothing to read again (TL_SOURCE_STREAMS), else channel by channel,
 * each row decoded once into RAM (the second half of the scratch), as in op_conv_2d.c. */

typedef struct {
    uint16_t in_h, in_w, in_c, out_h, out_w, out_c;
    uint8_t k_h, k_w, stride_h, stride_w, pad_top, pad_left, depth_multiplier;
    int8_t input_zero_point;
    tl_requant_t requant;
    tl_weights_t weights;
} tl_depthwise_conv_2d_t;

/* Input channel `channel`'s window at output pixel (oy, ox), padding as the zero point. */
static void tl_depthwise_conv_2d_window(const tl_depthwise_conv_2d_t *op, const int8_t *input,
                                        uint16_t oy, uint16_t ox, uint16_t channel,
                                        int8_t *patch)
{
    const int16_t y0 = (int16_t)(oy * op->stride_h - op->pad_top);
    const int16_t x0 = (int16_t)(ox * op->stride_w - op->pad_left);
    uint8_t ky, kx;
    for (ky = 0; ky < op->k_h; ++ky) {
        const int16_t y = (int16_t)(y0 + ky);
        for (kx = 0; kx < op->k_w; ++kx) {
            const int16_t x = (int16_t)(x0 + kx);
            *patch++ = (y < 0 || y >= (int16_t)op->in_h || x < 0 || x >= (int16_t)op->in_w)
                ? op->input_zero_point
                : input[((size_t)y * op->in_w + (size_t)x) * op->in_c + channel];
        }
    }
}

#if TL_SOURCE_STREAMS
TL_NOINLINE static void tl_depthwise_conv_2d_run(const tl_depthwise_conv_2d_t *flash_op,
                                     const int8_t *input, int8_t *output, int8_t *patch)
{
    tl_depthwise_conv_2d_t op;
    tl_units_t units;
    tl_source_t source;
    uint16_t oy, ox, oc, n;
    TL_COPY(&op, flash_op, sizeof op);
    n = (uint16_t)(op.k_h * op.k_w);
    for (oy = 0; oy < op.out_h; ++oy) {
        for (ox = 0; ox < op.out_w; ++ox) {
            tl_units_start(&units, &op.requant);
            tl_source_start(&source, &op.weights);
            for (oc = 0; oc < op.out_c; ++oc) {
                tl_depthwise_conv_2d_window(&op, input, oy, ox,
                                            (uint16_t)(oc / op.depth_multiplier), patch);
                *output++ = tl_units_next(&units, tl_source_dot(&source, patch, n));
            }
        }
    }
}
#else
TL_NOINLINE static void tl_depthwise_conv_2d_run(const tl_depthwise_conv_2d_t *flash_op,
                                     const int8_t *input, int8_t *output, int8_t *scratch)
{
    tl_depthwise_conv_2d_t op;
    tl_units_t units;
    tl_channel_t channel;
    tl_source_t source;
    uint16_t oy, ox, oc, n;
    int8_t *patch = scratch, *row;
    TL_COPY(&op, flash_op, sizeof op);
    n = (uint16_t)(op.k_h * op.k_w);
    row = scratch + n;
    tl_units_start(&units, &op.requant);
    tl_source_start(&source, &op.weights);
    for (oc = 0; oc < op.out_c; ++oc) {
        int8_t *pixel = output + oc;
        tl_source_row(&source, row, n);
        tl_units_fetch(&units, &channel);
        for (oy = 0; oy < op.out_h; ++oy) {
            for (ox = 0; ox < op.out_w; ++ox, pixel += op.out_c) {
                tl_depthwise_conv_2d_window(&op, input, oy, ox,
                                            (uint16_t)(oc / op.depth_multiplier), patch);
                *pixel = tl_units_apply(&units, &channel, tl_dot_ram(row, patch, n));
            }
        }
    }
}
#endif
