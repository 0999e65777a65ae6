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

"""The host's space guard on a real small filesystem (a tmpfs mounted per test)."""

import logging
import time

from framebridge_ros.core.cameras.factory import make_backend
from framebridge_ros.core.capture import CaptureStats, HostCapture
from framebridge_ros.core.health import capture_health, Level
from framebridge_ros.core.volume.layout import list_frames_sorted, VolumeLayout
from framebridge_ros.core.volume.space_guard import SpaceGuard
from framebridge_testing import encode, test_image, write_frame
import pytest
from small_disk import free_bytes, grow_file, MIB, tmpfs

START = time.time() - 3600.0


@pytest.fixture
def disk(tmp_path):
    with tmpfs(tmp_path / 'disk', 16, skip=pytest.skip) as directory:
        layout = VolumeLayout.at(directory)
        layout.ensure()
        yield layout


def _capture_level(guard):
    """Return the capture's health level with this guard, frames landing on time."""
    now = time.time()
    stats = CaptureStats(last_capture_time=now - 0.5)
    return capture_health(stats, now=now, interval_s=1.0, started_at=now - 60.0,
                          source='simulated', space=guard.stats).level


def _frames(layout, count, *, first=0, where='live'):
    """Commit count real frames of about 100 kB, a second apart; move them if asked."""
    paths, jpeg = [], encode(test_image(1024, 768), quality=95)
    for index in range(first, first + count):
        path = write_frame(layout, jpeg=jpeg, capture_time=START + index,
                           sequence=index + 1)[0]
        if where == 'processed':
            layout.metadata_path_for(path).rename(layout.processed / (path.stem + '.json'))
            path = path.rename(layout.processed / path.name)
        paths.append(path)
    return paths


def _guard_lines(caplog):
    return [record for record in caplog.records if record.name == 'framebridge.capture'
            and record.levelno >= logging.WARNING]


def test_guard_deletes_our_oldest_frames_processed_first_and_logs_once(disk, caplog):
    archived = _frames(disk, 20, where='processed')
    live = _frames(disk, 30, first=20)
    foreign = disk.live / 'holiday.jpg'
    foreign.write_bytes(b'mine' * 1000)
    grow_file(disk.root / 'other.bin', leave_free_bytes=MIB)
    guard = SpaceGuard(disk, reserve_mb=2.0, reserve_percent=50.0, keep_frames=10)
    caplog.set_level(logging.INFO)

    for _ in range(3):  # the second and third ask find room: no more deletions or lines
        assert guard.make_room(100_000)
    assert free_bytes(disk.root) - 100_000 >= 2 * MIB
    remaining = sorted(p.name for p in disk.processed.glob('*.jpg'))
    assert remaining == [p.name for p in archived[len(archived) - len(remaining):]], \
        'processed/ must lose its oldest frames first'
    assert len(remaining) < len(archived)
    assert list_frames_sorted(disk) == live, 'live/ is untouched while processed/ has frames'
    assert foreign.read_bytes() == b'mine' * 1000
    assert guard.stats.low_space and guard.stats.episodes == 1
    assert guard.stats.frames_removed == len(archived) - len(remaining)
    assert len(_guard_lines(caplog)) == 1 and 'low space' in _guard_lines(caplog)[0].message
    assert _capture_level(guard) == Level.WARN  # on /diagnostics while it lasts

    (disk.root / 'other.bin').unlink()  # space comes back: one line to say so
    assert guard.make_room(100_000) and guard.make_room(100_000)
    assert not guard.stats.low_space and _capture_level(guard) == Level.OK
    assert len(_guard_lines(caplog)) == 2 and 'space back' in _guard_lines(caplog)[1].message
    assert guard.stats.last_episode.endswith('discarded 0 frame(s)')


def test_guard_keeps_the_newest_frames_and_says_once_when_only_others_hold_the_space(
        disk, caplog):
    live = _frames(disk, 15)
    other = disk.root / 'other.bin'
    size = grow_file(other, leave_free_bytes=MIB // 2)
    guard = SpaceGuard(disk, reserve_mb=4.0, reserve_percent=50.0, keep_frames=10)
    caplog.set_level(logging.INFO)
    for _ in range(5):
        assert not guard.make_room(100_000)
        guard.discarded()
    assert list_frames_sorted(disk) == live[-10:], 'the newest keep_frames survive'
    assert sorted(p.stem for p in disk.metadata.iterdir()) == [p.stem for p in live[-10:]]
    assert other.stat().st_size == size
    assert guard.stats.starved and guard.stats.frames_discarded == 5
    errors = [r for r in _guard_lines(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1 and 'held by files that are not ours' in errors[0].message
    assert len(_guard_lines(caplog)) == 2  # entering, and starved: not one per frame


def _capture(disk, **overrides):
    params = {'capture_dir': str(disk.root), 'source': 'simulated', 'width': 640,
              'height': 480, 'quality': 90, 'max_images': 100000, 'reserve_mb': 2.0,
              'reserve_percent': 50.0, 'reserve_keep_frames': 5, **overrides}
    return params


def test_host_capture_on_a_filling_disk_never_discards_a_frame(disk, caplog):
    """Host retention off (max_images 100000): the guard alone keeps frames landing."""
    capture = HostCapture(_capture(disk))
    capture.start()
    caplog.set_level(logging.INFO)
    lowest, landed = free_bytes(disk.root), 0
    try:
        while capture.stats.frames_captured < 400:  # some 35 MB into 16 MiB
            assert capture.capture_once() is not None, capture.stats.last_error
            landed += 1
            lowest = min(lowest, free_bytes(disk.root))
    finally:
        capture.close()
    print(f'\n400 frames of ~87 kB into 16 MiB: lowest free {lowest / MIB:.2f} MiB, '
          f'{capture.guard.stats.frames_removed} deleted by the guard')
    assert lowest >= 2 * MIB - 200_000, 'free space stays near the reserve'
    assert capture.stats.errors == 0 and capture.guard.stats.frames_discarded == 0
    assert capture.guard.stats.frames_removed > 100
    assert len(list_frames_sorted(disk)) >= 5
    assert len(_guard_lines(caplog)) == 1, [r.message for r in _guard_lines(caplog)]


class _ForeignWriterFirst:
    """The simulated camera, with another writer taking the disk just before one capture."""

    def __init__(self, params, victim_path, at_capture):
        self._backend = make_backend(params)
        self._victim, self._at, self._count = victim_path, at_capture, 0
        self.source = self._backend.source

    def capture(self, destination):
        self._count += 1
        if self._count == self._at:
            grow_file(self._victim, leave_free_bytes=0)
        return self._backend.capture(destination)

    def close(self):
        self._backend.close()


def test_a_write_that_runs_out_of_space_is_retried_once_after_making_room(disk):
    other = disk.root / 'other.bin'
    backend = {}

    def factory(params):
        backend['it'] = _ForeignWriterFirst(params, other, at_capture=40)
        return backend['it']

    capture = HostCapture(_capture(disk), backend_factory=factory)
    capture.start()
    try:
        frames = [capture.capture_once() for _ in range(45)]
    finally:
        capture.close()
    assert all(frame is not None for frame in frames), capture.stats.last_error
    stats = capture.guard.stats
    assert stats.enospc_retries == 1 and stats.frames_discarded == 0
    assert capture.stats.errors == 0 and capture.stats.backend_restarts == 0
    assert other.stat().st_size > 10 * MIB, 'the foreign file is never touched'
    assert list_frames_sorted(disk)[-1] == frames[-1]
