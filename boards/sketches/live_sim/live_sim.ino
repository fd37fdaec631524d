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
 * with raw_input: TL_RAW_CHANNELS, TL_RAW_DECIMALS, tl_model_quantize_reading), tl_live.h/.c
 * (the window), live_config.h (TL_LIVE_HOP, TL_LIVE_RATE_HZ, TL_LIVE_CLASS_LIST).
 *
 * RAM: the window (TL_INPUTS bytes, also the model's input), the scores, the readings being
 * parsed (4 x TL_RAW_CHANNELS bytes), ~20 bytes of parser state, and the model's arena.
 */

#include "tl_live.h"
#include "live_config.h"

#ifndef TL_BOARD
#if defined(ARDUINO_AVR_UNO)
#define TL_BOARD "uno"
#elif defined(ARDUINO_ARDUINO_NANO33BLE)
#define TL_BOARD "nano33ble"
#else
#define TL_BOARD "unknown"
#endif
#endif

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

// A magnitude above this takes no more digits: it saturates at TL_RAW_LIMIT (999,999,999, from
// model.h), as tinylab.engine.raw_input.parse_reading does.
#define TL_SATURATED (TL_RAW_LIMIT + 1)

static tl_live_t live;
static int8_t scores[TL_OUTPUTS];
static int32_t reading[TL_RAW_CHANNELS];

static uint8_t line_kind = TL_LINE_START;
static uint8_t line_error = TL_OK;
static uint8_t line_bad_byte = 0;
static uint8_t value_count = 0;        // values seen on this line (saturates at 255)
static int32_t value_magnitude = 0;    // the value being read, in 10^-decimals, unsigned,
                                       // TL_SATURATED once beyond TL_RAW_LIMIT
static uint8_t value_digits = 0;       // digits so far, before and after the point
static uint8_t value_decimals = 0;     // digits kept after the point
static bool value_point = false;
static bool value_negative = false;
static bool value_signed = false;
static uint8_t bytes_since_ack = 0;

#if defined(__AVR__)
// Cycle counting on the ATmega328P, as in the inference sketch: Timer1 at clk/1, its
// overflow interrupt extends it to 32 bits. The model must leave Timer1 alone.
static volatile uint16_t timer1_overflows = 0;
ISR(TIMER1_OVF_vect) { timer1_overflows++; }
#define TL_HAS_CYCLES 1
#elif defined(DWT) && defined(CoreDebug) && defined(DWT_CTRL_CYCCNTENA_Msk)
#define TL_HAS_CYCLES 1
#else
#define TL_HAS_CYCLES 0
#endif

#if defined(__AVR__)
// The stack's peak during a classification, by painting the free RAM (the inference sketch's
// method, docs/serial-protocol.md): static RAM + stack_bytes is what the firmware needs.
#define TL_HAS_STACK 1
#define TL_STACK_PAINT 0xC5
#define TL_STACK_MARGIN 8
extern "C" {
extern char __heap_start;
extern char *__brkval;
}
static uint16_t stack_paint_start;
static uint16_t stack_paint_end;

static __attribute__((noinline)) void paint_stack() {
  uint16_t start = __brkval != 0 ? (uint16_t)__brkval : (uint16_t)&__heap_start;
  uint16_t end = SP - TL_STACK_MARGIN;
  if (end < start) end = start;
  end -= (end - start) % 4;
  stack_paint_start = start;
  stack_paint_end = end;
  for (uint8_t *p = (uint8_t *)start; p != (uint8_t *)end; p += 4) {
    p[0] = TL_STACK_PAINT;
    p[1] = TL_STACK_PAINT;
    p[2] = TL_STACK_PAINT;
    p[3] = TL_STACK_PAINT;
  }
  __asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) uint16_t stack_peak_bytes() {
  __asm__ __volatile__("" ::: "memory");
  const uint8_t *p = (const uint8_t *)stack_paint_start;
  const uint8_t *end = (const uint8_t *)stack_paint_end;
  while (p != end && p[0] == TL_STACK_PAINT && p[1] == TL_STACK_PAINT && p[2] == TL_STACK_PAINT
         && p[3] == TL_STACK_PAINT) {
    p += 4;
  }
  while (p != end && *p == TL_STACK_PAINT) p++;
  return (uint16_t)(RAMEND + 1 - (uint16_t)p);
}
#else
#define TL_HAS_STACK 0
#endif

static void print_banner() {
  Serial.print(F("#TINYLAB proto=1 sketch=live board=" TL_BOARD " format=" TL_FORMAT
                 " model=" TL_MODEL_HASH " inputs="));
  Serial.print((int)TL_INPUTS);
  Serial.print(F(" outputs="));
  Serial.print((int)TL_OUTPUTS);
  Serial.print(F(" channels="));
  Serial.print((int)TL_RAW_CHANNELS);
  Serial.print(F(" decimals="));
  Serial.print((int)TL_RAW_DECIMALS);
  Serial.print(F(" steps="));
  Serial.print((int)TL_LIVE_STEPS);
  Serial.print(F(" hop="));
  Serial.print((int)TL_LIVE_HOP);
  Serial.print(F(" rate_hz="));
  Serial.print((int)TL_LIVE_RATE_HZ);
  Serial.println(F(" classes=" TL_LIVE_CLASS_LIST));
}

// Classifies the window; returns the class, leaves the CPU cycles in *cycles (0 if uncounted).
static uint8_t classify(uint32_t *cycles) {
  uint8_t best;
#if defined(__AVR__)
  TCCR1A = 0;
  TCCR1B = 0;
  TCNT1 = 0;
  timer1_overflows = 0;
  TIFR1 = _BV(TOV1);
  TIMSK1 = _BV(TOIE1);
  TCCR1B = _BV(CS10);
  best = tl_live_classify(&live, scores);
  uint8_t sreg = SREG;
  cli();
  uint16_t count = TCNT1;
  uint32_t overflows = timer1_overflows;
  if ((TIFR1 & _BV(TOV1)) && count < 0x8000) overflows++;
  TCCR1B = 0;
  TIMSK1 = 0;
  TIFR1 = _BV(TOV1);
  SREG = sreg;
  *cycles = (overflows << 16) | count;
#elif TL_HAS_CYCLES
  CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
  best = tl_live_classify(&live, scores);
  *cycles = DWT->CYCCNT;
#else
  best = tl_live_classify(&live, scores);
  *cycles = 0;
#endif
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
  paint_stack();  // outside the timed region
#endif
  uint32_t cycles;
  unsigned long started_us = micros();
  uint8_t best = classify(&cycles);
  unsigned long latency_us = micros() - started_us;
#if TL_HAS_STACK
  uint16_t stack_bytes = stack_peak_bytes();
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

static void clear_value() {
  value_magnitude = 0;
  value_digits = 0;
  value_decimals = 0;
  value_point = false;
  value_negative = false;
  value_signed = false;
}

// value_magnitude * 10 + digit, saturating (no int32 overflow: 99,999,999 * 10 + 9 fits).
static int32_t append_digit(int32_t magnitude, uint8_t digit) {
  return magnitude > TL_RAW_LIMIT / 10 ? TL_SATURATED : magnitude * 10 + digit;
}

// Ends the value being read (if any) and stores it, scaled to TL_RAW_DECIMALS decimals and
// saturated at TL_RAW_LIMIT.
static void end_value() {
  if (value_digits == 0) {
    if (value_signed || value_point) {
      fail(TL_ERROR_NUMBER, value_point ? '.' : (value_negative ? '-' : '+'));
    }
    return;
  }
  for (uint8_t d = value_decimals; d < TL_RAW_DECIMALS; d++) {
    value_magnitude = append_digit(value_magnitude, 0);
  }
  if (value_magnitude > TL_RAW_LIMIT) value_magnitude = TL_RAW_LIMIT;
  if (value_count < TL_RAW_CHANNELS) {
    reading[value_count] = value_negative ? -value_magnitude : value_magnitude;
  }
  if (value_count < 255) value_count++;
  clear_value();
}

static void read_value_byte(char c) {
  if (c == ' ' || c == ',' || c == '\t') {
    end_value();
  } else if ((c == '-' || c == '+') && value_digits == 0 && !value_signed && !value_point) {
    value_signed = true;
    value_negative = (c == '-');
  } else if (c == '.' && !value_point) {
    value_point = true;
  } else if (c >= '0' && c <= '9') {
    if (value_digits < 255) value_digits++;
    if (value_point && value_decimals >= TL_RAW_DECIMALS) return;  // truncated toward zero
    value_magnitude = append_digit(value_magnitude, (uint8_t)(c - '0'));
    if (value_point) value_decimals++;
  } else {
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
  clear_value();
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
