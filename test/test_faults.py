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
Faults injected for real: a full disk, a read-only volume, a vanished live/, junk files.

The full and read-only volumes are small tmpfs mounts (root only; elsewhere these tests
are skipped and say why).
"""

import contextlib
import os
from pathlib import Path
import shutil
import subprocess
import time

from framebridge_ros.core.capture import HostCapture
from framebridge_ros.core.volume.feed import FrameFeed
from framebridge_ros.core.volume.jpeg import inspect_jpeg
from framebridge_ros.core.volume.layout import list_frames_sorted, VolumeError, VolumeLayout
from framebridge_ros.core.volume.reader import VolumeReader
from framebridge_testing import wait_for, write_frame
import pytest


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str):
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs',
                             str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs here ({result.stderr.strip()}); '
                    'needs root, as CI has')
    try:
        yield path
    finally:
        subprocess.run(['umount', '-l', str(path)], check=False)


def test_full_disk_loses_nothing_and_capture_resumes_when_space_returns(tmp_path):
    with tmpfs(tmp_path / 'small', size='400k') as root:
        capture = HostCapture({'capture_dir': str(root), 'source': 'simulated',
                               'width': 320, 'height': 240, 'quality': 95,
                               'max_images': 1000, 'max_consecutive_errors': 1000,
                               'reserve_mb': 0.0})  # the space guard off: bare ENOSPC
        capture.start()
        for _ in range(60):
            if capture.capture_once() is None:
                break
        assert 'No space left on device' in capture.stats.last_error
        assert 'disk full' in capture.stats.last_error
        frames = list_frames_sorted(capture.layout)
        for frame in frames:  # everything that landed is complete, with its metadata
            inspect_jpeg(frame.read_bytes())
            assert capture.layout.metadata_path_for(frame).exists()
        assert os.listdir(capture.layout.tmp) == []
        assert len(os.listdir(capture.layout.metadata)) == len(frames)
        for frame in frames[:len(frames) // 2]:
            frame.unlink()
        assert capture.capture_once() is not None, capture.stats.last_error
        capture.close()


def test_read_only_volume(tmp_path):
    with tmpfs(tmp_path / 'ro', size='4m') as root:
        layout = VolumeLayout.at(root)
        layout.ensure()
        write_frame(layout)
        subprocess.run(['mount', '-o', 'remount,ro', str(root)], check=True)
        # The container side reads a read-only mount without complaint.
        layout.ensure(writable=False)
        assert VolumeReader(str(root)).get_latest_image()[0]
        # The host side refuses to start and says why.
        capture = HostCapture({'capture_dir': str(root), 'source': 'simulated',
                               'width': 320, 'height': 240})
        with pytest.raises(VolumeError, match='mounted read-only'):
            capture.start()


def test_deleted_and_recreated_live_directory_is_watched_again(volume):
    delivered = []
    feed = FrameFeed(volume, on_frame=lambda frame: delivered.append(frame.name),
                     max_age_s=30, watch_mode='auto', poll_interval_s=0.05)
    feed.start()
    try:
        first = write_frame(volume)[0]
        wait_for(lambda: delivered == [first.name], timeout_s=5, what='first frame')
        shutil.rmtree(volume.live)
        volume.live.mkdir()
        second = write_frame(volume)[0]
        wait_for(lambda: delivered[-1:] == [second.name], timeout_s=5,
                 what='a frame in the recreated live/')
    finally:
        feed.stop()


def test_junk_files_are_refused_without_reading_them_whole(volume):
    junk = volume.live / (write_frame(volume)[0].stem[:-6] + '999999.jpg')
    with open(junk, 'wb') as stream:
        stream.truncate(100 * 1024 * 1024)  # 100 MB, sparse: costs no disk
    feed = FrameFeed(volume, on_frame=lambda frame: None, max_age_s=30, watch_mode='poll',
                     poll_interval_s=0.05)
    feed._deliver(junk)
    rejected = dict(feed.stats.rejected)
    assert rejected == {'too_large': 1}


def test_foreign_writer_in_place_is_read_once_complete(volume):
    """A writer that ignores the protocol and writes into live/ slowly, in place."""
    delivered = []
    feed = FrameFeed(volume, on_frame=lambda frame: delivered.append(frame), max_age_s=30,
                     watch_mode='events')
    feed.start()
    try:
        source, jpeg, _ = write_frame(volume, capture_time=time.time() - 0.5)
        wait_for(lambda: len(delivered) == 1, timeout_s=5, what='first frame')
        target = volume.live / (source.stem[:-6] + '999998.jpg')
        with open(target, 'wb') as stream:
            for offset in range(0, len(jpeg), 4096):
                stream.write(jpeg[offset:offset + 4096])
                stream.flush()
                time.sleep(0.002)
        wait_for(lambda: len(delivered) == 2, timeout_s=5, what='the complete file')
        assert delivered[1].jpeg == jpeg
    finally:
        feed.stop()
