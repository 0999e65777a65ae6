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
Plain geometry that the tracker and the detectors share.

Box overlap, the counting line and which side of it a point lies, and a box's
appearance descriptor.
"""

import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['appearance', 'box_intersection', 'box_iou', 'parse_line', 'segments_cross', 'side']

Point = Tuple[float, float]


def box_intersection(a: Sequence[float], b: Sequence[float]) -> float:
    """Return the area two [x, y, w, h] boxes share (0 when apart)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Return the intersection over union of two [x, y, w, h] boxes."""
    inter = box_intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0.0 else 0.0


def parse_line(values: Sequence[float]) -> Tuple[Point, Point]:
    """
    Return the counting line ((x1, y1), (x2, y2)) of a flat list of 4 normalised numbers.

    Raises ValueError saying what is wrong: wrong length, a value outside [0, 1], or
    two equal end points.
    """
    values = [float(v) for v in values]
    if len(values) != 4:
        raise ValueError(f'counting line needs 4 numbers x1, y1, x2, y2; got {len(values)}')
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f'counting line values must be within [0, 1] (normalised); '
                         f'got {values}')
    (x1, y1, x2, y2) = values
    if (x1, y1) == (x2, y2):
        raise ValueError('counting line end points must differ')
    return (x1, y1), (x2, y2)


def appearance(image: np.ndarray, box: Sequence[float]) -> Optional[np.ndarray]:
    """
    Return an appearance descriptor of a box: a normalised HSV histogram of its middle.

    6 hue x 4 saturation x 4 value bins of the central 80 % of the box (its edges are
    road and shadow). Compared with the Bhattacharyya distance (0 same, 1 disjoint).
    None for a box with no pixels inside the image.
    """
    h, w = image.shape[:2]
    x, y, bw, bh = box[:4]
    x0, x1 = int(max(0, x + 0.1 * bw)), int(min(w, x + 0.9 * bw))
    y0, y1 = int(max(0, y + 0.1 * bh)), int(min(h, y + 0.9 * bh))
    if x1 <= x0 or y1 <= y0:
        return None
    patch = image[y0:y1, x0:x1]
    if patch.ndim == 2:
        patch = cv2.cvtColor(patch, cv2.COLOR_GRAY2BGR)
    hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [6, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1).flatten()


def side(p: Point, a: Point, b: Point) -> float:
    """Return which side of the line a-b point p lies on (the sign), 0 on it."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def segments_cross(p: Point, q: Point, a: Point, b: Point) -> bool:
    """Return True if segment p-q crosses segment a-b (touching the line counts once)."""
    d1, d2 = side(p, a, b), side(q, a, b)
    if not ((d1 < 0.0 <= d2) or (d2 < 0.0 <= d1)):
        return False
    d3, d4 = side(a, p, q), side(b, p, q)
    return (d3 <= 0.0 <= d4) or (d4 <= 0.0 <= d3)
