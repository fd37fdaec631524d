/* Runs a generated TinyLab model on an ATmega328P, real or simulated by simavr (lesson 08).
 *
 * examples.h (written by the test) holds N_EXAMPLES int8 input vectors in flash. For each,
 * the program runs the model and writes its outputs to the UART as hex, two digits per int8
 * byte, one line per example; then it sleeps with interrupts off, which ends simavr. The
 * host compares the lines with tinylab.engine.run_int8: the AVR's 16-bit int must not change
 * a single output byte.
 *
 *   avr-gcc -mmcu=atmega328p -Os -std=c99 -I. tl_model.c avr_check.c -o check.elf
 *   simavr -m atmega328p -f 16000000 check.elf
 */
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/sleep.h>
#include <avr/pgmspace.h>
#include "tl_model.h"
#include "examples.h"

static void put(char c)
{
    while (!(UCSR0A & (1 << UDRE0))) {
    }
    UDR0 = c;
}

int main(void)
{
    static const char hex[] = "0123456789abcdef";
    int8_t input[TL_INPUTS], output[TL_OUTPUTS];
    uint16_t n, i;
    UBRR0 = 8; /* 115200 at 16 MHz */
    UCSR0B = (1 << TXEN0);
    for (n = 0; n < N_EXAMPLES; ++n) {
        for (i = 0; i < TL_INPUTS; ++i) {
            input[i] = (int8_t)pgm_read_byte(&examples[n][i]);
        }
        tl_model_run(input, output);
        for (i = 0; i < TL_OUTPUTS; ++i) {
            put(hex[(uint8_t)output[i] >> 4]);
            put(hex[(uint8_t)output[i] & 15]);
        }
        put('\n');
    }
    cli();
    sleep_cpu();
    return 0;
}
