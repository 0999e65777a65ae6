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
Host capture's guard of its own volume: a new frame never takes the last free space.

Before the camera writes a frame and before it is committed, host capture asks
make_room(bytes). When the frame would leave less free space than the reserve
(reserve_mb or reserve_percent of the disk, whichever is smaller: a cap for big disks, a
share that still leaves a small one usable), the guard deletes our
own oldest frames, JPEG and metadata, processed/ first and then live/, never the newest
reserve_keep_frames in live/ and never a file whose name is not ours, until the frame
fits. When even that is not enough (the space is held by others), the frame is
discarded instead: a full SD card stops more than the camera.

An episode of low space is logged once when it starts and once when it ends, with the
figures; counters and the current state are in GuardStats for /diagnostics.
"""

from dataclasses import dataclass
import errno
import logging
import os
import stat
import time
from typing import Iterator, Optional, Tuple

from framebridge_ros.core.params import ParamSpec
from framebridge_ros.core.volume.layout import (
    FRAME_SUFFIX, is_frame_name, METADATA_SUFFIX, VolumeLayout)

__all__ = ['GUARD_PARAMS', 'GuardStats', 'SpaceGuard', 'is_out_of_space']

_log = logging.getLogger('framebridge.capture')

MIB = 1024 * 1024

GUARD_PARAMS = (
    ParamSpec('reserve_mb', 256.0, 'Free space (MiB) host capture leaves on the volume: '
              'a frame that would go below it (or below reserve_percent of the disk, '
              'whichever is smaller) first makes room by deleting our own oldest frames '
              '(processed/ first, then live/); 0 turns the guard off.',
              min_value=0.0, max_value=1.0e7),
    ParamSpec('reserve_percent', 5.0, 'Free space (percent of the disk) host capture '
              'leaves on the volume; see reserve_mb; 0 turns the guard off.',
              min_value=0.0, max_value=90.0),
    ParamSpec('reserve_keep_frames', 10, 'The newest frames in live/ that the space '
              'guard never deletes; with only these left, new frames are discarded.',
              min_value=1, max_value=1000000),
)


def is_out_of_space(error: BaseException) -> bool:
    """Tell whether error, or an error it was raised from, is ENOSPC (or EDQUOT)."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


@dataclass
class GuardStats:
    """What the guard did; read by the health report, written by the capture thread."""

    low_space: bool = False
    starved: bool = False  # only the frames we keep are left: frames are discarded
    episodes: int = 0
    frames_removed: int = 0
    bytes_freed: int = 0
    enospc_retries: int = 0
    frames_discarded: int = 0
    free_bytes: Optional[int] = None
    reserve_bytes: Optional[int] = None
    last_episode: str = ''


def _mib(value: Optional[int]) -> str:
    return '?' if value is None else f'{value / MIB:.1f} MiB'


class SpaceGuard:
    """Keeps free space on the volume above a reserve by deleting our oldest frames."""

    def __init__(self, layout: VolumeLayout, *, reserve_mb: float, reserve_percent: float,
                 keep_frames: int) -> None:
        self.layout = layout
        self.reserve_mb, self.reserve_percent = reserve_mb, reserve_percent
        self.keep_frames = keep_frames
        self.stats = GuardStats()
        self._episode_started = 0.0
        self._episode_removed = self._episode_freed = self._episode_discarded = 0

    @classmethod
    def from_params(cls, layout: VolumeLayout, params) -> 'SpaceGuard':
        return cls(layout, reserve_mb=params['reserve_mb'],
                   reserve_percent=params['reserve_percent'],
                   keep_frames=params['reserve_keep_frames'])

    @property
    def enabled(self) -> bool:
        return self.reserve_mb > 0 and self.reserve_percent > 0

    def measure(self) -> Optional[Tuple[int, int]]:
        """Return (free bytes an unprivileged writer may use, reserve bytes), None if unknown."""
        try:
            usage = os.statvfs(self.layout.root)
        except OSError:
            return None
        total = usage.f_blocks * usage.f_frsize
        reserve = min(int(self.reserve_mb * MIB), int(total * self.reserve_percent / 100.0))
        self.stats.free_bytes, self.stats.reserve_bytes = usage.f_bavail * usage.f_frsize, reserve
        return self.stats.free_bytes, reserve

    def make_room(self, needed_bytes: int) -> bool:
        """
        Make needed_bytes fit above the reserve; return False if only others' files are left.

        Frees a margin of a few frames beyond what is needed, so a steadily filling disk
        costs one deletion now and then, not one per frame.
        """
        measured = self.measure() if self.enabled else None
        if measured is None:
            return True  # no guard, or the disk cannot be measured: let the write decide
        free, reserve = measured
        margin = 4 * needed_bytes
        if free - needed_bytes >= reserve:
            # Leave only well above the level frees stop at, or each frame would flip it.
            if self.stats.low_space and free - needed_bytes >= reserve + 2 * margin:
                self._leave(free, reserve)
            elif self.stats.starved:
                self.stats.starved = False
            return True
        self._enter(free, reserve, needed_bytes)
        for path, size in self._victims():
            if not self._delete(path):
                continue
            self.stats.bytes_freed += size
            self._episode_freed += size
            if path.name.endswith(FRAME_SUFFIX):
                self.stats.frames_removed += 1
                self._episode_removed += 1
                measured = self.measure()
                free = free + size if measured is None else measured[0]
                if free - needed_bytes >= reserve + margin:
                    break
        if free - needed_bytes >= reserve:
            self.stats.starved = False
            return True
        if not self.stats.starved:
            self.stats.starved = True
            _log.error(
                'disk full and none of our frames left to delete but the newest %d: %s free '
                '< reserve %s on %s; new frames are discarded until space returns (the '
                'space is held by files that are not ours)', self.keep_frames, _mib(free),
                _mib(reserve), self.layout.root)
        return False

    def retry_after(self, error: BaseException, needed_bytes: int) -> bool:
        """After a write failed: True if it ran out of space and room was made for a retry."""
        if not (self.enabled and is_out_of_space(error)):
            return False
        self.stats.enospc_retries += 1
        measured = self.measure()
        if measured is not None:
            self._enter(measured[0], measured[1], needed_bytes, why='no space left')
        # The reserve was not enough (another writer took it meanwhile): make room for
        # twice this frame.
        return self.make_room(2 * needed_bytes)

    def discarded(self) -> None:
        """Count a frame discarded for lack of space (its episode's end line reports it)."""
        self.stats.frames_discarded += 1
        self._episode_discarded += 1

    def _enter(self, free: int, reserve: int, needed: int, why: str = 'low space') -> None:
        if self.stats.low_space:
            return
        self.stats.low_space = True
        self.stats.episodes += 1
        self._episode_started = time.monotonic()
        self._episode_removed = self._episode_freed = self._episode_discarded = 0
        _log.warning(
            '%s on %s: %s free, reserve %s, next frame about %s; deleting our oldest frames '
            '(processed/ first, then live/, keeping the newest %d) until frames fit', why,
            self.layout.root, _mib(free), _mib(reserve), _mib(needed), self.keep_frames)

    def _leave(self, free: int, reserve: int) -> None:
        self.stats.low_space = self.stats.starved = False
        text = (f'{_mib(free)} free again (reserve {_mib(reserve)}) after '
                f'{time.monotonic() - self._episode_started:.0f} s: deleted '
                f'{self._episode_removed} frame(s) of ours ({_mib(self._episode_freed)}), '
                f'discarded {self._episode_discarded} frame(s)')
        self.stats.last_episode = text
        _log.warning('space back on %s: %s', self.layout.root, text)

    def _victims(self) -> Iterator[Tuple[os.PathLike, int]]:
        """Our files to delete, oldest first: processed/, then live/ but the newest kept."""
        layout = self.layout
        for directory, keep in ((layout.processed, 0), (layout.live, self.keep_frames)):
            if not directory.is_dir() or not layout.contains(directory):
                continue
            names = sorted(name for name in os.listdir(directory) if is_frame_name(name))
            for name in names[:max(0, len(names) - keep)]:
                stem = name[:-len(FRAME_SUFFIX)]
                metadata = (directory if directory == layout.processed
                            else layout.metadata) / (stem + METADATA_SUFFIX)
                for path in (metadata, directory / name):
                    yield path, self._size(path)

    @staticmethod
    def _size(path) -> int:
        try:
            info = os.lstat(path)
        except OSError:
            return 0
        return info.st_size if stat.S_ISREG(info.st_mode) else 0

    def _delete(self, path) -> bool:
        try:
            info = os.lstat(path)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                return False
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as error:
            _log.debug('space guard could not delete %s: %s', path, error)
            return False
        return True
