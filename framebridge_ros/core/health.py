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
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = ['GraphVerdict', 'Health', 'Level', 'capture_health', 'feed_health', 'judge_graph']


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

    OK while delivered frames are fresh; WARN when frames are being refused (any since
    the last delivered one: it says how many, and the last one's name and reason) or
    when the newest delivered frame is older than max_age_s (nothing fresh to publish:
    is the host capturing?); STALE before any frame was published.
    """
    latency = sorted(stats.discovery_latency_s)
    age = None if last_capture_time is None else now - last_capture_time
    values = {
        'watch_mode': watch_mode,
        'frames_published': published,
        'skipped_backlog': stats.skipped_backlog,
        **{f'skipped_{reason}': count for reason, count in sorted(stats.rejected.items())},
        'newest_frame': stats.last_delivered or '-',
        'refused_since_last_frame': stats.refused_since_delivery,
        'last_refused': stats.last_refused or '-',
        'newest_frame_age_s': '-' if age is None else round(age, 3),
        'discovery_latency_median_ms': (round(1000 * latency[len(latency) // 2], 2)
                                        if latency else '-'),
        'cache_hit_rate': round(cache_hit_rate, 3),
    }
    refused = stats.refused_since_delivery
    refusing = (f'{refused} frame(s) refused since the last published one (last: '
                f'{stats.last_refused})') if refused else ''
    if age is None:
        return Health(Level.STALE, 'no frame published yet' + (
            f'; {refusing}' if refusing else ''), values)
    if refusing:
        return Health(Level.WARN, f'frames are being refused: {refusing}', values)
    if age > max_age_s:
        return Health(Level.WARN, f'newest frame is {age:.1f} s old: no fresh frames '
                      'arriving', values)
    return Health(Level.OK, 'publishing fresh frames', values)


# The supervisor publishes its status every health_period_s; a status older than this
# many periods (plus the slack) means it has stopped judging (stuck or gone).
STATUS_PERIODS_LATE = 2
STATUS_SLACK_S = 5.0
# A node heard of as active must publish its own /diagnostics (once a second) at least
# once in a listening window this long, or it is silent (its executor is stuck). Under
# load, DDS discovery of a participant alone took up to 3 s here: shorter windows do
# not judge silence.
SILENT_AFTER_S = 4.0


@dataclass
class GraphVerdict:
    """What `framebridge health` says about a running graph."""

    healthy: bool
    problems: List[str] = field(default_factory=list)   # each makes the graph unhealthy
    warnings: List[str] = field(default_factory=list)   # said, but healthy


def _level_name(level: int) -> str:
    return Level(min(max(int(level), 0), 3)).name


def judge_graph(*, statuses: Mapping[str, Tuple[int, str]],
                supervisor_status: Optional[Mapping[str, Any]], now: float,
                listened_s: float, require_supervisor: bool = True) -> GraphVerdict:
    """
    Judge a graph from what one listening window heard.

    statuses: the newest /diagnostics status per name, as (level, message).
    supervisor_status: the latched supervisor/status document (status_summary), or None.
    Unhealthy when nothing at all was heard; when the supervisor's status is missing
    (require_supervisor) or older than STATUS_PERIODS_LATE health periods; when the
    supervisor rates any node or the volume ERROR or STALE; when any status heard on
    /diagnostics is ERROR or STALE; when a node the supervisor has active published no
    status of its own in a window of at least SILENT_AFTER_S.
    """
    problems: List[str] = []
    warnings: List[str] = []
    if not statuses and supervisor_status is None:
        return GraphVerdict(False, [f'silent: no /diagnostics and no supervisor/status in '
                                    f'{listened_s:g} s (is the graph running, on this '
                                    'ROS_DOMAIN_ID?)'])
    judged = dict(statuses)
    if supervisor_status is None:
        if require_supervisor:
            problems.append(f'no supervisor/status heard in {listened_s:g} s: is the '
                            'supervisor running?')
    else:
        me = str(supervisor_status.get('supervisor', 'supervisor')).rsplit('/', 1)[-1]
        period = float(supervisor_status.get('health_period_s', 30.0))
        late_s = STATUS_PERIODS_LATE * period + STATUS_SLACK_S
        age = now - float(supervisor_status.get('stamp', 0.0))
        if age > late_s:
            problems.append(f'{me}: its status is {age:.0f} s old (> {late_s:g} s, '
                            f'health_period_s {period:g}): the supervisor has stopped '
                            'judging')
        reports = dict(supervisor_status.get('nodes') or {})
        reports['volume'] = supervisor_status.get('volume') or {}
        for name, report in sorted(reports.items()):
            # Its own verdicts on /diagnostics say the same: judge the latched copy once.
            judged.pop(f'{me}: {name}', None)
            named = report.get('level')
            level = Level[named] if named in Level.__members__ else Level.STALE
            line = f'{me}: {name} {level.name}: {report.get("message", "-")}'
            (problems if level >= Level.ERROR else
             warnings if level == Level.WARN else []).append(line)
        heard = {name.split(':', 1)[0].strip() for name in statuses if ':' in name}
        for name, report in sorted((supervisor_status.get('nodes') or {}).items()):
            base = name.rstrip('/').rsplit('/', 1)[-1]
            if (report.get('state') == 'active' and base not in heard
                    and listened_s >= SILENT_AFTER_S):
                problems.append(f'{base}: active but silent: no /diagnostics of its own in '
                                f'{listened_s:g} s (its callbacks may be stuck)')
    for name, (level, message) in sorted(judged.items()):
        line = f'{name} {_level_name(level)}: {message}'
        if level >= Level.ERROR:
            problems.append(line)
        elif level == Level.WARN:
            warnings.append(line)
    return GraphVerdict(not problems, problems, warnings)
