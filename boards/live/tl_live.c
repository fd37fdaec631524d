/* TinyLab live classification: see tl_live.h. Plain C99. */
#include <string.h>

#include "tl_live.h"

void tl_live_init(tl_live_t *live, uint16_t hop)
{
    memset(live->window, 0, sizeof live->window);
    live->hop = hop > 0 ? hop : 1;
    live->until_due = TL_LIVE_STEPS;
    live->readings = 0;
}

uint8_t tl_live_push(tl_live_t *live, const int32_t fixed[TL_RAW_CHANNELS])
{
    int8_t *newest = live->window + (TL_INPUTS - TL_RAW_CHANNELS);
    uint8_t channel;
    /* The oldest reading leaves on the left; the regions overlap: memmove. */
    memmove(live->window, live->window + TL_RAW_CHANNELS, TL_INPUTS - TL_RAW_CHANNELS);
    for (channel = 0; channel < TL_RAW_CHANNELS; channel++) {
        newest[channel] = tl_model_quantize_reading(fixed[channel], channel);
    }
    live->readings++;
    if (--live->until_due > 0) {
        return 0;
    }
    live->until_due = live->hop;
    return 1;
}

uint8_t tl_live_classify(tl_live_t *live, int8_t scores[TL_OUTPUTS])
{
    uint16_t best = 0;
    uint16_t i;
    tl_model_run(live->window, scores);
    for (i = 1; i < TL_OUTPUTS; i++) {
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    return (uint8_t)best;
}

int32_t tl_live_fixed_from_float(float reading)
{
    float power = 1.0f;  /* 10^TL_RAW_DECIMALS, exact in float up to 10^10 */
    float scaled;
    uint8_t d;
    for (d = 0; d < TL_RAW_DECIMALS; d++) {
        power *= 10.0f;
    }
    scaled = reading * power;  /* one rounding, as numpy's float32 reading * 10**d */
    /* Saturated at TL_RAW_LIMIT, as the readings' text is (tinylab.engine.raw_input); NaN
     * fails both tests and gives 0. */
    if (scaled >= (float)TL_RAW_LIMIT) {
        return TL_RAW_LIMIT;
    }
    if (scaled <= -(float)TL_RAW_LIMIT) {
        return -TL_RAW_LIMIT;
    }
    if (!(scaled == scaled)) {
        return 0;
    }
    return (int32_t)(scaled >= 0.0f ? scaled + 0.5f : scaled - 0.5f);
}
