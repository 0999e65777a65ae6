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
The analysis nodes themselves, fed frame by frame as the frame provider feeds them.

:class:`AnalysisGraph` builds the real ``VehicleDetector`` and ``SkyAnalyzer`` nodes
(rclpy, parameters, lifecycle configure and activate), then hands each frame's
messages to whatever the nodes subscribed to, in the order the provider publishes
them (``camera/metadata``, then ``camera/image_scaled``), and each message a node
publishes to the subscriptions of the other (``sky/condition`` to the detector). Only
the middleware is left out, so that a clip runs as fast as the analysis: a node that
does not subscribe to a topic does not get it, exactly as in the running graph, so a
wiring fault shows up in the figures.
"""

import json
from typing import Callable, Dict, List, Optional

from framebridge_ros.nodes.sky_analyzer import SkyAnalyzer
from framebridge_ros.nodes.vehicle_detector import VehicleDetector
from framebridge_ros.ros_glue import epoch_to_stamp, image_to_msg
import numpy as np
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import String

__all__ = ['AnalysisGraph']


class AnalysisGraph:
    """The two analysis nodes of one clip, with a loopback in place of DDS."""

    def __init__(self, context, *, detector_params: Dict[str, object],
                 sky_params: Optional[Dict[str, object]] = None) -> None:
        self.detections: List[dict] = []
        self.sky: List[dict] = []
        self._nodes = []
        for cls, params in ((SkyAnalyzer, sky_params or {}),
                            (VehicleDetector, detector_params)):
            node = cls(context=context, parameter_overrides=[
                Parameter(name, value=value) for name, value in params.items()])
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS or \
                    node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                raise RuntimeError(f'{node.get_name()} did not become active')
            self._nodes.append(node)
        for node in self._nodes:
            for publisher in node.publishers:
                self._loop_back(publisher)

    def _subscribers(self, topic: str) -> List[Callable]:
        return [s.callback for node in self._nodes for s in node.subscriptions
                if s.topic_name == topic]

    def _loop_back(self, publisher) -> None:
        topic = publisher.topic_name
        record = {'/vehicles/detections': self.detections, '/sky/condition': self.sky}.get(topic)

        def publish(message) -> None:
            if record is not None:
                record.append(json.loads(message.data))
            for callback in self._subscribers(topic):
                callback(message)
        publisher.publish = publish

    def frame(self, image: np.ndarray, *, capture_time: float, metadata: dict) -> dict:
        """Deliver one frame as the provider publishes it; return the detections message."""
        before = len(self.detections)
        body = dict(metadata, capture_time=capture_time)
        for callback in self._subscribers('/camera/metadata'):
            callback(String(data=json.dumps(body)))
        message = image_to_msg(image, stamp=epoch_to_stamp(capture_time),
                               frame_id='camera_optical_frame')
        for callback in self._subscribers('/camera/image_scaled'):
            callback(message)
        if len(self.detections) != before + 1:
            raise RuntimeError('the detector published no result for a frame')
        return self.detections[-1]

    @property
    def detector(self) -> VehicleDetector:
        """Return the detector node (for its diagnostics)."""
        return self._nodes[1]

    def close(self) -> None:
        """Destroy both nodes."""
        for node in self._nodes:
            node.destroy_node()
        self._nodes = []


def init_context():
    """Return an rclpy context initialised for the bench."""
    context = rclpy.Context()
    # Errors only: every clip makes new nodes of the same names, which rcl warns about.
    rclpy.init(args=['--ros-args', '--log-level', 'error'], context=context)
    return context
