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
A tiny lifecycle node for the supervisor tests, run as a real process.

Test hooks live here, never in the production nodes. Parameters:

- fail_activations: the first N activations raise. rclpy swallows the exception and
  returns ERROR, the node runs on_error and lands in unconfigured: a node "in error".
- attempt_log: a file that gets one line per activation attempt, with its time.
- count_hz: while active, publish a "<name>: frames" diagnostics status with a
  frames_published counter at this rate (0: publish nothing).
- stall_after_s: during the first successful activation the counter stops moving this
  long after activation (0: never), the way a hung worker would look.

Run: python lifecycle_fixture_node.py --ros-args -r __node:=NAME -p fail_activations:=2
"""

import time
from typing import Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from framebridge_ros.ros_glue import run_node
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn


class LifecycleFixture(LifecycleNode):
    """Configures always, activates as its parameters say; see the module docstring."""

    def __init__(self) -> None:
        super().__init__('lifecycle_fixture')
        self.declare_parameter('fail_activations', 0)
        self.declare_parameter('attempt_log', '')
        self.declare_parameter('count_hz', 0.0)
        self.declare_parameter('stall_after_s', 0.0)
        self._attempts = self._successes = self._count = 0
        self._active_at = 0.0
        self._timer = None
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

    def _param(self, name: str):
        return self.get_parameter(name).value

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._attempts += 1
        log: Optional[str] = self._param('attempt_log')
        if log:
            with open(log, 'a') as stream:
                stream.write(f'{time.time():.6f}\n')
        if self._attempts <= self._param('fail_activations'):
            raise RuntimeError(f'forced failure {self._attempts} (fail_activations)')
        self._successes += 1
        self._active_at = time.monotonic()
        if self._param('count_hz') > 0:
            self._timer = self.create_timer(1.0 / self._param('count_hz'), self._tick)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error('activation failed on purpose; back to unconfigured')
        self._stop()
        return TransitionCallbackReturn.SUCCESS

    def _stop(self) -> None:
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None

    def _tick(self) -> None:
        stall_after = self._param('stall_after_s')
        if not (stall_after and self._successes == 1
                and time.monotonic() - self._active_at > stall_after):
            self._count += 1
        message = DiagnosticArray()
        message.header.stamp = self.get_clock().now().to_msg()
        message.status = [DiagnosticStatus(
            level=DiagnosticStatus.OK, name=f'{self.get_name()}: frames', message='fixture',
            values=[KeyValue(key='frames_published', value=str(self._count))])]
        self._diagnostics.publish(message)


def main() -> None:
    run_node(LifecycleFixture)


if __name__ == '__main__':
    main()
