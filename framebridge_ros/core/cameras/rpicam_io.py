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

"""What both rpicam-still back-ends share: argument hygiene, killing, the metadata file."""

import json
import logging
import os
from pathlib import Path
import signal
import subprocess
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from framebridge_ros.core.cameras.backend import capture_time_from_sensor, CaptureResult
from framebridge_ros.core.cameras.imx500_tensor import (
    has_tensor, RAW_TENSOR_KEYS, rpicam_inference)

__all__ = ['RpicamFrameReader', 'clean_args', 'kill_group', 'read_camera_metadata']

_log = logging.getLogger('framebridge.capture')


def clean_args(args: Sequence[str]) -> List[str]:
    return [arg for arg in args if arg]


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        _log.error('camera process %d survived SIGKILL', process.pid)


_MAX_CAMERA_METADATA_BYTES = 256 * 1024


def read_camera_metadata(path: Path) -> Tuple[Optional[Dict[str, Any]], str]:
    """
    Return (the camera's --metadata JSON object, '') or (None, why it was dropped).

    The camera's own metadata is a bonus: a frame without it is still a frame, but
    the caller counts and reports the reason (the sky analyser loses its Lux evidence).
    """
    try:
        size = path.stat().st_size
        if size > _MAX_CAMERA_METADATA_BYTES:
            return None, (f'camera metadata is {size} bytes, over the '
                          f'{_MAX_CAMERA_METADATA_BYTES} byte limit')
        camera = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None, 'the camera wrote no metadata file'
    except OSError as error:
        return None, f'camera metadata cannot be read: {error.strerror}'
    except (ValueError, RecursionError) as error:
        return None, f'camera metadata is not JSON: {error}'
    if not isinstance(camera, dict):
        return None, f'camera metadata holds {type(camera).__name__}, not an object'
    return camera, ''


class RpicamFrameReader:
    """
    Turns an rpicam-still --metadata file into a CaptureResult, detections included.

    The frame's metadata gains on-sensor detections when rpicam-still ran the IMX500
    network (the JSON carries CnnOutputTensor and CnnOutputTensorInfo). Once a tensor
    has been seen, or when the command line names a --post-process-file, a frame
    without one gets detections null with a reason ("no information"), as the
    picamera2 back-end does; a camera that never runs a network gets no such field.
    """

    def __init__(self, *, threshold: float = 0.5, classes: Sequence[str] = (),
                 extra_args: Sequence[str] = ()) -> None:
        self._threshold, self._classes = threshold, list(classes) or None
        self._expect_tensor = any(arg.startswith('--post-process-file')
                                  for arg in extra_args)

    def result(self, metadata_path: Path, *, started: float,
               settle_s: float = 0.0) -> CaptureResult:
        """
        Read the metadata of the frame just taken.

        settle_s: how long a file that is still being written (rpicam-still rewrites it
        in place after each frame, not atomically) may take to become whole JSON.
        """
        deadline = time.monotonic() + settle_s
        camera, problem = read_camera_metadata(metadata_path)
        while problem.startswith('camera metadata is not JSON') and \
                time.monotonic() < deadline:
            time.sleep(0.002)
            camera, problem = read_camera_metadata(metadata_path)
        fields: Dict[str, Any] = {}
        if camera is not None and (self._expect_tensor or has_tensor(camera)):
            self._expect_tensor = True
            inference = rpicam_inference(camera, threshold=self._threshold,
                                         classes=self._classes)
            fields = {'detections': inference.detections, **inference.fields}
            if inference.detections is None:
                fields['detections_reason'] = inference.reason
            camera = {key: value for key, value in camera.items()
                      if key not in RAW_TENSOR_KEYS}
        return CaptureResult(
            capture_time=capture_time_from_sensor(camera, started=started,
                                                  finished=time.time()),
            camera=camera, frame_fields=fields, camera_problem=problem)
