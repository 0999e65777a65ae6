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

"""The road region: a normalised polygon, parsed from a flat parameter list and rasterised."""

import math
from typing import Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'DEFAULT_ROAD_REGION',
    'Polygon',
    'parse_region',
    'region_mask',
]

# Whole frame below the top 40 %: a safe default until the user draws the road.
DEFAULT_ROAD_REGION = (0.0, 0.4, 1.0, 0.4, 1.0, 1.0, 0.0, 1.0)

Polygon = Tuple[Tuple[float, float], ...]


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


def region_mask(polygon: Polygon, *, width: int, height: int) -> np.ndarray:
    """Return a uint8 mask (255 inside) of a normalised polygon at an image size."""
    mask = np.zeros((height, width), np.uint8)
    pts = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon],
                   np.int32)
    cv2.fillPoly(mask, [pts], 255)
    return mask
