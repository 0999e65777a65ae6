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
The shared volume: its layout, frame names and the atomic hand-off.

Layout under capture_dir::

    live/<UTC timestamp>_<seq>.jpg     committed frames, newest last by name
    metadata/<same stem>.json          one metadata file per frame
    processed/                         frames retired by retention
    .tmp/                              writes in progress (same filesystem as live/)

A frame appears in live/ only by rename() from .tmp/ after fsync, and its metadata
is renamed into metadata/ first: the JPEG is the commit marker, so a reader that sees
a JPEG in live/ sees a complete file whose metadata is already in place.
"""

from dataclasses import dataclass
import datetime
import errno
import os
from pathlib import Path
import re
import tempfile
from typing import Iterator, List, Optional

__all__ = [
    'FRAME_SUFFIX', 'FUTURE_TOLERANCE_S', 'METADATA_SUFFIX', 'VolumeError', 'VolumeLayout',
    'commit_frame', 'explain', 'frame_stem', 'is_frame_name', 'iter_frames',
    'list_frames_sorted', 'newest_frame', 'stem_capture_time', 'write_file_synced',
]

FRAME_SUFFIX = '.jpg'
# A clock jump on the host can date frames in the future; a little skew is normal
# between host and container clocks, more means the clock is wrong.
FUTURE_TOLERANCE_S = 2.0
METADATA_SUFFIX = '.json'
_STEM_TIME_FORMAT = '%Y%m%dT%H%M%S.%fZ'
# 20261126T003625.123456Z_000042.jpg: sorts by capture time, then by sequence number.
_FRAME_NAME = re.compile(r'^(\d{8}T\d{6}\.\d{6}Z)_(\d{6,})\.jpg$')


class VolumeError(OSError):
    """The volume cannot be used; the message says what to do about it."""


_ADVICE = {
    errno.ENOSPC: 'disk full: retention or the supervisor cleanup must free space',
    errno.EROFS: 'the volume is mounted read-only: mount it read-write on the host side',
    errno.EACCES: 'permission denied: the volume must belong to the capturing user',
}


def explain(error: OSError) -> str:
    """Describe an OSError with what the user can do about it, where we know."""
    advice = _ADVICE.get(error.errno)
    text = error.strerror or str(error)
    return f'{text} ({advice})' if advice else text


@dataclass(frozen=True)
class VolumeLayout:
    """Paths of one shared volume rooted at capture_dir."""

    root: Path

    @classmethod
    def at(cls, capture_dir: 'os.PathLike[str] | str') -> 'VolumeLayout':
        return cls(Path(capture_dir).expanduser().absolute())

    @property
    def live(self) -> Path:
        return self.root / 'live'

    @property
    def metadata(self) -> Path:
        return self.root / 'metadata'

    @property
    def processed(self) -> Path:
        return self.root / 'processed'

    @property
    def tmp(self) -> Path:
        return self.root / '.tmp'

    def ensure(self, *, writable: bool = True) -> None:
        """
        Create the directories, or raise VolumeError saying why they cannot be.

        A reader passes writable=False: a read-only mount is fine as long as live/
        and metadata/ exist.
        """
        for directory in (self.live, self.metadata, self.processed, self.tmp):
            if not writable and directory.is_dir():
                continue
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise VolumeError(
                    error.errno,
                    f'cannot create {directory}: {error.strerror}; create it by hand or '
                    'point capture_dir at a writable directory') from error
        if writable and not os.access(self.live, os.W_OK | os.X_OK):
            code = errno.EROFS if os.statvfs(self.live).f_flag & os.ST_RDONLY \
                else errno.EACCES
            raise VolumeError(code, f'{self.live} is not writable: '
                              f'{explain(OSError(code, os.strerror(code)))}')

    def metadata_path_for(self, frame: Path) -> Path:
        return self.metadata / (frame.stem + METADATA_SUFFIX)

    def contains(self, path: Path) -> bool:
        """Tell whether path, with every symlink resolved, lies inside the volume."""
        try:
            resolved = path.resolve(strict=False)
        except (OSError, RuntimeError):
            return False
        return resolved.is_relative_to(self.root.resolve(strict=False))


def frame_stem(*, capture_time: float, sequence: int) -> str:
    """File stem of a frame: UTC capture time to the microsecond, then the sequence."""
    moment = datetime.datetime.fromtimestamp(capture_time, tz=datetime.timezone.utc)
    return f'{moment.strftime(_STEM_TIME_FORMAT)}_{sequence:06d}'


def is_frame_name(name: str) -> bool:
    """Tell whether name is one our writers give frames; anything else is foreign."""
    return _FRAME_NAME.match(name) is not None


def stem_capture_time(name: str) -> Optional[float]:
    """Capture time encoded in a frame's name, or None if the name is not ours."""
    match = _FRAME_NAME.match(name) or _FRAME_NAME.match(name + FRAME_SUFFIX)
    if match is None:
        return None
    moment = datetime.datetime.strptime(match.group(1), _STEM_TIME_FORMAT)
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


def iter_frames(layout: VolumeLayout) -> Iterator[os.DirEntry]:
    """Our frame files in live/, in no particular order (scandir: no stat per file)."""
    try:
        with os.scandir(layout.live) as entries:
            for entry in entries:
                if is_frame_name(entry.name):
                    yield entry
    except FileNotFoundError:
        return


def newest_frame(layout: VolumeLayout) -> Optional[Path]:
    """Return the newest frame in live/ by name (names sort by capture time), or None."""
    newest = max((entry.name for entry in iter_frames(layout)), default=None)
    return None if newest is None else layout.live / newest


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_synced(path: Path, data: bytes) -> None:
    """Write data to path and fsync it; remove the partial file if the write fails."""
    try:
        with open(path, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError:
        path.unlink(missing_ok=True)
        raise


def commit_frame(layout: VolumeLayout, *, stem: str, jpeg_tmp: Path,
                 metadata_json: bytes) -> Path:
    """
    Hand a finished JPEG in .tmp/ over to readers, with its metadata; return its path.

    The JPEG is fsynced where it lies, the metadata written and fsynced in .tmp/, then
    the metadata is renamed into metadata/ and the JPEG into live/ last. On any error
    both temporary files are removed and a VolumeError says what happened (ENOSPC: the
    disk is full), so nothing half-written is ever left where readers look.
    """
    frame_path = layout.live / (stem + FRAME_SUFFIX)
    metadata_path = layout.metadata / (stem + METADATA_SUFFIX)
    metadata_tmp = None
    try:
        fd = os.open(jpeg_tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        handle, name = tempfile.mkstemp(dir=layout.tmp, prefix=stem, suffix='.json.part')
        os.close(handle)
        metadata_tmp = Path(name)
        write_file_synced(metadata_tmp, metadata_json)
        os.replace(metadata_tmp, metadata_path)
        metadata_tmp = None
        os.replace(jpeg_tmp, frame_path)
        _fsync_directory(layout.metadata)
        _fsync_directory(layout.live)
    except OSError as error:
        jpeg_tmp.unlink(missing_ok=True)
        if metadata_tmp is not None:
            metadata_tmp.unlink(missing_ok=True)
        if not frame_path.exists():
            metadata_path.unlink(missing_ok=True)
        raise VolumeError(error.errno,
                          f'could not commit frame {stem}: {explain(error)}') from error
    return frame_path


def list_frames_sorted(layout: VolumeLayout) -> List[Path]:
    """All our frames in live/, oldest first."""
    return [layout.live / name for name in sorted(e.name for e in iter_frames(layout))]
