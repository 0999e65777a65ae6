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
supervisor: lifecycle, health, restarts and cleanup of the framebridge graph.

In the manner of Nav2's lifecycle manager, for our Python lifecycle nodes. A plain node
(it must run to bring the others up). It

- brings managed_nodes to active in order at start (autostart): waits for their
  <node>/get_state and <node>/change_state services, configures and activates each;
  a node already active is adopted, not restarted;
- polls each node's lifecycle state every monitor_period_s and brings a node back to
  active when it is found unconfigured or inactive (failed transition, a process
  respawned by launch) with exponential back-off, counting restarts; a node whose
  output counter stops while frames keep landing is restarted through
  deactivate - cleanup - configure - activate;
- judges health every health_period_s: one /diagnostics status per managed node and
  one for the volume, and a latched ~/status JSON summary;
- runs retention every cleanup_period_s, and at once when live/ overflows or the disk
  runs low, again as soon as due while each run frees space (core.supervision.cleanup);
  runs host_restart_command when frames stop landing.

Services (std_srvs/Trigger): ~/startup, ~/pause, ~/resume, ~/reset, ~/cleanup, ~/is_active.
Every call to a managed node is call_async with a deadline, awaited in a coroutine so no
callback ever blocks, and results are gathered per node. See docs/SUPERVISOR.md.
"""

from concurrent.futures import ThreadPoolExecutor
from functools import partial
import json
import threading
import time
from typing import Dict, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.params import ParameterError
from framebridge_ros.core.supervision import (
    Backoff, CounterWindow, iso_time, next_transition, node_health, NodeRecord, rank,
    recovery_reason, scan_volume, stall_reason, status_summary, volume_health)
from framebridge_ros.core.supervision.cleanup import CleanupSchedule
from framebridge_ros.core.supervision.host_restart import HostRestart
from framebridge_ros.core.supervision.params import SUPERVISOR_PARAMS
from framebridge_ros.core.volume.layout import VolumeLayout
from framebridge_ros.core.volume.retention import cleanup_due, disk_free_percent, \
    RetentionPolicy, RetentionResult, run_retention
from framebridge_ros.ros_glue import (
    Awaiter, declare_params, health_array, latched_qos, LoggerBridge, parameter_guard,
    publish_unless_stopping, read_params, run_node)
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import String
from std_srvs.srv import Trigger

__all__ = ['SUPERVISOR_PARAMS', 'Supervisor', 'main']

_TRANSITIONS = {'configure': Transition.TRANSITION_CONFIGURE,
                'activate': Transition.TRANSITION_ACTIVATE,
                'deactivate': Transition.TRANSITION_DEACTIVATE,
                'cleanup': Transition.TRANSITION_CLEANUP}


class Supervisor(Node):
    """Manages the lifecycle nodes of the graph; see the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('supervisor', **kwargs)
        declare_params(self, SUPERVISOR_PARAMS)
        self.add_on_set_parameters_callback(parameter_guard(SUPERVISOR_PARAMS))
        self._params = params = read_params(self, SUPERVISOR_PARAMS)
        self._bridge = LoggerBridge(self.get_logger()).attach('framebridge.retention')
        self._layout = VolumeLayout.at(params['capture_dir'])
        self._started_at = time.time()
        # Records are touched by timers, client callbacks and service tasks, which a
        # multi-threaded executor may run at once; the lock is never held across an await.
        self._lock = threading.Lock()
        self._records: Dict[str, NodeRecord] = {}
        self._by_base: Dict[str, NodeRecord] = {}
        self._get_clients, self._change_clients = {}, {}
        self._polls: Dict[str, List[Tuple[Future, float]]] = {}  # get_state in flight
        # get_state calls that raised (not: went unanswered), per node; and the error of
        # an episode under way (from the first failure to the next answer), logged once.
        self._get_state_errors: Dict[str, int] = {}
        self._get_state_failing: Dict[str, str] = {}
        clients = ReentrantCallbackGroup()
        # [''] means none: ROS cannot pass an empty list as a parameter override.
        for name in (name.strip() for name in params['managed_nodes']):
            if not name:
                continue
            record = NodeRecord(name, Backoff(params['restart_backoff_base_s'],
                                              params['restart_backoff_max_s']),
                                CounterWindow(params['rate_window_s']))
            self._records[name] = record
            self._by_base[name.rstrip('/').rsplit('/', 1)[-1]] = record
            self._get_clients[name] = self.create_client(
                GetState, f'{name}/get_state', callback_group=clients)
            self._change_clients[name] = self.create_client(
                ChangeState, f'{name}/change_state', callback_group=clients)
        self._first_tick = True
        self._stalled: Dict[str, str] = {}
        self._cleanup_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix='cleanup')
        self._cleanup_running: Optional[Future] = None
        self._last_cleanup: Optional[Tuple[float, str, RetentionResult]] = None
        self._cleanup_schedule = CleanupSchedule()
        self._host = HostRestart()  # its back-off is set from the parameters below
        self._refresh_params()

        self._awaiter = Awaiter(self)  # every wait is an await with a deadline
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        # Latched: a dashboard that connects late gets the last summary at once.
        self._status_pub = self.create_publisher(String, '~/status', latched_qos())
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        periodic = MutuallyExclusiveCallbackGroup()  # the periodic checks never overlap
        self.create_timer(params['monitor_period_s'], self._monitor, callback_group=periodic)
        self.create_timer(params['health_period_s'], self._health_check,
                          callback_group=periodic)
        self.create_timer(params['cleanup_period_s'], self._periodic_cleanup,
                          callback_group=periodic)
        services = ReentrantCallbackGroup()  # their coroutines wait on each other's nodes
        for service, handler in (('startup', self._srv_startup), ('pause', self._srv_pause),
                                 ('resume', self._srv_resume), ('reset', self._srv_reset),
                                 ('cleanup', self._srv_cleanup),
                                 ('is_active', self._srv_is_active)):
            self.create_service(Trigger, f'~/{service}', handler, callback_group=services)
        self.get_logger().info(
            f'managing {", ".join(self._records) or "no nodes"} (autostart='
            f'{params["autostart"]}); volume {self._layout.root}')

    @property
    def host_restarts(self) -> List[Tuple[float, str]]:
        """Return the runs of host_restart_command: (start time, outcome), oldest first."""
        return self._host.restarts

    @property
    def records(self) -> Dict[str, NodeRecord]:
        return self._records

    # --- lifecycle calls ------------------------------------------------------------

    async def _get_state(self, name: str) -> Tuple[Optional[str], str]:
        """Return (state label, '') or (None, why not)."""
        client, timeout = self._get_clients[name], self._params['service_timeout_s']
        try:
            if not await self._awaiter.service_ready(client, timeout):
                return None, f'{client.srv_name} not available within {timeout:g} s'
            response = await self._awaiter.call(client, GetState.Request(), timeout)
        except Exception as error:  # noqa: B902 - rclpy raised: say so, never lose the task
            return None, self._get_state_failed(name, error)
        if response is None:
            return None, f'{client.srv_name} did not answer within {timeout:g} s'
        self._get_state_answered(name)
        return response.current_state.label, ''

    def _get_state_failed(self, name: str, error: BaseException) -> str:
        """
        Count a get_state call that raised; log it once per episode; return why.

        The supervisor then cannot see the node: it is reported down (ERROR) with this
        reason and asked again every monitor_period_s.
        """
        why = f'get_state call failed: {error!r}'
        with self._lock:
            self._get_state_errors[name] = self._get_state_errors.get(name, 0) + 1
            first = name not in self._get_state_failing
            self._get_state_failing[name] = why
        if first:
            self.get_logger().error(
                f'{name}: {why}; reported down (ERROR on /diagnostics) and asked again '
                f'every {self._params["monitor_period_s"]:g} s; further failures are '
                'counted (get_state_errors), not logged')
        return why

    def _get_state_answered(self, name: str) -> None:
        with self._lock:
            why = self._get_state_failing.pop(name, None)
            count = self._get_state_errors.get(name, 0)
        if why is not None:
            self.get_logger().info(f'{name}: get_state answers again ({count} failed '
                                   'call(s) so far)')

    async def _first_answer(self, name: str, deadline: float) -> None:
        """
        Ask get_state until it answers or the start-up deadline passes.

        The first call to a service just discovered can take seconds on a loaded
        machine (Fast DDS matches the reply reader late); at start-up that is waiting,
        not a failure.
        """
        client = self._get_clients[name]
        while time.monotonic() < deadline:
            timeout = min(self._params['service_timeout_s'], deadline - time.monotonic())
            if await self._awaiter.call(client, GetState.Request(), max(0.0, timeout)) is not None:
                return

    async def _transition(self, name: str, label: str) -> Tuple[bool, str]:
        client = self._change_clients[name]
        timeout = self._params['transition_timeout_s']
        if not await self._awaiter.service_ready(client, self._params['service_timeout_s']):
            return False, f'{client.srv_name} not available'
        request = ChangeState.Request()
        request.transition.id = _TRANSITIONS[label]
        with self._lock:
            self._records[name].transitions += 1
        response = await self._awaiter.call(client, request, timeout)
        if response is None:
            return False, f'{label}: no answer within {timeout:g} s'
        if not response.success:
            return False, f'{label} failed (the node returned FAILURE or ERROR: see its log)'
        return True, ''

    def _observe(self, name: str, label: Optional[str], why: str = '') -> None:
        with self._lock:
            if label is None:
                self._records[name].observe_unreachable(why, time.time())
            else:
                self._records[name].observe_state(label, time.time())

    async def _drive(self, name: str, goal: str, *,
                     only_down: bool = False) -> Tuple[bool, str, int]:
        """Take a node to goal step by step; return (reached, what happened, transitions)."""
        steps = 0
        for _ in range(12):
            state, why = await self._get_state(name)
            self._observe(name, state, why)
            if state is None:
                return False, why, steps
            if state == goal or (only_down and 0 <= rank(state) < rank(goal)):
                return True, state, steps
            label = next_transition(state, goal)
            if label is None:
                if state == 'finalized':
                    return False, ('finalized: only a new process (launch respawn) brings '
                                   'it back'), steps
                await self._awaiter.sleep(0.1)  # a transition is in progress elsewhere
                continue
            ok, why = await self._transition(name, label)
            steps += 1
            if not ok:
                after, _ = await self._get_state(name)
                self._observe(name, after, why)
                return False, f'{why}; now {after or "unreachable"}', steps
        return False, f'did not reach {goal}', steps

    async def _claim(self, name: str, timeout_s: float) -> bool:
        """Become the one task transitioning this node, waiting for a running one."""
        deadline = time.monotonic() + timeout_s
        record = self._records[name]
        while True:
            with self._lock:
                if not record.busy:
                    record.busy, record.generation = True, record.generation + 1
                    return True
            if time.monotonic() >= deadline:
                return False
            await self._awaiter.sleep(0.05)

    def _release(self, name: str) -> None:
        with self._lock:
            self._records[name].busy = False

    async def _bring(self, name: str, goal: str, *, only_down: bool = False) -> Tuple[bool, str]:
        """Set the node's wanted state and take it there; never raises."""
        record = self._records[name]
        if not await self._claim(name, 2 * self._params['transition_timeout_s']):
            return False, 'busy: another transition sequence did not finish'
        try:
            with self._lock:
                record.desired = goal
            ok, detail, steps = await self._drive(name, goal, only_down=only_down)
            with self._lock:
                if ok:
                    record.last_error, record.came_back = '', False
                    record.backoff.attempts = 0  # an explicit request starts afresh
                    if goal == 'active' and steps == 0 and record.transitions == 0:
                        record.adopted = True
                        detail = 'active (adopted: it was active already)'
                else:
                    record.last_error = detail
            return ok, detail
        except Exception as error:  # noqa: B902 - a raising task would stop the executor
            self.get_logger().error(f'{name}: internal error while bringing it to {goal}: '
                                    f'{error!r}')
            return False, f'internal error: {error}'
        finally:
            self._release(name)

    async def _bring_all(self, goal: str, *, reverse: bool = False, only_down: bool = False,
                         services_deadline: Optional[float] = None) -> Tuple[bool, str]:
        """
        Bring every node to goal in order (reverse to go down); gather each result.

        With services_deadline (monotonic), each node's lifecycle services are first
        waited for until then: a late node delays those after it, never those before.
        """
        results = []
        for name in list(self._records)[::-1] if reverse else list(self._records):
            if services_deadline is not None:
                for client in (self._get_clients[name], self._change_clients[name]):
                    await self._awaiter.service_ready(
                        client, max(0.0, services_deadline - time.monotonic()))
                await self._first_answer(name, services_deadline)
            results.append((name, *await self._bring(name, goal, only_down=only_down)))
        text = '; '.join(f'{name}: {detail}' for name, _, detail in results) or 'no nodes'
        return all(ok for _, ok, _ in results), text

    async def _startup(self) -> Tuple[bool, str]:
        """Bring the nodes up in order, each once its services appear (shared deadline)."""
        ok, text = await self._bring_all(
            'active', services_deadline=time.monotonic() + self._params['startup_timeout_s'])
        (self.get_logger().info if ok else self.get_logger().error)(
            f'startup {"complete" if ok else "incomplete"}: {text}')
        return ok, text

    async def _autostart(self) -> None:
        try:
            await self._startup()
        except Exception as error:  # noqa: B902 - a raising task would stop the executor
            self.get_logger().error(f'autostart failed: {error!r}')

    async def _recover(self, name: str, reason: str, full_restart: bool) -> None:
        """Bring a node back to active after a failure (claimed by the caller)."""
        record = self._records[name]
        try:
            with self._lock:
                record.restarts += 1
                record.last_restart, record.last_restart_reason = time.time(), reason
                number = record.restarts
            self.get_logger().warning(f'restarting {name} (#{number}): {reason}')
            started = time.monotonic()
            ok, detail = True, ''
            if full_restart:
                ok, detail, _ = await self._drive(name, 'unconfigured')
            if ok:
                ok, detail, _ = await self._drive(name, 'active')
            now = time.time()
            with self._lock:
                record.backoff.record(now)
                if ok:
                    record.last_error, record.came_back = '', False
                    record.output.restart_grace(now)
                    self._stalled.pop(name, None)
                else:
                    record.failed_restarts += 1
                    record.last_error = detail
                wait = record.backoff.delay_s()
            if ok:
                self.get_logger().info(f'{name} active again after '
                                       f'{time.monotonic() - started:.2f} s')
            else:
                self.get_logger().error(f'restart of {name} failed: {detail}; next attempt '
                                        f'in {wait:g} s at the earliest')
        except Exception as error:  # noqa: B902 - a raising task would stop the executor
            self.get_logger().error(f'{name}: internal error in restart: {error!r}')
        finally:
            self._release(name)

    # --- periodic monitoring ----------------------------------------------------------

    def _monitor(self) -> None:
        """Poll each node's state (one request in flight per node) and the host command."""
        try:
            if self._first_tick and self.executor is not None:
                self._first_tick = False
                if self._params['autostart']:
                    self._awaiter.spawn(self._autostart)
                # A first report and cleanup now, not a period from now: a supervisor that
                # is respawned more often than cleanup_period_s must still clean up.
                self._health_check()
                self._periodic_cleanup('at start')
            now = time.time()
            self._poll_host_command(now)
            self._keep_up_with_emergency(now)
            for name, record in self._records.items():
                self._poll_node(name, record, now)
        except Exception as error:  # noqa: B902 - a raising timer would stop the executor
            self.get_logger().error(f'monitor: {error!r}')

    def _poll_node(self, name: str, record: NodeRecord, now: float) -> None:
        """
        Ask the node for its state, once per monitor period.

        A request unanswered after service_timeout_s marks the node down. Requests
        overlap (at most timeout / period in flight), so a respawned process is noticed
        within a period even while a request to the dead one waits out its deadline.
        """
        timeout = self._params['service_timeout_s']
        client = self._get_clients[name]
        pending, expired = [], []
        for future, sent in self._polls.get(name, []):
            if not future.done():
                (expired if now - sent >= timeout else pending).append((future, sent))
        for future, _ in expired:
            client.remove_pending_request(future)
        self._polls[name] = pending
        with self._lock:
            if record.busy:
                return
            if expired and (record.last_answer is None or record.last_answer < expired[-1][1]):
                record.observe_unreachable(f'get_state did not answer within {timeout:g} s',
                                           now)
            generation = record.generation
        try:
            ready = client.service_is_ready()
            future = client.call_async(GetState.Request()) if ready else None
        except Exception as error:  # noqa: B902 - one node's failing client must not stop
            # the polls of the nodes after it (this runs in a loop over all of them)
            self._poll_failed(name, generation, error)
            return
        if future is None:
            with self._lock:
                # Give nodes still starting up the start-up deadline before calling them down.
                if (record.reachable is not None
                        or now - self._started_at > self._params['startup_timeout_s']):
                    record.observe_unreachable('get_state service not available', now)
            return
        pending.append((future, now))
        future.add_done_callback(partial(self._on_polled, name, generation))

    def _poll_failed(self, name: str, generation: int, error: BaseException) -> None:
        why = self._get_state_failed(name, error)
        record = self._records[name]
        with self._lock:
            if not record.busy and record.generation == generation:
                record.observe_unreachable(why, time.time())

    def _on_polled(self, name: str, generation: int, future: Future) -> None:
        """Take a polled state in; start a recovery when the node needs one."""
        try:
            if not future.done():
                return  # cancelled: nobody waits for this answer any more
            if future.exception() is not None:
                self._poll_failed(name, generation, future.exception())
                return
            self._get_state_answered(name)
            label, now, reason = future.result().current_state.label, time.time(), None
            record = self._records[name]
            with self._lock:
                if record.busy or record.generation != generation:
                    return  # a transition sequence ran meanwhile: its view is newer
                record.observe_state(label, now)
                reason = recovery_reason(record, now=now)
                if reason:
                    record.busy, record.generation = True, record.generation + 1
            if reason and not self._awaiter.spawn(self._recover, name, reason, False):
                self._release(name)
        except Exception as error:  # noqa: B902 - a raising task would stop the executor
            self.get_logger().error(f'{name}: state poll: {error!r}')

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        """Take each managed node's output counter and own verdict from its statuses."""
        now, keys = time.time(), self._params['output_counter_keys']
        for status in message.status:
            prefix, colon, _ = status.name.partition(':')
            record = self._by_base.get(prefix.strip()) if colon else None
            if record is None:
                continue
            values = {pair.key: pair.value for pair in status.values}
            level = status.level[0] if isinstance(status.level, bytes) else int(status.level)
            with self._lock:
                record.reported_level, record.reported_message = level, status.message
                for key in keys:
                    try:
                        record.output.add(now, int(values[key]), key=key)
                        break
                    except (KeyError, ValueError):
                        continue

    # --- health -----------------------------------------------------------------------

    def _refresh_params(self) -> None:
        try:
            self._params = params = read_params(self, SUPERVISOR_PARAMS)
        except ParameterError as error:  # the guard refuses bad values; keep the last good
            self.get_logger().error(f'parameters: {error}')
            return
        self._layout = VolumeLayout.at(params['capture_dir'])
        with self._lock:
            for record in self._records.values():
                record.backoff.base_s = params['restart_backoff_base_s']
                record.backoff.max_s = params['restart_backoff_max_s']
                record.output.window_s = params['rate_window_s']
            self._host.set_backoff(base_s=params['restart_backoff_base_s'],
                                   max_s=params['restart_backoff_max_s'],
                                   host_stale_s=params['host_stale_s'])

    def _policy(self) -> RetentionPolicy:
        return RetentionPolicy.from_params(self._params,
                                           min_age_s=self._params['max_frame_age_s'])

    def _health_check(self) -> None:
        try:
            self._refresh_params()
            self._publish_health(time.time())
        except Exception as error:  # noqa: B902 - a raising timer would stop the executor
            self.get_logger().error(f'health check: {error!r}')

    def _publish_health(self, now: float) -> None:
        params = self._params
        snapshot = scan_volume(self._layout, now=now,
                               window_s=max(params['rate_window_s'], params['output_stall_s']))
        due = cleanup_due(live_count=snapshot.live_count, free_percent=snapshot.free_percent,
                          policy=self._policy())
        if self._cleanup_schedule.should_start(now, due, running=self._cleanup_running
                                               is not None, policy=self._policy()):
            self._start_cleanup(due, automatic=True)
        newest_age = None if snapshot.newest_time is None else now - snapshot.newest_time
        if (newest_age if newest_age is not None
                else now - self._started_at) > params['host_stale_s']:
            self._maybe_restart_host(now, newest_age)
        else:
            self._host.backoff.settle(now)
        landed = snapshot.frames_since(now - params['output_stall_s'])
        reports = {}
        restarts = []
        upstream_ok = True  # nodes after a stopped or missing one starve with it
        with self._lock:
            for name, record in self._records.items():
                stalled = upstream_ok and stall_reason(
                    record, now=now, frames_landed=landed,
                    output_stall_s=params['output_stall_s'])
                upstream_ok = upstream_ok and not stalled and (
                    record.state == 'active' or record.desired != 'active')
                if stalled:
                    self._stalled[name] = stalled
                    record.busy, record.generation = True, record.generation + 1
                    restarts.append((name, stalled))
                reports[name] = node_health(record, now=now,
                                            stalled=self._stalled.get(name, ''))
                reports[name].values['get_state_errors'] = self._get_state_errors.get(name, 0)
        for name, reason in restarts:
            if not self._awaiter.spawn(self._recover, name, reason, True):
                self._release(name)
        volume = volume_health(
            snapshot, now=now, started_at=self._started_at, window_s=params['rate_window_s'],
            max_frame_age_s=params['max_frame_age_s'], host_stale_s=params['host_stale_s'],
            emergency_free_percent=params['emergency_free_percent'],
            warn_free_percent=params['warn_free_percent'], extra=self._volume_extra(),
            space_held_by=self._cleanup_schedule.stuck,
            retention_problems=self._cleanup_schedule.problems)
        me = self.get_name()
        publish_unless_stopping(self, self._diagnostics_pub, health_array(
            self, {**{f'{me}: {name}': report for name, report in reports.items()},
                   f'{me}: volume': volume}, hardware_id=str(self._layout.root)))
        with self._lock:
            summary = status_summary(now=now, nodes=reports, volume=volume,
                                     records=self._records,
                                     extra={'supervisor': self.get_fully_qualified_name(),
                                            # how old a status may be (framebridge health)
                                            'health_period_s': params['health_period_s']})
        publish_unless_stopping(self, self._status_pub, String(data=json.dumps(summary)))

    def _volume_extra(self) -> dict:
        last = self._last_cleanup
        host = self.host_restarts[-1] if self.host_restarts else None
        return {
            'last_cleanup': '-' if last is None else
            f'{iso_time(last[0])} ({last[1]}): {last[2].summary()}',
            'host_restart_command': ' '.join(self._params['host_restart_command']) or '-',
            'host_restarts': len(self.host_restarts),
            'last_host_restart': '-' if host is None else f'{iso_time(host[0])}: {host[1]}',
            **self._cleanup_schedule.values(),
        }

    # --- host capture restart -------------------------------------------------------

    def _maybe_restart_host(self, now: float, newest_age: Optional[float]) -> None:
        command = self._params['host_restart_command']
        if not command or not self._host.ready(now):
            return
        why = ('no frame yet' if newest_age is None
               else f'no new frame for {newest_age:.0f} s')
        self.get_logger().warning(f'{why}: running host_restart_command {command}')
        error = self._host.start(command, now)
        if error is not None:
            self.get_logger().error(f'host_restart_command could not run: {error}')

    def _poll_host_command(self, now: float) -> None:
        ended = self._host.poll(now, timeout_s=self._params['host_restart_timeout_s'])
        if ended is not None:
            succeeded, outcome = ended
            (self.get_logger().info if succeeded else self.get_logger().error)(
                f'host_restart_command: {outcome}')

    # --- cleanup ----------------------------------------------------------------------

    def _periodic_cleanup(self, reason: str = 'periodic') -> None:
        try:
            if self._cleanup_running is None:
                self._refresh_params()
                self._start_cleanup(reason)
        except Exception as error:  # noqa: B902 - a raising timer would stop the executor
            self.get_logger().error(f'cleanup: {error!r}')

    def _keep_up_with_emergency(self, now: float) -> None:
        """During an emergency, run cleanup every monitor period, not every health check."""
        if self._cleanup_schedule.episode_started is None or self._cleanup_running is not None:
            return
        policy = self._policy()
        due = cleanup_due(live_count=0, free_percent=disk_free_percent(self._layout.root),
                          policy=policy)
        if due and self._cleanup_schedule.should_start(now, due, running=False, policy=policy):
            self._start_cleanup(due, automatic=True)

    def _start_cleanup(self, reason: str, *, automatic: bool = False) -> Future:
        """Run retention on the worker thread; the returned future gets the result."""
        done, layout, policy = Future(), self._layout, self._policy()
        self._cleanup_running = done

        def work() -> RetentionResult:
            try:
                return run_retention(layout, policy)
            except Exception as error:  # noqa: B902 - report, never lose the worker
                return RetentionResult(dry_run=policy.dry_run,
                                       errors=[f'cleanup failed: {error!r}'])

        def finished(job) -> None:
            result = job.result()
            self._last_cleanup = (time.time(), reason, result)
            try:
                self._cleanup_schedule.finished(result, automatic=automatic, reason=reason)
            except Exception as error:  # noqa: B902 - the future must still complete
                self.get_logger().error(f'cleanup bookkeeping: {error!r}')
            self._cleanup_running = None
            done.set_result(result)
            self._awaiter.wake()

        self._cleanup_pool.submit(work).add_done_callback(finished)
        return done

    # --- services ---------------------------------------------------------------------

    async def _answer(self, response, work):
        """Fill a Trigger response from work() -> (success, message); never raise."""
        try:
            response.success, response.message = await work()
        except Exception as error:  # noqa: B902 - a raising task would stop the executor
            self.get_logger().error(f'service: internal error {error!r}')
            response.success, response.message = False, f'internal error: {error!r}'
        return response

    async def _srv_startup(self, request, response):
        return await self._answer(response, self._startup)

    async def _srv_pause(self, request, response):
        return await self._answer(response, partial(
            self._bring_all, 'inactive', reverse=True, only_down=True))

    async def _srv_resume(self, request, response):
        return await self._answer(response, partial(self._bring_all, 'active'))

    async def _srv_reset(self, request, response):
        return await self._answer(response, partial(
            self._bring_all, 'unconfigured', reverse=True, only_down=True))

    async def _srv_cleanup(self, request, response):
        return await self._answer(response, self._cleanup_now)

    async def _srv_is_active(self, request, response):
        return await self._answer(response, self._ask_all_active)

    async def _cleanup_now(self) -> Tuple[bool, str]:
        running = self._cleanup_running
        if running is not None:  # let it finish, then run one with today's parameters
            await self._awaiter.wait(running, 3600.0)
        self._refresh_params()
        future = self._start_cleanup('requested by ~/cleanup')
        if not await self._awaiter.wait(future, 3600.0):
            return False, 'cleanup still running after 1 h'
        result = future.result()
        return not result.errors, result.summary()

    async def _ask_all_active(self) -> Tuple[bool, str]:
        """Ask every node now (requests in parallel, one deadline) whether it is active."""
        timeout = self._params['service_timeout_s']
        futures = {name: client.call_async(GetState.Request())
                   for name, client in self._get_clients.items() if client.service_is_ready()}
        deadline = time.monotonic() + timeout
        states = {}
        for name in self._records:
            future = futures.get(name)
            if future is None:
                states[name] = 'unreachable'
            elif await self._awaiter.wait(future, max(0.0, deadline - time.monotonic())):
                states[name] = future.result().current_state.label
            else:
                self._get_clients[name].remove_pending_request(future)
                states[name] = 'no answer'
        return (all(state == 'active' for state in states.values()),
                ', '.join(f'{name}: {state}' for name, state in states.items()) or 'no nodes')

    def destroy_node(self) -> None:
        for name, polls in self._polls.items():  # late answers must find nobody waiting
            for future, _ in polls:
                self._get_clients[name].remove_pending_request(future)
        self._cleanup_pool.shutdown(wait=False, cancel_futures=True)
        self._host.stop()
        self._bridge.detach('framebridge.retention')
        super().destroy_node()


def main(args=None) -> None:
    # Nothing in the supervisor blocks, so rclpy.spin's single thread is enough.
    run_node(Supervisor, args, fatal=(ParameterError, ParameterException))


if __name__ == '__main__':
    main()
