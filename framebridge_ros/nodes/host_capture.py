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
host_capture: the host side of the hand-off as a ROS 2 node.

Captures frames with rpicam-still (one-shot or persistent), picamera2 (with the
IMX500's on-sensor detections in each frame's metadata) or the simulated camera into
<capture_dir>/live/ through the atomic hand-off of core.capture, on a thread of its own
so the executor never waits on the camera. Publishes its state on
/diagnostics once a second. Parameters: see core.capture.CAPTURE_PARAMS
(`ros2 param describe /host_capture <name>`); a change at run time restarts the
capture with the new values.
"""

import time
from typing import Optional

from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.cameras.backend import CameraError
from framebridge_ros.core.capture import CAPTURE_PARAMS, CaptureRunner, HostCapture
from framebridge_ros.core.health import capture_health
from framebridge_ros.core.params import ParameterError
from framebridge_ros.core.volume.layout import VolumeError
from framebridge_ros.ros_glue import (
    declare_params, health_array, LoggerBridge, parameter_guard, publish_unless_stopping,
    read_params, run_node)
from rclpy.node import Node

__all__ = ['HostCaptureNode', 'main']

_CORE_LOGGER = 'framebridge.capture'


class HostCaptureNode(Node):
    """Runs a HostCapture on its own thread and reports its health."""

    def __init__(self, **kwargs) -> None:
        super().__init__('host_capture', **kwargs)
        declare_params(self, CAPTURE_PARAMS)
        self.add_on_set_parameters_callback(parameter_guard(CAPTURE_PARAMS))
        self.add_post_set_parameters_callback(self._on_parameters_set)
        self._bridge = LoggerBridge(self.get_logger()).attach(_CORE_LOGGER)
        self._capture: Optional[HostCapture] = None
        self._runner: Optional[CaptureRunner] = None
        self._started_at = time.time()
        self._restart_timer = None
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics)
        self.start_capture()

    def start_capture(self) -> None:
        """(Re)start capturing with the current parameters; raise if they cannot work."""
        self.stop_capture()
        params = read_params(self, CAPTURE_PARAMS)
        capture = HostCapture(params)
        capture.start()
        self._capture, self._started_at = capture, time.time()
        self._runner = CaptureRunner(capture, on_frame=self._on_frame)
        self._runner.start()
        self.get_logger().info(
            f'capturing {params["width"]}x{params["height"]} q{params["quality"]} from '
            f'{capture.source} into {capture.layout.live} every {params["interval_s"]:g} s, '
            f'keeping {params["max_images"]} frames')

    def stop_capture(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
        if self._capture is not None:
            self._capture.close()

    def _on_frame(self, frame) -> None:
        if frame is not None:
            stats = self._capture.stats
            self.get_logger().debug(
                f'frame {frame.name} landed in {1000 * stats.last_duration_s:.0f} ms '
                f'({stats.frames_captured} captured, {stats.errors} errors)')

    def _on_parameters_set(self, parameters) -> None:
        # Restart from a timer: the new values are not readable inside this callback's
        # caller until it returns.
        if self._restart_timer is None:
            self._restart_timer = self.create_timer(0.0, self._restart_after_change)

    def _restart_after_change(self) -> None:
        self.destroy_timer(self._restart_timer)
        self._restart_timer = None
        try:
            self.start_capture()
        except (ParameterError, VolumeError, CameraError) as error:
            self.get_logger().error(f'new parameters cannot be used: {error}; capture '
                                    'stopped until they are fixed')

    def _publish_diagnostics(self) -> None:
        if self._capture is None:
            return
        self._capture.refresh_backend_values()
        health = capture_health(self._capture.stats, now=time.time(),
                                interval_s=self._capture.params['interval_s'],
                                started_at=self._started_at, source=self._capture.source,
                                space=self._capture.guard.stats)
        publish_unless_stopping(self, self._diagnostics, health_array(
            self, {f'{self.get_name()}: capture': health},
            hardware_id=str(self._capture.layout.root)))

    def destroy_node(self) -> None:
        self.stop_capture()
        self._bridge.detach(_CORE_LOGGER)
        super().destroy_node()


def main(args=None) -> None:
    run_node(HostCaptureNode, args, fatal=(ParameterError, VolumeError, CameraError))


if __name__ == '__main__':
    main()
