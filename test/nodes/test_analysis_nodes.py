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

"""vehicle_detector and sky_analyzer over real rclpy and DDS, fed real images."""

import json
import os
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.analysis.tracking import box_iou
from framebridge_ros.core.simulation.randomised import draw_world, RandomisedScene
from framebridge_ros.core.simulation.scene import ROAD_REGION, SceneConditions, SimulatedScene
from framebridge_ros.nodes.sky_analyzer import SkyAnalyzer
from framebridge_ros.nodes.vehicle_detector import VehicleDetector
from framebridge_ros.ros_glue import (
    epoch_to_stamp, frame_qos, image_to_msg, latched_qos, msg_to_image, publish_unless_stopping,
    stamp_to_epoch)
from framebridge_testing import Collector, shipped_face_model, Spinner, wait_for
import numpy as np
import pytest
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

IMAGES, METADATA, SKY = 'camera/image_scaled', 'camera/metadata', 'sky/condition'
DETECTIONS, ANNOTATED = 'vehicles/detections', 'vehicles/image_annotated'
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
ROAD = [v for point in ROAD_REGION for v in point]


def _node(cls, context, **values):
    return cls(context=context, parameter_overrides=[
        Parameter(name, value=value) for name, value in values.items()])


class Camera:
    """A test node that publishes frames, metadata and sky the way the graph does."""

    def __init__(self, context, *, max_age_s: float = 60.0) -> None:
        self.node = Node('test_camera', context=context)
        self.images = self.node.create_publisher(Image, IMAGES, frame_qos(max_age_s))
        self.metadata = self.node.create_publisher(String, METADATA, latched_qos())
        self.sky = self.node.create_publisher(String, SKY, latched_qos())

    def frame(self, image, capture_time, frame_id='test_optical_frame'):
        self.images.publish(image_to_msg(image, stamp=epoch_to_stamp(capture_time),
                                         frame_id=frame_id))


@pytest.fixture
def graph(rclpy_context):
    """Yield start(cls, **params) -> (node, camera, collector) with all spun."""
    spinners = []

    def start(cls, *, topics, max_age_s=60.0, **params):
        node = _node(cls, rclpy_context, max_age_s=max_age_s, **params)
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        camera = Camera(rclpy_context, max_age_s=max_age_s)
        collector = Collector(rclpy_context, topics)
        spinners.append(Spinner(rclpy_context, node, camera.node, collector.node))
        wait_for(lambda: camera.images.get_subscription_count() >= 1,
                 timeout_s=10, what='the node subscribing to images')
        return node, camera, collector

    yield start
    for spinner in spinners:
        spinner.close()


def _detections(collector):
    return [json.loads(m.data) for _, m in collector.messages[DETECTIONS]]


def test_detector_reports_each_frame_with_its_stamp(graph):
    detector, camera, collector = graph(
        VehicleDetector, road_region=ROAD, backend='motion',
        topics=[(DETECTIONS, String, RELIABLE), (ANNOTATED, Image, frame_qos(60.0))])
    wait_for(lambda: detector._annotated_pub.get_subscription_count() == 1, timeout_s=10,
             what='annotated subscriber')
    scene = SimulatedScene(width=640, height=480, seed=2,
                           conditions=SceneConditions(vehicles_per_minute=40.0))
    start = time.time() - 30.0
    stamps = []
    for i in range(14):
        image, _ = scene.render(float(i))
        camera.frame(image, start + i)
        stamps.append(epoch_to_stamp(start + i))
        # One at a time: the node keeps only the newest frame, by design.
        wait_for(lambda: collector.count(DETECTIONS) == i + 1, timeout_s=10,
                 what=f'detections of frame {i}')
    results = _detections(collector)
    assert [(r['stamp']['sec'], r['stamp']['nanosec']) for r in results] == [
        (s.sec, s.nanosec) for s in stamps]
    assert all(r['frame_id'] == 'test_optical_frame' for r in results)
    assert results[0]['status'] == 'warming_up' and results[0]['detections'] == []
    late = results[8:]
    assert all(r['status'] == 'ok' for r in late)
    assert sum(r['vehicle_count'] for r in late) >= 6
    for r in late:
        for d in r['detections']:
            x, y, w, h = d['box']
            assert 0 <= x and x + w <= 640 and 0.4 * 480 <= y + h <= 480
            assert isinstance(d['track_id'], int) and d['class'] == 'vehicle'
    assert set(results[-1]['counts']) == {'left_to_right', 'right_to_left'}
    wait_for(lambda: collector.count(ANNOTATED) >= 1, timeout_s=10, what='annotated image')
    annotated = collector.last(ANNOTATED)
    assert stamp_to_epoch(annotated.header.stamp) in [start + i for i in range(14)]
    assert msg_to_image(annotated).shape == (480, 640, 3)


def test_stale_frame_is_dropped_and_counted(graph):
    detector, camera, collector = graph(VehicleDetector, max_age_s=5.0,
                                        topics=[(DETECTIONS, String, RELIABLE)])
    image = np.full((240, 320, 3), 90, np.uint8)
    camera.frame(image, time.time() - 100.0)
    wait_for(lambda: detector.dropped_stale == 1, timeout_s=10,
             what='the stale frame to be dropped')
    fresh = time.time()
    camera.frame(image, fresh)
    wait_for(lambda: collector.count(DETECTIONS) == 1, timeout_s=10, what='fresh result')
    assert stamp_to_epoch(epoch_to_stamp(fresh)) == pytest.approx(
        _detections(collector)[0]['stamp']['sec']
        + _detections(collector)[0]['stamp']['nanosec'] * 1e-9)


def test_sky_condition_moves_the_threshold(graph):
    detector, camera, collector = graph(VehicleDetector, confidence_threshold=0.5,
                                        topics=[(DETECTIONS, String, RELIABLE)])
    camera.sky.publish(String(data=json.dumps({'condition': 'night'})))
    wait_for(lambda: detector._sky_condition == 'night', timeout_s=10, what='sky received')
    camera.frame(np.full((240, 320, 3), 40, np.uint8), time.time())
    wait_for(lambda: collector.count(DETECTIONS) == 1, timeout_s=10, what='result')
    result = _detections(collector)[0]
    assert result['sky_condition'] == 'night'
    assert result['threshold'] == pytest.approx(0.35)


def test_imx500_boxes_come_from_the_frames_metadata(graph):
    detector, camera, collector = graph(VehicleDetector, backend='imx500',
                                        topics=[(DETECTIONS, String, RELIABLE)])
    capture_time = time.time() - 1.0
    boxes = [{'box': [0.25, 0.5, 0.25, 0.25], 'score': 0.9, 'class': 'car'},
             {'box': [0.0, 0.0, 0.1, 0.1], 'score': 0.2, 'class': 'car'}]
    camera.metadata.publish(String(data=json.dumps(
        {'capture_time': capture_time, 'detections': boxes})))
    wait_for(lambda: len(detector._metadata) == 1, timeout_s=10, what='metadata received')
    camera.frame(np.zeros((480, 640, 3), np.uint8), capture_time)
    wait_for(lambda: collector.count(DETECTIONS) == 1, timeout_s=10, what='result')
    result = _detections(collector)[0]
    assert result['backend'] == 'imx500'
    # The low-score box is under the threshold; the other is mapped to pixels.
    assert [(d['box'], d['class'], d['score']) for d in result['detections']] == [
        ([160, 240, 160, 120], 'car', 0.9)]


def test_an_imx500_frame_that_arrives_before_its_metadata_waits_for_it(graph):
    detector, camera, collector = graph(VehicleDetector, backend='imx500',
                                        topics=[(DETECTIONS, String, RELIABLE)])
    # Two topics keep no order between them: the image may come first.
    capture_time = time.time() - 1.0
    camera.frame(np.zeros((480, 640, 3), np.uint8), capture_time)
    wait_for(lambda: detector._waiting is not None, timeout_s=10, what='the frame waiting')
    boxes = [{'box': [0.25, 0.5, 0.25, 0.25], 'score': 0.9, 'class': 'car'}]
    camera.metadata.publish(String(data=json.dumps(
        {'capture_time': capture_time, 'detections': boxes})))
    wait_for(lambda: collector.count(DETECTIONS) == 1, timeout_s=10, what='result')
    result = _detections(collector)[0]
    assert result['status'] == 'ok' and detector.frames_without_metadata == 0
    assert [d['box'] for d in result['detections']] == [[160, 240, 160, 120]]
    # Metadata that never comes: the frame is still reported, as one without information.
    camera.frame(np.zeros((480, 640, 3), np.uint8), capture_time + 1.0)
    wait_for(lambda: collector.count(DETECTIONS) == 2, timeout_s=10, what='second result')
    result = _detections(collector)[1]
    assert result['status'] == 'no_information' and result['detections'] == []
    assert detector.frames_without_metadata == 1


def test_motion_backend_gets_each_frames_camera_lux(graph):
    # A mid-grey road is daylight by its pixels; only the frame's metadata (camera
    # Lux 5, matched by capture time) can tell the motion back-end it is night.
    detector, camera, collector = graph(VehicleDetector, backend='motion',
                                        topics=[(DETECTIONS, String, RELIABLE)])
    motion = detector._analyzer.detector
    start = time.time() - 10.0
    for i, lux in enumerate((5.0, 5.0, 20000.0)):
        camera.metadata.publish(String(data=json.dumps(
            {'capture_time': start + i, 'camera': {'Lux': lux}})))
        wait_for(lambda: detector.metadata_for(start + i) is not None, timeout_s=10,
                 what=f'metadata of frame {i}')
        camera.frame(np.full((240, 320, 3), 90, np.uint8), start + i)
        wait_for(lambda: collector.count(DETECTIONS) == i + 1, timeout_s=10,
                 what=f'result of frame {i}')
        assert motion.low_light == (lux < 100.0), (i, lux)
    assert detector.frames_without_metadata == 0


def test_the_default_learned_backend_counts_vehicles_it_never_saw(graph):
    # The default back-end, through DDS, on a randomised clip of seeds no training
    # frame came from: vehicles found from the first frame (no background to learn),
    # boxes on the drawn bodies, and the line crossings counted.
    world = draw_world(90211, light='dusk', traffic='light', width=960, height=540)
    scene = RandomisedScene(world)
    detector, camera, collector = graph(
        VehicleDetector, road_region=list(world.road_region),
        counting_line=list(world.counting_line), topics=[(DETECTIONS, String, RELIABLE)])
    assert detector.params['backend'] == 'learned'
    start = time.time() - 30.0
    found = wanted = 0
    for i in range(20):
        image, truth, metadata = scene.next_frame()
        if i == 0:
            before = sum(truth['crossings'].values())  # the scene ran before frame 0
        camera.metadata.publish(String(data=json.dumps(
            {'capture_time': start + i, 'camera': metadata['camera']})))
        camera.frame(image, start + i)
        wait_for(lambda: collector.count(DETECTIONS) == i + 1, timeout_s=10,
                 what=f'result of frame {i}')
        boxes = [d['box'] for d in _detections(collector)[-1]['detections']]
        for v in truth['vehicles']:
            if not v['dont_care']:
                wanted += 1
                found += any(box_iou(b, v['box']) >= 0.5 for b in boxes)
    result = _detections(collector)[-1]
    assert result['backend'] == 'learned' and result['status'] == 'ok'
    assert wanted > 10 and found >= 0.8 * wanted, (found, wanted)
    true = sum(truth['crossings'].values()) - before
    assert true >= 2 and abs(sum(result['counts'].values()) - true) <= 1, (
        result['counts'], truth['crossings'])


MESSI = '/usr/share/doc/opencv-doc/examples/data/messi5.jpg'


@pytest.mark.skipif(not os.path.exists(MESSI),
                    reason='sample photos need the opencv-doc package '
                    '(apt-get install opencv-doc)')
def test_dnn_backend_with_a_real_model_reports_its_classes(graph):
    model, prototxt = shipped_face_model()  # OpenCV's res10 SSD: faces, not vehicles
    detector, camera, collector = graph(
        VehicleDetector, backend='dnn', model_path=model, model_config=prototxt,
        dnn_scale=1.0, dnn_mean=[104.0, 177.0, 123.0], dnn_swap_rb=False,
        dnn_labels=['background', 'face'], classes=['face'],
        road_region=[0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        topics=[(DETECTIONS, String, RELIABLE)])
    camera.frame(cv2.imread(MESSI), time.time())
    wait_for(lambda: collector.count(DETECTIONS) == 1, timeout_s=10, what='result')
    result = _detections(collector)[0]
    assert result['backend'] == 'dnn'
    assert [d['class'] for d in result['detections']] == ['face']
    assert result['detections'][0]['score'] > 0.9


def test_detector_health_on_diagnostics(graph):
    detector, camera, collector = graph(
        VehicleDetector, topics=[('/diagnostics', DiagnosticArray, 10)])
    camera.frame(np.full((240, 320, 3), 90, np.uint8), time.time())
    wait_for(lambda: detector.frames_analysed == 1, timeout_s=10, what='one frame analysed')

    def reported():
        return any(s.name == 'vehicle_detector: vehicles'
                   and any(v.key == 'frames_analysed' and v.value == '1' for v in s.values)
                   for _, m in collector.messages['/diagnostics'] for s in m.status)
    wait_for(reported, timeout_s=10, what='diagnostics naming the node')


@pytest.mark.parametrize('params, reason', [
    ({'backend': 'dnn', 'model_path': '/nonexistent/model.pb'}, 'not found'),
    ({'backend': 'learned', 'model_path': '/nonexistent/vehicles.onnx'}, 'not found'),
    ({'backend': 'dnn'}, 'model'),
    ({'backend': 'magic'}, 'backend'),
    ({'backend': 'dnn', 'model_path': __file__}, 'cannot read'),
    ({'dnn_mean': [1.0, 2.0]}, 'dnn_mean'),
    ({'road_region': [0.0, 0.5, 1.5, 0.5, 1.0, 1.0]}, 'road_region'),
    ({'road_region': [0.0, 0.5, 1.0]}, 'road_region'),
    ({'counting_line': [0.5, 0.0, 0.5]}, 'counting_line'),
])
def test_detector_bad_configuration_fails(rclpy_context, params, reason):
    detector = _node(VehicleDetector, rclpy_context, **params)
    messages = []
    detector.get_logger().error = messages.append  # the log line is the user's answer
    try:
        assert detector.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert any(reason in m and 'configure failed' in m for m in messages), messages
    finally:
        detector.destroy_node()


def test_integer_values_for_float_parameters_are_taken(rclpy_context):
    # What YAML and `-p name:=5` produce; rclpy alone would refuse the type outright.
    detector = _node(VehicleDetector, rclpy_context, max_age_s=5, dnn_mean=[104, 177, 123],
                     road_region=[0, 0, 1, 0, 1, 1, 0, 1])
    try:
        assert detector.trigger_configure() == TransitionCallbackReturn.SUCCESS
        values = detector.read_configuration()
        assert values['max_age_s'] == 5.0 and isinstance(values['max_age_s'], float)
        assert values['dnn_mean'] == (104.0, 177.0, 123.0)
    finally:
        detector.destroy_node()


def _blue_sky(width=640, height=480):
    image = np.full((height, width, 3), (60, 110, 70), np.uint8)
    image[:height // 3] = (200, 130, 60)
    return image


def test_sky_analyzer_publishes_latched_rate_limited_with_camera_evidence(graph,
                                                                          rclpy_context):
    analyzer, camera, collector = graph(SkyAnalyzer, period_s=100.0,
                                        topics=[(SKY, String, latched_qos())])
    start = time.time() - 3.0
    camera.metadata.publish(String(data=json.dumps(
        {'capture_time': start, 'camera': {'Lux': 0.5, 'ExposureTime': 900000,
                                           'AnalogueGain': 8.0}})))
    wait_for(lambda: analyzer._latest_camera is not None, timeout_s=10, what='metadata')
    for i in range(3):
        camera.frame(_blue_sky(), start + i)
        wait_for(lambda: analyzer._classifier.stats.frames == i + 1, timeout_s=10,
                 what=f'frame {i} classified')
    wait_for(lambda: collector.count(SKY) == 1, timeout_s=10, what='sky/condition')
    message = json.loads(collector.last(SKY).data)
    stamp = epoch_to_stamp(start)
    assert message['stamp'] == {'sec': stamp.sec, 'nanosec': stamp.nanosec}
    assert message['frame_id'] == 'test_optical_frame'
    # Blue pixels, but the camera says it is dark: auto-exposure made the night blue.
    assert message['condition'] == 'night'
    assert message['camera'] == {'lux': 0.5, 'exposure_us': 900000.0, 'gain': 8.0}
    assert collector.count(SKY) == 1  # three frames, one period: one message
    late = Collector(rclpy_context, [(SKY, String, latched_qos())], name='late_joiner')
    spinner = Spinner(rclpy_context, late.node)
    try:
        wait_for(lambda: late.count(SKY) == 1, timeout_s=10, what='latched sky/condition')
        assert json.loads(late.last(SKY).data)['condition'] == 'night'
    finally:
        spinner.close()


def test_sky_analyzer_without_camera_data_uses_pixels(graph):
    analyzer, camera, collector = graph(SkyAnalyzer, period_s=0.0,
                                        topics=[(SKY, String, latched_qos())])
    camera.frame(_blue_sky(), time.time())
    wait_for(lambda: collector.count(SKY) == 1, timeout_s=10, what='sky/condition')
    message = json.loads(collector.last(SKY).data)
    assert message['condition'] == 'clear'
    assert message['camera'] is None


@pytest.mark.parametrize('params, reason', [
    ({'sky_region': [0.0, 0.0, 1.0, 0.0, 1.0, 1.2]}, 'sky region'),
    ({'night_brightness': 200.0}, 'night_brightness'),
    ({'clear_below': 0.9}, 'clear_below'),
])
def test_sky_analyzer_bad_configuration_fails(rclpy_context, params, reason):
    analyzer = _node(SkyAnalyzer, rclpy_context, **params)
    messages = []
    analyzer.get_logger().error = messages.append
    try:
        assert analyzer.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert any(reason in m for m in messages), messages
    finally:
        analyzer.destroy_node()


@pytest.mark.parametrize('cls, attribute', [(SkyAnalyzer, '_condition_pub'),
                                            (VehicleDetector, '_detections_pub')])
def test_a_result_published_after_ctrl_c_released_the_node_is_no_error(
        rclpy_context, cls, attribute):
    # SIGINT shuts the context down and releases the node from the signal's thread while
    # a frame callback is half way through its analysis: its publisher is gone when the
    # result is ready. That used to end `make demo` with an exception never retrieved.
    node = _node(cls, rclpy_context)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        publisher = getattr(node, attribute)
        node.destroy_publisher(publisher)
        with pytest.raises(Exception):  # while the node runs, a gone publisher is a bug
            publish_unless_stopping(node, publisher, String(data='{}'))
        rclpy.try_shutdown(context=rclpy_context)
        publish_unless_stopping(node, publisher, String(data='{}'))
    finally:
        node.destroy_node()
