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
                   source: str, space=None) -> Health:
    """
    Judge a HostCapture from its CaptureStats (and its space guard's GuardStats).

    ERROR until the first frame lands (after a grace period for camera start-up), when
    no frame has landed for 5 intervals (at least 10 s), or while frames are discarded
    because only others' files hold the disk; WARN while captures fail, or while free
    space is below the reserve and our oldest frames are deleted to make room.
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
        **({} if space is None else _space_values(space)),
        'camera_metadata_dropped': stats.camera_metadata_dropped,
        'last_camera_metadata_problem': stats.last_camera_metadata_problem or '-',
        'frames_without_detections': stats.frames_without_detections,
        'last_detections_reason': stats.last_detections_reason or '-',
        **stats.backend_values,
    }
    if space is not None and space.starved:
        return Health(Level.ERROR, f'disk full: {space.frames_discarded} frame(s) discarded; '
                      'only our newest frames are left, the space is held by others', values)
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
    if space is not None and space.low_space:
        return Health(Level.WARN, f'free disk {values["free_disk_mb"]} MiB below the reserve '
                      f'{values["reserve_mb"]} MiB: deleting our oldest frames', values)
    return Health(Level.OK, 'capturing', values)


def _space_values(space) -> Dict[str, Any]:
    def mib(value):
        return '-' if value is None else round(value / 1048576, 1)
    return {
        'free_disk_mb': mib(space.free_bytes),
        'reserve_mb': mib(space.reserve_bytes),
        'low_space': space.low_space,
        'low_space_episodes': space.episodes,
        'frames_removed_for_space': space.frames_removed,
        'freed_for_space_mb': mib(space.bytes_freed),
        'enospc_retries': space.enospc_retries,
        'frames_discarded_for_space': space.frames_discarded,
        'last_low_space': space.last_episode or '-',
    }


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
