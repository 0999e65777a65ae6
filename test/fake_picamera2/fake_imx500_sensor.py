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
What the fake IMX500 "sees" and how it packs it: shared by the fake picamera2 package.

Detections come from the simulated scene's ground truth (framebridge_ros.core.
simulation.scene) with misses, false alarms and score noise, and are packed as the real
SSD MobileNetV2 FPNLite "_pp" network's output: 4 tensors, planar, 6N + 1 float32
values (N ymin, N xmin, N ymax, N xmax as fractions of the full 4056x3040 sensor, N
scores, N class ids into the 90-entry COCO list, the count), described by a 712-byte
CnnOutputTensorInfo (network name, 4 tensors of sizes [N, 4], [N], [N], [1] read in
Fortran order as picamera2's get_outputs() does, frameCount). Written from the
layouts in picamera2's imx500.py and rpicam-apps' imx500_object_detection.cpp; it
deliberately does not use the decoder under test.
"""

import random
import struct
from typing import Dict, List, Sequence, Tuple

SENSOR = (4056, 3040)
ROWS = 100  # N: rows the network always outputs; `count` says how many are valid
NETWORK_NAME = 'ssd_mobilenetv2_fpnlite_320x320_pp'
COCO_IDS = {'person': 0, 'bicycle': 1, 'car': 2, 'motorcycle': 3, 'bus': 5, 'truck': 7,
            'traffic light': 9, 'bench': 14, 'dog': 17}


def scaler_crop_for(width: int, height: int) -> Tuple[int, int, int, int]:
    """Return the centred full-sensor crop with the output's aspect ratio, as the ISP uses."""
    sw, sh = SENSOR
    if abs(width * sh - height * sw) <= 0.005 * height * sw:
        return 0, 0, sw, sh  # the sensor's own 4:3
    if width * sh > height * sw:  # wider than 4:3: crop rows
        ch = round(sw * height / width)
        return 0, (sh - ch) // 2, sw, ch
    cw = round(sh * width / height)
    return (sw - cw) // 2, 0, cw, sh


def image_box_to_inference(box: Sequence[float], *, size: Tuple[int, int],
                           crop: Tuple[int, int, int, int]) -> Tuple[float, ...]:
    """Return (ymin, xmin, ymax, xmax), full-sensor fractions, of an image pixel box."""
    x, y, w, h = box
    width, height = size
    cx, cy, cw, ch = crop
    xmin = (cx + x / width * cw) / SENSOR[0]
    xmax = (cx + (x + w) / width * cw) / SENSOR[0]
    ymin = (cy + y / height * ch) / SENSOR[1]
    ymax = (cy + (y + h) / height * ch) / SENSOR[1]
    return ymin, xmin, ymax, xmax


def detections_from_truth(truth: Dict, *, size: Tuple[int, int],
                          crop: Tuple[int, int, int, int], rng: random.Random,
                          miss: float, false_alarms: float,
                          score_noise: float) -> List[Tuple[Tuple[float, ...], float, int]]:
    """Return (box, score, class id) rows the network would give for the scene's truth."""
    rows = []
    width, height = size
    for vehicle in truth.get('vehicles', []):
        if rng.random() < miss:
            continue
        x, y, w, h = vehicle['box']
        jitter = [rng.gauss(0.0, 0.02) for _ in range(4)]  # a network's box is not exact
        box = (x + jitter[0] * w, y + jitter[1] * h, w * (1 + jitter[2]), h * (1 + jitter[3]))
        score = min(0.99, max(0.05, rng.gauss(0.82, score_noise)))
        rows.append((image_box_to_inference(box, size=size, crop=crop), score,
                     COCO_IDS.get(vehicle['class'], COCO_IDS['car'])))
    count = 0
    while rng.random() < false_alarms / (1.0 + false_alarms) and count < 5:
        count += 1  # geometric, mean false_alarms per frame
        w, h = rng.uniform(0.03, 0.15) * width, rng.uniform(0.03, 0.15) * height
        box = (rng.uniform(0, width - w), rng.uniform(0, height - h), w, h)
        rows.append((image_box_to_inference(box, size=size, crop=crop),
                     rng.uniform(0.3, 0.65), rng.choice(list(COCO_IDS.values()))))
    # Low-score leftovers fill some more rows, as a real SSD's top-N does.
    for _ in range(rng.randint(0, 5)):
        rows.append(((rng.random() * 0.5, rng.random() * 0.5, 0.6, 0.6),
                     rng.uniform(0.01, 0.2), rng.choice(list(COCO_IDS.values()))))
    rows.sort(key=lambda row: -row[1])
    return rows[:ROWS]


def pack_output_tensor(rows: Sequence[Tuple[Tuple[float, ...], float, int]]) -> List[float]:
    """Return the planar 6N + 1 float list of the SSD output (padding rows are zeros)."""
    planes = [[0.0] * ROWS for _ in range(6)]
    for index, (box, score, class_id) in enumerate(rows[:ROWS]):
        for plane, value in enumerate(box):
            planes[plane][index] = value
        planes[4][index], planes[5][index] = score, float(class_id)
    flat = [value for plane in planes for value in plane] + [float(len(rows))]
    # float32 as the camera hands them over
    return list(struct.unpack(f'<{len(flat)}f', struct.pack(f'<{len(flat)}f', *flat)))


def pack_tensor_info(*, frame_count: int, name: str = NETWORK_NAME) -> bytes:
    """Return the 712-byte CnnOutputTensorInfo of the SSD output."""
    shapes = [(ROWS, 4), (ROWS,), (ROWS,), (1,)]
    data = bytearray(name.encode()[:63].ljust(64, b'\0'))
    data += struct.pack('<I', len(shapes))
    for index in range(16):
        shape = shapes[index] if index < len(shapes) else ()
        count = 1
        for size in shape:
            count *= size
        sizes = list(shape) + [0] * (16 - len(shape))
        data += struct.pack('<II16H', count if shape else 0, len(shape), *sizes)
    data += struct.pack('<B3x', frame_count % 256)
    assert len(data) == 712
    return bytes(data)
