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
The IMX500's on-sensor SSD detections: one decoder for picamera2 and rpicam-still.

Both cameras hand over the same libcamera controls (read from picamera2
``devices/imx500/imx500.py``, rpicam-apps ``post_processing_stages/imx500/`` and the
Raspberry Pi libcamera IPA ``controller.h``; no code copied):

``CnnOutputTensor``
    float32 values of every output tensor, one after the other. The SSD MobileNetV2
    FPNLite 320 "_pp" network gives 6N + 1 of them, planar: N ymin, N xmin, N ymax,
    N xmax (normalised to the inference input), N scores, N class ids (floats into
    the 90-entry COCO list with '-' gaps, 0 = person), then the count of valid rows.
``CnnOutputTensorInfo``
    a little-endian struct: ``char network_name[64]; uint32 num_tensors;`` then 16 x
    ``{uint32 tensor_data_num; uint32 num_dimensions; uint16 size[16];}`` (40 bytes
    each): 708 bytes; newer libcamera appends ``uint8 frameCount`` and pads to 712.
    picamera2's ``get_outputs()`` reshapes each tensor to ``size`` in Fortran order,
    so the boxes come out as (N, 4) rows of (ymin, xmin, ymax, xmax).
``ScalerCrop``
    the sensor crop the image was scaled from, in full-sensor pixels (4056 x 3040):
    a tuple from picamera2, the text ``"(x, y)/wxh"`` in rpicam-still's JSON.

Inference coordinates are fractions of the full sensor (the inference ROI is the whole
sensor unless an application narrows it); a box maps to the JPEG as picamera2's
``convert_inference_coords`` does: ``x_img = (clip(x * 4056, cx, cx + cw) - cx) / cw``,
the same for y with 3040, cy and ch.
"""

from dataclasses import dataclass, field
import math
import re
import struct
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'COCO_LABELS', 'FULL_SENSOR', 'InferenceResult', 'TensorError', 'TensorInfo',
    'decode_ssd', 'frame_inference', 'has_tensor', 'map_box', 'parse_scaler_crop',
    'parse_tensor_info', 'rpicam_inference', 'split_tensor',
]

FULL_SENSOR = (4056, 3040)
NETWORK_NAME_LEN = 64
MAX_TENSORS = 16
MAX_DIMENSIONS = 16
_TENSOR_ENTRY = struct.Struct('<II16H')  # 40 bytes
_INFO_BASE = NETWORK_NAME_LEN + 4 + MAX_TENSORS * _TENSOR_ENTRY.size  # 708
INFO_SIZES = (_INFO_BASE, _INFO_BASE + 4)  # without / with frameCount (padded)

# The labels of the SSD network, by class id: COCO's 90 ids with '-' for unused ones
# (picamera2 examples/imx500/assets/coco_labels.txt, rpicam-apps imx500_mobilenet_ssd.json).
COCO_LABELS = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', '-', 'stop sign', 'parking meter', 'bench', 'bird',
    'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', '-',
    'backpack', 'umbrella', '-', '-', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis',
    'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard',
    'surfboard', 'tennis racket', 'bottle', '-', 'wine glass', 'cup', 'fork', 'knife',
    'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', '-',
    'dining table', '-', '-', 'toilet', '-', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', '-',
    'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
)

_CROP_TEXT = re.compile(r'^\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)\s*/\s*(\d+)\s*x\s*(\d+)$')
# Keys too bulky or too raw for the frame's metadata file once decoded.
RAW_TENSOR_KEYS = ('CnnOutputTensor', 'CnnOutputTensorInfo', 'CnnInputTensor',
                   'CnnInputTensorInfo')


class TensorError(ValueError):
    """An output tensor or its info is malformed; the message says what is wrong."""


@dataclass(frozen=True)
class TensorInfo:
    """The decoded CnnOutputTensorInfo."""

    network_name: str
    shapes: Tuple[Tuple[int, ...], ...]
    data_nums: Tuple[int, ...]
    frame_count: Optional[int] = None


@dataclass
class InferenceResult:
    """What a frame's metadata says about on-sensor detection."""

    detections: Optional[List[Dict[str, Any]]]
    reason: str = ''
    fields: Dict[str, Any] = field(default_factory=dict)


def parse_tensor_info(raw: Any) -> TensorInfo:
    """Decode CnnOutputTensorInfo (bytes, or a list of byte values as JSON has it)."""
    try:
        data = raw if isinstance(raw, (bytes, bytearray)) else bytes(raw)
    except (TypeError, ValueError) as error:
        raise TensorError(f'CnnOutputTensorInfo is not a byte array: {error}') from None
    if len(data) not in INFO_SIZES:
        raise TensorError(f'CnnOutputTensorInfo is {len(data)} bytes, expected '
                          f'{" or ".join(map(str, INFO_SIZES))}')
    name = data[:NETWORK_NAME_LEN].split(b'\0', 1)[0].decode('utf-8', errors='replace')
    (count,) = struct.unpack_from('<I', data, NETWORK_NAME_LEN)
    if not 1 <= count <= MAX_TENSORS:
        raise TensorError(f'CnnOutputTensorInfo names {count} tensors (1..{MAX_TENSORS})')
    shapes, data_nums = [], []
    for index in range(count):
        entry = _TENSOR_ENTRY.unpack_from(data, NETWORK_NAME_LEN + 4
                                          + index * _TENSOR_ENTRY.size)
        data_num, dims, sizes = entry[0], entry[1], entry[2:]
        if not 1 <= dims <= MAX_DIMENSIONS:
            raise TensorError(f'tensor {index} has {dims} dimensions (1..{MAX_DIMENSIONS})')
        shape = tuple(int(size) for size in sizes[:dims])
        if math.prod(shape) != data_num:
            raise TensorError(f'tensor {index}: shape {shape} does not hold its '
                              f'{data_num} values')
        shapes.append(shape)
        data_nums.append(int(data_num))
    frame_count = data[_INFO_BASE] if len(data) > _INFO_BASE else None
    return TensorInfo(network_name=name, shapes=tuple(shapes), data_nums=tuple(data_nums),
                      frame_count=frame_count)


def split_tensor(values: Sequence[float], info: TensorInfo) -> List[np.ndarray]:
    """Cut the flat CnnOutputTensor into arrays shaped as picamera2's get_outputs()."""
    try:
        flat = np.asarray(values, dtype=np.float32).ravel()
    except (TypeError, ValueError) as error:
        raise TensorError(f'CnnOutputTensor is not a list of numbers: {error}') from None
    total = sum(info.data_nums)
    if flat.size != total:
        raise TensorError(f'CnnOutputTensor has {flat.size} values, its info describes '
                          f'{total}')
    outputs, offset = [], 0
    for shape, size in zip(info.shapes, info.data_nums):
        outputs.append(flat[offset:offset + size].reshape(shape, order='F'))
        offset += size
    return outputs


def parse_scaler_crop(value: Any) -> Tuple[int, int, int, int]:
    """Return ScalerCrop as (x, y, w, h) from a 4-sequence or rpicam's "(x, y)/wxh" text."""
    if isinstance(value, str):
        match = _CROP_TEXT.match(value.strip())
        if match is None:
            raise TensorError(f'ScalerCrop {value!r} is not "(x, y)/wxh"')
        x, y, w, h = (int(group) for group in match.groups())
    else:
        try:
            x, y, w, h = (int(v) for v in value)
        except (TypeError, ValueError):
            raise TensorError(f'ScalerCrop {value!r} is not (x, y, w, h)') from None
    if w <= 0 or h <= 0:
        raise TensorError(f'ScalerCrop {value!r} is empty')
    return x, y, w, h


def map_box(ymin: float, xmin: float, ymax: float, xmax: float, *,
            scaler_crop: Tuple[int, int, int, int],
            sensor: Tuple[int, int] = FULL_SENSOR) -> Optional[List[float]]:
    """
    Map an inference box to [x, y, w, h] normalised to the image ScalerCrop produced.

    None when nothing of the box lies inside the crop.
    """
    cx, cy, cw, ch = scaler_crop
    x0 = (min(max(xmin * sensor[0], cx), cx + cw) - cx) / cw
    x1 = (min(max(xmax * sensor[0], cx), cx + cw) - cx) / cw
    y0 = (min(max(ymin * sensor[1], cy), cy + ch) - cy) / ch
    y1 = (min(max(ymax * sensor[1], cy), cy + ch) - cy) / ch
    if x1 <= x0 or y1 <= y0:
        return None
    return [round(x0, 5), round(y0, 5), round(x1 - x0, 5), round(y1 - y0, 5)]


def decode_ssd(outputs: Sequence[np.ndarray], *, scaler_crop: Tuple[int, int, int, int],
               threshold: float, classes: Optional[Sequence[str]] = None,
               labels: Sequence[str] = COCO_LABELS) -> List[Dict[str, Any]]:
    """
    Return the detections of the 4 SSD outputs (boxes, scores, classes, count).

    A leading batch axis of 1 (get_outputs(add_batch=True)) is accepted. Rows beyond
    count, under threshold, with an id outside labels or a '-' label, not in classes
    (when given), or whose box misses the crop are left out.
    """
    if len(outputs) != 4:
        raise TensorError(f'an SSD detector gives 4 output tensors, this one {len(outputs)}')
    try:
        boxes, scores, ids, count = (np.asarray(o, dtype=np.float32) for o in outputs)
    except (TypeError, ValueError) as error:
        raise TensorError(f'SSD outputs are not numeric arrays: {error}') from None
    if boxes.ndim == 3 and boxes.shape[0] == 1:
        boxes = boxes[0]  # the batch axis of get_outputs(add_batch=True)
    scores, ids = scores.ravel(), ids.ravel()
    rows = scores.size
    if boxes.shape != (rows, 4) or ids.size != rows or count.size != 1:
        raise TensorError(f'SSD tensors do not agree: boxes {tuple(boxes.shape)}, scores '
                          f'{rows}, classes {ids.size}, count {count.size} value(s)')
    valid = float(count.ravel()[0])
    if not math.isfinite(valid) or valid < 0:
        raise TensorError(f'SSD detection count {valid} is not a count')
    keep = None if classes is None else frozenset(classes)
    found = []
    for row in range(min(rows, int(valid))):
        score, class_id = float(scores[row]), float(ids[row])
        if not (math.isfinite(score) and score >= threshold and math.isfinite(class_id)):
            continue
        index = int(class_id)
        if not 0 <= index < len(labels) or labels[index] in ('', '-'):
            continue
        name = labels[index]
        if keep is not None and name not in keep:
            continue
        ymin, xmin, ymax, xmax = (float(v) for v in boxes[row])
        if not all(math.isfinite(v) for v in (ymin, xmin, ymax, xmax)):
            continue
        box = map_box(ymin, xmin, ymax, xmax, scaler_crop=scaler_crop)
        if box is not None:
            found.append({'box': box, 'score': round(score, 4), 'class': name})
    return found


def frame_inference(*, outputs: Optional[Sequence[np.ndarray]], camera: Mapping[str, Any],
                    threshold: float, classes: Optional[Sequence[str]],
                    network: str = '') -> InferenceResult:
    """
    Decode one frame's detections and the fields its metadata gains.

    outputs are the arrays of get_outputs(), or None when the frame has no tensor;
    camera is the frame's libcamera metadata (ScalerCrop, SensorTimestamp, CnnKpiInfo).
    A frame that has no tensor, or one that cannot be decoded, gets detections None and
    a reason: never an empty list, which would mean "no objects".
    """
    fields: Dict[str, Any] = {'detections_network': network or None}
    if 'SensorTimestamp' in camera:
        fields['detections_sensor_timestamp_ns'] = camera['SensorTimestamp']
    kpi = camera.get('CnnKpiInfo')
    if isinstance(kpi, (list, tuple)) and len(kpi) >= 2:
        fields['inference_dnn_runtime_ms'] = round(float(kpi[0]) / 1000.0, 3)
        fields['inference_dsp_runtime_ms'] = round(float(kpi[1]) / 1000.0, 3)
    if outputs is None:
        return InferenceResult(None, 'no output tensor on this frame', fields)
    try:
        crop = parse_scaler_crop(camera.get('ScalerCrop', (0, 0) + FULL_SENSOR))
        fields['detections_scaler_crop'] = list(crop)
        found = decode_ssd(outputs, scaler_crop=crop, threshold=threshold, classes=classes)
    except TensorError as error:
        return InferenceResult(None, f'output tensor not decodable: {error}', fields)
    return InferenceResult(found, '', fields)


def has_tensor(camera: Mapping[str, Any]) -> bool:
    """Tell whether libcamera metadata carries an output tensor (or a part of one)."""
    return 'CnnOutputTensor' in camera or 'CnnOutputTensorInfo' in camera


def rpicam_inference(camera: Mapping[str, Any], *, threshold: float,
                     classes: Optional[Sequence[str]]) -> InferenceResult:
    """Decode the detections of an rpicam-still --metadata JSON object (see module doc)."""
    tensor, raw_info = camera.get('CnnOutputTensor'), camera.get('CnnOutputTensorInfo')
    outputs, network, reason = None, '', ''
    if not tensor or raw_info is None:
        reason = "no CnnOutputTensor in this frame's metadata"
    else:
        try:
            info = parse_tensor_info(raw_info)
            outputs, network = split_tensor(tensor, info), info.network_name
        except TensorError as error:
            reason = f'output tensor not decodable: {error}'
    result = frame_inference(outputs=outputs, camera=camera, threshold=threshold,
                             classes=classes, network=network)
    if reason:
        result.reason = reason
    return result
