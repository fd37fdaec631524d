// The simulated IMU behind capture_sim.ino; see sim_imu.h and docs/capture-protocol.md.

#include <math.h>
#include <string.h>

#include "sim_imu.h"

// Fixed at reset: the same commands after a reset give the same rows (tests rely on it).
#define SIM_IMU_SEED 0x2545F491UL
// One gesture takes one second (SIM_IMU_CYCLE_S) and repeats while it is selected.
#define SIM_IMU_CYCLE_S 1.0f

// Noise standard deviations; tune to make the classes harder (more) or easier (less) to tell
// apart. Real MEMS parts at rest: ~0.002-0.01 g and ~0.1-1 deg/s.
#define SIM_IMU_ACCEL_NOISE_G 0.02f
#define SIM_IMU_GYRO_NOISE_DPS 1.0f
// Each repetition's amplitude is scaled by a random factor in [1 - JITTER, 1 + JITTER].
#define SIM_IMU_AMPLITUDE_JITTER 0.2f

// Gesture shapes (peak values before the amplitude jitter).
#define PUNCH_START_S 0.2f       // the spike starts 0.2 s into the cycle
#define PUNCH_THRUST_S 0.1f      // forward thrust: a half sine on +x ...
#define PUNCH_THRUST_G 3.5f
#define PUNCH_STOP_S 0.15f       // ... then the stop: a wider, lower half sine on -x
#define PUNCH_STOP_G 1.5f
#define PUNCH_TWIST_DPS 60.0f    // the wrist turns a little about y meanwhile
#define FLEX_PEAK_DPS 120.0f     // gy = peak * sin(2 pi t): tilt up to ~38 degrees and back
#define WAVE_HZ 2.0f
#define WAVE_ACCEL_G 0.8f        // ay = peak * sin(2 pi f t)
#define WAVE_GYRO_DPS 150.0f     // gz = peak * cos(2 pi f t)

static const char *const kGestureNames[SIM_IMU_GESTURES] = {"idle", "punch", "flex", "wave"};

static uint32_t random_state = SIM_IMU_SEED;
static uint8_t gesture = SIM_IMU_IDLE;
static uint16_t cycle_sample = 0;     // samples since the current repetition began
static float amplitude = 1.0f;        // this repetition's jitter factor

// xorshift32 (Marsaglia 2003): 32 bits of state, period 2^32 - 1.
static uint32_t next_random() {
  random_state ^= random_state << 13;
  random_state ^= random_state >> 17;
  random_state ^= random_state << 5;
  return random_state;
}

// Uniform in [0, 1).
static float uniform() { return (next_random() >> 8) * (1.0f / 16777216.0f); }

// Roughly normal, mean 0, standard deviation `sigma`: the sum of four uniforms (Irwin-Hall,
// variance 4/12) centred and scaled; bounded at +-3.46 sigma, which a plot never misses.
static float noise(float sigma) {
  float sum = uniform() + uniform() + uniform() + uniform();
  return (sum - 2.0f) * 1.7320508f * sigma;
}

static float half_sine(float t, float start_s, float length_s) {
  if (t < start_s || t >= start_s + length_s) return 0.0f;
  return sinf((float)M_PI * (t - start_s) / length_s);
}

static int16_t to_int16(float value, float scale, float limit) {
  if (value > limit) value = limit;
  if (value < -limit) value = -limit;
  return (int16_t)lroundf(value * scale);
}

int8_t sim_imu_find_gesture(const char *name) {
  for (uint8_t i = 0; i < SIM_IMU_GESTURES; i++) {
    if (strcmp(name, kGestureNames[i]) == 0) return (int8_t)i;
  }
  return -1;
}

const char *sim_imu_gesture_name(uint8_t which) {
  return which < SIM_IMU_GESTURES ? kGestureNames[which] : "?";
}

void sim_imu_restart() { cycle_sample = 0; }

void sim_imu_select(uint8_t which) {
  gesture = which < SIM_IMU_GESTURES ? which : SIM_IMU_IDLE;
  sim_imu_restart();
}

uint8_t sim_imu_gesture() { return gesture; }

void sim_imu_next(ImuSample *sample, uint16_t rate_hz) {
  uint16_t cycle_rows = (uint16_t)(SIM_IMU_CYCLE_S * rate_hz);
  if (cycle_sample >= cycle_rows) cycle_sample = 0;
  if (cycle_sample == 0) amplitude = 1.0f + SIM_IMU_AMPLITUDE_JITTER * (2.0f * uniform() - 1.0f);
  float t = (float)cycle_sample / rate_hz;   // seconds into this repetition
  cycle_sample++;

  float accel_g[3] = {0.0f, 0.0f, 1.0f};     // lying flat: gravity on +z
  float gyro_dps[3] = {0.0f, 0.0f, 0.0f};
  const float two_pi = 2.0f * (float)M_PI;
  if (gesture == SIM_IMU_PUNCH) {
    float thrust = half_sine(t, PUNCH_START_S, PUNCH_THRUST_S);
    float stop = half_sine(t, PUNCH_START_S + PUNCH_THRUST_S, PUNCH_STOP_S);
    accel_g[0] += amplitude * (PUNCH_THRUST_G * thrust - PUNCH_STOP_G * stop);
    gyro_dps[1] += amplitude * PUNCH_TWIST_DPS * (thrust - stop);
  } else if (gesture == SIM_IMU_FLEX) {
    // Rotation rate about y, and the tilt it accumulates (its integral, in radians):
    // gravity seen by the board turns from +z towards -x.
    float peak_dps = amplitude * FLEX_PEAK_DPS;
    gyro_dps[1] = peak_dps * sinf(two_pi * t / SIM_IMU_CYCLE_S);
    float tilt_rad = peak_dps * SIM_IMU_CYCLE_S / two_pi * (1.0f - cosf(two_pi * t / SIM_IMU_CYCLE_S))
                     * ((float)M_PI / 180.0f);
    accel_g[0] = -sinf(tilt_rad);
    accel_g[2] = cosf(tilt_rad);
  } else if (gesture == SIM_IMU_WAVE) {
    accel_g[1] = amplitude * WAVE_ACCEL_G * sinf(two_pi * WAVE_HZ * t);
    gyro_dps[2] = amplitude * WAVE_GYRO_DPS * cosf(two_pi * WAVE_HZ * t);
  }
  for (uint8_t axis = 0; axis < 3; axis++) {
    // Limits of a +-16 g, +-2000 deg/s sensor (both fit int16 in these units).
    sample->accel_mg[axis] = to_int16(accel_g[axis] + noise(SIM_IMU_ACCEL_NOISE_G), 1000.0f, 16.0f);
    sample->gyro_ddps[axis] = to_int16(gyro_dps[axis] + noise(SIM_IMU_GYRO_NOISE_DPS), 10.0f, 2000.0f);
  }
}
