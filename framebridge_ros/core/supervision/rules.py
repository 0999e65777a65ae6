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
The supervisor's judgement, as plain data and functions (no ROS).

- Backoff: when the next restart of a node (or run of the host restart command) may
  happen, so a node that keeps failing is not restarted in a storm.
- CounterWindow: a node's output counter (e.g. frames_published from its /diagnostics)
  over a time window, for frames/min and for "stopped producing".
- NodeRecord: what the supervisor knows of one managed node, and recovery_reason /
  stall_reason / node_health that judge it.
- scan_volume / volume_health: the newest frame's age (from its name), frames/min over a
  window, free disk space; status_summary: one JSON-able dict of everything.

Rates are judged over rate_window_s (60 s by default): at 1 Hz that is some 60 frames,
where diagnostic_updater's default frequency window (5 samples within a tolerance)
falsely reports errors on slow topics. Lifecycle states are compared by their standard
labels ('unconfigured', 'inactive', 'active', 'finalized', 'configuring', ...).
"""

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
import datetime
from typing import Any, Deque, Dict, List, Mapping, Optional, Tuple

from framebridge_ros.core.health import Health, Level
from framebridge_ros.core.volume.layout import (
    frame_stem, FUTURE_TOLERANCE_S, iter_frames, stem_capture_time, VolumeLayout)
from framebridge_ros.core.volume.retention import disk_free_percent

__all__ = [
    'Backoff', 'CounterWindow', 'NodeRecord', 'PRIMARY_STATES', 'VolumeSnapshot',
    'iso_time', 'next_transition', 'node_health', 'rank', 'recovery_reason', 'scan_volume',
    'stall_reason', 'status_summary', 'volume_health',
]

PRIMARY_STATES = ('unconfigured', 'inactive', 'active', 'finalized')
_LADDER = ('unconfigured', 'inactive', 'active')
_UP = {'unconfigured': 'configure', 'inactive': 'activate'}
_DOWN = {'active': 'deactivate', 'inactive': 'cleanup'}


def iso_time(epoch_s: Optional[float]) -> str:
    """Return UTC time to the second for people, '-' for None."""
    if epoch_s is None:
        return '-'
    moment = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def next_transition(state: str, goal: str) -> Optional[str]:
    """
    Return the label of the next transition from state towards goal.

    None when there is none: already there, or a state outside the ladder
    unconfigured - inactive - active (finalized, or a transition in progress).
    """
    if state not in _LADDER or goal not in _LADDER or state == goal:
        return None
    return _UP[state] if _LADDER.index(state) < _LADDER.index(goal) else _DOWN[state]


def rank(state: str) -> int:
    """Position on the ladder unconfigured (0) - inactive (1) - active (2); -1 off it."""
    return _LADDER.index(state) if state in _LADDER else -1


@dataclass
class Backoff:
    """
    Exponential back-off between attempts: none before the first, then base_s, 2 base_s...

    record() marks an attempt; settle() forgets the history once things have been
    fine for max_s after the last attempt, so a crash loop keeps backing off while a
    node that fails once a day is restarted at once.
    """

    base_s: float
    max_s: float
    attempts: int = 0
    last_attempt: Optional[float] = None

    def delay_s(self) -> float:
        if self.attempts == 0:
            return 0.0
        return min(self.max_s, self.base_s * 2 ** (self.attempts - 1))

    def next_at(self) -> Optional[float]:
        return None if self.last_attempt is None else self.last_attempt + self.delay_s()

    def ready(self, now: float) -> bool:
        next_at = self.next_at()
        return next_at is None or now >= next_at

    def record(self, now: float) -> None:
        self.attempts += 1
        self.last_attempt = now

    def settle(self, now: float) -> None:
        if self.last_attempt is not None and now - self.last_attempt >= self.max_s:
            self.attempts = 0


class CounterWindow:
    """A monotonic output counter sampled over time; a counter that drops is a new process."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.key = ''
        self.total = 0
        self.last_value: Optional[int] = None
        self.last_increase: Optional[float] = None
        self._samples: Deque[Tuple[float, int]] = deque()

    def add(self, now: float, value: int, *, key: str = '') -> None:
        self.key = key or self.key
        if self.last_value is None:
            self.last_increase = now  # the first sample is the baseline
        elif value > self.last_value:
            self.total += value - self.last_value
            self.last_increase = now
        elif value < self.last_value:  # restarted process: counts from zero again
            self.total += value
            self.last_increase = now
        self.last_value = value
        self._samples.append((now, self.total))
        while self._samples and self._samples[0][0] < now - self.window_s:
            self._samples.popleft()

    def restart_grace(self, now: float) -> None:
        """Start judging idleness afresh (after the supervisor restarted the node)."""
        if self.last_increase is not None:
            self.last_increase = now

    def per_min(self, now: float) -> Optional[float]:
        """Increase per minute over the window; None with less than 2 s of samples."""
        recent = [(t, total) for t, total in self._samples if t >= now - self.window_s]
        if len(recent) < 2 or recent[-1][0] - recent[0][0] < 2.0:
            return None
        return 60.0 * (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0])

    def idle_s(self, now: float) -> Optional[float]:
        return None if self.last_increase is None else now - self.last_increase


@dataclass
class NodeRecord:
    """What the supervisor knows about one managed node."""

    name: str
    backoff: Backoff
    output: CounterWindow
    desired: Optional[str] = None        # 'active', 'inactive', 'unconfigured' or None
    state: str = 'unknown'               # last lifecycle label get_state answered
    reachable: Optional[bool] = None     # None: not asked yet
    unreachable_why: str = ''
    came_back: bool = False              # answered again after being unreachable
    last_answer: Optional[float] = None
    active_since: Optional[float] = None
    busy: bool = False                   # a transition sequence is running
    generation: int = 0                  # bumped by each transition sequence
    adopted: bool = False                # was active already when the supervisor started
    transitions: int = 0                 # change_state requests sent
    restarts: int = 0
    failed_restarts: int = 0
    last_restart: Optional[float] = None
    last_restart_reason: str = ''
    last_error: str = ''                 # why the last bring-up failed ('' once it worked)
    reported_level: Optional[int] = None  # the node's own /diagnostics
    reported_message: str = ''

    def observe_state(self, label: str, now: float) -> None:
        # A node never heard from before is starting up, not coming back.
        if self.reachable is False and self.last_answer is not None:
            self.came_back = True
        self.reachable, self.unreachable_why, self.last_answer = True, '', now
        if label == 'active' and self.state != 'active':
            self.active_since = now
        elif label != 'active':
            self.active_since = None
        self.state = label
        if label == 'active':
            self.backoff.settle(now)

    def observe_unreachable(self, why: str, now: float) -> None:
        self.reachable, self.unreachable_why = False, why
        self.state, self.active_since = 'unreachable', None


def recovery_reason(record: NodeRecord, *, now: float) -> Optional[str]:
    """Say why the node must be brought back to active now, or None (fine, or wait)."""
    if (record.busy or record.desired != 'active' or not record.reachable
            or record.state not in ('unconfigured', 'inactive')
            or not record.backoff.ready(now)):
        return None
    if record.came_back:
        return f'came back after being unreachable (respawned process): found {record.state}'
    return (f'found {record.state} (a respawned process, a failed transition, or a change '
            'from outside)')


def stall_reason(record: NodeRecord, *, now: float, frames_landed: int,
                 output_stall_s: float) -> Optional[str]:
    """
    Say why an active node counts as stopped, or None.

    Stopped: its output counter has not moved for output_stall_s while at least two
    frames landed in live/ in that time. A node that publishes no counter is judged
    by its lifecycle state alone.
    """
    idle = record.output.idle_s(now)
    if (record.busy or record.desired != 'active' or record.state != 'active'
            or idle is None or idle < output_stall_s or frames_landed < 2
            or record.active_since is None or now - record.active_since < output_stall_s
            or not record.backoff.ready(now)):
        return None
    return (f'stopped producing: {record.output.key} unchanged for {idle:.0f} s while '
            f'{frames_landed} frames landed')


def node_health(record: NodeRecord, *, now: float, stalled: str = '') -> Health:
    """Judge one managed node for /diagnostics; see docs/SUPERVISOR.md for the levels."""
    per_min = record.output.per_min(now)
    idle = record.output.idle_s(now)
    next_at = record.backoff.next_at()
    values: Dict[str, Any] = {
        'state': record.state,
        'wanted_state': record.desired or '-',
        'restarts': record.restarts,
        'failed_restarts': record.failed_restarts,
        'last_restart': iso_time(record.last_restart),
        'last_restart_reason': record.last_restart_reason or '-',
        'last_error': record.last_error or record.unreachable_why or '-',
        'next_restart_in_s': ('-' if next_at is None or next_at <= now
                              else round(next_at - now, 1)),
        'adopted': record.adopted,
        'output_counter': record.output.key or '-',
        'output_per_min': '-' if per_min is None else round(per_min, 1),
        'output_idle_s': '-' if idle is None else round(idle, 1),
        'node_reports': ('-' if record.reported_level is None else
                         f'{Level(min(record.reported_level, 3)).name}: '
                         f'{record.reported_message}'),
    }
    if record.reachable is None:
        return Health(Level.STALE, 'no answer from get_state yet', values)
    if not record.reachable:
        return Health(Level.ERROR, f'down: {record.unreachable_why} (a respawned process '
                      'is brought back to active)', values)
    if record.state == 'finalized':
        return Health(Level.ERROR, 'finalized: only a new process (launch respawn) brings '
                      'it back', values)
    if stalled:
        return Health(Level.ERROR, stalled, values)
    if record.desired is None or record.state == record.desired:
        if record.state == 'active':
            return Health(Level.OK, 'active', values)
        why = 'not managed yet' if record.desired is None else 'as requested'
        return Health(Level.OK, f'{record.state} ({why})', values)
    if record.last_error:
        return Health(Level.ERROR, f'{record.state}, wanted {record.desired}: '
                      f'{record.last_error}', values)
    return Health(Level.WARN, f'{record.state}, on its way to {record.desired}', values)


@dataclass
class VolumeSnapshot:
    """What one look at the volume found."""

    exists: bool
    live_count: int = 0
    future_count: int = 0  # frames dated ahead of now (a clock jump)
    newest_name: Optional[str] = None
    newest_time: Optional[float] = None
    recent_times: List[float] = field(default_factory=list)
    free_percent: Optional[float] = None

    def frames_since(self, since: float) -> int:
        return sum(1 for t in self.recent_times if t >= since)


def scan_volume(layout: VolumeLayout, *, now: float, window_s: float) -> VolumeSnapshot:
    """
    Look at live/ once: count, newest frame, frames of the last window_s, free disk.

    Names sort by capture time, so only the names of the window are parsed.
    """
    if not layout.live.is_dir():
        return VolumeSnapshot(exists=False, free_percent=disk_free_percent(layout.root)
                              if layout.root.is_dir() else None)
    names = sorted(entry.name for entry in iter_frames(layout))
    # A frame dated ahead of now (a host clock that jumped) is no sign that frames are
    # landing now: judge by the newest frame not dated in the future.
    horizon = frame_stem(capture_time=now + FUTURE_TOLERANCE_S, sequence=0)
    future_count = len(names) - bisect_left(names, horizon)
    names = names[:len(names) - future_count]
    cutoff = frame_stem(capture_time=max(0.0, now - window_s), sequence=0)
    recent = [stem_capture_time(name) for name in names[bisect_left(names, cutoff):]]
    newest = names[-1] if names else None
    return VolumeSnapshot(
        exists=True, live_count=len(names) + future_count, newest_name=newest,
        future_count=future_count,
        newest_time=None if newest is None else stem_capture_time(newest),
        recent_times=[t for t in recent if t is not None],
        free_percent=disk_free_percent(layout.root))


def volume_health(snapshot: VolumeSnapshot, *, now: float, started_at: float,
                  window_s: float, max_frame_age_s: float, host_stale_s: float,
                  emergency_free_percent: float, warn_free_percent: float,
                  extra: Optional[Mapping[str, Any]] = None, space_held_by: str = '',
                  retention_problems: Optional[Mapping[str, str]] = None) -> Health:
    """
    Judge the volume and, through it, host capture.

    ERROR: live/ missing; no new frame for host_stale_s (none at all once host_stale_s
    has passed since start); free disk below emergency_free_percent (naming what holds
    the space when cleanup frees nothing: space_held_by). WARN: newest frame older than
    max_frame_age_s, or dated in the future; free disk below warn_free_percent, or not
    measurable; still waiting for the first frame; a problem that keeps a retention rule
    from working (retention_problems: key -> sentence). Otherwise OK.
    """
    age = None if snapshot.newest_time is None else now - snapshot.newest_time
    free = snapshot.free_percent
    values: Dict[str, Any] = {
        'newest_frame': snapshot.newest_name or '-',
        'newest_frame_age_s': '-' if age is None else round(age, 1),
        'frames_per_min': round(60.0 * snapshot.frames_since(now - window_s) / window_s, 1),
        'rate_window_s': window_s,
        'live_frames': snapshot.live_count,
        'free_disk_percent': '-' if free is None else round(free, 1),
        **(extra or {}),
    }
    problems: List[Tuple[Level, str]] = []
    if not snapshot.exists:
        problems.append((Level.ERROR, 'live/ is missing: is the volume mounted?'))
    elif age is None:
        waited = now - started_at
        if waited >= host_stale_s:
            problems.append((Level.ERROR, f'no frame in live/ after {waited:.0f} s: is host '
                             'capture running?'))
        else:
            problems.append((Level.WARN, 'waiting for the first frame'))
    elif age > host_stale_s:
        problems.append((Level.ERROR, f'no new frame for {age:.0f} s (> host_stale_s '
                         f'{host_stale_s:g}): host capture is not delivering'))
    elif age > max_frame_age_s:
        problems.append((Level.WARN, f'newest frame is {age:.1f} s old (> max_frame_age_s '
                         f'{max_frame_age_s:g})'))
    elif age < -max_frame_age_s:
        problems.append((Level.WARN, f'newest frame is dated {-age:.0f} s in the future: '
                         'clocks of host and container disagree'))
    if snapshot.future_count:
        problems.append((Level.WARN, f'{snapshot.future_count} frame(s) dated in the future: '
                         'clocks of host and container disagree'))
    if free is not None and free < emergency_free_percent:
        stuck = f' frees nothing, the space is held by {space_held_by}' if space_held_by else ''
        problems.append((Level.ERROR, f'free disk {free:.1f} % < {emergency_free_percent:g} '
                         f'%: emergency cleanup{stuck}'))
    elif free is not None and free < warn_free_percent:
        problems.append((Level.WARN, f'free disk {free:.1f} % < {warn_free_percent:g} %'))
    elif free is None and snapshot.exists:
        problems.append((Level.WARN, 'free disk space cannot be measured: emergency cleanup '
                         'cannot start'))
    problems.extend((Level.WARN, text) for text in (retention_problems or {}).values())
    if not problems:
        return Health(Level.OK, f'fresh frames, {values["frames_per_min"]}/min, '
                      f'{values["free_disk_percent"]} % free', values)
    level = max(level for level, _ in problems)
    return Health(level, '; '.join(text for worst, text in sorted(
        problems, key=lambda problem: -problem[0])), values)


def status_summary(*, now: float, nodes: Mapping[str, Health], volume: Health,
                   records: Mapping[str, NodeRecord],
                   extra: Optional[Mapping[str, Any]] = None) -> dict:
    """Return the supervisor/status JSON document: overall level, each node, the volume."""
    reports = list(nodes.values()) + [volume]
    return {
        'time': iso_time(now),
        'stamp': round(now, 3),
        'level': Level(max((report.level for report in reports), default=Level.OK)).name,
        'all_active': all(r.state == 'active' for r in records.values()),
        'nodes': {name: {'level': report.level.name, 'message': report.message,
                         **report.values} for name, report in nodes.items()},
        'volume': {'level': volume.level.name, 'message': volume.message, **volume.values},
        **(extra or {}),
    }
