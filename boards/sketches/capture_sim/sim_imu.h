// A simulated 6-axis IMU for TinyLab's capture sketch on the virtual Uno (capture_sim.ino).
//
// It stands in for the Nano 33 BLE Sense's accelerometer + gyroscope: a board lying flat
// (gravity +1 g on z) that a simulated person moves through one of four gestures, repeated
// once per SIM_IMU_CYCLE_ROWS samples, with noise from a deterministic generator (a fixed
// seed at reset, so the same commands give the same rows). docs/capture-protocol.md describes
// the signals; they are shaped to be told apart, not to match any real sensor's spectrum.

#ifndef TINYLAB_SIM_IMU_H
#define TINYLAB_SIM_IMU_H

#include <stdint.h>

#define SIM_IMU_IDLE 0   // gravity + noise
#define SIM_IMU_PUNCH 1  // a sharp forward (+x) acceleration spike, then the stop (-x)
#define SIM_IMU_FLEX 2   // a slow rotation about y (gy), gravity tilting from z into x
#define SIM_IMU_WAVE 3   // a side-to-side oscillation: ay and gz at 2 Hz
#define SIM_IMU_GESTURES 4

// One sample in integer units, so that printing needs no floating point:
// acceleration in thousandths of g (mg), rotation rate in tenths of a degree per second.
struct ImuSample {
  int16_t accel_mg[3];
  int16_t gyro_ddps[3];
};

// The gesture named `name` ("idle", "punch", "flex", "wave"), or -1 if there is none.
int8_t sim_imu_find_gesture(const char *name);
// The name of gesture `gesture` ("?" if there is none).
const char *sim_imu_gesture_name(uint8_t gesture);
// Select a gesture and start it from its beginning.
void sim_imu_select(uint8_t gesture);
uint8_t sim_imu_gesture();
// Start the current gesture again from its beginning (a triggered window).
void sim_imu_restart();
// The next sample at `rate_hz` samples per second.
void sim_imu_next(ImuSample *sample, uint16_t rate_hz);

#endif
