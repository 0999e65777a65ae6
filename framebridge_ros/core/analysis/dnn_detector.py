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
The dnn back-end: a COCO detector (SSD or YOLO style output) run by OpenCV's dnn module.

See :class:`DnnDetector`; settings :class:`DnnConfig`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import cv2
from framebridge_ros.core.analysis.detector import (
    Detection, Detector, DetectorError, VEHICLE_CLASSES)
import numpy as np

__all__ = [
    'DnnConfig',
    'DnnDetector',
    'parse_mean',
]

# COCO class names by the 0-based index of the 80 contiguous classes (YOLO, ONNX
# exports) and by the 1-based ids with gaps of the 90-id TensorFlow/Caffe SSD models.
_COCO80 = {0: 'person', 1: 'bicycle', 2: 'car', 3: 'motorcycle', 5: 'bus', 7: 'truck'}
_COCO90 = {1: 'person', 2: 'bicycle', 3: 'car', 4: 'motorcycle', 6: 'bus', 8: 'truck'}
_COCO_CLASSES = 80


def parse_mean(values: Sequence[float]) -> Tuple[float, ...]:
    """Return a dnn input mean of 1 or 3 values in 0..255; ValueError saying what is wrong."""
    mean = tuple(float(v) for v in values)
    if len(mean) not in (1, 3):
        raise ValueError(f'takes 1 value or 3 (one per channel), got {len(mean)}')
    if not all(0.0 <= v <= 255.0 for v in mean):
        raise ValueError(f'values must be within 0..255, got {list(mean)}')
    return mean


@dataclass(frozen=True)
class DnnConfig:
    """
    Settings of :class:`DnnDetector`.

    ``input_size`` is the network's square input; ``scale`` / ``mean`` / ``swap_rb``
    the blob preprocessing (defaults fit TensorFlow SSD-MobileNet graphs; a YOLO ONNX
    export wants scale 1/255 and mean 0; Caffe SSDs want a per-channel BGR mean).
    ``mean`` is one value for every channel or three, in the blob's channel order.
    ``labels`` name the network's class ids in order (id 0 first) for a model not
    trained on COCO; empty means COCO ids. ``classes`` are the names kept.
    """

    model_path: str
    config_path: str = ''
    input_size: int = 300
    scale: float = 1.0 / 127.5
    mean: Tuple[float, ...] = (127.5,)
    swap_rb: bool = True
    confidence: float = 0.5
    nms_threshold: float = 0.4
    classes: Tuple[str, ...] = VEHICLE_CLASSES
    labels: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a mean that is neither one value nor one per channel."""
        if len(self.mean) not in (1, 3):
            raise ValueError(f'dnn mean takes 1 or 3 values, got {len(self.mean)}')


class DnnDetector(Detector):
    """
    A COCO object detector run with OpenCV's dnn module (CPU), for any camera.

    Reads what ``cv2.dnn.readNet`` reads (TensorFlow .pb + .pbtxt, Caffe, Darknet,
    ONNX). Two output layouts are understood:

    - SSD style: a DetectionOutput blob ``[1, 1, N, 7]`` of
      ``(image, class_id, score, x0, y0, x1, y1)`` normalised; class ids are the 90-id
      COCO ids (1 = person, 3 = car);
    - YOLO style: ``[1, N, 5 + C]`` (v5: centre x, y, w, h, objectness, class scores)
      or ``[1, 4 + C, N]`` (v8: no objectness, transposed), in input pixels; class
      ids are the 80 contiguous COCO indices (0 = person, 2 = car).

    With ``labels`` set, class ids index that list instead of COCO's (and C is its
    length), so a model trained on its own classes works too.

    Boxes below ``confidence`` are dropped, the rest go through per-class NMS at
    ``nms_threshold``, and only ``classes`` are kept.
    """

    name = 'dnn'

    def __init__(self, config: DnnConfig) -> None:
        self.config = config
        model = Path(config.model_path) if config.model_path else None
        if model is None or not model.is_file():
            raise DetectorError(f'dnn model file {config.model_path or "(empty)"!r} not '
                                'found: set model_path to the network file')
        if config.config_path and not Path(config.config_path).is_file():
            raise DetectorError(f'dnn config file {config.config_path!r} not found')
        try:
            self._net = cv2.dnn.readNet(str(model), config.config_path)
        except cv2.error as error:
            raise DetectorError(f'OpenCV cannot read the dnn model {model}: '
                                f'{str(error).strip().splitlines()[-1]}') from error
        self._outputs = self._net.getUnconnectedOutLayersNames()
        self._wanted = frozenset(config.classes)
        self._ssd_names = dict(enumerate(config.labels)) if config.labels else _COCO90
        self._yolo_names = dict(enumerate(config.labels)) if config.labels else _COCO80
        self._yolo_classes = len(config.labels) if config.labels else _COCO_CLASSES
        mean = config.mean if len(config.mean) == 3 else config.mean * 3
        self._mean = tuple(float(v) for v in mean)
        # One pass on a grey frame: a network whose output this class cannot read fails
        # here, at configure, not on the first camera frame (and the first, slow,
        # inference is paid before frames arrive).
        try:
            size = config.input_size
            self.detect(np.full((size, size, 3), 128, np.uint8))
        except cv2.error as error:
            raise DetectorError(f'OpenCV cannot run the dnn model {model}: '
                                f'{str(error).strip().splitlines()[-1]}') from error

    def detect(self, image: np.ndarray, *,
               metadata: Optional[Mapping[str, Any]] = None) -> List[Detection]:
        c = self.config
        h, w = image.shape[:2]
        blob = cv2.dnn.blobFromImage(image, c.scale, (c.input_size, c.input_size),
                                     self._mean, swapRB=c.swap_rb, crop=False)
        self._net.setInput(blob)
        outputs = self._net.forward(self._outputs)
        out = outputs[0]
        if out.ndim == 4 and out.shape[-1] == 7:
            candidates = _ssd_candidates(out.reshape(-1, 7), w, h, names=self._ssd_names)
        elif out.ndim >= 2 and out.size == out.shape[-2] * out.shape[-1]:
            candidates = _yolo_candidates(out.reshape(out.shape[-2], out.shape[-1]),
                                          w, h, c.input_size, names=self._yolo_names,
                                          classes=self._yolo_classes)
        else:
            raise DetectorError(f'dnn output of shape {tuple(out.shape)} is neither an SSD '
                                'DetectionOutput [1, 1, N, 7] nor YOLO rows [1, N, 5 + C] '
                                'or [1, 4 + C, N]: not a detector this back-end reads')
        candidates = [(box, score, cls) for box, score, cls in candidates
                      if score >= c.confidence and cls in self._wanted]
        detections = []
        for cls in sorted({cls for _, _, cls in candidates}):
            group = [(box, score) for box, score, name in candidates if name == cls]
            keep = cv2.dnn.NMSBoxes([list(b) for b, _ in group], [s for _, s in group],
                                    c.confidence, c.nms_threshold)
            for i in np.array(keep).flatten():
                box, score = group[int(i)]
                detections.append(Detection(box=box, score=round(float(score), 3), cls=cls))
        return detections


def _clip_box(x0: float, y0: float, x1: float, y1: float, w: int,
              h: int) -> Tuple[int, int, int, int]:
    x0, y0 = int(round(max(0.0, x0))), int(round(max(0.0, y0)))
    x1, y1 = int(round(min(float(w), x1))), int(round(min(float(h), y1)))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _ssd_candidates(rows: np.ndarray, w: int, h: int, *,
                    names: Mapping[int, str] = _COCO90):
    out = []
    for _, class_id, score, x0, y0, x1, y1 in rows:
        name = names.get(int(class_id))
        if name is not None:
            box = _clip_box(x0 * w, y0 * h, x1 * w, y1 * h, w, h)
            if box[2] > 0 and box[3] > 0:
                out.append((box, float(score), name))
    return out


def _yolo_candidates(rows: np.ndarray, w: int, h: int, size: int, *,
                     names: Mapping[int, str] = _COCO80, classes: int = _COCO_CLASSES):
    widths = (4 + classes, 5 + classes)
    if rows.shape[1] not in widths and rows.shape[0] in widths:
        rows = rows.T  # v8 exports are [4 + classes, N]
    if rows.shape[1] not in widths:
        raise DetectorError(f'dnn output rows of {rows.shape[1]} values fit neither YOLO '
                            f'layout for {classes} classes (set labels for a non-COCO '
                            'model)')
    objectness = rows.shape[1] == 5 + classes
    scores = rows[:, 5:] * rows[:, 4:5] if objectness else rows[:, 4:]
    class_ids = scores.argmax(axis=1)
    best = scores[np.arange(len(rows)), class_ids]
    sx, sy = w / float(size), h / float(size)
    out = []
    for i in np.flatnonzero(best >= 0.05):
        name = names.get(int(class_ids[i]))
        if name is None:
            continue
        cx, cy, bw, bh = rows[i, :4]
        box = _clip_box((cx - bw / 2) * sx, (cy - bh / 2) * sy, (cx + bw / 2) * sx,
                        (cy + bh / 2) * sy, w, h)
        if box[2] > 0 and box[3] > 0:
            out.append((box, float(best[i]), name))
    return out
