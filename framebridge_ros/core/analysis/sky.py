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
Explainable sky classifier: what the sky looks like, from pixels and camera exposure.

Labels (``SKY_CONDITIONS``, the same as the simulated scene's): ``clear``,
``partly_cloudy``, ``cloudy``, ``night``, ``dawn_dusk``.

Features, measured on the sky region (a normalised polygon, by default the top quarter
of the frame) shrunk to ``analysis_width`` pixels wide; HSV as OpenCV has it (H 0-180,
S and V 0-255):

``brightness``      mean V
``blue_fraction``   pixels with H in [90, 130] (blue), S >= ``min_colour_saturation``,
                    V >= ``min_lit_value``
``cloud_fraction``  pixels with S < ``max_cloud_saturation`` and V >= ``min_lit_value``
                    (white or grey: cloud, haze, overcast)
``warm_fraction``   pixels with H <= 25 or H >= 150 (orange, red, pink, purple),
                    S >= ``min_colour_saturation``, V >= ``min_lit_value``
``contrast``        standard deviation of the grey level / 255
``edge_density``    fraction of pixels whose Sobel gradient exceeds ``edge_threshold``
``cloud_cover``     cloud_fraction / (cloud_fraction + blue_fraction): the share of the
                    lit, coloured-or-white sky that is cloud (0.5 if neither is seen)

Camera evidence, when the frame's metadata has ``camera`` (rpicam/libcamera keys):
``Lux`` (scene illuminance estimate), ``ExposureTime`` (microseconds) and
``AnalogueGain``. Auto-exposure brightens a night sky, so the camera's own light
measure is worth more than pixel brightness when it is there.

Decision (all weights are ``SkyConfig`` fields, documented there):

1. daylight ``d`` in [0, 1]: a weighted mean of the evidence present, each a smooth
   step between a night and a day level: pixel brightness (weight 1), log lux
   (weight 2), log exposure x gain (weight 1, inverted: long exposures mean dark).
2. warmth ``w`` in [0, 1]: a smooth step of warm_fraction (sunrise and sunset colours).
3. scores: ``night = 1 - d``; ``dawn_dusk = d * w``; and the day labels share
   ``d * (1 - w)`` by the cloud cover bands. When the metadata has ``Lux`` the light
   level alone decides between night, twilight and day instead: below ``night_lux``
   (3.4, the end of civil twilight) night, from ``day_lux`` (400, sunset) day, between
   them ``dawn_dusk`` whatever the colour of the sky (an overcast dusk is grey); the
   day share goes to the cloud cover bands (clear below ``clear_below``, cloudy from
   ``cloudy_from``, as in meteorology's okta bands: up to 2 oktas is fair, 6 or more
   is overcast), blended with texture (``texture_weight``): broken cloud has edges, a
   clear or an overcast sky has few.
4. smoothing: the scores of the last ``smoothing_frames`` frames are averaged and the
   label is their argmax; confidence is the winning share of the averaged scores.

:meth:`SkyClassifier.classify` returns a :class:`SkyReading` whose
:meth:`SkyReading.to_dict` is the body of the ``sky/condition`` message (schema in
:func:`sky_message`).
"""

from collections import deque
from dataclasses import dataclass, field
import math
import time
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
from framebridge_ros.core.analysis.camera_reading import camera_evidence
from framebridge_ros.core.analysis.region import parse_region
from framebridge_ros.core.health import Health, Level
from framebridge_ros.core.params import config_from_params, config_params, ParamSpec
import numpy as np

__all__ = [
    'DEFAULT_SKY_REGION', 'SCHEMA_VERSION', 'SKY_CONDITIONS', 'SkyClassifier', 'SkyConfig',
    'SkyReading', 'camera_evidence', 'parse_sky_region', 'sky_config', 'sky_features',
    'sky_health', 'sky_message', 'sky_params', 'sky_scores',
]

SCHEMA_VERSION = 1
SKY_CONDITIONS = ('clear', 'partly_cloudy', 'cloudy', 'night', 'dawn_dusk')
DEFAULT_SKY_REGION = (0.0, 0.0, 1.0, 0.0, 1.0, 0.25, 0.0, 0.25)

Polygon = Tuple[Tuple[float, float], ...]


def parse_sky_region(values: Sequence[float]) -> Polygon:
    """Return a polygon of a flat list of normalised x, y pairs; ValueError saying why not."""
    try:
        return parse_region(values)
    except ValueError as error:
        raise ValueError(str(error).replace('road region', 'sky region')) from None


@dataclass(frozen=True)
class SkyConfig:
    """
    Thresholds and weights of the classifier; defaults are meant to hold for any camera.

    Pixel thresholds are on OpenCV's HSV scale (S, V 0-255). Light levels:
    ``night_brightness`` / ``day_brightness`` (mean V) bound the pixel evidence;
    ``night_lux`` / ``day_lux`` (civil twilight ends near 3 lux, an overcast day is
    above 1000, 400 is a dull sunset) and ``night_exposure_gain`` / ``day_exposure_gain``
    (ExposureTime in us x AnalogueGain) bound the camera's evidence.
    """

    analysis_width: int = 256
    min_lit_value: int = 60
    min_colour_saturation: int = 50
    max_cloud_saturation: int = 50
    edge_threshold: float = 40.0
    night_brightness: float = 45.0
    day_brightness: float = 100.0
    night_lux: float = 3.4
    day_lux: float = 400.0
    night_exposure_gain: float = 400000.0
    day_exposure_gain: float = 20000.0
    brightness_weight: float = 1.0
    lux_weight: float = 2.0
    exposure_weight: float = 1.0
    warm_low: float = 0.10
    warm_high: float = 0.30
    clear_below: float = 0.25
    cloudy_from: float = 0.75
    band_softness: float = 0.05
    texture_weight: float = 0.15
    edge_low: float = 0.15
    edge_high: float = 0.45
    smoothing_frames: int = 5

    def __post_init__(self) -> None:
        """Reject settings that make no sense; say which."""
        problems = []
        if self.analysis_width < 16:
            problems.append('analysis_width must be >= 16')
        if not self.night_brightness < self.day_brightness:
            problems.append('night_brightness must be below day_brightness')
        if not 0.0 < self.night_lux < self.day_lux:
            problems.append('need 0 < night_lux < day_lux')
        if not 0.0 < self.day_exposure_gain < self.night_exposure_gain:
            problems.append('need 0 < day_exposure_gain < night_exposure_gain')
        if not 0.0 <= self.clear_below < self.cloudy_from <= 1.0:
            problems.append('need 0 <= clear_below < cloudy_from <= 1')
        if not 0.0 <= self.warm_low < self.warm_high <= 1.0:
            problems.append('need 0 <= warm_low < warm_high <= 1')
        if not 0.0 <= self.texture_weight <= 1.0:
            problems.append('texture_weight must be within [0, 1]')
        if self.smoothing_frames < 1:
            problems.append('smoothing_frames must be >= 1')
        if problems:
            raise ValueError('; '.join(problems))


_SKY_HELP = {
    'analysis_width': ('Sky: width in pixels the sky region is shrunk to.', 16, 4096),
    'min_lit_value': ('Sky: HSV V (0-255) below which a pixel is dark, neither blue nor '
                      'cloud.', 0, 255),
    'min_colour_saturation': ('Sky: HSV S (0-255) from which a pixel counts as blue or '
                              'warm.', 0, 255),
    'max_cloud_saturation': ('Sky: HSV S (0-255) below which a lit pixel is white/grey '
                             'cloud.', 0, 255),
    'edge_threshold': ('Sky: Sobel magnitude of an edge pixel (texture).', 0.0, 2000.0),
    'night_brightness': ('Sky: mean V at or below which pixels say night.', 0.0, 255.0),
    'day_brightness': ('Sky: mean V at or above which pixels say day.', 0.0, 255.0),
    'night_lux': ('Sky: camera Lux below which it is night (3.4: the end of civil '
                  'twilight).', 1e-6, 1e6),
    'day_lux': ('Sky: camera Lux from which it is day (400: sunset); between the two '
                'it is dawn or dusk whatever the colour of the sky.', 1e-6, 1e6),
    'night_exposure_gain': ('Sky: ExposureTime (us) x AnalogueGain at or above which it '
                            'is night.', 1.0, 1e9),
    'day_exposure_gain': ('Sky: ExposureTime (us) x AnalogueGain at or below which it '
                          'is day.', 1.0, 1e9),
    'brightness_weight': ('Sky: weight of pixel brightness in the daylight estimate.',
                          0.0, 100.0),
    'lux_weight': ('Sky: weight of camera Lux in the daylight estimate.', 0.0, 100.0),
    'exposure_weight': ('Sky: weight of exposure x gain in the daylight estimate.',
                        0.0, 100.0),
    'warm_low': ('Sky: warm (sunrise/sunset) fraction where warmth starts.', 0.0, 1.0),
    'warm_high': ('Sky: warm fraction where warmth is full.', 0.0, 1.0),
    'clear_below': ('Sky: cloud cover below which the sky is clear.', 0.0, 1.0),
    'cloudy_from': ('Sky: cloud cover from which the sky is cloudy (6/8 oktas).', 0.0, 1.0),
    'band_softness': ('Sky: half width of the soft edge between cover bands.', 0.0, 0.5),
    'texture_weight': ('Sky: share of edge density in the clear/partly/cloudy scores.',
                       0.0, 1.0),
    'edge_low': ('Sky: edge density where broken cloud starts.', 0.0, 1.0),
    'edge_high': ('Sky: edge density where broken cloud is certain.', 0.0, 1.0),
    'smoothing_frames': ('Sky: frames whose scores are averaged.', 1, 1000),
}


def sky_params() -> Tuple[ParamSpec, ...]:
    """Return one ParamSpec per SkyConfig field, with its default and limits."""
    return config_params(SkyConfig, _SKY_HELP)


def sky_config(values: Mapping[str, Any]) -> SkyConfig:
    """Return a SkyConfig of the matching keys of values (others are ignored)."""
    return config_from_params(SkyConfig, values)


def _smoothstep(x: float, lo: float, hi: float) -> float:
    u = min(1.0, max(0.0, (x - lo) / (hi - lo)))
    return u * u * (3.0 - 2.0 * u)


class _RegionCache:
    """The sky mask at the analysis size, rebuilt only when the image size changes."""

    def __init__(self, region: Polygon) -> None:
        self.region = region
        self._key: Optional[Tuple[int, int, int]] = None
        self.box: Tuple[int, int, int, int] = (0, 0, 0, 0)
        self.size: Tuple[int, int] = (0, 0)
        self.mask: Optional[np.ndarray] = None

    def get(self, shape: Tuple[int, int], analysis_width: int):
        h, w = shape
        key = (h, w, analysis_width)
        if key != self._key:
            xs = [p[0] for p in self.region]
            ys = [p[1] for p in self.region]
            x0, x1 = int(min(xs) * w), max(int(min(xs) * w) + 1, int(math.ceil(max(xs) * w)))
            y0, y1 = int(min(ys) * h), max(int(min(ys) * h) + 1, int(math.ceil(max(ys) * h)))
            bw, bh = x1 - x0, y1 - y0
            scale = min(1.0, analysis_width / bw)
            sw, sh = max(1, round(bw * scale)), max(1, round(bh * scale))
            mask = np.zeros((sh, sw), np.uint8)
            pts = [[(px * w - x0) * scale, (py * h - y0) * scale] for px, py in self.region]
            cv2.fillPoly(mask, [np.round(np.array(pts)).astype(np.int32)], 255)
            self._key, self.box, self.size = key, (x0, y0, bw, bh), (sw, sh)
            self.mask = mask
        return self.box, self.size, self.mask


def sky_features(image: np.ndarray, *, region: Optional[Polygon] = None,
                 config: Optional[SkyConfig] = None,
                 _cache: Optional[_RegionCache] = None) -> Dict[str, float]:
    """Return the pixel features of the sky region of a BGR image (see the module doc)."""
    config = config or SkyConfig()
    cache = _cache or _RegionCache(region or parse_sky_region(DEFAULT_SKY_REGION))
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    (x0, y0, bw, bh), size, mask = cache.get(image.shape[:2], config.analysis_width)
    crop = image[y0:y0 + bh, x0:x0 + bw]
    small = crop if size == (bw, bh) else cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    inside = mask > 0
    n = max(1, int(np.count_nonzero(inside)))
    hue, sat, val = hsv[:, :, 0][inside], hsv[:, :, 1][inside], hsv[:, :, 2][inside]
    lit = val >= config.min_lit_value
    coloured = lit & (sat >= config.min_colour_saturation)
    blue = np.count_nonzero(coloured & (hue >= 90) & (hue <= 130)) / n
    warm = np.count_nonzero(coloured & ((hue <= 25) | (hue >= 150))) / n
    cloud = np.count_nonzero(lit & (sat < config.max_cloud_saturation)) / n
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    # Erode the mask so the region's own border (a roofline) is not counted as texture.
    inner = cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0
    magnitude = cv2.magnitude(gx, gy)[inner]
    edges = np.count_nonzero(magnitude > config.edge_threshold) / max(1, magnitude.size)
    seen = cloud + blue
    return {
        'brightness': round(float(val.mean()), 2),
        'blue_fraction': round(float(blue), 4),
        'cloud_fraction': round(float(cloud), 4),
        'warm_fraction': round(float(warm), 4),
        'contrast': round(float(grey[inside].std()) / 255.0, 4),
        'edge_density': round(float(edges), 4),
        'cloud_cover': round(float(cloud / seen), 4) if seen > 0.0 else 0.5,
    }


_LUX_SOFT = 0.15


def sky_scores(features: Mapping[str, float], camera: Mapping[str, float],
               config: Optional[SkyConfig] = None) -> Dict[str, float]:
    """Return a score in [0, 1] per label, summing to 1 (see the module doc, steps 1-3)."""
    c = config or SkyConfig()
    evidence = [(c.brightness_weight,
                 _smoothstep(features['brightness'], c.night_brightness, c.day_brightness))]
    if 'lux' in camera:
        evidence.append((c.lux_weight, _smoothstep(
            math.log10(camera['lux']), math.log10(c.night_lux), math.log10(c.day_lux))))
    if 'exposure_us' in camera:
        eg = camera['exposure_us'] * camera.get('gain', 1.0)
        evidence.append((c.exposure_weight, 1.0 - _smoothstep(
            math.log10(eg), math.log10(c.day_exposure_gain),
            math.log10(c.night_exposure_gain))))
    total = sum(weight for weight, _ in evidence)
    day = sum(weight * value for weight, value in evidence) / total if total else 0.0
    warm = _smoothstep(features['warm_fraction'], c.warm_low, c.warm_high)
    twilight = day * warm
    if 'lux' in camera:
        # Twilight is a light level, not a colour: an overcast dusk is grey. Between
        # the end of civil twilight and sunset it is dawn or dusk (soft edges of
        # +-0.15 decades, about +-40 %).
        lux = math.log10(camera['lux'])
        not_night = _smoothstep(lux, math.log10(c.night_lux) - _LUX_SOFT,
                                math.log10(c.night_lux) + _LUX_SOFT)
        day = _smoothstep(lux, math.log10(c.day_lux) - _LUX_SOFT,
                          math.log10(c.day_lux) + _LUX_SOFT)
        twilight, warm = max(0.0, not_night - day), 0.0
    cover, soft = features['cloud_cover'], c.band_softness
    above_clear = _smoothstep(cover, c.clear_below - soft, c.clear_below + soft)
    above_partly = _smoothstep(cover, c.cloudy_from - soft, c.cloudy_from + soft)
    bands = {'clear': 1.0 - above_clear, 'partly_cloudy': above_clear - above_partly,
             'cloudy': above_partly}
    broken = _smoothstep(features['edge_density'], c.edge_low, c.edge_high)
    texture = {'clear': 1.0 - broken, 'partly_cloudy': broken, 'cloudy': 1.0 - broken}
    t = c.texture_weight
    scores = {label: day * (1.0 - warm) * ((1.0 - t) * bands[label] + t * texture[label])
              for label in bands}
    scores['night'] = max(0.0, 1.0 - day - twilight) if 'lux' in camera else 1.0 - day
    scores['dawn_dusk'] = twilight
    total = sum(scores.values()) or 1.0
    return {label: round(float(scores[label] / total), 4) for label in SKY_CONDITIONS}


@dataclass
class SkyReading:
    """One smoothed judgement and the evidence behind it."""

    condition: str
    confidence: float
    scores: Dict[str, float]
    frame_scores: Dict[str, float]
    features: Dict[str, float]
    camera: Dict[str, float]
    frames_smoothed: int
    processing_ms: float

    def to_dict(self) -> Dict[str, Any]:
        """Return plain data (the analysis part of the sky/condition message)."""
        return {
            'condition': self.condition,
            'confidence': round(self.confidence, 3),
            'cloud_cover': self.features.get('cloud_cover'),
            'scores': dict(self.scores),
            'frame_scores': dict(self.frame_scores),
            'features': dict(self.features),
            'camera': dict(self.camera) or None,
            'frames_smoothed': self.frames_smoothed,
            'processing_ms': round(self.processing_ms, 2),
        }


@dataclass
class SkyStats:
    """Running figures for health."""

    frames: int = 0
    last_analysis_time: Optional[float] = None
    last_condition: str = '-'
    processing_ms: List[float] = field(default_factory=list)


class SkyClassifier:
    """Classify frames one by one, smoothing over the last few; see the module doc."""

    def __init__(self, config: Optional[SkyConfig] = None, *,
                 region: Optional[Polygon] = None) -> None:
        self.config = config or SkyConfig()
        self._cache = _RegionCache(region or parse_sky_region(DEFAULT_SKY_REGION))
        self._history: Deque[Dict[str, float]] = deque(maxlen=self.config.smoothing_frames)
        self.stats = SkyStats()

    def reset(self) -> None:
        """Forget the smoothing history."""
        self._history.clear()

    def classify(self, image: np.ndarray, *,
                 metadata: Optional[Mapping[str, Any]] = None) -> SkyReading:
        """Classify one BGR frame; metadata (the frame's) may carry camera exposure."""
        start = time.perf_counter()
        features = sky_features(image, config=self.config, _cache=self._cache)
        camera = camera_evidence(metadata)
        frame_scores = sky_scores(features, camera, self.config)
        self._history.append(frame_scores)
        n = len(self._history)
        mean = {label: sum(h[label] for h in self._history) / n for label in SKY_CONDITIONS}
        condition = max(SKY_CONDITIONS, key=lambda label: mean[label])
        elapsed = 1000.0 * (time.perf_counter() - start)
        s = self.stats
        s.frames += 1
        s.last_analysis_time = time.time()
        s.last_condition = condition
        s.processing_ms = (s.processing_ms + [elapsed])[-100:]
        return SkyReading(condition=condition, confidence=float(mean[condition]),
                          scores={k: round(float(v), 4) for k, v in mean.items()},
                          frame_scores=frame_scores, features=features, camera=camera,
                          frames_smoothed=n, processing_ms=elapsed)


def sky_message(reading: SkyReading, *, stamp_sec: int, stamp_nanosec: int,
                frame_id: str) -> Dict[str, Any]:
    """
    Return the ``sky/condition`` JSON object.

    Schema (version 1)::

        schema_version   1
        stamp            {"sec": int, "nanosec": int}: header.stamp of the newest frame used
        frame_id         header.frame_id of that frame
        condition        clear | partly_cloudy | cloudy | night | dawn_dusk
        confidence       share of the smoothed scores that the winning label holds, 0..1
        cloud_cover      estimated cloud share of the visible sky, 0..1 (last frame)
        scores           {label: smoothed score}, summing to 1
        frame_scores     {label: score of the last frame alone}
        features         brightness (mean V 0-255), blue_fraction, cloud_fraction,
                         warm_fraction, contrast (0-1), edge_density, cloud_cover
        camera           {lux, exposure_us, gain} as the camera reported them, or null
        frames_smoothed  how many frames the scores average
        processing_ms    classification time of the last frame
    """
    return {'schema_version': SCHEMA_VERSION,
            'stamp': {'sec': int(stamp_sec), 'nanosec': int(stamp_nanosec)},
            'frame_id': frame_id, **reading.to_dict()}


def sky_health(stats: SkyStats, *, now: float, max_age_s: float) -> Health:
    """STALE before the first frame; WARN when none arrived for 5 x max_age_s (>= 10 s)."""
    times = sorted(stats.processing_ms)
    last = stats.last_analysis_time
    values = {
        'frames_analysed': stats.frames,
        'condition': stats.last_condition,
        'last_frame_age_s': '-' if last is None else round(now - last, 3),
        'processing_median_ms': round(times[len(times) // 2], 2) if times else '-',
    }
    if last is None:
        return Health(Level.STALE, 'no frame analysed yet', values)
    quiet = max(10.0, 5.0 * max_age_s)
    if now - last > quiet:
        return Health(Level.WARN, f'no frame analysed for {now - last:.0f} s', values)
    return Health(Level.OK, f'sky: {stats.last_condition}', values)
