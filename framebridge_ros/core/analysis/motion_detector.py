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
The motion back-end: background subtraction for a fixed camera at about one frame a second.

:class:`MotionDetector` (settings :class:`MotionConfig`, parameters
:func:`motion_params`) needs no model. Its low-light steps (beams, lamps, lanes) are in
:mod:`framebridge_ros.core.analysis.lamps`.
"""

from dataclasses import dataclass
import logging
import math
from typing import Any, List, Mapping, Optional, Tuple

import cv2
from framebridge_ros.core.analysis.camera_reading import camera_evidence
from framebridge_ros.core.analysis.detector import Detection, Detector
from framebridge_ros.core.analysis.lamps import (
    _beam_side, _cut_beams, _drop_lone_beams, _extend_lone_lamps, _find_lamps, _Lamp,
    _lamp_kind, _LaneMemory, _pair_lamps, _split_at_lamps, _vote_by_lamp_pairs)
from framebridge_ros.core.analysis.region import DEFAULT_ROAD_REGION, parse_region, Polygon
from framebridge_ros.core.analysis.region import region_mask
from framebridge_ros.core.params import config_from_params, config_params, ParamSpec
import numpy as np

__all__ = [
    'MotionConfig',
    'MotionDetector',
    'motion_config',
    'motion_params',
]

_log = logging.getLogger('framebridge.vehicles')


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
        lux = camera_evidence(metadata).get('lux')
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
        # A cast shadow needs the sun: with headlights on there is none (only beams and
        # street lamps, which brighten), so what MOG2 calls shadow is a dark body, not
        # the road in shade; at dusk everything is nearly grey and every darker body
        # passes MOG2's shadow test.
        _, fg = cv2.threshold(fg, 100 if self.headlights else 200, 255, cv2.THRESH_BINARY)
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
            fg = _cut_beams(fg, light, height_frac=c.beam_height_frac,
                            heads=[core for core in cores if not core.tail] if cores else None)
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = _merge_fragments([cv2.boundingRect(cnt) for cnt in contours],
                                 c.merge_gap_frac, max_aspect=c.vehicle_max_aspect,
                                 max_area=c.max_area_frac * sw * sh)
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


def _merge_fragments(boxes: List[Tuple[int, int, int, int]], gap_frac: float, *,
                     max_aspect: float = float('inf'),
                     max_area: float = float('inf')) -> List[Tuple[int, int, int, int]]:
    """
    Merge boxes that share most of their rows and are closer than gap_frac of height.

    Fragments are of one vehicle, so a merge that would give something no vehicle is
    (longer than ``max_aspect`` times its height, or larger than ``max_area``) is not
    made: in dense traffic side-by-side fragments would otherwise chain a whole lane,
    or every lane, into one box.
    """
    boxes = sorted(boxes)
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        out: List[Tuple[int, int, int, int]] = []
        for box in boxes:
            for i, other in enumerate(out):
                x0, y0 = min(box[0], other[0]), min(box[1], other[1])
                x1 = max(box[0] + box[2], other[0] + other[2])
                y1 = max(box[1] + box[3], other[1] + other[3])
                plausible = x1 - x0 <= max_aspect * (y1 - y0) \
                    and (x1 - x0) * (y1 - y0) <= max_area
                if plausible and _same_object(box, other, gap_frac):
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
