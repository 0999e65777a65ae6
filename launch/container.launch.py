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
Launch the container side: frame_provider and the analysis nodes under the supervisor.

    ros2 launch framebridge_ros container.launch.py capture_dir:=/mnt/storage/camera_capture
    ros2 launch framebridge_ros container.launch.py namespace:=pi_north params_file:=my.yaml

frame_provider, vehicle_detector and sky_analyzer are lifecycle nodes, respawned when
their process dies; the supervisor (use_supervisor:=true) brings them to active in this
order, restarts them when they fail, and runs retention on the volume.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

# Start-up order: the provider first, then what consumes its frames.
MANAGED_NODES = ['frame_provider', 'vehicle_detector', 'sky_analyzer']


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare('framebridge_ros')
    default_params = PathJoinSubstitution([share, 'config', 'framebridge.yaml'])
    dds_profile = LaunchConfiguration('dds_profile')
    namespace = LaunchConfiguration('namespace')
    parameters = [LaunchConfiguration('params_file'),
                  {'capture_dir': LaunchConfiguration('capture_dir')}]
    ros_arguments = ['--log-level', LaunchConfiguration('log_level')]
    # A node stuck in a callback exits after watchdog_s and is respawned.
    managed = [
        LifecycleNode(package='framebridge_ros', executable=name, name=name,
                      namespace=namespace, parameters=parameters + [{'watchdog_s': 30.0}],
                      ros_arguments=ros_arguments, respawn=True, respawn_delay=2.0,
                      output='screen')
        for name in MANAGED_NODES]
    supervisor = Node(
        package='framebridge_ros', executable='supervisor', name='supervisor',
        namespace=namespace,
        parameters=parameters + [{'managed_nodes': MANAGED_NODES, 'autostart': True}],
        ros_arguments=ros_arguments, respawn=True, respawn_delay=2.0, output='screen',
        condition=IfCondition(LaunchConfiguration('use_supervisor')))
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameter YAML, one section per node.'),
        DeclareLaunchArgument('capture_dir', default_value='/mnt/storage/camera_capture',
                              description='Root of the shared volume (mounted).'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of this camera (one per Pi).'),
        DeclareLaunchArgument('log_level', default_value='info',
                              description='debug, info, warn or error.'),
        DeclareLaunchArgument('use_supervisor', default_value='true',
                              description='Start the supervisor, which activates the '
                              'lifecycle nodes; without it they stay unconfigured.'),
        DeclareLaunchArgument(
            'dds_profile', default_value=EnvironmentVariable(
                'FRAMEBRIDGE_DDS_PROFILE', default_value='auto'),
            description='Middleware settings of the nodes (FRAMEBRIDGE_DDS_PROFILE): auto '
            '(the default) = the large-frame Fast DDS profile config/fastdds_shm.xml and '
            'malloc huge pages unless you set a Fast DDS profile or another RMW yourself; '
            'a path = that Fast DDS profile; empty = the middleware defaults.'),
        # The nodes' entry points read it before rclpy starts (middleware_defaults.py).
        SetEnvironmentVariable('FRAMEBRIDGE_DDS_PROFILE', dds_profile),
        *managed,
        supervisor,
    ])
