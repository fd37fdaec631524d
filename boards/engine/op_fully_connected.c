/* TinyLab C engine, op FULLY_CONNECTED (Keras Dense): TFLM's FullyConnectedPerChannel
 * (tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h), lesson 08.
 *
 * One row of weights per output unit, pulled through the weight format's source. TFLM
 * computes sum_i w[i] * (x[i] - zp) + bias; the generator folds the input zero point into the
 * bias (bias - zp * sum_i w[i], exact in int32), so the format multiplies int8 by int8. */

typedef struct {
    uint16_t n_inputs;
    uint16_t n_outputs;
    tl_requant_t requant;
    tl_weights_t weights;
} tl_fully_connected_t;

TL_NOINLINE static void tl_fully_connected_run(const tl_fully_connected_t *flash_op, const int8_t *input,
                                   int8_t *output, int8_t *scratch)
{
    tl_fully_connected_t op;
    tl_source_t source;
    tl_units_t units;
    uint16_t unit;
    (void)scratch;
    TL_COPY(&op, flash_op, sizeof op);
    tl_units_start(&units, &op.requant);
    tl_source_start(&source, &op.weights);
    for (unit = 0; unit < op.n_outputs; ++unit) {
        output[unit] = tl_units_next(&units, tl_source_dot(&source, input, op.n_inputs));
    }
}
