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
Shared fixtures: an isolated DDS domain, an rclpy context per test, the fake camera.

Every test run gets a ROS_DOMAIN_ID of its own and discovery limited to this host, so
runs in parallel and other ROS graphs on the machine never see each other. The
variables are set before any rclpy context exists and are inherited by subprocesses.
"""

import gc
import multiprocessing
import os
from pathlib import Path
import sys

import pytest

# flake8 (ament_flake8) checks files in a multiprocessing pool. Forking a process that
# already runs DDS threads from earlier tests can deadlock the child on a lock held by
# a thread that does not exist there; a fork server starts clean.
multiprocessing.set_start_method('forkserver', force=True)

os.environ['ROS_DOMAIN_ID'] = os.environ.get(
    'FRAMEBRIDGE_TEST_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

TEST_DIR = Path(__file__).resolve().parent
FAKE_BIN = TEST_DIR / 'fake_bin'
FAKE_PICAMERA2 = TEST_DIR / 'fake_picamera2'
FAKE_IMX500_MODEL = (FAKE_PICAMERA2 / 'models'
                     / 'imx500_network_ssd_mobilenetv2_fpnlite_320x320_pp.rpk')


@pytest.fixture
def rclpy_context():
    """Give the test an rclpy Context initialised for this test only and shut down after it."""
    import rclpy
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    # Nodes left to the garbage collector (a cycle, a failed test) are finalised now,
    # while their context lives; collected later, inside another test, the last one's
    # rcl_node_fini destroys the old participant there, and once (CI of session 10)
    # that spun for good in Fast DDS's DomainParticipant::set_listener.
    gc.collect()
    rclpy.try_shutdown(context=context)


@pytest.fixture
def fake_camera_env(monkeypatch, tmp_path):
    """PATH with the fake rpicam-still first; its call log at tmp_path/rpicam.log."""
    path = os.pathsep.join([str(FAKE_BIN), str(Path(sys.executable).parent),
                            os.environ.get('PATH', '')])
    monkeypatch.setenv('PATH', path)
    log = tmp_path / 'rpicam.log'
    monkeypatch.setenv('FAKE_RPICAM_LOG', str(log))
    return log


@pytest.fixture
def volume(tmp_path):
    from framebridge_ros.core.volume.layout import VolumeLayout
    layout = VolumeLayout.at(tmp_path / 'volume')
    layout.ensure()
    return layout


def _forget_fake_picamera2() -> None:
    for name in list(sys.modules):
        if name == 'picamera2' or name.startswith('picamera2.') or name == 'fake_imx500_sensor':
            del sys.modules[name]


@pytest.fixture
def fake_picamera2(monkeypatch):
    """
    Put the fake picamera2 package on sys.path and PYTHONPATH; return its model file.

    Its modules are forgotten before and after the test, so every test starts with a
    camera never opened (the fake keeps per-process state, as a real device does).
    """
    _forget_fake_picamera2()
    monkeypatch.syspath_prepend(str(FAKE_PICAMERA2))
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        [str(FAKE_PICAMERA2)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep)
                                 if p]))
    yield FAKE_IMX500_MODEL
    _forget_fake_picamera2()


def pytest_terminal_summary(terminalreporter):
    """Leave no dead test process's shared memory behind (64 MiB a segment)."""
    from framebridge_testing import clean_shared_memory  # after the domain is set above
    report = clean_shared_memory()
    terminalreporter.write_line('fastdds shm clean: ' + (
        ' '.join(report.split()) if report is not None
        else 'not installed, shared memory of killed processes left in /dev/shm'))
