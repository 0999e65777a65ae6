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
On-sensor detections end to end over DDS, with the fake IMX500 at the hardware edge.

host_capture (its own process, source picamera2, the fake picamera2 package) -> volume
-> frame_provider -> vehicle_detector (backend imx500) -> vehicles/detections. The fake
network sees the simulated scene's ground truth with misses, false alarms and score
noise, and its truth log says what was really in each frame.
"""

import json
import os
import subprocess
import sys

from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.simulation.scene import ROAD_REGION
from framebridge_ros.nodes.frame_provider import FrameProvider
from framebridge_ros.nodes.vehicle_detector import VehicleDetector
from framebridge_ros.ros_glue import latched_qos, stamp_to_epoch
from framebridge_testing import Collector, Spinner, wait_for
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

DETECTIONS, METADATA = 'vehicles/detections', 'camera/metadata'
ROAD = [v for point in ROAD_REGION for v in point]
FRAMES = 50  # analysed frames; 2 per second


def _node(cls, context, **values):
    node = cls(context=context, parameter_overrides=[
        Parameter(name, value=value) for name, value in values.items()])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    return node


def _iou(a, b):
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def _in_road(box, size):
    x, y, w, h = box
    ground_y = (y + h) / size[1]
    return ROAD_REGION[0][1] <= ground_y <= ROAD_REGION[2][1] and 0 <= x + w / 2 <= size[0]


def test_on_sensor_detections_are_tracked_and_counted(rclpy_context, tmp_path,
                                                      fake_picamera2, monkeypatch):
    truth_log = tmp_path / 'truth.jsonl'
    monkeypatch.setenv('FAKE_PICAMERA2_TRUTH_LOG', str(truth_log))
    monkeypatch.setenv('FAKE_PICAMERA2_NO_TENSOR_EVERY', '7')
    monkeypatch.setenv('FAKE_PICAMERA2_MISS', '0.03')
    volume = tmp_path / 'volume'
    host = subprocess.Popen(
        [sys.executable, '-m', 'framebridge_ros.nodes.host_capture', '--ros-args',
         '-p', f'capture_dir:={volume}', '-p', 'source:=picamera2', '-p', 'width:=640',
         '-p', 'height:=480', '-p', 'interval_s:=0.5', '-p', 'detection_threshold:=0.3',
         '-p', f'imx500_model:={fake_picamera2}'],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    provider = _node(FrameProvider, rclpy_context, capture_dir=str(volume), scale='0.5',
                     publish_raw=False)
    detector = _node(VehicleDetector, rclpy_context, backend='imx500', road_region=ROAD,
                     adaptive_threshold=False, publish_annotated=False)
    collector = Collector(rclpy_context, [
        (DETECTIONS, String, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)),
        (METADATA, String, latched_qos()),
        ('/diagnostics', DiagnosticArray, QoSProfile(depth=100))])
    spinner = Spinner(rclpy_context, provider, detector, collector.node)
    try:
        wait_for(lambda: collector.count(DETECTIONS) >= FRAMES, timeout_s=120,
                 what=f'{FRAMES} analysed frames')
    finally:
        spinner.close()
        host.terminate()
        output = host.communicate(timeout=10)[0].decode(errors='replace')
    assert host.returncode in (0, -15), output

    truth = {e['SensorTimestamp']: e for e in map(json.loads, truth_log.read_text().splitlines())}
    metadata = {round(m['capture_time'], 3): m for m in
                (json.loads(message.data) for _, message in collector.messages[METADATA])}
    results = [(received, json.loads(message.data))
               for received, message in collector.messages[DETECTIONS]]
    hits = boxes = seen = found = no_information = 0
    latencies = []
    for received, result in results:
        capture_time = _stamp_epoch(result['stamp'])
        frame = metadata[round(capture_time, 3)]
        latencies.append(received - capture_time)
        if frame['detections'] is None:  # the camera gave no result: said so, no boxes
            assert result['status'] == 'no_information' and result['detections'] == []
            assert frame['detections_reason'] == 'no output tensor on this frame'
            no_information += 1
            continue
        assert result['status'] == 'ok'
        scene = truth[frame['detections_sensor_timestamp_ns']]
        width, height = result['image_size']
        sx, sy = scene['size'][0] / width, scene['size'][1] / height
        vehicles = [v['box'] for v in scene['vehicles']]
        mine = [[d['box'][0] * sx, d['box'][1] * sy, d['box'][2] * sx, d['box'][3] * sy]
                for d in result['detections']]
        boxes += len(mine)
        hits += sum(max((_iou(box, v) for v in vehicles), default=0.0) >= 0.5
                    for box in mine)
        road = [v for v in vehicles if _in_road(v, scene['size'])]
        seen += len(road)
        found += sum(max((_iou(box, v) for box in mine), default=0.0) >= 0.5 for v in road)
    print(f'imx500 end to end: {len(results)} frames, {no_information} without tensor, '
          f'precision {hits}/{boxes}, recall {found}/{seen}; capture to detections median '
          f'{1000 * sorted(latencies)[len(latencies) // 2]:.0f} ms')
    assert no_information >= 3 and boxes >= 20
    assert hits >= 0.9 * boxes and found >= 0.8 * seen

    # Crossings: what the scene says happened between the first and last analysed frame.
    first, last = (truth[metadata[round(_stamp_epoch(r['stamp']), 3)]
                         ['camera']['SensorTimestamp']] for r in (results[0][1], results[-1][1]))
    expected = {d: last['crossings'][d] - first['crossings'][d] for d in last['crossings']}
    print(f'crossings: counted {results[-1][1]["counts"]}, scene {expected}')
    assert sum(expected.values()) >= 2, 'the scene had too little traffic to judge'
    assert results[-1][1]['counts'] == expected

    statuses = [s for _, array in collector.messages['/diagnostics'] for s in array.status
                if s.name == 'vehicle_detector: vehicles']
    values = {v.key: v.value for v in statuses[-1].values}
    assert int(values['frames_without_information']) >= no_information - 1
    capture = [s for _, array in collector.messages['/diagnostics'] for s in array.status
               if s.name == 'host_capture: capture']
    values = {v.key: v.value for v in capture[-1].values}
    assert values['source'] == 'picamera2' and values['camera_state'] == 'running'
    assert int(values['frames_without_detections']) >= no_information - 1


def _stamp_epoch(stamp):
    """Return the epoch seconds of a detections message's stamp object."""
    from builtin_interfaces.msg import Time
    return stamp_to_epoch(Time(sec=stamp['sec'], nanosec=stamp['nanosec']))


def test_host_capture_node_refuses_a_missing_model_naming_the_path(rclpy_context, tmp_path,
                                                                   fake_picamera2):
    from framebridge_ros.core.cameras.backend import CameraError
    from framebridge_ros.nodes.host_capture import HostCaptureNode
    missing = tmp_path / 'imx500_models' / 'missing.rpk'
    with pytest.raises(CameraError, match=f'imx500_model {missing} does not exist'):
        HostCaptureNode(context=rclpy_context, parameter_overrides=[
            Parameter('capture_dir', value=str(tmp_path / 'volume')),
            Parameter('source', value='picamera2'),
            Parameter('imx500_model', value=str(missing))])


def test_host_capture_process_reports_a_camera_timeout_and_recovers(
        rclpy_context, tmp_path, fake_picamera2, monkeypatch):
    monkeypatch.setenv('FAKE_PICAMERA2_TIMEOUT_AFTER', '3')
    host = subprocess.Popen(
        [sys.executable, '-m', 'framebridge_ros.nodes.host_capture', '--ros-args',
         '-p', f'capture_dir:={tmp_path / "volume"}', '-p', 'source:=picamera2',
         '-p', 'width:=320', '-p', 'height:=240', '-p', 'interval_s:=0.2',
         '-p', 'camera_timeout_s:=1.0', '-p', f'imx500_model:={fake_picamera2}'],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    collector = Collector(rclpy_context, [('/diagnostics', DiagnosticArray,
                                           QoSProfile(depth=100))])
    spinner = Spinner(rclpy_context, collector.node)

    def capture_values():
        return [{v.key: v.value for v in s.values} for _, array in
                collector.messages['/diagnostics'] for s in array.status
                if s.name == 'host_capture: capture']
    try:
        wait_for(lambda: any(v['camera_opens'] == '2' and int(v['frames_captured']) > 3
                             for v in capture_values()), timeout_s=60,
                 what='the camera reopened after its time-out, capturing again')
    finally:
        spinner.close()
        host.terminate()
        output = host.communicate(timeout=10)[0].decode(errors='replace')
    assert 'picamera2 gave no frame within camera_timeout_s=1' in output
    assert any('no frame within camera_timeout_s' in v['last_error']
               for v in capture_values())
