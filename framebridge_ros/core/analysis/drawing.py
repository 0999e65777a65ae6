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

"""The annotated view: boxes, track ids, road region, counting line, counts and sky drawn."""

from typing import Optional, Sequence

import cv2
from framebridge_ros.core.analysis.analyzer import FrameAnalysis
from framebridge_ros.core.analysis.geometry import parse_line
from framebridge_ros.core.analysis.region import Polygon
import numpy as np

__all__ = [
    'draw_analysis',
]


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
