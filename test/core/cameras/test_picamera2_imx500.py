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

"""Host capture with source picamera2 against the fake picamera2 / IMX500 package."""

import json
import logging
import subprocess
import sys
import threading
import time

from framebridge_ros.core.cameras.backend import CameraError
from framebridge_ros.core.capture import CaptureRunner, HostCapture
from framebridge_ros.core.health import capture_health
from framebridge_ros.core.volume.layout import list_frames_sorted
from framebridge_ros.core.volume.metadata import load_metadata
from framebridge_testing import wait_for
import pytest


def _capture(tmp_path, model, **overrides):
    params = {'capture_dir': str(tmp_path / 'volume'), 'source': 'picamera2', 'width': 640,
              'height': 480, 'imx500_model': str(model), 'camera_timeout_s': 1.0,
              **overrides}
    capture = HostCapture(params)
    capture.start()
    return capture


def _metadata(capture, frame):
    return load_metadata(capture.layout.metadata_path_for(frame))


def _truth(log):
    return {entry['SensorTimestamp']: entry
            for entry in map(json.loads, log.read_text().splitlines())}


def _exact_sensor(tmp_path, monkeypatch):
    """Make the fake network see every vehicle and nothing else; return its truth log."""
    log = tmp_path / 'truth.jsonl'
    monkeypatch.setenv('FAKE_PICAMERA2_TRUTH_LOG', str(log))
    monkeypatch.setenv('FAKE_PICAMERA2_FALSE_ALARMS', '0')
    monkeypatch.setenv('FAKE_PICAMERA2_MISS', '0')
    return log


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def test_frames_carry_on_sensor_detections_of_the_scene(
        tmp_path, fake_picamera2, monkeypatch):
    log = _exact_sensor(tmp_path, monkeypatch)
    capture = _capture(tmp_path, fake_picamera2, detection_classes=['car', 'truck', 'bus'])
    frames = []
    deadline = time.monotonic() + 60
    while sum(len(_metadata(capture, f)['detections']) for f in frames) < 5:
        assert time.monotonic() < deadline, 'the scene showed no vehicles in 60 s'
        frame = capture.capture_once()
        assert frame is not None, capture.stats.last_error
        frames.append(frame)
        time.sleep(0.2)
    capture.close()
    truth = _truth(log)
    for frame in frames:
        metadata = _metadata(capture, frame)
        assert metadata['source'] == 'picamera2'
        assert metadata['detections_network'] == 'ssd_mobilenetv2_fpnlite_320x320_pp'
        assert metadata['detections_scaler_crop'] == [0, 0, 4056, 3040]
        assert metadata['inference_dnn_runtime_ms'] > 0
        assert 'CnnOutputTensor' not in metadata['camera']  # decoded, not copied
        seen = truth[metadata['detections_sensor_timestamp_ns']]
        assert metadata['camera']['SensorTimestamp'] == seen['SensorTimestamp']
        width, height = seen['size']
        for detection in metadata['detections']:
            assert detection['class'] in ('car', 'truck', 'bus') and detection['score'] >= 0.5
            x, y, w, h = detection['box']
            best = max((_iou((x * width, y * height, w * width, h * height), v['box'])
                        for v in seen['vehicles']), default=0.0)
            assert best >= 0.5, (detection, seen['vehicles'])
        # The capture time comes from the sensor's own clock, within the capture.
        assert abs(metadata['capture_time'] - metadata['camera']['SensorTimestamp'] / 1e9
                   - (time.time() - time.monotonic())) < 0.5


def test_a_16_9_frame_maps_boxes_through_its_scaler_crop(
        tmp_path, fake_picamera2, monkeypatch):
    log = _exact_sensor(tmp_path, monkeypatch)
    capture = _capture(tmp_path, fake_picamera2, width=640, height=360,
                       detection_classes=['car', 'truck', 'bus', 'motorcycle'])
    matched = 0
    deadline = time.monotonic() + 60
    while matched < 3:
        assert time.monotonic() < deadline, 'the scene showed no vehicles in 60 s'
        metadata = _metadata(capture, capture.capture_once())
        crop = metadata['detections_scaler_crop']
        assert crop[1] > 0 and crop[2] == 4056  # rows cut away above and below
        seen = _truth(log)[metadata['detections_sensor_timestamp_ns']]
        for detection in metadata['detections']:
            x, y, w, h = detection['box']
            assert max(_iou((x * 640, y * 360, w * 640, h * 360), v['box'])
                       for v in seen['vehicles']) >= 0.5
            matched += 1
        time.sleep(0.2)
    capture.close()


def test_a_frame_without_tensor_says_so_once_and_counts(
        tmp_path, fake_picamera2, monkeypatch, caplog):
    monkeypatch.setenv('FAKE_PICAMERA2_NO_TENSOR_EVERY', '2')
    capture = _capture(tmp_path, fake_picamera2, interval_s=0.1)
    with caplog.at_level(logging.INFO, logger='framebridge.capture'):
        frames = [capture.capture_once() for _ in range(8)]
    capture.close()
    kinds = [_metadata(capture, f)['detections'] is None for f in frames]
    nulls = [_metadata(capture, f) for f, none in zip(frames, kinds) if none]
    assert nulls and not all(kinds)
    assert all(m['detections_reason'] == 'no output tensor on this frame' for m in nulls)
    assert all(isinstance(_metadata(capture, f)['detections'], list)
               for f, none in zip(frames, kinds) if not none)
    assert capture.stats.frames_without_detections == len(nulls)
    # Every other frame without a tensor is one episode: one line, not one per frame.
    starts = [r for r in caplog.records if 'has no on-sensor detections' in r.message]
    assert len(starts) == 1 and 'detections null' in starts[0].message
    values = capture_health(capture.stats, now=time.time(), interval_s=0.1,
                            started_at=time.time() - 5, source='picamera2').values
    assert values['frames_without_detections'] == len(nulls)
    assert values['last_detections_reason'] in ('-', 'no output tensor on this frame')
    assert values['camera_state'] == 'running'


def test_no_network_gives_plain_stills(tmp_path, fake_picamera2):
    capture = _capture(tmp_path, '', interval_s=0.1)
    metadata = _metadata(capture, capture.capture_once())
    capture.close()
    assert 'detections' not in metadata and metadata['camera']['ExposureTime'] > 0
    assert capture.min_interval_s == 0.0


def test_missing_model_fails_start_naming_the_path(tmp_path, fake_picamera2):
    missing = tmp_path / 'models' / 'no_such_network.rpk'
    with pytest.raises(CameraError, match=f'imx500_model {missing} does not exist'):
        _capture(tmp_path, missing)


def test_missing_model_fails_the_plain_cli_naming_the_path(tmp_path, fake_picamera2):
    missing = tmp_path / 'nothing.rpk'
    done = subprocess.run(
        [sys.executable, '-m', 'framebridge_ros.core.capture', '--source', 'picamera2',
         '--capture_dir', str(tmp_path / 'v'), '--imx500_model', str(missing)],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and f'imx500_model {missing} does not exist' in done.stderr


def test_without_picamera2_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'picamera2', None)  # import fails as on a plain PC
    with pytest.raises(CameraError, match='python3-picamera2'):
        _capture(tmp_path, '')


def test_a_camera_that_times_out_is_closed_and_reopened(
        tmp_path, fake_picamera2, monkeypatch):
    monkeypatch.setenv('FAKE_PICAMERA2_TIMEOUT_AFTER', '2')
    capture = _capture(tmp_path, fake_picamera2, camera_timeout_s=0.5)
    assert capture.capture_once() is not None and capture.capture_once() is not None
    started = time.monotonic()
    assert capture.capture_once() is None
    assert time.monotonic() - started < 2.0
    assert 'no frame within camera_timeout_s=0.5' in capture.stats.last_error
    values = capture_health(capture.stats, now=time.time(), interval_s=1.0,
                            started_at=time.time() - 5, source='picamera2').values
    assert 'no frame within camera_timeout_s' in values['last_error']
    frame = capture.capture_once()  # a fresh opening of the camera works again
    assert frame is not None, capture.stats.last_error
    capture.refresh_backend_values()
    assert capture.stats.backend_values['camera_opens'] == 2
    assert _metadata(capture, frame)['source'] == 'picamera2'
    capture.close()


def test_a_camera_that_keeps_failing_is_restarted_with_backoff(
        tmp_path, fake_picamera2, monkeypatch):
    monkeypatch.setenv('FAKE_PICAMERA2_NO_CAMERA', '1')
    capture = _capture(tmp_path, fake_picamera2, max_consecutive_errors=2)
    for _ in range(2):
        assert capture.capture_once() is None
    assert 'Requested camera dev-node not found' in capture.stats.last_error
    assert capture.stats.backend_restarts == 1 and capture.backoff_s >= 1.0
    monkeypatch.delenv('FAKE_PICAMERA2_NO_CAMERA')
    assert capture.capture_once() is not None, capture.stats.last_error
    assert capture.backoff_s == 0.0
    capture.close()


def test_slow_start_is_visible_and_the_rate_follows_the_network(
        tmp_path, fake_picamera2, monkeypatch, caplog):
    monkeypatch.setenv('FAKE_PICAMERA2_STARTUP_S', '1.0')
    monkeypatch.setenv('FAKE_PICAMERA2_INFERENCE_RATE', '4')
    capture = _capture(tmp_path, fake_picamera2, interval_s=0.05)
    landed = []
    runner = CaptureRunner(capture, on_frame=lambda frame: landed.append(time.monotonic()))
    states = []

    def watch():
        while not landed:
            capture.refresh_backend_values()
            states.append(capture.stats.backend_values.get('camera_state'))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    caplog.set_level(logging.WARNING, logger='framebridge.capture')
    runner.start()
    try:
        wait_for(lambda: len(landed) >= 6, timeout_s=30, what='six frames')
    finally:
        runner.stop()
        watcher.join()
        capture.close()
    assert 'uploading network firmware' in states
    # interval_s=0.05 asked for 20/s; the network infers 4/s, so no faster than that.
    gaps = [b - a for a, b in zip(landed[1:], landed[2:])]
    assert min(gaps) >= 0.2, gaps
    paced = [r.message for r in caplog.records if 'shorter than one network' in r.message]
    assert len(paced) == 1 and 'capturing every 0.250 s' in paced[0], paced
    assert len(list_frames_sorted(capture.layout)) >= 6
