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

"""The lifecycle nodes' watchdog: a process whose callbacks are stuck exits to be respawned."""

import subprocess
import sys
import time

from framebridge_ros.nodes.base import WATCHDOG_EXIT_CODE
from framebridge_testing import wait_for

# A ManagedNode whose timer callback does not return while a file exists, as a callback
# stuck on I/O would: its single-threaded executor (run_node, as every main() uses)
# then runs nothing else, the diagnostics heartbeat included.
STUCK_MANAGED_NODE = """
import os, sys, time
from framebridge_ros.nodes.base import ManagedNode
from framebridge_ros.ros_glue import run_node

class Stuck(ManagedNode):
    def __init__(self):
        super().__init__('watchdog_fixture', specs=())
        self.create_timer(0.05, self.tick)

    def tick(self):
        print('tick', flush=True)
        while os.path.exists(sys.argv[1]):
            time.sleep(0.01)

run_node(Stuck, sys.argv)
"""


def _start(block, watchdog_s):
    return subprocess.Popen(
        [sys.executable, '-c', STUCK_MANAGED_NODE, str(block), '--ros-args', '-p',
         f'watchdog_s:={watchdog_s}'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def test_stuck_callbacks_make_the_process_exit(tmp_path):
    block = tmp_path / 'block'
    block.touch()
    process = _start(block, 1.0)
    try:
        started = time.monotonic()
        wait_for(lambda: process.poll() is not None, timeout_s=20,
                 what='the watchdog to end the stuck process')
        print(f'\nstuck from its first callback -> exit after '
              f'{time.monotonic() - started:.2f} s (watchdog_s 1.0, process start included)')
        output = process.stdout.read()
        assert process.returncode == WATCHDOG_EXIT_CODE, output
        assert 'watchdog: no callback has run' in output
    finally:
        process.kill()
        process.wait()


def test_a_healthy_node_is_left_running(tmp_path):
    process = _start(tmp_path / 'no_block', 0.5)
    try:
        # Count from the first tick: on a loaded machine the start-up alone may take
        # seconds (the watchdog is armed from the first callback on).
        wait_for(lambda: process.stdout.readline().startswith('tick'), timeout_s=30,
                 what='the first tick')
        ticks = 0
        deadline = time.monotonic() + 3.0  # six watchdog periods of callbacks running
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            ticks += line.startswith('tick')
            assert process.poll() is None, 'a healthy node was ended'
        assert ticks > 10
    finally:
        process.kill()
        process.wait()
