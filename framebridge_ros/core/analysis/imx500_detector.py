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

Host capture (``source: picamera2``, or rpicam-still with the network's tensor) writes
``metadata['detections']`` (``DETECTIONS_KEY``): a list of ``{"box": [x, y, w, h],
"score": float, "class": str}`` with the box normalised to 0..1 of the JPEG, or null
with ``detections_reason`` when the camera gave no inference result for that frame
(core/cameras/imx500_tensor.py). Null means "no information", never "no vehicles": such
a frame gives no boxes, its status is ``no_information``, and it is counted and shown on
/diagnostics. See :class:`Imx500Detector`.
"""

import logging
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

from framebridge_ros.core.analysis.detector import Detection, Detector
from framebridge_ros.core.episodes import Episode
import numpy as np

__all__ = [
    'DETECTIONS_KEY',
    'Imx500Detector',
    'NO_INFORMATION',
]

_log = logging.getLogger('framebridge.vehicles')

DETECTIONS_KEY = 'detections'
NO_INFORMATION = 'no_information'
# Frames in a row without information before health warns (one lost tensor is normal).
_WARN_AFTER_FRAMES = 10
# Frames in a row with information before an episode without it is over (one log pair
# per episode, even when every other frame loses its tensor).
_CALM_FRAMES = 30


class Imx500Detector(Detector):
    """
    Boxes the IMX500 computed on the sensor, taken from the frame's metadata.

    Reads ``metadata['detections']`` (``DETECTIONS_KEY``): a list of
    ``{"box": [x, y, w, h], "score": float, "class": str}``, box normalised to 0..1 of
    the image. Malformed entries are skipped and counted; boxes are clipped to the
    image. A frame whose metadata is missing, has no such field, or says null has no
    information (status ``no_information``): counted, logged once per episode, never
    taken for an empty road.
    """

    name = 'imx500'

    def __init__(self, *, classes: Optional[Sequence[str]] = None) -> None:
        self._classes = None if classes is None else frozenset(classes)
        self._status = 'ok'
        self.frames_without_information = 0
        self.information_gap_frames = 0  # frames in a row without information
        self.malformed_entries = 0
        self.last_reason = ''
        self._episode = Episode(
            logger=_log, calm_frames=_CALM_FRAMES,
            started='frame without on-sensor detections (%(problem)s): reported as status '
                    'no_information, not as an empty road; counted in '
                    'frames_without_information',
            ended='on-sensor detections steady again (%(total)d frames without them so far)')

    @property
    def status(self) -> str:
        return self._status

    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        entries, reason = _entries(metadata)
        if entries is None:
            self._no_information(reason)
            return []
        self._status, self.information_gap_frames = 'ok', 0
        self._episode.update('', total=self.frames_without_information)
        h, w = image.shape[:2]
        detections = []
        for entry in entries:
            try:
                x, y, bw, bh = (float(v) for v in entry['box'])
                score, cls = float(entry['score']), str(entry.get('class', 'vehicle'))
            except (KeyError, TypeError, ValueError):
                self.malformed_entries += 1
                _log.debug('skipped malformed %s entry %r', DETECTIONS_KEY, entry)
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

    def _no_information(self, reason: str) -> None:
        self._status = NO_INFORMATION
        self.frames_without_information += 1
        self.information_gap_frames += 1
        self._episode.update(reason, total=self.frames_without_information)
        self.last_reason = reason

    def reset(self) -> None:
        self._status, self.information_gap_frames = 'ok', 0

    def health_values(self) -> Dict[str, Any]:
        """Return the counters for /diagnostics."""
        return {'frames_without_information': self.frames_without_information,
                'last_no_information_reason': self.last_reason or '-',
                'malformed_detection_entries': self.malformed_entries}

    def health_warning(self) -> Optional[str]:
        """Return a WARN sentence when the camera has given no result for a while."""
        if self.information_gap_frames >= _WARN_AFTER_FRAMES:
            return (f'no on-sensor detections for {self.information_gap_frames} frames: '
                    f'{self.last_reason}')
        return None


def _entries(metadata: Optional[Mapping[str, Any]]):
    """Return (the detection list, '') or (None, why the frame has no information)."""
    if not isinstance(metadata, Mapping):
        return None, 'no metadata for this frame'
    if DETECTIONS_KEY not in metadata:
        return None, ('the metadata has no detections field: is host capture running '
                      'source picamera2 with imx500_model, or rpicam-still with the '
                      'network?')
    entries = metadata[DETECTIONS_KEY]
    if entries is None:
        return None, str(metadata.get('detections_reason') or 'the camera gave no result')
    if not isinstance(entries, list):
        return None, f'detections is {type(entries).__name__}, not a list'
    return entries, ''
