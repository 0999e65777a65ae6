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
The learned back-end: a small single-frame vehicle network shipped with the package.

:class:`LearnedDetector` runs ``models/vehicle_net.onnx`` with OpenCV's dnn module
(CPU, no other dependency). The network sees one frame, so it needs no background
model: dense queues, stop-and-go and vehicles seen only by their lamps are found the
same way as a lone car by day. It is a centre-point detector (the CenterNet / TTFNet
family): at a quarter of the input resolution it gives, per cell, the likelihood that a
vehicle's centre lies there, the box size and the centre's offset within the cell.

It was trained by ``tools/train_vehicle_net.py`` on frames of the domain-randomised
camera (:mod:`framebridge_ros.core.simulation.randomised`, training seeds only, apart
from the bench's tuning and held-out seeds), with photometric and scale augmentation on
top, so that it learns vehicles, not one renderer. docs/ANALYSIS.md has its figures.
"""

from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple

import cv2
from framebridge_ros.core.analysis.detector import Detection, Detector, DetectorError
from framebridge_ros.core.share import shipped_file
import numpy as np

__all__ = [
    'LearnedDetector',
    'COARSE_WIDTH',
    'PROCESS_WIDTH',
    'STRIDE',
    'TRAINING_WIDTH',
    'default_model_path',
    'input_size',
]

# The network was trained on frames scaled to TRAINING_WIDTH, with scale augmentation of
# 0.75 to 1.3 on top; it runs at 1.25x that, inside the trained range, so a far vehicle
# covers more output cells: on the tuning seeds, the same network's night dense recall
# went from 0.83 at 512 to 0.88 at 640 (docs/ANALYSIS_HISTORY.md, session 5).
TRAINING_WIDTH = 512
PROCESS_WIDTH = 640
STRIDE = 4
# At 640 a vehicle near the camera (over 15 % of the frame's height) is larger than most
# the network saw in training, and its recall falls (0.79 at 20-25 %, tuning seeds). A
# second pass at COARSE_WIDTH sees it at a size it knows. As with SNIP's valid ranges
# (Singh and Davis, 2018) each pass answers for the sizes it handles: the coarse one
# only for boxes at least _COARSE_MIN_CELLS of its cells tall (14 % of the frame),
# about where the fine pass begins to miss; below that its boxes add false ones at night.
COARSE_WIDTH = 384
_COARSE_MIN_CELLS = 8
_MODEL_NAME = 'vehicle_net.onnx'


def input_size(width: int, height: int, process_width: int = PROCESS_WIDTH) -> Tuple[int, int]:
    """Return the network input (w, h) for a frame: process_width wide, rows by 32s."""
    if width <= 0 or height <= 0:
        raise ValueError(f'frame size must be positive, got {width}x{height}')
    rows = max(32, int(round(height * process_width / width / 32.0)) * 32)
    return process_width, rows


def default_model_path() -> Path:
    """Return the shipped network: the installed share folder, else the source tree."""
    return shipped_file('models', _MODEL_NAME) or Path('models') / _MODEL_NAME


def decode_centres(out: np.ndarray, *, threshold: float, scale: Tuple[float, float],
                   frame: Tuple[int, int]) -> List[Tuple[Tuple[int, int, int, int], float]]:
    """
    Return (box, score) pairs from the network's [5, h, w] output.

    Channel 0 is the centre likelihood, 1-2 the log box size in cells, 3-4 the centre
    offset in the cell. A centre is a cell that is the largest of its 3x3 neighbours;
    scale maps input pixels back to the frame's, frame (w, h) clips the boxes.
    """
    heat = out[0]
    peaks = (heat >= threshold) & (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8)))
    ys, xs = np.nonzero(peaks)
    sx, sy = scale
    width, height = frame
    found = []
    for y, x in zip(ys, xs):
        w = float(np.exp(out[1, y, x])) * STRIDE
        h = float(np.exp(out[2, y, x])) * STRIDE
        cx = (x + float(out[3, y, x])) * STRIDE
        cy = (y + float(out[4, y, x])) * STRIDE
        x0 = max(0.0, (cx - w / 2) * sx)
        y0 = max(0.0, (cy - h / 2) * sy)
        x1 = min(float(width), (cx + w / 2) * sx)
        y1 = min(float(height), (cy + h / 2) * sy)
        if x1 - x0 >= 1.0 and y1 - y0 >= 1.0:
            box = (int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
            found.append((box, float(heat[y, x])))
    return found


class LearnedDetector(Detector):
    """
    The shipped vehicle network (or one of the same layout at model_path), on the CPU.

    ``threshold`` is the centre likelihood a detection needs before the analyser's own
    score threshold; ``nms_threshold`` the IoU over which the weaker of two boxes goes;
    ``coarse_width`` the width of the pass for large vehicles (0: none).
    """

    name = 'learned'

    def __init__(self, model_path: str = '', *, threshold: float = 0.2,
                 nms_threshold: float = 0.5, process_width: int = PROCESS_WIDTH,
                 coarse_width: int = COARSE_WIDTH) -> None:
        model = Path(model_path) if model_path else default_model_path()
        if not model.is_file():
            raise DetectorError(f'learned vehicle model {str(model)!r} not found: set '
                                'model_path, or reinstall the package (it ships one)')
        self.model_path = model
        self.threshold = float(threshold)
        self.nms_threshold = float(nms_threshold)
        self.process_width = int(process_width)
        self.coarse_width = int(coarse_width)
        # One network per pass: OpenCV re-plans a network whose input shape changes, which
        # cost more than the coarse pass itself when the two shared one.
        self._nets = {width: self._read(model)
                      for width in (self.process_width, self.coarse_width) if width > 0}
        try:  # a network of another layout fails here, at configure, not on a frame
            out = self._forward(self._nets[self.process_width],
                                np.full((288, 512, 3), 96, np.uint8), (512, 288))
        except cv2.error as error:
            raise DetectorError(f'OpenCV cannot run the vehicle model {model}: '
                                f'{str(error).strip().splitlines()[-1]}') from error
        if out.ndim != 3 or out.shape[0] != 5:
            raise DetectorError(f'vehicle model output {tuple(out.shape)} is not the '
                                'centre-point layout [1, 5, h, w]')

    @staticmethod
    def _read(model: Path) -> Any:
        try:
            return cv2.dnn.readNetFromONNX(str(model))
        except cv2.error as error:
            raise DetectorError(f'OpenCV cannot read the vehicle model {model}: '
                                f'{str(error).strip().splitlines()[-1]}') from error

    @staticmethod
    def _forward(net: Any, image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        blob = cv2.dnn.blobFromImage(image, 1.0 / 255.0, size, (0.0, 0.0, 0.0),
                                     swapRB=True, crop=False)
        net.setInput(blob)
        return net.forward()[0]

    def _pass(self, image: np.ndarray,
              width: int) -> List[Tuple[Tuple[int, int, int, int], float]]:
        h, w = image.shape[:2]
        net_w, net_h = input_size(w, h, width)
        out = self._forward(self._nets[width], image, (net_w, net_h))
        return decode_centres(out, threshold=self.threshold,
                              scale=(w / net_w, h / net_h), frame=(w, h))

    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        h, w = image.shape[:2]
        found = self._pass(image, self.process_width)
        if self.coarse_width > 0:
            rows = input_size(w, h, self.coarse_width)[1]
            tall = _COARSE_MIN_CELLS * STRIDE * h / rows
            found += [(box, score) for box, score in self._pass(image, self.coarse_width)
                      if box[3] >= tall]
        if not found:
            return []
        keep = cv2.dnn.NMSBoxes([list(b) for b, _ in found], [s for _, s in found],
                                self.threshold, self.nms_threshold)
        return [Detection(box=found[int(i)][0], score=round(found[int(i)][1], 3),
                          cls='vehicle') for i in np.array(keep).flatten()]
