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
The detector interface every back-end implements, and what it returns.

A back-end is a :class:`Detector`: ``detect(image, metadata=...)`` gives a list of
:class:`Detection` (a box in pixels of the analysed image, a score, a class name). A
back-end that cannot start raises :class:`DetectorError` saying why.
"""

import abc
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

import numpy as np

__all__ = [
    'Box',
    'Detection',
    'Detector',
    'DetectorError',
    'VEHICLE_CLASSES',
]

Box = Tuple[int, int, int, int]

VEHICLE_CLASSES = ('car', 'motorcycle', 'bus', 'truck')


@dataclass(frozen=True)
class Detection:
    """One detected object: box [x, y, w, h] in pixels of the analysed image."""

    box: Tuple[int, int, int, int]
    score: float
    cls: str = 'vehicle'

    @property
    def ground(self) -> Tuple[float, float]:
        """Bottom centre: where the object touches the road."""
        x, y, w, h = self.box
        return (x + w / 2.0, y + h)


class Detector(abc.ABC):
    """A source of detections for one image stream (back-ends may keep state)."""

    name = 'detector'

    @abc.abstractmethod
    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        """Return the detections in a BGR image; metadata is the frame's, if known."""

    @property
    def ready(self) -> bool:
        """Return False while the back-end cannot yet be trusted (a model still learning)."""
        return True

    @property
    def status(self) -> str:
        """Return one word on the last frame: ok, warming_up, lighting_change, ..."""
        return 'ok'

    def reset(self) -> None:
        """Forget whatever was learned from earlier frames."""


class DetectorError(RuntimeError):
    """A back-end cannot start: a missing or unreadable model, a bad setting."""
