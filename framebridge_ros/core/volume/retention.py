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
Retention of frames in the shared volume: the host's archive step and the supervisor's policy.

Only files whose names are ours are ever touched, only inside the volume, and symlinks
are removed as links, never followed. Who keeps what (the one table, checked by a test
against the parameters and config/framebridge.yaml): docs/SUPERVISOR.md, "Retention".

Host capture (HostArchive, every frame): at most max_images frames stay in live/; the
oldest beyond that move (a rename, never a copy) to processed/ with their metadata, and
processed/ is kept within processed_max_mb and processed_max_images by deleting its
oldest frames. So nothing the container may not have seen yet is deleted from live/.

The supervisor's policy (all parameters, see RETENTION_PARAMS):

- live/: a frame older than archive_after_s (4 h, by the capture time in its name) moves
  to processed/ together with its metadata (processed/<stem>.jpg beside
  processed/<stem>.json). More than max_live_images (1000) frames in live/ triggers a
  cleanup at once, and the oldest beyond that number move to processed/ as if aged.
  These are the backstop for a host whose max_images is raised (or another writer).
- processed/: frames and metadata older than processed_max_age_s (24 h) are deleted,
  and the oldest beyond processed_max_mb / processed_max_images.
- emergency, free disk below emergency_free_percent (10 %): processed/ is emptied (of our
  files) first, then the emergency_keep_live (50) newest frames stay in live/ and every
  older one is deleted with its metadata. An emergency never moves a frame into
  processed/: that would free nothing on the same disk. A run that frees nothing names
  the largest entries that are not ours (space_holders).
- leftovers of interrupted hand-offs (remove_orphans) are deleted too.

Problems that stop a rule from working (free space that cannot be measured, a missing
processed/) are reported in RetentionResult.problems, one sentence each saying what
is done about it, for the caller to log once per episode and show on /diagnostics.

Whatever the rule, a frame younger than min_age_s (the graph's max_frame_age_s, by its
name or its mtime, whichever is younger) is never moved or deleted, foreign files and
directories are never touched, and a directory that resolves outside capture_dir is
refused. dry_run reports the same result without changing anything.
"""

from collections import deque
from dataclasses import asdict, dataclass, field
import logging
import os
from pathlib import Path
import shutil
import stat
import time
from typing import Deque, Dict, Iterator, List, Mapping, Optional, Tuple

from framebridge_ros.core.params import ParamSpec
from framebridge_ros.core.volume.layout import (
    FRAME_SUFFIX, is_frame_name, iter_frames, list_frames_sorted, METADATA_SUFFIX,
    stem_capture_time, VolumeLayout)

__all__ = [
    'ARCHIVE_PARAMS', 'HostArchive', 'RETENTION_PARAMS', 'RetentionPolicy', 'RetentionResult',
    'cleanup_due', 'disk_free_percent', 'measure_free_percent', 'remove_frame',
    'remove_orphans', 'run_retention', 'space_holders', 'trim_live',
]

_log = logging.getLogger('framebridge.retention')

MB = 1e6

# Shared by host capture and the supervisor: both keep processed/ within these bounds.
ARCHIVE_PARAMS = (
    ParamSpec('processed_max_mb', 4096.0,
              'processed/ holds at most this many MB of frames and metadata; the oldest '
              'beyond it are deleted (0: frames leaving live/ are deleted, not archived).',
              min_value=0.0, max_value=1.0e9),
    ParamSpec('processed_max_images', 86400,
              'processed/ holds at most this many frames (86400: a day at 1 fps); the '
              'oldest beyond it are deleted (0: nothing is archived).',
              min_value=0, max_value=100000000),
)

RETENTION_PARAMS = (
    ParamSpec('archive_after_s', 4 * 3600.0,
              'Frames in live/ older than this (capture time) move to processed/ with '
              'their metadata.', min_value=1.0, max_value=365 * 86400.0),
    ParamSpec('max_live_images', 1000,
              'More frames than this in live/ triggers a cleanup at once; the oldest '
              'beyond it move to processed/.', min_value=1, max_value=10000000),
    ParamSpec('processed_max_age_s', 24 * 3600.0,
              'Frames in processed/ older than this (capture time) are deleted.',
              min_value=1.0, max_value=3650 * 86400.0),
    *ARCHIVE_PARAMS,
    ParamSpec('emergency_free_percent', 10.0,
              'Below this free disk space (percent) cleanup is an emergency: processed/ '
              'is emptied, then only the emergency_keep_live newest frames stay in live/; '
              'it runs again as soon as due while each run frees space.',
              min_value=0.0, max_value=100.0),
    ParamSpec('emergency_keep_live', 50, 'Frames kept in live/ by an emergency cleanup.',
              min_value=0, max_value=10000000),
    ParamSpec('dry_run', False, 'Cleanup reports what it would move and delete and '
              'changes nothing.'),
)


@dataclass(frozen=True)
class RetentionPolicy:
    """The cleanup rules; see the module docstring. Defaults are the seed's numbers."""

    archive_after_s: float = 4 * 3600.0
    max_live_images: int = 1000
    processed_max_age_s: float = 24 * 3600.0
    processed_max_mb: float = 4096.0
    processed_max_images: int = 86400
    emergency_free_percent: float = 10.0
    emergency_keep_live: int = 50
    dry_run: bool = False
    min_age_s: float = 5.0
    orphan_age_s: float = 60.0

    @classmethod
    def from_params(cls, params: Mapping, *, min_age_s: float) -> 'RetentionPolicy':
        """Build a policy from checked RETENTION_PARAMS values."""
        return cls(**{spec.name: params[spec.name] for spec in RETENTION_PARAMS},
                   min_age_s=min_age_s)


@dataclass
class RetentionResult:
    """What one cleanup moved and removed (or, in a dry run, would have)."""

    dry_run: bool = False
    emergency: bool = False
    moved: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_young: int = 0
    errors: List[str] = field(default_factory=list)
    free_percent_before: Optional[float] = None
    free_percent_after: Optional[float] = None
    emergency_below_percent: Optional[float] = None
    # What stopped a rule from working: key -> what happened and what is done about it.
    problems: Dict[str, str] = field(default_factory=dict)
    # A run that had to free space and freed nothing: the largest entries not ours.
    holders: List[Tuple[str, int]] = field(default_factory=list)

    @property
    def freed_nothing(self) -> bool:
        return not self.dry_run and not self.bytes_freed and not self.moved

    def summary(self) -> str:
        """Return one line for people: what happened, bytes freed, problems."""
        moved, removed = ('would move', 'would remove') if self.dry_run else ('moved', 'removed')
        text = (f'{moved} {len(self.moved)} frame(s) to processed/, {removed} '
                f'{len(self.removed)} file(s), {self.bytes_freed / 1e6:.2f} MB')
        if self.emergency:
            text = (f'EMERGENCY (free disk {_percent(self.free_percent_before)} < '
                    f'{_percent(self.emergency_below_percent)}): {text}')
        if self.dry_run:
            text = f'dry run: {text}'
        if self.kept_young:
            text += f', kept {self.kept_young} frame(s) younger than the freshness limit'
        if self.errors:
            text += f'; {len(self.errors)} error(s): {self.errors[0]}'
        return text

    def as_dict(self) -> dict:
        return asdict(self)


def _percent(value: Optional[float]) -> str:
    return '?' if value is None else f'{value:.3g} %'


def measure_free_percent(path: 'os.PathLike[str] | str') -> Tuple[Optional[float], str]:
    """Return (free space in percent, ''), or (None, why it cannot be measured)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError as error:
        return None, f'{error.strerror or error} ({path})'
    if not usage.total:
        return None, f'the file system of {path} reports a size of 0'
    return 100.0 * usage.free / usage.total, ''


def disk_free_percent(path: 'os.PathLike[str] | str') -> Optional[float]:
    """Free space (what an unprivileged user may still write) in percent, None if unknown."""
    return measure_free_percent(path)[0]


def cleanup_due(*, live_count: int, free_percent: Optional[float],
                policy: RetentionPolicy) -> Optional[str]:
    """Say why a cleanup must run now rather than at its period, or None."""
    if free_percent is not None and free_percent < policy.emergency_free_percent:
        return (f'free disk {free_percent:.1f} % < {policy.emergency_free_percent:g} %: '
                'emergency cleanup')
    if live_count > policy.max_live_images:
        return f'{live_count} frames in live/ > {policy.max_live_images}'
    return None


def remove_frame(layout: VolumeLayout, name: str) -> None:
    """Delete a frame in live/ and its metadata; a file already gone is not an error."""
    (layout.live / name).unlink(missing_ok=True)
    (layout.metadata / (name[:-len(FRAME_SUFFIX)] + METADATA_SUFFIX)).unlink(missing_ok=True)


def trim_live(layout: VolumeLayout, *, max_images: int) -> List[str]:
    """Delete the oldest frames so at most max_images stay in live/; return their names."""
    if not layout.contains(layout.live):
        _log.error('%s resolves outside %s: nothing deleted there', layout.live, layout.root)
        return []
    frames = list_frames_sorted(layout)
    excess = frames[:max(0, len(frames) - max_images)]
    for frame in excess:
        remove_frame(layout, frame.name)
    if excess:
        _log.debug('retention removed %d frame(s), oldest %s', len(excess), excess[0].name)
    return [frame.name for frame in excess]


class HostArchive:
    """
    Host capture's retention: live/ kept at max_images, the oldest moved to processed/.

    processed/ is kept within processed_max_mb / processed_max_images by deleting its
    oldest frames. What processed/ holds is tallied in memory (a rename costs no scan)
    and recounted every rescan_s, since the supervisor deletes there too.
    """

    def __init__(self, layout: VolumeLayout, *, max_images: int, processed_max_mb: float,
                 processed_max_images: int, rescan_s: float = 600.0) -> None:
        self.layout, self.max_images = layout, max_images
        self.max_bytes, self.max_frames = processed_max_mb * MB, processed_max_images
        self.rescan_s = rescan_s
        self.moved = self.removed = 0
        self._tally: Deque[Tuple[str, int]] = deque()  # (frame name, bytes), oldest first
        self._tally_bytes = 0
        self._counted_at: Optional[float] = None

    @classmethod
    def from_params(cls, layout: VolumeLayout, params: Mapping) -> 'HostArchive':
        return cls(layout, max_images=params['max_images'],
                   processed_max_mb=params['processed_max_mb'],
                   processed_max_images=params['processed_max_images'])

    @property
    def archiving(self) -> bool:
        return self.max_bytes > 0 and self.max_frames > 0

    def trim(self) -> None:
        """Move the frames beyond max_images to processed/ (or delete them: no archive)."""
        layout = self.layout
        if not layout.contains(layout.live):
            _log.error('%s resolves outside %s: nothing moved there', layout.live, layout.root)
            return
        names = sorted(entry.name for entry in iter_frames(layout))  # no Path per frame
        excess = names[:max(0, len(names) - self.max_images)]
        if not excess:
            return
        if not (self.archiving and layout.processed.is_dir()
                and layout.contains(layout.processed)):
            for name in excess:
                remove_frame(layout, name)
            self.removed += len(excess)
            return
        self._recount_if_due()
        for name in excess:
            size = _move_to_processed(layout, name)
            if size is not None:
                self._tally.append((name, size))
                self._tally_bytes += size
                self.moved += 1
        while self._tally and (len(self._tally) > self.max_frames
                               or self._tally_bytes > self.max_bytes):
            name, size = self._tally.popleft()
            self._tally_bytes -= size
            _remove_processed(layout, name)
            self.removed += 1

    def _recount_if_due(self) -> None:
        now = time.monotonic()
        if self._counted_at is not None and now - self._counted_at < self.rescan_s:
            return
        self._counted_at = now
        sizes: Dict[str, int] = {}
        for name in os.listdir(self.layout.processed):
            if _is_our_name(name):
                stem = name.rsplit('.', 1)[0]
                try:
                    sizes[stem] = sizes.get(stem, 0) + os.lstat(
                        self.layout.processed / name).st_size
                except FileNotFoundError:
                    continue
        self._tally = deque((stem + FRAME_SUFFIX, size) for stem, size in sorted(sizes.items()))
        self._tally_bytes = sum(sizes.values())


def _move_to_processed(layout: VolumeLayout, name: str) -> Optional[int]:
    """Rename a frame and its metadata from live/ to processed/; return their bytes."""
    stem = name[:-len(FRAME_SUFFIX)]
    metadata = layout.metadata / (stem + METADATA_SUFFIX)
    size = 0
    try:
        if os.path.lexists(metadata):
            size += os.lstat(metadata).st_size
            os.rename(metadata, layout.processed / (stem + METADATA_SUFFIX))
        size += os.lstat(layout.live / name).st_size
        os.rename(layout.live / name, layout.processed / name)
    except FileNotFoundError:
        return None
    except OSError as error:
        _log.warning('could not move %s to processed/: %s; deleted instead', name, error)
        remove_frame(layout, name)
        return None
    return size


def _remove_processed(layout: VolumeLayout, name: str) -> None:
    (layout.processed / name).unlink(missing_ok=True)
    (layout.processed / (name[:-len(FRAME_SUFFIX)] + METADATA_SUFFIX)).unlink(missing_ok=True)


def space_holders(layout: VolumeLayout, *, limit: int = 3) -> List[Tuple[str, int]]:
    """
    Return the largest entries of the disk that are not our frames, biggest first.

    Files in the volume that are not ours by path (relative to capture_dir; sizes are
    what they occupy, so a sparse file counts what it really uses), and, as
    'outside capture_dir', what the rest of the file system uses.
    """
    found: List[Tuple[str, int]] = []
    ours = 0
    for directory, subdirectories, names in os.walk(layout.root):
        subdirectories[:] = [d for d in subdirectories
                             if not os.path.islink(os.path.join(directory, d))]
        for name in names:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            used = info.st_blocks * 512 if stat.S_ISREG(info.st_mode) else 0
            if _is_our_name(name) or os.path.dirname(path) == str(layout.tmp):
                ours += used  # .tmp/ holds our writes in progress
            elif used:
                found.append((os.path.relpath(path, layout.root), used))
    found.sort(key=lambda entry: -entry[1])
    try:
        usage = shutil.disk_usage(layout.root)
    except OSError:
        return found[:limit]
    outside = usage.total - usage.free - ours - sum(size for _, size in found)
    if outside > 0:
        found.append(('outside capture_dir', outside))
        found.sort(key=lambda entry: -entry[1])
    return found[:limit]


def _orphans(layout: VolumeLayout, cutoff: float) -> Iterator[os.DirEntry]:
    """Yield metadata without its frame and .tmp/ leftovers last modified before cutoff."""
    live_stems = {name[:-len(FRAME_SUFFIX)] for name in os.listdir(layout.live)
                  if is_frame_name(name)} if layout.live.is_dir() else set()
    for directory, is_orphan in (
            (layout.metadata, lambda name: name.endswith(METADATA_SUFFIX)
             and is_frame_name(name[:-len(METADATA_SUFFIX)] + FRAME_SUFFIX)
             and name[:-len(METADATA_SUFFIX)] not in live_stems),
            (layout.tmp, lambda name: True)):
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                if (entry.is_file(follow_symlinks=False) and is_orphan(entry.name)
                        and entry.stat(follow_symlinks=False).st_mtime < cutoff):
                    yield entry
            except FileNotFoundError:
                continue


def remove_orphans(layout: VolumeLayout, *, older_than_s: float = 60.0) -> List[str]:
    """
    Delete leftovers of interrupted hand-offs, older than older_than_s.

    Metadata whose frame is gone (the frame is committed last, so fresh metadata may
    legitimately wait for its frame) and partial files in .tmp/.
    """
    removed = []
    for entry in list(_orphans(layout, time.time() - older_than_s)):
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(entry.name)
    return removed


# --- the supervisor's policy --------------------------------------------------------

def _is_our_name(name: str) -> bool:
    """Tell whether name is a frame of ours or the metadata of one."""
    if name.endswith(METADATA_SUFFIX):
        return is_frame_name(name[:-len(METADATA_SUFFIX)] + FRAME_SUFFIX)
    return is_frame_name(name)


class _Cleaner:
    """One cleanup run: safe file operations that record what they did into a result."""

    def __init__(self, layout: VolumeLayout, policy: RetentionPolicy, now: float,
                 result: RetentionResult) -> None:
        self.layout, self.policy, self.now, self.result = layout, policy, now, result
        self.metadata_ok = self.inside(layout.metadata)

    def inside(self, directory: Path) -> bool:
        """Refuse (and report) a directory that resolves outside capture_dir."""
        if os.path.lexists(directory) and not self.layout.contains(directory):
            self.result.errors.append(
                f'{directory} resolves outside {self.layout.root}: left alone')
            return False
        return True

    def usable(self, directory: Path) -> bool:
        return directory.is_dir() and self.inside(directory)

    def entries(self, directory: Path) -> List[Tuple[str, os.stat_result]]:
        """Our files and symlinks in directory, oldest name first, with their lstat."""
        found = []
        try:
            names = sorted(name for name in os.listdir(directory) if _is_our_name(name))
        except FileNotFoundError:
            return found
        for name in names:
            try:
                info = os.lstat(directory / name)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                found.append((name, info))
        return found

    def young(self, name: str, info: os.stat_result) -> bool:
        """Tell whether a frame is too fresh to touch, by its name or its mtime."""
        captured = stem_capture_time(name.replace(METADATA_SUFFIX, FRAME_SUFFIX))
        newest = max(info.st_mtime, captured if captured is not None else info.st_mtime)
        return self.now - newest < self.policy.min_age_s

    def age(self, name: str, info: os.stat_result) -> float:
        captured = stem_capture_time(name.replace(METADATA_SUFFIX, FRAME_SUFFIX))
        return self.now - (captured if captured is not None else info.st_mtime)

    def unlink(self, path: Path, info: Optional[os.stat_result] = None) -> None:
        """Remove a file or symlink (the link itself, never its target)."""
        try:
            info = info or os.lstat(path)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                return
            if not self.policy.dry_run:
                os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as error:
            self.result.errors.append(f'cannot remove {path}: {error.strerror}')
            return
        self.result.removed.append(str(path.relative_to(self.layout.root)))
        if stat.S_ISREG(info.st_mode):
            self.result.bytes_freed += info.st_size

    def delete_frame(self, name: str, info: os.stat_result) -> None:
        self.unlink(self.layout.live / name, info)
        metadata = self.layout.metadata / (name[:-len(FRAME_SUFFIX)] + METADATA_SUFFIX)
        if self.metadata_ok and os.path.lexists(metadata):
            self.unlink(metadata)

    def archive_frame(self, name: str) -> None:
        """Move a frame and its metadata from live/ to processed/ (a rename: same disk)."""
        layout, stem = self.layout, name[:-len(FRAME_SUFFIX)]
        target = layout.processed / name
        if os.path.lexists(target):
            self.result.errors.append(f'processed/{name} exists already: left in live/')
            return
        try:
            if not self.policy.dry_run:
                metadata = layout.metadata / (stem + METADATA_SUFFIX)
                if self.metadata_ok and os.path.lexists(metadata):
                    os.rename(metadata, layout.processed / (stem + METADATA_SUFFIX))
                os.rename(layout.live / name, target)
        except FileNotFoundError:
            return
        except OSError as error:
            self.result.errors.append(f'cannot move {name} to processed/: {error.strerror}')
            return
        self.result.moved.append(name)


def run_retention(layout: VolumeLayout, policy: RetentionPolicy, *,
                  now: Optional[float] = None,
                  free_percent: Optional[float] = None) -> RetentionResult:
    """
    Apply the policy to the volume once and return what was done.

    free_percent overrides the measured free disk space (shutil.disk_usage); now
    overrides the clock. Never raises for a file problem: those land in result.errors,
    and what keeps a rule from working in result.problems.
    """
    now = time.time() if now is None else now
    measured, why = ((free_percent, '') if free_percent is not None
                     else measure_free_percent(layout.root))
    result = RetentionResult(dry_run=policy.dry_run, free_percent_before=measured,
                             emergency_below_percent=policy.emergency_free_percent)
    if measured is None:
        result.problems['free_space_unknown'] = (
            f'free disk space cannot be measured: {why}; emergency cleanup cannot start '
            'until it can, the age and count rules still run')
    result.emergency = measured is not None and measured < policy.emergency_free_percent
    cleaner = _Cleaner(layout, policy, now, result)
    processed_ok = _processed_usable(cleaner, result)

    if result.emergency and processed_ok:  # processed/ first: it holds the oldest frames
        _purge_processed(cleaner, everything=True)
    if cleaner.usable(layout.live):
        _retire_live(cleaner, processed_ok)
    if processed_ok and not result.emergency:
        _purge_processed(cleaner, everything=False)

    if cleaner.metadata_ok and cleaner.inside(layout.tmp):
        for entry in list(_orphans(layout, now - policy.orphan_age_s)):
            cleaner.unlink(Path(entry.path))

    result.free_percent_after = (measured if policy.dry_run or free_percent is not None
                                 else disk_free_percent(layout.root))
    if result.emergency and result.freed_nothing:
        kept = sum(info.st_size for name, info in cleaner.entries(layout.live))
        result.holders = sorted(
            space_holders(layout) + [(f'live/ (the newest {policy.emergency_keep_live} '
                                      'frames, kept by emergency_keep_live)', kept)],
            key=lambda entry: -entry[1])[:3]
    _log.debug('cleanup: %s', result.summary())
    return result


def _processed_usable(cleaner: '_Cleaner', result: RetentionResult) -> bool:
    """Tell whether processed/ can be used; recreate it if it is missing."""
    processed = cleaner.layout.processed
    if cleaner.usable(processed):
        return True
    if os.path.lexists(processed) and not processed.is_dir():
        result.problems['processed_missing'] = (
            f'{processed} is not a directory: aged frames stay in live/ and processed/ '
            'is not purged until it is one')
        return False
    if not cleaner.inside(processed):
        return False
    if cleaner.policy.dry_run:
        result.problems['processed_missing'] = (
            f'{processed} is missing (a real run creates it again)')
        return False
    try:
        processed.mkdir(exist_ok=True)
    except OSError as error:
        result.problems['processed_missing'] = (
            f'{processed} is missing and cannot be created ({error.strerror}): aged '
            'frames stay in live/ until it exists')
        return False
    result.problems['processed_missing'] = f'{processed} was missing: created it again'
    return True


def _retire_live(cleaner: '_Cleaner', processed_ok: bool) -> None:
    """Delete (emergency) or archive the live/ frames the policy retires."""
    policy, result = cleaner.policy, cleaner.result
    live = [(name, info) for name, info in cleaner.entries(cleaner.layout.live)
            if name.endswith(FRAME_SUFFIX)]
    if result.emergency:
        doomed = live[:max(0, len(live) - policy.emergency_keep_live)]
    else:
        overflow = max(0, len(live) - policy.max_live_images)
        doomed = [(name, info) for index, (name, info) in enumerate(live)
                  if index < overflow or cleaner.age(name, info) > policy.archive_after_s]
    left = 0
    for name, info in doomed:
        if cleaner.young(name, info):
            result.kept_young += 1
        elif result.emergency:
            cleaner.delete_frame(name, info)
        elif processed_ok:
            cleaner.archive_frame(name)
        else:
            left += 1
    if left:
        problem = result.problems.get('processed_missing', 'processed/ cannot be used')
        result.problems['processed_missing'] = f'{problem}; {left} frame(s) left in live/'


def _purge_processed(cleaner: '_Cleaner', *, everything: bool) -> None:
    """Delete what processed/ may not keep: all of it, or the expired and over the bounds."""
    policy, processed = cleaner.policy, cleaner.layout.processed
    entries = cleaner.entries(processed)
    frames: Dict[str, int] = {}
    for name, info in entries:
        stem = name.rsplit('.', 1)[0]
        frames[stem] = frames.get(stem, 0) + info.st_size
    count, total = len(frames), sum(frames.values())
    doomed = set()
    for stem, size in sorted(frames.items()):  # oldest first: over the bounds
        if count <= policy.processed_max_images and total <= policy.processed_max_mb * MB:
            break
        doomed.add(stem)
        count, total = count - 1, total - size
    for name, info in entries:
        expired = (everything or name.rsplit('.', 1)[0] in doomed
                   or cleaner.age(name, info) > policy.processed_max_age_s)
        if expired and not cleaner.young(name, info):
            cleaner.unlink(processed / name, info)
