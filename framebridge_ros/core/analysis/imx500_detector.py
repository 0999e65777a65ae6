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
The imx500 back-end: boxes the Sony IMX500 computed on the sensor, from the frame's metadata.

``metadata['camera']['imx500_detections']`` (``IMX500_KEY``) is a list of
``{"box": [x, y, w, h], "score": float, "class": str}`` with the box normalised to 0..1
of the image. See :class:`Imx500Detector`.
"""

import logging
import math
from typing import Any, List, Mapping, Optional, Sequence

from framebridge_ros.core.analysis.detector import Detection, Detector
import numpy as np

__all__ = [
    'IMX500_KEY',
    'Imx500Detector',
]

_log = logging.getLogger('framebridge.vehicles')

IMX500_KEY = 'imx500_detections'


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
