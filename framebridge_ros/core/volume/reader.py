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
A drop-in reader of the volume for code that is not a ROS node.

The seed's ContainerCameraInterface API (get_latest_image), an OpenCV VideoCapture-like
face (read, isOpened, release, get) and a Picamera2-like capture_array, all over the
same checks and freshness rule as the frame_provider node (core.frames), so a frame one
refuses the other refuses too.

    from framebridge_ros.core.volume.reader import VolumeReader
    with VolumeReader('/mnt/storage/camera_capture', max_age_s=5.0) as camera:
        ok, image, metadata = camera.get_latest_image()
"""

import logging
import time
from typing import Any, Dict, Optional, Tuple

import cv2
from framebridge_ros.core.volume.frames import DecodeCache, Frame, FrameRejected, load_frame
from framebridge_ros.core.volume.layout import iter_frames, VolumeLayout
import numpy as np

__all__ = ['VolumeReader']

_log = logging.getLogger('framebridge.reader')

# Newest frames tried when the very newest is broken; older ones are only staler.
_CANDIDATES = 5


class VolumeReader:
    """Read the newest fresh frame of a framebridge volume (see the module docstring)."""

    def __init__(self, capture_dir: str, *, max_age_s: float = 5.0, scale: float = 1.0,
                 cache_size: int = 2) -> None:
        self._layout = VolumeLayout.at(capture_dir)
        self._max_age_s, self._scale = max_age_s, scale
        self._cache = DecodeCache(max_entries=cache_size)
        self._opened = True
        self._last: Optional[Frame] = None

    # --- the seed's ContainerCameraInterface ------------------------------------------

    def get_latest_image(self, max_age_seconds: Optional[float] = None
                         ) -> Tuple[bool, Optional[np.ndarray], Optional[Dict[str, Any]]]:
        """Return (True, BGR image, metadata) of the newest fresh frame, else a miss."""
        frame = self.latest_frame(max_age_seconds)
        if frame is None:
            return False, None, None
        try:
            image = self._cache.decode(frame, scale=self._scale)
        except FrameRejected as rejection:
            _log.warning('%s cannot be decoded: %s', frame.name, rejection)
            return False, None, None
        return True, image, frame.metadata

    def latest_frame(self, max_age_seconds: Optional[float] = None) -> Optional[Frame]:
        """Return the newest frame that passes every check, undecoded, or None."""
        if not self._opened:
            return None
        max_age = self._max_age_s if max_age_seconds is None else max_age_seconds
        names = sorted((entry.name for entry in iter_frames(self._layout)), reverse=True)
        for name in names[:_CANDIDATES]:
            try:
                self._last = load_frame(self._layout, self._layout.live / name,
                                        max_age_s=max_age)
                return self._last
            except FrameRejected as rejection:
                if rejection.reason in ('stale', 'future'):
                    _log.debug('newest frame %s refused: %s', name, rejection)
                    return None
                _log.warning('skipping %s: %s', name, rejection)
        return None

    # --- OpenCV VideoCapture-like -----------------------------------------------------

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self._opened and self._layout.live.is_dir()

    def read(self) -> Tuple[bool, Optional[np.ndarray]]:
        ok, image, _ = self.get_latest_image()
        return ok, image

    def get(self, property_id: int) -> float:
        """Answer CAP_PROP_FRAME_WIDTH/HEIGHT (of the last frame read) and CAP_PROP_FPS (0)."""
        if self._last is None:
            self.latest_frame()
        frame = self._last
        if property_id == cv2.CAP_PROP_FRAME_WIDTH:
            return float(frame.width * self._scale) if frame else 0.0
        if property_id == cv2.CAP_PROP_FRAME_HEIGHT:
            return float(frame.height * self._scale) if frame else 0.0
        return 0.0

    def release(self) -> None:
        self._opened = False
        self._cache.clear()

    # --- Picamera2-like ----------------------------------------------------------------

    def capture_array(self, *, timeout_s: float = 5.0, poll_s: float = 0.05) -> np.ndarray:
        """Return the newest fresh frame as an array, waiting up to timeout_s for one."""
        deadline = time.monotonic() + timeout_s
        while True:
            ok, image, _ = self.get_latest_image()
            if ok:
                return image
            if time.monotonic() > deadline:
                raise TimeoutError(f'no frame younger than {self._max_age_s:g} s in '
                                   f'{self._layout.live} within {timeout_s:g} s: is the '
                                   'host capturing?')
            time.sleep(poll_s)

    def __enter__(self) -> 'VolumeReader':
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
