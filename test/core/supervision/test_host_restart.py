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

"""host_restart_command runs one at a time, reports its outcome and dies with its children."""

import os
import sys
import time

from framebridge_ros.core.supervision.host_restart import HostRestart
from framebridge_testing import wait_for


def _ended(restart, timeout_s):
    ended = []
    wait_for(lambda: ended.append(restart.poll(time.time(), timeout_s=timeout_s))
             or ended[-1] is not None, timeout_s=10, what='the command to end')
    return ended[-1]


def test_outcome_and_output_are_kept_and_no_second_run_starts_while_one_runs():
    restart = HostRestart()
    restart.set_backoff(base_s=0.0, max_s=0.0, host_stale_s=0.0)
    assert restart.start(['sh', '-c', 'sleep 0.2; echo capture restarted; exit 3'],
                         time.time()) is None
    assert not restart.ready(time.time())  # one run at a time
    assert _ended(restart, timeout_s=10) == (False, 'exit code 3: capture restarted')
    assert restart.restarts[-1][1] == 'exit code 3: capture restarted'
    assert restart.ready(time.time())


def test_a_missing_command_is_reported_not_raised():
    restart = HostRestart()
    error = restart.start(['/nonexistent/restart-camera'], time.time())
    assert error is not None and 'No such file' in error
    assert restart.restarts[-1][1].startswith('could not run')
    assert restart.poll(time.time(), timeout_s=1.0) is None  # nothing under way


def test_a_hung_command_is_killed_with_the_processes_it_started(tmp_path):
    restart = HostRestart()
    pid_file = tmp_path / 'child.pid'
    # The child outlives its shell unless the whole session is killed.
    script = f'sleep 60 & echo $! > {pid_file}; wait'
    assert restart.start(['sh', '-c', script], time.time()) is None
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout_s=10,
             what='the child to start')
    child = int(pid_file.read_text())
    assert _ended(restart, timeout_s=0.3) == (False, 'killed after 0.3 s')

    def gone():
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie the init process has not reaped yet is dead too
            with open(f'/proc/{child}/stat') as stat:
                return stat.read().split()[2] == 'Z'
        except FileNotFoundError:
            return True
    wait_for(gone, timeout_s=10, what='the child to be killed')


def test_the_backoff_gives_host_capture_at_least_host_stale_s():
    restart = HostRestart()
    restart.set_backoff(base_s=2.0, max_s=60.0, host_stale_s=90.0)
    assert (restart.backoff.base_s, restart.backoff.max_s) == (90.0, 90.0)
    now = time.time()
    assert restart.start([sys.executable, '-c', 'pass'], now) is None
    assert _ended(restart, timeout_s=10) == (True, 'exit code 0')
    assert not restart.ready(now + 1.0)  # the back-off holds the next run
