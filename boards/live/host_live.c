/* A host program around the live core and a generated model, for tests (tests/test_live.py).
 *
 *   gcc -std=c99 -Wall -Werror -I. model.c tl_live.c host_live.c -o live
 *   ./live HOP < readings.bin     readings: int32 little-endian (host order), TL_RAW_CHANNELS
 *                                 per reading, in 10^-TL_RAW_DECIMALS units; prints one line
 *                                 "row class s1 ... sm" per classification (row: 0-based index
 *                                 of the reading that made it due)
 *   ./live fixed < floats.txt     one float per line -> tl_live_fixed_from_float, one per line
 *   ./live info                   "steps channels decimals inputs outputs"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_live.h"

int main(int argc, char **argv)
{
    static tl_live_t live;
    int32_t fixed[TL_RAW_CHANNELS];
    int8_t scores[TL_OUTPUTS];
    unsigned long row = 0;
    uint16_t i;
    if (argc < 2) {
        fprintf(stderr, "usage: %s HOP < readings.bin | fixed < floats.txt | info\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "info") == 0) {
        printf("%d %d %d %d %d\n", TL_LIVE_STEPS, TL_RAW_CHANNELS, TL_RAW_DECIMALS, TL_INPUTS,
               TL_OUTPUTS);
        return 0;
    }
    if (strcmp(argv[1], "fixed") == 0) {
        float reading;
        while (scanf("%f", &reading) == 1) {
            printf("%ld\n", (long)tl_live_fixed_from_float(reading));
        }
        return 0;
    }
    tl_live_init(&live, (uint16_t)atoi(argv[1]));
    while (fread(fixed, sizeof fixed[0], TL_RAW_CHANNELS, stdin) == TL_RAW_CHANNELS) {
        if (tl_live_push(&live, fixed)) {
            printf("%lu %d", row, (int)tl_live_classify(&live, scores));
            for (i = 0; i < TL_OUTPUTS; i++) {
                printf(" %d", (int)scores[i]);
            }
            printf("\n");
        }
        row++;
    }
    return ferror(stdin) ? 1 : 0;
}
