/*
 * TinyLab sketches' measurements: the board's name, the CPU cycles of one call, and the deepest
 * the stack went during it. One home for the inference sketch (R lines) and the live sketches
 * (live_sim's C lines, live_nano33ble's cycles=); tinylab.deploy.sketch_around and
 * tinylab.live.write_live_sketch copy it beside them.
 *
 *   #include "tl_measure.h"           in the .ino only: it defines Timer1's interrupt on the AVR
 *   tl_stack_paint();                 if TL_HAS_STACK; outside the timed call
 *   tl_cycles_start();
 *   the call being measured
 *   uint32_t cycles = tl_cycles_stop();   0 where TL_HAS_CYCLES is 0
 *   uint16_t stack_bytes = tl_stack_peak();   if TL_HAS_STACK
 *
 * TL_BOARD: the board's name in the banner ("uno", "nano33ble", "unknown"), unless defined
 * before the include. TL_HAS_CYCLES, TL_HAS_STACK: 1 where the board counts them.
 */
#ifndef TL_MEASURE_H
#define TL_MEASURE_H

#include <stdint.h>

#ifndef TL_BOARD
#if defined(ARDUINO_AVR_UNO)
#define TL_BOARD "uno"
#elif defined(ARDUINO_ARDUINO_NANO33BLE)
#define TL_BOARD "nano33ble"
#else
#define TL_BOARD "unknown"
#endif
#endif

// Inlined whatever the optimizer thinks: the timed region must hold the measured call and the
// timer's start and stop, nothing else (a call into a helper would count its own cycles).
#define TL_MEASURE_INLINE static inline __attribute__((always_inline))

#if defined(__AVR__)
// Cycle counting on the ATmega328P: Timer1 at clk/1 counts CPU cycles, its overflow interrupt
// extends it to 32 bits. The sketch owns Timer1 (it otherwise drives PWM on pins 9 and 10 and
// the Servo library): a model file must not use it.
static volatile uint16_t timer1_overflows = 0;
ISR(TIMER1_OVF_vect) { timer1_overflows++; }
#define TL_HAS_CYCLES 1

TL_MEASURE_INLINE void tl_cycles_start() {
  TCCR1A = 0;
  TCCR1B = 0;
  TCNT1 = 0;
  timer1_overflows = 0;
  TIFR1 = _BV(TOV1);
  TIMSK1 = _BV(TOIE1);
  TCCR1B = _BV(CS10);  // start, no prescaler
}

// The cycles since tl_cycles_start(); stops Timer1.
TL_MEASURE_INLINE uint32_t tl_cycles_stop() {
  // Read the count while the timer still runs (as micros() does with Timer0): simavr reads a
  // stopped timer as 0. An overflow flagged but not yet served belongs to this count if the
  // count has just wrapped.
  uint8_t sreg = SREG;
  cli();
  uint16_t count = TCNT1;
  uint32_t overflows = timer1_overflows;
  if ((TIFR1 & _BV(TOV1)) && count < 0x8000) overflows++;
  TCCR1B = 0;  // stop
  TIMSK1 = 0;
  TIFR1 = _BV(TOV1);
  SREG = sreg;
  return (overflows << 16) | count;
}
#elif defined(DWT) && defined(CoreDebug) && defined(DWT_CTRL_CYCCNTENA_Msk)
// Cortex-M (Nano 33 BLE): the Data Watchpoint and Trace unit's cycle counter.
#define TL_HAS_CYCLES 1

TL_MEASURE_INLINE void tl_cycles_start() {
  CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
}

TL_MEASURE_INLINE uint32_t tl_cycles_stop() { return DWT->CYCCNT; }
#else
// A core without a cycle counter the sketch knows (or without the CMSIS debug registers).
#define TL_HAS_CYCLES 0

TL_MEASURE_INLINE void tl_cycles_start() {}

TL_MEASURE_INLINE uint32_t tl_cycles_stop() { return 0; }
#endif

#if defined(__AVR__)
// Stack measurement on the AVR ("stack painting"): before each inference, fill the free RAM
// between the end of static data and heap and the stack pointer with a pattern; after it, the
// lowest byte no longer holding the pattern is the deepest the stack went: the sketch's frames,
// the model's below them, and any interrupt served meanwhile. avr-libc's memory layout (its
// malloc documentation): .data, .bss and .noinit from RAMSTART, then the heap from
// __heap_start up to __brkval (0 while malloc was never called), then free RAM, then the stack
// growing down from RAMEND. Painting and scanning cost about 10 cycles per free byte (16,800
// cycles, 1 ms, with 1,750 bytes free), outside the timed call: cycles and latency exclude them.
// static RAM + stack_bytes is what the firmware needs (docs/serial-protocol.md).
#define TL_HAS_STACK 1
#define TL_STACK_PAINT 0xC5    // any value; a byte the stack writes seldom holds this one
#define TL_STACK_MARGIN 8      // bytes left unpainted just below the stack pointer
extern "C" {
extern char __heap_start;
extern char *__brkval;
}
// Addresses, not pointers into __heap_start (a 1-byte object to the compiler).
static uint16_t stack_paint_start;
static uint16_t stack_paint_end;  // one past the last painted byte

// Paints the free RAM; the stack pointer (SP) points at the next byte a push will write.
// Four bytes a loop turn: gcc -Os never unrolls, and a turn costs more than a store.
static __attribute__((noinline)) void tl_stack_paint() {
  uint16_t start = __brkval != 0 ? (uint16_t)__brkval : (uint16_t)&__heap_start;
  uint16_t end = SP - TL_STACK_MARGIN;
  if (end < start) end = start;
  end -= (end - start) % 4;  // whole blocks of 4 bytes
  stack_paint_start = start;
  stack_paint_end = end;
  for (uint8_t *p = (uint8_t *)start; p != (uint8_t *)end; p += 4) {
    p[0] = TL_STACK_PAINT;
    p[1] = TL_STACK_PAINT;
    p[2] = TL_STACK_PAINT;
    p[3] = TL_STACK_PAINT;
  }
  __asm__ __volatile__("" ::: "memory");  // the stores happen here, before the model runs
}

// Bytes from the deepest byte the stack reached since tl_stack_paint() up to RAMEND. Scans up
// from the bottom, so a pattern byte inside the used stack (a pushed 0xC5, an unfilled gap in a
// local array) does not cut it short. Nothing overwritten: the painted region's top (an upper
// bound).
static __attribute__((noinline)) uint16_t tl_stack_peak() {
  __asm__ __volatile__("" ::: "memory");  // RAM is read now, after the model ran
  const uint8_t *p = (const uint8_t *)stack_paint_start;
  const uint8_t *end = (const uint8_t *)stack_paint_end;
  while (p != end && p[0] == TL_STACK_PAINT && p[1] == TL_STACK_PAINT && p[2] == TL_STACK_PAINT
         && p[3] == TL_STACK_PAINT) {
    p += 4;  // the first block of 4 that is not all paint
  }
  while (p != end && *p == TL_STACK_PAINT) p++;  // its first byte that is not
  return (uint16_t)(RAMEND + 1 - (uint16_t)p);
}
#else
#define TL_HAS_STACK 0
#endif
#if TL_HAS_STACK && !TL_HAS_CYCLES
#error "the stack_bytes field follows the cycles field: a board reporting it counts cycles"
#endif

#endif  // TL_MEASURE_H
