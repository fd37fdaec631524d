/*
 * TinyLab capture sketch, simulated: streams rows from a simulated IMU on the virtual Uno
 * (or a real Uno), in the capture protocol of docs/capture-protocol.md, 115200 baud:
 *
 *   board -> host  "#TINYLAB proto=1 sketch=capture board=uno sensor=sim-imu rate_hz=50
 *                   columns=ax,ay,az,gx,gy,gz ... simulated=1"     at reset, and for "?"
 *   board -> host  "ax,ay,az,gx,gy,gz"   one row per sample: g (3 decimals), deg/s (1 decimal)
 *   host -> board  "G punch"  the simulated gesture: idle, punch, flex, wave -> "# gesture=punch"
 *                  "T"        trigger mode: stop streaming, send one window of
 *                             CAPTURE_WINDOW_ROWS rows of the gesture from its start, framed by
 *                             "# window start rows=50" and "# window end"
 *                  "S"        stream mode again (the mode after reset)     -> "# mode=stream"
 *                  "?"        the banner again
 * Each command line gets one answer line ("#" or "! what was wrong"); rows continue around it.
 *
 * The data are simulated (sim_imu.cpp): the banner says so, and so must any dataset made
 * from them. RAM: a 16-byte command line, a 48-byte row, the simulator's ~20 bytes, on top of
 * the Arduino core's serial buffers.
 */

#include <avr/sleep.h>
#include <string.h>

#include "sim_imu.h"

#ifndef TL_BOARD
#define TL_BOARD "uno"
#endif

// 50 rows/s x ~40 bytes = ~2 KB/s, a fifth of what 115200 baud carries (11.5 KB/s): the row
// is sent in ~3.5 ms of each 20 ms period. The Nano 33 BLE sketch uses the same rate, so a
// model trained on simulated rows reads real ones at the same time scale.
#define CAPTURE_RATE_HZ 50
#define CAPTURE_PERIOD_MS (1000 / CAPTURE_RATE_HZ)
// One window = one gesture of the simulator (1 s).
#define CAPTURE_WINDOW_ROWS 50
// A command line, its '\0' included; commands are short ("G punch").
#define CAPTURE_LINE_BYTES 16

#define MODE_STREAM 0
#define MODE_TRIGGER 1

static uint8_t mode = MODE_STREAM;
static uint8_t window_rows_left = 0;   // trigger mode: rows of the window still to send
static bool window_pending = false;    // trigger mode: armed, the window starts next sample
static unsigned long next_sample_ms = 0;
static char line[CAPTURE_LINE_BYTES];
static uint8_t line_length = 0;
static bool line_too_long = false;

static void print_banner() {
  Serial.print(F("#TINYLAB proto=1 sketch=capture board=" TL_BOARD " sensor=sim-imu rate_hz="));
  Serial.print(CAPTURE_RATE_HZ);
  Serial.print(F(" columns=ax,ay,az,gx,gy,gz units=g,g,g,dps,dps,dps window_rows="));
  Serial.print(CAPTURE_WINDOW_ROWS);
  Serial.print(F(" mode="));
  Serial.print(mode == MODE_STREAM ? F("stream") : F("trigger"));
  Serial.print(F(" gesture="));
  Serial.print(sim_imu_gesture_name(sim_imu_gesture()));
  Serial.println(F(" simulated=1"));
}

// Appends `value` / 10^decimals in decimal to `text` at `*at` (no floating point: AVR's
// printf has no %f, and this is exact).
static void append_fixed(char *text, uint8_t *at, int16_t value, uint8_t decimals) {
  uint16_t magnitude = value < 0 ? (uint16_t)(-(int32_t)value) : (uint16_t)value;
  char digits[6];
  uint8_t count = 0;
  do {
    digits[count++] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude > 0 || count <= decimals);  // at least one digit before the point
  if (value < 0) text[(*at)++] = '-';
  while (count > 0) {
    if (count == decimals) text[(*at)++] = '.';
    text[(*at)++] = digits[--count];
  }
}

static void send_row() {
  ImuSample sample;
  sim_imu_next(&sample, CAPTURE_RATE_HZ);
  char row[48];  // 6 values of at most 7 characters, 5 commas, '\0'
  uint8_t at = 0;
  for (uint8_t axis = 0; axis < 3; axis++) {
    append_fixed(row, &at, sample.accel_mg[axis], 3);
    row[at++] = ',';
  }
  for (uint8_t axis = 0; axis < 3; axis++) {
    append_fixed(row, &at, sample.gyro_ddps[axis], 1);
    row[at++] = axis < 2 ? ',' : '\0';
  }
  Serial.println(row);
}

static void take_sample() {
  if (mode == MODE_STREAM) {
    send_row();
    return;
  }
  if (window_pending) {
    // The simulated person performs the gesture on cue: the window starts with it.
    window_pending = false;
    window_rows_left = CAPTURE_WINDOW_ROWS;
    sim_imu_restart();
    Serial.print(F("# window start rows="));
    Serial.println(CAPTURE_WINDOW_ROWS);
  }
  if (window_rows_left > 0) {
    send_row();
    if (--window_rows_left == 0) Serial.println(F("# window end"));
  } else {
    ImuSample unused;  // between windows the simulation goes on, unseen
    sim_imu_next(&unused, CAPTURE_RATE_HZ);
  }
}

static void answer_gesture(const char *name) {
  while (*name == ' ') name++;
  int8_t gesture = sim_imu_find_gesture(name);
  if (gesture < 0) {
    Serial.print(F("! unknown gesture '"));
    Serial.print(name);
    Serial.println(F("': send G idle, G punch, G flex or G wave"));
    return;
  }
  sim_imu_select((uint8_t)gesture);
  Serial.print(F("# gesture="));
  Serial.println(name);
}

static void answer_line() {
  if (line_too_long) {
    Serial.print(F("! line too long: commands have at most "));
    Serial.print(CAPTURE_LINE_BYTES - 1);
    Serial.println(F(" bytes"));
    return;
  }
  uint8_t end = line_length;
  while (end > 0 && line[end - 1] == ' ') end--;  // trailing spaces do not count
  line[end] = '\0';
  if (end == 0) return;  // an empty line gets no answer
  const char *rest = line + 1;
  if (line[0] == '?' && *rest == '\0') {
    print_banner();
  } else if (line[0] == 'S' && *rest == '\0') {
    mode = MODE_STREAM;
    window_pending = false;
    window_rows_left = 0;
    Serial.println(F("# mode=stream"));
  } else if (line[0] == 'T' && *rest == '\0') {
    if (window_pending || window_rows_left > 0) {
      Serial.println(F("! a window is already armed or being sent: wait for '# window end'"));
      return;
    }
    mode = MODE_TRIGGER;
    window_pending = true;
    Serial.print(F("# armed rows="));
    Serial.println(CAPTURE_WINDOW_ROWS);
  } else if (line[0] == 'G' && (*rest == ' ' || *rest == '\0')) {
    answer_gesture(rest);
  } else {
    Serial.print(F("! unknown command (byte "));
    Serial.print((int)(uint8_t)line[0]);
    Serial.println(F("): send ?, S, T or G <idle|punch|flex|wave>"));
  }
}

static void read_byte(char c) {
  if (c == '\r') return;
  if (c == '\n') {
    answer_line();
    line_length = 0;
    line_too_long = false;
    return;
  }
  if (line_length == 0 && c == ' ') return;  // leading spaces do not count
  if (line_length < CAPTURE_LINE_BYTES - 1) line[line_length++] = c;
  else line_too_long = true;
}

void setup() {
  Serial.begin(115200);
  sim_imu_select(SIM_IMU_IDLE);
  print_banner();
  next_sample_ms = millis() + CAPTURE_PERIOD_MS;
}

void loop() {
  while (Serial.available() > 0) {
    read_byte((char)Serial.read());
  }
  unsigned long now = millis();
  if ((long)(now - next_sample_ms) >= 0) {
    next_sample_ms += CAPTURE_PERIOD_MS;
    // Fell more than a period behind (a long command answer): skip ahead, never burst.
    if ((long)(now - next_sample_ms) >= 0) next_sample_ms = now + CAPTURE_PERIOD_MS;
    take_sample();
  }
  // Idle until an interrupt (the 1 ms millis() tick, serial RX or TX): saves power on a real
  // board and host CPU on the virtual one.
  set_sleep_mode(SLEEP_MODE_IDLE);
  sleep_mode();
}
