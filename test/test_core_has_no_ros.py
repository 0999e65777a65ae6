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

"""core/ must run on a host without ROS: it may not import rclpy or ROS messages."""

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / 'framebridge_ros' / 'core'
ROS_MODULES = ('rclpy', 'rcl_interfaces', 'sensor_msgs', 'std_msgs', 'std_srvs',
               'diagnostic_msgs', 'lifecycle_msgs', 'builtin_interfaces', 'launch',
               'launch_ros', 'framebridge_ros.nodes', 'framebridge_ros.ros_glue')


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize('path', sorted(CORE.rglob('*.py')), ids=lambda path: path.name)
def test_core_module_does_not_import_ros(path):
    offending = [name for name in _imports(path)
                 if any(name == ros or name.startswith(ros + '.') for ros in ROS_MODULES)]
    assert not offending, f'{path.name} imports {offending}'
