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

"""The supervisor's automatic cleanup keeps up while it frees space, and says so once."""

import logging

from framebridge_ros.core.supervision.cleanup import CleanupSchedule
from framebridge_ros.core.volume.retention import RetentionPolicy, RetentionResult

DUE = 'free disk 4.0 % < 10 %: emergency cleanup'
POLICY = RetentionPolicy()


def _lines(caplog):
    return [record for record in caplog.records if record.name == 'framebridge.retention']


def _run(schedule, now, *, freed, problems=None):
    result = RetentionResult(emergency=True, bytes_freed=freed, free_percent_before=4.0,
                             emergency_below_percent=10.0, problems=problems or {},
                             holders=[] if freed else [('live/recording.bin', 20_000_000)])
    schedule.finished(result, automatic=True, reason=DUE, now=now)


def test_runs_again_at_once_while_each_run_frees_and_backs_off_when_one_frees_nothing(
        caplog):
    caplog.set_level(logging.INFO)
    schedule = CleanupSchedule()
    for second in range(5):  # a disk refilling every second: a run every second
        assert schedule.should_start(float(second), DUE, running=False, policy=POLICY)
        _run(schedule, float(second), freed=1_000_000)
    assert len(_lines(caplog)) == 1 and 'runs again as soon as due' in _lines(caplog)[0].message
    assert schedule.should_start(5.0, DUE, running=False, policy=POLICY)
    _run(schedule, 5.0, freed=0)
    assert schedule.stuck == 'live/recording.bin 20.0 MB'
    errors = [r for r in _lines(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1 and 'live/recording.bin' in errors[0].message
    assert not schedule.should_start(6.0, DUE, running=False, policy=POLICY)
    assert not schedule.should_start(64.0, DUE, running=False, policy=POLICY)
    assert schedule.should_start(65.0, DUE, running=False, policy=POLICY)
    _run(schedule, 65.0, freed=0)
    assert not schedule.should_start(100.0, None, running=False, policy=POLICY)
    assert not schedule.should_start(184.0, DUE, running=False, policy=POLICY), 'doubles'
    assert len([r for r in _lines(caplog) if r.levelno == logging.ERROR]) == 1, 'said once'
    values = schedule.values()
    assert values['space_held_by'] == 'live/recording.bin 20.0 MB'
    assert values['cleanup_episode'].endswith('7 run(s), 5.00 MB freed')

    assert schedule.episode_started is not None, 'a short pause does not end the episode'
    assert not schedule.should_start(250.0, None, running=False, policy=POLICY)
    assert 'cleanup not due for 66 s' in _lines(caplog)[-1].message
    assert schedule.stuck == '' and schedule.values()['cleanup_episode'] == '-'
    assert len(_lines(caplog)) == 3


def test_a_retention_problem_is_said_once_when_it_appears_and_once_when_it_clears(caplog):
    caplog.set_level(logging.INFO)
    schedule = CleanupSchedule()
    problem = {'free_space_unknown': 'free disk space cannot be measured: EIO; ...'}
    for now in range(3):
        schedule.finished(RetentionResult(problems=problem), automatic=False,
                          reason='periodic', now=float(now))
    errors = [r for r in _lines(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1 and 'cannot be measured' in errors[0].message
    assert schedule.values()['cleanup_problems'].startswith('free disk space cannot')
    schedule.finished(RetentionResult(), automatic=False, reason='periodic', now=4.0)
    assert any('resolved' in r.message for r in _lines(caplog))
    schedule.finished(RetentionResult(problems=problem), automatic=False, reason='periodic')
    assert schedule.values()['cleanup_problem_episodes'] == 'free_space_unknown=2'


def test_a_run_that_only_found_frames_too_young_to_touch_is_not_stuck():
    schedule = CleanupSchedule()
    assert schedule.should_start(0.0, DUE, running=False, policy=POLICY)
    schedule.finished(RetentionResult(emergency=True, kept_young=3), automatic=True,
                      reason=DUE, now=0.0)
    assert schedule.stuck == '' and schedule.should_start(1.0, DUE, running=False,
                                                          policy=POLICY)
