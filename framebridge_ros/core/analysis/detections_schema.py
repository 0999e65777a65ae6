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

"""The ``vehicles/detections`` JSON message (schema version ``SCHEMA_VERSION``)."""

from typing import Any, Dict, Optional

from framebridge_ros.core.analysis.analyzer import FrameAnalysis

__all__ = [
    'SCHEMA_VERSION',
    'detections_message',
]

SCHEMA_VERSION = 1


def detections_message(analysis: FrameAnalysis, *, stamp_sec: int, stamp_nanosec: int,
                       frame_id: str, backend: str,
                       sky_condition: Optional[str]) -> Dict[str, Any]:
    """
    Return the ``vehicles/detections`` JSON object of one frame.

    Schema (version 1)::

        schema_version   1
        stamp            {"sec": int, "nanosec": int}: header.stamp of the source frame
        frame_id         header.frame_id of the source frame
        image_size       [width, height] of the analysed image, pixels
        backend          learned | motion | dnn | imx500
        status           ok | warming_up | lighting_change (motion back-end) |
                         no_information (imx500: the camera gave no result)
        sky_condition    the latest sky/condition label, or null
        threshold        confidence threshold applied (adaptive, in [0.1, 0.9])
        detections       list of {"box": [x, y, w, h] pixels of image_size,
                         "class": str, "score": float 0..1, "track_id": int}
        vehicle_count    len(detections)
        crossings        crossings in this frame: [{"track_id": int, "direction": str}]
        counts           {direction: int}: crossings since the node was configured
        processing_ms    detection + tracking time of this frame
    """
    return {
        'schema_version': SCHEMA_VERSION,
        'stamp': {'sec': int(stamp_sec), 'nanosec': int(stamp_nanosec)},
        'frame_id': frame_id,
        'image_size': list(analysis.image_size),
        'backend': backend,
        'status': analysis.status,
        'sky_condition': sky_condition,
        'threshold': round(analysis.threshold, 3),
        'detections': [
            {'box': [int(v) for v in d.box], 'class': d.cls, 'score': round(d.score, 3),
             'track_id': track_id}
            for d, track_id in zip(analysis.detections, analysis.track_ids)],
        'vehicle_count': len(analysis.detections),
        'crossings': [{'track_id': c.track_id, 'direction': c.direction}
                      for c in analysis.crossings],
        'counts': dict(analysis.counts),
        'processing_ms': round(analysis.processing_ms, 2),
    }
