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
from typing import Dict, Optional

from framebridge_ros.core.analysis.sky import (
    DEFAULT_SKY_REGION, parse_sky_region, sky_config, sky_health, sky_message, sky_params,
    SkyClassifier)
from framebridge_ros.core.health import Health
from framebridge_ros.core.params import ParamSpec
from framebridge_ros.nodes.base import ManagedNode
from framebridge_ros.ros_glue import latched_qos, publish_unless_stopping, run_node, sensor_qos
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
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
) + sky_params() + (
    ParamSpec('sky_region', list(DEFAULT_SKY_REGION), 'Sky polygon, flat list of '
              'normalised x, y pairs (>= 3 points).', parse=parse_sky_region),
)


class SkyAnalyzer(ManagedNode):
    """Classifies the sky and publishes it latched; see the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('sky_analyzer', specs=SKY_ANALYZER_PARAMS, **kwargs)
        self._classifier: Optional[SkyClassifier] = None
        self._condition_pub = None
        self._latest_camera: Optional[dict] = None
        self._last_publish = -float('inf')

    # --- lifecycle ------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self.read_configuration()
        if p is None:
            return TransitionCallbackReturn.FAILURE
        try:
            config = sky_config(p)
        except (ValueError, TypeError) as error:
            return self.configure_failed(error)
        self._classifier = SkyClassifier(config, region=p['sky_region'])
        self._condition_pub = self.add_publisher(String, 'sky/condition', latched_qos())
        self._last_publish = -float('inf')
        self.get_logger().info(f'configured: {p["image_topic"]}, period {p["period_s"]:g} s, '
                               f'smoothing {p["smoothing_frames"]} frames')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        p = self.params
        # Newest frame only; metadata latched so the last exposure is known at once.
        self.subscribe(Image, p['image_topic'], self._on_image, sensor_qos(1))
        self.subscribe(String, p['metadata_topic'], self._on_metadata, latched_qos())
        return result

    def release(self) -> None:
        super().release()
        self._condition_pub = None
        self._classifier = None
        self._latest_camera = None

    # --- callbacks ------------------------------------------------------------------

    def _on_metadata(self, message: String) -> None:
        metadata = self.remember_metadata(message)
        if metadata is not None and isinstance(metadata.get('camera'), dict):
            self._latest_camera = metadata

    def _on_image(self, message: Image) -> None:
        classifier, publisher = self._classifier, self._condition_pub
        if classifier is None or publisher is None:
            return
        p = self.params
        received = self.receive_frame(message, max_age_s=p['max_age_s'])
        if received is None:
            return
        image, capture_time = received
        # Exposure changes slowly: the newest metadata with camera data stands in for a
        # frame whose own metadata has not arrived (yet).
        metadata = self.metadata_for(capture_time) or self._latest_camera
        reading = classifier.classify(image, metadata=metadata)
        now = time.monotonic()
        if now - self._last_publish < p['period_s']:
            return
        self._last_publish = now
        body = sky_message(reading, stamp_sec=message.header.stamp.sec,
                           stamp_nanosec=message.header.stamp.nanosec,
                           frame_id=message.header.frame_id)
        publish_unless_stopping(self, publisher, String(data=json.dumps(body)))

    # --- diagnostics ----------------------------------------------------------------

    def health(self) -> Dict[str, Health]:
        classifier = self._classifier
        if classifier is None:
            return {}
        health = sky_health(classifier.stats, now=time.time(),
                            max_age_s=self.params['max_age_s'])
        health.values['dropped_stale'] = self.dropped_stale
        return {f'{self.get_name()}: sky': health}


def main(args=None) -> None:
    run_node(SkyAnalyzer, args)


if __name__ == '__main__':
    main()
