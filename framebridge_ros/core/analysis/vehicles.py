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
Vehicle detection behind one small interface, and the per-frame analysis around it.

Back-ends (``BACKENDS``), each a :class:`Detector`:

``motion``
    Background subtraction (OpenCV MOG2) for a fixed camera at about one frame per
    second; no model needed. See :class:`MotionDetector`.
``dnn``
    A COCO detector (SSD or YOLO style output) run by OpenCV's dnn module on the CPU;
    see :class:`DnnDetector`.
``imx500``
    Boxes the Sony IMX500 computed on the sensor, read from the frame's metadata:
    ``metadata['camera']['imx500_detections']``, a list of
    ``{"box": [x, y, w, h], "score": float, "class": str}`` with the box normalised to
    0..1 of the image (``IMX500_KEY``). See :class:`Imx500Detector`.

:class:`VehicleAnalyzer` runs a detector, keeps detections whose score passes the
weather-adaptive threshold (:func:`adaptive_threshold`), keeps those whose ground point
lies in the road region, tracks them (:mod:`framebridge_ros.core.analysis.tracking`) and counts
line crossings. :meth:`VehicleAnalyzer.analyze` returns plain data that the node turns
into the ``vehicles/detections`` JSON (schema in :func:`detections_message`).
"""

import abc
from collections import deque
from dataclasses import dataclass, field
import logging
import math
from pathlib import Path
import time
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
from framebridge_ros.core.analysis.tracking import (
    appearance, box_iou, LineCrossing, parse_line, Tracker)
from framebridge_ros.core.health import Health, Level
from framebridge_ros.core.params import config_from_params, config_params, ParamSpec
import numpy as np

__all__ = [
    'BACKENDS', 'DEFAULT_ROAD_REGION', 'Detection', 'Detector', 'DetectorError', 'DnnConfig',
    'DnnDetector', 'FrameAnalysis', 'VEHICLE_CLASSES', 'make_detector',
    'IMX500_KEY', 'Imx500Detector', 'MotionConfig', 'MotionDetector', 'SCHEMA_VERSION',
    'THRESHOLD_OFFSETS', 'VehicleAnalyzer', 'adaptive_threshold', 'detections_message',
    'detector_health', 'draw_analysis', 'motion_config', 'motion_params', 'parse_mean',
    'parse_region', 'region_mask',
]

_log = logging.getLogger('framebridge.vehicles')

SCHEMA_VERSION = 1
BACKENDS = ('motion', 'dnn', 'imx500')
IMX500_KEY = 'imx500_detections'
# Whole frame below the top 40 %: a safe default until the user draws the road.
DEFAULT_ROAD_REGION = (0.0, 0.4, 1.0, 0.4, 1.0, 1.0, 0.0, 1.0)

# How far the confidence threshold moves with the sky. Low light and flat overcast
# light lower the contrast between vehicles and road, so every back-end's scores drop
# for the same vehicles; lowering the threshold keeps recall. Clamped to [0.1, 0.9].
THRESHOLD_OFFSETS = {
    'clear': 0.0,
    'partly_cloudy': 0.0,
    'cloudy': -0.05,
    'dawn_dusk': -0.10,
    'night': -0.15,
}
THRESHOLD_LIMITS = (0.1, 0.9)

Polygon = Tuple[Tuple[float, float], ...]
Box = Tuple[int, int, int, int]


def adaptive_threshold(base: float, condition: Optional[str], *,
                       offsets: Mapping[str, float] = THRESHOLD_OFFSETS) -> float:
    """Return the confidence threshold for a sky condition (unknown: no change), clamped."""
    lo, hi = THRESHOLD_LIMITS
    return min(hi, max(lo, float(base) + offsets.get(condition or '', 0.0)))


def parse_region(values: Sequence[float]) -> Polygon:
    """
    Return a polygon ((x, y), ...) of a flat list of normalised x, y pairs.

    Raises ValueError saying what is wrong: fewer than 3 points, an odd count, a
    value outside [0, 1], or no area.
    """
    values = [float(v) for v in values]
    if len(values) < 6 or len(values) % 2:
        raise ValueError(f'road region needs at least 3 x, y pairs (an even count >= 6); '
                         f'got {len(values)} numbers')
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f'road region values must be within [0, 1] (normalised to the '
                         f'image); got {values}')
    points = tuple(zip(values[0::2], values[1::2]))
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                         in zip(points, points[1:] + points[:1])))
    if area <= 0.0:
        raise ValueError('road region has no area')
    return points


def parse_mean(values: Sequence[float]) -> Tuple[float, ...]:
    """Return a dnn input mean of 1 or 3 values in 0..255; ValueError saying what is wrong."""
    mean = tuple(float(v) for v in values)
    if len(mean) not in (1, 3):
        raise ValueError(f'takes 1 value or 3 (one per channel), got {len(mean)}')
    if not all(0.0 <= v <= 255.0 for v in mean):
        raise ValueError(f'values must be within 0..255, got {list(mean)}')
    return mean


def region_mask(polygon: Polygon, *, width: int, height: int) -> np.ndarray:
    """Return a uint8 mask (255 inside) of a normalised polygon at an image size."""
    mask = np.zeros((height, width), np.uint8)
    pts = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon],
                   np.int32)
    cv2.fillPoly(mask, [pts], 255)
    return mask


@dataclass(frozen=True)
class Detection:
    """One detected object: box [x, y, w, h] in pixels of the analysed image."""

    box: Tuple[int, int, int, int]
    score: float
    cls: str = 'vehicle'

    @property
    def ground(self) -> Tuple[float, float]:
        """Bottom centre: where the object touches the road."""
        x, y, w, h = self.box
        return (x + w / 2.0, y + h)


class Detector(abc.ABC):
    """A source of detections for one image stream (back-ends may keep state)."""

    name = 'detector'

    @abc.abstractmethod
    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        """Return the detections in a BGR image; metadata is the frame's, if known."""

    @property
    def ready(self) -> bool:
        """Return False while the back-end cannot yet be trusted (a model still learning)."""
        return True

    @property
    def status(self) -> str:
        """Return one word on the last frame: ok, warming_up, lighting_change, ..."""
        return 'ok'

    def reset(self) -> None:
        """Forget whatever was learned from earlier frames."""


# --------------------------------------------------------------------------- motion


@dataclass(frozen=True)
class MotionConfig:
    """
    Settings of :class:`MotionDetector`; sizes are fractions so they hold at any resolution.

    ``history`` is in frames: at one frame per second, 60 frames let the background
    follow the light of a passing cloud within a minute yet keep a queue of cars that
    waits at a light for half a minute from melting into it. ``var_threshold`` is MOG2's
    squared Mahalanobis distance (16 = 4 standard deviations of each pixel's own noise,
    so it adapts to night-time sensor noise by itself). ``shadow_threshold`` is MOG2's
    tau: a pixel darker than the background by a factor down to tau, with the same
    colour, is a shadow, not an object (0.4 keeps the dark cast shadows of a sunny day).
    """

    process_width: int = 640
    history: int = 60
    var_threshold: float = 16.0
    shadow_threshold: float = 0.5
    min_area_frac: float = 0.0004
    max_area_frac: float = 0.25
    min_aspect: float = 0.25
    max_aspect: float = 8.0
    close_frac: float = 0.012
    merge_gap_frac: float = 0.3
    max_foreground_frac: float = 0.5
    warmup_frames: int = 5
    relearn_rate: float = 0.5
    shadow_grow_frac: float = 0.008
    low_light_level: float = 60.0
    low_light_lux: float = 100.0
    light_ratio: float = 1.25
    beam_height_frac: float = 0.6
    lamp_gap_frac: float = 3.0
    vehicle_max_aspect: float = 4.5
    lamp_level: float = 200.0
    lane_band_frac: float = 0.04
    headlight_lux: float = 1000.0
    background_ratio: float = 0.8
    headlight_background_ratio: float = 0.9
    light_follow_change: float = 0.15
    light_follow_rate: float = 0.07


_MOTION_HELP = {
    'process_width': ('Motion: width in pixels the frame is shrunk to before background '
                      'subtraction (speed, and it averages sensor noise).', 64, 4096),
    'history': ('Motion: frames of background history (60 = one minute at 1 fps).', 2, 10000),
    'var_threshold': ('Motion: MOG2 squared Mahalanobis distance of a changed pixel '
                      '(16 = 4 sigma of its own noise).', 1.0, 1000.0),
    'shadow_threshold': ('Motion: MOG2 tau; a pixel darker by down to this factor with '
                         'the same colour is shadow, not object.', 0.0, 1.0),
    'min_area_frac': ('Motion: smallest box, as a fraction of the frame area.', 0.0, 1.0),
    'max_area_frac': ('Motion: largest box, as a fraction of the frame area.', 0.0, 1.0),
    'min_aspect': ('Motion: smallest box width/height.', 0.01, 100.0),
    'max_aspect': ('Motion: largest box width/height.', 0.01, 100.0),
    'close_frac': ('Motion: closing kernel (joins fragments), fraction of the width.',
                   0.0, 0.2),
    'merge_gap_frac': ('Motion: side-by-side fragments closer than this fraction of their '
                       'height are one object.', 0.0, 5.0),
    'max_foreground_frac': ('Motion: more of the road changing at once is a light change; '
                            'the frame is skipped.', 0.05, 1.0),
    'warmup_frames': ('Motion: frames that only teach the background model.', 0, 1000),
    'relearn_rate': ('Motion: learning rate after a light change.', 0.0, 1.0),
    'shadow_grow_frac': ('Motion: how far (fraction of the width) an object grows into '
                         'shadow-marked pixels (dark tyres, black trim).', 0.0, 0.1),
    'low_light_level': ('Motion: median grey level of the road background below which the '
                        'scene is in low light and light beams are cut off (0 = never), '
                        'when the metadata has no camera Lux.',
                        0.0, 255.0),
    'low_light_lux': ('Motion: camera Lux (frame metadata) below which the scene is in '
                      'low light; when the metadata has Lux it decides, not the pixels.',
                      0.0, 1e6),
    'light_ratio': ('Motion: in low light, a pixel this many times brighter than the '
                    'background is lit by a lamp or beam, not a body.', 1.0, 100.0),
    'beam_height_frac': ('Motion: in low light, end columns of a blob that are lit and '
                         'lower than this fraction of its tallest column are a beam on the '
                         'road and are cut off.', 0.0, 1.0),
    'lamp_gap_frac': ('Motion: in low light, two blobs on the same rows closer than this '
                      'fraction of the height of the taller are the lamps of one vehicle '
                      '(0 = never paired).', 0.0, 20.0),
    'vehicle_max_aspect': ('Motion: in low light, lamp blobs are paired only when their '
                           'union is no longer than this many times its height (a '
                           'side view of a vehicle).', 0.1, 100.0),
    'lamp_level': ('Motion: in low light, HSV value (brightness) of a lamp core in a moving '
                   'blob; red cores are tail lamps, others head lamps (0 = no lamp '
                   'cores: pairing by distance only).', 0.0, 255.0),
    'lane_band_frac': ('Motion: in low light, half height (fraction of the frame height) '
                       'of the band of rows around a lamp that shares one travel '
                       'direction and vehicle size (one lane).', 0.0, 0.5),
    'headlight_lux': ('Motion: camera Lux below which vehicles drive with headlights on '
                      '(auto headlights switch on near 1000 lux): lamp cores are found, '
                      'lanes learn their direction and boxes end at their lamps. Without '
                      'Lux this follows low light.', 0.0, 1e6),
    'background_ratio': ('Motion: MOG2 background ratio by day: the share of time a '
                         'pixel must show a colour for it to be background. Heavy '
                         'traffic covers a lane 20-30 % of the time, so the OpenCV default (0.9) '
                         'would learn the commonest car paint as road.', 0.1, 1.0),
    'headlight_background_ratio': ('Motion: MOG2 background ratio with headlights on: '
                                   'beams sweep the road often in heavy traffic and are '
                                   'kept in the background (the OpenCV default).', 0.1, 1.0),
    'light_follow_change': ('Motion: relative change of the camera Lux from one frame to '
                            'the next that means the light itself changed (a cloud, '
                            'street lamps, dusk).', 0.0, 100.0),
    'light_follow_rate': ('Motion: MOG2 learning rate for a frame after such a light '
                          'change, so the background follows the light.', 0.0, 1.0),
}


def motion_params() -> Tuple[ParamSpec, ...]:
    """Return one ParamSpec per MotionConfig field, with its default and limits."""
    return config_params(MotionConfig, _MOTION_HELP)


def motion_config(values: Mapping[str, Any]) -> MotionConfig:
    """Return a MotionConfig of the matching keys of values (others are ignored)."""
    return config_from_params(MotionConfig, values)


class MotionDetector(Detector):
    """
    Moving objects by background subtraction, for a fixed camera.

    Per frame: shrink to ``process_width`` (INTER_AREA also averages sensor noise),
    MOG2 with shadow detection, keep only certain foreground (MOG2 marks shadows 127),
    remove speckle with a 3x3 median (unlike an opening it keeps the thin parts of a
    motorcycle), grow the foreground up to ``shadow_grow_frac`` of the width into
    shadow-marked pixels (MOG2 calls dark grey tyres and trim "shadow": same colour,
    darker; a real cast shadow reaches further than that and stays out), close with a
    kernel of ``close_frac`` of the width to join the fragments of a vehicle whose paint
    matches the road, then take external contours. Boxes are filtered by area
    (fractions of the frame) and aspect (width / height), side-by-side fragments of one
    object (same rows, a gap of less than ``merge_gap_frac`` of their height) are
    merged, and the boxes are scaled back to the input size. The score is the fraction
    of the box that is foreground: a vehicle is a solid blob, noise and swaying leaves
    are not. With headlights on (camera Lux below ``headlight_lux``, else a dark road
    in the background model) a headlight beam, flat and brighter than the road by a
    factor, is cut off the ends of each blob (:func:`_cut_beams`), lamp cores teach each
    lane its travel direction, and blobs are trimmed to their end lamps
    (:func:`_trim_to_lamps`). In low light blobs that are mostly lamp light are also
    paired into one vehicle box (:func:`_pair_lamps`): at night a body is hardly
    different from the road and only its head and tail lamps show.

    MOG2's background ratio is ``background_ratio`` by day (heavy traffic must not
    teach car paint as road) and ``headlight_background_ratio`` with headlights on.
    When the camera's Lux changes by more than ``light_follow_change`` between frames
    the model learns that frame at ``light_follow_rate``; when more than
    ``max_foreground_frac`` of the road region changes at once the light changed (a
    cloud, auto-exposure, street lamps switching on), not the traffic: the frame yields
    nothing and the model relearns at ``relearn_rate``. The first ``warmup_frames``
    frames only teach the model.
    """

    name = 'motion'

    def __init__(self, config: Optional[MotionConfig] = None, *,
                 region: Optional[Polygon] = None) -> None:
        self.config = config or MotionConfig()
        self._region = region or parse_region(DEFAULT_ROAD_REGION)
        self._shape: Optional[Tuple[int, int]] = None
        self._mask: Optional[np.ndarray] = None
        self._frames = 0
        self._status = 'warming_up'
        self._subtractor = None
        self._lanes: Optional[_LaneMemory] = None
        self.low_light = False
        self.headlights = False
        self.reset()

    def reset(self) -> None:
        c = self.config
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=c.history, varThreshold=c.var_threshold, detectShadows=True)
        self._subtractor.setShadowThreshold(c.shadow_threshold)
        self._frames = 0
        self._status = 'warming_up'
        self._lanes = None
        self._last_lux = None
        self.low_light = self.headlights = False

    @property
    def ready(self) -> bool:
        return self._frames > self.config.warmup_frames

    @property
    def status(self) -> str:
        return self._status

    def _prepare(self, image: np.ndarray) -> Tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        scale = min(1.0, self.config.process_width / w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = image if scale == 1.0 else cv2.resize(image, size,
                                                      interpolation=cv2.INTER_AREA)
        if self._shape != (h, w):
            if self._shape is not None:
                _log.info('image size changed to %dx%d: background relearned', w, h)
                self.reset()
            self._shape = (h, w)
            self._mask = region_mask(self._region, width=size[0], height=size[1])
        return small, scale

    def _light_regime(self, metadata: Optional[Mapping[str, Any]]) -> Optional[float]:
        """
        Decide low light and headlights for this frame; return the camera Lux, if any.

        The camera's own light measure decides when the metadata has it (``Lux`` below
        ``low_light_lux`` / ``headlight_lux``: auto-exposure makes a dark road look
        grey), else the background model, not the frame: a median grey level of the
        road below ``low_light_level`` (a passing bus's lamps cannot flip it), and then
        headlights are on exactly in low light.
        """
        c = self.config
        lux = _camera_lux(metadata)
        if lux is not None:
            self.low_light = lux < c.low_light_lux
            self.headlights = lux < c.headlight_lux
            return lux
        background = self._subtractor.getBackgroundImage()
        if background is not None and background.shape[:2] == self._mask.shape[:2]:
            road = cv2.cvtColor(background, cv2.COLOR_BGR2GRAY)[self._mask > 0]
            self.low_light = bool(road.size) and float(np.median(road)) < c.low_light_level
        self.headlights = self.low_light
        return None

    def _light_mask(self, small: np.ndarray) -> Optional[np.ndarray]:
        """
        Return the pixels lit by lamps or beams with headlights on, else None.

        Light adds to what is there, so a lit pixel is a multiple of its background
        level (``light_ratio``: a dipped beam at dusk lights the road by about 1.4x,
        at night by several times), plus 8 levels so that the noise of a black road
        is not a multiple of anything. A body is lit by the same ambient light as the
        road, so its paint is not brighter by such a factor unless it is white.
        """
        c = self.config
        background = self._subtractor.getBackgroundImage()
        if background is None or background.shape[:2] != small.shape[:2]:
            return None
        bg = cv2.cvtColor(background, cv2.COLOR_BGR2GRAY)
        if not self.headlights:
            return None
        grey = cv2.blur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3))
        floor = cv2.blur(bg, (3, 3)).astype(np.float32) * c.light_ratio + 8.0
        return (grey.astype(np.float32) > floor).astype(np.uint8) * 255

    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        c = self.config
        small, scale = self._prepare(image if image.ndim == 3 else
                                     cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
        lux = self._light_regime(metadata)
        self._subtractor.setBackgroundRatio(
            c.headlight_background_ratio if self.headlights else c.background_ratio)
        rate = -1.0  # OpenCV's 1 / history
        if lux is not None and self._last_lux is not None \
                and abs(math.log(lux / self._last_lux)) > math.log1p(c.light_follow_change):
            rate = c.light_follow_rate
            _log.debug('camera Lux %.0f -> %.0f: background follows at rate %.2f',
                       self._last_lux, lux, rate)
        self._last_lux = lux
        fg = self._subtractor.apply(small, learningRate=rate)
        self._frames += 1
        if not self.ready:
            self._status = 'warming_up'
            return []
        shadow = cv2.inRange(fg, 100, 150)  # MOG2 marks shadows 127
        _, fg = cv2.threshold(fg, 200, 255, cv2.THRESH_BINARY)
        region_px = max(1, cv2.countNonZero(self._mask))
        changed = cv2.countNonZero(cv2.bitwise_and(fg, self._mask)) / region_px
        if changed > c.max_foreground_frac:
            self._subtractor.apply(small, learningRate=c.relearn_rate)
            self._status = 'lighting_change'
            _log.debug('%.0f %% of the road changed: light change, frame skipped',
                       100 * changed)
            return []
        self._status = 'ok'
        sh, sw = fg.shape
        k = max(3, int(round(c.close_frac * sw)) | 1)
        fg = cv2.medianBlur(fg, 3)
        fg = _grow_into(fg, shadow, steps=int(round(c.shadow_grow_frac * sw)))
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        light = self._light_mask(small)
        cores: List[_Lamp] = []
        if light is not None:
            if c.lamp_level > 0.0:
                # A vehicle's lamps are over the road; the sky at dusk is bright too.
                cores = _find_lamps(small, cv2.bitwise_and(fg, self._mask),
                                    level=c.lamp_level)
                if self._lanes is None:
                    self._lanes = _LaneMemory(sh, half_band=c.lane_band_frac * sh)
                for core in cores:
                    if not core.tail:
                        self._lanes.vote(core.y + core.h / 2.0, _beam_side(light, core))
            fg = _cut_beams(fg, light, height_frac=c.beam_height_frac)
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = _merge_fragments([cv2.boundingRect(cnt) for cnt in contours],
                                 c.merge_gap_frac)
        lanes = self._lanes if cores else None
        if lanes is not None:
            _vote_by_lamp_pairs(lanes, boxes, cores)
            boxes = _split_at_lamps(boxes, cores, fg, lanes.direction)
        # In low light the lamps of one vehicle are paired; a pair is scored on its
        # parts, the dark body between them is not foreground.
        # Only blobs that are mostly lamp light are paired: at dusk a body is seen and
        # two bodies in a queue must stay two.
        lamps = [self.low_light and light is not None and 2 * cv2.countNonZero(cv2.bitwise_and(
            fg[y:y + h, x:x + w], light[y:y + h, x:x + w]))
            >= cv2.countNonZero(fg[y:y + h, x:x + w]) for x, y, w, h in boxes]
        kinds = [_lamp_kind(box, cores) for box in boxes]
        grouped = _pair_lamps(boxes, lamps, gap_frac=c.lamp_gap_frac,
                              max_aspect=c.vehicle_max_aspect, kinds=kinds,
                              direction=None if lanes is None else lanes.direction)
        if lanes is not None:
            grouped = _extend_lone_lamps(grouped, boxes, kinds, lamps, cores, lanes, sw)
        if cores:
            grouped = _drop_lone_beams(grouped, boxes, kinds, lamps,
                                       max_aspect=c.vehicle_max_aspect)
        frame_area = float(sw * sh)
        detections = []
        for (x, y, w, h), parts in grouped:
            area = w * h
            if not (c.min_area_frac * frame_area <= area <= c.max_area_frac * frame_area):
                continue
            if not (c.min_aspect <= w / h <= c.max_aspect):
                continue
            gx, gy = min(sw - 1, x + w // 2), min(sh - 1, y + h - 1)
            if not self._mask[gy, gx]:
                continue
            fill = (sum(cv2.countNonZero(fg[py:py + ph, px:px + pw])
                        for px, py, pw, ph in parts)
                    / float(sum(pw * ph for _, _, pw, ph in parts)))
            inv = 1.0 / scale
            detections.append(Detection(
                box=(int(round(x * inv)), int(round(y * inv)), int(round(w * inv)),
                     int(round(h * inv))),
                score=round(min(1.0, fill), 3)))
        return detections


def _camera_lux(metadata: Optional[Mapping[str, Any]]) -> Optional[float]:
    """Return metadata['camera']['Lux'] when it is a positive finite number, else None."""
    # core.sky.camera_evidence reads the same key, but sky imports this module.
    camera = (metadata or {}).get('camera')
    value = camera.get('Lux') if isinstance(camera, Mapping) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _cut_beams(fg: np.ndarray, light: np.ndarray, *, height_frac: float) -> np.ndarray:
    """
    Return fg without the light beams at the ends of its blobs.

    A headlight beam lies on the road: lit (``light``) and flat. Per blob, columns at
    either end whose foreground is mostly lit and lower than ``height_frac`` of the
    blob's tallest column are cut off, up to the first column that is tall or unlit:
    the body. A blob that is lit and flat throughout (a beam on its own) has nothing
    taller than itself, so it is kept unless it is lit throughout and flat (wider than
    twice its height).
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    out = fg.copy()
    for i in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[i])
        comp = labels[y:y + h, x:x + w] == i
        heights = comp.sum(axis=0)
        tall = np.flatnonzero(heights >= height_frac * heights.max())
        lit = comp & (light[y:y + h, x:x + w] > 0)
        cut = np.zeros(w, bool)
        for run in (slice(0, tall[0]), slice(tall[-1] + 1, w)):
            # The flat run beyond the body is cut when it is mostly light.
            if 2 * lit[:, run].sum() >= heights[run].sum() > 0:
                cut[run] = True
        if cut.any():
            out[y:y + h, x:x + w][comp & cut[None, :]] = 0
    return out


@dataclass(frozen=True)
class _Lamp:
    """A lamp core in the analysed image: its bounding box, and red (a tail lamp) or not."""

    x: int
    y: int
    w: int
    h: int
    tail: bool

    @property
    def cx(self) -> float:
        return self.x + self.w / 2.0

    @property
    def cy(self) -> float:
        return self.y + self.h / 2.0


# Broad hue bands (OpenCV hue 0..179): red wraps around 0. A tail lamp is red and
# saturated; a head lamp is white, or warm (halogen yellow) with little saturation.
_RED_HUE = (10, 170)
_RED_SATURATION = 90


def _find_lamps(small: np.ndarray, fg: np.ndarray, *, level: float) -> List[_Lamp]:
    """
    Return the lamp cores of the moving blobs: small spots brighter than level.

    A lamp is a light source, so its core is near the top of the camera's range even
    when the body around it is dark. Spots wider or taller than 3 % of the width are
    a lit body (a white van at dusk), not a lamp. A core is a tail lamp when most of
    its pixels are in the red hue band and saturated.
    """
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    core = cv2.bitwise_and(cv2.inRange(hsv[:, :, 2], int(math.ceil(level)), 255), fg)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    biggest = max(2, 0.03 * fg.shape[1])
    lamps = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < 2 or max(w, h) > biggest:
            continue
        pixels = hsv[y:y + h, x:x + w][labels[y:y + h, x:x + w] == i]
        hue, sat = pixels[:, 0], pixels[:, 1]
        red = ((hue <= _RED_HUE[0]) | (hue >= _RED_HUE[1])) & (sat >= _RED_SATURATION)
        lamps.append(_Lamp(x, y, w, h, tail=2 * int(red.sum()) > len(pixels)))
    return lamps


def _beam_side(light: np.ndarray, lamp: _Lamp) -> int:
    """
    Return the side a head lamp shines to: +1 right, -1 left, 0 unclear.

    A head lamp lights the road ahead of the vehicle, below and beyond the lamp; behind
    it is the vehicle's own dark body. The lit fraction of a window below the lamp on
    each side decides, when one side has at least twice the other's.
    """
    size = max(lamp.w, lamp.h)
    height, width = light.shape[:2]
    y0, y1 = lamp.y + lamp.h, min(height, lamp.y + lamp.h + 3 * size)
    reach = 5 * size
    right = light[y0:y1, min(width, lamp.x + lamp.w + size):lamp.x + lamp.w + size + reach]
    left = light[y0:y1, max(0, lamp.x - size - reach):max(0, lamp.x - size)]
    if y1 <= y0 or min(right.shape[1], left.shape[1]) < reach // 2:
        return 0
    r = cv2.countNonZero(right) / float(right.size)
    lf = cv2.countNonZero(left) / float(left.size)
    if r > 2.0 * lf + 0.05:
        return 1
    if lf > 2.0 * r + 0.05:
        return -1
    return 0


class _LaneMemory:
    """
    Travel direction and vehicle size per row band of the image (one lane), learned.

    A lane's traffic goes one way and its vehicles have similar sizes, so evidence from
    one vehicle holds for the rows around it (``half_band`` rows either side).
    Direction votes are capped so that the lane can change its mind (a camera turned);
    sizes are the median of the last pairs seen in the band (a bus among cars, or a
    wrong pair, does not set the size).
    """

    def __init__(self, rows: int, *, half_band: float) -> None:
        self.votes = np.zeros(rows, np.float32)
        self.half = max(1, int(round(half_band)))
        self._sizes: Deque[Tuple[float, float, float, float]] = deque(maxlen=60)

    def vote(self, row: float, sign: int) -> None:
        if sign:
            r = int(round(row))
            band = slice(max(0, r - self.half), max(0, r + self.half + 1))
            self.votes[band] = np.clip(self.votes[band] + sign, -10.0, 10.0)

    def direction(self, row: float) -> int:
        """Return +1 (left to right), -1 or 0 (not known yet) at an image row."""
        v = float(self.votes[min(len(self.votes) - 1, max(0, int(round(row))))])
        return 0 if abs(v) < 2.0 else (1 if v > 0 else -1)

    def learn_size(self, row: float, length: float, height: float, drop: float) -> None:
        """Remember a vehicle's length, height and drop from lamp row to ground."""
        self._sizes.append((row, length, height, drop))

    def size_at(self, row: float) -> Optional[Tuple[float, float, float]]:
        """Return the median (length, height, drop) near row, or None before 3 pairs."""
        near = [s[1:] for s in self._sizes if abs(s[0] - row) <= self.half]
        if len(near) < 3:
            return None
        length, height, drop = (float(v) for v in np.median(np.array(near), axis=0))
        return length, height, drop


def _vote_by_lamp_pairs(lanes: '_LaneMemory', boxes: Sequence[Box],
                        lamps: Sequence[_Lamp]) -> None:
    """
    Vote each blob's travel direction when it shows one tail and one head lamp.

    A vehicle drives towards its head lamp: the red lamp at one end and the white one
    at the other give the direction even where the beam is too faint to tell. In a
    queue the head lamp of one vehicle and the tail lamp of the next can share a blob
    the other way round; they are only a gap apart, while a vehicle's own lamps are at
    least twice the blob's height apart (a side view is long), so only those vote.
    """
    for box in boxes:
        inside = _lamps_in(box, lamps)
        tails = [lamp for lamp in inside if lamp.tail]
        heads = [lamp for lamp in inside if not lamp.tail]
        if len(tails) == 1 and len(heads) == 1:
            tail, head = tails[0], heads[0]
            if abs(head.cy - tail.cy) <= max(head.h, tail.h, 2) \
                    and abs(head.cx - tail.cx) >= 2.0 * box[3]:
                lanes.vote((head.cy + tail.cy) / 2.0, 1 if head.cx > tail.cx else -1)


def _lamps_in(box: Box, lamps: Sequence[_Lamp]) -> List[_Lamp]:
    """Return the lamp cores whose centre lies in box."""
    x, y, w, h = box
    return [lamp for lamp in lamps
            if x <= lamp.cx < x + w and y <= lamp.y + lamp.h / 2.0 < y + h]


def _lamp_kind(box: Box, lamps: Sequence[_Lamp]) -> str:
    """Return 'head', 'tail', 'both' or '' for the lamp cores whose centre is in box."""
    inside = {lamp.tail for lamp in _lamps_in(box, lamps)}
    if len(inside) == 2:
        return 'both'
    return ('tail' if True in inside else 'head') if inside else ''


def _split_at_lamps(boxes: List[Box], lamps: Sequence[_Lamp], fg: np.ndarray,
                    direction) -> List[Box]:
    """
    Return boxes with each blob that holds the lamps of two vehicles cut in two.

    Along the travel direction of its lane (``direction(row)``: +1 right, -1 left,
    0 unknown) a vehicle shows its tail lamp first and its head lamp last. In a queue
    the rear vehicle's head lamp and beam join the front vehicle's tail into one blob:
    a tail lamp after any lamp, or any lamp after a head lamp, starts another vehicle.
    The cut is just behind that tail lamp, or just ahead of that head lamp; each piece
    is shrunk to its foreground and trimmed to its end lamps (:func:`_trim_to_lamps`).
    """
    out = []
    for box in boxes:
        x, y, w, h = box
        d = direction(y + h / 2.0)
        inside = _lamps_in(box, lamps)
        if d == 0 or len(inside) < 2:
            out.append(box)
            continue
        ordered = sorted(inside, key=lambda lamp: d * lamp.cx)  # rear to front
        cuts = []
        for rear, front in zip(ordered, ordered[1:]):
            gap = abs(front.cx - rear.cx) - (front.w + rear.w) / 2.0
            if gap <= max(front.w, front.h, rear.w, rear.h):
                continue  # one lamp seen as two spots
            if front.tail:
                cuts.append(front.x if d > 0 else front.x + front.w)
            elif not rear.tail:
                cuts.append(rear.x + rear.w if d > 0 else rear.x)
        if not cuts:
            out.append(box)
            continue
        edges = [x] + sorted(min(x + w, max(x, cut)) for cut in cuts) + [x + w]
        for a, b in zip(edges, edges[1:]):
            if b - a < 2:
                continue
            px, py, pw, ph = cv2.boundingRect(fg[y:y + h, a:b])
            if pw and ph:
                out.append((a + px, y + py, pw, ph))
    return sorted(_trim_to_lamps(box, lamps, fg, direction) for box in out)


def _trim_to_lamps(box: Box, lamps: Sequence[_Lamp], fg: np.ndarray, direction) -> Box:
    """
    Return box without what lies ahead of its front head lamp or behind its rear tail lamp.

    Seen from the side, a vehicle's head lamp is at its front and its tail lamp at its
    back; beyond them is the beam on the road or the glow of the lamp, not the body.
    The piece kept is shrunk to its foreground, so a beam lying below the body goes too.
    """
    x, y, w, h = box
    d = direction(y + h / 2.0)
    inside = _lamps_in(box, lamps)
    if d == 0 or not inside:
        return box
    ordered = sorted(inside, key=lambda lamp: d * lamp.cx)  # rear to front
    a, b = x, x + w
    front, rear = ordered[-1], ordered[0]
    if not front.tail:
        if d > 0:
            b = min(b, front.x + front.w)
        else:
            a = max(a, front.x)
    if rear.tail:
        if d > 0:
            a = max(a, rear.x)
        else:
            b = min(b, rear.x + rear.w)
    if (a, b) == (x, x + w) or b - a < 2:
        return box
    px, py, pw, ph = cv2.boundingRect(fg[y:y + h, a:b])
    return (a + px, y + py, pw, ph) if pw and ph else box


def _pair_lamps(boxes: List[Box], lamps: Sequence[bool], *, gap_frac: float,
                max_aspect: float, kinds: Optional[Sequence[str]] = None,
                direction=None) -> List[Tuple[Box, Tuple[Box, ...]]]:
    """
    Return (box, parts) with the lamp blobs of one vehicle joined, two at a time.

    At night a body barely differs from the dark road, so a vehicle shows as its lamps
    (``lamps[i]``: blob i is mostly lit, see :meth:`MotionDetector._light_mask`):
    a head-lamp blob at one end, a tail-lamp blob at the other, at the same height on
    the body. Two blobs are one vehicle when their centre rows agree within half the
    taller blob, the horizontal gap is below ``gap_frac`` of the taller blob's height
    and their union is no longer than ``max_aspect`` times its height (no vehicle's
    side view is longer). When the lamp cores are known (``kinds[i]``: 'head', 'tail',
    'both' or ''), a vehicle's tail lamp is behind its head lamp: with the lane's
    travel direction known (``direction(row)``: +1 right, -1 left, 0 unknown) the rear
    blob must not be a head lamp alone nor the front blob a tail lamp alone; without
    it two head lamps or two tail lamps are not one vehicle, and where lamp cores are
    seen at all, two blobs without one are not a vehicle either. A blob with only a
    tail lamp behind one with only a head lamp are the two ends of one vehicle even
    when its body between them shows (a dark truck under a street lamp), so that pair
    needs no lit majority. Pairs are taken closest
    first and each blob joins at most one pair: a queue of vehicles is not chained
    into one box.
    """
    if gap_frac <= 0.0 or len(boxes) < 2:
        return [(b, (b,)) for b in boxes]
    kinds = kinds or [''] * len(boxes)
    cores_seen = any(kinds)
    candidates = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            ends = _tail_then_head(a, b, kinds[i], kinds[j], direction)
            if not (lamps[i] and lamps[j]) and not ends:
                continue
            if cores_seen and not (kinds[i] or kinds[j]):
                continue  # two patches of light with no lamp in either: a beam in pieces
            tall = max(a[3], b[3])
            if abs((a[1] + a[3] / 2.0) - (b[1] + b[3] / 2.0)) > 0.5 * tall:
                continue
            gap = max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])
            x0, y0 = min(a[0], b[0]), min(a[1], b[1])
            x1 = max(a[0] + a[2], b[0] + b[2])
            y1 = max(a[1] + a[3], b[1] + b[3])
            if gap > gap_frac * tall or x1 - x0 > max_aspect * (y1 - y0):
                continue
            d = direction((y0 + y1) / 2.0) if direction is not None else 0
            left, right = (i, j) if a[0] + a[2] / 2.0 <= b[0] + b[2] / 2.0 else (j, i)
            if d:
                rear, front = (left, right) if d > 0 else (right, left)
                if kinds[rear] == 'head' or kinds[front] == 'tail':
                    continue
            elif kinds[i] == kinds[j] and kinds[i] in ('head', 'tail'):
                continue
            candidates.append((gap, i, j, (x0, y0, x1 - x0, y1 - y0)))
    used = set()
    out = []
    for _, i, j, union in sorted(candidates):
        if i not in used and j not in used:
            used.update((i, j))
            out.append((union, (boxes[i], boxes[j])))
    return sorted(out + [(b, (b,)) for k, b in enumerate(boxes) if k not in used])


def _tail_then_head(a: Box, b: Box, kind_a: str, kind_b: str, direction) -> bool:
    """Return True when a and b are a tail-lamp-only blob behind a head-lamp-only one."""
    if direction is None or {kind_a, kind_b} != {'head', 'tail'}:
        return False
    d = direction((min(a[1], b[1]) + max(a[1] + a[3], b[1] + b[3])) / 2.0)
    head_right = (a[0] + a[2] / 2.0 > b[0] + b[2] / 2.0) == (kind_a == 'head')
    return d != 0 and head_right == (d > 0)


def _blob_flags(boxes: Sequence[Box], kinds: Sequence[str],
                lamps: Sequence[bool]) -> Dict[Box, Tuple[str, bool]]:
    """Return each blob's (lamp kind, mostly lamp light), looked up by its box."""
    return {box: (kind, lamp) for box, kind, lamp in zip(boxes, kinds, lamps)}


def _extend_lone_lamps(grouped: List[Tuple[Box, Tuple[Box, ...]]], boxes: Sequence[Box],
                       kinds: Sequence[str], lamps: Sequence[bool], cores: Sequence[_Lamp],
                       lanes: _LaneMemory,
                       width: int) -> List[Tuple[Box, Tuple[Box, ...]]]:
    """
    Return grouped with a lone head or tail lamp blob grown to its lane's vehicle size.

    Pairs of a tail blob behind a head blob teach the lane band its vehicle length,
    height and the drop from the lamps' row to the ground. A lamp blob left alone (its
    partner too dim to be foreground) is the front (head) or back (tail) of such a
    vehicle: the box reaches back from a head lamp, or forward from a tail lamp, by the
    learned length, with the learned height standing on the learned ground row below
    the lamp (a blob's own height includes glow and beam, the lamp row does not).
    """
    kind_of = _blob_flags(boxes, kinds, lamps)

    def lamp_row(box: Box) -> Optional[float]:
        inside = _lamps_in(box, cores)
        return (sum(c.y + c.h / 2.0 for c in inside) / len(inside)) if inside else None

    for (x, y, w, h), parts in grouped:
        if len(parts) != 2:
            continue
        d = lanes.direction(y + h / 2.0)
        rear, front = sorted(parts, key=lambda p: d * (p[0] + p[2] / 2.0))
        rows = [lamp_row(p) for p in parts]
        if d and kind_of[rear][0] == 'tail' and kind_of[front][0] == 'head' \
                and None not in rows:
            row = sum(rows) / 2.0
            lanes.learn_size(row, w, h, y + h - row)
    out = []
    for box, parts in grouped:
        x, y, w, h = box
        kind, lamp = kind_of.get(box, ('', False))
        row = lamp_row(box)
        d = lanes.direction(y + h / 2.0)
        size = None if row is None else lanes.size_at(row)
        if len(parts) != 1 or not lamp or kind not in ('head', 'tail') or not d \
                or size is None or size[0] <= w:
            out.append((box, parts))
            continue
        length, height, drop = size
        if (kind == 'head') == (d > 0):
            x0, x1 = x + w - length, x + w  # the body lies to the left of the lamp
        else:
            x0, x1 = x, x + length
        y1 = row + drop
        x0, x1 = max(0.0, x0), min(float(width), x1)
        grown = (int(round(x0)), int(round(y1 - height)), int(round(x1 - x0)),
                 int(round(height)))
        # A vehicle whose two lamps were both left alone grows the same box twice.
        if not any(box_iou(grown, other) > 0.7 for other, _ in out):
            out.append((grown, parts))
    return out


def _drop_lone_beams(grouped: List[Tuple[Box, Tuple[Box, ...]]], boxes: Sequence[Box],
                     kinds: Sequence[str], lamps: Sequence[bool], *,
                     max_aspect: float) -> List[Tuple[Box, Tuple[Box, ...]]]:
    """
    Return grouped without lit, flat blobs that hold no lamp and joined no vehicle.

    With headlights on every vehicle shows a lamp. A blob with no lamp core in it, left
    alone by the pairing, is not a vehicle when it is a flat patch of light (wider
    than twice its height and mostly lit: a beam cut off its vehicle, a reflection)
    or flatter than any vehicle's side view (wider than ``max_aspect`` times its
    height: a beam at dusk, too faint to count as lit).
    """
    flags = _blob_flags(boxes, kinds, lamps)
    out = []
    for box, parts in grouped:
        # A box grown from a lone lamp (_extend_lone_lamps) keeps its blob's flags.
        kind, lamp = flags.get(parts[0], ('', False))
        flat = box[2] > (2.0 if lamp else max_aspect) * box[3]
        if len(parts) == 1 and not kind and flat:
            continue
        out.append((box, parts))
    return out


def _grow_into(seeds: np.ndarray, allowed: np.ndarray, *, steps: int) -> np.ndarray:
    """Grow seeds by up to steps pixels, only through allowed pixels (geodesic dilation)."""
    if steps <= 0:
        return seeds
    allowed = cv2.bitwise_or(allowed, seeds)
    kernel = np.ones((3, 3), np.uint8)
    grown = seeds
    for _ in range(steps):
        grown = cv2.bitwise_and(cv2.dilate(grown, kernel), allowed)
    return grown


def _merge_fragments(boxes: List[Tuple[int, int, int, int]],
                     gap_frac: float) -> List[Tuple[int, int, int, int]]:
    """Merge boxes that share most of their rows and are closer than gap_frac of height."""
    boxes = sorted(boxes)
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        out: List[Tuple[int, int, int, int]] = []
        for box in boxes:
            for i, other in enumerate(out):
                if _same_object(box, other, gap_frac):
                    x0, y0 = min(box[0], other[0]), min(box[1], other[1])
                    x1 = max(box[0] + box[2], other[0] + other[2])
                    y1 = max(box[1] + box[3], other[1] + other[3])
                    out[i] = (x0, y0, x1 - x0, y1 - y0)
                    merged = True
                    break
            else:
                out.append(box)
        boxes = sorted(out)
    return boxes


def _same_object(a, b, gap_frac: float) -> bool:
    overlap_y = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if overlap_y < 0.6 * min(a[3], b[3]):
        return False
    gap_x = max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])
    return gap_x <= gap_frac * max(a[3], b[3])


# --------------------------------------------------------------------------- dnn

# COCO class names by the 0-based index of the 80 contiguous classes (YOLO, ONNX
# exports) and by the 1-based ids with gaps of the 90-id TensorFlow/Caffe SSD models.
_COCO80 = {0: 'person', 1: 'bicycle', 2: 'car', 3: 'motorcycle', 5: 'bus', 7: 'truck'}
_COCO90 = {1: 'person', 2: 'bicycle', 3: 'car', 4: 'motorcycle', 6: 'bus', 8: 'truck'}
_COCO_CLASSES = 80
VEHICLE_CLASSES = ('car', 'motorcycle', 'bus', 'truck')


class DetectorError(RuntimeError):
    """A back-end cannot start: a missing or unreadable model, a bad setting."""


@dataclass(frozen=True)
class DnnConfig:
    """
    Settings of :class:`DnnDetector`.

    ``input_size`` is the network's square input; ``scale`` / ``mean`` / ``swap_rb``
    the blob preprocessing (defaults fit TensorFlow SSD-MobileNet graphs; a YOLO ONNX
    export wants scale 1/255 and mean 0; Caffe SSDs want a per-channel BGR mean).
    ``mean`` is one value for every channel or three, in the blob's channel order.
    ``labels`` name the network's class ids in order (id 0 first) for a model not
    trained on COCO; empty means COCO ids. ``classes`` are the names kept.
    """

    model_path: str
    config_path: str = ''
    input_size: int = 300
    scale: float = 1.0 / 127.5
    mean: Tuple[float, ...] = (127.5,)
    swap_rb: bool = True
    confidence: float = 0.5
    nms_threshold: float = 0.4
    classes: Tuple[str, ...] = VEHICLE_CLASSES
    labels: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a mean that is neither one value nor one per channel."""
        if len(self.mean) not in (1, 3):
            raise ValueError(f'dnn mean takes 1 or 3 values, got {len(self.mean)}')


class DnnDetector(Detector):
    """
    A COCO object detector run with OpenCV's dnn module (CPU), for any camera.

    Reads what ``cv2.dnn.readNet`` reads (TensorFlow .pb + .pbtxt, Caffe, Darknet,
    ONNX). Two output layouts are understood:

    - SSD style: a DetectionOutput blob ``[1, 1, N, 7]`` of
      ``(image, class_id, score, x0, y0, x1, y1)`` normalised; class ids are the 90-id
      COCO ids (1 = person, 3 = car);
    - YOLO style: ``[1, N, 5 + C]`` (v5: centre x, y, w, h, objectness, class scores)
      or ``[1, 4 + C, N]`` (v8: no objectness, transposed), in input pixels; class
      ids are the 80 contiguous COCO indices (0 = person, 2 = car).

    With ``labels`` set, class ids index that list instead of COCO's (and C is its
    length), so a model trained on its own classes works too.

    Boxes below ``confidence`` are dropped, the rest go through per-class NMS at
    ``nms_threshold``, and only ``classes`` are kept.
    """

    name = 'dnn'

    def __init__(self, config: DnnConfig) -> None:
        self.config = config
        model = Path(config.model_path) if config.model_path else None
        if model is None or not model.is_file():
            raise DetectorError(f'dnn model file {config.model_path or "(empty)"!r} not '
                                'found: set model_path to the network file')
        if config.config_path and not Path(config.config_path).is_file():
            raise DetectorError(f'dnn config file {config.config_path!r} not found')
        try:
            self._net = cv2.dnn.readNet(str(model), config.config_path)
        except cv2.error as error:
            raise DetectorError(f'OpenCV cannot read the dnn model {model}: '
                                f'{str(error).strip().splitlines()[-1]}') from error
        self._outputs = self._net.getUnconnectedOutLayersNames()
        self._wanted = frozenset(config.classes)
        self._ssd_names = dict(enumerate(config.labels)) if config.labels else _COCO90
        self._yolo_names = dict(enumerate(config.labels)) if config.labels else _COCO80
        self._yolo_classes = len(config.labels) if config.labels else _COCO_CLASSES
        mean = config.mean if len(config.mean) == 3 else config.mean * 3
        self._mean = tuple(float(v) for v in mean)
        # One pass on a grey frame: a network whose output this class cannot read fails
        # here, at configure, not on the first camera frame (and the first, slow,
        # inference is paid before frames arrive).
        try:
            size = config.input_size
            self.detect(np.full((size, size, 3), 128, np.uint8))
        except cv2.error as error:
            raise DetectorError(f'OpenCV cannot run the dnn model {model}: '
                                f'{str(error).strip().splitlines()[-1]}') from error

    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        c = self.config
        h, w = image.shape[:2]
        blob = cv2.dnn.blobFromImage(image, c.scale, (c.input_size, c.input_size),
                                     self._mean, swapRB=c.swap_rb, crop=False)
        self._net.setInput(blob)
        outputs = self._net.forward(self._outputs)
        out = outputs[0]
        if out.ndim == 4 and out.shape[-1] == 7:
            candidates = _ssd_candidates(out.reshape(-1, 7), w, h, names=self._ssd_names)
        elif out.ndim >= 2 and out.size == out.shape[-2] * out.shape[-1]:
            candidates = _yolo_candidates(out.reshape(out.shape[-2], out.shape[-1]),
                                          w, h, c.input_size, names=self._yolo_names,
                                          classes=self._yolo_classes)
        else:
            raise DetectorError(f'dnn output of shape {tuple(out.shape)} is neither an SSD '
                                'DetectionOutput [1, 1, N, 7] nor YOLO rows [1, N, 5 + C] '
                                'or [1, 4 + C, N]: not a detector this back-end reads')
        candidates = [(box, score, cls) for box, score, cls in candidates
                      if score >= c.confidence and cls in self._wanted]
        detections = []
        for cls in sorted({cls for _, _, cls in candidates}):
            group = [(box, score) for box, score, name in candidates if name == cls]
            keep = cv2.dnn.NMSBoxes([list(b) for b, _ in group], [s for _, s in group],
                                    c.confidence, c.nms_threshold)
            for i in np.array(keep).flatten():
                box, score = group[int(i)]
                detections.append(Detection(box=box, score=round(float(score), 3), cls=cls))
        return detections


def _clip_box(x0: float, y0: float, x1: float, y1: float, w: int,
              h: int) -> Tuple[int, int, int, int]:
    x0, y0 = int(round(max(0.0, x0))), int(round(max(0.0, y0)))
    x1, y1 = int(round(min(float(w), x1))), int(round(min(float(h), y1)))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _ssd_candidates(rows: np.ndarray, w: int, h: int, *,
                    names: Mapping[int, str] = _COCO90):
    out = []
    for _, class_id, score, x0, y0, x1, y1 in rows:
        name = names.get(int(class_id))
        if name is not None:
            box = _clip_box(x0 * w, y0 * h, x1 * w, y1 * h, w, h)
            if box[2] > 0 and box[3] > 0:
                out.append((box, float(score), name))
    return out


def _yolo_candidates(rows: np.ndarray, w: int, h: int, size: int, *,
                     names: Mapping[int, str] = _COCO80, classes: int = _COCO_CLASSES):
    widths = (4 + classes, 5 + classes)
    if rows.shape[1] not in widths and rows.shape[0] in widths:
        rows = rows.T  # v8 exports are [4 + classes, N]
    if rows.shape[1] not in widths:
        raise DetectorError(f'dnn output rows of {rows.shape[1]} values fit neither YOLO '
                            f'layout for {classes} classes (set labels for a non-COCO '
                            'model)')
    objectness = rows.shape[1] == 5 + classes
    scores = rows[:, 5:] * rows[:, 4:5] if objectness else rows[:, 4:]
    class_ids = scores.argmax(axis=1)
    best = scores[np.arange(len(rows)), class_ids]
    sx, sy = w / float(size), h / float(size)
    out = []
    for i in np.flatnonzero(best >= 0.05):
        name = names.get(int(class_ids[i]))
        if name is None:
            continue
        cx, cy, bw, bh = rows[i, :4]
        box = _clip_box((cx - bw / 2) * sx, (cy - bh / 2) * sy, (cx + bw / 2) * sx,
                        (cy + bh / 2) * sy, w, h)
        if box[2] > 0 and box[3] > 0:
            out.append((box, float(best[i]), name))
    return out


# --------------------------------------------------------------------------- imx500


class Imx500Detector(Detector):
    """
    Boxes the IMX500 computed on the sensor, taken from the frame's metadata.

    Reads ``metadata['camera']['imx500_detections']`` (``IMX500_KEY``): a list of
    ``{"box": [x, y, w, h], "score": float, "class": str}``, box normalised to 0..1 of
    the image. Entries that are malformed are skipped with a debug log line; boxes are
    clipped to the image. A frame without the key has no detections.
    """

    name = 'imx500'

    def __init__(self, *, classes: Optional[Sequence[str]] = None) -> None:
        self._classes = None if classes is None else frozenset(classes)

    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        h, w = image.shape[:2]
        camera = (metadata or {}).get('camera') or {}
        entries = camera.get(IMX500_KEY) if isinstance(camera, Mapping) else None
        detections = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                x, y, bw, bh = (float(v) for v in entry['box'])
                score, cls = float(entry['score']), str(entry.get('class', 'vehicle'))
            except (KeyError, TypeError, ValueError):
                _log.debug('skipped malformed %s entry %r', IMX500_KEY, entry)
                continue
            if self._classes is not None and cls not in self._classes:
                continue
            x0, y0 = max(0.0, x) * w, max(0.0, y) * h
            x1, y1 = min(1.0, x + bw) * w, min(1.0, y + bh) * h
            if x1 - x0 < 1.0 or y1 - y0 < 1.0 or not math.isfinite(score):
                continue
            detections.append(Detection(
                box=(int(round(x0)), int(round(y0)), int(round(x1 - x0)),
                     int(round(y1 - y0))), score=score, cls=cls))
        return detections


def make_detector(backend: str, *, region: Polygon,
                  motion: Optional[MotionConfig] = None,
                  dnn: Optional[DnnConfig] = None,
                  classes: Optional[Sequence[str]] = None) -> Detector:
    """Return the back-end named backend; DetectorError saying why it cannot start."""
    if backend == 'motion':
        return MotionDetector(motion, region=region)
    if backend == 'dnn':
        if dnn is None:
            raise DetectorError('the dnn back-end needs a model: set model_path')
        return DnnDetector(dnn)
    if backend == 'imx500':
        return Imx500Detector(classes=classes)
    raise DetectorError(f'unknown backend {backend!r}: use one of {", ".join(BACKENDS)}')


# --------------------------------------------------------------------------- analysis


@dataclass
class FrameAnalysis:
    """What one frame gave: kept detections with track ids, new crossings, totals."""

    detections: List[Detection]
    track_ids: List[Optional[int]]
    crossings: List[LineCrossing]
    counts: Dict[str, int]
    threshold: float
    status: str
    processing_ms: float
    image_size: Tuple[int, int]


@dataclass
class AnalyzerStats:
    """Running figures for health: frames, detections, timings."""

    frames: int = 0
    frames_with_detections: int = 0
    detections: int = 0
    dropped_stale: int = 0
    lighting_changes: int = 0
    last_status: str = '-'
    last_analysis_time: Optional[float] = None
    processing_ms: List[float] = field(default_factory=list)


class VehicleAnalyzer:
    """
    Detector + adaptive threshold + road region + tracker: one call per frame.

    The region test uses each box's ground point (bottom centre), so a tall vehicle
    whose roof rises above the drawn road still counts, and movement outside the road
    (trees, clouds, pedestrians on the far verge) does not.
    """

    def __init__(self, detector: Detector, *, region: Polygon,
                 counting_line: Sequence[float], base_threshold: float = 0.5,
                 tracker: Optional[Tracker] = None) -> None:
        self.detector = detector
        self.region = region
        self.base_threshold = float(base_threshold)
        self.tracker = tracker or Tracker(counting_line=counting_line)
        self.sky_condition: Optional[str] = None
        self.stats = AnalyzerStats()
        self._region_px: Optional[np.ndarray] = None
        self._region_size: Optional[Tuple[int, int]] = None

    @property
    def threshold(self) -> float:
        """Return the confidence threshold in force for the current sky condition."""
        return adaptive_threshold(self.base_threshold, self.sky_condition)

    def _in_region(self, point: Tuple[float, float], size: Tuple[int, int]) -> bool:
        if self._region_size != size:
            w, h = size
            self._region_px = np.array([[x * w, y * h] for x, y in self.region], np.float32)
            self._region_size = size
        return cv2.pointPolygonTest(self._region_px, point, False) >= 0

    def analyze(self, image: np.ndarray, *, t: float,
                metadata: Optional[Mapping[str, Any]] = None) -> FrameAnalysis:
        """Analyse the frame captured at t (epoch or scene seconds)."""
        start = time.perf_counter()
        h, w = image.shape[:2]
        threshold = self.threshold
        found = self.detector.detect(image, metadata=metadata)
        kept = [d for d in found if d.score >= threshold and self._in_region(d.ground, (w, h))]
        ids, crossings = self.tracker.update(
            [d.box for d in kept], t=t, frame_size=(w, h),
            features=[appearance(image, d.box) for d in kept])
        elapsed = 1000.0 * (time.perf_counter() - start)
        status = self.detector.status
        s = self.stats
        s.frames += 1
        s.frames_with_detections += bool(kept)
        s.detections += len(kept)
        s.lighting_changes += status == 'lighting_change'
        s.last_status = status
        s.last_analysis_time = time.time()
        s.processing_ms = (s.processing_ms + [elapsed])[-100:]
        return FrameAnalysis(detections=kept, track_ids=ids, crossings=crossings,
                             counts=dict(self.tracker.counts), threshold=threshold,
                             status=status, processing_ms=elapsed, image_size=(w, h))


def detections_message(analysis: FrameAnalysis, *, stamp_sec: int, stamp_nanosec: int,
                       frame_id: str, backend: str,
                       sky_condition: Optional[str]) -> Dict[str, Any]:
    """
    Return the ``vehicles/detections`` JSON object of one frame.

    Schema (version 1)::

        schema_version   1
        stamp            {"sec": int, "nanosec": int}: header.stamp of the source frame
        frame_id         header.frame_id of the source frame
        image_size       [width, height] of the analysed image, pixels
        backend          motion | dnn | imx500
        status           ok | warming_up | lighting_change (motion back-end)
        sky_condition    the latest sky/condition label, or null
        threshold        confidence threshold applied (adaptive, in [0.1, 0.9])
        detections       list of {"box": [x, y, w, h] pixels of image_size,
                         "class": str, "score": float 0..1, "track_id": int}
        vehicle_count    len(detections)
        crossings        crossings in this frame: [{"track_id": int, "direction": str}]
        counts           {direction: int}: crossings since the node was configured
        processing_ms    detection + tracking time of this frame
    """
    return {
        'schema_version': SCHEMA_VERSION,
        'stamp': {'sec': int(stamp_sec), 'nanosec': int(stamp_nanosec)},
        'frame_id': frame_id,
        'image_size': list(analysis.image_size),
        'backend': backend,
        'status': analysis.status,
        'sky_condition': sky_condition,
        'threshold': round(analysis.threshold, 3),
        'detections': [
            {'box': [int(v) for v in d.box], 'class': d.cls, 'score': round(d.score, 3),
             'track_id': track_id}
            for d, track_id in zip(analysis.detections, analysis.track_ids)],
        'vehicle_count': len(analysis.detections),
        'crossings': [{'track_id': c.track_id, 'direction': c.direction}
                      for c in analysis.crossings],
        'counts': dict(analysis.counts),
        'processing_ms': round(analysis.processing_ms, 2),
    }


def detector_health(stats: AnalyzerStats, *, now: float, max_age_s: float,
                    backend: str) -> Health:
    """
    Judge a vehicle detector from its AnalyzerStats.

    STALE before the first frame; WARN when no frame was analysed for 5 x max_age_s
    (at least 10 s: is the provider publishing?), while the motion model warms up, or
    when the median frame takes over a second (the detector cannot keep up with 1 fps).
    """
    times = sorted(stats.processing_ms)
    median = times[len(times) // 2] if times else None
    last = stats.last_analysis_time
    values = {
        'backend': backend,
        'frames_analysed': stats.frames,
        'frames_with_detections': stats.frames_with_detections,
        'detections': stats.detections,
        'dropped_stale': stats.dropped_stale,
        'lighting_changes': stats.lighting_changes,
        'last_status': stats.last_status,
        'last_frame_age_s': '-' if last is None else round(now - last, 3),
        'processing_median_ms': '-' if median is None else round(median, 2),
    }
    if last is None:
        return Health(Level.STALE, 'no frame analysed yet', values)
    quiet = max(10.0, 5.0 * max_age_s)
    if now - last > quiet:
        return Health(Level.WARN, f'no frame analysed for {now - last:.0f} s', values)
    if stats.last_status == 'warming_up':
        return Health(Level.WARN, 'learning the background', values)
    if median is not None and median > 1000.0:
        return Health(Level.WARN, f'median analysis time {median:.0f} ms is too slow',
                      values)
    return Health(Level.OK, 'analysing', values)


def draw_analysis(image: np.ndarray, analysis: FrameAnalysis, *,
                  counting_line: Sequence[float], region: Optional[Polygon] = None,
                  sky_condition: Optional[str] = None) -> np.ndarray:
    """Return a copy of image with boxes, track ids, region, line, counts and sky drawn."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = out.shape[:2]
    thick = max(1, round(w / 500))
    font = max(0.4, w / 1600)
    if region is not None:
        pts = np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in region],
                       np.int32)
        cv2.polylines(out, [pts], True, (255, 160, 0), thick)
    (x1, y1), (x2, y2) = parse_line(counting_line)
    cv2.line(out, (round(x1 * (w - 1)), round(y1 * (h - 1))),
             (round(x2 * (w - 1)), round(y2 * (h - 1))), (0, 255, 255), thick + 1)
    for d, track_id in zip(analysis.detections, analysis.track_ids):
        x, y, bw, bh = d.box
        cv2.rectangle(out, (x, y), (x + bw, y + bh), (0, 255, 0), thick)
        cv2.putText(out, f'#{track_id} {d.cls} {d.score:.2f}', (x, max(12, y - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, font, (0, 255, 0), thick, cv2.LINE_AA)
    counts = '  '.join(f'{k}: {v}' for k, v in analysis.counts.items())
    lines = [counts, f'sky: {sky_condition or "unknown"}  threshold {analysis.threshold:.2f}']
    for i, text in enumerate(lines):
        org = (8, round((i + 1) * 30 * font + 6))
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thick + 2,
                    cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), thick,
                    cv2.LINE_AA)
    return out
