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
When the supervisor's automatic cleanup runs, and what it says about it.

An automatic cleanup is due when the disk runs low (an emergency) or live/ overflows.
While it stays due, the cleanup runs again as soon as the supervisor asks (every
monitor period for an emergency), as long as each run frees space: a disk that refills
in seconds is kept from filling. Only a run that frees nothing backs off (60 s doubling
up to 15 min), and then the episode is stuck: the space is held by entries that are
not ours, which the result names (RetentionResult.holders).

Everything is said once per episode: when it starts, when it gets stuck, when it ends
(with the runs and bytes). An episode ends when cleanup has not been due for quiet_s
(60 s): a disk that refills every few seconds is one episode, not one per refill.
Problems that keep a rule from working (RetentionResult.problems) are said once when
they appear and once when they clear, and counted.
"""

import logging
import time
from typing import Any, Dict, List, Optional, Tuple

from framebridge_ros.core.supervision.rules import Backoff
from framebridge_ros.core.volume.retention import RetentionPolicy, RetentionResult

__all__ = ['CleanupSchedule', 'describe_holders']

_log = logging.getLogger('framebridge.retention')


def describe_holders(holders: List[Tuple[str, int]]) -> str:
    """Say which entries hold the space, biggest first, e.g. 'live/x.bin 20.1 MB'."""
    return ', '.join(f'{name} {size / 1e6:.1f} MB' for name, size in holders) or 'unknown'


class CleanupSchedule:
    """The supervisor's automatic cleanup: when to start one, and one line per episode."""

    def __init__(self, *, backoff_base_s: float = 60.0, backoff_max_s: float = 900.0,
                 quiet_s: float = 60.0) -> None:
        self.backoff = Backoff(backoff_base_s, backoff_max_s)
        self.quiet_s = quiet_s
        self.last_due: Optional[float] = None
        self.episode_started: Optional[float] = None
        self.episode_reason = ''
        self.runs = 0
        self.freed_bytes = 0
        self.stuck = ''  # what holds the space, once a run of this episode freed nothing
        self.problems: Dict[str, str] = {}
        self.problem_episodes: Dict[str, int] = {}

    def should_start(self, now: float, due: Optional[str], *, running: bool,
                     policy: RetentionPolicy) -> bool:
        """Tell whether an automatic cleanup starts now; due is cleanup_due()'s reason."""
        if not due:
            self.backoff.settle(now)
            if self.last_due is None or now - self.last_due >= self.quiet_s:
                self._end(now)
            return False
        self.last_due = now
        if running or not self.backoff.ready(now):
            return False
        if self.episode_started is None:
            self.episode_started, self.episode_reason = now, due
            self.runs = self.freed_bytes = 0
            what = ('processed/ emptied first, then live/ down to the newest '
                    f'{policy.emergency_keep_live}' if 'emergency' in due
                    else f'the oldest beyond {policy.max_live_images} archived')
            _log.warning('%s (%s); it runs again as soon as due while each run frees space',
                         due, what)
        return True

    def finished(self, result: RetentionResult, *, automatic: bool, reason: str,
                 now: Optional[float] = None) -> None:
        """Take a finished run in: back-off, episode figures, problems."""
        now = time.time() if now is None else now
        self._take_problems(result.problems)
        if not automatic:
            level = logging.WARNING if result.errors or result.emergency else logging.INFO
            _log.log(level, 'cleanup (%s): %s', reason, result.summary())
            return
        self.runs += 1
        self.freed_bytes += 0 if result.dry_run else result.bytes_freed
        if not (result.freed_nothing or result.dry_run) or (
                result.freed_nothing and result.kept_young):
            # It keeps up (or waits only for frames too young to touch): the next run
            # starts as soon as due.
            self.backoff.attempts = 0
            return
        self.backoff.record(now)
        if result.emergency and result.freed_nothing and not self.stuck:
            self.stuck = describe_holders(result.holders)
            _log.error('emergency cleanup freed nothing (free disk %s < %g %%): the space is '
                       'held by %s; files that are not ours are left alone, next try in '
                       '%.0f s', _percent(result.free_percent_before),
                       result.emergency_below_percent or 0.0, self.stuck,
                       self.backoff.delay_s())
        elif result.errors and self.runs == 1:
            _log.warning('cleanup (%s): %s', reason, result.summary())

    def values(self) -> Dict[str, Any]:
        """Key/values for the supervisor's volume status."""
        return {
            'cleanup_episode': '-' if self.episode_started is None else
            f'{self.episode_reason}: {self.runs} run(s), {self.freed_bytes / 1e6:.2f} MB freed',
            'space_held_by': self.stuck or '-',
            'cleanup_problems': '; '.join(self.problems.values()) or '-',
            'cleanup_problem_episodes': ', '.join(
                f'{key}={count}' for key, count in sorted(self.problem_episodes.items())) or '-',
        }

    def _end(self, now: float) -> None:
        if self.episode_started is None:
            return
        _log.warning('cleanup not due for %.0f s (it was: %s): %d run(s) in %.0f s freed '
                     '%.2f MB%s', now - (self.last_due or now), self.episode_reason,
                     self.runs, now - self.episode_started,
                     self.freed_bytes / 1e6,
                     f'; the space had been held by {self.stuck}' if self.stuck else '')
        self.episode_started, self.stuck = None, ''

    def _take_problems(self, problems: Dict[str, str]) -> None:
        for key, text in problems.items():
            if key not in self.problems:
                self.problem_episodes[key] = self.problem_episodes.get(key, 0) + 1
                _log.error('cleanup: %s', text)
        for key in sorted(set(self.problems) - set(problems)):
            _log.warning('cleanup: resolved: %s', self.problems[key])
        self.problems = dict(problems)


def _percent(value: Optional[float]) -> str:
    return '?' if value is None else f'{value:.1f} %'
