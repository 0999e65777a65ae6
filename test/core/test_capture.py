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

"""Host capture core against the simulated camera and the fake rpicam-still."""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

from framebridge_ros.core.cameras.backend import CameraError
from framebridge_ros.core.cameras.rpicam_oneshot import RpicamStill
from framebridge_ros.core.capture import CaptureRunner, HostCapture
from framebridge_ros.core.params import ParameterError
from framebridge_ros.core.volume.jpeg import decode_jpeg, inspect_jpeg
from framebridge_ros.core.volume.layout import list_frames_sorted, VolumeError
from framebridge_ros.core.volume.metadata import load_metadata
import pytest


def _capture(tmp_path, **overrides):
    params = {'capture_dir': str(tmp_path / 'volume'), 'width': 320, 'height': 240,
              'quality': 90, 'min_file_bytes': 1000, 'camera_timeout_s': 5.0, **overrides}
    capture = HostCapture(params)
    capture.start()
    return capture


def _calls(log):
    return [json.loads(line)['argv'] for line in log.read_text().splitlines()] \
        if log.exists() else []


def test_simulated_frame_lands_with_complete_metadata(tmp_path):
    capture = _capture(tmp_path, source='simulated')
    before = time.time()
    frame = capture.capture_once()
    capture.close()
    jpeg = frame.read_bytes()
    metadata = load_metadata(capture.layout.metadata_path_for(frame))
    assert (metadata['width'], metadata['height']) == (320, 240)
    assert metadata['sha256'] == hashlib.sha256(jpeg).hexdigest()
    assert metadata['file_size'] == len(jpeg) and metadata['source'] == 'simulated'
    assert before <= metadata['capture_time'] <= time.time()
    assert 'vehicles' in metadata['ground_truth'] and 'sky' in metadata['ground_truth']
    # As rpicam-still's --metadata: the analysers read the camera's own light reading.
    assert metadata['camera']['Lux'] > 0 and metadata['camera']['ExposureTime'] > 0
    assert decode_jpeg(jpeg).shape == (240, 320, 3)
    assert os.listdir(capture.layout.tmp) == []


def test_rpicam_one_shot_is_called_with_the_seed_flags(tmp_path, fake_camera_env):
    capture = _capture(tmp_path, source='rpicam', extra_args=['--awb', 'daylight', ''])
    started = time.time()
    frame = capture.capture_once()
    capture.close()
    assert frame is not None, capture.stats.last_error
    argv = _calls(fake_camera_env)[0]
    for flag in ('--immediate', '--nopreview'):
        assert flag in argv
    pairs = dict(zip(argv, argv[1:]))
    assert (pairs['--encoding'], pairs['--width'], pairs['--height'], pairs['--quality']) == (
        'jpg', '320', '240', '90')
    assert pairs['--metadata-format'] == 'json' and argv[-2:] == ['--awb', 'daylight']
    metadata = load_metadata(capture.layout.metadata_path_for(frame))
    assert metadata['camera']['ExposureTime'] > 0 and 'SensorTimestamp' in metadata['camera']
    assert started <= metadata['capture_time'] <= time.time()
    assert inspect_jpeg(frame.read_bytes()).width == 320


@pytest.mark.parametrize('mode, message', [
    ('fail', 'exited with 255'),
    ('garbage', 'not a JPEG'),
    ('truncated', 'truncated'),
    ('empty', 'too small'),
])
def test_faulty_captures_are_discarded_with_a_reason(
        tmp_path, fake_camera_env, monkeypatch, mode, message):
    monkeypatch.setenv('FAKE_RPICAM_MODE', mode)
    capture = _capture(tmp_path, source='rpicam')
    assert capture.capture_once() is None
    capture.close()
    assert message in capture.stats.last_error
    assert capture.stats.errors == 1 and capture.stats.frames_captured == 0
    assert list_frames_sorted(capture.layout) == []
    assert os.listdir(capture.layout.tmp) == [] and os.listdir(capture.layout.metadata) == []


def test_slow_writer_still_lands_whole(tmp_path, fake_camera_env, monkeypatch):
    monkeypatch.setenv('FAKE_RPICAM_MODE', 'slow')
    monkeypatch.setenv('FAKE_RPICAM_SLOW_S', '0.5')
    capture = _capture(tmp_path, source='rpicam')
    frame = capture.capture_once()
    capture.close()
    assert frame is not None and inspect_jpeg(frame.read_bytes()).height == 240


def test_hung_camera_is_killed_at_the_timeout_and_restarted_with_backoff(
        tmp_path, fake_camera_env, monkeypatch):
    monkeypatch.setenv('FAKE_RPICAM_MODE', 'hang')
    # Long enough for the fake's Python start-up on a loaded machine once it recovers.
    capture = _capture(tmp_path, source='rpicam', camera_timeout_s=2.0,
                       max_consecutive_errors=2)
    for attempt in range(2):
        started = time.monotonic()
        assert capture.capture_once() is None
        assert time.monotonic() - started < 4.5
    assert 'did not finish within camera_timeout_s=2 s' in capture.stats.last_error
    assert capture.stats.backend_restarts == 1 and capture.backoff_s >= 1.0
    monkeypatch.setenv('FAKE_RPICAM_MODE', 'ok')
    assert capture.capture_once() is not None
    assert capture.backoff_s == 0.0 and capture.stats.consecutive_errors == 0
    capture.close()


def test_missing_camera_command_says_what_to_do(tmp_path):
    backend = RpicamStill(command='no-such-rpicam-still', width=64, height=64, quality=90,
                          timeout_s=1.0)
    with pytest.raises(CameraError, match='not found.*source:=simulated'):
        backend.capture(tmp_path / 'x.jpg')


def test_retention_keeps_max_images(tmp_path):
    capture = _capture(tmp_path, source='simulated', max_images=3)
    frames = [capture.capture_once() for _ in range(5)]
    capture.close()
    assert list_frames_sorted(capture.layout) == frames[2:]
    assert len(os.listdir(capture.layout.metadata)) == 3


def test_persistent_mode_starts_the_camera_once(tmp_path, fake_camera_env, monkeypatch):
    monkeypatch.setenv('FAKE_RPICAM_STARTUP_S', '0.3')
    capture = _capture(tmp_path, source='persistent')
    durations = []
    for _ in range(4):
        started = time.monotonic()
        assert capture.capture_once() is not None, capture.stats.last_error
        durations.append(time.monotonic() - started)
    capture.close()
    calls = _calls(fake_camera_env)
    assert len(calls) == 1 and '--signal' in calls[0]
    assert max(durations[1:]) < 0.3 <= durations[0], durations
    metadata = load_metadata(capture.layout.metadata_path_for(list_frames_sorted(
        capture.layout)[-1]))
    assert metadata['source'] == 'persistent' and 'ExposureTime' in metadata['camera']
    print(f'persistent capture: first {1000 * durations[0]:.0f} ms (camera start-up), '
          f'then {1000 * sorted(durations[1:])[1]:.0f} ms median')


def test_persistent_process_that_keeps_dying_falls_back_to_one_shot(
        tmp_path, fake_camera_env, monkeypatch):
    monkeypatch.setenv('FAKE_RPICAM_FAIL_AFTER', '1')
    capture = _capture(tmp_path, source='persistent', max_consecutive_errors=100)
    landed = [capture.capture_once() for _ in range(8)]
    assert capture.source == 'rpicam'
    capture.close()
    assert '--immediate' in _calls(fake_camera_env)[-1]
    assert landed[-1] is not None
    assert sum(frame is not None for frame in landed) >= 4


def test_concurrent_reader_never_sees_a_partial_frame(tmp_path):
    capture = _capture(tmp_path, source='simulated', interval_s=0.02, max_images=1000)
    seen, problems, done = set(), [], threading.Event()

    def read_as_fast_as_possible():
        while not done.is_set():
            for entry in os.scandir(capture.layout.live):
                if entry.name in seen:
                    continue
                seen.add(entry.name)
                try:
                    data = open(entry.path, 'rb').read()
                    inspect_jpeg(data)
                    decode_jpeg(data, scale=0.125)
                    load_metadata(capture.layout.metadata_path_for(
                        capture.layout.live / entry.name))
                except Exception as error:  # noqa: B902 - any failure is the finding
                    problems.append(f'{entry.name}: {error}')

    reader = threading.Thread(target=read_as_fast_as_possible)
    reader.start()
    runner = CaptureRunner(capture)
    runner.start()
    deadline = time.monotonic() + 60
    while capture.stats.frames_captured < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop()
    done.set()
    reader.join()
    capture.close()
    assert capture.stats.frames_captured >= 200
    assert not problems
    assert len(seen) >= 200


def test_bad_parameters_are_refused_with_reasons(tmp_path):
    with pytest.raises(ParameterError, match='interval_s=-1.0 is below'):
        HostCapture({'interval_s': -1.0, 'capture_dir': str(tmp_path)})
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    capture = HostCapture({'capture_dir': str(blocker / 'volume'), 'source': 'simulated'})
    with pytest.raises(VolumeError, match='cannot create'):
        capture.start()


def test_cli_runs_without_ros_and_hands_off_frames(tmp_path):
    volume = tmp_path / 'volume'
    probe = ('import sys, runpy; sys.argv = ["framebridge-capture"] + sys.argv[1:]; '
             'sys.modules["rclpy"] = None; '  # any rclpy import would now fail
             'runpy.run_module("framebridge_ros.core.capture", run_name="__main__")')
    result = subprocess.run(
        [sys.executable, '-c', probe, '--source', 'simulated', '--capture_dir', str(volume),
         '--width', '320', '--height', '240', '--interval_s', '0.05', '--count', '3'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(os.listdir(volume / 'live')) == 3
    assert 'landed' in result.stderr
    bad = subprocess.run([sys.executable, '-m', 'framebridge_ros.core.capture',
                          '--interval_s', '-1', '--capture_dir', str(volume)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and 'interval_s=-1.0 is below' in bad.stderr


@pytest.mark.parametrize('mode, problem', [
    ('garbage', 'camera metadata is not JSON'),
    ('huge', 'over the 262144 byte limit'),
])
def test_unreadable_camera_metadata_is_logged_once_counted_and_reported(
        tmp_path, fake_camera_env, monkeypatch, caplog, mode, problem):
    import logging
    from framebridge_ros.core.health import capture_health
    monkeypatch.setenv('FAKE_RPICAM_METADATA_MODE', mode)
    capture = _capture(tmp_path, source='rpicam')
    with caplog.at_level(logging.WARNING, logger='framebridge.capture'):
        frames = [capture.capture_once() for _ in range(3)]
    capture.close()
    assert all(frame is not None for frame in frames), capture.stats.last_error
    for frame in frames:  # the frame still lands, without the camera's own readings
        assert 'camera' not in load_metadata(capture.layout.metadata_path_for(frame))
    warnings = [r.message for r in caplog.records if 'without the camera metadata' in r.message]
    assert len(warnings) == 1 and problem in warnings[0], warnings
    assert capture.stats.camera_metadata_dropped == 3
    values = capture_health(capture.stats, now=time.time(), interval_s=1.0,
                            started_at=time.time() - 5, source='rpicam').values
    assert values['camera_metadata_dropped'] == 3
    assert problem in values['last_camera_metadata_problem']


def _post_process_file(tmp_path):
    """Write the post-process file the README gives: imx500_object_detection only."""
    path = tmp_path / 'imx500_tensor_only.json'
    path.write_text(json.dumps({'imx500_object_detection': {
        'network_file': '/usr/share/imx500-models/'
                        'imx500_network_ssd_mobilenetv2_fpnlite_320x320_pp.rpk',
        'max_detections': 10, 'threshold': 0.5, 'classes': ['person']}}))
    return str(path)


def _car_box(index):
    """Where the fake rpicam-still draws its car in frame `index` (fractions of the image)."""
    x0 = (0.35 + index * 0.045) % 1.4 - 0.2
    return [max(0.0, x0), 0.675, min(1.0, x0 + 0.16) - max(0.0, x0), 0.1206]


def test_rpicam_still_tensor_becomes_detections(tmp_path, fake_camera_env):
    capture = _capture(tmp_path, source='rpicam',
                       extra_args=['--post-process-file', _post_process_file(tmp_path),
                                   '--zsl'])
    frame = capture.capture_once()
    capture.close()
    assert frame is not None, capture.stats.last_error
    metadata = load_metadata(capture.layout.metadata_path_for(frame))
    assert [d['class'] for d in metadata['detections']] == ['car']
    assert metadata['detections'][0]['box'] == pytest.approx(_car_box(0), abs=2e-3)
    assert metadata['detections_network'] == 'ssd_mobilenetv2_fpnlite_320x320_pp'
    assert metadata['detections_scaler_crop'] == [0, 0, 4056, 3040]
    assert 'CnnOutputTensor' not in metadata['camera'] and metadata['camera']['Lux'] > 0


def test_persistent_rpicam_without_zsl_reports_frames_without_tensor(
        tmp_path, fake_camera_env):
    capture = _capture(tmp_path, source='persistent',
                       extra_args=['--post-process-file', _post_process_file(tmp_path)])
    frames = [capture.capture_once() for _ in range(4)]
    capture.close()
    assert all(frames), capture.stats.last_error
    found = [load_metadata(capture.layout.metadata_path_for(f)) for f in frames]
    assert [m['detections'] is None for m in found] == [False, True, False, True]
    assert found[1]['detections_reason'] == "no CnnOutputTensor in this frame's metadata"
    assert found[2]['detections'][0]['box'] == pytest.approx(_car_box(2), abs=2e-3)
    assert capture.stats.frames_without_detections == 2


def test_rpicam_without_a_network_has_no_detections_field(tmp_path, fake_camera_env):
    capture = _capture(tmp_path, source='rpicam')
    metadata = load_metadata(capture.layout.metadata_path_for(capture.capture_once()))
    capture.close()
    assert 'detections' not in metadata and capture.stats.frames_without_detections == 0
