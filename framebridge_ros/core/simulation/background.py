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
The static layers of the simulated scene, built once per scene.

:class:`Background` draws the daylight albedo of everything that never moves: distant
fields, verge, road with its markings and tyre tracks, kerbs, pavement and grass, with
their texture and grain; buildings, a tree line and street lamps on the horizon (the
:class:`Overlay` that stands in front of the sky); and the lights that come on at night
(:class:`Glow` patches: lit windows, lamp heads and their pools on the road).
"""

from dataclasses import dataclass
import math

import cv2
from framebridge_ros.core.simulation.textures import (
    add_grain, blob, fbm, grain_tile, LOWRES, scaled, seeded_rng, STREAM_BACKGROUND, to_u8,
    vignette)
from framebridge_ros.core.simulation.traffic import LANES
import numpy as np

__all__ = ['Background', 'Glow', 'Overlay']

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


def _rgb(r: int, g: int, b: int) -> tuple[int, int, int]:
    """Return an RGB triple as the BGR order OpenCV draws with."""
    return (b, g, r)


@dataclass(frozen=True)
class Overlay:
    """Albedo pixels that stand in front of the sky (trees, roofs, lamp posts)."""

    y: int
    albedo: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class Glow:
    """An additive light patch that is switched on with the street lamps."""

    y: int
    x: int
    patch: np.ndarray


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
# Grain std (DN) per band of rows; grass gets the streaky tile. None: from the horizon.
_GRAIN = (
    (None, _FIELD_END, 5.0, False),
    (_FIELD_END, _VERGE_END, 10.0, True),
    (_VERGE_END, _ROAD_TOP, 5.0, False),
    (_ROAD_TOP, _ROAD_BOTTOM, 7.0, False),
    (_ROAD_BOTTOM, _PAVEMENT_END, 5.5, False),
    (_PAVEMENT_END, 1.0, 12.0, True),
)


class Background:
    """
    Daylight albedo of everything that never moves, plus its night lights.

    Built for a ``width`` x ``height`` image whose top ``sky_h`` rows are sky; ``ref`` is
    the reference width that sizes the lamps and trees. ``ground`` holds the rows below
    the sky, ``overlay`` the silhouettes standing in front of it, ``glows`` the lights.
    """

    def __init__(self, *, width: int, height: int, sky_h: int, ref: float,
                 seed_key: int) -> None:
        self._w, self._h, self._sky_h, self._ref = width, height, sky_h, ref
        w, h = self._w, self._h
        rng = seeded_rng(seed_key, STREAM_BACKGROUND)
        h4, w4 = max(8, math.ceil(h / LOWRES)), max(8, math.ceil(w / LOWRES))
        low = self._ground_lowres(rng, h4, w4)
        albedo = cv2.resize(to_u8(low[:, :, ::-1]), (w, h), interpolation=cv2.INTER_LINEAR)
        self._draw_markings(albedo, rng)
        grain = grain_tile(rng, 256)
        streaks = grain_tile(rng, 256, streak=5)
        for y0, y1, sigma, streaky in _GRAIN:
            add_grain(albedo, self._sky_h if y0 is None else int(round(y0 * h)),
                      int(round(y1 * h)), streaks if streaky else grain, sigma)
        over = np.zeros((self._sky_h, w), np.uint8)  # pixels standing in front of the sky
        glows: list[Glow] = []
        self._draw_buildings(albedo, over, glows, rng)
        self._draw_treeline(albedo, over, rng)
        self._draw_lamps(albedo, over, glows, rng)
        # Separable vignette, applied in row chunks to keep the float temporary small.
        vy, vx = vignette(h, 0.16), vignette(w, 0.22)
        for y0 in range(0, h, 256):
            y1 = min(h, y0 + 256)
            f = vy[y0:y1, None, None] * vx[None, :, None]
            albedo[y0:y1] = to_u8(albedo[y0:y1].astype(np.float32) * f)
        self.ground = np.ascontiguousarray(albedo[self._sky_h:])
        # One full-width band from the highest silhouette pixel down to the horizon.
        rows = np.nonzero(over.any(axis=1))[0]
        top = int(rows[0]) if rows.size else self._sky_h
        self.overlay = Overlay(y=top, albedo=np.ascontiguousarray(albedo[top:self._sky_h]),
                               mask=np.ascontiguousarray(over[top:]))
        self.glows = glows

    def _ground_lowres(self, rng: np.random.Generator, h4: int, w4: int) -> np.ndarray:
        """Colour gradients and soft variation of the ground bands, RGB float32."""
        y = (np.arange(h4, dtype=np.float32) + 0.5) / h4
        coarse = fbm(rng, (h4, w4), cell=max(4.0, w4 / 10.0))
        fine = fbm(rng, (h4, w4), cell=max(2.0, w4 / 60.0), octaves=2)
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
        for lane in LANES:
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

    def _draw_buildings(self, img: np.ndarray, over: np.ndarray, glows: list[Glow],
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
                          scaled(colour, 0.6), -1)
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
                glows.append(Glow(y=top, x=bx, patch=to_u8(lit[:, :x_end - bx])))

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
        leaves = cv2.resize(fbm(rng, (hb, wb), cell=max(2.0, 0.004 * w)), (w, y_hi - y_lo))
        shade = crowns.astype(np.float32) / 160.0 * (0.55 + 0.9 * leaves)
        colour = np.array(_rgb(40, 66, 36), np.float32)
        band = img[y_lo:y_hi]
        band[mask] = to_u8(shade[mask][:, None] * colour)
        n = max(0, self._sky_h - y_lo)
        over[y_lo:y_lo + n] |= mask[:n].astype(np.uint8)

    def _draw_lamps(self, img: np.ndarray, over: np.ndarray, glows: list[Glow],
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
                    colour: tuple[int, int, int], k: float) -> Glow:
        x0, x1 = max(0, int(cx - 3 * sx)), min(self._w, int(cx + 3 * sx) + 1)
        y0, y1 = max(0, int(cy - 3 * sy)), min(self._h, int(cy + 3 * sy) + 1)
        c = np.zeros((max(1, y1 - y0), max(1, x1 - x0), 3), np.float32)
        blob(c, cx - x0, cy - y0, sx, sy, k * np.array(colour, np.float32))
        return Glow(y=y0, x=x0, patch=to_u8(c))
