/* TinyLab C engine, op MEAN over the spatial axes (Keras GlobalAveragePooling1D/2D): TFLM's
 * int8 Mean (reference_ops::QuantizedMeanOrSum), lesson 10_cnn.
 *
 * For each channel: the sum over all positions, less input_zero_point * positions, then the
 * shared epilogue with the multiplier that folds 1 / positions into input_scale /
 * output_scale (the generator computes it as TFLM does), no bias, a clamp to int8. */

typedef struct {
    uint16_t positions, channels;
    int8_t input_zero_point;
    tl_requant_t requant;
} tl_mean_t;

TL_NOINLINE static void tl_mean_run(const tl_mean_t *flash_op, const int8_t *input, int8_t *output,
                        int8_t *scratch)
{
    tl_mean_t op;
    tl_units_t units;
    uint16_t c, p;
    (void)scratch;
    TL_COPY(&op, flash_op, sizeof op);
    tl_units_start(&units, &op.requant);
    for (c = 0; c < op.channels; ++c) {
        int32_t sum = -(int32_t)op.input_zero_point * op.positions;
        const int8_t *value = input + c;
        for (p = 0; p < op.positions; ++p, value += op.channels) {
            sum += *value;
        }
        output[c] = tl_units_next(&units, sum);
    }
}
