// TinyLab's smallest serial test: greet with one banner line, then echo every line back.
// Lesson 08 and tests/test_virtual.py use it to check the path host -> serial -> board -> host
// on the virtual Uno (simavr) and on a real board, at 115200 baud, '\n'-terminated lines.
// Lines longer than 63 characters come back in pieces of 63.

#include <avr/sleep.h>

const uint8_t kLineBytes = 64;  // the AVR core's serial RX buffer is 64 bytes too

void setup() {
  Serial.begin(115200);
  Serial.println(F("# tinylab protocol=1 sketch=echo board=uno"));
}

void loop() {
  static char line[kLineBytes];
  static uint8_t length = 0;

  while (Serial.available() > 0) {
    char c = Serial.read();
    if (c == '\r') continue;
    if (c == '\n' || length == kLineBytes - 1) {
      line[length] = '\0';
      Serial.println(line);
      length = 0;
    } else {
      line[length++] = c;
    }
  }
  // Nothing to do until the next byte: idle until an interrupt (serial RX, or the 1 ms timer
  // behind millis()). It saves power on a real board and host CPU on the virtual one.
  set_sleep_mode(SLEEP_MODE_IDLE);
  sleep_mode();
}
