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
supervisor over real DDS, with real managed processes and a real volume.

frame_provider and the lifecycle fixture run as subprocesses (their environment
carries the test's ROS_DOMAIN_ID); the supervisor and a test client run in this
process. `pytest -s` prints the measured recovery and detection times.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
import framebridge_ros
from framebridge_ros.core.volume.layout import frame_stem, newest_frame, stem_capture_time
from framebridge_ros.nodes.supervisor import Supervisor
from framebridge_ros.ros_glue import LEVEL_NAMES
from framebridge_testing import call_client, Collector, FrameLanding, Spinner, wait_for, \
    write_frame
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import String
from std_srvs.srv import Trigger

FIXTURE = Path(__file__).with_name('lifecycle_fixture_node.py')
PACKAGE_ROOT = Path(framebridge_ros.__file__).resolve().parents[1]
# Fast periods so the behaviour shows in seconds; the logic is the same as at 1 s / 30 s.
# service_timeout_s: get_state answers take over a second when colcon test loads both
# cores; a shorter deadline reads a busy node as down.
FAST = {'monitor_period_s': 0.1, 'health_period_s': 0.25, 'service_timeout_s': 3.0,
        'transition_timeout_s': 10.0, 'startup_timeout_s': 20.0,
        'restart_backoff_base_s': 0.4, 'restart_backoff_max_s': 8.0, 'rate_window_s': 10.0}


def _override(name, value):
    if isinstance(value, list):
        return Parameter(name, Parameter.Type.STRING_ARRAY, value)
    return Parameter(name, value=value)


class Graph:
    """Managed processes, supervisors and a test client, all torn down by the fixture."""

    def __init__(self, context, tmp_path) -> None:
        self.context, self.tmp_path = context, tmp_path
        self.processes, self.spinners = [], []
        self.client = Node('supervisor_test_client', context=context)
        self.diagnostics = Collector(context, [
            ('/diagnostics', DiagnosticArray, 50), ('/supervisor/status', String, 10)],
            name='diagnostics_collector')
        self.spinners.append(Spinner(context, self.client, self.diagnostics.node))
        self._clients = {}

    def spawn(self, argv, name):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(PACKAGE_ROOT), os.environ.get('PYTHONPATH', '')]))
        log = open(self.tmp_path / f'{name}.{len(self.processes)}.log', 'wb')
        process = subprocess.Popen(argv + ['--ros-args', '-r', f'__node:={name}'],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def start_provider(self, capture_dir):
        return self.spawn([sys.executable, '-m', 'framebridge_ros.nodes.frame_provider',
                           '--ros-args', '-p', f'capture_dir:={capture_dir}',
                           '-p', 'min_file_bytes:=100'], 'frame_provider')

    def start_fixture(self, name, **params):
        argv = [sys.executable, str(FIXTURE), '--ros-args']
        for key, value in params.items():
            argv += ['-p', f'{key}:={value}']
        return self.spawn(argv, name)

    def supervisor(self, **params):
        values = {**FAST, **params}
        node = Supervisor(context=self.context, parameter_overrides=[
            _override(key, value) for key, value in values.items()])
        spinner = Spinner(self.context, node)
        self.spinners.append(spinner)
        return node, spinner

    def _call(self, service_type, name, request, timeout_s):
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self.client.create_client(service_type, name)
        # Sent once: the supervisor's own services act on each call (startup, pause).
        return call_client(client, request, timeout_s=timeout_s, resend_s=timeout_s)

    def state(self, node_name, timeout_s=5.0):
        """Return the node's lifecycle state label via its get_state, None if no answer."""
        response = self._call(GetState, f'/{node_name}/get_state', GetState.Request(),
                              timeout_s)
        return None if response is None else response.current_state.label

    def trigger(self, service, timeout_s=20.0):
        response = self._call(Trigger, service, Trigger.Request(), timeout_s)
        assert response is not None, f'{service} did not answer'
        return response

    def latest(self, status_name):
        """Return the newest /diagnostics status of that name, or None."""
        with self.diagnostics._lock:
            messages = list(self.diagnostics.messages['/diagnostics'])
        for _, message in reversed(messages):
            for status in message.status:
                if status.name == status_name:
                    return status
        return None

    def values(self, status_name):
        status = self.latest(status_name)
        return {} if status is None else {pair.key: pair.value for pair in status.values}

    def level(self, status_name):
        status = self.latest(status_name)
        return None if status is None else LEVEL_NAMES[status.level]

    def levels_since(self, status_name, first):
        """Return the levels of that status in the /diagnostics messages from first on."""
        with self.diagnostics._lock:
            messages = list(self.diagnostics.messages['/diagnostics'][first:])
        return [LEVEL_NAMES[status.level] for _, message in messages
                for status in message.status if status.name == status_name]

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for spinner in reversed(self.spinners):
            spinner.close()


@pytest.fixture
def graph(rclpy_context, tmp_path):
    graph = Graph(rclpy_context, tmp_path)
    yield graph
    graph.close()


def _show(status):
    values = ', '.join(f'{pair.key}={pair.value}' for pair in status.values)
    return f'[{LEVEL_NAMES[status.level]}] {status.name}: {status.message} | {values}'


def test_autostart_services_adoption_and_respawn_after_kill(graph, volume):
    started = time.monotonic()
    provider = graph.start_provider(volume.root)
    supervisor, spinner = graph.supervisor(managed_nodes=['frame_provider'],
                                           capture_dir=str(volume.root))
    wait_for(lambda: graph.state('frame_provider') == 'active', timeout_s=30,
             what='autostart to bring frame_provider to active')
    print(f'\nautostart: provider process started -> active {time.monotonic() - started:.2f} s')
    record = supervisor.records['frame_provider']
    assert (record.transitions, record.adopted, record.restarts) == (2, False, 0), \
        record.last_restart_reason

    # pause is respected: the monitor does not bring a paused node back
    response = graph.trigger('/supervisor/pause')
    assert response.success and 'frame_provider: inactive' in response.message
    assert graph.trigger('/supervisor/is_active').success is False
    deadline = time.monotonic() + 0.5  # five monitor periods: nothing re-activates it
    while time.monotonic() < deadline:
        assert graph.state('frame_provider') == 'inactive' and record.restarts == 0
    assert graph.trigger('/supervisor/resume').success
    assert graph.trigger('/supervisor/is_active').message == 'frame_provider: active'
    response = graph.trigger('/supervisor/reset')
    assert response.success and graph.state('frame_provider') == 'unconfigured'
    assert graph.trigger('/supervisor/startup').success
    assert graph.state('frame_provider') == 'active'

    # a restarted supervisor adopts the active node instead of restarting it; this one
    # polls at the default period and deadline (1 s, 5 s), for a realistic recovery time
    spinner.close()
    graph.spinners.remove(spinner)
    supervisor, _ = graph.supervisor(managed_nodes=['frame_provider'],
                                     capture_dir=str(volume.root), monitor_period_s=1.0,
                                     service_timeout_s=5.0)
    record = supervisor.records['frame_provider']
    wait_for(lambda: record.adopted, timeout_s=15, what='adoption')
    assert record.transitions == 0 and graph.state('frame_provider') == 'active'

    # kill -9, then respawn the way launch's respawn=True does
    killed = time.monotonic()
    provider.kill()
    provider.wait()
    graph.start_provider(volume.root)
    wait_for(lambda: graph.state('frame_provider', timeout_s=0.5) == 'active',
             timeout_s=30, what='the respawned provider to be brought to active')
    recovery = time.monotonic() - killed
    print(f'recovery at default periods: kill -9 -> respawned -> active {recovery:.2f} s '
          f'(restart reason: {record.last_restart_reason})')
    assert recovery < 15.0
    assert record.restarts == 1 and record.failed_restarts == 0
    assert 'found unconfigured' in record.last_restart_reason


def _record_state(record, now: float) -> str:
    """Describe the supervisor's view of a node for a failure message (now: wall clock)."""
    return (f'state {record.state}, desired {record.desired}, busy {record.busy}, '
            f'restarts {record.restarts}/{record.failed_restarts} failed, counter '
            f'{record.output.key or "-"}={record.output.last_value}, idle '
            f'{record.output.idle_s(now)}, last_error {record.last_error!r}')


def test_node_forced_into_error_is_restarted_with_backoff(graph, tmp_path):
    attempts = tmp_path / 'attempts.log'
    graph.start_fixture('fixture_error', fail_activations=3, attempt_log=attempts)
    supervisor, _ = graph.supervisor(managed_nodes=['fixture_error'],
                                     capture_dir=str(tmp_path / 'volume'))
    record = supervisor.records['fixture_error']
    # The supervisor clears its error when its own transition returns, a moment after
    # the node is active: on a loaded machine that moment is visible.
    wait_for(lambda: graph.state('fixture_error') == 'active' and not record.last_error,
             timeout_s=30, what='fixture active after its forced failures',
             state=lambda: _record_state(record, time.time()))
    times = [float(line) for line in attempts.read_text().split()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    print(f'\nactivation attempts {len(times)}, gaps ' +
          ', '.join(f'{gap:.2f}' for gap in gaps) + ' s (back-off base 0.4 s)')
    # start-up fails, restart 1 at once, then 0.4 s and 0.8 s of back-off
    assert len(times) == 4
    assert gaps[1] >= 0.4 and gaps[2] >= 0.8
    assert (record.restarts, record.failed_restarts) == (3, 2)
    errors = [status for _, message in graph.diagnostics.messages['/diagnostics']
              for status in message.status if status.name == 'supervisor: fixture_error'
              and LEVEL_NAMES[status.level] == 'ERROR']
    assert errors and 'activate failed' in errors[0].message
    print(f'while backing off: {_show(errors[-1])}')
    wait_for(lambda: graph.level('supervisor: fixture_error') == 'OK', timeout_s=5,
             what='OK once active')


def test_node_that_stops_producing_while_frames_land_is_restarted(graph, volume, tmp_path):
    attempts = tmp_path / 'attempts.log'
    graph.start_fixture('fixture_stall', count_hz=10.0, stall_after_s=1.0,
                        attempt_log=attempts)
    supervisor, _ = graph.supervisor(managed_nodes=['fixture_stall'],
                                     capture_dir=str(volume.root), output_stall_s=1.5)
    landing = FrameLanding(volume, period_s=0.2)
    try:
        record = supervisor.records['fixture_stall']
        wait_for(lambda: record.state == 'active', timeout_s=30, what='fixture active')
        activated = time.monotonic()
        wait_for(lambda: record.restarts == 1, timeout_s=15, what='restart after the stall',
                 state=lambda: _record_state(record, time.time()))
        print(f'\nstall: counter stops 1.0 s after activation, restart '
              f'{time.monotonic() - activated - 1.0:.2f} s later (output_stall_s 1.5)')
        assert record.last_restart_reason.startswith('stopped producing: frames_published')
        wait_for(lambda: graph.state('fixture_stall') == 'active'
                 and len(attempts.read_text().split()) == 2, timeout_s=15,
                 what='active again after deactivate/cleanup/configure/activate')
        assert record.transitions == 2 + 4
    finally:
        landing.stop()


def test_diagnostics_levels_fine_stale_low_disk_and_node_down(graph, volume, tmp_path):
    marker = tmp_path / 'host_restarts.log'
    restart = [sys.executable, '-c',
               'import sys, time; open(sys.argv[1], "a").write(f"{time.time()}\\n")',
               str(marker)]
    provider = graph.start_provider(volume.root)
    landing = FrameLanding(volume, period_s=0.25)
    supervisor, _ = graph.supervisor(
        managed_nodes=['frame_provider'], capture_dir=str(volume.root), max_frame_age_s=1.0,
        host_stale_s=2.5, host_restart_command=restart, restart_backoff_base_s=1.0,
        emergency_free_percent=0.0, warn_free_percent=0.0)
    node, vol = 'supervisor: frame_provider', 'supervisor: volume'
    samples = {}
    try:
        wait_for(lambda: graph.level(node) == 'OK' and graph.level(vol) == 'OK'
                 and graph.values(node).get('output_per_min', '-') != '-',
                 timeout_s=30, what='all fine, with the output rate of the provider known')
        samples['healthy'] = [_show(graph.latest(node)), _show(graph.latest(vol))]
        # supervisor/status follows its /diagnostics by a moment: wait for it.
        wait_for(lambda: json.loads(graph.diagnostics.last('/supervisor/status').data)[
            'level'] == 'OK', timeout_s=5, what='supervisor/status OK')
        status = json.loads(graph.diagnostics.last('/supervisor/status').data)
        assert status['level'] == 'OK' and status['all_active']

        # frames stop landing: WARN past max_frame_age_s, ERROR past host_stale_s
        landing.stop()
        last_frame = stem_capture_time(newest_frame(volume).name)
        stopped = graph.diagnostics.count('/diagnostics')
        # WARN lasts 1.5 s: looked for in every report since, not only the newest one
        # when polled (a loaded machine's poll can fall after it; CI failed so).
        wait_for(lambda: 'WARN' in graph.levels_since(vol, stopped), timeout_s=5,
                 what='stale frames WARN', state=lambda: str(graph.levels_since(vol, stopped)))
        wait_for(lambda: graph.level(vol) == 'ERROR', timeout_s=10, what='stale frames ERROR')
        print(f'\nlast frame -> volume ERROR reported after {time.time() - last_frame:.2f} s '
              '(host_stale_s 2.5, health_period_s 0.25)')
        assert 'host capture is not delivering' in graph.latest(vol).message
        assert graph.level(node) == 'OK'  # no frames arriving: not the provider's fault
        wait_for(lambda: marker.exists(), timeout_s=5, what='host_restart_command run')
        # The back-off period starts at host_stale_s (2.5 s), not restart_backoff_base_s
        # (1 s): the second run must wait that long after the first.
        wait_for(lambda: len(supervisor.host_restarts) >= 2, timeout_s=10,
                 what='the second host_restart_command run')
        runs = [started for started, _ in supervisor.host_restarts]
        print(f'host_restart_command runs {runs[1] - runs[0]:.2f} s apart (host_stale_s 2.5)')
        assert runs[1] - runs[0] >= 2.5
        wait_for(lambda: len(marker.read_text().split()) >= 2, timeout_s=5,
                 what='each run to write its line')
        samples['stale frames'] = [_show(graph.latest(vol))]

        # low disk, by threshold: WARN below warn_free_percent, ERROR below emergency
        write_frame(volume)
        supervisor.set_parameters([Parameter('warn_free_percent', value=100.0)])
        wait_for(lambda: graph.level(vol) == 'WARN', timeout_s=5, what='low disk WARN')
        assert 'free disk' in graph.latest(vol).message
        supervisor.set_parameters([Parameter('emergency_free_percent', value=100.0)])
        wait_for(lambda: graph.level(vol) == 'ERROR'
                 and 'EMERGENCY' in graph.values(vol)['last_cleanup'], timeout_s=5,
                 what='low disk ERROR and emergency cleanup')
        assert 'emergency cleanup' in graph.latest(vol).message
        samples['low disk'] = [_show(graph.latest(vol))]

        # node down: killed and not respawned
        killed = time.time()
        provider.kill()
        provider.wait()
        wait_for(lambda: graph.level(node) == 'ERROR', timeout_s=10, what='node down ERROR')
        print(f'node killed -> ERROR reported after {time.time() - killed:.2f} s')
        assert graph.latest(node).message.startswith('down')
        samples['node down'] = [_show(graph.latest(node))]
        # supervisor/status follows its /diagnostics by a moment: wait for it.
        wait_for(lambda: json.loads(graph.diagnostics.last('/supervisor/status').data)[
            'nodes']['frame_provider']['level'] == 'ERROR', timeout_s=5,
            what='supervisor/status with the node down')
        status = json.loads(graph.diagnostics.last('/supervisor/status').data)
        assert status['level'] == 'ERROR' and not status['all_active']
        for case, lines in samples.items():
            print(f'--- {case}')
            print('\n'.join(lines))
    finally:
        landing.stop()


def _aged_frame(volume, age_s, where='live'):
    """Commit a frame captured age_s ago, its files dated then too; move it if asked."""
    stamp = time.time() - age_s
    path = write_frame(volume, capture_time=stamp)[0]
    metadata = volume.metadata_path_for(path)
    if where == 'processed':
        path = path.rename(volume.processed / path.name)
        metadata = metadata.rename(volume.processed / metadata.name)
    for item in (path, metadata):
        os.utime(item, (stamp, stamp))
    return path


def test_cleanup_service_dry_run_retention_and_emergency(graph, volume, tmp_path):
    old = [_aged_frame(volume, 5 * 3600 + i) for i in range(2)]
    fresh = [_aged_frame(volume, 60 + i) for i in range(4)]
    _aged_frame(volume, 25 * 3600, where='processed')
    outside = tmp_path / 'outside.jpg'
    outside.write_bytes(b'precious')
    link = volume.live / (frame_stem(capture_time=time.time() - 7200, sequence=999) + '.jpg')
    link.symlink_to(outside)
    os.utime(link, (time.time() - 7200,) * 2, follow_symlinks=False)
    foreign = volume.live / 'holiday.jpg'
    foreign.write_bytes(b'mine')
    os.utime(foreign, (time.time() - 30 * 3600,) * 2)
    before = sorted(str(p) for p in volume.root.rglob('*'))

    supervisor, _ = graph.supervisor(managed_nodes=[''], autostart=False,
                                     capture_dir=str(volume.root), dry_run=True,
                                     health_period_s=60.0, emergency_keep_live=2)
    response = graph.trigger('/supervisor/cleanup')
    print(f'\ndry run: {response.message}')
    assert response.success and response.message.startswith('dry run: would move 2')
    assert sorted(str(p) for p in volume.root.rglob('*')) == before

    supervisor.set_parameters([Parameter('dry_run', value=False)])
    response = graph.trigger('/supervisor/cleanup')
    print(f'cleanup: {response.message}')
    assert response.message.startswith('moved 2 frame(s) to processed/, removed 2 file(s)')
    assert sorted(p.name for p in volume.processed.iterdir()) == sorted(
        [p.name for p in old] + [p.stem + '.json' for p in old])
    assert sorted(p.name for p in volume.live.glob('2*.jpg')) == sorted(
        [p.name for p in fresh] + [link.name])

    supervisor.set_parameters([Parameter('emergency_free_percent', value=100.0)])
    response = graph.trigger('/supervisor/cleanup')
    print(f'emergency: {response.message}')
    assert response.message.startswith('EMERGENCY')
    assert sorted(p.name for p in volume.live.iterdir()) == sorted(
        [p.name for p in fresh[:2]] + [foreign.name])
    assert list(volume.processed.iterdir()) == []
    assert outside.read_bytes() == b'precious' and foreign.read_bytes() == b'mine'
    assert sorted(p.name for p in volume.metadata.iterdir()) == sorted(
        p.stem + '.json' for p in fresh[:2])


def test_a_get_state_call_that_raises_is_reported_counted_and_logged_once(graph, tmp_path,
                                                                          capfd):
    graph.start_fixture('fixture_blind')
    graph.start_fixture('fixture_seen')
    supervisor, _ = graph.supervisor(managed_nodes=['fixture_blind', 'fixture_seen'],
                                     capture_dir=str(tmp_path / 'volume'))
    blind, seen = 'supervisor: fixture_blind', 'supervisor: fixture_seen'
    wait_for(lambda: graph.level(blind) == 'OK' and graph.level(seen) == 'OK', timeout_s=30,
             what='both fixtures active')
    # The fault: the supervisor's own get_state client of one node is destroyed, so every
    # call on it raises inside rclpy (InvalidHandle), as a broken client would.
    supervisor.destroy_client(supervisor._get_clients['fixture_blind'])
    wait_for(lambda: graph.level(blind) == 'ERROR'
             and int(graph.values(blind).get('get_state_errors', 0)) >= 3, timeout_s=10,
             what='the raising get_state reported and counted')
    print(f'\n{_show(graph.latest(blind))}')
    assert 'get_state call failed' in graph.latest(blind).message
    # The nodes after it are still polled, and fine.
    record = supervisor.records['fixture_seen']
    answered = record.last_answer
    wait_for(lambda: record.last_answer > answered, timeout_s=5, what='fixture_seen polled')
    assert graph.level(seen) == 'OK' and graph.values(seen)['get_state_errors'] == '0'
    log = capfd.readouterr().err
    assert log.count('fixture_blind: get_state call failed') == 1, log  # once per episode

    # Repaired: answers again, OK, said once; a new failure would be a new episode.
    supervisor._get_clients['fixture_blind'] = supervisor.create_client(
        GetState, 'fixture_blind/get_state', callback_group=ReentrantCallbackGroup())
    wait_for(lambda: graph.level(blind) == 'OK', timeout_s=15, what='fixture_blind OK again')
    log = capfd.readouterr().err
    assert log.count('fixture_blind: get_state answers again') == 1, log
    assert supervisor.records['fixture_blind'].restarts == 0


def test_a_finalized_node_is_an_error_and_is_not_restarted(graph, tmp_path):
    graph.start_fixture('fixture_final')
    supervisor, _ = graph.supervisor(managed_nodes=['fixture_final'],
                                     capture_dir=str(tmp_path / 'volume'))
    name = 'supervisor: fixture_final'
    wait_for(lambda: graph.level(name) == 'OK', timeout_s=30, what='fixture active')
    request = ChangeState.Request()
    request.transition.id = Transition.TRANSITION_ACTIVE_SHUTDOWN
    response = graph._call(ChangeState, '/fixture_final/change_state', request, 10.0)
    assert response is not None and response.success
    wait_for(lambda: graph.level(name) == 'ERROR', timeout_s=10, what='finalized ERROR')
    print(f'\n{_show(graph.latest(name))}')
    assert graph.latest(name).message.startswith('finalized: only a new process')
    response = graph.trigger('/supervisor/resume')
    assert not response.success and 'finalized' in response.message
    record = supervisor.records['fixture_final']
    assert (record.restarts, record.state) == (0, 'finalized')
    assert graph.state('fixture_final') == 'finalized'


HUNG_COMMAND = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])
open(sys.argv[1], 'a').write(f'{os.getpid()} {child.pid}\\n')
time.sleep(120)
"""


def _gone(pid):
    try:
        with open(f'/proc/{pid}/stat') as stream:
            return stream.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except (FileNotFoundError, ProcessLookupError):  # reaped before or during the read
        return True


@pytest.mark.parametrize('case', ['hung', 'cannot_run'])
def test_host_restart_command_that_hangs_is_killed_and_one_that_cannot_run_is_reported(
        graph, volume, tmp_path, case):
    pids = tmp_path / 'pids'
    command = ([sys.executable, '-c', HUNG_COMMAND, str(pids)] if case == 'hung'
               else [str(tmp_path / 'no-such-restart-command')])
    supervisor, _ = graph.supervisor(
        managed_nodes=[''], autostart=False, capture_dir=str(volume.root), host_stale_s=0.5,
        host_restart_command=command, host_restart_timeout_s=5.0,
        restart_backoff_base_s=60.0, restart_backoff_max_s=120.0,  # no second run here
        emergency_free_percent=0.0, warn_free_percent=0.0)
    vol = 'supervisor: volume'
    if case == 'hung':
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) >= 2, timeout_s=15,
                 what='the command and its child to start')
        started = time.monotonic()
        wait_for(lambda: supervisor.host_restarts
                 and supervisor.host_restarts[0][1].startswith('killed after 5 s'),
                 timeout_s=15, what='the hung command killed at host_restart_timeout_s')
        print(f'\nhung host_restart_command killed {time.monotonic() - started:.2f} s after '
              'it started (host_restart_timeout_s 5)')
        first_run = pids.read_text().splitlines()[0]
        for pid in map(int, first_run.split()):  # the command and what it started
            wait_for(lambda: _gone(pid), timeout_s=5, what=f'process {pid} ended')
        outcome = 'killed after 5 s'
    else:
        wait_for(lambda: supervisor.host_restarts, timeout_s=10, what='a restart attempt')
        outcome = 'could not run: No such file or directory'
        assert supervisor.host_restarts[0][1] == outcome
    wait_for(lambda: outcome in graph.values(vol).get('last_host_restart', ''), timeout_s=5,
             what='the outcome on /diagnostics')
    assert graph.level(vol) == 'ERROR' and int(graph.values(vol)['host_restarts']) >= 1
    print(_show(graph.latest(vol)))
