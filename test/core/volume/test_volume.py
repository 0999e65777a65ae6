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

import errno
import os

from framebridge_ros.core.volume.layout import (
    commit_frame, frame_stem, is_frame_name, list_frames_sorted, newest_frame,
    stem_capture_time, VolumeError, VolumeLayout)
from framebridge_ros.core.volume.retention import remove_orphans, trim_live
import pytest


def _commit(layout, *, capture_time, sequence, payload=b'\xff\xd8 jpeg \xff\xd9'):
    stem = frame_stem(capture_time=capture_time, sequence=sequence)
    part = layout.tmp / f'{stem}.part'
    part.write_bytes(payload)
    return commit_frame(layout, stem=stem, jpeg_tmp=part, metadata_json=b'{"a": 1}')


@pytest.mark.parametrize('capture_time, sequence, expected', [
    (0.0, 0, '19700101T000000.000000Z_000000'),
    (1764117385.123456, 42, '20251126T003625.123456Z_000042'),
    (1764117385.5, 1234567, '20251126T003625.500000Z_1234567'),
])
def test_frame_stem_round_trips_capture_time(capture_time, sequence, expected):
    stem = frame_stem(capture_time=capture_time, sequence=sequence)
    assert stem == expected
    assert is_frame_name(stem + '.jpg')
    assert stem_capture_time(stem + '.jpg') == pytest.approx(capture_time, abs=1e-6)


@pytest.mark.parametrize('name', [
    'image.jpg', '20251126T003625.123456Z_000042.jpeg', '20251126T003625Z_000042.jpg',
    '.20251126T003625.123456Z_000042.jpg', '20251126T003625.123456Z_42.jpg', ''])
def test_foreign_names_are_not_frames(name):
    assert not is_frame_name(name)
    assert stem_capture_time(name) is None


def test_names_sort_by_capture_time():
    times = [1000.0, 1000.000001, 1000.5, 999.999, 2000.0]
    stems = [frame_stem(capture_time=t, sequence=i) for i, t in enumerate(times)]
    assert [stem_capture_time(s) for s in sorted(stems)] == pytest.approx(sorted(times))


def test_commit_puts_metadata_first_and_frame_last(volume):
    frame = _commit(volume, capture_time=1000.0, sequence=1)
    assert frame.parent == volume.live
    assert volume.metadata_path_for(frame).read_bytes() == b'{"a": 1}'
    assert os.listdir(volume.tmp) == []
    assert newest_frame(volume) == frame


def test_commit_into_missing_live_raises_and_cleans_up(volume):
    part = volume.tmp / 'x.part'
    part.write_bytes(b'data')
    volume.live.rmdir()
    with pytest.raises(VolumeError) as raised:
        commit_frame(volume, stem='s', jpeg_tmp=part, metadata_json=b'{}')
    assert raised.value.errno == errno.ENOENT
    assert not part.exists()
    assert os.listdir(volume.tmp) == []
    assert not (volume.metadata / 's.json').exists()


def test_ensure_explains_an_impossible_directory(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    with pytest.raises(VolumeError, match='cannot create'):
        VolumeLayout.at(blocker / 'volume').ensure()


def test_contains_refuses_symlinks_out_of_the_volume(volume, tmp_path):
    outside = tmp_path / 'outside.jpg'
    outside.write_bytes(b'x')
    link = volume.live / '20251126T003625.123456Z_000001.jpg'
    link.symlink_to(outside)
    assert not volume.contains(link)
    assert volume.contains(volume.live / 'anything.jpg')


def test_trim_live_keeps_the_newest_and_leaves_foreign_files(volume):
    frames = [_commit(volume, capture_time=1000.0 + i, sequence=i) for i in range(7)]
    foreign = volume.live / 'holiday.jpg'
    foreign.write_bytes(b'mine')
    removed = trim_live(volume, max_images=3)
    assert removed == [frame.name for frame in frames[:4]]
    assert list_frames_sorted(volume) == frames[4:]
    assert foreign.exists()
    assert sorted(p.stem for p in volume.metadata.iterdir()) == [f.stem for f in frames[4:]]


def test_remove_orphans_only_old_leftovers(volume):
    frame = _commit(volume, capture_time=1000.0, sequence=1)
    old_orphan = volume.metadata / (frame_stem(capture_time=5.0, sequence=9) + '.json')
    new_orphan = volume.metadata / (frame_stem(capture_time=6.0, sequence=9) + '.json')
    foreign = volume.metadata / 'notes.json'
    old_part = volume.tmp / 'capture.part'
    for path in (old_orphan, new_orphan, foreign, old_part):
        path.write_text('{}')
    for path in (old_orphan, foreign, old_part):
        os.utime(path, (1.0, 1.0))
    removed = remove_orphans(volume, older_than_s=60.0)
    assert sorted(removed) == sorted([old_orphan.name, old_part.name])
    assert new_orphan.exists() and foreign.exists()
    assert volume.metadata_path_for(frame).exists()
