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

"""Retention policy on real directories: moves, expiry, emergency, and what must survive."""

import errno
import os
import shutil

from framebridge_ros.core.params import validate_params
from framebridge_ros.core.volume.layout import commit_frame, frame_stem, list_frames_sorted
from framebridge_ros.core.volume.retention import (
    cleanup_due, disk_free_percent, HostArchive, RETENTION_PARAMS, RetentionPolicy,
    run_retention, space_holders)
import pytest
from small_disk import grow_file, MIB, tmpfs

NOW = 1800000000.0
H = 3600.0


def _frame(layout, *, age_s, sequence, where='live', size=1000, mtime_age_s=None):
    """Commit a frame captured age_s ago (mtime too, unless told); move it if asked."""
    capture_time = NOW - age_s
    stem = frame_stem(capture_time=capture_time, sequence=sequence)
    part = layout.tmp / f'{stem}.part'
    part.write_bytes(b'\xff\xd8' + b'x' * (size - 4) + b'\xff\xd9')
    frame = commit_frame(layout, stem=stem, jpeg_tmp=part, metadata_json=b'{"a": 1}')
    metadata = layout.metadata_path_for(frame)
    if where == 'processed':
        frame = frame.rename(layout.processed / frame.name)
        metadata = metadata.rename(layout.processed / metadata.name)
    stamp = NOW - (age_s if mtime_age_s is None else mtime_age_s)
    for path in (frame, metadata):
        os.utime(path, (stamp, stamp))
    return frame


def _ages(layout, directory):
    """Ages (s, rounded) of our frames in a directory, each checked to have metadata."""
    ages = []
    for path in sorted(directory.glob('*.jpg')):
        metadata = (layout.metadata_path_for(path) if directory == layout.live
                    else directory / (path.stem + '.json'))
        assert metadata.exists(), f'{path.name} lost its metadata'
        ages.append(round(NOW - os.lstat(path).st_mtime))
    return sorted(ages)


@pytest.mark.parametrize('live, processed, policy, free, live_after, processed_after, '
                         'moved, removed, kept_young', [
                             # live/ older than 4 h moves to processed/ with its metadata
                             ([5 * H, 3 * H, 60], [], {}, 50.0,
                              [60, 3 * H], [5 * H], 1, 0, 0),
                             # more than max_live_images: the oldest beyond it move
                             ([100, 200, 300, 400, 500], [], {'max_live_images': 3}, 50.0,
                              [100, 200, 300], [400, 500], 2, 0, 0),
                             # processed/ expires after 24 h (frame + metadata removed)
                             ([], [25 * H, 23 * H], {}, 50.0,
                              [], [23 * H], 0, 2, 0),
                             # emergency: keep the newest, empty processed/
                             ([10, 20, 30, 40, 50], [H, 30 * H],
                              {'emergency_keep_live': 2}, 5.0,
                              [10, 20], [], 0, 3 * 2 + 2 * 2, 0),
                             # no emergency at exactly the threshold
                             ([10, 20, 30], [H], {'emergency_keep_live': 1}, 10.0,
                              [10, 20, 30], [H], 0, 0, 0),
                             # young frames are never deleted, even in an emergency
                             ([1, 2, 3, 60], [], {'emergency_keep_live': 0, 'min_age_s': 5.0},
                              1.0, [1, 2, 3], [], 0, 2, 3),
                             # nor moved by the overflow rule
                             ([1, 2, 3], [], {'max_live_images': 1, 'min_age_s': 5.0}, 50.0,
                              [1, 2, 3], [], 0, 0, 2),
                             # processed/ bounded by count: the oldest beyond it go
                             ([], [H, 2 * H, 3 * H, 4 * H], {'processed_max_images': 2},
                              50.0, [], [H, 2 * H], 0, 4, 0),
                             # and by size (a frame is 1000 + 8 bytes here)
                             ([5 * H], [H, 2 * H, 3 * H], {'processed_max_mb': 0.0025},
                              50.0, [], [H, 2 * H], 1, 4, 0),
                         ], ids=['aged', 'overflow', 'processed_expiry', 'emergency',
                                 'threshold_is_not_emergency', 'young_emergency',
                                 'young_overflow', 'processed_count', 'processed_size'])
def test_policy_table(volume, live, processed, policy, free, live_after, processed_after,
                      moved, removed, kept_young):
    sequence = 0
    for where, ages in (('live', live), ('processed', processed)):
        for age in ages:
            sequence += 1
            _frame(volume, age_s=age, sequence=sequence, where=where)
    result = run_retention(volume, RetentionPolicy(**policy), now=NOW, free_percent=free)
    assert _ages(volume, volume.live) == sorted(live_after)
    assert _ages(volume, volume.processed) == sorted(processed_after)
    assert (len(result.moved), len(result.removed), result.kept_young) == (
        moved, removed, kept_young)
    assert result.emergency == (free < 10.0)
    assert result.bytes_freed == sum(
        1000 if name.endswith('.jpg') else len(b'{"a": 1}') for name in result.removed)
    assert not result.errors
    assert sorted(p.name for p in volume.metadata.iterdir()) == sorted(
        p.stem + '.json' for p in volume.live.glob('*.jpg'))


def test_a_frame_that_just_landed_is_kept_whatever_its_name_says(volume):
    _frame(volume, age_s=30 * H, sequence=1, mtime_age_s=1.0)
    result = run_retention(volume, RetentionPolicy(emergency_keep_live=0, min_age_s=5.0),
                           now=NOW, free_percent=1.0)
    assert result.kept_young == 1 and not result.removed
    assert len(list(volume.live.iterdir())) == 1


def test_dry_run_reports_the_same_and_changes_nothing(volume):
    for sequence, age in enumerate([10, 20, 30, 5 * H], start=1):
        _frame(volume, age_s=age, sequence=sequence)
    _frame(volume, age_s=H, sequence=9, where='processed')
    before = sorted(str(p) for p in volume.root.rglob('*'))
    policy = {'emergency_keep_live': 1}
    dry = run_retention(volume, RetentionPolicy(dry_run=True, **policy), now=NOW,
                        free_percent=2.0)
    assert sorted(str(p) for p in volume.root.rglob('*')) == before
    assert dry.summary().startswith('dry run: EMERGENCY') and 'would remove 8' in dry.summary()
    real = run_retention(volume, RetentionPolicy(**policy), now=NOW, free_percent=2.0)
    assert (real.removed, real.bytes_freed) == (dry.removed, dry.bytes_freed)
    assert len(list(volume.live.iterdir())) == 1


def test_foreign_files_directories_and_symlink_targets_survive(volume, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    target = outside / 'precious.jpg'
    target.write_bytes(b'not yours')
    old = NOW - 30 * H
    link_name = frame_stem(capture_time=old, sequence=7) + '.jpg'
    (volume.live / link_name).symlink_to(target)
    os.utime(volume.live / link_name, (old, old), follow_symlinks=False)
    foreign = [volume.live / 'holiday.jpg', volume.processed / 'notes.txt',
               volume.metadata / 'settings.json']
    for path in foreign:
        path.write_bytes(b'keep me')
        os.utime(path, (old, old))
    (volume.live / (frame_stem(capture_time=old, sequence=8) + '.jpg')).mkdir()
    processed_link = volume.processed / (frame_stem(capture_time=old, sequence=9) + '.jpg')
    processed_link.symlink_to(target)
    os.utime(processed_link, (old, old), follow_symlinks=False)

    result = run_retention(volume, RetentionPolicy(emergency_keep_live=0), now=NOW,
                           free_percent=1.0)
    assert target.read_bytes() == b'not yours'
    assert not os.path.lexists(volume.live / link_name)
    assert not os.path.lexists(processed_link)
    assert sorted(result.removed) == sorted([f'live/{link_name}',
                                             f'processed/{processed_link.name}'])
    assert result.bytes_freed == 0  # links free no data
    assert all(path.read_bytes() == b'keep me' for path in foreign)
    assert (volume.live / (frame_stem(capture_time=old, sequence=8) + '.jpg')).is_dir()


def test_a_directory_that_leads_out_of_the_volume_is_left_alone(volume, tmp_path):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    victim = elsewhere / (frame_stem(capture_time=NOW - 30 * H, sequence=1) + '.jpg')
    victim.write_bytes(b'x')
    os.utime(victim, (NOW - 30 * H,) * 2)
    volume.processed.rmdir()
    volume.processed.symlink_to(elsewhere)
    _frame(volume, age_s=5 * H, sequence=2)
    result = run_retention(volume, RetentionPolicy(), now=NOW, free_percent=1.0)
    assert victim.exists()
    assert any('outside' in error for error in result.errors)
    assert not result.removed or all(not r.startswith('processed/') for r in result.removed)


def test_orphans_and_partial_writes_are_removed_when_old(volume):
    frame = _frame(volume, age_s=60, sequence=1)
    orphan = volume.metadata / (frame_stem(capture_time=NOW - H, sequence=5) + '.json')
    part = volume.tmp / 'capture_1_000001.jpg.part'
    fresh_part = volume.tmp / 'capture_1_000002.jpg.part'
    for path in (orphan, part, fresh_part):
        path.write_text('{}')
    os.utime(orphan, (NOW - H,) * 2)
    os.utime(part, (NOW - H,) * 2)
    os.utime(fresh_part, (NOW,) * 2)
    result = run_retention(volume, RetentionPolicy(), now=NOW, free_percent=50.0)
    assert sorted(result.removed) == sorted([f'metadata/{orphan.name}', f'.tmp/{part.name}'])
    assert fresh_part.exists() and frame.exists() and volume.metadata_path_for(frame).exists()


@pytest.mark.parametrize('live_count, free, expected', [
    (10, 50.0, None),
    (1001, 50.0, '1001 frames in live/ > 1000'),
    (1000, 50.0, None),
    (10, 9.5, 'emergency'),
    (10, None, None),
])
def test_cleanup_due(live_count, free, expected):
    reason = cleanup_due(live_count=live_count, free_percent=free, policy=RetentionPolicy())
    assert (reason is None) == (expected is None)
    assert expected is None or expected in reason


def test_policy_from_params_uses_the_seed_numbers_and_disk_free_is_a_percentage(tmp_path):
    policy = RetentionPolicy.from_params(validate_params(RETENTION_PARAMS, {}), min_age_s=5.0)
    assert policy == RetentionPolicy()
    assert (policy.archive_after_s, policy.max_live_images, policy.processed_max_age_s,
            policy.emergency_free_percent, policy.emergency_keep_live) == (
        4 * H, 1000, 24 * H, 10.0, 50)
    assert 0.0 <= disk_free_percent(tmp_path) <= 100.0
    assert disk_free_percent(tmp_path / 'missing') is None


def test_emergency_empties_processed_first_and_moves_nothing(volume):
    for sequence, age in enumerate([10, 20, 30, 40], start=1):
        _frame(volume, age_s=age, sequence=sequence)
    for sequence, age in enumerate([H, 2 * H], start=10):
        _frame(volume, age_s=age, sequence=sequence, where='processed')
    result = run_retention(volume, RetentionPolicy(emergency_keep_live=2, archive_after_s=15),
                           now=NOW, free_percent=1.0)
    assert not result.moved, 'an emergency never moves frames onto the same full disk'
    assert [path.split('/')[0] for path in result.removed] == ['processed'] * 4 + ['live',
                                                                                   'metadata'] * 2
    assert _ages(volume, volume.live) == [10, 20] and not list(volume.processed.iterdir())


def test_free_space_that_cannot_be_measured_is_a_problem_not_silence(volume, monkeypatch):
    """Issue 16: a failing disk_usage used to disable the emergency without a word."""
    _frame(volume, age_s=5 * H, sequence=1)

    def broken(path):
        raise OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(shutil, 'disk_usage', broken)
    result = run_retention(volume, RetentionPolicy(), now=NOW)
    assert 'free_space_unknown' in result.problems
    assert 'emergency cleanup cannot start' in result.problems['free_space_unknown']
    assert 'Input/output error' in result.problems['free_space_unknown']
    assert len(result.moved) == 1, 'the age rule still runs'


def test_a_missing_processed_directory_is_created_again_and_reported(volume):
    """Issue 16: a missing processed/ left aged frames in live/ with no error recorded."""
    _frame(volume, age_s=5 * H, sequence=1)
    volume.processed.rmdir()
    result = run_retention(volume, RetentionPolicy(), now=NOW, free_percent=50.0)
    assert 'created it again' in result.problems['processed_missing']
    assert len(result.moved) == 1 and _ages(volume, volume.processed) == [5 * H]
    assert not run_retention(volume, RetentionPolicy(), now=NOW, free_percent=50.0).problems


def test_a_processed_path_that_is_no_directory_leaves_frames_in_live_and_says_so(volume):
    _frame(volume, age_s=5 * H, sequence=1)
    volume.processed.rmdir()
    volume.processed.write_bytes(b'not a directory')
    result = run_retention(volume, RetentionPolicy(), now=NOW, free_percent=50.0)
    problem = result.problems['processed_missing']
    assert 'is not a directory' in problem and '1 frame(s) left in live/' in problem
    assert _ages(volume, volume.live) == [5 * H]
    assert volume.processed.read_bytes() == b'not a directory'


def test_host_archive_moves_what_leaves_live_and_keeps_processed_bounded(volume):
    frames = [_frame(volume, age_s=100 - i, sequence=i) for i in range(10)]
    archive = HostArchive(volume, max_images=3, processed_max_mb=1.0, processed_max_images=4)
    archive.trim()
    assert list_frames_sorted(volume) == frames[-3:]
    assert sorted(p.name for p in volume.processed.glob('*.jpg')) == [
        f.name for f in frames[3:7]], 'the newest 4 of those moved stay in processed/'
    assert sorted(p.name for p in volume.processed.glob('*.json')) == [
        f.stem + '.json' for f in frames[3:7]]
    assert (archive.moved, archive.removed) == (7, 3)
    no_archive = HostArchive(volume, max_images=1, processed_max_mb=0.0,
                             processed_max_images=4)
    no_archive.trim()
    assert list_frames_sorted(volume) == frames[-1:] and no_archive.removed == 2
    assert len(list(volume.processed.glob('*.jpg'))) == 4


def test_space_holders_name_the_largest_foreign_entries(tmp_path):
    with tmpfs(tmp_path / 'disk', 8, skip=pytest.skip) as root:
        from framebridge_ros.core.volume.layout import VolumeLayout
        volume = VolumeLayout.at(root)
        volume.ensure()
        _frame(volume, age_s=10, sequence=1, size=200_000)
        grow_file(volume.live / 'recording.bin', leave_free_bytes=4 * MIB)
        (volume.processed / 'notes.txt').write_bytes(b'x' * 300_000)
        holders = space_holders(volume)
        assert holders[0][0] == 'live/recording.bin' and holders[0][1] > 3 * MIB
        assert holders[1][0] == 'processed/notes.txt'
        assert all(not name.endswith('.jpg') or 'recording' in name for name, _ in holders)


def test_processed_full_on_a_small_disk_the_emergency_empties_it_first(tmp_path):
    with tmpfs(tmp_path / 'disk', 16, skip=pytest.skip) as root:
        from framebridge_ros.core.volume.layout import VolumeLayout
        volume = VolumeLayout.at(root)
        volume.ensure()
        for sequence in range(60):  # 60 live frames of 20 kB, a minute old
            _frame(volume, age_s=120 - sequence, sequence=sequence, size=20_000)
        sequence = 100
        while disk_free_percent(root) > 8.0:  # archived frames fill the disk
            _frame(volume, age_s=5 * H + sequence, sequence=sequence, where='processed',
                   size=200_000)
            sequence += 1
        result = run_retention(volume, RetentionPolicy(), now=NOW)
        assert result.emergency and not result.moved
        archived = 2 * (sequence - 100)
        assert all(path.startswith('processed/') for path in result.removed[:archived])
        assert not list(volume.processed.iterdir())
        assert len(list_frames_sorted(volume)) == 50, 'the newest 50 stay in live/'
        assert result.free_percent_after > 50.0


def test_an_emergency_that_frees_nothing_names_what_holds_the_space(volume):
    for sequence, age in enumerate([10, 20, 30], start=1):
        _frame(volume, age_s=age, sequence=sequence, size=50_000)
    (volume.root / 'other.bin').write_bytes(b'x' * 200_000)
    result = run_retention(volume, RetentionPolicy(emergency_keep_live=5), now=NOW,
                           free_percent=1.0)
    assert result.freed_nothing
    names = [name for name, _ in result.holders]
    assert 'other.bin' in names  # with 'outside capture_dir': the rest of this disk
    assert any(name.startswith('live/ (the newest 5 frames') for name in names)
