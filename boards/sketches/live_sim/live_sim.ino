/*
 * TinyLab live sketch, fed over serial: recorded IMU readings come in as text lines in place
 * of a sensor; the board keeps the sliding window and classifies it every TL_LIVE_HOP
 * readings, exactly as live_nano33ble does with its IMU (the same core, boards/live/tl_live.c).
 * For the virtual Uno (tests/test_live.py) and any board. See docs/live.md.
 *
 * The line protocol (TinyLab serial protocol 1, docs/serial-protocol.md), 115200 baud, '\n'
 * ends every line:
 *   board -> host  "#TINYLAB proto=1 sketch=live board=uno format=int8 model=1a2b3c4d
 *                   inputs=300 outputs=4 channels=6 decimals=3 steps=50 hop=10 rate_hz=50
 *                   classes=idle,punch,flex,wave"                  once at boot, and for "?"
 *   host -> board  "S v1 v2 ... v6"   one reading: TL_RAW_CHANNELS decimal numbers (spaces or
 *                                     commas between them; "-0.016", "+1", "12.", ".5"), in
 *                                     the units the model was trained on; digits beyond
 *                                     TL_RAW_DECIMALS are dropped (truncated toward zero),
 *                                     magnitudes beyond TL_RAW_LIMIT saturate there: the
 *                                     inference sketch's W format (engine.raw_input)
 *   board -> host  "K n"              the reading was kept (n: readings since reset); no
 *                                     classification was due
 *                  "C class s1 ... sm latency_us [cycles [stack_bytes]]"   the reading made a
 *                                     classification due: the class (first maximum), the
 *                                     model's int8 scores, micros() around the classification,
 *                                     its CPU cycles and the stack's peak, as the inference
 *                                     sketch's R line
 *                  "! what was wrong" the line was refused (the reading is not kept)
 *                  "."                after every 32nd byte of a line that is not its end: the
 *                                     host sends the next 32 bytes only after it, so the Uno's
 *                                     64-byte receive buffer never overflows
 * Each host line gets exactly one answer line (empty lines get none): a host sends the next
 * reading after the answer, so no reading arrives while the model runs.
 *
 * Files beside it (tinylab.live.write_live_sketch writes them): model.h/model.c (generated
 * with raw_input: TL_RAW_CHANNELS, TL_RAW_DECIMALS, tl_model_quantize_reading, and the reading
 * parser tl_reading_byte/tl_reading_end that the inference sketch's W lines use too),
 * tl_live.h/.c (the window), live_config.h (TL_LIVE_HOP, TL_LIVE_RATE_HZ, TL_LIVE_CLASS_LIST),
 * tl_measure.h (the board's name, cycles and stack, as the inference sketch measures them).
 *
 * RAM: the window (TL_INPUTS bytes, also the model's input), the scores, the readings being
 * parsed (4 x TL_RAW_CHANNELS bytes), ~11 bytes of parser state, and the model's arena.
 */

#include "tl_live.h"
#include "live_config.h"
#include "tl_measure.h"  // the sketch's only include of it: it defines Timer1's interrupt
#include "tl_live_banner.h"  // print_banner()

// Bytes of a line between two acks: half the AVR's 64-byte receive buffer, as in the
// inference sketch (tinylab.device.ACK_EVERY_BYTES).
#define TL_ACK_EVERY 32

#define TL_LINE_START 0    // nothing read yet
#define TL_LINE_READING 1  // "S ...": values being read
#define TL_LINE_QUERY 2    // "?": print the banner at the end of the line
#define TL_LINE_SKIP 3     // an error was found: ignore the rest, report it at the end

#define TL_OK 0
#define TL_ERROR_COMMAND 1  // unknown first byte
#define TL_ERROR_NUMBER 2   // a byte that is neither digit, sign, point nor separator, or a
                            // sign or point without digits

static tl_live_t live;
static int8_t scores[TL_OUTPUTS];
static int32_t reading[TL_RAW_CHANNELS];

static uint8_t line_kind = TL_LINE_START;
static uint8_t line_error = TL_OK;
static uint8_t line_bad_byte = 0;
static uint8_t value_count = 0;        // values seen on this line (saturates at 255)
static tl_reading_t value;             // the value being read (model.h's parser)
static uint8_t bytes_since_ack = 0;

// Classifies the window; returns the class, leaves the CPU cycles in *cycles (0 if uncounted).
static uint8_t classify(uint32_t *cycles) {
  tl_cycles_start();
  uint8_t best = tl_live_classify(&live, scores);
  *cycles = tl_cycles_stop();
  return best;
}

static void answer_reading() {
  if (value_count != TL_RAW_CHANNELS) {
    Serial.print(F("! expected "));
    Serial.print((int)TL_RAW_CHANNELS);
    Serial.print(F(" values, got "));
    Serial.println((unsigned int)value_count);
    return;
  }
  if (!tl_live_push(&live, reading)) {
    Serial.print(F("K "));
    Serial.println((unsigned long)live.readings);
    return;
  }
#if TL_HAS_STACK
  tl_stack_paint();  // outside the timed region
#endif
  uint32_t cycles;
  unsigned long started_us = micros();
  uint8_t best = classify(&cycles);
  unsigned long latency_us = micros() - started_us;
#if TL_HAS_STACK
  uint16_t stack_bytes = tl_stack_peak();
#endif
  Serial.print(F("C "));
  Serial.print((int)best);
  for (uint16_t i = 0; i < TL_OUTPUTS; i++) {
    Serial.print(' ');
    Serial.print((int)scores[i]);
  }
  Serial.print(' ');
  Serial.print(latency_us);
#if TL_HAS_CYCLES
  Serial.print(' ');
  Serial.print((unsigned long)cycles);
#if TL_HAS_STACK
  Serial.print(' ');
  Serial.print((unsigned int)stack_bytes);
#endif
#endif
  Serial.println();
}

static void answer_error() {
  Serial.print(F("! "));
  if (line_error == TL_ERROR_COMMAND) {
    Serial.print(F("unknown command (byte "));
    Serial.print((int)line_bad_byte);
    Serial.print(F("): send 'S v1 ... v"));
    Serial.print((int)TL_RAW_CHANNELS);
    Serial.println(F("' or '?'"));
  } else {  // the inference sketch's words for a bad reading on a W line
    Serial.print(F("value "));
    Serial.print((unsigned int)value_count + 1);
    Serial.print(F(" is not a number (byte "));
    Serial.print((int)line_bad_byte);
    Serial.println(F("): write readings like -0.019 or 12.5"));
  }
}

static void fail(uint8_t error, uint8_t bad_byte) {
  line_error = error;
  line_bad_byte = bad_byte;
  line_kind = TL_LINE_SKIP;
}

// Ends the value being read (if any) and stores it: reading * 10^TL_RAW_DECIMALS, saturated
// at TL_RAW_LIMIT.
static void end_value() {
  int32_t fixed;
  uint8_t outcome = tl_reading_end(&value, &fixed);
  if (outcome == TL_READING_NONE) return;
  if (outcome != TL_READING_NUMBER) {  // a sign or a point without digits
    fail(TL_ERROR_NUMBER, outcome);
    return;
  }
  if (value_count < TL_RAW_CHANNELS) reading[value_count] = fixed;
  if (value_count < 255) value_count++;
}

static void read_value_byte(char c) {
  if (c == ' ' || c == ',' || c == '\t') {
    end_value();
  } else if (!tl_reading_byte(&value, c)) {
    fail(TL_ERROR_NUMBER, (uint8_t)c);
  }
}

static void end_line() {
  if (line_kind == TL_LINE_READING) {
    end_value();
    if (line_kind == TL_LINE_READING) answer_reading();
  }
  if (line_kind == TL_LINE_QUERY) print_banner();
  if (line_kind == TL_LINE_SKIP) answer_error();
  line_kind = TL_LINE_START;
  line_error = TL_OK;
  value_count = 0;
  tl_reading_clear(&value);
}

static void read_byte(char c) {
  if (c == '\n') {
    bytes_since_ack = 0;
    end_line();
    return;
  }
  if (++bytes_since_ack == TL_ACK_EVERY) {
    Serial.write('.');
    bytes_since_ack = 0;
  }
  if (c == '\r') return;
  if (line_kind == TL_LINE_START) {
    if (c == 'S') line_kind = TL_LINE_READING;
    else if (c == '?') line_kind = TL_LINE_QUERY;
    else if (c != ' ' && c != '\t') fail(TL_ERROR_COMMAND, (uint8_t)c);
  } else if (line_kind == TL_LINE_READING) {
    read_value_byte(c);
  }
}

void setup() {
  tl_live_init(&live, TL_LIVE_HOP);
  Serial.begin(115200);
  while (!Serial && millis() < 3000) {
    // Native-USB boards: give the host a moment to open the port.
  }
  print_banner();
}

void loop() {
  while (Serial.available() > 0) {
    read_byte((char)Serial.read());
  }
}
