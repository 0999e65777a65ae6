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
A filling disk never stops the camera: the graph over real DDS on a real small tmpfs.

Time is compressed by rate: 1280x720 frames every 0.1 s write some 3.5 MB/s, so a
24 MiB disk fills within seconds and is refilled many times over while we watch.
bench/disk_full.py runs the same scenarios for a minute at 1 MB/s and prints figures.
"""

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from framebridge_ros.core.volume.layout import VolumeLayout
from framebridge_ros.nodes.frame_provider import FrameProvider
from framebridge_ros.nodes.host_capture import HostCaptureNode
from framebridge_ros.ros_glue import frame_qos
from framebridge_testing import Collector, Spinner, wait_for
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage
from small_disk import free_bytes, MIB, tmpfs

COMPRESSED = 'camera/image_raw/compressed'


def _parameters(**values):
    return [Parameter(name, value=value) for name, value in values.items()]


class FreeSpaceWatch:
    """Samples free space every 20 ms on a thread; the lowest value is what counts."""

    def __init__(self, path) -> None:
        self.lowest = free_bytes(path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path) -> None:
        while not self._stop.wait(0.02):
            self.lowest = min(self.lowest, free_bytes(path))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.lowest


def _longest_gap(collector, topic, since):
    times = [stamp for stamp, _ in collector.messages[topic] if stamp >= since]
    return max((b - a for a, b in zip(times, times[1:])), default=float('inf')), len(times)


def _capture_values(collector):
    for _, array in reversed(collector.messages['/diagnostics']):
        for status in array.status:
            if status.name == 'host_capture: capture':
                return status.level, {pair.key: pair.value for pair in status.values}
    return None, {}


@pytest.fixture
def disk(tmp_path):
    with tmpfs(tmp_path / 'disk', 24, skip=pytest.skip) as directory:
        yield VolumeLayout.at(directory)


def test_filling_disk_with_host_retention_off_keeps_frames_flowing(rclpy_context, disk):
    host = HostCaptureNode(context=rclpy_context, parameter_overrides=_parameters(
        capture_dir=str(disk.root), source='simulated', width=1280, height=720,
        interval_s=0.1, max_images=100000, reserve_mb=2.0, reserve_percent=5.0))
    provider = FrameProvider(context=rclpy_context, parameter_overrides=_parameters(
        capture_dir=str(disk.root)))
    collector = Collector(rclpy_context, [(COMPRESSED, CompressedImage, frame_qos(5.0)),
                                          ('/diagnostics', DiagnosticArray, 50)])
    watch = FreeSpaceWatch(disk.root)
    spinner = Spinner(rclpy_context, host, provider, collector.node)
    try:
        assert provider.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert provider.trigger_activate() == TransitionCallbackReturn.SUCCESS
        wait_for(lambda: collector.count(COMPRESSED) >= 1, timeout_s=20, what='a frame')
        started = time.time()
        # 12 s at ~3.5 MB/s is nearly twice the disk: the guard must have been at work.
        wait_for(lambda: time.time() - started > 12 and host._capture.guard.stats.low_space
                 and _capture_values(collector)[1].get('low_space') == 'True',
                 timeout_s=40, what='15 s of filling and the guard on /diagnostics')
        level, values = _capture_values(collector)
    finally:
        spinner.close()
        lowest = watch.stop()
    stats, guard = host._capture.stats, host._capture.guard.stats
    gap, received = _longest_gap(collector, COMPRESSED, started)
    print(f'\nfilling 24 MiB at 10 fps 1280x720: lowest free {lowest / MIB:.2f} MiB, '
          f'{stats.frames_captured} captured, {received} received in the last '
          f'{time.time() - started:.0f} s, longest gap {gap:.2f} s, '
          f'{guard.frames_removed} deleted by the guard')
    assert lowest > 0, 'the disk must never fill completely'
    assert guard.frames_discarded == 0 and stats.errors == 0, stats.last_error
    assert gap <= 2.0
    assert level == DiagnosticStatus.WARN and int(values['frames_removed_for_space']) > 0
