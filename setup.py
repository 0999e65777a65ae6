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
Build script of the framebridge_ros ament_python package.

install_requires stays empty on purpose: on a real ROS 2 install rclpy, OpenCV and
numpy come from apt (package.xml says so), and the PyPI wheels used for development
here must never be required by the package itself.
"""

from glob import glob

from setuptools import find_packages, setup

package_name = 'framebridge_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench', 'bench.*', 'tools']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')),
        ('share/' + package_name + '/models', glob('models/*.onnx')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='framebridge_ros maintainers',
    maintainer_email='maintainers@framebridge.invalid',
    description='Host-to-container camera hand-off for ROS 2 over a shared volume.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'host_capture = framebridge_ros.nodes.host_capture:main',
            'frame_provider = framebridge_ros.nodes.frame_provider:main',
            'vehicle_detector = framebridge_ros.nodes.vehicle_detector:main',
            'sky_analyzer = framebridge_ros.nodes.sky_analyzer:main',
            'supervisor = framebridge_ros.nodes.supervisor:main',
            'framebridge-capture = framebridge_ros.core.capture:main',
            'framebridge = framebridge_ros.cli:main',
        ],
    },
)
