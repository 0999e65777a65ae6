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

"""The message builders hand the bytes over without copying, and serialize them intact."""

from framebridge_ros.ros_glue import compressed_msg, epoch_to_stamp, image_to_msg, msg_to_image
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

STAMP = epoch_to_stamp(1700000000.25)


def test_compressed_msg_carries_the_jpeg_uncopied_and_serializes_it_intact():
    jpeg = bytes(range(256)) * 4096
    message = compressed_msg(jpeg, stamp=STAMP, frame_id='camera')
    assert message.data is jpeg  # no copy: 1.4 ms of a 4 MB JPEG
    received = deserialize_message(serialize_message(message), CompressedImage)
    assert bytes(received.data) == jpeg and received.format == 'jpeg'
    assert received.header.frame_id == 'camera' and received.header.stamp == STAMP


def test_image_to_msg_refers_to_the_image_and_serializes_every_pixel():
    image = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    image.flags.writeable = False  # as the decode cache hands it out
    message = image_to_msg(image, stamp=STAMP, frame_id='camera')
    assert np.shares_memory(np.asarray(message.data), image)
    received = deserialize_message(serialize_message(message), Image)
    assert (received.height, received.width, received.step) == (48, 64, 192)
    assert np.array_equal(msg_to_image(received), image)


def test_image_to_msg_makes_a_strided_view_contiguous_and_keeps_mono():
    image = np.arange(40 * 30, dtype=np.uint8).reshape(40, 30)[:, ::2]
    received = deserialize_message(
        serialize_message(image_to_msg(image, stamp=STAMP, frame_id='camera')), Image)
    assert received.encoding == 'mono8' and received.step == 15
    assert np.array_equal(msg_to_image(received), image)
