/*
 * TinyLab capture sketch for the Arduino Nano 33 BLE Sense: streams its IMU (accelerometer +
 * gyroscope) in the capture protocol of docs/capture-protocol.md, 115200 baud:
 *
 *   board -> host  "#TINYLAB proto=1 sketch=capture board=nano33ble sensor=bmi270 rate_hz=50
 *                   columns=ax,ay,az,gx,gy,gz ..."                 at start, and for "?"
 *   board -> host  "ax,ay,az,gx,gy,gz"   one row per sample: g (3 decimals), deg/s (1 decimal)
 *   host -> board  "T"  trigger mode: stop streaming; when the acceleration magnitude reaches
 *                       CAPTURE_THRESHOLD_G, send one window of CAPTURE_WINDOW_ROWS rows framed
 *                       by "# window start rows=50" and "# window end" (the trigger of the
 *                       classic TinyML gesture tutorial; one "T" arms one window)
 *                  "S"  stream mode again (the mode at start)
 *                  "?"  the banner again
 *                  "G <gesture>" is for the simulated board only: here it answers "!".
 * Each command line gets one answer line ("#" or "! what was wrong").
 *
 * Which IMU: the Rev1 board carries an LSM9DS1 (library Arduino_LSM9DS1), the Rev2 a BMI270 +
 * BMM150 (library Arduino_BMI270_BMM150); the printing on the chip tells them apart. Choose
 * at compile time with TL_IMU_REV, 2 by default:
 *   - edit the "#define TL_IMU_REV 2" line below to 1, or
 *   - arduino-cli compile --fqbn arduino:mbed_nano:nano33ble \
 *       --build-property "compiler.cpp.extra_flags=-DTL_IMU_REV=1" boards/sketches/capture_nano33ble
 * and install the library: arduino-cli lib install Arduino_BMI270_BMM150 (or Arduino_LSM9DS1).
 * Both libraries give acceleration in g and rotation rate in deg/s through the same calls.
 *
 * NOT COMPILED BY TINYLAB'S TESTS: building it needs arduino-cli with the arduino:mbed_nano
 * core and one of the libraries above, none of which the offline test machine has. The
 * protocol code mirrors capture_sim.ino, which the tests do compile and run (tests/
 * test_capture_sketch.py); check the two together when changing either.
 */

#ifndef TL_IMU_REV
#define TL_IMU_REV 2
#endif

#if TL_IMU_REV == 1
#include <Arduino_LSM9DS1.h>
#define TL_SENSOR "lsm9ds1"
#elif TL_IMU_REV == 2
#include <Arduino_BMI270_BMM150.h>
#define TL_SENSOR "bmi270"
#else
#error "TL_IMU_REV must be 1 (LSM9DS1, Nano 33 BLE Sense Rev1) or 2 (BMI270/BMM150, Rev2)"
#endif

#ifndef TL_BOARD
#define TL_BOARD "nano33ble"
#endif

// The same rate as capture_sim.ino, so models trained on simulated rows see real ones at the
// same time scale. The IMU samples faster (LSM9DS1: 119 Hz; BMI270: 100 Hz by default); the
// sketch takes its latest reading every 20 ms (no anti-alias filter beyond the sensor's own).
#define CAPTURE_RATE_HZ 50
#define CAPTURE_PERIOD_MS (1000 / CAPTURE_RATE_HZ)
// One window: 1 s of rows, like the simulator's gestures.
#define CAPTURE_WINDOW_ROWS 50
// The gesture tutorial's threshold (it summed |ax|+|ay|+|az|; here the magnitude |a|). At rest
// |a| is 1 g; lower it for gentle gestures, raise it if windows fire while you only hold the
// board. Both IMUs are read at +-4 g full scale by their libraries.
#define CAPTURE_THRESHOLD_G 2.5f
#define CAPTURE_LINE_BYTES 16

#define MODE_STREAM 0
#define MODE_TRIGGER 1

static uint8_t mode = MODE_STREAM;
static bool armed = false;             // trigger mode: waiting for the threshold
static uint16_t window_rows_left = 0;  // trigger mode: rows of the window still to send
static unsigned long next_sample_ms = 0;
static float accel_g[3] = {0.0f, 0.0f, 1.0f};
static float gyro_dps[3] = {0.0f, 0.0f, 0.0f};
static char line[CAPTURE_LINE_BYTES];
static uint8_t line_length = 0;
static bool line_too_long = false;

static void print_banner() {
  Serial.print(F("#TINYLAB proto=1 sketch=capture board=" TL_BOARD " sensor=" TL_SENSOR " rate_hz="));
  Serial.print(CAPTURE_RATE_HZ);
  Serial.print(F(" columns=ax,ay,az,gx,gy,gz units=g,g,g,dps,dps,dps window_rows="));
  Serial.print(CAPTURE_WINDOW_ROWS);
  Serial.print(F(" threshold_g="));
  Serial.print(CAPTURE_THRESHOLD_G, 2);
  Serial.print(F(" mode="));
  Serial.println(mode == MODE_STREAM ? "stream" : "trigger");
}

// Keeps the last reading when the IMU has no new one yet.
static void read_imu() {
  if (IMU.accelerationAvailable()) IMU.readAcceleration(accel_g[0], accel_g[1], accel_g[2]);
  if (IMU.gyroscopeAvailable()) IMU.readGyroscope(gyro_dps[0], gyro_dps[1], gyro_dps[2]);
}

static void send_row() {
  // Print.print(float, digits) formats without printf; 3 decimals of g, 1 of deg/s.
  for (uint8_t axis = 0; axis < 3; axis++) {
    Serial.print(accel_g[axis], 3);
    Serial.print(',');
  }
  for (uint8_t axis = 0; axis < 3; axis++) {
    Serial.print(gyro_dps[axis], 1);
    if (axis < 2) Serial.print(',');
  }
  Serial.println();
}

static void take_sample() {
  read_imu();
  if (mode == MODE_STREAM) {
    send_row();
    return;
  }
  if (armed) {
    float magnitude_g = sqrtf(accel_g[0] * accel_g[0] + accel_g[1] * accel_g[1] +
                              accel_g[2] * accel_g[2]);
    if (magnitude_g < CAPTURE_THRESHOLD_G) return;
    armed = false;
    window_rows_left = CAPTURE_WINDOW_ROWS;  // the window starts with the triggering sample
    Serial.print(F("# window start rows="));
    Serial.println(CAPTURE_WINDOW_ROWS);
  }
  if (window_rows_left > 0) {
    send_row();
    if (--window_rows_left == 0) Serial.println(F("# window end"));
  }
}

static void answer_line() {
  if (line_too_long) {
    Serial.print(F("! line too long: commands have at most "));
    Serial.print(CAPTURE_LINE_BYTES - 1);
    Serial.println(F(" bytes"));
    return;
  }
  uint8_t end = line_length;
  while (end > 0 && line[end - 1] == ' ') end--;
  line[end] = '\0';
  if (end == 0) return;  // an empty line gets no answer
  const char *rest = line + 1;
  if (line[0] == '?' && *rest == '\0') {
    print_banner();
  } else if (line[0] == 'S' && *rest == '\0') {
    mode = MODE_STREAM;
    armed = false;
    window_rows_left = 0;
    Serial.println(F("# mode=stream"));
  } else if (line[0] == 'T' && *rest == '\0') {
    if (armed || window_rows_left > 0) {
      Serial.println(F("! a window is already armed or being sent: wait for '# window end'"));
      return;
    }
    mode = MODE_TRIGGER;
    armed = true;
    Serial.print(F("# armed rows="));
    Serial.print(CAPTURE_WINDOW_ROWS);
    Serial.print(F(" threshold_g="));
    Serial.println(CAPTURE_THRESHOLD_G, 2);
  } else if (line[0] == 'G' && (*rest == ' ' || *rest == '\0')) {
    Serial.println(F("! G selects a simulated gesture: this board has a real IMU, so move it"));
  } else {
    Serial.print(F("! unknown command (byte "));
    Serial.print((int)(uint8_t)line[0]);
    Serial.println(F("): send ?, S or T"));
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
  if (line_length == 0 && c == ' ') return;
  if (line_length < CAPTURE_LINE_BYTES - 1) line[line_length++] = c;
  else line_too_long = true;
}

void setup() {
  Serial.begin(115200);
  while (!Serial && millis() < 3000) {
    // Native USB: give the host a moment to open the port. The board does not reset when the
    // port opens (unlike an Uno), so a host that missed this banner sends "?".
  }
  if (!IMU.begin()) {
    while (true) {  // no IMU: say so every second rather than stream zeros
      Serial.println(F("! the " TL_SENSOR " IMU did not start: wrong TL_IMU_REV for this board?"));
      delay(1000);
    }
  }
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
    if ((long)(now - next_sample_ms) >= 0) next_sample_ms = now + CAPTURE_PERIOD_MS;
    take_sample();
  }
}
