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

"""The camera back-end that the `source` parameter names, built from the parameters."""

from typing import Any, Dict

from framebridge_ros.core.cameras.backend import CaptureBackend
from framebridge_ros.core.cameras.rpicam_io import RpicamFrameReader
from framebridge_ros.core.cameras.rpicam_oneshot import RpicamStill
from framebridge_ros.core.volume.layout import VolumeLayout

__all__ = ['SOURCES', 'make_backend']

SOURCES = ('rpicam', 'persistent', 'picamera2', 'simulated')


def make_backend(params: Dict[str, Any]) -> CaptureBackend:
    """Build the back-end that params['source'] names, configured from params."""
    source = params['source']
    if source == 'simulated':
        from framebridge_ros.core.cameras.simulated import SimulatedCamera
        return SimulatedCamera(width=params['width'], height=params['height'],
                               quality=params['quality'], seed=params['simulated_seed'],
                               day_cycle_s=params['simulated_day_cycle_s'])
    if source == 'picamera2':
        from framebridge_ros.core.cameras.picamera2_imx500 import Picamera2Camera
        return Picamera2Camera(
            width=params['width'], height=params['height'], quality=params['quality'],
            timeout_s=params['camera_timeout_s'], model=params['imx500_model'],
            threshold=params['detection_threshold'], classes=params['detection_classes'])
    reader = RpicamFrameReader(threshold=params['detection_threshold'],
                               classes=params['detection_classes'],
                               extra_args=params['extra_args'])
    options = {'command': params['camera_command'], 'width': params['width'],
               'height': params['height'], 'quality': params['quality'],
               'timeout_s': params['camera_timeout_s'], 'extra_args': params['extra_args'],
               'reader': reader}
    if source == 'persistent':
        from framebridge_ros.core.cameras.rpicam_persistent import PersistentRpicamStill
        return PersistentRpicamStill(
            fallback=RpicamStill(**options),
            work_dir=VolumeLayout.at(params['capture_dir']).tmp, **options)
    return RpicamStill(**options)
