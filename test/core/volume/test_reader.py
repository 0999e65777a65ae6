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

"""The drop-in reader: fresh frames returned, stale and broken ones refused."""

import time

import cv2
from framebridge_ros.core.volume.reader import VolumeReader
from framebridge_testing import write_frame
import numpy as np
import pytest


def test_fresh_frame_is_returned_with_its_metadata(volume):
    _, jpeg, metadata = write_frame(volume)
    with VolumeReader(str(volume.root), max_age_s=5.0) as camera:
        ok, image, read_metadata = camera.get_latest_image()
        assert ok and read_metadata == metadata
        assert np.array_equal(image, cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1))
        assert camera.isOpened()
        assert camera.read()[0]
        assert camera.get(cv2.CAP_PROP_FRAME_WIDTH) == 320.0
        assert camera.get(cv2.CAP_PROP_FRAME_HEIGHT) == 240.0
        assert camera.capture_array().shape == (240, 320, 3)
    assert not camera.isOpened()


def test_stale_frame_is_refused(volume):
    write_frame(volume, capture_time=time.time() - 10)
    camera = VolumeReader(str(volume.root), max_age_s=5.0)
    assert camera.get_latest_image() == (False, None, None)
    assert camera.get_latest_image(max_age_seconds=60)[0]
    with pytest.raises(TimeoutError, match='is the host capturing'):
        camera.capture_array(timeout_s=0.1)


def test_broken_newest_frame_falls_back_to_the_previous_fresh_one(volume):
    _, _, good = write_frame(volume, capture_time=time.time() - 1)
    newer = volume.live / (write_frame(volume)[0].name)
    newer.write_bytes(b'\xff\xd8 broken')
    ok, _, metadata = VolumeReader(str(volume.root)).get_latest_image()
    assert ok and metadata == good


@pytest.mark.parametrize('scale, shape', [(0.5, (120, 160, 3)), (0.25, (60, 80, 3))])
def test_scaled_reading(volume, scale, shape):
    write_frame(volume)
    ok, image, _ = VolumeReader(str(volume.root), scale=scale).get_latest_image()
    assert ok and image.shape == shape


def test_empty_volume(tmp_path):
    camera = VolumeReader(str(tmp_path / 'nothing'))
    assert not camera.isOpened()
    assert camera.get_latest_image() == (False, None, None)
    assert camera.get(cv2.CAP_PROP_FRAME_WIDTH) == 0.0
