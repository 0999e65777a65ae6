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

"""A recurring per-frame problem, logged once when it starts and once when it is over."""

import logging
from typing import Any

__all__ = ['Episode']


class Episode:
    """
    A recurring per-frame problem, logged once when it starts and once when it is over.

    It is over after calm_frames frames in a row without it, so a problem on every
    other frame (rpicam-still without --zsl loses the tensor so) is one episode, not a
    log line per frame. started and ended are %-format texts over `problem` and the
    values given to update().
    """

    def __init__(self, *, logger: logging.Logger, started: str, ended: str,
                 calm_frames: int = 30) -> None:
        self._log = logger
        self._started, self._ended = started, ended
        self._calm_frames = calm_frames
        self._active = False
        self._calm = 0

    def update(self, problem: str, **values: Any) -> None:
        """Take this frame's problem ('' for none) and log a start or an end."""
        values = {'problem': problem, **values}
        if problem:
            self._calm = 0
            if not self._active:
                self._active = True
                self._log.warning(self._started, values)
            return
        self._calm += 1
        if self._active and self._calm >= self._calm_frames:
            self._active = False
            self._log.info(self._ended, values)
