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

"""The detector back-ends by name, and the one place that builds them."""

from typing import Optional, Sequence

from framebridge_ros.core.analysis.detector import Detector, DetectorError
from framebridge_ros.core.analysis.dnn_detector import DnnConfig, DnnDetector
from framebridge_ros.core.analysis.imx500_detector import Imx500Detector
from framebridge_ros.core.analysis.learned_detector import LearnedDetector
from framebridge_ros.core.analysis.motion_detector import MotionConfig, MotionDetector
from framebridge_ros.core.analysis.region import Polygon

__all__ = [
    'BACKENDS',
    'make_detector',
]

BACKENDS = ('learned', 'motion', 'dnn', 'imx500')


def make_detector(backend: str, *, region: Polygon,
                  motion: Optional[MotionConfig] = None,
                  dnn: Optional[DnnConfig] = None,
                  classes: Optional[Sequence[str]] = None,
                  model_path: str = '') -> Detector:
    """Return the back-end named backend; DetectorError saying why it cannot start."""
    if backend == 'learned':
        return LearnedDetector(model_path)
    if backend == 'motion':
        return MotionDetector(motion, region=region)
    if backend == 'dnn':
        if dnn is None:
            raise DetectorError('the dnn back-end needs a model: set model_path')
        return DnnDetector(dnn)
    if backend == 'imx500':
        return Imx500Detector(classes=classes)
    raise DetectorError(f'unknown backend {backend!r}: use one of {", ".join(BACKENDS)}')
