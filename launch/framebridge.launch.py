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
Launch the whole graph on one machine: host capture plus the container side.

    ros2 launch framebridge_ros framebridge.launch.py source:=simulated capture_dir:=/tmp/fb

The same graph as `make demo`, through ros2 launch. Every launch argument of
host.launch.py and container.launch.py is passed through.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import (
    EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution)
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = {
    'capture_dir': ('/mnt/storage/camera_capture', 'Root of the shared volume.'),
    'source': ('simulated', 'Camera back-end: rpicam, persistent or simulated.'),
    'namespace': ('', 'Namespace of this camera.'),
    'log_level': ('info', 'debug, info, warn or error.'),
    'use_supervisor': ('true', 'Start the supervisor.'),
}


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare('framebridge_ros')
    params_file = PathJoinSubstitution([share, 'config', 'framebridge.yaml'])
    passed = {name: LaunchConfiguration(name) for name in ARGUMENTS}
    passed['params_file'] = LaunchConfiguration('params_file')
    passed['dds_profile'] = LaunchConfiguration('dds_profile')
    includes = [
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([share, 'launch', name])),
            launch_arguments=passed.items())
        for name in ('host.launch.py', 'container.launch.py')]
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=params_file,
                              description='Parameter YAML, one section per node.'),
        DeclareLaunchArgument('dds_profile', default_value=EnvironmentVariable(
            'FRAMEBRIDGE_DDS_PROFILE', default_value='auto'), description='Middleware '
            'settings of the nodes: auto (the large-frame Fast DDS profile and huge pages '
            'unless you configured your own), a Fast DDS profile path, or empty for the '
            'middleware defaults.'),
        *[DeclareLaunchArgument(name, default_value=default, description=text)
          for name, (default, text) in ARGUMENTS.items()],
        *includes,
    ])
