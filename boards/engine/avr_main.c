/* A complete ATmega328P program around a generated TinyLab model, to measure it (lesson 08).
 *
 * The model's object file alone lacks the libgcc helpers it calls (64-bit multiply and shift
 * for the fixed-point rescale); linking this program gives the flash and RAM a sketch pays,
 * as avr-size reports them. It runs the model once on zeros; it is not a sketch.
 *
 *   avr-gcc -mmcu=atmega328p -Os -std=c99 -I. tl_model.c avr_main.c -o model.elf
 *   avr-size model.elf
 */
#include "tl_model.h"

static int8_t input[TL_INPUTS];
static volatile int8_t sink; /* keeps the result, so the compiler keeps the model */

int main(void)
{
    int8_t output[TL_OUTPUTS];
    tl_model_run(input, output);
    sink = output[0];
    for (;;) {
    }
}
