/* A host program around a generated TinyLab model, for tests (lesson 09_deploy).
 *
 * Reads examples from stdin as raw int8 bytes, TL_INPUTS per example, until the end; writes
 * TL_OUTPUTS raw int8 bytes per example to stdout. With the argument "info" it prints the
 * model's contract instead: format, hash, inputs, outputs, input scale and zero point. With
 * "readings" (a model generated with a RawInput) it reads raw readings instead, TL_INPUTS
 * int32 (native byte order, reading * 10^TL_RAW_DECIMALS) per example, and writes the int8
 * inputs tl_model_quantize_reading makes of them, value i being channel i % TL_RAW_CHANNELS.
 * With "words" (such a model too) it reads one reading's text per line and prints, per line,
 * what the sketches' parser (tl_reading_byte, tl_reading_end) makes of it: the integer
 * reading * 10^TL_RAW_DECIMALS, "none" for an empty line, or "! b" with b the byte refused.
 *
 *   gcc -std=c99 -Wall -Werror -I. tl_model.c host_main.c -o model && ./model < inputs.bin
 */
#include <stdio.h>
#include <string.h>

#include "tl_model.h"

int main(int argc, char **argv)
{
    int8_t input[TL_INPUTS];
    int8_t output[TL_OUTPUTS];
    if (argc > 1 && strcmp(argv[1], "info") == 0) {
        printf("%s %s %d %d %.9g %d\n", TL_FORMAT, TL_MODEL_HASH, TL_INPUTS, TL_OUTPUTS,
               (double)TL_INPUT_SCALE, TL_INPUT_ZERO_POINT);
        return 0;
    }
#ifdef TL_RAW_CHANNELS
    if (argc > 1 && strcmp(argv[1], "readings") == 0) {
        int32_t readings[TL_INPUTS];
        while (fread(readings, sizeof readings[0], TL_INPUTS, stdin) == TL_INPUTS) {
            unsigned i;
            for (i = 0; i < TL_INPUTS; i++) {
                input[i] = tl_model_quantize_reading(readings[i], (uint8_t)(i % TL_RAW_CHANNELS));
            }
            if (fwrite(input, 1, sizeof input, stdout) != sizeof input) {
                return 1;
            }
        }
        return ferror(stdin) ? 1 : 0;
    }
    if (argc > 1 && strcmp(argv[1], "words") == 0) {
        tl_reading_t reading;
        int c, bad = -1;
        int32_t fixed = 0;
        tl_reading_clear(&reading);
        while ((c = getchar()) != EOF) {
            if (c != '\n') {
                if (bad < 0 && !tl_reading_byte(&reading, (char)c)) {
                    bad = c;
                }
                continue;
            }
            if (bad < 0) {
                uint8_t outcome = tl_reading_end(&reading, &fixed);
                if (outcome == TL_READING_NUMBER) {
                    printf("%ld\n", (long)fixed);
                } else if (outcome == TL_READING_NONE) {
                    printf("none\n");
                } else {
                    printf("! %d\n", outcome);
                }
            } else {
                printf("! %d\n", bad);
            }
            tl_reading_clear(&reading);
            bad = -1;
        }
        return ferror(stdin) ? 1 : 0;
    }
#endif
    while (fread(input, 1, sizeof input, stdin) == sizeof input) {
        tl_model_run(input, output);
        if (fwrite(output, 1, sizeof output, stdout) != sizeof output) {
            return 1;
        }
    }
    return ferror(stdin) ? 1 : 0;
}
