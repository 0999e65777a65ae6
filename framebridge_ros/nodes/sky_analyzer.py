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
sky_analyzer: classifies the sky of the analysis frames, as a lifecycle node.

Subscribes:

    camera/image_scaled   sensor_msgs/Image (``image_topic``), newest frame only
    camera/metadata       std_msgs/String, latched: the frames' metadata JSON, whose
                          ``camera`` part carries Lux, ExposureTime (us), AnalogueGain

Publishes:

    sky/condition   std_msgs/String JSON, reliable, transient-local depth 1 (latched),
                    at most once per ``period_s``; schema below
    /diagnostics    diagnostic_msgs/DiagnosticArray, once a second

Every fresh frame is classified (about a millisecond) so the smoothing over the last
``smoothing_frames`` frames sees them all; only the publishing is rate-limited. A frame
older than ``max_age_s`` on receipt is dropped.

sky/condition schema (version 1)::

    schema_version   1
    stamp            {"sec", "nanosec"}: header.stamp of the newest frame used
    frame_id         header.frame_id of that frame
    condition        clear | partly_cloudy | cloudy | night | dawn_dusk
    confidence       share of the smoothed scores the label holds, 0..1
    cloud_cover      estimated cloud share of the visible sky, 0..1
    scores           {label: smoothed score}, summing to 1
    frame_scores     {label: score of the newest frame alone}
    features         brightness, blue_fraction, cloud_fraction, warm_fraction, contrast,
                     edge_density, cloud_cover
    camera           {lux, exposure_us, gain} from the metadata, or null
    frames_smoothed  frames averaged
    processing_ms    classification time of the newest frame

``sky_region`` (flat list of normalised x, y pairs) is a double array; the thresholds
and weights are the classifier's ``sky_params()``.
"""

import json
import time
from typing import Dict, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.frames import check_freshness, FrameRejected
from framebridge_ros.core.params import ParameterError, ParamSpec
from framebridge_ros.core.sky import (
    DEFAULT_SKY_REGION, parse_sky_region, sky_config, sky_health, sky_message, sky_params,
    SkyClassifier)
from framebridge_ros.ros_glue import (
    declare_params, health_array, latched_qos, msg_to_image, parameter_guard, read_params,
    sensor_qos, stamp_to_epoch)
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_msgs.msg import String

__all__ = ['SKY_ANALYZER_PARAMS', 'SkyAnalyzer', 'main']

SKY_ANALYZER_PARAMS = (
    ParamSpec('image_topic', 'camera/image_scaled', 'Frames to analyse (sensor_msgs/Image).'),
    ParamSpec('metadata_topic', 'camera/metadata', 'Frame metadata JSON (latched), for '
              'the camera exposure, gain and lux.'),
    ParamSpec('period_s', 10.0, 'sky/condition is published at most once per period.',
              min_value=0.0, max_value=86400.0),
    ParamSpec('max_age_s', 5.0, 'Frames older than this on receipt are dropped.',
              min_value=0.1, max_value=3600.0),
) + sky_params()


class SkyAnalyzer(LifecycleNode):
    """Classifies the sky and publishes it latched; see the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('sky_analyzer', **kwargs)
        declare_params(self, SKY_ANALYZER_PARAMS)
        self.declare_parameter('sky_region', list(DEFAULT_SKY_REGION), ParameterDescriptor(
            name='sky_region', type=Parameter.Type.DOUBLE_ARRAY.value,
            description='Sky polygon, flat list of normalised x, y pairs (>= 3 points).'))
        self.add_on_set_parameters_callback(parameter_guard(SKY_ANALYZER_PARAMS))
        self.add_on_set_parameters_callback(self._guard_region)
        self._params: dict = {}
        self._classifier: Optional[SkyClassifier] = None
        self._condition_pub = None
        self._inputs: List = []
        self._metadata: Dict[float, dict] = {}
        self._latest_camera: Optional[dict] = None
        self._last_publish = -float('inf')
        self.dropped_stale = 0
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics)

    def _guard_region(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == 'sky_region':
                try:
                    parse_sky_region(list(parameter.value))
                except (TypeError, ValueError) as error:
                    return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    # --- lifecycle ------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._params = p = read_params(self, SKY_ANALYZER_PARAMS)
            region = parse_sky_region(list(self.get_parameter('sky_region').value))
            config = sky_config(p)
        except (ParameterError, ValueError, TypeError) as error:
            self.get_logger().error(f'configure failed: {error}; fix it and configure again')
            return TransitionCallbackReturn.FAILURE
        self._classifier = SkyClassifier(config, region=region)
        self._condition_pub = self.create_lifecycle_publisher(
            String, 'sky/condition', latched_qos())
        self._last_publish = -float('inf')
        self.get_logger().info(f'configured: {p["image_topic"]}, period {p["period_s"]:g} s, '
                               f'smoothing {p["smoothing_frames"]} frames')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        p = self._params
        self._inputs = [
            # Newest frame only; metadata latched so the last exposure is known at once.
            self.create_subscription(Image, p['image_topic'], self._on_image, sensor_qos(1)),
            self.create_subscription(String, p['metadata_topic'], self._on_metadata,
                                     latched_qos()),
        ]
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._unsubscribe()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error('error in a transition; releasing everything')
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _unsubscribe(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []

    def _release(self) -> None:
        self._unsubscribe()
        if self._condition_pub is not None:
            self.destroy_publisher(self._condition_pub)
            self._condition_pub = None
        self._classifier = None
        self._metadata.clear()
        self._latest_camera = None

    # --- callbacks ------------------------------------------------------------------

    def _on_metadata(self, message: String) -> None:
        try:
            metadata = json.loads(message.data)
            capture_time = float(metadata['capture_time'])
        except (ValueError, KeyError, TypeError):
            return
        self._metadata[round(capture_time, 3)] = metadata
        while len(self._metadata) > 8:
            self._metadata.pop(next(iter(self._metadata)))
        if isinstance(metadata.get('camera'), dict):
            self._latest_camera = metadata

    def _on_image(self, message: Image) -> None:
        classifier = self._classifier
        if classifier is None:
            return
        p = self._params
        capture_time = stamp_to_epoch(message.header.stamp)
        try:
            check_freshness(capture_time, now=time.time(), max_age_s=p['max_age_s'])
            image = msg_to_image(message)
        except FrameRejected:
            self.dropped_stale += 1
            return
        except ValueError as error:
            self.get_logger().warning(f'frame skipped: {error}', throttle_duration_sec=10.0)
            return
        # Exposure changes slowly: the newest metadata with camera data stands in for a
        # frame whose own metadata has not arrived (yet).
        metadata = self._metadata.get(round(capture_time, 3)) or self._latest_camera
        reading = classifier.classify(image, metadata=metadata)
        now = time.monotonic()
        if now - self._last_publish < p['period_s']:
            return
        self._last_publish = now
        body = sky_message(reading, stamp_sec=message.header.stamp.sec,
                           stamp_nanosec=message.header.stamp.nanosec,
                           frame_id=message.header.frame_id)
        self._condition_pub.publish(String(data=json.dumps(body)))

    # --- diagnostics ----------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        classifier = self._classifier
        if classifier is None:
            return
        health = sky_health(classifier.stats, now=time.time(),
                            max_age_s=self._params['max_age_s'])
        health.values['dropped_stale'] = self.dropped_stale
        self._diagnostics_pub.publish(health_array(self, {f'{self.get_name()}: sky': health}))


def main(args=None) -> None:
    rclpy.init(args=args)
    node = SkyAnalyzer()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
