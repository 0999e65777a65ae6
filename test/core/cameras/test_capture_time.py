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
The capture time of a frame from the camera's own clock (capture_time_from_sensor).

libcamera before FrameWallClock existed writes only SensorTimestamp, nanoseconds on
CLOCK_BOOTTIME; the fake rpicam-still does the same with
FAKE_RPICAM_METADATA_DROP=FrameWallClock.
"""

import time

from framebridge_ros.core.cameras.backend import capture_time_from_sensor
from framebridge_ros.core.capture import HostCapture
from framebridge_ros.core.volume.metadata import load_metadata
import pytest


def _boot_ns(wall_s: float) -> int:
    """Return the CLOCK_BOOTTIME reading, in ns, of a moment given in epoch seconds."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) - int((time.time() - wall_s) * 1e9)


@pytest.mark.parametrize('case', ['wall_clock', 'sensor_only', 'sensor_out_of_window',
                                  'wall_clock_out_of_window', 'nothing', 'bool'])
def test_capture_time_rule(case):
    finished = time.time()
    started, exposed = finished - 2.0, finished - 1.5
    camera = {
        'wall_clock': {'FrameWallClock': int(exposed * 1e9), 'SensorTimestamp': 1},
        'sensor_only': {'SensorTimestamp': _boot_ns(exposed)},
        'sensor_out_of_window': {'SensorTimestamp': _boot_ns(started - 10)},
        # a wall clock outside the window is not believed; the sensor clock still is
        'wall_clock_out_of_window': {'FrameWallClock': int((finished + 60) * 1e9),
                                     'SensorTimestamp': _boot_ns(exposed)},
        'nothing': None,
        'bool': {'SensorTimestamp': True},
    }[case]
    expected = finished if case in ('sensor_out_of_window', 'nothing', 'bool') else exposed
    assert capture_time_from_sensor(camera, started=started, finished=finished) == \
        pytest.approx(expected, abs=0.01)


def test_a_frame_with_only_a_sensor_timestamp_is_dated_by_it(tmp_path, fake_camera_env,
                                                             monkeypatch):
    # Only SensorTimestamp, and a write that takes 1 s after the exposure: the finish
    # time (the fallback) is then a second off the moment the sensor names.
    monkeypatch.setenv('FAKE_RPICAM_METADATA_DROP', 'FrameWallClock')
    monkeypatch.setenv('FAKE_RPICAM_MODE', 'slow')
    monkeypatch.setenv('FAKE_RPICAM_SLOW_S', '1.0')
    capture = HostCapture({'capture_dir': str(tmp_path / 'volume'), 'source': 'rpicam',
                           'width': 320, 'height': 240, 'quality': 90,
                           'min_file_bytes': 1000, 'camera_timeout_s': 10.0})
    capture.start()
    try:
        frame = capture.capture_once()
        landed = time.time()
    finally:
        capture.close()
    assert frame is not None, capture.stats.last_error
    metadata = load_metadata(capture.layout.metadata_path_for(frame))
    camera = metadata['camera']
    assert 'FrameWallClock' not in camera and isinstance(camera['SensorTimestamp'], int)
    exposed = time.time() - (time.clock_gettime_ns(time.CLOCK_BOOTTIME)
                             - camera['SensorTimestamp']) / 1e9
    print(f'\ncapture_time {landed - metadata["capture_time"]:.2f} s before the frame landed')
    assert metadata['capture_time'] == pytest.approx(exposed, abs=0.05)
    assert landed - metadata['capture_time'] >= 0.9
