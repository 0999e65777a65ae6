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

"""A synthetic roadside scene with ground truth, for machines with no camera."""

from pathlib import Path
import time

import cv2
from framebridge_ros.core.cameras.backend import CameraError, CaptureBackend, CaptureResult
from framebridge_ros.core.volume.layout import explain, write_file_synced

__all__ = ['SimulatedCamera']


class SimulatedCamera(CaptureBackend):
    """A synthetic roadside scene with ground truth, for machines with no camera."""

    source = 'simulated'

    def __init__(self, *, width: int, height: int, quality: int, seed: int = 0,
                 day_cycle_s: float = 0.0) -> None:
        from framebridge_ros.core.simulation.scene import SimulatedScene
        self._scene = SimulatedScene(width=width, height=height, seed=seed,
                                     day_cycle_s=day_cycle_s)
        self._quality = quality
        self._start = time.time()

    def capture(self, destination: Path) -> CaptureResult:
        capture_time = time.time()
        image, truth = self._scene.render(capture_time - self._start)
        ok, encoded = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
        if not ok:
            raise CameraError('OpenCV could not encode the simulated frame')
        try:
            write_file_synced(destination, encoded.tobytes())
        except OSError as error:
            raise CameraError(f'could not write {destination}: {explain(error)}') from error
        return CaptureResult(capture_time=capture_time, ground_truth=truth,
                             camera=self._scene.camera_metadata(capture_time - self._start))
