/* See Arduino.h: the host stand-in for the Arduino core used by tests/test_device.py. */
#include "Arduino.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

HostSerial Serial;

static unsigned char ring[64];
static unsigned ring_head = 0, ring_tail = 0;  // AVR HardwareSerial: head == tail is empty
static struct timespec started;

static unsigned long elapsed_us(void)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (unsigned long)((now.tv_sec - started.tv_sec) * 1000000L +
                         (now.tv_nsec - started.tv_nsec) / 1000L);
}

unsigned long micros(void) { return elapsed_us() & ~3UL; }  // 4 us steps, as on a 16 MHz Uno
unsigned long millis(void) { return elapsed_us() / 1000UL; }

void HostSerial::begin(unsigned long) {}

int HostSerial::available(void)
{
  // Idle (nothing buffered): wait up to 1 ms for input instead of spinning a core.
  struct pollfd input = {0, POLLIN, 0};
  if (poll(&input, 1, ring_head == ring_tail ? 1 : 0) <= 0 || input.revents == 0) {
    return (int)((ring_head + sizeof ring - ring_tail) % sizeof ring);
  }
  unsigned char incoming[256];
  ssize_t got = ::read(0, incoming, sizeof incoming);
  if (got == 0 || (got < 0 && errno != EINTR)) {
    exit(0);  // the pty is gone: the board was unplugged
  }
  for (ssize_t i = 0; i < got; i++) {
    unsigned next = (ring_head + 1) % sizeof ring;
    if (next != ring_tail) {  // full: the byte is lost, as on the AVR
      ring[ring_head] = incoming[i];
      ring_head = next;
    }
  }
  return (int)((ring_head + sizeof ring - ring_tail) % sizeof ring);
}

int HostSerial::read(void)
{
  if (ring_head == ring_tail) return -1;
  unsigned char c = ring[ring_tail];
  ring_tail = (ring_tail + 1) % sizeof ring;
  return c;
}

size_t HostSerial::write(uint8_t byte)
{
  fputc(byte, stdout);
  if (byte == '\n' || byte == '.') fflush(stdout);
  return 1;
}

size_t HostSerial::print(const char *text) { return fputs(text, stdout) >= 0 ? strlen(text) : 0; }
size_t HostSerial::print(char c) { return write((uint8_t)c); }
size_t HostSerial::print(int value) { return printf("%d", value); }
size_t HostSerial::print(unsigned int value) { return printf("%u", value); }
size_t HostSerial::print(long value) { return printf("%ld", value); }
size_t HostSerial::print(unsigned long value) { return printf("%lu", value); }
size_t HostSerial::println(void) { return write('\r') + write('\n'); }
size_t HostSerial::println(const char *text) { return print(text) + println(); }
size_t HostSerial::println(int value) { return print(value) + println(); }
size_t HostSerial::println(unsigned int value) { return print(value) + println(); }

int main(void)
{
  clock_gettime(CLOCK_MONOTONIC, &started);
  setup();
  for (;;) loop();
}
