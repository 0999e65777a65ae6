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

"""The IMX500 SSD decoder on hand-built tensors, as picamera2 and rpicam-still give them."""

import json
import struct

from framebridge_ros.core.cameras.imx500_tensor import (
    COCO_LABELS, decode_ssd, frame_inference, parse_scaler_crop, parse_tensor_info,
    rpicam_inference, split_tensor, TensorError)
import numpy as np
import pytest

FULL = (0, 0, 4056, 3040)


def info_bytes(shapes, *, name=b'ssd_test', frame_count=None, count=None):
    """Pack CnnOutputTensorInfo by hand: name[64], u32 count, 16 x (u32, u32, u16[16])."""
    raw = name.ljust(64, b'\0') + struct.pack('<I', len(shapes) if count is None else count)
    for index in range(16):
        shape = list(shapes[index]) if index < len(shapes) else []
        raw += struct.pack('<II', int(np.prod(shape)) if shape else 0, len(shape))
        raw += struct.pack('<16H', *(shape + [0] * (16 - len(shape))))
    if frame_count is not None:
        raw += bytes([frame_count, 0, 0, 0])
    return raw


def ssd_rows(rows, n=None, count=None):
    """Return the planar 6N + 1 tensor: ymin.., xmin.., ymax.., xmax.., scores, ids, count."""
    n = len(rows) if n is None else n
    planes = np.zeros((6, n), np.float32)
    for i, ((ymin, xmin, ymax, xmax), score, class_id) in enumerate(rows):
        planes[:, i] = (ymin, xmin, ymax, xmax, score, class_id)
    return [float(v) for v in planes.ravel()] + [float(len(rows) if count is None else count)]


def ssd_info(n, **kwargs):
    return info_bytes([(n, 4), (n,), (n,), (1,)], **kwargs)


def outputs_of(rows, n=None, count=None):
    n = len(rows) if n is None else n
    return split_tensor(ssd_rows(rows, n, count), parse_tensor_info(ssd_info(n)))


def test_info_layout_712_and_708_bytes():
    with_count = info_bytes([(10, 4), (10,), (10,), (1,)], name=b'net', frame_count=7)
    assert len(with_count) == 712
    info = parse_tensor_info(with_count)
    assert info.network_name == 'net' and info.frame_count == 7
    assert info.shapes == ((10, 4), (10,), (10,), (1,)) and info.data_nums == (40, 10, 10, 1)
    older = parse_tensor_info(list(with_count[:708]))  # JSON gives a list of byte values
    assert older.shapes == info.shapes and older.frame_count is None


def test_box_order_is_ymin_xmin_ymax_xmax_planar():
    # Two rows, so a row-major reading (x and y swapped across rows) would differ.
    rows = [((0.10, 0.20, 0.50, 0.60), 0.9, 2), ((0.30, 0.05, 0.40, 0.25), 0.8, 7)]
    found = decode_ssd(outputs_of(rows), scaler_crop=FULL, threshold=0.5)
    assert [d['class'] for d in found] == ['car', 'truck']
    assert found[0]['box'] == pytest.approx([0.20, 0.10, 0.40, 0.40], abs=1e-4)
    assert found[1]['box'] == pytest.approx([0.05, 0.30, 0.20, 0.10], abs=1e-4)
    assert found[0]['score'] == pytest.approx(0.9, abs=1e-4)


def test_picamera2_batch_axis_is_accepted():
    rows = [((0.1, 0.2, 0.5, 0.6), 0.9, 2)]
    batched = [np.expand_dims(o, 0) for o in outputs_of(rows)]
    assert decode_ssd(batched, scaler_crop=FULL, threshold=0.5)[0]['box'] == pytest.approx(
        [0.2, 0.1, 0.4, 0.4], abs=1e-4)


@pytest.mark.parametrize('crop, box, expected', [
    # 4:3 output, full sensor: inference fractions are image fractions.
    (FULL, (0.25, 0.5, 0.75, 0.75), [0.5, 0.25, 0.25, 0.5]),
    # 16:9 output: rows 440..2720 of the sensor (2281 rows); y = (y * 3040 - 440) / 2281.
    ((0, 440, 4056, 2281), (0.25, 0.5, 0.75, 0.75),
     [0.5, (760 - 440) / 2281, 0.25, (2280 - 760) / 2281]),
    # A box reaching above the 16:9 band is clipped to its top edge.
    ((0, 440, 4056, 2281), (0.05, 0.1, 0.30, 0.2), [0.1, 0.0, 0.1, (912 - 440) / 2281]),
    # 4:3 digital zoom on the centre quarter: x = (x * 4056 - 1014) / 2028.
    ((1014, 760, 2028, 1520), (0.5, 0.5, 0.9, 0.9),
     [0.5, 0.5, 0.5, 0.5]),
])
def test_scaler_crop_maps_boxes_to_the_image(crop, box, expected):
    found = decode_ssd(outputs_of([(box, 0.9, 0)]), scaler_crop=crop, threshold=0.5)
    assert found[0]['class'] == 'person'
    assert found[0]['box'] == pytest.approx(expected, abs=2e-4)


def test_a_box_outside_the_crop_is_dropped():
    found = decode_ssd(outputs_of([((0.0, 0.1, 0.1, 0.2), 0.9, 2)]),
                       scaler_crop=(0, 440, 4056, 2281), threshold=0.5)
    assert found == []


def test_coco_gaps_and_ids_out_of_range():
    assert len(COCO_LABELS) == 90 and COCO_LABELS[0] == 'person' and COCO_LABELS[11] == '-'
    rows = [((0.1, 0.1, 0.2, 0.2), 0.9, 11), ((0.1, 0.1, 0.2, 0.2), 0.9, 12),
            ((0.1, 0.1, 0.2, 0.2), 0.9, 90), ((0.1, 0.1, 0.2, 0.2), 0.9, 89.0),
            ((0.1, 0.1, 0.2, 0.2), 0.9, -1)]
    found = decode_ssd(outputs_of(rows), scaler_crop=FULL, threshold=0.5)
    assert [d['class'] for d in found] == ['stop sign', 'toothbrush']


def test_count_smaller_than_n_threshold_and_classes():
    rows = [((0.1, 0.1, 0.2, 0.2), 0.9, 2), ((0.1, 0.1, 0.2, 0.2), 0.4, 2),
            ((0.1, 0.1, 0.2, 0.2), 0.9, 0), ((0.1, 0.1, 0.2, 0.2), 0.95, 7)]
    outputs = outputs_of(rows, n=10, count=3)  # the 4th row is past count: not valid
    found = decode_ssd(outputs, scaler_crop=FULL, threshold=0.5)
    assert [d['class'] for d in found] == ['car', 'person']
    assert [d['class'] for d in decode_ssd(outputs, scaler_crop=FULL, threshold=0.3,
                                           classes=['car'])] == ['car', 'car']
    # A count above N is clamped to N, as rpicam-apps does.
    assert len(decode_ssd(outputs_of(rows, n=4, count=50), scaler_crop=FULL,
                          threshold=0.5)) == 3


@pytest.mark.parametrize('raw, message', [
    (b'\0' * 100, '100 bytes, expected 708 or 712'),
    (info_bytes([(10, 4)], count=0), 'names 0 tensors'),
    (info_bytes([(10, 4)], count=17), 'names 17 tensors'),
    (info_bytes([(10, 4)])[:68] + struct.pack('<II', 41, 2) + info_bytes([(10, 4)])[76:],
     'does not hold its 41 values'),
    ('not bytes', 'not a byte array'),
    ([300] * 712, 'not a byte array'),
])
def test_malformed_info_is_a_clear_error(raw, message):
    with pytest.raises(TensorError, match=message):
        parse_tensor_info(raw)


def test_truncated_or_mismatched_tensors_are_clear_errors():
    info = parse_tensor_info(ssd_info(10))
    with pytest.raises(TensorError, match='has 60 values, its info describes 61'):
        split_tensor(ssd_rows([], 10)[:60], info)
    with pytest.raises(TensorError, match='not a list of numbers'):
        split_tensor(['x'] * 61, info)
    three = parse_tensor_info(info_bytes([(10, 4), (10,), (10,)]))
    with pytest.raises(TensorError, match='4 output tensors, this one 3'):
        decode_ssd(split_tensor([0.0] * 60, three), scaler_crop=FULL, threshold=0.5)
    wrong = parse_tensor_info(info_bytes([(10, 4), (9,), (10,), (1,)]))
    with pytest.raises(TensorError, match='do not agree'):
        decode_ssd(split_tensor([0.0] * 60, wrong), scaler_crop=FULL, threshold=0.5)
    nan_count = outputs_of([((0.1, 0.1, 0.2, 0.2), 0.9, 2)], count=float('nan'))
    with pytest.raises(TensorError, match='not a count'):
        decode_ssd(nan_count, scaler_crop=FULL, threshold=0.5)


@pytest.mark.parametrize('text, crop', [
    ('(0, 440)/4056x2281', (0, 440, 4056, 2281)), ((1, 2, 3, 4), (1, 2, 3, 4)),
    ([0, 0, 4056, 3040], FULL)])
def test_scaler_crop_forms(text, crop):
    assert parse_scaler_crop(text) == crop


@pytest.mark.parametrize('bad', ['0, 0, 4056, 3040', (0, 0, 0, 3040), None, (1, 2)])
def test_bad_scaler_crop(bad):
    with pytest.raises(TensorError, match='ScalerCrop'):
        parse_scaler_crop(bad)


def _rpicam_json(**keys):
    """Round-trip through JSON as rpicam-still --metadata-format json writes it."""
    return json.loads(json.dumps({'ExposureTime': 1000, 'SensorTimestamp': 123, **keys}))


def test_rpicam_metadata_json_decodes_like_picamera2():
    rows = [((0.10, 0.20, 0.50, 0.60), 0.9, 2)]
    camera = _rpicam_json(CnnOutputTensor=ssd_rows(rows, 5),
                          CnnOutputTensorInfo=list(ssd_info(5, name=b'rpicam_net')),
                          ScalerCrop='(0, 0)/4056x3040', CnnKpiInfo=[9000, 2000])
    result = rpicam_inference(camera, threshold=0.5, classes=None)
    assert result.reason == '' and result.detections[0]['class'] == 'car'
    assert result.detections[0]['box'] == pytest.approx([0.2, 0.1, 0.4, 0.4], abs=1e-4)
    assert result.fields['detections_network'] == 'rpicam_net'
    assert result.fields['detections_sensor_timestamp_ns'] == 123
    assert result.fields['inference_dnn_runtime_ms'] == 9.0


@pytest.mark.parametrize('keys, reason', [
    ({}, 'no CnnOutputTensor'),
    ({'CnnOutputTensorInfo': list(ssd_info(5))}, 'no CnnOutputTensor'),
    ({'CnnOutputTensor': [0.0] * 30, 'CnnOutputTensorInfo': list(ssd_info(5))},
     'not decodable: CnnOutputTensor has 30 values'),
    ({'CnnOutputTensor': [0.0] * 31, 'CnnOutputTensorInfo': [1, 2, 3]},
     'not decodable: CnnOutputTensorInfo is 3 bytes'),
    ({'CnnOutputTensor': ssd_rows([], 5), 'CnnOutputTensorInfo': list(ssd_info(5)),
      'ScalerCrop': 'garbage'}, 'not decodable: ScalerCrop'),
])
def test_frames_without_a_usable_tensor_have_no_information(keys, reason):
    result = rpicam_inference(_rpicam_json(**keys), threshold=0.5, classes=None)
    assert result.detections is None and reason in result.reason


def test_no_tensor_is_null_not_an_empty_list():
    result = frame_inference(outputs=None, camera={}, threshold=0.5, classes=None)
    assert result.detections is None and result.reason
    empty = frame_inference(outputs=outputs_of([], n=5), camera={}, threshold=0.5,
                            classes=None)
    assert empty.detections == [] and empty.reason == ''
