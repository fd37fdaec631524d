/* TinyLab live classification: a sliding window of IMU readings, classified on the chip.
 *
 * Plain C99, the same on the host (gcc, the tests), the Uno (avr-gcc) and the Nano 33 BLE
 * (arm-none-eabi-gcc). It builds on a model generated with raw readings in mind:
 *
 *   tinylab.engine.generate_c(mlp, format, name="model", raw_input=ri)
 *
 * whose model.h defines TL_INPUTS, TL_OUTPUTS, TL_RAW_CHANNELS, TL_RAW_DECIMALS and declares
 *   void tl_model_run(const int8_t *input, int8_t *output);
 *   int8_t tl_model_quantize_reading(int32_t fixed, uint8_t channel);
 * A window is TL_LIVE_STEPS readings of TL_RAW_CHANNELS values, row-major (steps, channels):
 * model input i belongs to channel i % TL_RAW_CHANNELS, the oldest reading first.
 *
 * One buffer: the window IS the model's input, TL_INPUTS int8 bytes. A reading is quantized
 * as it arrives (tl_model_quantize_reading: per-channel standardization and the input scale,
 * in integers), the window slides left by TL_RAW_CHANNELS bytes and the reading is appended.
 * Sliding costs a move of TL_INPUTS - TL_RAW_CHANNELS bytes per reading (294 for 50 x 6:
 * about 2,400 cycles, 0.15 ms, on the 16 MHz Uno, measured in simavr; the six quantizations
 * take about as much again, 4,900 cycles a reading in all, 1.5% of the CPU at 50 Hz) and saves
 * the second TL_INPUTS-byte buffer a ring buffer would need to hand the model its input in
 * order: on a 2 KB Uno, RAM is the scarce thing, and the model's time (61,000 cycles for 4,864
 * MACs) dwarfs the move.
 *
 *   tl_live_t live;
 *   tl_live_init(&live, hop);
 *   for each reading:                       fixed[c]: integers in 10^-TL_RAW_DECIMALS units
 *       if (tl_live_push(&live, fixed)) {   window full, and hop readings since the last one
 *           int8_t scores[TL_OUTPUTS];
 *           uint8_t best = tl_live_classify(&live, scores);
 *       }
 *
 * Used by boards/sketches/live_sim (rows over serial) and live_nano33ble (the IMU); written
 * beside them, with the model, by tinylab.live.write_live_sketch. See docs/live.md.
 */
#ifndef TL_LIVE_H
#define TL_LIVE_H

#include <stdint.h>

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(TL_RAW_CHANNELS) || !defined(TL_RAW_DECIMALS) || !defined(TL_RAW_LIMIT)
#error "model.h must come from generate_c(..., raw_input=ri): TL_RAW_CHANNELS, TL_RAW_DECIMALS"
#endif
#if TL_INPUTS % TL_RAW_CHANNELS != 0
#error "TL_INPUTS must be whole readings: steps x TL_RAW_CHANNELS"
#endif

/* Readings in one window. */
#define TL_LIVE_STEPS (TL_INPUTS / TL_RAW_CHANNELS)

typedef struct {
    int8_t window[TL_INPUTS];  /* the model's input: the last TL_LIVE_STEPS readings, quantized */
    uint16_t until_due;        /* readings still to come before the next classification */
    uint16_t hop;              /* readings between two classifications (>= 1) */
    uint32_t readings;         /* readings pushed since tl_live_init (wraps after 2^32) */
} tl_live_t;

/* Empty window; the first classification comes when it is full (TL_LIVE_STEPS readings),
 * then one every `hop` readings (0 is taken as 1). */
void tl_live_init(tl_live_t *live, uint16_t hop);

/* Quantizes one reading (TL_RAW_CHANNELS values in 10^-TL_RAW_DECIMALS units of the sensor
 * unit the model was trained on) into the window. Returns 1 when a classification is due
 * (the window is full and `hop` readings came since the last one), else 0. */
uint8_t tl_live_push(tl_live_t *live, const int32_t fixed[TL_RAW_CHANNELS]);

/* Runs the model on the window: TL_OUTPUTS int8 scores, and the class (the first maximum). */
uint8_t tl_live_classify(tl_live_t *live, int8_t scores[TL_OUTPUTS]);

/* A reading in the sensor's float units as the fixed-point integer tl_live_push takes:
 * reading x 10^TL_RAW_DECIMALS rounded half away from zero (in float32: a reading within
 * float32's precision of a half may round either way), saturated at +-TL_RAW_LIMIT. A sketch
 * converts units first: tl_live_fixed_from_float(reading * unit_scale[channel]). */
int32_t tl_live_fixed_from_float(float reading);

#ifdef __cplusplus
}
#endif

#endif /* TL_LIVE_H */
