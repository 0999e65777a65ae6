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

"""The interface every camera back-end implements, and the capture-time rule they share."""

import abc
from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Any, Dict, Optional

__all__ = ['CameraError', 'CaptureBackend', 'CaptureResult', 'capture_time_from_sensor']


class CameraError(RuntimeError):
    """A capture failed; the message says what happened and what to check."""


@dataclass
class CaptureResult:
    """What a back-end knows about a frame it has just written."""

    capture_time: float
    camera: Optional[Dict[str, Any]] = None
    ground_truth: Optional[Dict[str, Any]] = None
    # Top-level metadata fields: on-sensor `detections` (a list, or None with a
    # `detections_reason`), the network name, sensor timestamp, ScalerCrop, KPIs.
    frame_fields: Dict[str, Any] = field(default_factory=dict)
    # Why the camera's own metadata was dropped for this frame ('' when it was not).
    camera_problem: str = ''


class CaptureBackend(abc.ABC):
    """A camera that writes one complete JPEG per capture() call to a given path."""

    source = ''
    # Shortest sensible time between captures (picamera2: one network inference).
    min_interval_s = 0.0

    @abc.abstractmethod
    def capture(self, destination: Path) -> CaptureResult:
        """Write one JPEG to destination; raise CameraError on failure."""

    def health_values(self) -> Dict[str, Any]:
        """Return back-end specific values for the capture diagnostics."""
        return {}

    def close(self) -> None:
        """Release the camera; safe to call more than once and from another thread."""

    def __enter__(self) -> 'CaptureBackend':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def capture_time_from_sensor(camera: Optional[Dict[str, Any]], *, started: float,
                             finished: float) -> float:
    """
    Return the wall-clock exposure time from the camera's metadata, else the finish time.

    FrameWallClock (epoch ns) is used when present. SensorTimestamp is in nanoseconds
    on a kernel clock (CLOCK_BOOTTIME, or CLOCK_MONOTONIC with some drivers); whichever
    clock puts it inside the capture's own time window is the right one. Falling back
    to the finish time errs towards a frame looking fresher by at most the capture
    duration.
    """
    camera = camera or {}
    wall_ns = camera.get('FrameWallClock')  # newer libcamera: epoch ns of the same moment
    if isinstance(wall_ns, int) and started - 0.5 <= wall_ns / 1e9 <= finished + 0.05:
        return wall_ns / 1e9
    sensor_ns = camera.get('SensorTimestamp')
    if isinstance(sensor_ns, (int, float)) and not isinstance(sensor_ns, bool):
        for clock in (time.CLOCK_BOOTTIME, time.CLOCK_MONOTONIC):
            wall = time.time() - (time.clock_gettime_ns(clock) - sensor_ns) / 1e9
            if started - 0.5 <= wall <= finished + 0.05:
                return wall
    return finished
