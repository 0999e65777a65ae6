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
Synthetic roadside camera: a rendered scene with exact ground truth.

Machines without a camera (CI, laptops, a host waiting for its sensor) still need frames
that look like the real roadside view, and later stages (vehicle detector, sky analyser)
need something known to be measured against. :class:`SimulatedScene` renders a fixed
roadside scene as a BGR ``uint8`` image: sky with drifting clouds, a horizon with tree and
building silhouettes and street lamps, a grass verge, a two-lane road with markings and a
pavement in the foreground. Each frame comes with its ground truth: the sky condition and
every visible vehicle with its box, plus cumulative counting-line crossings.

The scene is a pure function of ``(seed, conditions, size, day_cycle_s, t)``: the same
arguments give the same pixels and the same truth, in whatever order frames are asked
for. Static layers are built once in the constructor; a frame only composes the sky, the
light, the vehicles and sensor noise, so a 1080p frame costs a few milliseconds.

Layout (fractions of the image height): sky ``0.0-0.3`` (``SKY_FRACTION``), distant
fields and verge ``0.3-0.5``, road ``0.5-0.9`` (far lane right-to-left, near lane
left-to-right), kerb, pavement and grass ``0.9-1.0``.
"""

import bisect
from dataclasses import dataclass, replace
import math
from statistics import NormalDist

import cv2
import numpy as np

__all__ = [
    'COUNTING_LINE_X_NORM',
    'DIRECTIONS',
    'ROAD_REGION',
    'SKY_CONDITIONS',
    'SKY_FRACTION',
    'SceneConditions',
    'SimulatedScene',
    'VEHICLE_CLASSES',
    'sky_condition_for',
]

SKY_CONDITIONS = ('clear', 'partly_cloudy', 'cloudy', 'night', 'dawn_dusk')
VEHICLE_CLASSES = ('car', 'truck', 'bus', 'motorcycle')
DIRECTIONS = ('left_to_right', 'right_to_left')
SKY_FRACTION = 0.3
COUNTING_LINE_X_NORM = 0.5
ROAD_REGION = ((0.0, 0.5), (1.0, 0.5), (1.0, 0.9), (0.0, 0.9))

# Light phases (hours). Labels switch at these times; the look blends over
# +-_PHASE_RAMP_H around each so a day-cycle demo has no visible jumps.
_NIGHT_END_H = 5.5
_DAWN_END_H = 6.75
_DUSK_START_H = 18.75
_NIGHT_START_H = 20.5
_PHASE_RAMP_H = 0.25
_CLEAR_BELOW = 0.25
_PARTLY_CLOUDY_BELOW = 0.7

# Ground rows, as fractions of the image height.
_FIELD_END = 0.40
_VERGE_END = 0.485
_ROAD_TOP = 0.50
_ROAD_BOTTOM = 0.90
_NEAR_KERB_END = 0.915
_PAVEMENT_END = 0.965
_TREE_BASE = 0.335
_LINE_ROWS = (0.515, 0.70, 0.885)  # far edge, centre (dashed), near edge
_LAMP_TOP = 0.17
_LAMP_BASE = 0.492

_U64 = 1 << 64
_STREAM_BACKGROUND = 1
_STREAM_CLOUDS = 2
_STREAM_NOISE = 3
_STREAM_FRAME = 4
_STREAM_LANE = 5
_STREAM_SPRITE = 6

_LOWRES = 4  # static layers and the sky are built at 1/4 scale and upsampled
_CLOUD_TEX_SHAPE = (512, 1024)  # periodic, so drift can wrap forever
_NOISE_TILE_STD = 16.0  # grain tiles are stored at this std around 128
_NOISE_PAD = 64
_NOISE_ROWS = 512
_WARMUP_S = -30.0  # schedule starts before t=0 so the first frame has traffic
_LANE_GAP_FRAC = 0.035  # minimum bumper gap, fraction of the reference width
_LANE_KEEP = 4096
_PRUNE_MARGIN_S = 120.0
_DRAWS_PER_VEHICLE = 8  # fixed per vehicle so the random stream never shifts


def _rgb(r: int, g: int, b: int) -> tuple[int, int, int]:
    """Return an RGB triple as the BGR order OpenCV draws with."""
    return (b, g, r)


@dataclass(frozen=True)
class SceneConditions:
    """
    What the simulated camera looks at.

    ``time_of_day_h`` (0-24) drives the light: night before ~5.5 h and after ~20.5 h,
    dawn/dusk bands around 6 h and 19.5 h, day otherwise. ``cloud_cover`` is the fraction
    of the sky covered (0-1). ``cloud_drift_per_s`` is how far clouds move, in image
    widths per second of scene time. ``noise_sigma`` is the daylight sensor noise in
    digital numbers; it grows in low light as a real sensor's gain does.
    """

    time_of_day_h: float = 12.0
    cloud_cover: float = 0.1
    vehicles_per_minute: float = 12.0
    cloud_drift_per_s: float = 0.002
    noise_sigma: float = 2.0

    def __post_init__(self) -> None:
        """Reject values that would make the scene meaningless."""
        for name in ('time_of_day_h', 'cloud_cover', 'vehicles_per_minute',
                     'cloud_drift_per_s', 'noise_sigma'):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f'{name} must be finite')
        if not 0.0 <= self.cloud_cover <= 1.0:
            raise ValueError('cloud_cover must be within 0..1')
        if self.vehicles_per_minute < 0.0:
            raise ValueError('vehicles_per_minute must be >= 0')
        if self.noise_sigma < 0.0:
            raise ValueError('noise_sigma must be >= 0')


def sky_condition_for(*, time_of_day_h: float, cloud_cover: float) -> str:
    """Return the SKY_CONDITIONS label for a time of day and cloud cover."""
    h = time_of_day_h % 24.0
    if h < _NIGHT_END_H or h >= _NIGHT_START_H:
        return 'night'
    if h < _DAWN_END_H or h >= _DUSK_START_H:
        return 'dawn_dusk'
    if cloud_cover < _CLEAR_BELOW:
        return 'clear'
    if cloud_cover < _PARTLY_CLOUDY_BELOW:
        return 'partly_cloudy'
    return 'cloudy'


# --------------------------------------------------------------------------- light


def _smoothstep(x: float, lo: float, hi: float) -> float:
    u = min(1.0, max(0.0, (x - lo) / (hi - lo)))
    return u * u * (3.0 - 2.0 * u)


def _phase_weights(time_of_day_h: float) -> tuple[float, float, float]:
    """Return (night, warm, day) weights that sum to 1."""
    h = time_of_day_h % 24.0
    r = _PHASE_RAMP_H
    night = ((1.0 - _smoothstep(h, _NIGHT_END_H - r, _NIGHT_END_H + r))
             + _smoothstep(h, _NIGHT_START_H - r, _NIGHT_START_H + r))
    day = (_smoothstep(h, _DAWN_END_H - r, _DAWN_END_H + r)
           * (1.0 - _smoothstep(h, _DUSK_START_H - r, _DUSK_START_H + r)))
    return night, max(0.0, 1.0 - night - day), day


@dataclass(frozen=True)
class _Light:
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


def _light_for(time_of_day_h: float, conditions: SceneConditions) -> _Light:
    n, w, d = _phase_weights(time_of_day_h)
    cover = conditions.cloud_cover
    # Overcast light is dimmer, cooler and flatter; dawn/dusk warm; night blue and dark.
    tints = (
        (d * (1.0 - 0.28 * cover), (1.0 + 0.05 * cover, 1.0, 1.0 - 0.05 * cover)),
        (w * 0.5, (0.78, 0.92, 1.15)),
        (n * 0.13, (1.3, 1.0, 0.75)),
    )
    gain = tuple(sum(k * tint[c] for k, tint in tints) for c in range(3))
    return _Light(
        night=n, warm=w, day=d, cover=cover,
        gain_bgr=(gain[0], gain[1], gain[2]),
        lift=d * 10.0 * cover + w * 2.0 + n * 1.0,
        shadow=d * (0.22 + 0.38 * (1.0 - cover)) + w * 0.3 + n * 0.25,
        lamps=min(1.0, n + 0.6 * w),
        headlights=min(1.0, n + 0.8 * w),
        noise_sigma=conditions.noise_sigma * (d + 1.8 * w + 3.2 * n),
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


def _camera_reading(light: _Light) -> dict:
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


def _light_lut(light: _Light) -> np.ndarray:
    """Per-channel table mapping daylight albedo to the lit pixel value."""
    x = np.arange(256, dtype=np.float32) / 255.0
    lut = np.empty((1, 256, 3), np.uint8)
    for c in range(3):
        v = 255.0 * light.gain_bgr[c] * x + light.lift * (1.0 - x)
        lut[0, :, c] = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    return lut


# Sky palettes, RGB rows for (zenith, 60 % down, horizon); converted to BGR below.
_SKY_DAY = np.array([(58, 112, 196), (104, 154, 218), (178, 206, 232)], np.float32)
_SKY_OVERCAST = np.array([(168, 174, 184), (186, 191, 198), (204, 207, 211)], np.float32)
_SKY_WARM = np.array([(50, 60, 116), (178, 118, 146), (252, 160, 86)], np.float32)
_SKY_NIGHT = np.array([(3, 5, 13), (8, 11, 24), (30, 27, 36)], np.float32)
_CLOUD_DAY = np.array((246, 247, 250), np.float32)
_CLOUD_WARM = np.array((236, 162, 148), np.float32)
_CLOUD_NIGHT = np.array((36, 32, 36), np.float32)
_SUN_GLOW_WARM = np.array((70, 30, -14), np.float32)
_SKY_KEYS = (0.0, 0.6, 1.0)


def _gradient(palette: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Interpolate a 3-key palette at positions u (0 zenith, 1 horizon)."""
    return np.stack([np.interp(u, _SKY_KEYS, palette[:, c]) for c in range(3)],
                    axis=1).astype(np.float32)


# --------------------------------------------------------------------------- textures


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([k % _U64 for k in key]))


def _fbm(rng: np.random.Generator, shape: tuple[int, int], *, cell: float,
         octaves: int = 4) -> np.ndarray:
    """
    Fractal value noise, float32, mean 0.5 and roughly within 0..1.

    Random grids of growing resolution are upsampled and summed: far cheaper than
    per-pixel noise, and it gives the soft multi-scale variation of real surfaces.
    """
    h, w = shape
    acc = np.zeros((h, w), np.float32)
    amp = 1.0
    for _ in range(octaves):
        grid = rng.standard_normal((max(2, math.ceil(h / cell) + 1),
                                    max(2, math.ceil(w / cell) + 1))).astype(np.float32)
        acc += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= 0.5
        cell /= 2.0
        if cell < 1.0:
            break
    std = float(acc.std()) or 1.0
    return np.clip(0.5 + 0.18 * (acc - float(acc.mean())) / std, 0.0, 1.0)


def _periodic_noise(rng: np.random.Generator, shape: tuple[int, int], *,
                    beta: float) -> np.ndarray:
    """Power-law noise that wraps in both axes (FFT synthesis), mean 0.5, std 0.16."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.standard_normal(shape)) / f ** (beta / 2.0)
    spectrum[0, 0] = 0.0
    # Drop the very largest scales: one blob covering the whole sky looks fake.
    spectrum *= 1.0 - np.exp(-(f * w / 3.0) ** 2)
    out = np.fft.irfft2(spectrum, s=shape)
    out = 0.5 + 0.16 * (out - out.mean()) / (out.std() or 1.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _grain_tile(rng: np.random.Generator, size: int, *, streak: int = 1) -> np.ndarray:
    """Single-channel uint8 grain centred on 128 with std _NOISE_TILE_STD."""
    g = rng.standard_normal((size, size)).astype(np.float32)
    if streak > 1:
        # Vertical smear reads as grass blades rather than sand.
        g = cv2.blur(g, (1, streak), borderType=cv2.BORDER_WRAP)
        g /= float(g.std()) or 1.0
    return np.clip(np.rint(128.0 + _NOISE_TILE_STD * g), 0, 255).astype(np.uint8)


def _add_grain(img: np.ndarray, y0: int, y1: int, tile: np.ndarray, sigma: float) -> None:
    """Add tiled grain of the given std to rows y0..y1 of img, in place."""
    if y1 <= y0:
        return
    h, w = y1 - y0, img.shape[1]
    reps = (math.ceil(h / tile.shape[0]), math.ceil(w / tile.shape[1]))
    g = np.tile(tile, reps)[:h, :w]
    g3 = cv2.merge([g, g, g])
    k = sigma / _NOISE_TILE_STD
    roi = img[y0:y1]
    cv2.addWeighted(roi, 1.0, g3, k, -128.0 * k, dst=roi)


def _vignette(n: int, strength: float) -> np.ndarray:
    """1-D falloff; the product of two of these is a cheap separable vignette."""
    s = (np.arange(n, dtype=np.float32) + 0.5) / n * 2.0 - 1.0
    return 1.0 - strength * s * s


def _blob(canvas: np.ndarray, cx: float, cy: float, sx: float, sy: float,
          colour: np.ndarray) -> None:
    """Add an anisotropic Gaussian of peak `colour` (float BGR) to a float canvas."""
    h, w = canvas.shape[:2]
    x0, x1 = max(0, int(cx - 3 * sx)), min(w, int(cx + 3 * sx) + 1)
    y0, y1 = max(0, int(cy - 3 * sy)), min(h, int(cy + 3 * sy) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    gx = np.exp(-0.5 * ((np.arange(x0, x1, dtype=np.float32) - cx) / max(sx, 0.5)) ** 2)
    gy = np.exp(-0.5 * ((np.arange(y0, y1, dtype=np.float32) - cy) / max(sy, 0.5)) ** 2)
    canvas[y0:y1, x0:x1] += (gy[:, None] * gx[None, :])[:, :, None] * colour


def _soft_ellipse(shape: tuple[int, int], centre: tuple[float, float],
                  axes: tuple[float, float], sigma: float) -> np.ndarray:
    """
    Blurred filled ellipse, float32 0..1.

    Drawn and blurred at a reduced size and upsampled: the result is smooth anyway, and
    a full-size blur of a bus-sized beam at 12 MP would stall the frame it first shows in.
    """
    h, w = shape
    k = max(1.0, sigma / 2.0)
    small = np.zeros((max(2, round(h / k)), max(2, round(w / k))), np.float32)
    s = 8  # 3 bits of sub-pixel precision
    cv2.ellipse(small, (round(centre[0] / k * s), round(centre[1] / k * s)),
                (max(s, round(axes[0] / k * s)), max(s, round(axes[1] / k * s))),
                0, 0, 360, 1.0, -1, cv2.LINE_AA, 3)
    small = cv2.GaussianBlur(small, (0, 0), sigma / k)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- vehicles


@dataclass(frozen=True)
class _ClassSpec:
    name: str
    weight: float
    length: tuple[float, float]  # fraction of the reference width
    aspect: tuple[float, float]  # body height / length, side view
    crossing_s: tuple[float, float]  # time to cross the whole image
    head: tuple[float, float]  # headlight (u, v) in the right-facing sprite
    tail: tuple[float, float]


_CLASSES = (
    _ClassSpec('car', 0.72, (0.085, 0.115), (0.30, 0.36), (3.5, 6.5), (0.985, 0.48),
               (0.012, 0.45)),
    _ClassSpec('truck', 0.10, (0.17, 0.23), (0.38, 0.44), (5.0, 8.0), (0.988, 0.70),
               (0.01, 0.73)),
    _ClassSpec('bus', 0.06, (0.22, 0.27), (0.27, 0.30), (5.0, 8.0), (0.99, 0.76),
               (0.008, 0.70)),
    _ClassSpec('motorcycle', 0.12, (0.040, 0.050), (0.60, 0.70), (3.0, 5.5), (0.78, 0.45),
               (0.08, 0.55)),
)
_CLASS_BY_NAME = {c.name: c for c in _CLASSES}


@dataclass(frozen=True)
class _LaneSpec:
    direction: str
    baseline: float  # wheel contact row, fraction of the height
    scale: float  # far lane is further away, so smaller


_LANES = (_LaneSpec('right_to_left', 0.655, 0.90), _LaneSpec('left_to_right', 0.86, 1.04))

# BGR albedo and relative frequency, roughly what a car park looks like.
_CAR_COLOURS = (
    ((232, 234, 236), 0.22), ((30, 30, 32), 0.19), ((168, 166, 162), 0.16),
    ((104, 106, 108), 0.14), ((150, 78, 30), 0.09), ((36, 38, 168), 0.09),
    ((48, 82, 44), 0.03), ((140, 170, 196), 0.03), ((82, 44, 24), 0.05),
)
_BUS_COLOURS = (((236, 238, 240), 0.35), ((40, 190, 236), 0.2), ((44, 52, 190), 0.2),
                ((150, 92, 36), 0.15), ((70, 140, 60), 0.1))
_BOX_COLOURS = ((238, 238, 236), (206, 210, 214), (180, 188, 196), (60, 120, 200))
_GLASS = (64, 54, 46)
_GLASS_SHINE = (118, 108, 100)
_TYRE = (30, 30, 32)
_RIM = (150, 150, 154)
_HEADLAMP = (210, 226, 236)
_TAILLAMP = (40, 40, 176)


def _lerp(span: tuple[float, float], u: float) -> float:
    return span[0] + (span[1] - span[0]) * u


def _pick(weights: tuple[float, ...], u: float) -> int:
    total = sum(weights)
    acc = 0.0
    for i, wgt in enumerate(weights):
        acc += wgt / total
        if u < acc:
            return i
    return len(weights) - 1


def _vehicle_colour(cls: str, u_pick: float, u_shade: float) -> tuple[int, int, int]:
    palette = _BUS_COLOURS if cls == 'bus' else _CAR_COLOURS
    base = palette[_pick(tuple(w for _, w in palette), u_pick)][0]
    k = 0.88 + 0.24 * u_shade  # same paint, different dirt and light
    return (min(255, int(base[0] * k)), min(255, int(base[1] * k)), min(255, int(base[2] * k)))


@dataclass(frozen=True)
class _Vehicle:
    vid: int
    cls: str
    direction: str
    lane: int
    length_px: int
    height_px: int
    baseline_px: int
    speed_px_s: float
    sign: int  # +1 moving right, -1 moving left
    x_enter: float  # left edge at t_enter (just outside the image)
    t_enter: float
    t_exit: float
    t_cross: float  # centre on the counting line
    colour: tuple[int, int, int]
    style: int

    def left_at(self, t: float) -> float:
        return self.x_enter + self.sign * self.speed_px_s * (t - self.t_enter)


class _Lane:
    """
    Deterministic vehicle schedule of one lane.

    Arrivals are a Poisson process drawn from a per-lane random stream; an arrival is
    delayed when needed so that no vehicle ever overlaps the one ahead while either is
    in view. The schedule is generated lazily up to the asked time and pruned far
    behind it; asking for a pruned time regenerates from the start, which gives the
    same vehicles because the stream is a pure function of the seed.
    """

    def __init__(self, *, index: int, seed_key: int, rate_per_s: float, width: int,
                 height: int, ref_px: float) -> None:
        self._index = index
        self._spec = _LANES[index]
        self._seed_key = seed_key
        self._rate = rate_per_s
        self._width = width
        self._baseline = int(round(self._spec.baseline * height))
        self._ref = ref_px * self._spec.scale
        self._gap = _LANE_GAP_FRAC * ref_px
        self._line_px = COUNTING_LINE_X_NORM * width
        self._reset()

    def _reset(self) -> None:
        self._rng = _rng(self._seed_key, _STREAM_LANE, self._index)
        self._seq = 0
        self._proposal = _WARMUP_S
        self._vehicles: list[_Vehicle] = []
        self._enter: list[float] = []
        self._cross: list[float] = []
        self._pruned_until = -math.inf
        self._pruned_crossings = 0

    def _earliest_entry(self, lead: _Vehicle, speed: float) -> float:
        # Behind the lead's rear (plus gap) on entry; if faster, still behind when the
        # lead's rear leaves the image (the gap only shrinks in between).
        t = lead.t_enter + (lead.length_px + self._gap) / lead.speed_px_s
        if speed > lead.speed_px_s:
            t = max(t, lead.t_exit - (self._width - self._gap) / speed)
        return t

    def _next_vehicle(self) -> _Vehicle:
        u = [float(x) for x in self._rng.random(_DRAWS_PER_VEHICLE)]
        self._proposal += -math.log1p(-u[0]) / self._rate
        spec = _CLASSES[_pick(tuple(c.weight for c in _CLASSES), u[1])]
        length = max(4, int(round(self._ref * _lerp(spec.length, u[2]))))
        height = max(3, int(round(length * _lerp(spec.aspect, u[3]))))
        duration = _lerp(spec.crossing_s, u[4])
        speed = (self._width + length) / duration
        t_enter = self._proposal
        if self._vehicles:
            t_enter = max(t_enter, self._earliest_entry(self._vehicles[-1], speed))
        sign = 1 if self._spec.direction == 'left_to_right' else -1
        x_enter = float(-length) if sign > 0 else float(self._width)
        centre0 = x_enter + length / 2.0
        vehicle = _Vehicle(
            vid=self._seq * len(_LANES) + self._index, cls=spec.name,
            direction=self._spec.direction, lane=self._index, length_px=length,
            height_px=height, baseline_px=self._baseline, speed_px_s=speed, sign=sign,
            x_enter=x_enter, t_enter=t_enter, t_exit=t_enter + duration,
            t_cross=t_enter + (self._line_px - centre0) / (sign * speed),
            colour=_vehicle_colour(spec.name, u[5], u[6]), style=int(u[7] * 2 ** 31))
        self._seq += 1
        return vehicle

    def _ensure(self, t: float) -> None:
        if self._rate <= 0.0:
            return
        if t < self._pruned_until:
            self._reset()
        while not self._vehicles or self._vehicles[-1].t_enter <= t:
            v = self._next_vehicle()
            self._vehicles.append(v)
            self._enter.append(v.t_enter)
            self._cross.append(v.t_cross)
        if len(self._vehicles) > _LANE_KEEP:
            k = len(self._vehicles) // 2
            if self._vehicles[k - 1].t_exit < t - _PRUNE_MARGIN_S:
                gone = self._vehicles[:k]
                self._pruned_crossings += sum(1 for v in gone if v.t_cross >= 0.0)
                self._pruned_until = max(self._pruned_until, max(v.t_exit for v in gone))
                del self._vehicles[:k], self._enter[:k], self._cross[:k]

    @property
    def direction(self) -> str:
        return self._spec.direction

    def visible(self, t: float) -> list[_Vehicle]:
        """Vehicles at least partly inside the image at t."""
        self._ensure(t)
        found = []
        for i in range(bisect.bisect_right(self._enter, t) - 1, -1, -1):
            v = self._vehicles[i]
            if v.t_exit <= t:
                break  # no overtaking in view, so exits are ordered like entries
            if v.t_enter < t:
                found.append(v)
        return found

    def crossings(self, t: float) -> int:
        """Vehicles whose centre reached the counting line in [0, t]."""
        if t < 0.0:
            return 0
        self._ensure(t)
        # Crossing times are ordered for the same no-overtaking reason.
        lo = bisect.bisect_left(self._cross, 0.0)
        hi = bisect.bisect_right(self._cross, t)
        return self._pruned_crossings + max(0, hi - lo)


class _Painter:
    """Draws into a sprite and its coverage mask in normalised (u, v) coordinates."""

    _SHIFT = 3  # sub-pixel bits for anti-aliased drawing

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.bgr = np.zeros((height, width, 3), np.uint8)
        self.mask = np.zeros((height, width), np.uint8)

    def _xy(self, u: float, v: float) -> tuple[int, int]:
        s = 1 << self._SHIFT
        return int(round(u * self.w * s)), int(round(v * self.h * s))

    def poly(self, pts: list[tuple[float, float]], colour: tuple[int, ...], *,
             solid: bool = True) -> None:
        p = [np.array([self._xy(u, v) for u, v in pts], np.int32)]
        cv2.fillPoly(self.bgr, p, colour, cv2.LINE_AA, self._SHIFT)
        if solid:
            cv2.fillPoly(self.mask, p, 255, cv2.LINE_AA, self._SHIFT)

    def rect(self, u0: float, v0: float, u1: float, v1: float, colour: tuple[int, ...], *,
             solid: bool = True) -> None:
        self.poly([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], colour, solid=solid)

    def circle(self, u: float, v: float, r_px: float, colour: tuple[int, ...], *,
               solid: bool = True) -> None:
        c = self._xy(u, v)
        r = max(1, int(round(r_px * (1 << self._SHIFT))))
        cv2.circle(self.bgr, c, r, colour, -1, cv2.LINE_AA, self._SHIFT)
        if solid:
            cv2.circle(self.mask, c, r, 255, -1, cv2.LINE_AA, self._SHIFT)

    def line(self, a: tuple[float, float], b: tuple[float, float], colour: tuple[int, ...],
             thickness_px: float, *, solid: bool = True) -> None:
        t = max(1, int(round(thickness_px)))
        cv2.line(self.bgr, self._xy(*a), self._xy(*b), colour, t, cv2.LINE_AA, self._SHIFT)
        if solid:
            cv2.line(self.mask, self._xy(*a), self._xy(*b), 255, t, cv2.LINE_AA, self._SHIFT)

    def shade(self, top: float, bottom: float, shine_v: float, shine: float) -> None:
        """Vertical light falloff with a highlight line, as on a painted body."""
        v = (np.arange(self.h, dtype=np.float32) + 0.5) / self.h
        f = top + (bottom - top) * v + shine * np.exp(-((v - shine_v) / 0.05) ** 2)
        self.bgr = _to_u8(self.bgr.astype(np.float32) * f[:, None, None])

    def wheel(self, u: float, r_px: float, *, rim: float = 0.6) -> None:
        v = 1.0 - r_px / self.h
        self.circle(u, v, r_px * 1.12, (22, 22, 24))  # wheel arch shadow
        self.circle(u, v, r_px, _TYRE)
        self.circle(u, v, r_px * rim, _RIM)
        self.circle(u, v, r_px * 0.22, (86, 86, 92))


def _scaled(colour: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (min(255, int(colour[0] * k)), min(255, int(colour[1] * k)),
            min(255, int(colour[2] * k)))


# Right-facing car silhouettes: (body, windows, wheel u positions, tail lamp v range).
_CAR_SHAPES = (
    (  # saloon
        [(0.0, 0.50), (0.01, 0.40), (0.22, 0.36), (0.32, 0.05), (0.37, 0.01), (0.60, 0.01),
         (0.66, 0.05), (0.78, 0.35), (0.96, 0.41), (1.0, 0.48), (1.0, 0.70), (0.98, 0.80),
         (0.01, 0.80), (0.0, 0.74)],
        [(0.25, 0.35), (0.335, 0.08), (0.375, 0.05), (0.595, 0.05), (0.645, 0.08),
         (0.755, 0.35)],
        (0.19, 0.81), (0.41, 0.50)),
    (  # hatchback
        [(0.0, 0.45), (0.02, 0.10), (0.06, 0.03), (0.55, 0.01), (0.62, 0.05), (0.76, 0.34),
         (0.96, 0.41), (1.0, 0.48), (1.0, 0.70), (0.98, 0.80), (0.01, 0.80), (0.0, 0.74)],
        [(0.05, 0.35), (0.06, 0.12), (0.09, 0.07), (0.54, 0.06), (0.60, 0.09),
         (0.735, 0.35)],
        (0.17, 0.82), (0.15, 0.35)),
    (  # estate / SUV
        [(0.0, 0.42), (0.01, 0.06), (0.04, 0.01), (0.64, 0.01), (0.72, 0.06), (0.80, 0.32),
         (0.97, 0.37), (1.0, 0.44), (1.0, 0.72), (0.98, 0.80), (0.01, 0.80), (0.0, 0.74)],
        [(0.04, 0.33), (0.045, 0.09), (0.07, 0.06), (0.63, 0.06), (0.70, 0.09),
         (0.775, 0.33)],
        (0.18, 0.82), (0.12, 0.30)),
)


def _draw_car(p: _Painter, v: _Vehicle, rng: np.random.Generator) -> None:
    body, windows, wheels, tail = _CAR_SHAPES[int(rng.integers(0, len(_CAR_SHAPES)))]
    p.poly(body, v.colour)
    p.rect(0.0, 0.74, 1.0, 0.80, _scaled(v.colour, 0.45))  # sill and bumper bottoms
    p.shade(1.12, 0.80, 0.42, 0.12)
    p.poly(windows, _GLASS)
    u0, u1 = windows[1][0], windows[-1][0]
    # Sky reflection on the glass: a slanted lighter band.
    p.poly([(u0 + 0.10, 0.09), (u0 + 0.18, 0.09), (u0 + 0.10, 0.33), (u0 + 0.02, 0.33)],
           _GLASS_SHINE, solid=False)
    pillar = (u0 + u1) / 2.0
    p.rect(pillar - 0.012, 0.04, pillar + 0.012, 0.37, _scaled(v.colour, 0.7))
    door = _scaled(v.colour, 0.55)
    for du in (pillar - 0.012, min(0.74, pillar + 0.22)):
        p.line((du, 0.38), (du, 0.74), door, max(1.0, p.h * 0.015), solid=False)
    p.rect(pillar + 0.03, 0.45, pillar + 0.07, 0.48, door, solid=False)  # door handle
    p.rect(0.955, 0.44, 1.0, 0.53, _HEADLAMP)
    p.rect(0.0, tail[0], 0.03, tail[1], _TAILLAMP)
    r = 0.2 * p.h
    for u in wheels:
        p.wheel(u, r)


def _draw_truck(p: _Painter, v: _Vehicle, rng: np.random.Generator) -> None:
    box = _BOX_COLOURS[int(rng.integers(0, len(_BOX_COLOURS)))]
    p.rect(0.0, 0.0, 0.73, 0.78, box)
    p.poly([(0.75, 0.22), (0.92, 0.22), (0.99, 0.40), (1.0, 0.50), (1.0, 0.84),
            (0.75, 0.84)], v.colour)
    p.shade(1.05, 0.88, 0.5, 0.04)
    seam = _scaled(box, 0.82)
    for k in range(1, 11):
        p.line((k * 0.0664, 0.01), (k * 0.0664, 0.77), seam, max(1.0, p.w * 0.002),
               solid=False)
    p.rect(0.0, 0.78, 1.0, 0.86, (38, 38, 40))  # chassis
    p.poly([(0.78, 0.27), (0.91, 0.27), (0.965, 0.43), (0.78, 0.43)], _GLASS)
    p.rect(0.975, 0.66, 1.0, 0.74, _HEADLAMP)
    p.rect(0.0, 0.70, 0.02, 0.77, _TAILLAMP)
    r = 0.15 * p.h
    for u in (0.10, 0.21, 0.86):
        p.wheel(u, r, rim=0.55)


def _draw_bus(p: _Painter, v: _Vehicle, rng: np.random.Generator) -> None:
    accent = _BUS_COLOURS[int(rng.integers(0, len(_BUS_COLOURS)))][0]
    p.poly([(0.0, 0.06), (0.01, 0.02), (0.03, 0.0), (0.97, 0.0), (0.99, 0.02), (1.0, 0.06),
            (1.0, 0.86), (0.99, 0.88), (0.01, 0.88), (0.0, 0.86)], v.colour)
    p.rect(0.0, 0.58, 1.0, 0.64, _scaled(accent, 0.8))  # livery stripe
    p.rect(0.0, 0.80, 1.0, 0.88, _scaled(v.colour, 0.5))  # skirt
    p.shade(1.06, 0.86, 0.55, 0.06)
    p.rect(0.03, 0.12, 0.92, 0.50, _GLASS)
    pillar = _scaled(v.colour, 0.85)
    for k in range(9):
        u = 0.03 + k * 0.1
        p.rect(u - 0.006, 0.12, u + 0.006, 0.50, pillar)
    p.rect(0.935, 0.08, 0.99, 0.55, _GLASS)
    p.rect(0.83, 0.12, 0.90, 0.86, (52, 46, 40))  # door
    p.line((0.865, 0.14), (0.865, 0.84), _scaled(v.colour, 0.7), max(1.0, p.w * 0.002),
           solid=False)
    p.rect(0.935, 0.02, 0.99, 0.07, (0, 170, 255))  # destination display
    p.rect(0.98, 0.72, 1.0, 0.80, _HEADLAMP)
    p.rect(0.0, 0.65, 0.015, 0.78, _TAILLAMP)
    r = 0.17 * p.h
    for u in (0.16, 0.80):
        p.wheel(u, r, rim=0.5)


def _draw_motorcycle(p: _Painter, v: _Vehicle, rng: np.random.Generator) -> None:
    jacket = ((26, 26, 28), (70, 40, 30), (80, 80, 84), (40, 40, 150))[int(rng.integers(0, 4))]
    helmet = ((235, 235, 235), (20, 20, 22), (40, 40, 190), (160, 90, 30))[
        int(rng.integers(0, 4))]
    r = 0.15 * p.w
    wv = 1.0 - r / p.h
    for u in (0.17, 0.83):
        p.circle(u, wv, r, _TYRE)
        p.circle(u, wv, r * 0.72, (70, 70, 74))
        p.circle(u, wv, r * 0.2, _RIM)
    p.poly([(0.30, 0.62), (0.62, 0.60), (0.68, 0.75), (0.40, 0.82)], (60, 60, 66))  # engine
    p.line((0.83, wv), (0.72, 0.40), (150, 150, 156), p.h * 0.04)  # fork
    p.line((0.17, wv), (0.36, 0.62), (90, 90, 96), p.h * 0.035)  # swing arm
    p.poly([(0.36, 0.52), (0.62, 0.47), (0.71, 0.55), (0.64, 0.61), (0.34, 0.62)], v.colour)
    p.poly([(0.16, 0.54), (0.40, 0.51), (0.40, 0.58), (0.18, 0.60)], (24, 24, 26))  # seat
    p.shade(1.1, 0.85, 0.5, 0.08)
    p.poly([(0.30, 0.50), (0.46, 0.52), (0.56, 0.17), (0.43, 0.13)], jacket)  # torso
    p.poly([(0.30, 0.50), (0.46, 0.52), (0.53, 0.71), (0.47, 0.75), (0.37, 0.58)],
           (40, 36, 34))  # leg
    p.line((0.52, 0.21), (0.70, 0.39), jacket, p.h * 0.06)  # arm
    p.circle(0.51, 0.085, 0.085 * p.h, helmet)
    p.circle(0.78, 0.45, 0.04 * p.h, _HEADLAMP)
    p.rect(0.06, 0.52, 0.10, 0.57, _TAILLAMP)


_DRAW = {'car': _draw_car, 'truck': _draw_truck, 'bus': _draw_bus,
         'motorcycle': _draw_motorcycle}


@dataclass
class _Sprite:
    bgr: np.ndarray
    alpha: np.ndarray  # float32 coverage 0..1
    inv_alpha: np.ndarray
    ox: int  # sprite top-left relative to (left edge, top) of the nominal vehicle
    oy: int
    shadow: np.ndarray  # float32 0..1, centred under the body
    shadow_ox: int
    shadow_oy: int
    glow: np.ndarray | None = None  # lamps at night, built on first need
    glow_ox: int = 0


def _build_sprite(v: _Vehicle, seed_key: int) -> _Sprite:
    rng = _rng(seed_key, _STREAM_SPRITE, v.vid)
    p = _Painter(v.length_px, v.height_px)
    _DRAW[v.cls](p, v, rng)
    bgr, mask = p.bgr, p.mask
    if v.sign < 0:
        bgr, mask = bgr[:, ::-1], mask[:, ::-1]
    # Crop to what was actually drawn, so the truth box is the drawn body extent.
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray((mask > 24).astype(np.uint8)))
    if w == 0 or h == 0:
        x, y, w, h = 0, 0, v.length_px, v.height_px
    bgr = np.ascontiguousarray(bgr[y:y + h, x:x + w])
    alpha = mask[y:y + h, x:x + w].astype(np.float32) / 255.0
    # Soft contact shadow: a blurred ellipse around the wheel line.
    length, height = v.length_px, v.height_px
    ax, ay = 0.56 * length, 0.15 * height + 0.03 * length
    sigma = 0.03 * length + 1.0
    pad = int(3 * sigma) + 2
    sw, sh = int(2 * (ax + pad)), int(2 * (ay + pad))
    shadow = _soft_ellipse((sh, sw), (sw / 2.0, sh / 2.0), (ax, ay), sigma)
    return _Sprite(
        bgr=bgr, alpha=alpha, inv_alpha=1.0 - alpha, ox=x, oy=y, shadow=shadow,
        shadow_ox=int(length / 2 - sw / 2), shadow_oy=int(height + 0.04 * height - sh / 2))


def _build_glow(v: _Vehicle, sprite: _Sprite) -> None:
    """Headlights, beam on the road and tail lamps, as an additive uint8 patch."""
    spec = _CLASS_BY_NAME[v.cls]
    length, height = v.length_px, v.height_px
    x0 = -int(0.15 * length)  # canvas left, relative to the right-facing left edge
    cw, ch = int(2.1 * length), int(1.25 * height) + 2
    c = np.zeros((ch, cw, 3), np.float32)
    hx, hy = spec.head[0] * length - x0, spec.head[1] * height
    _blob(c, hx, hy, 0.05 * height + 1, 0.05 * height + 1, np.array((235, 248, 255), np.float32))
    _blob(c, hx, hy, 0.2 * height + 2, 0.16 * height + 2, np.array((90, 100, 110), np.float32))
    beam = _soft_ellipse((ch, cw), (1.45 * length - x0, float(height)),
                         (0.45 * length, 0.05 * height + 0.015 * length), 0.05 * length + 1)
    c += beam[:, :, None] * np.array((80, 100, 112), np.float32)
    tx, ty = spec.tail[0] * length - x0, spec.tail[1] * height
    _blob(c, tx, ty, 0.04 * height + 1, 0.04 * height + 1, np.array((60, 60, 255), np.float32))
    _blob(c, tx, ty, 0.12 * height + 1, 0.1 * height + 1, np.array((10, 10, 90), np.float32))
    glow = _to_u8(c)
    if v.sign < 0:
        glow = np.ascontiguousarray(glow[:, ::-1])
        x0 = length - x0 - cw  # mirror the canvas about the vehicle
    sprite.glow, sprite.glow_ox = glow, x0


@dataclass(frozen=True)
class _Placement:
    vehicle: _Vehicle
    sprite: _Sprite
    left_px: int  # rounded nominal left edge
    centre_x_norm: float
    box: tuple[int, int, int, int]  # clipped x, y, w, h of the drawn body


@dataclass(frozen=True)
class _Overlay:
    """Albedo pixels that stand in front of the sky (trees, roofs, lamp posts)."""

    y: int
    albedo: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class _Glow:
    """An additive light patch that is switched on with the street lamps."""

    y: int
    x: int
    patch: np.ndarray


# --------------------------------------------------------------------------- scene

# Ground bands: (y0, y1, RGB at top, RGB at bottom, coarse and fine texture amplitude).
_GROUND_BANDS = (
    (0.0, _FIELD_END, (118, 132, 108), (96, 124, 72), 0.16, 0.10),
    (_FIELD_END, _VERGE_END, (86, 122, 56), (70, 116, 44), 0.18, 0.14),
    (_VERGE_END, _ROAD_TOP, (168, 168, 164), (124, 124, 122), 0.03, 0.03),
    (_ROAD_TOP, _ROAD_BOTTOM, (106, 106, 110), (84, 84, 88), 0.06, 0.05),
    (_ROAD_BOTTOM, _NEAR_KERB_END, (176, 176, 172), (140, 140, 138), 0.03, 0.03),
    (_NEAR_KERB_END, _PAVEMENT_END, (152, 146, 138), (140, 134, 126), 0.05, 0.05),
    (_PAVEMENT_END, 1.0, (64, 102, 42), (52, 90, 36), 0.22, 0.16),
)
# Grain std (DN) per band of rows; grass gets the streaky tile.
_GRAIN = (
    (SKY_FRACTION, _FIELD_END, 5.0, False),
    (_FIELD_END, _VERGE_END, 10.0, True),
    (_VERGE_END, _ROAD_TOP, 5.0, False),
    (_ROAD_TOP, _ROAD_BOTTOM, 7.0, False),
    (_ROAD_BOTTOM, _PAVEMENT_END, 5.5, False),
    (_PAVEMENT_END, 1.0, 12.0, True),
)


class SimulatedScene:
    """
    A synthetic roadside camera with exact ground truth.

    Construct once per image size; :meth:`render` is then cheap. With ``day_cycle_s``
    greater than zero the time of day advances so that a whole day passes in that many
    seconds of scene time (demo use); zero keeps the conditions fixed (benchmark use).

    Truth boxes are the drawn body extent (shadows and lamp glow lie outside them),
    clipped to the image. A vehicle crosses the counting line when its unclipped centre
    (``center_x_norm``) reaches it; ``crossings`` counts crossings at scene times in
    ``[0, t]``. Traffic starts 30 s before t=0, so the first frame already has vehicles.
    The first call at a large t generates the schedule up to it (about 0.2 s per scene
    day at 12 vehicles/min). Caches make an instance unsafe to share between threads.
    """

    def __init__(self, *, width: int, height: int, seed: int = 0,
                 conditions: SceneConditions | None = None,
                 day_cycle_s: float = 0.0) -> None:
        if width < 128 or height < 96:
            raise ValueError('scene must be at least 128x96 pixels')
        if not (math.isfinite(day_cycle_s) and day_cycle_s >= 0.0):
            raise ValueError('day_cycle_s must be >= 0')
        self._w, self._h = int(width), int(height)
        self._seed = int(seed)
        self._seed_key = self._seed % _U64
        self._cond = conditions if conditions is not None else SceneConditions()
        self._day_cycle_s = float(day_cycle_s)
        self._sky_h = int(round(SKY_FRACTION * self._h))
        # Vehicle sizes follow the width up to 16:9, so very wide frames keep them in lane.
        self._ref = min(float(self._w), self._h * 16.0 / 9.0)
        rate = self._cond.vehicles_per_minute / 60.0 / len(_LANES)
        self._lanes = tuple(
            _Lane(index=i, seed_key=self._seed_key, rate_per_s=rate, width=self._w,
                  height=self._h, ref_px=self._ref) for i in range(len(_LANES)))
        self._sprites: dict[int, _Sprite] = {}
        self._build_background()
        self._build_sky()
        self._build_noise()
        self._lit_key = b''
        self._lit_ground = self._ground
        self._lit_overlay = self._overlay.albedo

    # ------------------------------------------------------------------ properties

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return self._w

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return self._h

    @property
    def seed(self) -> int:
        """Seed of every random choice in the scene."""
        return self._seed

    @property
    def conditions(self) -> SceneConditions:
        """Conditions at t=0."""
        return self._cond

    @property
    def day_cycle_s(self) -> float:
        """Scene seconds per simulated day, or 0 for fixed conditions."""
        return self._day_cycle_s

    def conditions_at(self, t: float) -> SceneConditions:
        """Conditions at scene time t (only the time of day moves, and only with a cycle)."""
        if self._day_cycle_s <= 0.0:
            return self._cond
        tod = (self._cond.time_of_day_h + 24.0 * t / self._day_cycle_s) % 24.0
        return replace(self._cond, time_of_day_h=tod)

    # ------------------------------------------------------------------ static layers

    def _build_background(self) -> None:
        """Daylight albedo of everything that never moves, plus its night lights."""
        w, h = self._w, self._h
        rng = _rng(self._seed_key, _STREAM_BACKGROUND)
        h4, w4 = max(8, math.ceil(h / _LOWRES)), max(8, math.ceil(w / _LOWRES))
        low = self._ground_lowres(rng, h4, w4)
        albedo = cv2.resize(_to_u8(low[:, :, ::-1]), (w, h), interpolation=cv2.INTER_LINEAR)
        self._draw_markings(albedo, rng)
        grain = _grain_tile(rng, 256)
        streaks = _grain_tile(rng, 256, streak=5)
        for y0, y1, sigma, streaky in _GRAIN:
            _add_grain(albedo, int(round(y0 * h)), int(round(y1 * h)),
                       streaks if streaky else grain, sigma)
        over = np.zeros((self._sky_h, w), np.uint8)  # pixels standing in front of the sky
        glows: list[_Glow] = []
        self._draw_buildings(albedo, over, glows, rng)
        self._draw_treeline(albedo, over, rng)
        self._draw_lamps(albedo, over, glows, rng)
        # Separable vignette, applied in row chunks to keep the float temporary small.
        vy, vx = _vignette(h, 0.16), _vignette(w, 0.22)
        for y0 in range(0, h, 256):
            y1 = min(h, y0 + 256)
            f = vy[y0:y1, None, None] * vx[None, :, None]
            albedo[y0:y1] = _to_u8(albedo[y0:y1].astype(np.float32) * f)
        self._ground = np.ascontiguousarray(albedo[self._sky_h:])
        # One full-width band from the highest silhouette pixel down to the horizon.
        rows = np.nonzero(over.any(axis=1))[0]
        top = int(rows[0]) if rows.size else self._sky_h
        self._overlay = _Overlay(y=top, albedo=np.ascontiguousarray(albedo[top:self._sky_h]),
                                 mask=np.ascontiguousarray(over[top:]))
        self._glows = glows

    def _ground_lowres(self, rng: np.random.Generator, h4: int, w4: int) -> np.ndarray:
        """Colour gradients and soft variation of the ground bands, RGB float32."""
        y = (np.arange(h4, dtype=np.float32) + 0.5) / h4
        coarse = _fbm(rng, (h4, w4), cell=max(4.0, w4 / 10.0))
        fine = _fbm(rng, (h4, w4), cell=max(2.0, w4 / 60.0), octaves=2)
        img = np.zeros((h4, w4, 3), np.float32)
        for y0, y1, top, bottom, a_coarse, a_fine in _GROUND_BANDS:
            rows = (y >= y0) & (y < y1)
            if not rows.any():
                continue
            k = ((y[rows] - y0) / (y1 - y0))[:, None]
            colour = np.array(top, np.float32) * (1.0 - k) + np.array(bottom, np.float32) * k
            var = 1.0 + 2.0 * a_coarse * (coarse[rows] - 0.5) + 2.0 * a_fine * (fine[rows] - 0.5)
            img[rows] = colour[:, None, :] * var[:, :, None]
        # Tyres polish darker tracks along each lane's wheel line.
        road = (y >= _ROAD_TOP) & (y < _ROAD_BOTTOM)
        for lane in _LANES:
            dark = 1.0 - 0.07 * np.exp(-((y - lane.baseline + 0.01) / 0.012) ** 2)
            img[road] *= dark[road][:, None, None]
        return img

    def _draw_markings(self, img: np.ndarray, rng: np.random.Generator) -> None:
        """Kerb faces, lane lines and paving joints: sharp, so drawn at full size."""
        w, h = self._w, self._h

        def rows(a: float, b: float) -> slice:
            return slice(int(round(a * h)), max(int(round(a * h)) + 1, int(round(b * h))))

        # Kerbs: a lit top face over a shaded vertical face.
        img[rows(_VERGE_END, _VERGE_END + 0.006)] = _rgb(182, 182, 178)
        img[rows(_NEAR_KERB_END - 0.006, _NEAR_KERB_END)] = _rgb(120, 120, 118)
        thick = max(1, int(round(0.0065 * h)))
        paint = _rgb(226, 226, 220)
        for i, yf in enumerate(_LINE_ROWS):
            yc = int(round(yf * h))
            if i != 1:
                img[yc - thick // 2:yc - thick // 2 + thick] = paint
                continue
            period, dash = 0.1 * w, 0.045 * w
            x = -float(rng.random()) * period
            while x < w:
                cv2.rectangle(img, (int(x), yc - thick // 2), (int(x + dash), yc + thick // 2),
                              paint, -1)
                x += period
        joint = _rgb(96, 92, 88)
        y0, y1 = int(_NEAR_KERB_END * h), int(_PAVEMENT_END * h)
        cv2.line(img, (0, (y0 + y1) // 2), (w, (y0 + y1) // 2), joint, 1)
        step = max(8, int(0.06 * w))
        for x in range(int(rng.integers(0, step)), w, step):
            cv2.line(img, (x, y0), (x - step // 6, y1), joint, 1)

    def _draw_buildings(self, img: np.ndarray, over: np.ndarray, glows: list[_Glow],
                        rng: np.random.Generator) -> None:
        w, h = self._w, self._h
        bottom = int(0.33 * h)
        palette = (_rgb(150, 140, 130), _rgb(120, 108, 98), _rgb(176, 170, 160),
                   _rgb(128, 84, 70))
        for k in range(2 + int(rng.random() < 0.5)):
            bw = int(w * (0.05 + 0.05 * rng.random()))
            bx = int((0.08 + 0.3 * k + 0.18 * rng.random()) * w)
            top = int(h * (0.15 + 0.06 * rng.random()))
            colour = palette[int(rng.integers(0, len(palette)))]
            cv2.rectangle(img, (bx, top), (bx + bw, bottom), colour, -1)
            cv2.rectangle(img, (bx, top), (bx + bw, top + max(1, h // 200)),
                          _scaled(colour, 0.6), -1)
            over[top:, bx:bx + bw + 1] = 1  # `over` ends at the horizon
            # Window grid; a random third of them light up at night.
            cols = max(2, int(bw / (0.012 * w)))
            nrows = max(2, int((bottom - top) / (0.022 * h)))
            cw, chh = bw / cols, (bottom - top) / nrows
            lit = np.zeros((bottom - top, bw + 1, 3), np.float32)
            for r in range(nrows):
                for c in range(cols):
                    x0 = int(bx + c * cw + 0.28 * cw)
                    y0 = int(top + r * chh + 0.3 * chh)
                    x1, y1 = int(x0 + 0.44 * cw), int(y0 + 0.4 * chh)
                    if y1 >= bottom - 1:
                        continue
                    cv2.rectangle(img, (x0, y0), (x1, y1), _rgb(52, 60, 72), -1)
                    if rng.random() < 0.33:
                        cv2.rectangle(lit, (x0 - bx, y0 - top), (x1 - bx, y1 - top),
                                      _rgb(150, 120, 70), -1)
            lit = cv2.GaussianBlur(lit, (0, 0), 0.6 + 0.002 * w)
            x_end = min(w, bx + bw + 1)
            if x_end > bx:
                glows.append(_Glow(y=top, x=bx, patch=_to_u8(lit[:, :x_end - bx])))

    def _draw_treeline(self, img: np.ndarray, over: np.ndarray,
                       rng: np.random.Generator) -> None:
        """Draw a ragged line of tree crowns along the horizon."""
        w, h = self._w, self._h
        y_lo, y_hi = int(0.18 * h), int(_TREE_BASE * h)
        crowns = np.zeros((y_hi - y_lo, w), np.uint8)
        gaps = [(g, g + (0.05 + 0.07 * rng.random()) * w)
                for g in (rng.random() * w, rng.random() * w)]
        x = 0.0
        while x < w + 0.03 * self._ref:
            r = self._ref * (0.012 + 0.018 * rng.random())
            if not any(a < x < b for a, b in gaps):
                yc = h * (0.285 + 0.033 * rng.random()) - y_lo
                cv2.circle(crowns, (int(x), int(yc)), max(1, int(r)),
                           int(110 + 90 * rng.random()), -1)
                cv2.rectangle(crowns, (int(x - r), int(0.305 * h - y_lo)),
                              (int(x + r), y_hi - y_lo), int(90 + 30 * rng.random()), -1)
            x += r * (0.6 + 0.5 * rng.random())
        mask = crowns > 0
        hb, wb = max(2, (y_hi - y_lo) // 2), max(2, w // 2)
        leaves = cv2.resize(_fbm(rng, (hb, wb), cell=max(2.0, 0.004 * w)), (w, y_hi - y_lo))
        shade = crowns.astype(np.float32) / 160.0 * (0.55 + 0.9 * leaves)
        colour = np.array(_rgb(40, 66, 36), np.float32)
        band = img[y_lo:y_hi]
        band[mask] = _to_u8(shade[mask][:, None] * colour)
        n = max(0, self._sky_h - y_lo)
        over[y_lo:y_lo + n] |= mask[:n].astype(np.uint8)

    def _draw_lamps(self, img: np.ndarray, over: np.ndarray, glows: list[_Glow],
                    rng: np.random.Generator) -> None:
        """Draw street lamps at the far kerb, and their light for the night."""
        w, h, ref = self._w, self._h, self._ref
        pw = max(2, int(round(0.0035 * ref)))
        arm = int(0.025 * ref)
        top, base = int(_LAMP_TOP * h), int(_LAMP_BASE * h)
        head_w, head_h = max(3, int(0.02 * ref)), max(2, int(0.006 * h))
        for k in range(3):
            x = int((0.16 + 0.33 * k + 0.05 * rng.random()) * w)
            cv2.rectangle(img, (x, top), (x + pw - 1, base), _rgb(120, 122, 126), -1)
            cv2.line(img, (x, top), (x, base), _rgb(84, 86, 90), 1)
            cv2.rectangle(img, (x, top), (x + arm, top + max(1, pw // 2)), _rgb(110, 112, 116),
                          -1)
            hx0, hx1 = x + arm - head_w // 2, x + arm + head_w // 2
            cv2.rectangle(img, (hx0, top), (hx1, top + head_h), _rgb(70, 72, 76), -1)
            cv2.rectangle(img, (hx0, top + head_h - max(1, head_h // 3)), (hx1, top + head_h),
                          _rgb(206, 204, 190), -1)
            y1 = min(self._sky_h, base + 1)
            # The post and head, exactly as drawn above, stand in front of the sky.
            over[top:y1, x:x + pw] = 1
            over[top:min(y1, top + max(1, pw // 2) + 1), x:x + arm + 1] = 1
            over[top:min(y1, top + head_h + 1), max(0, hx0):hx1 + 1] = 1
            # Night: a sodium glow around the head and a pool of light on the road.
            hx, hy = x + arm, top + head_h
            glows.append(self._glow_patch(hx, hy, 0.016 * ref, 0.016 * ref, (70, 140, 230), 1.0))
            glows.append(self._glow_patch(hx, hy, 0.004 * ref + 1, 0.004 * ref + 1,
                                          (220, 245, 255), 1.0))
            glows.append(self._glow_patch(hx, 0.575 * h, 0.09 * ref, 0.06 * h,
                                          (40, 95, 150), 1.0))

    def _glow_patch(self, cx: float, cy: float, sx: float, sy: float,
                    colour: tuple[int, int, int], k: float) -> _Glow:
        x0, x1 = max(0, int(cx - 3 * sx)), min(self._w, int(cx + 3 * sx) + 1)
        y0, y1 = max(0, int(cy - 3 * sy)), min(self._h, int(cy + 3 * sy) + 1)
        c = np.zeros((max(1, y1 - y0), max(1, x1 - x0), 3), np.float32)
        _blob(c, cx - x0, cy - y0, sx, sy, k * np.array(colour, np.float32))
        return _Glow(y=y0, x=x0, patch=_to_u8(c))

    def _build_sky(self) -> None:
        """Cloud texture and the low-resolution sampling grid with perspective."""
        rng = _rng(self._seed_key, _STREAM_CLOUDS)
        self._cloud_tex = _periodic_noise(rng, _CLOUD_TEX_SHAPE, beta=2.7)
        th, tw = _CLOUD_TEX_SHAPE
        sh, sw = max(4, math.ceil(self._sky_h / _LOWRES)), max(16, math.ceil(self._w / _LOWRES))
        self._sky_lr = (sh, sw)
        u = (np.arange(sh, dtype=np.float32) + 0.5) / sh  # 0 zenith, 1 horizon
        self._sky_u = u
        # Clouds near the horizon are further away: smaller, and flatter still.
        kx = tw / (sw * 1.3)
        xs = np.arange(sw, dtype=np.float32) - sw / 2.0
        self._map_x = (xs[None, :] * (kx * (1.0 + 0.6 * u * u))[:, None]
                       + tw / 2.0).astype(np.float32)
        self._map_y = np.repeat((kx * sh * (u + 4.0 * u ** 3 / 3.0))[:, None], sw, axis=1)
        self._map_y = np.mod(self._map_y, th).astype(np.float32)
        self._tex_per_width = sw * kx  # texture pixels per image width at the zenith
        # Same vignette as the ground, sampled at the low-resolution rows.
        ys = u * (2.0 * self._sky_h / self._h) - 1.0
        self._sky_vig = ((1.0 - 0.16 * ys * ys)[:, None]
                         * _vignette(sw, 0.22)[None, :]).astype(np.float32)[:, :, None]
        self._sky_x = (np.arange(sw, dtype=np.float32) + 0.5) / sw
        cover = self._cond.cloud_cover
        q = float(np.quantile(self._cloud_tex, 1.0 - cover)) if 0.0 < cover < 1.0 else 0.0
        self._cloud_q = q if cover < 1.0 else -1.0
        self._cloud_soft = 0.045

    def _build_noise(self) -> None:
        """
        Build a sensor-noise tile once; frames take shifted views of it.

        Uniform bytes mapped through a Gaussian quantile table are much cheaper than
        drawing normals; a light blur gives the slightly blotchy look of demosaiced noise.
        """
        rng = _rng(self._seed_key, _STREAM_NOISE)
        rows = min(self._h, _NOISE_ROWS) + _NOISE_PAD
        cols = self._w + _NOISE_PAD
        nd = NormalDist()
        table = np.array([128.0 + _NOISE_TILE_STD * 1.15 * nd.inv_cdf((i + 0.5) / 256.0)
                          for i in range(256)])
        table = np.clip(np.rint(table), 0, 255).astype(np.uint8)
        luma = cv2.LUT(rng.integers(0, 256, (rows, cols), dtype=np.uint8), table)
        chroma = cv2.LUT(rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8), table)
        tile = cv2.addWeighted(cv2.merge([luma, luma, luma]), 0.8, chroma, 0.6, 128 * -0.4)
        self._noise = cv2.GaussianBlur(tile, (3, 3), 0.5)
        # The blur shrinks the spread; measure it so noise_sigma means what it says.
        self._noise_std = float(self._noise[:64, :256].astype(np.float32).std()) or 1.0

    # ------------------------------------------------------------------ per frame

    def _light_at(self, t: float) -> tuple[SceneConditions, _Light]:
        cond = self.conditions_at(t)
        return cond, _light_for(cond.time_of_day_h, cond)

    def _cloud_texture(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (alpha, tex, detail) of the clouds in view at t, at the sky's low res."""
        th, tw = _CLOUD_TEX_SHAPE
        # Wrap in float64 first: float32 would lose sub-pixel drift after long runs.
        off = (t * self._cond.cloud_drift_per_s * self._tex_per_width) % tw
        mx = np.mod(self._map_x + np.float32(off), tw).astype(np.float32)
        tex = cv2.remap(self._cloud_tex, mx, self._map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_WRAP)
        mx2 = np.mod(mx * 2.7 + 131.0, tw).astype(np.float32)
        my2 = np.mod(self._map_y * 2.7 + 57.0, th).astype(np.float32)
        detail = cv2.remap(self._cloud_tex, mx2, my2, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_WRAP)
        tex = tex + 0.12 * (detail - 0.5)  # ragged edges
        a = np.clip((tex - (self._cloud_q - self._cloud_soft)) / (2 * self._cloud_soft),
                    0.0, 1.0)
        return a * a * (3.0 - 2.0 * a), tex, detail

    def _visible_cover(self, t: float, cover: float) -> float:
        """Return the fraction of the sky in view that cloud covers at t."""
        return float(self._cloud_texture(t)[0].mean()) if cover > 0.0 else 0.0

    def _compose_sky(self, out: np.ndarray, t: float, light: _Light) -> float:
        """Draw the sky; return the fraction of it that cloud covers."""
        cover = light.cover
        u = self._sky_u
        visible = 0.0
        n, w, d = light.night, light.warm, light.day
        haze = 0.75 * cover * cover  # heavy cover also greys the gaps
        day = _gradient(_SKY_DAY * (1.0 - haze) + _SKY_OVERCAST * haze, u)
        base = (d * day + w * _gradient(_SKY_WARM, u) + n * _gradient(_SKY_NIGHT, u))
        sky = np.broadcast_to(base[:, None, :], self._sky_lr + (3,)).copy()
        if w > 0.0:
            sun_x = 0.8 if light.sun_side > 0 else 0.2
            glow = np.exp(-((self._sky_x - sun_x) / 0.25) ** 2)[None, :] * (u ** 1.5)[:, None]
            sky += (w * glow)[:, :, None] * _SUN_GLOW_WARM
        if cover > 0.0:
            a, tex, detail = self._cloud_texture(t)
            visible = float(a.mean())
            # Thick cores are grey; edges catch the light; detail gives texture.
            # Overcast is a flatter, lighter grey than the cores of scattered cumulus.
            thick = np.clip((tex - self._cloud_q) / 0.3, 0.0, 1.0)
            shade = (1.0 - (0.3 - 0.14 * cover) * thick) * (0.94 + 0.12 * detail)
            cloud = (d * _CLOUD_DAY * (1.0 - 0.16 * cover) + w * _CLOUD_WARM
                     + n * _CLOUD_NIGHT)
            a3 = a[:, :, None]
            sky = sky * (1.0 - a3) + (shade[:, :, None] * a3) * cloud
        sky *= self._sky_vig
        sky_bgr = _to_u8(sky[:, :, ::-1])
        cv2.resize(sky_bgr, (self._w, self._sky_h), dst=out[:self._sky_h],
                   interpolation=cv2.INTER_LINEAR)
        return visible

    def _compose_ground(self, out: np.ndarray, lut: np.ndarray) -> None:
        key = lut.tobytes()
        if key != self._lit_key:
            # Fixed conditions hit this once; a day cycle re-lights as the light changes.
            self._lit_ground = cv2.LUT(self._ground, lut)
            self._lit_overlay = cv2.LUT(self._overlay.albedo, lut)
            self._lit_key = key
        np.copyto(out[self._sky_h:], self._lit_ground)
        if self._overlay.y < self._sky_h:
            cv2.copyTo(self._lit_overlay, self._overlay.mask, out[self._overlay.y:self._sky_h])

    def _add_glows(self, out: np.ndarray, light: _Light) -> None:
        if light.lamps < 0.01:
            return
        for g in self._glows:
            hh, ww = g.patch.shape[:2]
            roi = out[g.y:g.y + hh, g.x:g.x + ww]
            if roi.shape[:2] == (hh, ww):
                cv2.addWeighted(roi, 1.0, g.patch, light.lamps, 0.0, dst=roi)

    def _sprite(self, v: _Vehicle) -> _Sprite:
        sprite = self._sprites.get(v.vid)
        if sprite is None:
            sprite = _build_sprite(v, self._seed_key)
            self._sprites[v.vid] = sprite
        return sprite

    def _placements(self, t: float) -> list[_Placement]:
        placed = []
        for lane in self._lanes:  # far lane first, so the near lane is drawn over it
            for v in sorted(lane.visible(t), key=lambda v: v.vid):
                s = self._sprite(v)
                left = v.left_at(t)
                xi = int(math.floor(left + 0.5))
                bx, by = xi + s.ox, v.baseline_px - v.height_px + s.oy
                bh, bw = s.bgr.shape[:2]
                x0, x1 = max(0, bx), min(self._w, bx + bw)
                y0, y1 = max(0, by), min(self._h, by + bh)
                if x1 <= x0 or y1 <= y0:
                    continue
                placed.append(_Placement(
                    vehicle=v, sprite=s, left_px=xi,
                    centre_x_norm=(left + v.length_px / 2.0) / self._w,
                    box=(x0, y0, x1 - x0, y1 - y0)))
        # Keep only sprites still in view: the cache stays small on endless runs.
        self._sprites = {p.vehicle.vid: p.sprite for p in placed}
        return placed

    def _clip(self, x: int, y: int, w: int, h: int) -> tuple[slice, slice, slice, slice]:
        """Image and patch slices of a w x h patch placed at (x, y), clipped."""
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self._w, x + w), min(self._h, y + h)
        if x1 <= x0 or y1 <= y0:
            return slice(0, 0), slice(0, 0), slice(0, 0), slice(0, 0)
        return (slice(y0, y1), slice(x0, x1), slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))

    def _draw_vehicles(self, out: np.ndarray, placed: list[_Placement], light: _Light,
                       lut: np.ndarray) -> None:
        # All shadows first: a shadow lies on the road, never on another vehicle.
        for p in placed:
            v, s = p.vehicle, p.sprite
            sun = int(light.sun_side * -0.06 * v.length_px * (1.0 - light.cover) * light.day)
            top = v.baseline_px - v.height_px
            sh, sw = s.shadow.shape
            iy, ix, py, px = self._clip(p.left_px + s.shadow_ox + sun, top + s.shadow_oy, sw, sh)
            if iy.stop > iy.start:
                keep = _to_u8(255.0 - (255.0 * light.shadow) * s.shadow[py, px])
                roi = out[iy, ix]
                cv2.multiply(roi, cv2.merge([keep, keep, keep]), dst=roi, scale=1.0 / 255.0)
        for p in placed:
            v, s = p.vehicle, p.sprite
            bh, bw = s.bgr.shape[:2]
            iy, ix, py, px = self._clip(p.left_px + s.ox, v.baseline_px - v.height_px + s.oy,
                                        bw, bh)
            roi = out[iy, ix]
            lit = cv2.LUT(s.bgr[py, px], lut)
            roi[...] = cv2.blendLinear(lit, roi, np.ascontiguousarray(s.alpha[py, px]),
                                       np.ascontiguousarray(s.inv_alpha[py, px]))
        if light.headlights < 0.02:
            return
        for p in placed:
            v, s = p.vehicle, p.sprite
            if s.glow is None:
                _build_glow(v, s)
            gh, gw = s.glow.shape[:2]
            iy, ix, py, px = self._clip(p.left_px + s.glow_ox, v.baseline_px - v.height_px,
                                        gw, gh)
            if iy.stop > iy.start:
                roi = out[iy, ix]
                cv2.addWeighted(roi, 1.0, s.glow[py, px], light.headlights, 0.0, dst=roi)

    def _add_noise(self, out: np.ndarray, t: float, light: _Light) -> None:
        if light.noise_sigma <= 0.0:
            return
        k = light.noise_sigma / self._noise_std
        rows = self._noise.shape[0] - _NOISE_PAD
        # Fresh offsets per frame: noise decorrelates in time without drawing it anew.
        rng = _rng(self._seed_key, _STREAM_FRAME, int(round(t * 1000.0)))
        offsets = rng.integers(0, _NOISE_PAD, (math.ceil(self._h / rows), 2))
        for i, y0 in enumerate(range(0, self._h, rows)):
            y1 = min(self._h, y0 + rows)
            dy, dx = int(offsets[i, 0]), int(offsets[i, 1])
            view = self._noise[dy:dy + (y1 - y0), dx:dx + self._w]
            roi = out[y0:y1]
            cv2.addWeighted(roi, 1.0, view, k, -128.0 * k, dst=roi)

    def _truth(self, t: float, cond: SceneConditions, placed: list[_Placement],
               visible_cover: float) -> dict:
        vehicles = [{
            'id': int(p.vehicle.vid),
            'class': p.vehicle.cls,
            'box': [int(b) for b in p.box],
            'direction': p.vehicle.direction,
            'center_x_norm': float(p.centre_x_norm),
        } for p in sorted(placed, key=lambda p: p.vehicle.vid)]
        crossings = dict.fromkeys(DIRECTIONS, 0)
        for lane in self._lanes:
            crossings[lane.direction] += lane.crossings(t)
        return {
            # The label is what the camera sees: the share of the sky in view that cloud
            # covers. The scene-wide cover can differ by several points near a band
            # edge; its label is kept as scene_condition.
            'sky': {
                'condition': sky_condition_for(time_of_day_h=cond.time_of_day_h,
                                               cloud_cover=visible_cover),
                'scene_condition': sky_condition_for(time_of_day_h=cond.time_of_day_h,
                                                     cloud_cover=cond.cloud_cover),
                'cloud_cover': float(cond.cloud_cover),
                'visible_cloud_cover': round(visible_cover, 4),
                'time_of_day_h': float(cond.time_of_day_h % 24.0),
                'sky_fraction': SKY_FRACTION,
            },
            'vehicles': vehicles,
            'vehicle_count': len(vehicles),
            'road_region': [[x, y] for x, y in ROAD_REGION],
            'counting_line_x_norm': COUNTING_LINE_X_NORM,
            'crossings': crossings,
        }

    def ground_truth(self, t: float) -> dict:
        """Ground truth at scene time t, without rendering the image."""
        cond, _ = self._light_at(t)
        return self._truth(t, cond, self._placements(t),
                           self._visible_cover(t, cond.cloud_cover))

    def camera_metadata(self, t: float) -> dict:
        """
        Return what rpicam-still's --metadata would say about the frame at scene time t.

        Only the keys the analysers read, named as libcamera names them: Lux,
        ExposureTime (us), AnalogueGain, DigitalGain and ColourTemperature (K).
        """
        return _camera_reading(self._light_at(float(t))[1])

    def render(self, t: float) -> tuple[np.ndarray, dict]:
        """Image (height, width, 3) uint8 BGR and ground truth at scene time t seconds."""
        t = float(t)
        cond, light = self._light_at(t)
        lut = _light_lut(light)
        out = np.empty((self._h, self._w, 3), np.uint8)
        visible_cover = self._compose_sky(out, t, light)
        self._compose_ground(out, lut)
        self._add_glows(out, light)
        placed = self._placements(t)
        self._draw_vehicles(out, placed, light, lut)
        self._add_noise(out, t, light)
        return out, self._truth(t, cond, placed, visible_cover)
