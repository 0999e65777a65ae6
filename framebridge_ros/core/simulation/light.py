# Copyright 2026 The framebridge_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""
The light model of the simulated scene.

The time of day gives blend weights of three light phases (night, warm dawn/dusk, day);
with the cloud cover they make a :class:`Light`: colour gain and lift, shadow strength,
street lamps, headlights and sensor noise. From it come the lookup table that lights the
daylight albedo of a frame and the Lux, exposure and gain an auto-exposing camera would
report (:func:`camera_reading`).
"""

from dataclasses import dataclass
import math

import numpy as np

__all__ = [
    'DAWN_END_H',
    'DUSK_START_H',
    'Light',
    'NIGHT_END_H',
    'NIGHT_START_H',
    'camera_reading',
    'light_for',
    'light_lut',
]

# Light phases (hours). Labels switch at these times; the look blends over
# +-_PHASE_RAMP_H around each so a day-cycle demo has no visible jumps.
NIGHT_END_H = 5.5
DAWN_END_H = 6.75
DUSK_START_H = 18.75
NIGHT_START_H = 20.5
_PHASE_RAMP_H = 0.25


def _smoothstep(x: float, lo: float, hi: float) -> float:
    u = min(1.0, max(0.0, (x - lo) / (hi - lo)))
    return u * u * (3.0 - 2.0 * u)


def _phase_weights(time_of_day_h: float) -> tuple[float, float, float]:
    """Return (night, warm, day) weights that sum to 1."""
    h = time_of_day_h % 24.0
    r = _PHASE_RAMP_H
    night = ((1.0 - _smoothstep(h, NIGHT_END_H - r, NIGHT_END_H + r))
             + _smoothstep(h, NIGHT_START_H - r, NIGHT_START_H + r))
    day = (_smoothstep(h, DAWN_END_H - r, DAWN_END_H + r)
           * (1.0 - _smoothstep(h, DUSK_START_H - r, DUSK_START_H + r)))
    return night, max(0.0, 1.0 - night - day), day


@dataclass(frozen=True)
class Light:
    """Everything a frame needs to know about the light at one time of day."""

    night: float
    warm: float
    day: float
    cover: float
    gain_bgr: tuple[float, float, float]
    lift: float
    shadow: float
    lamps: float
    headlights: float
    noise_sigma: float
    sun_side: float  # +1 sun on the right (morning), -1 on the left


def light_for(time_of_day_h: float, *, cloud_cover: float, noise_sigma: float) -> Light:
    """Return the light at a time of day under a cloud cover, with its sensor noise."""
    n, w, d = _phase_weights(time_of_day_h)
    cover = cloud_cover
    # Overcast light is dimmer, cooler and flatter; dawn/dusk warm; night blue and dark.
    tints = (
        (d * (1.0 - 0.28 * cover), (1.0 + 0.05 * cover, 1.0, 1.0 - 0.05 * cover)),
        (w * 0.5, (0.78, 0.92, 1.15)),
        (n * 0.13, (1.3, 1.0, 0.75)),
    )
    gain = tuple(sum(k * tint[c] for k, tint in tints) for c in range(3))
    return Light(
        night=n, warm=w, day=d, cover=cover,
        gain_bgr=(gain[0], gain[1], gain[2]),
        lift=d * 10.0 * cover + w * 2.0 + n * 1.0,
        shadow=d * (0.22 + 0.38 * (1.0 - cover)) + w * 0.3 + n * 0.25,
        lamps=min(1.0, n + 0.6 * w),
        headlights=min(1.0, n + 0.8 * w),
        noise_sigma=noise_sigma * (d + 1.8 * w + 3.2 * n),
        sun_side=1.0 if (time_of_day_h % 24.0) < 12.0 else -1.0,
    )


# Scene illuminance (lux) the camera's light meter would report, per light phase: a
# clear day, the middle of civil twilight (sunset is ~400, its end ~3), and a street-lit
# road at night. Cloud cuts daylight by up to 80 %. The phases blend on a log scale,
# as the eye and a light meter see them.
_DAY_LUX = 30000.0
_TWILIGHT_LUX = 40.0
_NIGHT_LUX = 2.0
_OVERCAST_LUX_CUT = 0.8
# Auto-exposure keeps ExposureTime x AnalogueGain x Lux about constant (200 us at gain 1
# on a clear day), within the limits of an IMX500 at its full-resolution frame rate.
_EXPOSURE_LUX_PRODUCT = 200.0 * _DAY_LUX
_MAX_EXPOSURE_US = 66666.0
_MAX_ANALOGUE_GAIN = 16.0


def camera_reading(light: Light) -> dict:
    """Return the Lux, exposure and gain an auto-exposing camera reports in this light."""
    day_lux = _DAY_LUX * (1.0 - _OVERCAST_LUX_CUT * light.cover)
    lux = 10.0 ** (light.day * math.log10(day_lux) + light.warm * math.log10(_TWILIGHT_LUX)
                   + light.night * math.log10(_NIGHT_LUX))
    wanted = _EXPOSURE_LUX_PRODUCT / lux
    exposure = min(wanted, _MAX_EXPOSURE_US)
    gain = min(max(wanted / exposure, 1.0), _MAX_ANALOGUE_GAIN)
    colour_k = light.day * (5500.0 + 1000.0 * light.cover) + light.warm * 3500.0 \
        + light.night * 2700.0
    return {'Lux': round(lux, 2), 'ExposureTime': int(round(exposure)),
            'AnalogueGain': round(gain, 3), 'DigitalGain': 1.0,
            'ColourTemperature': int(round(colour_k))}


def light_lut(light: Light) -> np.ndarray:
    """Return the per-channel table mapping daylight albedo to the lit pixel value."""
    x = np.arange(256, dtype=np.float32) / 255.0
    lut = np.empty((1, 256, 3), np.uint8)
    for c in range(3):
        v = 255.0 * light.gain_bgr[c] * x + light.lift * (1.0 - x)
        lut[0, :, c] = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    return lut
