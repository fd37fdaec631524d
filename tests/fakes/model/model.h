/*
 * A hand-written stand-in for the model tinylab.engine generates, used only by TinyLab's tests
 * (tests/test_device.py) to exercise the inference sketch without the engine.
 *
 * Same contract as a generated model:
 *   output[i] = clamp(i + sum_j input[j] * w(i, j), -128, 127),  w(i, j) = (i + j) % 3 - 1
 * (tests/test_device.py recomputes it in numpy).
 */
#ifndef TL_MODEL_H
#define TL_MODEL_H

#include <stdint.h>

#define TL_INPUTS 64
#define TL_OUTPUTS 10
#define TL_MODEL_HASH "f00dcafe"
#define TL_FORMAT "int8"

#ifdef __cplusplus
extern "C" {
#endif

void tl_model_run(const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif
