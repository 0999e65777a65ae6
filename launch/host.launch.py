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
Launch the host side: host_capture writing into the shared volume.

    ros2 launch framebridge_ros host.launch.py capture_dir:=/mnt/storage/camera_capture
    ros2 launch framebridge_ros host.launch.py source:=simulated

A host without ROS runs the same capture with `python3 -m framebridge_ros.core.capture`
(see deploy/host-camera-capture.service).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    default_params = PathJoinSubstitution(
        [FindPackageShare('framebridge_ros'), 'config', 'framebridge.yaml'])
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameter YAML, one section per node.'),
        DeclareLaunchArgument('capture_dir', default_value='/mnt/storage/camera_capture',
                              description='Root of the shared volume.'),
        DeclareLaunchArgument('source', default_value='rpicam',
                              choices=['rpicam', 'persistent', 'simulated'],
                              description='Camera back-end.'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of this camera (one per Pi).'),
        DeclareLaunchArgument('log_level', default_value='info',
                              description='debug, info, warn or error.'),
        Node(
            package='framebridge_ros', executable='host_capture', name='host_capture',
            namespace=LaunchConfiguration('namespace'),
            parameters=[LaunchConfiguration('params_file'),
                        {'capture_dir': LaunchConfiguration('capture_dir'),
                         'source': LaunchConfiguration('source')}],
            ros_arguments=['--log-level', LaunchConfiguration('log_level')],
            respawn=True, respawn_delay=2.0, output='screen'),
    ])
