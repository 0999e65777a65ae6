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
`framebridge` as a user (and the Docker healthcheck) types it, each a real subprocess.

`run` graphs are real nodes over real DDS on the test's domain; `health`, `status` and
`snapshot` are run against them, healthy and unhealthy.
"""

import argparse
import hashlib
import json
import os
from pathlib import Path
import signal
import subprocess
import sys

import cv2
from framebridge_ros import cli
from framebridge_ros.core.health import SILENT_AFTER_S
from framebridge_ros.ros_glue import latched_qos
from framebridge_testing import Collector, Spinner, wait_for
import pytest
import rclpy
from std_msgs.msg import String
import yaml

CLI = [sys.executable, '-m', 'framebridge_ros.cli']


def _framebridge(*args, timeout_s=60.0):
    return subprocess.run(CLI + [str(arg) for arg in args], capture_output=True, text=True,
                          timeout=timeout_s)


def test_param_override_reaches_node_and_leaves_no_temp_file(tmp_path):
    scratch = tmp_path / 'tmp'
    scratch.mkdir()
    environment = dict(os.environ, TMPDIR=str(scratch))
    # An invalid value proves the override file was read: configure must refuse it by name.
    result = subprocess.run(
        CLI + ['run', '--nodes', 'provider',
               '--capture-dir', str(tmp_path / 'volume'), '--param', 'watch_mode:=bogus',
               '--duration', '10', '--status-period', '3600'],
        env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "watch_mode='bogus'" in result.stderr, result.stderr
    assert list(scratch.iterdir()) == []


def test_param_without_separator_is_refused(tmp_path):
    result = _framebridge('run', '--nodes', 'provider', '--param', 'watch_mode=poll')
    assert result.returncode != 0
    assert 'NAME:=VALUE' in result.stderr


def test_list_and_nested_overrides_for_several_nodes_are_parsed_by_rcl(tmp_path):
    options = argparse.Namespace(capture_dir=str(tmp_path), source='simulated', param=[
        'host_restart_command:=[/bin/true, --from-test]', 'road_region:=[0.0, 0.5, 1.0]',
        'nested:={a: [1, 2], b: {c: x}}'])
    path = cli._override_file(options, ['host_capture', 'frame_provider', 'supervisor'])
    try:
        text = Path(path).read_text()
        # rcl itself reads the file, as at `run`: an alias (&id001) makes init raise.
        context = rclpy.Context()
        rclpy.init(context=context, args=['framebridge', '--ros-args', '--params-file', path])
        rclpy.try_shutdown(context=context)
    finally:
        os.unlink(path)
    assert '&' not in text and '*id' not in text, text


class RunningGraph:
    """`framebridge run` processes, stopped (and continued, if frozen) at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.processes = tmp_path, []

    def run(self, *args):
        log = open(self.tmp_path / f'run.{len(self.processes)}.log', 'w')
        process = subprocess.Popen(CLI + ['run', '--status-period', '3600', *map(str, args)],
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return '\n'.join(path.read_text() for path in sorted(self.tmp_path.glob('run.*.log')))

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def running(tmp_path):
    graph = RunningGraph(tmp_path)
    yield graph
    graph.close()


SIMULATED_HOST = ('--nodes', 'capture,supervisor', '--source', 'simulated',
                  '--param', 'width:=320', '--param', 'height:=240',
                  '--param', 'interval_s:=0.25')


def _wait_for_supervisor_level(context, running, level):
    """Wait, from this process, until the latched supervisor/status says level."""
    watcher = Collector(context, [('/supervisor/status', String, latched_qos())],
                        name='status_watcher')
    spinner = Spinner(context, watcher.node)

    def level_now():
        return watcher.count('/supervisor/status') and json.loads(
            watcher.last('/supervisor/status').data)['level']

    try:
        wait_for(lambda: level_now() == level, timeout_s=60,
                 what=f'supervisor/status at {level}; logs:\n{running.logs()}')
    finally:
        spinner.close()


def test_health_status_and_snapshot_against_a_running_graph(rclpy_context, running, volume,
                                                            tmp_path):
    # Host side and supervisor in one process (two nodes: the list parameters are
    # copied per node), the provider in another, as host and container are.
    host = running.run(
        *SIMULATED_HOST, '--capture-dir', volume.root,
        '--param', 'managed_nodes:=[frame_provider]', '--param', 'health_period_s:=1.0',
        '--param', 'service_timeout_s:=2.0',
        '--param', 'host_restart_command:=[/bin/true, --from-test]',
        '--param', 'nested:={a: [1, 2], b: {c: x}}')
    running.run('--nodes', 'provider', '--capture-dir', volume.root)
    try:
        _wait_for_supervisor_level(rclpy_context, running, 'OK')
        result = _framebridge('health', '--wait', 5)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith('healthy'), result.stdout

        names = ('frame_provider: frames', 'host_capture: capture')
        for _ in range(3):  # a participant may take seconds to be discovered
            result = _framebridge('status', '--wait', 4)
            assert result.returncode == 0, result.stdout + result.stderr
            if all(name in result.stdout for name in names):
                break
        for name in names:
            assert name in result.stdout, result.stdout
        # The list override reached the supervisor, through rcl, beside another node.
        assert '"host_restart_command": "/bin/true --from-test"' in result.stdout

        output = tmp_path / 'raw.png'
        result = _framebridge('snapshot', output, '--topic', 'camera/image_raw', '--wait', 15)
        assert result.returncode == 0, result.stdout + result.stderr
        assert cv2.imread(str(output)).shape == (240, 320, 3)
        output = tmp_path / 'compressed.jpg'
        result = _framebridge('snapshot', output, '--topic', 'camera/image_raw/compressed',
                              '--wait', 15)
        assert result.returncode == 0, result.stdout + result.stderr
        digest = hashlib.sha256(output.read_bytes()).hexdigest()
        landed = [json.loads(path.read_text())['sha256']
                  for path in volume.metadata.glob('*.json')]
        assert digest in landed, 'the snapshot is one of the frames that landed, as is'

        # The supervisor's process freezes (its latched status is no longer served):
        # the provider still reports OK or WARN, the graph is unhealthy all the same.
        os.kill(host.pid, signal.SIGSTOP)
        result = _framebridge('health', '--wait', 4)
        assert result.returncode == 1, result.stdout
        assert 'no supervisor/status heard' in result.stdout, result.stdout
        # ...and with the provider frozen too, the graph is silent.
        for process in running.processes:
            os.kill(process.pid, signal.SIGSTOP)
        result = _framebridge('health', '--wait', 3)
        assert result.returncode == 1 and 'silent' in result.stdout, result.stdout
        result = _framebridge('status', '--wait', 2)
        assert result.returncode == 1 and 'no /diagnostics' in result.stdout, result.stdout
    finally:
        for process in running.processes:
            os.kill(process.pid, signal.SIGCONT)


def test_health_reads_the_latched_supervisor_status_between_its_reports(
        rclpy_context, running, volume):
    """
    A supervisor ERROR is seen at once, however long the supervisor's health period.

    The supervisor judges once at start (then every 600 s): the free disk is below an
    emergency threshold of 100 %, so the volume is ERROR. host_capture meanwhile
    reports OK every second, which is all that /diagnostics carries in the window.
    """
    running.run(
        *SIMULATED_HOST, '--capture-dir', volume.root,
        '--param', "managed_nodes:=['']", '--param', 'health_period_s:=600.0',
        '--param', 'emergency_free_percent:=100.0')
    _wait_for_supervisor_level(rclpy_context, running, 'ERROR')
    wait_for(lambda: any(volume.live.glob('*.jpg')), timeout_s=30, what='a frame')
    result = _framebridge('health', '--wait', 5)  # as the Docker healthcheck runs it
    assert result.returncode == 1, result.stdout
    assert 'supervisor: volume ERROR' in result.stdout, result.stdout + running.logs()
    assert 'emergency cleanup' in result.stdout
    assert 'host_capture' not in result.stdout.split('(warn)')[0], 'host capture is fine'


def test_snapshot_of_a_silent_topic_says_so():
    result = _framebridge('snapshot', '/dev/null', '--topic', 'nothing/here', '--wait', 1)
    assert result.returncode == 1 and 'no frame on nothing/here' in result.stdout


def test_the_container_healthcheck_turns_unhealthy_at_the_first_failing_check():
    deploy = Path(__file__).resolve().parents[2] / 'deploy'
    check = yaml.safe_load((deploy / 'compose.yaml').read_text())[
        'services']['framebridge']['healthcheck']
    assert check['test'][2:4] == ['framebridge', 'health'] and check['retries'] == 1
    assert float(check['test'][check['test'].index('--wait') + 1]) >= SILENT_AFTER_S
    dockerfile = (deploy / 'Dockerfile').read_text()
    assert '--retries=1' in dockerfile and '"health", "--wait", "5"' in dockerfile
