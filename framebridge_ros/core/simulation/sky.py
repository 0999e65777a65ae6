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
The sky of the simulated scene: gradients by light phase and drifting clouds.

:class:`Sky` is built once per scene: a periodic cloud texture (so drift can wrap
forever) and a low-resolution sampling grid with perspective. Each frame it blends the
day, warm and night palettes, lays the clouds over them at their drift for that time and
upsamples the result into the top rows of the image.
"""

import math

import cv2
from framebridge_ros.core.simulation.light import Light
from framebridge_ros.core.simulation.textures import (
    LOWRES, periodic_noise, seeded_rng, STREAM_CLOUDS, to_u8, vignette)
import numpy as np

__all__ = ['Sky']

_CLOUD_TEX_SHAPE = (512, 1024)  # periodic, so drift can wrap forever

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


class Sky:
    """
    The sky rows of one scene: cloud texture, sampling grid and vignette, built once.

    ``sky_h`` is the number of rows the sky takes at the top of a ``width`` x ``height``
    image. Clouds cover ``cloud_cover`` of the texture and drift by
    ``cloud_drift_per_s`` image widths per second of scene time.
    """

    def __init__(self, *, seed_key: int, width: int, height: int, sky_h: int,
                 cloud_cover: float, cloud_drift_per_s: float) -> None:
        # Cloud texture and the low-resolution sampling grid with perspective.
        self._w, self._h, self._sky_h = width, height, sky_h
        self._drift = cloud_drift_per_s
        rng = seeded_rng(seed_key, STREAM_CLOUDS)
        self._cloud_tex = periodic_noise(rng, _CLOUD_TEX_SHAPE, beta=2.7)
        th, tw = _CLOUD_TEX_SHAPE
        sh, sw = max(4, math.ceil(self._sky_h / LOWRES)), max(16, math.ceil(self._w / LOWRES))
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
                         * vignette(sw, 0.22)[None, :]).astype(np.float32)[:, :, None]
        self._sky_x = (np.arange(sw, dtype=np.float32) + 0.5) / sw
        cover = cloud_cover
        q = float(np.quantile(self._cloud_tex, 1.0 - cover)) if 0.0 < cover < 1.0 else 0.0
        self._cloud_q = q if cover < 1.0 else -1.0
        self._cloud_soft = 0.045

    def _cloud_texture(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (alpha, tex, detail) of the clouds in view at t, at the sky's low res."""
        th, tw = _CLOUD_TEX_SHAPE
        # Wrap in float64 first: float32 would lose sub-pixel drift after long runs.
        off = (t * self._drift * self._tex_per_width) % tw
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

    def visible_cover(self, t: float, cover: float) -> float:
        """Return the fraction of the sky in view that cloud covers at t."""
        return float(self._cloud_texture(t)[0].mean()) if cover > 0.0 else 0.0

    def compose(self, out: np.ndarray, t: float, light: Light) -> float:
        """Draw the sky into the top rows of out; return the fraction of it cloud covers."""
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
        sky_bgr = to_u8(sky[:, :, ::-1])
        cv2.resize(sky_bgr, (self._w, self._sky_h), dst=out[:self._sky_h],
                   interpolation=cv2.INTER_LINEAR)
        return visible
