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

"""The rules behind `framebridge health` (judge_graph), case by case, without ROS."""

from framebridge_ros.core.health import judge_graph
import pytest

NOW = 1000.0
OK_STATUS = {'stamp': NOW - 1, 'level': 'OK', 'supervisor': '/supervisor',
             'health_period_s': 30.0,
             'nodes': {'frame_provider': {'level': 'OK', 'message': 'active',
                                          'state': 'active'}},
             'volume': {'level': 'OK', 'message': 'fresh frames'}}
OWN = {'frame_provider: frames': (0, 'publishing fresh frames')}
DOWN = {**OK_STATUS, 'nodes': {'frame_provider': {
    'level': 'ERROR', 'message': 'down: get_state did not answer', 'state': 'unreachable'}}}


@pytest.mark.parametrize('statuses, status, kwargs, problem', [
    (OWN, OK_STATUS, {}, None),
    ({}, None, {}, 'silent: no /diagnostics and no supervisor/status in 5 s'),
    (OWN, None, {}, 'no supervisor/status heard in 5 s'),
    (OWN, None, {'require_supervisor': False}, None),
    # older than 2 health periods + 5 s: the supervisor has stopped judging
    (OWN, {**OK_STATUS, 'stamp': NOW - 66}, {}, 'supervisor: its status is 66 s old'),
    (OWN, {**OK_STATUS, 'stamp': NOW - 64}, {}, None),
    (OWN, DOWN, {}, 'supervisor: frame_provider ERROR: down: get_state did not answer'),
    (OWN, {**OK_STATUS, 'volume': {'level': 'STALE', 'message': 'x'}}, {},
     'supervisor: volume STALE: x'),
    (OWN, {**OK_STATUS, 'volume': {'level': 'bogus'}}, {}, 'supervisor: volume STALE'),
    ({'host_capture: capture': (0, 'capturing')}, OK_STATUS, {},
     'frame_provider: active but silent'),
    ({}, OK_STATUS, {'listened_s': 3.0}, None),  # too short a window to call it silent
    ({**OWN, 'sky_analyzer: sky': (3, 'no frame yet')}, OK_STATUS, {},
     'sky_analyzer: sky STALE: no frame yet'),
    ({**OWN, 'host_capture: capture': (2, 'no frame for 12 s')}, None,
     {'require_supervisor': False}, 'host_capture: capture ERROR: no frame for 12 s'),
    # the supervisor's own statuses heard on /diagnostics are judged once, from the latch
    ({**OWN, 'supervisor: frame_provider': (2, 'older')}, OK_STATUS, {}, None),
])
def test_graph_verdict(statuses, status, kwargs, problem):
    verdict = judge_graph(statuses=statuses, supervisor_status=status, now=NOW,
                          listened_s=kwargs.pop('listened_s', 5.0), **kwargs)
    if problem is None:
        assert verdict.healthy and not verdict.problems, verdict.problems
    else:
        assert not verdict.healthy
        assert verdict.problems[0].startswith(problem), verdict.problems


def test_warnings_are_said_but_healthy():
    verdict = judge_graph(statuses={'frame_provider: frames': (1, 'frames are being refused')},
                          supervisor_status=OK_STATUS, now=NOW, listened_s=5.0)
    assert verdict.healthy
    assert verdict.warnings == ['frame_provider: frames WARN: frames are being refused']
