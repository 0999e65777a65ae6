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
vehicle_detector: detects, tracks and counts vehicles in the analysis frames, as a lifecycle node.

Subscribes:

    camera/image_scaled   sensor_msgs/Image (``image_topic``), newest frame only
    camera/metadata       std_msgs/String, the frames' metadata JSON, latched, matched
                          to each frame by capture time: the camera's Lux for every
                          back-end, the boxes computed on the sensor for imx500
    sky/condition         std_msgs/String, latched: the sky label moves the threshold,
                          and at dusk and night lets each lane learn its heading from
                          its vehicles' lamps (docs/ANALYSIS_HISTORY.md, "Session 7")

Publishes:

    vehicles/detections       std_msgs/String JSON, reliable (schema below)
    vehicles/image_annotated  sensor_msgs/Image, the frame with boxes, track ids, the
                              counting line, counts and the sky label drawn; only while
                              someone subscribes; QoS as the camera images
    /diagnostics              diagnostic_msgs/DiagnosticArray, once a second

A frame older than ``max_age_s`` on receipt (capture time in header.stamp to now) is
dropped and counted in the diagnostics.

vehicles/detections schema (version 1), one JSON object per analysed frame::

    schema_version   1
    stamp            {"sec", "nanosec"}: header.stamp of the source frame (capture time)
    frame_id         header.frame_id of the source frame
    image_size       [width, height] of the analysed image, pixels
    backend          learned | motion | dnn | imx500
    status           ok | warming_up | lighting_change (motion) | no_information (imx500:
                     the frame's metadata gave no boxes, or came more than
                     METADATA_WAIT_S after its image)
    sky_condition    the last sky/condition label, or null
    threshold        confidence threshold applied (adaptive to the sky, in [0.1, 0.9])
    detections       [{"box": [x, y, w, h] in pixels of image_size, "class": str,
                       "score": float, "track_id": int}]
    vehicle_count    len(detections)
    crossings        crossings in this frame: [{"track_id": int, "direction": str}]
    counts           {direction: int}: crossings since configure
    processing_ms    detection + tracking time of this frame

Parameters ``road_region`` (flat list of normalised x, y pairs) and ``counting_line``
(x1, y1, x2, y2, normalised) are double arrays; the rest are listed in
``DETECTOR_PARAMS`` and the motion back-end's ``motion_params()``.

Lifecycle: configure checks parameters and builds the back-end (a missing model, a
region outside [0, 1] or an unknown backend fail with a log line saying what to fix);
activate subscribes; deactivate unsubscribes; cleanup releases everything.
"""

import json
import time
from typing import Dict, NamedTuple, Optional

from framebridge_ros.core.analysis.analyzer import detector_health, VehicleAnalyzer
from framebridge_ros.core.analysis.detections_schema import detections_message
from framebridge_ros.core.analysis.detector import DetectorError, VEHICLE_CLASSES
from framebridge_ros.core.analysis.dnn_detector import DnnConfig, parse_mean
from framebridge_ros.core.analysis.drawing import draw_analysis
from framebridge_ros.core.analysis.factory import BACKENDS, make_detector
from framebridge_ros.core.analysis.imx500_detector import Imx500Detector
from framebridge_ros.core.analysis.motion_detector import motion_config, motion_params
from framebridge_ros.core.analysis.region import DEFAULT_ROAD_REGION, parse_region
from framebridge_ros.core.analysis.tracking import parse_line, Tracker
from framebridge_ros.core.health import Health, Level
from framebridge_ros.core.params import ParamSpec
from framebridge_ros.nodes.base import ManagedNode
from framebridge_ros.ros_glue import (
    frame_qos, image_to_msg, latched_qos, publish_unless_stopping, run_node, sensor_qos)
import numpy as np
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

__all__ = ['DETECTOR_PARAMS', 'VehicleDetector', 'main']

DETECTOR_PARAMS = (
    ParamSpec('image_topic', 'camera/image_scaled', 'Frames to analyse (sensor_msgs/Image).'),
    ParamSpec('metadata_topic', 'camera/metadata', 'Frame metadata JSON (latched), '
              'matched to each frame by capture time: camera Lux for every back-end, the '
              "imx500 back-end's boxes."),
    ParamSpec('sky_topic', 'sky/condition', 'Sky condition JSON (latched) that moves the '
              'confidence threshold.'),
    ParamSpec('backend', 'learned', 'Detection back-end: learned (the shipped vehicle '
              'network), motion (background subtraction), dnn (a model of your own), '
              "imx500 (the sensor's own boxes).", choices=BACKENDS),
    ParamSpec('model_path', '', 'dnn: network file (.pb, .onnx, .caffemodel, .weights); '
              'learned: empty for the shipped vehicle network, or one of its layout.'),
    ParamSpec('model_config', '', 'dnn: its text config (.pbtxt, .prototxt, .cfg), if any.'),
    ParamSpec('dnn_input_size', 300, 'dnn: square network input, pixels.',
              min_value=32, max_value=2048),
    ParamSpec('dnn_scale', 1.0 / 127.5, 'dnn: pixel scale of the input blob.',
              min_value=0.0, max_value=10.0),
    ParamSpec('dnn_mean', [127.5], 'dnn: mean subtracted from the input, one value for '
              'every channel or three in blob order, each 0..255.', parse=parse_mean),
    ParamSpec('dnn_swap_rb', True, 'dnn: feed the network RGB (TensorFlow, ONNX) rather '
              'than BGR (Caffe).'),
    ParamSpec('dnn_labels', [], 'dnn: class names by output id (id 0 first) for a model '
              'not trained on COCO; empty = COCO ids.'),
    ParamSpec('classes', list(VEHICLE_CLASSES), 'Class names kept (dnn, imx500): COCO '
              'names, or dnn_labels names.'),
    ParamSpec('confidence_threshold', 0.5, 'Base score threshold; the sky moves it.',
              min_value=0.0, max_value=1.0),
    ParamSpec('low_confidence_threshold', 0.2, 'A detection scoring this or more, but under '
              'the threshold, may continue a track whose predicted box it overlaps '
              "(ByteTrack); by day, three in a row along a lane's flow are a vehicle of "
              'their own. At or above the threshold: off.',
              min_value=0.0, max_value=1.0),
    ParamSpec('nms_threshold', 0.4, 'dnn: IoU of non-maximum suppression.',
              min_value=0.0, max_value=1.0),
    ParamSpec('adaptive_threshold', True, 'Move the threshold with sky/condition.'),
    ParamSpec('max_age_s', 5.0, 'Frames older than this on receipt are dropped; also the '
              'lifespan of vehicles/image_annotated.', min_value=0.1, max_value=3600.0),
    ParamSpec('publish_annotated', True, 'Publish vehicles/image_annotated (drawn only '
              'while subscribed).'),
    ParamSpec('max_missed', 2, 'Frames a track may go unseen before it ends.',
              min_value=0, max_value=100),
) + motion_params()

DETECTOR_PARAMS += (
    ParamSpec('road_region', list(DEFAULT_ROAD_REGION),
              'Road polygon, flat list of normalised x, y pairs (>= 3 points). Only '
              'objects whose bottom centre lies inside are kept.', parse=parse_region),
    ParamSpec('counting_line', [0.5, 0.0, 0.5, 1.0],
              'Counting line x1, y1, x2, y2, normalised.', parse=parse_line),
)
_CORE_LOGGERS = ('framebridge.vehicles',)
# imx500: how long a frame waits for its own metadata (its boxes) when the image arrives
# first. The provider publishes both at once, but two topics promise no order between
# them; past this, the frame is analysed as one without information.
METADATA_WAIT_S = 0.5


class _Waiting(NamedTuple):
    """An imx500 frame whose image came before its metadata."""

    message: Image
    image: np.ndarray
    capture_time: float
    since: float  # time.monotonic() when it came


class VehicleDetector(ManagedNode):
    """Detects, tracks and counts vehicles; see the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('vehicle_detector', specs=DETECTOR_PARAMS,
                         core_loggers=_CORE_LOGGERS, **kwargs)
        self._analyzer: Optional[VehicleAnalyzer] = None
        self._detections_pub = self._annotated_pub = None
        self._sky_condition: Optional[str] = None
        self._latest_camera: Optional[dict] = None
        self.frames_analysed = 0
        self.frames_without_metadata = 0
        self._waiting: Optional[_Waiting] = None  # imx500: one frame at most
        self.create_timer(0.1, self._flush_overdue)

    # --- lifecycle ------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self.read_configuration()
        if p is None:
            return TransitionCallbackReturn.FAILURE
        try:
            dnn = None
            if p['backend'] == 'dnn':
                dnn = DnnConfig(model_path=p['model_path'], config_path=p['model_config'],
                                input_size=p['dnn_input_size'], scale=p['dnn_scale'],
                                mean=p['dnn_mean'], swap_rb=p['dnn_swap_rb'],
                                confidence=p['confidence_threshold'],
                                nms_threshold=p['nms_threshold'],
                                classes=tuple(p['classes']), labels=tuple(p['dnn_labels']))
            detector = make_detector(p['backend'], region=p['road_region'],
                                     motion=motion_config(p), dnn=dnn,
                                     classes=p['classes'], model_path=p['model_path'])
        except (DetectorError, ValueError) as error:
            return self.configure_failed(error)
        line = [v for point in p['counting_line'] for v in point]
        self._analyzer = VehicleAnalyzer(
            detector, region=p['road_region'], counting_line=line,
            base_threshold=p['confidence_threshold'],
            tracker=Tracker(counting_line=line, max_missed=p['max_missed']),
            adaptive=p['adaptive_threshold'], low_threshold=p['low_confidence_threshold'])
        # Reliable: a consumer counting vehicles must not lose a frame's result to the
        # network; volatile: old results mean nothing to a late joiner.
        self._detections_pub = self.add_publisher(
            String, 'vehicles/detections', QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=10,
                reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.VOLATILE))
        if p['publish_annotated']:
            self._annotated_pub = self.add_publisher(
                Image, 'vehicles/image_annotated', frame_qos(p['max_age_s']))
        self.get_logger().info(
            f'configured: backend={p["backend"]}, {p["image_topic"]}, threshold '
            f'{p["confidence_threshold"]:g} (adaptive: {p["adaptive_threshold"]})')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        p = self.params
        # Newest frame only: a slow analysis skips frames instead of queueing them.
        # Metadata first: the provider publishes a frame's metadata before its image.
        # Every back-end reads it (the motion back-end the camera's Lux), not only imx500.
        self.subscribe(String, p['metadata_topic'], self._on_metadata, latched_qos())
        self.subscribe(Image, p['image_topic'], self._on_image, sensor_qos(1))
        self.subscribe(String, p['sky_topic'], self._on_sky, latched_qos())
        self.get_logger().info('analysing frames')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._waiting = None
        return super().on_deactivate(state)

    def release(self) -> None:
        super().release()
        self._waiting = None
        self._detections_pub = self._annotated_pub = None
        self._analyzer = None
        self._latest_camera = None

    # --- callbacks ------------------------------------------------------------------

    def _on_metadata(self, message: String) -> None:
        metadata = self.remember_metadata(message)
        if metadata is not None and isinstance(metadata.get('camera'), dict):
            self._latest_camera = metadata
        waiting = self._waiting
        if waiting is not None and self.metadata_for(waiting.capture_time) is not None:
            self._waiting = None
            self._analyse(*waiting[:3])

    def _flush_overdue(self) -> None:
        waiting = self._waiting
        if waiting is not None and time.monotonic() - waiting.since > METADATA_WAIT_S:
            self._waiting = None
            self._analyse(*waiting[:3])

    def _frame_metadata(self, capture_time: float) -> Optional[dict]:
        """
        Return the metadata of the frame captured at capture_time, matched by capture time.

        When the frame's own metadata has not arrived, the newest camera reading stands
        in for the light (Lux changes slowly), except for imx500: its boxes belong to
        one frame only.
        """
        metadata = self.metadata_for(capture_time)
        if metadata is None:
            self.frames_without_metadata += 1
            if self.params['backend'] != 'imx500':
                metadata = self._latest_camera
        return metadata

    def _on_sky(self, message: String) -> None:
        try:
            condition = json.loads(message.data).get('condition')
        except (ValueError, AttributeError, RecursionError):
            self.get_logger().warning('ignored a sky/condition message that is not JSON')
            return
        self._sky_condition = condition if isinstance(condition, str) else None

    def _on_image(self, message: Image) -> None:
        if self._analyzer is None or self._detections_pub is None:
            return
        p = self.params
        received = self.receive_frame(message, max_age_s=p['max_age_s'])
        if received is None:
            return
        image, capture_time = received
        if p['backend'] == 'imx500' and self.metadata_for(capture_time) is None:
            earlier = self._waiting
            self._waiting = _Waiting(message, image, capture_time, time.monotonic())
            if earlier is not None:  # its metadata is later than the next frame: lost
                self._analyse(*earlier[:3])
            return
        self._analyse(message, image, capture_time)

    def _analyse(self, message: Image, image: np.ndarray, capture_time: float) -> None:
        analyzer, publisher = self._analyzer, self._detections_pub
        annotated = self._annotated_pub
        if analyzer is None or publisher is None:
            return
        p = self.params
        analyzer.sky_condition = self._sky_condition
        analysis = analyzer.analyze(image, t=capture_time,
                                    metadata=self._frame_metadata(capture_time))
        self.frames_analysed += 1
        body = detections_message(
            analysis, stamp_sec=message.header.stamp.sec,
            stamp_nanosec=message.header.stamp.nanosec, frame_id=message.header.frame_id,
            backend=p['backend'], sky_condition=self._sky_condition)
        publish_unless_stopping(self, publisher, String(data=json.dumps(body)))
        if annotated is not None and self.context.ok() \
                and annotated.get_subscription_count() > 0:
            line = [v for point in p['counting_line'] for v in point]
            drawn = draw_analysis(image, analysis, counting_line=line,
                                  region=p['road_region'], sky_condition=self._sky_condition)
            publish_unless_stopping(self, annotated, image_to_msg(
                drawn, stamp=message.header.stamp, frame_id=message.header.frame_id))

    # --- diagnostics ----------------------------------------------------------------

    def health(self) -> Dict[str, Health]:
        analyzer = self._analyzer
        if analyzer is None:
            return {}
        analyzer.stats.dropped_stale = self.dropped_stale
        health = detector_health(analyzer.stats, now=time.time(),
                                 max_age_s=self.params['max_age_s'],
                                 backend=self.params['backend'])
        health.values['frames_without_metadata'] = self.frames_without_metadata
        if isinstance(analyzer.detector, Imx500Detector):  # "no information" frames
            health.values.update(analyzer.detector.health_values())
            warning = analyzer.detector.health_warning()
            if warning and health.level == Level.OK:
                health = Health(Level.WARN, warning, health.values)
        return {f'{self.get_name()}: vehicles': health}


def main(args=None) -> None:
    run_node(VehicleDetector, args)


if __name__ == '__main__':
    main()
