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


"""`framebridge run` as a user types it: overrides reach the nodes and leave nothing behind."""

import os
import subprocess
import sys


def test_param_override_reaches_node_and_leaves_no_temp_file(tmp_path):
    scratch = tmp_path / 'tmp'
    scratch.mkdir()
    environment = dict(os.environ, TMPDIR=str(scratch))
    # An invalid value proves the override file was read: configure must refuse it by name.
    result = subprocess.run(
        [sys.executable, '-m', 'framebridge_ros.cli', 'run', '--nodes', 'provider',
         '--capture-dir', str(tmp_path / 'volume'), '--param', 'watch_mode:=bogus',
         '--duration', '10', '--status-period', '3600'],
        env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "watch_mode='bogus'" in result.stderr, result.stderr
    assert list(scratch.iterdir()) == []


def test_param_without_separator_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'framebridge_ros.cli', 'run', '--nodes', 'provider',
         '--param', 'watch_mode=poll'], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert 'NAME:=VALUE' in result.stderr
