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

This module composes the frame and its truth. Its parts live beside it: the light model
(``light.py``), the sky (``sky.py``), the static layers (``background.py``), the traffic
schedule (``traffic.py``), vehicle sprites (``sprites.py``) and the noise and drawing
helpers (``textures.py``).
"""

from dataclasses import dataclass, replace
import math
from statistics import NormalDist

import cv2
from framebridge_ros.core.simulation.background import Background
from framebridge_ros.core.simulation.light import (
    camera_reading, DAWN_END_H, DUSK_START_H, Light, light_for, light_lut, NIGHT_END_H,
    NIGHT_START_H)
from framebridge_ros.core.simulation.sky import Sky
from framebridge_ros.core.simulation.sprites import build_glow, build_sprite, Sprite
from framebridge_ros.core.simulation.textures import (
    NOISE_TILE_STD, seeded_rng, STREAM_FRAME, STREAM_NOISE, to_u8, U64)
from framebridge_ros.core.simulation.traffic import Lane, LANES, Vehicle
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

# Cloud cover below which a daytime sky is labelled clear, then partly cloudy. The light
# phases that make night and dawn/dusk are in .light.
_CLEAR_BELOW = 0.25
_PARTLY_CLOUDY_BELOW = 0.7

_NOISE_PAD = 64
_NOISE_ROWS = 512
# A lane's schedule keeps about this many vehicles; older ones are pruned once gone
# this long before the asked time.
_LANE_KEEP = 4096
_PRUNE_MARGIN_S = 120.0


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
    if h < NIGHT_END_H or h >= NIGHT_START_H:
        return 'night'
    if h < DAWN_END_H or h >= DUSK_START_H:
        return 'dawn_dusk'
    if cloud_cover < _CLEAR_BELOW:
        return 'clear'
    if cloud_cover < _PARTLY_CLOUDY_BELOW:
        return 'partly_cloudy'
    return 'cloudy'


@dataclass(frozen=True)
class _Placement:
    vehicle: Vehicle
    sprite: Sprite
    left_px: int  # rounded nominal left edge
    centre_x_norm: float
    box: tuple[int, int, int, int]  # clipped x, y, w, h of the drawn body


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
        self._seed_key = self._seed % U64
        self._cond = conditions if conditions is not None else SceneConditions()
        self._day_cycle_s = float(day_cycle_s)
        self._sky_h = int(round(SKY_FRACTION * self._h))
        # Vehicle sizes follow the width up to 16:9, so very wide frames keep them in lane.
        self._ref = min(float(self._w), self._h * 16.0 / 9.0)
        rate = self._cond.vehicles_per_minute / 60.0 / len(LANES)
        self._lanes = tuple(
            Lane(index=i, seed_key=self._seed_key, rate_per_s=rate, width=self._w,
                 height=self._h, ref_px=self._ref, line_x_norm=COUNTING_LINE_X_NORM,
                 keep=_LANE_KEEP, prune_margin_s=_PRUNE_MARGIN_S)
            for i in range(len(LANES)))
        self._sprites: dict[int, Sprite] = {}
        background = Background(width=self._w, height=self._h, sky_h=self._sky_h,
                                ref=self._ref, seed_key=self._seed_key)
        self._ground, self._overlay = background.ground, background.overlay
        self._glows = background.glows
        self._sky = Sky(seed_key=self._seed_key, width=self._w, height=self._h,
                        sky_h=self._sky_h, cloud_cover=self._cond.cloud_cover,
                        cloud_drift_per_s=self._cond.cloud_drift_per_s)
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

    def _build_noise(self) -> None:
        """
        Build a sensor-noise tile once; frames take shifted views of it.

        Uniform bytes mapped through a Gaussian quantile table are much cheaper than
        drawing normals; a light blur gives the slightly blotchy look of demosaiced noise.
        """
        rng = seeded_rng(self._seed_key, STREAM_NOISE)
        rows = min(self._h, _NOISE_ROWS) + _NOISE_PAD
        cols = self._w + _NOISE_PAD
        nd = NormalDist()
        table = np.array([128.0 + NOISE_TILE_STD * 1.15 * nd.inv_cdf((i + 0.5) / 256.0)
                          for i in range(256)])
        table = np.clip(np.rint(table), 0, 255).astype(np.uint8)
        luma = cv2.LUT(rng.integers(0, 256, (rows, cols), dtype=np.uint8), table)
        chroma = cv2.LUT(rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8), table)
        tile = cv2.addWeighted(cv2.merge([luma, luma, luma]), 0.8, chroma, 0.6, 128 * -0.4)
        self._noise = cv2.GaussianBlur(tile, (3, 3), 0.5)
        # The blur shrinks the spread; measure it so noise_sigma means what it says.
        self._noise_std = float(self._noise[:64, :256].astype(np.float32).std()) or 1.0

    # ------------------------------------------------------------------ per frame

    def _light_at(self, t: float) -> tuple[SceneConditions, Light]:
        cond = self.conditions_at(t)
        return cond, light_for(cond.time_of_day_h, cloud_cover=cond.cloud_cover,
                               noise_sigma=cond.noise_sigma)

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

    def _add_glows(self, out: np.ndarray, light: Light) -> None:
        if light.lamps < 0.01:
            return
        for g in self._glows:
            hh, ww = g.patch.shape[:2]
            roi = out[g.y:g.y + hh, g.x:g.x + ww]
            if roi.shape[:2] == (hh, ww):
                cv2.addWeighted(roi, 1.0, g.patch, light.lamps, 0.0, dst=roi)

    def _sprite(self, v: Vehicle) -> Sprite:
        sprite = self._sprites.get(v.vid)
        if sprite is None:
            sprite = build_sprite(v, self._seed_key)
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

    def _draw_vehicles(self, out: np.ndarray, placed: list[_Placement], light: Light,
                       lut: np.ndarray) -> None:
        # All shadows first: a shadow lies on the road, never on another vehicle.
        for p in placed:
            v, s = p.vehicle, p.sprite
            sun = int(light.sun_side * -0.06 * v.length_px * (1.0 - light.cover) * light.day)
            top = v.baseline_px - v.height_px
            sh, sw = s.shadow.shape
            iy, ix, py, px = self._clip(p.left_px + s.shadow_ox + sun, top + s.shadow_oy, sw, sh)
            if iy.stop > iy.start:
                keep = to_u8(255.0 - (255.0 * light.shadow) * s.shadow[py, px])
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
                build_glow(v, s)
            gh, gw = s.glow.shape[:2]
            iy, ix, py, px = self._clip(p.left_px + s.glow_ox, v.baseline_px - v.height_px,
                                        gw, gh)
            if iy.stop > iy.start:
                roi = out[iy, ix]
                cv2.addWeighted(roi, 1.0, s.glow[py, px], light.headlights, 0.0, dst=roi)

    def _add_noise(self, out: np.ndarray, t: float, light: Light) -> None:
        if light.noise_sigma <= 0.0:
            return
        k = light.noise_sigma / self._noise_std
        rows = self._noise.shape[0] - _NOISE_PAD
        # Fresh offsets per frame: noise decorrelates in time without drawing it anew.
        rng = seeded_rng(self._seed_key, STREAM_FRAME, int(round(t * 1000.0)))
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
                           self._sky.visible_cover(t, cond.cloud_cover))

    def camera_metadata(self, t: float) -> dict:
        """
        Return what rpicam-still's --metadata would say about the frame at scene time t.

        Only the keys the analysers read, named as libcamera names them: Lux,
        ExposureTime (us), AnalogueGain, DigitalGain and ColourTemperature (K).
        """
        return camera_reading(self._light_at(float(t))[1])

    def render(self, t: float) -> tuple[np.ndarray, dict]:
        """Image (height, width, 3) uint8 BGR and ground truth at scene time t seconds."""
        t = float(t)
        cond, light = self._light_at(t)
        lut = light_lut(light)
        out = np.empty((self._h, self._w, 3), np.uint8)
        visible_cover = self._sky.compose(out, t, light)
        self._compose_ground(out, lut)
        self._add_glows(out, light)
        placed = self._placements(t)
        self._draw_vehicles(out, placed, light, lut)
        self._add_noise(out, t, light)
        return out, self._truth(t, cond, placed, visible_cover)
