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
Health rules for /diagnostics and the plain CLI alike.

Plain functions that judge state and return a level, a message and key/values with
units in the key names.
"""

from dataclasses import dataclass, field
import enum
from typing import Any, Dict, Optional

__all__ = ['Health', 'Level', 'capture_health']


class Level(enum.IntEnum):
    """Same order and values as diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass
class Health:
    """One judgement: level, a sentence for people, and readable key/values."""

    level: Level
    message: str
    values: Dict[str, Any] = field(default_factory=dict)


def _median(values) -> Optional[float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def capture_health(stats, *, now: float, interval_s: float, started_at: float,
                   source: str) -> Health:
    """
    Judge a HostCapture from its CaptureStats.

    ERROR until the first frame lands (after a grace period for camera start-up) or
    when no frame has landed for 5 intervals (at least 10 s); WARN while captures fail.
    """
    stale_after = max(10.0, 5 * interval_s)
    last = stats.last_capture_time
    age = None if last is None else now - last
    median = _median(stats.durations_s)
    values = {
        'source': source,
        'frames_captured': stats.frames_captured,
        'errors': stats.errors,
        'consecutive_errors': stats.consecutive_errors,
        'backend_restarts': stats.backend_restarts,
        'last_frame': stats.last_frame or '-',
        'last_frame_age_s': '-' if age is None else round(age, 3),
        'capture_duration_median_ms': '-' if median is None else round(1000 * median, 1),
        'last_error': stats.last_error or '-',
    }
    if age is None:
        if now - started_at < stale_after:
            return Health(Level.WARN, 'waiting for the first frame', values)
        return Health(Level.ERROR, f'no frame captured in {now - started_at:.0f} s', values)
    if age > stale_after:
        return Health(Level.ERROR, f'no frame for {age:.0f} s: {stats.last_error or "?"}',
                      values)
    if stats.consecutive_errors:
        return Health(Level.WARN, f'{stats.consecutive_errors} failed capture(s) in a row',
                      values)
    return Health(Level.OK, 'capturing', values)


def feed_health(stats, *, now: float, last_capture_time: Optional[float],
                max_age_s: float, watch_mode: str, published: int,
                cache_hit_rate: float) -> Health:
    """
    Judge a frame provider from its FeedStats.

    OK while delivered frames are fresh; WARN when the newest delivered frame is older
    than max_age_s (nothing fresh to publish: is the host capturing?) or frames are
    being refused; STALE before any frame arrived.
    """
    latency = sorted(stats.discovery_latency_s)
    age = None if last_capture_time is None else now - last_capture_time
    values = {
        'watch_mode': watch_mode,
        'frames_published': published,
        'skipped_backlog': stats.skipped_backlog,
        **{f'skipped_{reason}': count for reason, count in sorted(stats.rejected.items())},
        'newest_frame': stats.last_delivered or '-',
        'newest_frame_age_s': '-' if age is None else round(age, 3),
        'discovery_latency_median_ms': (round(1000 * latency[len(latency) // 2], 2)
                                        if latency else '-'),
        'cache_hit_rate': round(cache_hit_rate, 3),
    }
    if age is None:
        return Health(Level.STALE, 'no frame published yet', values)
    if age > max_age_s:
        return Health(Level.WARN, f'newest frame is {age:.1f} s old: no fresh frames '
                      'arriving', values)
    return Health(Level.OK, 'publishing fresh frames', values)
