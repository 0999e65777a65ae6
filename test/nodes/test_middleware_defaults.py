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
The middleware defaults: in force for a node started the plain way, or left alone.

The decision table runs without ROS. Then real processes over real DDS: frame_provider
started as `ros2 run` would (the installed console script, and `python -m`) and through
`framebridge run`, with nothing set by hand. What Fast DDS really does is read from the
process itself: the shared-memory segments it maps (/dev/shm/fastrtps_*: 64 MiB with
the shipped profile, 512 KiB by default), and the environment it was started with
(/proc/<pid>/environ: the restart that gives glibc its huge-pages tunable).
"""

import itertools
import os
from pathlib import Path
import re
import subprocess
import sys
import time

import framebridge_ros
from framebridge_ros import middleware_defaults as defaults
from framebridge_ros.core.volume.layout import VolumeLayout
from framebridge_ros.ros_glue import frame_qos
from framebridge_testing import call_service, clean_shared_memory, Collector, encode, \
    Spinner, test_image, wait_for, write_frame
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

PACKAGE_ROOT = Path(framebridge_ros.__file__).resolve().parents[1]
INSTALL = PACKAGE_ROOT / '.colcon' / 'install'
PROFILE = PACKAGE_ROOT / 'config' / 'fastdds_shm.xml'
SHIPPED_SEGMENT = 64 << 20
# Whatever a developer's shell or CI has set must not decide these tests.
CLEARED = ('RMW_IMPLEMENTATION', 'GLIBC_TUNABLES', 'SKIP_DEFAULT_XML_FILE',
           defaults.CHOICE_VARIABLE, defaults.HUGE_PAGES_VARIABLE, defaults.MARKER_VARIABLE,
           *defaults.USER_CONFIG_VARIABLES)
USER_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"><profiles>
  <transport_descriptors><transport_descriptor>
    <transport_id>user_shm</transport_id><type>SHM</type>
    <segment_size>{size}</segment_size>
  </transport_descriptor></transport_descriptors>
  <participant profile_name="user" is_default_profile="true"><rtps>
    <userTransports><transport_id>user_shm</transport_id></userTransports>
    <useBuiltinTransports>false</useBuiltinTransports>
  </rtps></participant>
</profiles></dds>
"""
USER_SEGMENT = 3 << 20
# A node name of its own per start: this process may have seen a node of the same name in
# an earlier test's context, and its stale get_state would swallow the calls.
_names = (f'fb_middleware_{os.getpid()}_{n}' for n in itertools.count())


# --- the decision, without ROS --------------------------------------------------------

def _decide(env, tmp_path, **kwargs):
    kwargs.setdefault('profile', PROFILE)
    kwargs.setdefault('huge_pages', (True, ''))
    return defaults.decide(env, cwd=tmp_path, **kwargs)


@pytest.mark.parametrize('env, source, profile_set, restart', [
    ({}, 'framebridge', True, True),
    ({'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp'}, 'framebridge', True, True),
    ({'RMW_IMPLEMENTATION': 'rmw_fastrtps_dynamic_cpp'}, 'framebridge', True, True),
    ({'FASTRTPS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}, 'yours', False, True),
    ({'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}, 'yours', False, True),
    ({'RMW_FASTRTPS_USE_QOS_FROM_XML': '1'}, 'yours', False, True),
    ({'FASTDDS_BUILTIN_TRANSPORTS': 'LARGE_DATA'}, 'yours', False, True),
    ({'FRAMEBRIDGE_DDS_PROFILE': ''}, 'defaults', False, False),
    ({'FRAMEBRIDGE_DDS_PROFILE': 'default'}, 'defaults', False, False),
    ({'FRAMEBRIDGE_DDS_PROFILE': 'none', 'GLIBC_TUNABLES': ''}, 'defaults', False, False),
    ({'FRAMEBRIDGE_DDS_PROFILE': 'auto'}, 'framebridge', True, True),
    ({'FRAMEBRIDGE_HUGE_PAGES': '0'}, 'framebridge', True, False),
    ({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=0'}, 'framebridge', True, False),
    # What the first start set, seen by the restarted process: nothing more to do.
    ({'FASTRTPS_DEFAULT_PROFILES_FILE': str(PROFILE),
      'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=1',
      'FRAMEBRIDGE_MIDDLEWARE_SET': 'FASTRTPS_DEFAULT_PROFILES_FILE,GLIBC_TUNABLES'},
     'framebridge', False, False),
], ids=lambda value: str(value) if not isinstance(value, dict) else ','.join(value) or 'plain')
def test_decision_table(tmp_path, env, source, profile_set, restart):
    choice = _decide(env, tmp_path)
    assert choice.profile_source == source, choice
    assert (defaults.PROFILE_VARIABLE in choice.environment) == profile_set, choice
    assert choice.restart == restart, choice
    if profile_set:
        assert choice.environment[defaults.PROFILE_VARIABLE] == str(PROFILE)
    if source == 'defaults':
        assert not choice.environment and not choice.huge_pages
        assert 'unset FRAMEBRIDGE_DDS_PROFILE' in choice.summary()
    else:
        assert 'FRAMEBRIDGE_DDS_PROFILE=default' in choice.summary()
    # Discovery settings are never touched.
    assert not set(choice.environment) & {'ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE',
                                          'ROS_STATIC_PEERS', 'ROS_DISCOVERY_SERVER'}


@pytest.mark.parametrize('rmw', ['rmw_cyclonedds_cpp', 'rmw_zenoh_cpp', 'rmw_connextdds'])
def test_another_rmw_is_left_entirely_alone(tmp_path, rmw):
    choice = _decide({'RMW_IMPLEMENTATION': rmw}, tmp_path)
    assert choice.environment == {} and not choice.restart
    assert choice.summary() == f'middleware: {rmw}, left as configured'


def test_a_profile_fast_dds_loads_from_the_working_directory_is_left_alone(tmp_path):
    (tmp_path / 'DEFAULT_FASTRTPS_PROFILES.xml').write_text('<dds/>')
    choice = _decide({}, tmp_path)
    assert choice.profile_source == 'yours'
    assert defaults.PROFILE_VARIABLE not in choice.environment
    # Told to skip that file, Fast DDS does not load it: then it is not a choice.
    assert _decide({'SKIP_DEFAULT_XML_FILE': '1'}, tmp_path).profile_source == 'framebridge'


def test_an_explicit_profile_path_wins_and_a_missing_one_gives_the_defaults(tmp_path):
    mine = tmp_path / 'mine.xml'
    mine.write_text('<dds/>')
    choice = _decide({'FRAMEBRIDGE_DDS_PROFILE': 'mine.xml',
                      'FASTRTPS_DEFAULT_PROFILES_FILE': '/elsewhere.xml'}, tmp_path)
    assert choice.environment[defaults.PROFILE_VARIABLE] == str(mine)
    missing = _decide({'FRAMEBRIDGE_DDS_PROFILE': str(tmp_path / 'nope.xml')}, tmp_path)
    assert missing.profile_source == 'defaults' and 'does not exist' in missing.summary()


def test_other_tunables_are_kept_and_the_profile_needs_room_in_dev_shm(tmp_path):
    choice = _decide({'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2'}, tmp_path)
    assert choice.environment['GLIBC_TUNABLES'] == \
        'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'
    small = _decide({}, tmp_path, shm_bytes=64 << 20)  # Docker's default /dev/shm
    assert small.profile_source == 'defaults' and '--shm-size' in small.summary()
    off = _decide({}, tmp_path, huge_pages=(False, 'transparent huge pages are off'))
    assert not off.restart and 'transparent huge pages are off' in off.summary()


def test_shipped_profile_is_found_from_the_tree_without_an_install(monkeypatch):
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    assert defaults.shipped_profile() == PROFILE


# --- real processes over real DDS -----------------------------------------------------

def _plain_env(**extra):
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                      os.environ.get('PYTHONPATH')]))
    env.update(extra)
    return env


def _installed_command():
    script = INSTALL / 'framebridge_ros' / 'lib' / 'framebridge_ros' / 'frame_provider'
    site = sorted((INSTALL / 'framebridge_ros' / 'lib').glob('python3*/site-packages'))
    if not script.exists() or not site:
        pytest.skip(f'no installed console script at {script}: run `make build` first')
    # What `. install/setup.sh && ros2 run framebridge_ros frame_provider` gives it.
    env = {'PYTHONPATH': os.pathsep.join([str(site[0]), os.environ.get('PYTHONPATH', '')]),
           'AMENT_PREFIX_PATH': os.pathsep.join(filter(None, [
               str(INSTALL / 'framebridge_ros'), os.environ.get('AMENT_PREFIX_PATH')]))}
    return [str(script)], env


COMMANDS = {
    'installed_script': _installed_command,
    'python_m': lambda: ([sys.executable, '-m', 'framebridge_ros.nodes.frame_provider'], {}),
}


class Started:
    """A framebridge process started for a test; stopped and its log kept in tmp_path."""

    def __init__(self, argv, *, env, cwd, log_path) -> None:
        self.log_path = log_path
        with open(log_path, 'wb') as log:
            self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log,
                                            stderr=subprocess.STDOUT)
        self.pid = self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def middleware_lines(self):
        return [line for line in self.log().splitlines() if '[framebridge]: middleware: ' in line]

    def segment_paths(self):
        """Return the Fast DDS shared-memory segments this process maps."""
        names = set()
        for line in Path(f'/proc/{self.pid}/maps').read_text().splitlines():
            path = line.split()[-1] if len(line.split()) >= 6 else ''
            if re.fullmatch(r'/dev/shm/fastrtps_[0-9a-f]{16}', path):
                names.add(path)
        return sorted(names)

    def segments(self):
        """Return the sizes of the Fast DDS shared-memory segments this process maps."""
        return sorted(os.stat(name).st_size for name in self.segment_paths()
                      if os.path.exists(name))

    def environ(self):
        raw = Path(f'/proc/{self.pid}/environ').read_bytes().split(b'\0')
        return dict(item.decode(errors='replace').split('=', 1)
                    for item in raw if b'=' in item)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def started(tmp_path):
    processes = []

    def start(argv, *, env, cwd=None, name='node'):
        process = Started(argv, env=env, cwd=cwd or tmp_path,
                          log_path=tmp_path / f'{name}.{len(processes)}.log')
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.stop()


@pytest.fixture
def client(rclpy_context):
    node = Node('middleware_defaults_test', context=rclpy_context)
    spinner = Spinner(rclpy_context, node)
    yield node
    spinner.close()


def _call(node, service_type, name, request, timeout_s=20.0):
    return call_service(node, service_type, name, request, timeout_s=timeout_s)


def _wait_up(client, process, node_name):
    """Wait until the node answers get_state: its participant and transports exist."""
    response = _call(client, GetState, f'/{node_name}/get_state', GetState.Request())
    assert response is not None, f'{node_name} never came up; its log:\n{process.log()}'


def _provider_argv(command, volume, name):
    return command + ['--ros-args', '-p', f'capture_dir:={volume}', '-p',
                      'min_file_bytes:=100', '-r', f'__node:={name}']


@pytest.mark.parametrize('how', sorted(COMMANDS))
def test_a_node_started_the_plain_way_runs_with_the_large_frame_profile_and_huge_pages(
        rclpy_context, client, started, tmp_path, how):
    command, extra = COMMANDS[how]()
    volume = VolumeLayout.at(tmp_path / 'volume')
    volume.ensure()
    name = next(_names)
    provider = started(_provider_argv(command, volume.root, name), env=_plain_env(**extra),
                       name='frame_provider')
    _wait_up(client, provider, name)
    assert max(provider.segments()) >= SHIPPED_SEGMENT, provider.segments()
    # Started once more with the tunable (same pid): glibc read it at start.
    environ = provider.environ()
    assert 'glibc.malloc.hugetlb=1' in environ.get('GLIBC_TUNABLES', ''), environ
    profile = environ['FASTRTPS_DEFAULT_PROFILES_FILE']
    assert Path(profile).name == 'fastdds_shm.xml' and Path(profile).is_file()
    if how == 'installed_script':  # found through the ament index, as ros2 run would
        assert Path(profile).is_relative_to(INSTALL), profile
    lines = provider.middleware_lines()
    assert len(lines) == 1, provider.log()
    assert f'large-frame profile {profile}, malloc huge pages on' in lines[0]
    assert 'FRAMEBRIDGE_DDS_PROFILE=default for the middleware defaults' in lines[0]

    # A subscriber with the middleware defaults (this test process) needs nothing.
    collector = Collector(rclpy_context, [
        ('camera/image_raw', Image, frame_qos(5.0)),
        ('camera/image_raw/compressed', CompressedImage, frame_qos(5.0))])
    spinner = Spinner(rclpy_context, collector.node)
    try:
        for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            response = _call(client, ChangeState, f'/{name}/change_state',
                             ChangeState.Request(transition=Transition(id=transition)))
            assert response is not None and response.success, provider.log()
        wait_for(lambda: collector.node.count_publishers('camera/image_raw') > 0,
                 timeout_s=10.0, what='the provider matching the subscriber')
        jpeg = encode(test_image(1920, 1080))
        write_frame(volume, jpeg=jpeg)
        wait_for(lambda: collector.count('camera/image_raw') and
                 collector.count('camera/image_raw/compressed'),
                 timeout_s=15.0, what='a 1080p frame on both topics')
        image = collector.last('camera/image_raw')
        assert (image.width, image.height) == (1920, 1080)
        assert bytes(collector.last('camera/image_raw/compressed').data) == jpeg
    finally:
        spinner.close()


def test_framebridge_run_gets_the_same_defaults(started, tmp_path):
    runner = started([sys.executable, '-m', 'framebridge_ros.cli', 'run', '--nodes',
                      'provider', '--capture-dir', str(tmp_path / 'volume'),
                      '--duration', '60'], env=_plain_env(), name='framebridge_run')

    def big_segment():
        assert runner.process.poll() is None, runner.log()
        return max(runner.segments(), default=0) >= SHIPPED_SEGMENT

    # Its participant (and segments) exist from rclpy.init on, before any node.
    wait_for(big_segment, timeout_s=30.0, what=f'a 64 MiB segment; log:\n{runner.log()}')
    assert 'glibc.malloc.hugetlb=1' in runner.environ().get('GLIBC_TUNABLES', '')
    assert len(runner.middleware_lines()) == 1, runner.log()


@pytest.mark.parametrize('case', ['own_profile', 'profile_in_working_dir', 'opt_out'])
def test_a_choice_of_the_user_is_left_alone(client, started, tmp_path, case):
    mine = tmp_path / 'mine.xml'
    mine.write_text(USER_PROFILE.format(size=USER_SEGMENT))
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    env = _plain_env()
    if case == 'own_profile':
        env['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(mine)
    elif case == 'profile_in_working_dir':
        (cwd / 'DEFAULT_FASTRTPS_PROFILES.xml').write_text(mine.read_text())
    else:
        env['FRAMEBRIDGE_DDS_PROFILE'] = 'default'
    command, _ = COMMANDS['python_m']()
    name = next(_names)
    provider = started(_provider_argv(command, tmp_path / 'volume', name), env=env, cwd=cwd,
                       name='frame_provider')
    _wait_up(client, provider, name)
    segments = provider.segments()
    assert segments and max(segments) < SHIPPED_SEGMENT, segments
    if case == 'opt_out':
        assert max(segments) < 1 << 20, segments  # Fast DDS's own 512 KiB
        assert 'GLIBC_TUNABLES' not in provider.environ()  # and no restart
        assert 'Fast DDS defaults, malloc huge pages off' in provider.middleware_lines()[0]
    else:
        assert any(USER_SEGMENT <= size < 2 * USER_SEGMENT for size in segments), segments
        assert provider.environ().get('FASTRTPS_DEFAULT_PROFILES_FILE') == \
            env.get('FASTRTPS_DEFAULT_PROFILES_FILE')
        assert 'your own configuration left alone' in provider.middleware_lines()[0]


def test_a_killed_nodes_segment_stays_in_dev_shm_until_the_cleaner_removes_it(
        client, started, tmp_path):
    # SIGKILL (a crash, the OOM killer) gives Fast DDS no chance to unlink the 64 MiB
    # segment: it stays in /dev/shm, RAM held, until Fast DDS's own cleaner removes it.
    # The test run calls the cleaner at the end (conftest.py); it must find this one.
    command, _ = COMMANDS['python_m']()
    name = next(_names)
    provider = started(_provider_argv(command, tmp_path / 'volume', name), env=_plain_env(),
                       name='frame_provider')
    _wait_up(client, provider, name)
    big = [path for path in provider.segment_paths()
           if os.stat(path).st_size >= SHIPPED_SEGMENT]
    assert big, provider.segments()
    provider.process.kill()
    provider.process.wait(timeout=10)
    assert all(os.path.exists(path) for path in big), 'Fast DDS unlinked it after all'
    report = clean_shared_memory()
    assert report is not None, 'fastdds (installed with the Fast DDS wheels) not found'
    assert not any(os.path.exists(path) for path in big), report


def test_another_rmw_changes_nothing_in_a_real_process(tmp_path):
    # No other RMW is installed here, and librcl exits when it loads with an
    # RMW_IMPLEMENTATION it cannot find; so the entry point's first step runs alone.
    script = ('import json, os; from framebridge_ros import middleware_defaults as m; '
              'before = dict(os.environ); m.apply(log=print); '
              'print(json.dumps(before == dict(os.environ)))')
    started_at = time.monotonic()
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            env=_plain_env(RMW_IMPLEMENTATION='rmw_zenoh_cpp'), cwd=tmp_path,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['middleware: rmw_zenoh_cpp, left as configured',
                                          'true'], (result.stdout, time.monotonic() -
                                                    started_at)
