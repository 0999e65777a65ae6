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
The provider's engine without ROS: new files in live/ in, fresh Frames out.

A VolumeWatcher reports paths from its threads into a one-slot mailbox; one worker
thread takes the newest, loads and checks it (core.frames) and hands it to on_frame.
Frames that arrive while the worker is busy are skipped in favour of the newest and
counted, so a slow consumer never builds a queue. Names sort by capture time, so a
name not newer than the last one delivered is a duplicate report or a late straggler.

A refused frame (corrupt, stale, future-dated, unsafe, too large, a .jpg whose name is
not ours) is counted by reason. Refusals come in episodes, from the first one after a
delivered frame to the next delivered frame: each reason is logged once per episode,
the end of an episode once, and the health rules WARN while one lasts.
"""

from collections import Counter, deque
from dataclasses import dataclass
import logging
import os
from pathlib import Path
import threading
import time
from typing import Callable, Deque, Optional, Set

from framebridge_ros.core.volume.frames import Frame, FrameRejected, load_frame
from framebridge_ros.core.volume.layout import is_frame_name, newest_frame, VolumeLayout
from framebridge_ros.core.volume.watcher import VolumeWatcher

__all__ = ['FeedStats', 'FrameFeed']

_log = logging.getLogger('framebridge.feed')

# Rejections that another look at the same file cannot change.
_FINAL = frozenset({'stale', 'unsafe', 'too_large'})
# Future-dated frames refused once, remembered by name: a host clock that jumped ahead
# must not move the high-water mark, or frames dated right after the clock is corrected
# would sort below it and be ignored until real time caught up.
_FUTURE_NAMES_KEPT = 1000
# Foreign .jpg names already counted: every event and scan reports them again.
_FOREIGN_NAMES_KEPT = 1000


@dataclass
class FeedStats:
    """Counters for diagnostics; written by the feed's threads."""

    delivered: int = 0
    skipped_backlog: int = 0
    rejected: Counter = None
    discovery_latency_s: Deque[float] = None
    last_delivered: str = ''
    refused_since_delivery: int = 0   # frames refused since the last one delivered
    last_refused: str = ''            # '<name>: <why> (<reason>)'

    def __post_init__(self) -> None:
        self.rejected = Counter()
        self.discovery_latency_s = deque(maxlen=100)


class FrameFeed:
    """Deliver each new, valid, fresh frame of a volume to on_frame, newest first."""

    def __init__(self, layout: VolumeLayout, *, on_frame: Callable[[Frame], None],
                 max_age_s: float, watch_mode: str = 'auto', poll_interval_s: float = 1.0,
                 min_file_bytes: int = 0) -> None:
        self._layout, self._on_frame = layout, on_frame
        self._max_age_s, self._min_file_bytes = max_age_s, min_file_bytes
        self._watcher = VolumeWatcher(layout.live, on_frame=self._offer,
                                      name_filter=self._is_candidate, mode=watch_mode,
                                      poll_interval_s=poll_interval_s)
        self._lock = threading.Condition()
        self._pending: Optional[Path] = None
        self._last_name = ''
        self._future_names: Set[str] = set()
        self._foreign_names: Set[str] = set()
        self._episode_reasons: Set[str] = set()  # reasons logged in this refusal episode
        self._stopping = False
        self._worker: Optional[threading.Thread] = None
        self.stats = FeedStats()

    @property
    def watch_mode_in_use(self) -> str:
        return self._watcher.mode_in_use

    def start(self) -> None:
        """Start watching and deliver the newest frame already present, if fresh."""
        with self._lock:
            self._stopping = False
        self._worker = threading.Thread(target=self._work, name='frame-feed', daemon=True)
        self._worker.start()
        self._watcher.start()
        existing = newest_frame(self._layout)
        if existing is not None:
            self._offer(existing, time.time())

    def stop(self) -> None:
        self._watcher.stop()
        with self._lock:
            self._stopping = True
            self._pending = None
            self._lock.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None

    def _is_candidate(self, name: str) -> bool:
        if is_frame_name(name):
            return True
        if name.lower().endswith(('.jpg', '.jpeg')) and not name.startswith('.'):
            with self._lock:
                if name in self._foreign_names:
                    return False
                if len(self._foreign_names) >= _FOREIGN_NAMES_KEPT:
                    self._foreign_names.clear()
                self._foreign_names.add(name)
            # Never read, moved or deleted: someone else's file, or a camera misnamed.
            self._refused(name, 'foreign_name', 'not a frame name this package writes; '
                          'left alone, never read')
        return False

    def _refused(self, name: str, reason: str, why: str, *, exc_info: bool = False) -> None:
        """Count a refusal; log its reason once per episode (until a frame is delivered)."""
        with self._lock:
            self.stats.rejected[reason] += 1
            self.stats.refused_since_delivery += 1
            self.stats.last_refused = f'{name}: {why} ({reason})'
            first = reason not in self._episode_reasons
            self._episode_reasons.add(reason)
        if first:
            _log.warning('skipped %s: %s (%s); waiting for the next frame (further %s '
                         'refusals are counted, not logged, until a frame is published)',
                         name, why, reason, reason, exc_info=exc_info)
        else:
            _log.debug('skipped %s: %s (%s)', name, why, reason)

    def _delivered(self, name: str, refused: int) -> None:
        """End the episode of the refused frames counted before name was published."""
        with self._lock:
            reasons = sorted(self._episode_reasons)
            # A refusal while name was being published (the scan thread does not wait)
            # came after it: it stays counted, and its episode goes on.
            self.stats.refused_since_delivery -= refused
            if not self.stats.refused_since_delivery:
                self._episode_reasons.clear()
            self.stats.delivered += 1
            self.stats.last_delivered = name
        if refused:
            _log.info('published %s after %d refused frame(s) (%s)', name, refused,
                      ', '.join(reasons))

    def _offer(self, path: Path, seen_at: float) -> None:
        with self._lock:
            if path.name <= self._last_name or path.name in self._future_names:
                return
            if self._pending is not None:
                if path.name <= self._pending.name:
                    return
                self.stats.skipped_backlog += 1
            self._pending = path
            self._lock.notify()
        # Only a first report gets here: the scan that finds the same file later does not.
        try:
            changed_ns = os.lstat(path).st_ctime_ns  # the rename into live/ sets ctime
            self.stats.discovery_latency_s.append(max(0.0, seen_at - changed_ns / 1e9))
        except OSError:
            pass

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                path, self._pending = self._pending, None
                # A second report of the frame just delivered (the safety scan, or a
                # closed event) may have been queued while it was being read.
                if path.name <= self._last_name:
                    continue
            self._deliver(path)

    def _deliver(self, path: Path) -> None:
        try:
            frame = load_frame(self._layout, path, max_age_s=self._max_age_s,
                               min_file_bytes=self._min_file_bytes)
        except FrameRejected as rejection:
            if rejection.reason == 'future':
                with self._lock:
                    if len(self._future_names) >= _FUTURE_NAMES_KEPT:
                        self._future_names.clear()
                    self._future_names.add(path.name)
            elif rejection.reason in _FINAL:
                self._mark_done(path.name)
            self._refused(path.name, rejection.reason, str(rejection))
            return
        except Exception as error:  # noqa: B902 - a bug or a hostile file must not stop it
            self._mark_done(path.name)
            self._refused(path.name, 'corrupt', f'unexpected error while reading it: '
                          f'{error!r}', exc_info=True)
            return
        self._mark_done(path.name)
        with self._lock:
            refused = self.stats.refused_since_delivery
        try:
            self._on_frame(frame)
        except FrameRejected as rejection:  # aged out while the consumer worked on it
            self._refused(frame.name, rejection.reason, f'dropped: {rejection}')
            return
        except Exception:  # noqa: B902 - a consumer bug must not stop the feed
            _log.exception('publishing %s failed; continuing with the next frame',
                           frame.name)
            return
        self._delivered(frame.name, refused)

    def _mark_done(self, name: str) -> None:
        with self._lock:
            if name > self._last_name:
                self._last_name = name
