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
One retention story: the table in docs/SUPERVISOR.md, the code and the shipped config agree.

And the shipped values, run at 1 fps over a day compressed 120 times (every duration of
the policy divided by 120, the clock simulated), move frames live -> processed -> purged
as the table says.
"""

import os
from pathlib import Path
import re
import time

from framebridge_ros.core.capture import CAPTURE_PARAMS
from framebridge_ros.core.volume.layout import frame_stem, list_frames_sorted, VolumeLayout
from framebridge_ros.core.volume.retention import (
    HostArchive, RETENTION_PARAMS, RetentionPolicy, run_retention)
from framebridge_ros.nodes.supervisor import SUPERVISOR_PARAMS
from framebridge_testing import encode, test_image, write_frame
import pytest
from small_disk import tmpfs
import yaml

ROOT = Path(__file__).resolve().parents[1]
NODES = {'host_capture': CAPTURE_PARAMS, 'supervisor': SUPERVISOR_PARAMS}


def _table():
    """Rows of the retention table: (who, parameter, default)."""
    text = (ROOT / 'docs' / 'SUPERVISOR.md').read_text()
    body = text.split('<!-- retention-table -->')[1].split('<!-- /retention-table -->')[0]
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        who = [name.strip() for name in cells[1].split(',')]
        rows.append((who, cells[3].strip('`'), cells[4].strip('`')))
    return rows


def _shipped():
    config = yaml.safe_load((ROOT / 'config' / 'framebridge.yaml').read_text())
    return {node: {**config['/**']['ros__parameters'], **config[node]['ros__parameters']}
            for node in NODES}


def test_the_table_is_what_the_code_and_the_shipped_config_say():
    shipped, rows = _shipped(), _table()
    for who, name, default in rows:
        for node in who:
            spec = {spec.name: spec for spec in NODES[node]}[name]
            assert float(spec.default) == float(default), f'{node}.{name}: code vs table'
            assert float(shipped[node][name]) == float(default), \
                f'{node}.{name}: config/framebridge.yaml vs table'
    documented = {name for _, name, _ in rows}
    # Every retention knob has a row (dry_run changes no number and is left out).
    assert {spec.name for spec in RETENTION_PARAMS} - {'dry_run'} <= documented
    assert {'max_images', 'reserve_mb', 'reserve_percent', 'reserve_keep_frames',
            'cleanup_period_s', 'max_frame_age_s'} <= documented


COMPRESSION = 120.0  # one simulated second stands for two minutes of the durations


def test_shipped_config_over_a_compressed_day_moves_live_to_processed_to_purged(tmp_path):
    host, supervisor = _shipped()['host_capture'], _shipped()['supervisor']
    durations = ('archive_after_s', 'processed_max_age_s')
    policy = RetentionPolicy.from_params(
        {spec.name: (supervisor[spec.name] / COMPRESSION if spec.name in durations
                     else supervisor[spec.name]) for spec in RETENTION_PARAMS},
        min_age_s=supervisor['max_frame_age_s'])
    cleanup_every = supervisor['cleanup_period_s'] / COMPRESSION
    purge_after = policy.processed_max_age_s
    jpeg = encode(test_image(64, 48))
    with tmpfs(tmp_path / 'disk', 64, skip=pytest.skip) as root:
        layout = VolumeLayout.at(root)
        layout.ensure()
        archive = HostArchive.from_params(layout, host)
        start = time.time()  # the simulated clock runs ahead of the real one
        seconds = int(1.5 * purge_after)
        next_cleanup, moved_by_supervisor, purged = start, 0, 0
        for second in range(seconds):
            now = start + second
            write_frame(layout, jpeg=jpeg, capture_time=now, sequence=second + 1)
            archive.trim()
            assert len(list_frames_sorted(layout)) <= host['max_images']
            if now >= next_cleanup:
                next_cleanup += cleanup_every
                result = run_retention(layout, policy, now=now)
                assert not result.errors and not result.problems and not result.emergency
                moved_by_supervisor += len(result.moved)
                purged += len([name for name in result.removed if name.endswith('.jpg')])
                _check_every_frame_is_where_the_table_says(layout, start, now, purge_after,
                                                           cleanup_every, host)
    print(f'\n{seconds} frames at 1 fps, durations / {COMPRESSION:g}: host moved '
          f'{archive.moved} to processed/, the supervisor purged {purged}')
    assert moved_by_supervisor == 0, 'the host keeps live/ bounded; the 4 h rule is a backstop'
    assert archive.removed == 0, 'processed/ bounds are far away at this size'
    assert archive.moved == seconds - host['max_images']
    assert purged > 0.4 * purge_after


def _check_every_frame_is_where_the_table_says(layout, start, now, purge_after,
                                               cleanup_every, host):
    live = sorted(name for name in os.listdir(layout.live) if name.endswith('.jpg'))
    processed = sorted(path.name for path in layout.processed.glob('*.jpg'))
    assert sorted(path.name for path in layout.processed.glob('*.json')) == [
        name[:-4] + '.json' for name in processed], 'metadata moves with its frame'
    assert not set(live) & set(processed)
    # Every frame younger than the purge age is still somewhere; older ones are gone.
    kept = set(live) | set(processed)
    for second in range(0, int(now - start) + 1, 7):  # a sample: the names are costly
        name = frame_stem(capture_time=start + second, sequence=second + 1) + '.jpg'
        age = now - (start + second)
        if age < purge_after - 1:
            assert name in kept, f'a frame {age:.0f} s old was deleted'
        elif age > purge_after + cleanup_every + 1:
            assert name not in kept, f'a frame {age:.0f} s old was not purged'
    assert len(live) == min(host['max_images'], int(now - start) + 1)
    assert re.match(r'^\d{8}T', live[-1])
