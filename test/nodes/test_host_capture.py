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

"""host_capture node over real rclpy/DDS, and the whole hand-off end to end."""

import hashlib
import json
import os
import subprocess
import sys

import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from framebridge_ros.core.params import ParameterError
from framebridge_ros.core.volume.layout import frame_stem, list_frames_sorted, VolumeLayout
from framebridge_ros.nodes.frame_provider import FrameProvider
from framebridge_ros.nodes.host_capture import HostCaptureNode
from framebridge_ros.ros_glue import frame_qos, latched_qos, msg_to_image, stamp_to_epoch
from framebridge_testing import Collector, Spinner, wait_for
import numpy as np
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String


def _parameters(**values):
    return [Parameter(name, value=value) for name, value in values.items()]


def _statuses(collector, name):
    return [status for _, array in collector.messages['/diagnostics']
            for status in array.status if status.name == name]


def test_node_captures_and_reports_health(rclpy_context, tmp_path):
    volume = VolumeLayout.at(tmp_path / 'volume')
    node = HostCaptureNode(context=rclpy_context, parameter_overrides=_parameters(
        capture_dir=str(volume.root), source='simulated', width=320, height=240,
        interval_s=0.1, max_images=5))
    collector = Collector(rclpy_context, [('/diagnostics', DiagnosticArray, 10)])
    spinner = Spinner(rclpy_context, node, collector.node)
    try:
        wait_for(lambda: len(list_frames_sorted(volume)) == 5, timeout_s=20,
                 what='five frames')
        wait_for(lambda: any(status.level == DiagnosticStatus.OK for status in
                             _statuses(collector, 'host_capture: capture')),
                 timeout_s=10, what='OK diagnostics')
        status = _statuses(collector, 'host_capture: capture')[-1]
        values = {item.key: item.value for item in status.values}
        assert values['source'] == 'simulated' and int(values['frames_captured']) >= 1

        refused = node.set_parameters(_parameters(interval_s=-1.0))[0]
        assert not refused.successful
        assert node.set_parameters(_parameters(max_images=2))[0].successful
        wait_for(lambda: len(list_frames_sorted(volume)) == 2, timeout_s=20,
                 what='retention with the new max_images')
    finally:
        spinner.close()


def test_node_refuses_to_start_on_bad_parameters(rclpy_context, tmp_path):
    with pytest.raises(ParameterError, match='source'):
        HostCaptureNode(context=rclpy_context, parameter_overrides=_parameters(
            capture_dir=str(tmp_path), source='webcam'))


def test_end_to_end_fake_rpicam_to_subscriber(rclpy_context, tmp_path, fake_camera_env):
    """host_capture (own process, fake rpicam-still) -> volume -> frame_provider -> topics."""
    volume = VolumeLayout.at(tmp_path / 'volume')
    host = subprocess.Popen(
        [sys.executable, '-m', 'framebridge_ros.nodes.host_capture', '--ros-args',
         '-p', f'capture_dir:={volume.root}', '-p', 'source:=rpicam', '-p', 'width:=640',
         '-p', 'height:=480', '-p', 'interval_s:=0.5',
         # Keep every frame in live/ for the test: each one published is compared to it.
         '-p', 'max_images:=1000'],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    provider = FrameProvider(context=rclpy_context, parameter_overrides=_parameters(
        capture_dir=str(volume.root)))
    topics = [('camera/image_raw', Image, frame_qos(5.0)),
              ('camera/image_raw/compressed', CompressedImage, frame_qos(5.0)),
              ('camera/metadata', String, latched_qos())]
    collector = Collector(rclpy_context, topics)
    spinner = Spinner(rclpy_context, provider, collector.node)
    try:
        assert provider.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert provider.trigger_activate() == TransitionCallbackReturn.SUCCESS
        wait_for(lambda: all(collector.count(topic) >= 3 for topic, _, _ in topics),
                 timeout_s=30, what='three frames on every topic')
        by_stamp = {}
        for topic, _, _ in topics:
            for _, message in collector.messages[topic]:
                stamp = (json.loads(message.data)['capture_time'] if topic.endswith('metadata')
                         else stamp_to_epoch(message.header.stamp))
                by_stamp.setdefault(round(stamp, 6), {})[topic] = message
        complete = [entry for entry in by_stamp.values() if len(entry) == 3]
        assert len(complete) >= 2, 'Image, CompressedImage and metadata share stamps'
        for entry in complete:
            metadata = json.loads(entry['camera/metadata'].data)
            frame = volume.live / (frame_stem(capture_time=metadata['capture_time'],
                                              sequence=metadata['sequence']) + '.jpg')
            jpeg = frame.read_bytes()  # every published frame is still there to compare
            published = bytes(entry['camera/image_raw/compressed'].data)
            assert published == jpeg
            assert hashlib.sha256(published).hexdigest() == metadata['sha256']
            expected = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert np.array_equal(msg_to_image(entry['camera/image_raw']), expected)
            assert metadata['source'] == 'rpicam' and 'ExposureTime' in metadata['camera']
    finally:
        spinner.close()
        host.terminate()
        output = host.communicate(timeout=10)[0].decode(errors='replace')
    assert host.returncode in (0, -15), output
