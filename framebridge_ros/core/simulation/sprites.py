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
Vehicle sprites of the simulated scene: bodies, contact shadows and night lamps.

A sprite is drawn once, when its vehicle comes into view, from the vehicle's own random
stream (:func:`build_sprite`), in its daylight albedo so that a frame's light can be
applied by lookup table; its lamps are drawn on first need (:func:`build_glow`).
"""

from dataclasses import dataclass

import cv2
from framebridge_ros.core.simulation.textures import (
    blob, scaled, seeded_rng, soft_ellipse, STREAM_SPRITE, to_u8)
from framebridge_ros.core.simulation.traffic import BUS_COLOURS, CLASS_BY_NAME, Vehicle
import numpy as np

__all__ = ['Sprite', 'build_glow', 'build_sprite']

_BOX_COLOURS = ((238, 238, 236), (206, 210, 214), (180, 188, 196), (60, 120, 200))
_GLASS = (64, 54, 46)
_GLASS_SHINE = (118, 108, 100)
_TYRE = (30, 30, 32)
_RIM = (150, 150, 154)
_HEADLAMP = (210, 226, 236)
_TAILLAMP = (40, 40, 176)


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
        self.bgr = to_u8(self.bgr.astype(np.float32) * f[:, None, None])

    def wheel(self, u: float, r_px: float, *, rim: float = 0.6) -> None:
        v = 1.0 - r_px / self.h
        self.circle(u, v, r_px * 1.12, (22, 22, 24))  # wheel arch shadow
        self.circle(u, v, r_px, _TYRE)
        self.circle(u, v, r_px * rim, _RIM)
        self.circle(u, v, r_px * 0.22, (86, 86, 92))


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


def _draw_car(p: _Painter, v: Vehicle, rng: np.random.Generator) -> None:
    body, windows, wheels, tail = _CAR_SHAPES[int(rng.integers(0, len(_CAR_SHAPES)))]
    p.poly(body, v.colour)
    p.rect(0.0, 0.74, 1.0, 0.80, scaled(v.colour, 0.45))  # sill and bumper bottoms
    p.shade(1.12, 0.80, 0.42, 0.12)
    p.poly(windows, _GLASS)
    u0, u1 = windows[1][0], windows[-1][0]
    # Sky reflection on the glass: a slanted lighter band.
    p.poly([(u0 + 0.10, 0.09), (u0 + 0.18, 0.09), (u0 + 0.10, 0.33), (u0 + 0.02, 0.33)],
           _GLASS_SHINE, solid=False)
    pillar = (u0 + u1) / 2.0
    p.rect(pillar - 0.012, 0.04, pillar + 0.012, 0.37, scaled(v.colour, 0.7))
    door = scaled(v.colour, 0.55)
    for du in (pillar - 0.012, min(0.74, pillar + 0.22)):
        p.line((du, 0.38), (du, 0.74), door, max(1.0, p.h * 0.015), solid=False)
    p.rect(pillar + 0.03, 0.45, pillar + 0.07, 0.48, door, solid=False)  # door handle
    p.rect(0.955, 0.44, 1.0, 0.53, _HEADLAMP)
    p.rect(0.0, tail[0], 0.03, tail[1], _TAILLAMP)
    r = 0.2 * p.h
    for u in wheels:
        p.wheel(u, r)


def _draw_truck(p: _Painter, v: Vehicle, rng: np.random.Generator) -> None:
    box = _BOX_COLOURS[int(rng.integers(0, len(_BOX_COLOURS)))]
    p.rect(0.0, 0.0, 0.73, 0.78, box)
    p.poly([(0.75, 0.22), (0.92, 0.22), (0.99, 0.40), (1.0, 0.50), (1.0, 0.84),
            (0.75, 0.84)], v.colour)
    p.shade(1.05, 0.88, 0.5, 0.04)
    seam = scaled(box, 0.82)
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


def _draw_bus(p: _Painter, v: Vehicle, rng: np.random.Generator) -> None:
    accent = BUS_COLOURS[int(rng.integers(0, len(BUS_COLOURS)))][0]
    p.poly([(0.0, 0.06), (0.01, 0.02), (0.03, 0.0), (0.97, 0.0), (0.99, 0.02), (1.0, 0.06),
            (1.0, 0.86), (0.99, 0.88), (0.01, 0.88), (0.0, 0.86)], v.colour)
    p.rect(0.0, 0.58, 1.0, 0.64, scaled(accent, 0.8))  # livery stripe
    p.rect(0.0, 0.80, 1.0, 0.88, scaled(v.colour, 0.5))  # skirt
    p.shade(1.06, 0.86, 0.55, 0.06)
    p.rect(0.03, 0.12, 0.92, 0.50, _GLASS)
    pillar = scaled(v.colour, 0.85)
    for k in range(9):
        u = 0.03 + k * 0.1
        p.rect(u - 0.006, 0.12, u + 0.006, 0.50, pillar)
    p.rect(0.935, 0.08, 0.99, 0.55, _GLASS)
    p.rect(0.83, 0.12, 0.90, 0.86, (52, 46, 40))  # door
    p.line((0.865, 0.14), (0.865, 0.84), scaled(v.colour, 0.7), max(1.0, p.w * 0.002),
           solid=False)
    p.rect(0.935, 0.02, 0.99, 0.07, (0, 170, 255))  # destination display
    p.rect(0.98, 0.72, 1.0, 0.80, _HEADLAMP)
    p.rect(0.0, 0.65, 0.015, 0.78, _TAILLAMP)
    r = 0.17 * p.h
    for u in (0.16, 0.80):
        p.wheel(u, r, rim=0.5)


def _draw_motorcycle(p: _Painter, v: Vehicle, rng: np.random.Generator) -> None:
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
class Sprite:
    """A vehicle's drawn body (BGR albedo and coverage), its shadow and its lamps."""

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


def build_sprite(v: Vehicle, seed_key: int) -> Sprite:
    """Draw a vehicle's body, cropped to what was drawn, and its soft contact shadow."""
    rng = seeded_rng(seed_key, STREAM_SPRITE, v.vid)
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
    shadow = soft_ellipse((sh, sw), (sw / 2.0, sh / 2.0), (ax, ay), sigma)
    return Sprite(
        bgr=bgr, alpha=alpha, inv_alpha=1.0 - alpha, ox=x, oy=y, shadow=shadow,
        shadow_ox=int(length / 2 - sw / 2), shadow_oy=int(height + 0.04 * height - sh / 2))


def build_glow(v: Vehicle, sprite: Sprite) -> None:
    """Draw a sprite's headlights, beam on the road and tail lamps as an additive patch."""
    spec = CLASS_BY_NAME[v.cls]
    length, height = v.length_px, v.height_px
    x0 = -int(0.15 * length)  # canvas left, relative to the right-facing left edge
    cw, ch = int(2.1 * length), int(1.25 * height) + 2
    c = np.zeros((ch, cw, 3), np.float32)
    hx, hy = spec.head[0] * length - x0, spec.head[1] * height
    blob(c, hx, hy, 0.05 * height + 1, 0.05 * height + 1, np.array((235, 248, 255), np.float32))
    blob(c, hx, hy, 0.2 * height + 2, 0.16 * height + 2, np.array((90, 100, 110), np.float32))
    beam = soft_ellipse((ch, cw), (1.45 * length - x0, float(height)),
                        (0.45 * length, 0.05 * height + 0.015 * length), 0.05 * length + 1)
    c += beam[:, :, None] * np.array((80, 100, 112), np.float32)
    tx, ty = spec.tail[0] * length - x0, spec.tail[1] * height
    blob(c, tx, ty, 0.04 * height + 1, 0.04 * height + 1, np.array((60, 60, 255), np.float32))
    blob(c, tx, ty, 0.12 * height + 1, 0.1 * height + 1, np.array((10, 10, 90), np.float32))
    glow = to_u8(c)
    if v.sign < 0:
        glow = np.ascontiguousarray(glow[:, ::-1])
        x0 = length - x0 - cw  # mirror the canvas about the vehicle
    sprite.glow, sprite.glow_ox = glow, x0
