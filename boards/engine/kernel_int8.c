/* TinyLab C engine, format "int8": every weight stored, one byte each (lesson 07_deploy).
 * Copied into the generated model source after kernel_common.c. */

typedef struct {
    tl_dense_t dense;
    const int8_t *weights; /* [n_outputs][n_inputs], row by row */
} tl_layer_t;

static void tl_layer_run(const tl_layer_t *flash_layer, const int8_t *input, int8_t *output)
{
    tl_layer_t layer;
    const int8_t *weight;
    uint16_t unit, i;
    TL_COPY(&layer, flash_layer, sizeof layer);
    weight = layer.weights;
    for (unit = 0; unit < layer.dense.n_outputs; ++unit) {
        int32_t acc = 0;
        for (i = 0; i < layer.dense.n_inputs; ++i, ++weight) {
            /* int8 x int8 fits 16 bits (the input zero point is in the bias) */
            acc += tl_mul8((int8_t)TL_U8(weight), input[i]);
        }
        output[unit] = tl_requantize(&layer.dense.requant, unit, acc);
    }
}
