/*
 * TinyLab live sketch for the Arduino Nano 33 BLE Sense: reads the IMU (accelerometer +
 * gyroscope) at the model's rate, keeps a sliding window of readings and classifies it on
 * the chip every TL_LIVE_HOP readings, printing the class and how long it took. The window,
 * the normalization and the model are the C core that live_sim runs on the virtual Uno and
 * the tests check there and on the host, bit for bit (tl_live.c, model.c). See docs/live.md.
 *
 * Serial, 115200 baud:
 *   board -> host  "#TINYLAB proto=1 sketch=live board=nano33ble sensor=bmi270 format=int8
 *                   model=1a2b3c4d inputs=300 outputs=4 channels=6 decimals=3 steps=50
 *                   hop=10 rate_hz=50 classes=idle,punch,flex,wave"   at start, and for "?"
 *   board -> host  "punch class=1 latency_us=812 cycles=51234 scores=-12,90,4,-3"
 *                  one line per classification: the class name first, then key=value words
 *   host -> board  "?"  the banner again (the board does not reset when the port opens)
 *
 * Which IMU, as capture_nano33ble: the Rev1 board carries an LSM9DS1 (library
 * Arduino_LSM9DS1), the Rev2 a BMI270 + BMM150 (library Arduino_BMI270_BMM150). Choose with
 * TL_IMU_REV, 2 by default: edit the #define below, or
 *   arduino-cli compile --fqbn arduino:mbed_nano:nano33ble \
 *     --build-property "compiler.cpp.extra_flags=-DTL_IMU_REV=1" <this folder>
 * Both libraries give acceleration in g and rotation rate in deg/s; TL_LIVE_UNIT_SCALE (in
 * live_config.h) converts them into the units the model was trained on, channel by channel
 * (1.0 for a model trained on Nano captures; see docs/live.md for BasicMotions).
 *
 * Build it (docs/live.md): arduino-cli core install arduino:mbed_nano, then
 * arduino-cli lib install Arduino_BMI270_BMM150 (or Arduino_LSM9DS1). The files beside it
 * come from tinylab.live.write_live_sketch(mlp, ri, class_names, board="nano33ble"): the
 * model, the core (tl_live.h/.c), live_config.h, and tl_measure.h (the cycle counter, as the
 * inference sketch counts them).
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

#include "tl_live.h"
#include "live_config.h"

#ifndef TL_BOARD
#define TL_BOARD "nano33ble"
#endif
#include "tl_measure.h"  // the Cortex-M4's DWT cycle counter (TL_HAS_CYCLES)
#define TL_LIVE_BANNER_EXTRA " sensor=" TL_SENSOR
#include "tl_live_banner.h"

#if TL_RAW_CHANNELS != 6
#error "live_nano33ble reads 6 channels (ax ay az gx gy gz); the model takes TL_RAW_CHANNELS"
#endif

// One reading every 1000 / TL_LIVE_RATE_HZ ms (BasicMotions: 10 Hz, 100 ms; the gestures: 50 Hz,
// 20 ms). The IMU samples faster (LSM9DS1 119 Hz, BMI270 100 Hz by default); the sketch takes
// its latest reading on time, as capture_nano33ble does.
#define TL_LIVE_PERIOD_US (1000000UL / TL_LIVE_RATE_HZ)

static tl_live_t live;
static int8_t scores[TL_OUTPUTS];
static const char *const class_names[TL_OUTPUTS] = TL_LIVE_CLASS_NAMES;
static const float unit_scale[TL_RAW_CHANNELS] = TL_LIVE_UNIT_SCALE;
static float accel_g[3] = {0.0f, 0.0f, 1.0f};
static float gyro_dps[3] = {0.0f, 0.0f, 0.0f};
static unsigned long next_reading_us = 0;

// Keeps the last reading when the IMU has no new one yet.
static void read_imu() {
  if (IMU.accelerationAvailable()) IMU.readAcceleration(accel_g[0], accel_g[1], accel_g[2]);
  if (IMU.gyroscopeAvailable()) IMU.readGyroscope(gyro_dps[0], gyro_dps[1], gyro_dps[2]);
}

static void take_reading() {
  int32_t fixed[TL_RAW_CHANNELS];
  read_imu();
  for (uint8_t axis = 0; axis < 3; axis++) {
    fixed[axis] = tl_live_fixed_from_float(accel_g[axis] * unit_scale[axis]);
    fixed[3 + axis] = tl_live_fixed_from_float(gyro_dps[axis] * unit_scale[3 + axis]);
  }
  if (!tl_live_push(&live, fixed)) return;
  unsigned long started_us = micros();
  tl_cycles_start();
  uint8_t best = tl_live_classify(&live, scores);
  uint32_t cycles = tl_cycles_stop();  // 0 on a core without the CMSIS debug registers
  unsigned long latency_us = micros() - started_us;
  Serial.print(class_names[best]);
  Serial.print(F(" class="));
  Serial.print((int)best);
  Serial.print(F(" latency_us="));
  Serial.print(latency_us);
  Serial.print(F(" cycles="));
  Serial.print((unsigned long)cycles);
  Serial.print(F(" scores="));
  for (uint16_t i = 0; i < TL_OUTPUTS; i++) {
    if (i > 0) Serial.print(',');
    Serial.print((int)scores[i]);
  }
  Serial.println();
}

void setup() {
  tl_live_init(&live, TL_LIVE_HOP);
  Serial.begin(115200);
  while (!Serial && millis() < 3000) {
    // Native USB: give the host a moment to open the port; a host that missed the banner
    // sends "?".
  }
  if (!IMU.begin()) {
    while (true) {  // no IMU: say so every second rather than classify zeros
      Serial.println(F("! the " TL_SENSOR " IMU did not start: wrong TL_IMU_REV for this board?"));
      delay(1000);
    }
  }
  print_banner();
  next_reading_us = micros() + TL_LIVE_PERIOD_US;
}

void loop() {
  while (Serial.available() > 0) {
    if (Serial.read() == '?') print_banner();
  }
  unsigned long now = micros();
  if ((long)(now - next_reading_us) >= 0) {
    next_reading_us += TL_LIVE_PERIOD_US;
    // Fell behind by a whole period (a slow print, a long classification): skip, do not burst.
    if ((long)(now - next_reading_us) >= 0) next_reading_us = now + TL_LIVE_PERIOD_US;
    take_reading();
  }
}
