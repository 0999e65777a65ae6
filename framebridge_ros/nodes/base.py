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
ManagedNode: what every framebridge lifecycle node shares, written once.

Parameters declared from a ParamSpec table (with descriptors) and guarded at run time,
core's stdlib logging forwarded to the node's logger, a 1 Hz /diagnostics report built
from the subclass's health(), subscriptions that exist only while active, publishers
released on cleanup, shutdown and error, and the frame-receipt rule of the analysis
nodes (a frame older than max_age_s on arrival is dropped and counted).
"""

import json
import os
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.health import Health
from framebridge_ros.core.params import ParameterError, ParamSpec
from framebridge_ros.core.volume.frames import check_freshness, FrameRejected
from framebridge_ros.ros_glue import (
    declare_params, health_array, LoggerBridge, msg_to_image, parameter_guard,
    publish_unless_stopping, read_params, stamp_to_epoch)
import numpy as np
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image
from std_msgs.msg import String

__all__ = ['ManagedNode', 'WATCHDOG_EXIT_CODE', 'WATCHDOG_PARAMS']

# Frames whose metadata is kept while their image may still be on its way.
_METADATA_SLACK = 8

WATCHDOG_EXIT_CODE = 70
WATCHDOG_PARAMS = (
    ParamSpec('watchdog_s', 0.0, 'Exit the process when the callbacks of this node have '
              'not run for this long, so launch respawns it and the supervisor reactivates '
              'it (a callback stuck on I/O); 0 disables. Only for nodes run with respawn.',
              min_value=0.0, max_value=3600.0, read_only=True),
)


class ManagedNode(LifecycleNode):
    """
    Base of the lifecycle nodes; subclasses implement configure and activate.

    Subclasses create outputs with add_publisher() in on_configure and inputs with
    subscribe() in on_activate; the base tears both down at the right transitions and
    calls release() (extend it for other resources) on cleanup, shutdown and error.
    """

    def __init__(self, node_name: str, *, specs: Sequence[ParamSpec],
                 core_loggers: Sequence[str] = (), **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self._specs = tuple(specs)
        declare_params(self, self._specs + WATCHDOG_PARAMS)
        self.add_on_set_parameters_callback(parameter_guard(self._specs))
        self._core_loggers = tuple(core_loggers)
        self._bridge = LoggerBridge(self.get_logger())
        for name in self._core_loggers:
            self._bridge.attach(name)
        self.params: Dict[str, Any] = {}
        self._outputs: List = []
        self._inputs: List = []
        self._metadata: Dict[float, dict] = {}
        self.dropped_stale = 0
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics)
        self._heartbeat = time.monotonic()
        watchdog_s = self.get_parameter('watchdog_s').value
        if watchdog_s > 0:
            # A timer is the heartbeat: it stops when a callback blocks the executor.
            self.create_timer(min(1.0, watchdog_s / 4), self._beat)
            threading.Thread(target=self._watch, args=(watchdog_s,), daemon=True,
                             name='watchdog').start()

    # --- for subclasses -------------------------------------------------------------

    def read_configuration(self) -> Optional[Dict[str, Any]]:
        """Read and check the parameters; log why and return None if any is wrong."""
        try:
            self.params = read_params(self, self._specs)
        except ParameterError as error:
            self.configure_failed(error)
            return None
        return self.params

    def configure_failed(self, error: Exception) -> TransitionCallbackReturn:
        self.get_logger().error(f'configure failed: {error}; fix it and configure again')
        return TransitionCallbackReturn.FAILURE

    def add_publisher(self, message_type, topic: str, qos, **kwargs):
        publisher = self.create_lifecycle_publisher(message_type, topic, qos, **kwargs)
        self._outputs.append(publisher)
        return publisher

    def subscribe(self, message_type, topic: str, callback, qos) -> None:
        self._inputs.append(self.create_subscription(message_type, topic, callback, qos))

    def health(self) -> Dict[str, Health]:
        """Return this node's reports by status name; nothing while unconfigured."""
        return {}

    def release(self) -> None:
        """Drop everything configure made; subclasses extend it and call the base."""
        self._unsubscribe()
        for publisher in self._outputs:
            self.destroy_publisher(publisher)
        self._outputs = []
        self._metadata.clear()

    # --- frames and metadata (analysis nodes) ----------------------------------------

    def receive_frame(self, message: Image, *, max_age_s: float
                      ) -> Optional[Tuple[np.ndarray, float]]:
        """Return the image view and capture time of a fresh frame; None if it is dropped."""
        capture_time = stamp_to_epoch(message.header.stamp)
        try:
            check_freshness(capture_time, now=time.time(), max_age_s=max_age_s)
            return msg_to_image(message), capture_time
        except FrameRejected as rejection:
            self.dropped_stale += 1
            self.get_logger().debug(f'frame dropped: {rejection}')
        except ValueError as error:
            self.get_logger().warning(f'frame skipped: {error}', throttle_duration_sec=10.0)
        return None

    def remember_metadata(self, message: String) -> Optional[dict]:
        """Keep a camera/metadata message by capture time; return it, or None if broken."""
        try:
            metadata = json.loads(message.data)
            capture_time = float(metadata['capture_time'])
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
        self._metadata[round(capture_time, 3)] = metadata
        while len(self._metadata) > _METADATA_SLACK:
            self._metadata.pop(next(iter(self._metadata)))
        return metadata

    def metadata_for(self, capture_time: float) -> Optional[dict]:
        return self._metadata.get(round(capture_time, 3))

    # --- lifecycle ------------------------------------------------------------------

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._unsubscribe()
        self.get_logger().info('paused')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error('error in a transition; releasing everything')
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def _unsubscribe(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []

    def _beat(self) -> None:
        self._heartbeat = time.monotonic()

    def _watch(self, limit_s: float) -> None:
        # Only a new process unblocks a stuck executor; launch's respawn makes one.
        while True:
            time.sleep(min(1.0, limit_s / 4))
            silent = time.monotonic() - self._heartbeat
            if silent > limit_s:
                self.get_logger().fatal(
                    f'watchdog: no callback has run for {silent:.1f} s (watchdog_s='
                    f'{limit_s:g}): a callback is stuck; exiting so the process is respawned')
                os._exit(WATCHDOG_EXIT_CODE)

    def _publish_diagnostics(self) -> None:
        reports = self.health()
        if reports:
            publish_unless_stopping(self, self._diagnostics_pub, health_array(self, reports))

    def destroy_node(self) -> None:
        self.release()  # stops work threads a subclass may run, even while active
        for name in self._core_loggers:
            self._bridge.detach(name)
        super().destroy_node()
