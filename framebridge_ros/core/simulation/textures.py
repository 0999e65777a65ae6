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
Procedural textures and drawing helpers of the simulated scene.

Seeded random streams (one per part of the scene, so adding draws to one never shifts
another), fractal and periodic noise, film grain, vignettes, soft blobs and ellipses, and
the float-to-``uint8`` conversion the layers share.
"""

import math

import cv2
import numpy as np

__all__ = [
    'LOWRES',
    'NOISE_TILE_STD',
    'STREAM_BACKGROUND',
    'STREAM_CLOUDS',
    'STREAM_FRAME',
    'STREAM_LANE',
    'STREAM_NOISE',
    'STREAM_SPRITE',
    'U64',
    'add_grain',
    'blob',
    'fbm',
    'grain_tile',
    'periodic_noise',
    'scaled',
    'seeded_rng',
    'soft_ellipse',
    'to_u8',
    'vignette',
]

U64 = 1 << 64
# Random streams, one per part of the scene: seeded_rng(seed, stream, ...).
STREAM_BACKGROUND = 1
STREAM_CLOUDS = 2
STREAM_NOISE = 3
STREAM_FRAME = 4
STREAM_LANE = 5
STREAM_SPRITE = 6

LOWRES = 4  # static layers and the sky are built at 1/4 scale and upsampled
NOISE_TILE_STD = 16.0  # grain tiles are stored at this std around 128


def seeded_rng(*key: int) -> np.random.Generator:
    """Return the random generator of one stream, a pure function of the key."""
    return np.random.default_rng(np.random.SeedSequence([k % U64 for k in key]))


def fbm(rng: np.random.Generator, shape: tuple[int, int], *, cell: float,
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


def periodic_noise(rng: np.random.Generator, shape: tuple[int, int], *,
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


def grain_tile(rng: np.random.Generator, size: int, *, streak: int = 1) -> np.ndarray:
    """Single-channel uint8 grain centred on 128 with std NOISE_TILE_STD."""
    g = rng.standard_normal((size, size)).astype(np.float32)
    if streak > 1:
        # Vertical smear reads as grass blades rather than sand.
        g = cv2.blur(g, (1, streak), borderType=cv2.BORDER_WRAP)
        g /= float(g.std()) or 1.0
    return np.clip(np.rint(128.0 + NOISE_TILE_STD * g), 0, 255).astype(np.uint8)


def add_grain(img: np.ndarray, y0: int, y1: int, tile: np.ndarray, sigma: float) -> None:
    """Add tiled grain of the given std to rows y0..y1 of img, in place."""
    if y1 <= y0:
        return
    h, w = y1 - y0, img.shape[1]
    reps = (math.ceil(h / tile.shape[0]), math.ceil(w / tile.shape[1]))
    g = np.tile(tile, reps)[:h, :w]
    g3 = cv2.merge([g, g, g])
    k = sigma / NOISE_TILE_STD
    roi = img[y0:y1]
    cv2.addWeighted(roi, 1.0, g3, k, -128.0 * k, dst=roi)


def vignette(n: int, strength: float) -> np.ndarray:
    """1-D falloff; the product of two of these is a cheap separable vignette."""
    s = (np.arange(n, dtype=np.float32) + 0.5) / n * 2.0 - 1.0
    return 1.0 - strength * s * s


def blob(canvas: np.ndarray, cx: float, cy: float, sx: float, sy: float,
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


def soft_ellipse(shape: tuple[int, int], centre: tuple[float, float],
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


def to_u8(img: np.ndarray) -> np.ndarray:
    """Round and clip a float image to uint8."""
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def scaled(colour: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    """Return a BGR colour with each channel times k, capped at 255."""
    return (min(255, int(colour[0] * k)), min(255, int(colour[1] * k)),
            min(255, int(colour[2] * k)))
