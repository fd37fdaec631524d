/*
 * Just enough of the Arduino API to build the inference sketch for the host (Linux), so that
 * tests/test_device.py can talk to the real sketch code over a pseudo-terminal in milliseconds,
 * without avr-gcc or simavr. A test fixture, not a board: `Serial` reads standard input and
 * writes standard output (the test connects both to a pty).
 *
 * Like the ATmega328P's UART, received bytes land in a 64-byte ring (63 usable) and bytes that
 * arrive while it is full are dropped; the ring is filled only when the sketch asks
 * Serial.available(), so a host that sends more than 63 bytes unpaced loses some.
 */
#ifndef TINYLAB_ARDUINO_HOST_H
#define TINYLAB_ARDUINO_HOST_H

#include <stdint.h>
#include <stddef.h>

#define F(text) (text)

unsigned long micros(void);
unsigned long millis(void);

class HostSerial {
 public:
  void begin(unsigned long baud);
  int available(void);
  int read(void);
  size_t write(uint8_t byte);
  size_t print(const char *text);
  size_t print(char c);
  size_t print(int value);
  size_t print(unsigned int value);
  size_t print(long value);
  size_t print(unsigned long value);
  size_t println(const char *text);
  size_t println(int value);
  size_t println(unsigned int value);
  size_t println(void);
  explicit operator bool() const { return true; }
};

extern HostSerial Serial;

void setup(void);
void loop(void);

#endif
