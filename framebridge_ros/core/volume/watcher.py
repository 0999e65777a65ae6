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
Watch live/ for new frames: inotify through watchdog, polling where events do not come.

An atomic rename into live/ arrives as a created event (the source, .tmp/, is not
watched); a foreign writer that writes in place gives created, then closed. Both are
passed on, so a half-written file rejected at 'created' gets another look at 'closed'.

Modes: 'events' (inotify only), 'poll' (scan the directory every poll_interval_s) and
'auto' (events, plus the same scan as a safety net: bind mounts from some hosts and
network file systems deliver no events at all, and a scan of names is cheap).
"""

import logging
import os
from pathlib import Path
import threading
import time
from typing import Callable, Optional, Set

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

__all__ = ['WATCH_MODES', 'VolumeWatcher']

WATCH_MODES = ('auto', 'events', 'poll')

_log = logging.getLogger('framebridge.watcher')

_FULL_SCAN_S = 10.0

FrameCallback = Callable[[Path, float], None]


class _Handler(FileSystemEventHandler):
    def __init__(self, notify: FrameCallback) -> None:
        self._notify = notify

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._notify(Path(os.fsdecode(event.src_path)), time.time())

    on_closed = on_created

    def on_moved(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._notify(Path(os.fsdecode(event.dest_path)), time.time())


class VolumeWatcher:
    """
    Calls on_frame(path, seen_at) for files appearing in a directory, from its threads.

    Names accepted by name_filter only. The callback must be quick (hand the path on);
    the same path may be reported more than once (event and scan, created and closed).
    """

    def __init__(self, directory: Path, *, on_frame: FrameCallback,
                 name_filter: Callable[[str], bool], mode: str = 'auto',
                 poll_interval_s: float = 1.0) -> None:
        if mode not in WATCH_MODES:
            raise ValueError(f'watch_mode must be one of {", ".join(WATCH_MODES)}, got {mode!r}')
        self._directory, self._on_frame, self._filter = directory, on_frame, name_filter
        self._mode, self._poll_interval_s = mode, poll_interval_s
        self._observer: Optional[Observer] = None
        self._poller: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._known: Set[str] = set()
        self.mode_in_use = ''

    def start(self) -> None:
        """Start watching; fall back to polling in auto mode if inotify cannot be used."""
        self._stop.clear()
        self._known = self._scan_names()
        use_events = self._mode in ('auto', 'events')
        if use_events:
            try:
                observer = Observer()
                observer.schedule(_Handler(self._notify), str(self._directory),
                                  recursive=False)
                observer.start()
                self._observer = observer
            except OSError as error:
                if self._mode == 'events':
                    raise OSError(error.errno, f'cannot watch {self._directory} for events: '
                                  f'{error.strerror}; use watch_mode poll') from error
                _log.warning('file events unavailable for %s (%s); polling every %.2f s',
                             self._directory, error, self._poll_interval_s)
                use_events = False
        if self._mode in ('auto', 'poll') or not use_events:
            self._poller = threading.Thread(target=self._poll, name='volume-poll', daemon=True)
            self._poller.start()
        self.mode_in_use = ('events+poll' if self._observer and self._poller
                            else 'events' if self._observer else 'poll')

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5.0)
            self._observer = None
        if self._poller is not None:
            self._poller.join(timeout=5.0)
            self._poller = None

    def existing(self) -> Set[str]:
        """Names present when watching started."""
        return set(self._known)

    def _notify(self, path: Path, seen_at: float) -> None:
        if path.parent == self._directory and self._filter(path.name):
            self._on_frame(path, seen_at)

    def _scan_names(self) -> Set[str]:
        try:
            with os.scandir(self._directory) as entries:
                return {entry.name for entry in entries if self._filter(entry.name)}
        except OSError:
            return set()

    def _poll(self) -> None:
        last_mtime, last_scan = None, 0.0
        while not self._stop.wait(self._poll_interval_s):
            # Listing 10,000 names costs ~1.5 % of a core every second; an unchanged
            # directory mtime says nothing came or went. Timestamps are coarse (a kernel
            # tick), so a full scan still runs every _FULL_SCAN_S.
            try:
                mtime = os.stat(self._directory).st_mtime_ns
            except OSError:
                mtime = None
            now = time.monotonic()
            if mtime is not None and mtime == last_mtime and now - last_scan < _FULL_SCAN_S:
                continue
            last_mtime, last_scan = mtime, now
            names = self._scan_names()
            for name in sorted(names - self._known):
                self._on_frame(self._directory / name, time.time())
            self._known = names
