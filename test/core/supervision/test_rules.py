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

"""The supervisor's judgement without ROS: back-off, output windows, node and volume health."""

import json
import time

from framebridge_ros.core.health import Health, Level
from framebridge_ros.core.supervision import (
    Backoff, CounterWindow, next_transition, node_health, NodeRecord, recovery_reason,
    scan_volume, stall_reason, status_summary, volume_health, VolumeSnapshot)
from framebridge_testing import write_frame
import pytest

NOW = 1800000000.0


def _record(**fields):
    record = NodeRecord('frame_provider', Backoff(2.0, 60.0), CounterWindow(60.0))
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def test_backoff_doubles_up_to_its_maximum_and_settles():
    backoff = Backoff(2.0, 60.0)
    delays = []
    for attempt in range(8):
        delays.append(backoff.delay_s())
        backoff.record(NOW + attempt)
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert not backoff.ready(NOW + 7 + 59.9) and backoff.ready(NOW + 7 + 60.0)
    backoff.settle(NOW + 7 + 30.0)
    assert backoff.attempts == 8  # not yet fine for max_s
    backoff.settle(NOW + 7 + 60.0)
    assert backoff.attempts == 0 and backoff.ready(NOW + 7 + 60.0)


def test_first_contact_is_start_up_and_a_return_is_a_respawn():
    record = _record()
    record.observe_unreachable('no service yet', now=1.0)
    record.observe_state('unconfigured', now=2.0)
    assert not record.came_back  # never heard from before: starting up
    record.observe_unreachable('get_state timed out', now=3.0)
    record.observe_state('unconfigured', now=4.0)
    assert record.came_back


def test_counter_window_rate_idle_and_restarted_process():
    window = CounterWindow(60.0)
    assert window.per_min(NOW) is None and window.idle_s(NOW) is None
    for second in range(0, 31):  # 1 Hz camera: one frame a second for 30 s
        window.add(NOW + second, 100 + second, key='frames_published')
    assert window.per_min(NOW + 30) == pytest.approx(60.0)
    assert window.idle_s(NOW + 40) == pytest.approx(10.0)
    for second in range(31, 41):  # the counter stops
        window.add(NOW + second, 130)
    assert window.idle_s(NOW + 40) == pytest.approx(10.0)
    window.add(NOW + 41, 3)  # a new process counts from zero: that is output, not a drop
    assert window.idle_s(NOW + 41) == 0.0 and window.total == 33
    assert window.key == 'frames_published'
    for second in range(42, 200):  # only the last 60 s count
        window.add(NOW + second, 3)
    assert window.per_min(NOW + 199) == 0.0


@pytest.mark.parametrize('state, goal, expected', [
    ('unconfigured', 'active', 'configure'), ('inactive', 'active', 'activate'),
    ('active', 'active', None), ('active', 'inactive', 'deactivate'),
    ('active', 'unconfigured', 'deactivate'), ('inactive', 'unconfigured', 'cleanup'),
    ('finalized', 'active', None), ('configuring', 'active', None),
    ('unconfigured', 'unconfigured', None),
])
def test_next_transition(state, goal, expected):
    assert next_transition(state, goal) == expected


@pytest.mark.parametrize('fields, expected', [
    ({'state': 'active'}, None),
    ({'state': 'unconfigured'}, 'found unconfigured'),
    ({'state': 'inactive'}, 'found inactive'),
    ({'state': 'unconfigured', 'came_back': True}, 'respawned process'),
    ({'state': 'unconfigured', 'busy': True}, None),
    ({'state': 'unconfigured', 'desired': 'inactive'}, None),
    ({'state': 'inactive', 'desired': None}, None),
    ({'state': 'finalized'}, None),
    ({'state': 'activating'}, None),
    ({'state': 'unreachable', 'reachable': False}, None),
    ({'state': 'unconfigured',
      'backoff': Backoff(2.0, 60.0, attempts=1, last_attempt=NOW - 1.0)}, None),
    ({'state': 'unconfigured',
      'backoff': Backoff(2.0, 60.0, attempts=1, last_attempt=NOW - 2.0)}, 'found'),
])
def test_recovery_reason(fields, expected):
    record = _record(**{'desired': 'active', 'reachable': True, **fields})
    reason = recovery_reason(record, now=NOW)
    assert (reason is None) == (expected is None)
    assert expected is None or expected in reason


@pytest.mark.parametrize('idle_s, landed, active_for_s, desired, expected', [
    (31.0, 30, 100.0, 'active', 'stopped producing: frames_published unchanged for 31 s'),
    (29.0, 30, 100.0, 'active', None),       # not long enough
    (31.0, 1, 100.0, 'active', None),        # no frames arriving: not the node's fault
    (31.0, 30, 10.0, 'active', None),        # just (re)activated
    (31.0, 30, 100.0, 'inactive', None),     # paused on request
    (None, 30, 100.0, 'active', None),       # publishes no counter: state alone judges
])
def test_stall_reason(idle_s, landed, active_for_s, desired, expected):
    record = _record(desired=desired, reachable=True, state='active',
                     active_since=NOW - active_for_s)
    if idle_s is not None:
        record.output.add(NOW - idle_s, 7, key='frames_published')
    reason = stall_reason(record, now=NOW, frames_landed=landed, output_stall_s=30.0)
    assert reason == expected if expected is None else reason.startswith(expected)


@pytest.mark.parametrize('fields, stalled, level, message', [
    ({}, '', Level.STALE, 'no answer'),
    ({'reachable': False, 'unreachable_why': 'get_state did not answer within 5 s'}, '',
     Level.ERROR, 'down: get_state did not answer'),
    ({'reachable': True, 'state': 'active', 'desired': 'active'}, '', Level.OK, 'active'),
    ({'reachable': True, 'state': 'active', 'desired': 'active'}, 'stopped producing: x',
     Level.ERROR, 'stopped producing'),
    ({'reachable': True, 'state': 'inactive', 'desired': 'inactive'}, '', Level.OK,
     'inactive (as requested)'),
    ({'reachable': True, 'state': 'unconfigured', 'desired': 'active'}, '', Level.WARN,
     'unconfigured, on its way to active'),
    ({'reachable': True, 'state': 'unconfigured', 'desired': 'active',
      'last_error': 'activate failed'}, '', Level.ERROR, 'unconfigured, wanted active: '
     'activate failed'),
    ({'reachable': True, 'state': 'finalized', 'desired': 'active'}, '', Level.ERROR,
     'finalized'),
])
def test_node_health(fields, stalled, level, message):
    health = node_health(_record(**fields), now=NOW, stalled=stalled)
    assert health.level == level and health.message.startswith(message)
    assert {'state', 'restarts', 'last_restart', 'last_restart_reason',
            'output_per_min'} <= set(health.values)


def _snapshot(newest_age_s=1.0, free=50.0, exists=True, count=60):
    recent = [] if newest_age_s is None else [NOW - newest_age_s - i for i in range(count)]
    return VolumeSnapshot(exists=exists, live_count=len(recent),
                          newest_name=None if newest_age_s is None else 'newest.jpg',
                          newest_time=recent[0] if recent else None,
                          recent_times=recent, free_percent=free)


@pytest.mark.parametrize('snapshot, started_ago_s, level, message', [
    (_snapshot(), 1000.0, Level.OK, 'fresh frames, 60.0/min'),
    (_snapshot(newest_age_s=8.0), 1000.0, Level.WARN, 'newest frame is 8.0 s old'),
    (_snapshot(newest_age_s=90.0), 1000.0, Level.ERROR, 'no new frame for 90 s'),
    (_snapshot(newest_age_s=-60.0), 1000.0, Level.WARN, 'newest frame is dated 60 s'),
    (_snapshot(newest_age_s=None), 10.0, Level.WARN, 'waiting for the first frame'),
    (_snapshot(newest_age_s=None), 100.0, Level.ERROR, 'no frame in live/ after 100 s'),
    (_snapshot(free=15.0), 1000.0, Level.WARN, 'free disk 15.0 % < 20 %'),
    (_snapshot(free=5.0), 1000.0, Level.ERROR, 'free disk 5.0 % < 10 %: emergency'),
    (_snapshot(newest_age_s=8.0, free=5.0), 1000.0, Level.ERROR,
     'free disk 5.0 % < 10 %: emergency cleanup; newest frame is 8.0 s old'),
    (_snapshot(exists=False), 1000.0, Level.ERROR, 'live/ is missing'),
])
def test_volume_health(snapshot, started_ago_s, level, message):
    health = volume_health(snapshot, now=NOW, started_at=NOW - started_ago_s, window_s=60.0,
                           max_frame_age_s=5.0, host_stale_s=60.0,
                           emergency_free_percent=10.0, warn_free_percent=20.0,
                           extra={'last_cleanup': '-'})
    assert health.level == level and health.message.startswith(message), health.message
    assert health.values['last_cleanup'] == '-'


def test_scan_volume_reads_names_only_within_the_window(volume):
    now = time.time()
    for age in (300.0, 120.0, 50.0, 20.0, 2.0):
        write_frame(volume, capture_time=now - age)
    (volume.live / 'holiday.jpg').write_bytes(b'not ours')
    snapshot = scan_volume(volume, now=now, window_s=60.0)
    assert snapshot.exists and snapshot.live_count == 5
    assert snapshot.newest_time == pytest.approx(now - 2.0, abs=1e-5)
    assert len(snapshot.recent_times) == 3 and snapshot.frames_since(now - 30.0) == 2
    assert 0.0 < snapshot.free_percent <= 100.0
    assert not scan_volume(type(volume).at(volume.root / 'nowhere'), now=now,
                           window_s=60.0).exists


def test_status_summary_is_json_with_the_worst_level():
    records = {'a': _record(state='active'), 'b': _record(state='inactive')}
    summary = status_summary(
        now=NOW, nodes={'a': Health(Level.OK, 'active', {'restarts': 0}),
                        'b': Health(Level.WARN, 'inactive', {'restarts': 2})},
        volume=Health(Level.OK, 'fresh', {'frames_per_min': 60.0}), records=records)
    assert json.loads(json.dumps(summary)) == summary
    assert summary['level'] == 'WARN' and summary['all_active'] is False
    assert summary['nodes']['b'] == {'level': 'WARN', 'message': 'inactive', 'restarts': 2}
    assert summary['volume']['frames_per_min'] == 60.0
