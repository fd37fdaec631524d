/*
 * The live sketches' banner (live_sim and live_nano33ble; docs/live.md), printed at start and
 * for "?": what the firmware carries, read from model.h and live_config.h, so the host can
 * check the model and the window before it sends a reading.
 *
 *   #TINYLAB proto=1 sketch=live board=uno format=int8 model=1a2b3c4d inputs=300 outputs=4
 *            channels=6 decimals=3 steps=50 hop=10 rate_hz=50 classes=idle,punch,flex,wave
 *
 * Arduino C++ (Serial, F()); include it after model.h (through tl_live.h), live_config.h and
 * TL_BOARD. A sketch adds keys of its own with TL_LIVE_BANNER_EXTRA, defined before the
 * include (live_nano33ble: " sensor=bmi270").
 */
#ifndef TL_LIVE_BANNER_H
#define TL_LIVE_BANNER_H

#ifndef TL_LIVE_BANNER_EXTRA
#define TL_LIVE_BANNER_EXTRA ""
#endif

static void print_banner() {
  Serial.print(F("#TINYLAB proto=1 sketch=live board=" TL_BOARD TL_LIVE_BANNER_EXTRA
                 " format=" TL_FORMAT " model=" TL_MODEL_HASH " inputs="));
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

#endif /* TL_LIVE_BANNER_H */
