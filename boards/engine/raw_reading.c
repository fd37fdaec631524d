/* TinyLab C engine: a raw reading read from its decimal text, byte by byte (lesson 09_gestures).
 *
 * tinylab.engine.generate_c copies this text into a model source generated with a RawInput,
 * after tl_model_quantize_reading; it is not compiled on its own. Every sketch that takes
 * readings as text parses them with it (the inference sketch's W lines, live_sim's S lines),
 * so all of them read exactly what tinylab.engine.raw_input.parse_reading reads: an optional
 * sign, digits, an optional '.' and digits, as the integer reading * 10^TL_RAW_DECIMALS;
 * decimals beyond TL_RAW_DECIMALS are dropped (truncated toward zero), missing ones count as
 * zeros, and a magnitude beyond TL_RAW_LIMIT saturates there. The sketch splits its line at
 * its separators and hands each word's bytes here: no text is buffered.
 */

/* tl_reading_t.flags */
#define TL_READING_DIGITS 1u    /* a digit was read (before or after the '.') */
#define TL_READING_SIGNED 2u    /* a '+' or '-' was read */
#define TL_READING_NEGATIVE 4u  /* ... and it was a '-' */
#define TL_READING_POINT 8u     /* the '.' was read */

void tl_reading_clear(tl_reading_t *reading)
{
    reading->magnitude = 0;
    reading->decimals = 0;
    reading->flags = 0;
}

/* magnitude * 10 + digit, or TL_RAW_LIMIT if that is more. A magnitude above TL_RAW_LIMIT / 10
 * (a saturated one among them) is beyond the limit after one more digit; one at most
 * TL_RAW_LIMIT / 10 takes it without overflowing 32 bits. Not inlined: called from two places,
 * one copy saves the Uno 40 bytes of flash, and parsing is not timed. */
TL_NOINLINE static uint32_t tl_reading_push(uint32_t magnitude, uint8_t digit)
{
    if (magnitude > (uint32_t)TL_RAW_LIMIT / 10) {
        return (uint32_t)TL_RAW_LIMIT;
    }
    magnitude = magnitude * 10 + digit;
    return magnitude > (uint32_t)TL_RAW_LIMIT ? (uint32_t)TL_RAW_LIMIT : magnitude;
}

uint8_t tl_reading_byte(tl_reading_t *reading, char c)
{
    if (c >= '0' && c <= '9') {
        uint8_t after_point = reading->flags & TL_READING_POINT;
        if (!after_point || reading->decimals < TL_RAW_DECIMALS) {
            reading->magnitude = tl_reading_push(reading->magnitude, (uint8_t)(c - '0'));
            if (after_point) {
                reading->decimals++;
            }
        } /* decimals beyond TL_RAW_DECIMALS are dropped: truncated toward zero */
        reading->flags |= TL_READING_DIGITS;
        return 1;
    }
    if ((c == '-' || c == '+') && reading->flags == 0) { /* first: no digit, sign nor '.' */
        reading->flags = c == '-' ? (TL_READING_SIGNED | TL_READING_NEGATIVE) : TL_READING_SIGNED;
        return 1;
    }
    if (c == '.' && !(reading->flags & TL_READING_POINT)) {
        reading->flags |= TL_READING_POINT;
        return 1;
    }
    return 0;
}

uint8_t tl_reading_end(tl_reading_t *reading, int32_t *fixed)
{
    uint8_t outcome = TL_READING_NUMBER;
    if (!(reading->flags & TL_READING_DIGITS)) {
        if (reading->flags & TL_READING_POINT) {
            outcome = '.';
        } else if (reading->flags & TL_READING_SIGNED) {
            outcome = (reading->flags & TL_READING_NEGATIVE) ? '-' : '+';
        } else {
            outcome = TL_READING_NONE;
        }
    } else {
        uint32_t magnitude = reading->magnitude;
        int8_t decimals = reading->decimals;
        for (; decimals < TL_RAW_DECIMALS; decimals++) { /* "1.5" is 1.500, "2" is 2.000 */
            magnitude = tl_reading_push(magnitude, 0);
        }
        *fixed = (reading->flags & TL_READING_NEGATIVE) ? -(int32_t)magnitude : (int32_t)magnitude;
    }
    tl_reading_clear(reading);
    return outcome;
}
