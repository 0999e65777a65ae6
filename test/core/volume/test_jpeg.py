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

import cv2
from framebridge_ros.core.volume.jpeg import decode_jpeg, inspect_jpeg, InvalidJpegError
import numpy as np
import pytest


@pytest.fixture(scope='module')
def jpeg():
    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (9, 9), 3)
    return image, cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def test_inspect_reads_size_without_decoding(jpeg):
    info = inspect_jpeg(jpeg[1])
    assert (info.width, info.height, info.components) == (320, 240, 3)


@pytest.mark.parametrize('mangle, message', [
    (lambda data: b'', 'too small'),
    (lambda data: data[:len(data) // 2], 'truncated'),
    (lambda data: data[:-2], 'truncated'),
    (lambda data: b'GIF89a' + data[6:], 'not a JPEG'),
    (lambda data: b'\xff\xd8' + b'\x00' * 200 + b'\xff\xd9', 'frame header'),
    (lambda data: data[:2] + b'\xff\xda\x00\x08' + data[4:], 'frame header'),
])
def test_broken_jpegs_are_refused_with_a_reason(jpeg, mangle, message):
    with pytest.raises(InvalidJpegError, match=message):
        inspect_jpeg(mangle(jpeg[1]))


def test_min_bytes(jpeg):
    with pytest.raises(InvalidJpegError, match='too small'):
        inspect_jpeg(jpeg[1], min_bytes=len(jpeg[1]) + 1)


def test_trailing_zero_padding_is_accepted(jpeg):
    assert inspect_jpeg(jpeg[1] + b'\x00' * 16).width == 320


@pytest.mark.parametrize('scale, shape', [
    (1.0, (240, 320, 3)), (0.5, (120, 160, 3)), (0.25, (60, 80, 3)), (0.125, (30, 40, 3))])
def test_decode_scales_with_dct(jpeg, scale, shape):
    image = decode_jpeg(jpeg[1], scale=scale)
    assert image.shape == shape and image.dtype == np.uint8


def test_decode_full_size_matches_opencv(jpeg):
    expected = cv2.imdecode(np.frombuffer(jpeg[1], np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decode_jpeg(jpeg[1]), expected)


def test_decode_rejects_garbage_and_bad_scale(jpeg):
    with pytest.raises(InvalidJpegError):
        decode_jpeg(b'\xff\xd8' + b'\x13' * 100 + b'\xff\xd9')
    with pytest.raises(ValueError, match='scale'):
        decode_jpeg(jpeg[1], scale=0.3)
