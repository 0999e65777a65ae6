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

import json

from framebridge_ros.core.volume.metadata import (
    build_metadata, derive_metadata, dump_metadata, load_metadata, MetadataError,
    SCHEMA_VERSION)
import pytest


def test_build_and_load_round_trip(tmp_path):
    metadata = build_metadata(
        capture_time=1764117385.25, sequence=3, width=64, height=48, quality=90,
        jpeg=b'abc', source='simulated', capture_duration_s=0.0123456789,
        camera={'Lux': 400.0}, ground_truth={'vehicle_count': 2})
    path = tmp_path / 'm.json'
    path.write_bytes(dump_metadata(metadata))
    loaded = load_metadata(path)
    assert loaded == metadata
    assert loaded['schema_version'] == SCHEMA_VERSION
    assert loaded['timestamp'] == '2025-11-26T00:36:25.250000Z'
    assert loaded['sha256'] == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    assert loaded['capture_duration_s'] == 0.012346


@pytest.mark.parametrize('content, message', [
    (b'{"capture_time": ', 'not valid JSON'),
    (b'[1, 2]', 'not an object'),
    (b'{"capture_time": "yesterday"}', 'no numeric capture_time'),
    (b'{"capture_time": true}', 'no numeric capture_time'),
    (b'\xff\xfe\x00', 'not valid JSON'),
    (b'{"capture_time": 1, "pad": "' + b'x' * 300000 + b'"}', 'over the'),
])
def test_bad_metadata_is_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / 'm.json'
    path.write_bytes(content)
    with pytest.raises(MetadataError, match=message):
        load_metadata(path)


def test_missing_metadata(tmp_path):
    with pytest.raises(MetadataError, match='missing'):
        load_metadata(tmp_path / 'absent.json')


def test_derived_metadata_takes_time_from_our_name_else_mtime(tmp_path):
    ours = tmp_path / '20251126T003625.250000Z_000001.jpg'
    foreign = tmp_path / 'photo.jpg'
    for path in (ours, foreign):
        path.write_bytes(b'jpeg')
    import os
    os.utime(foreign, (1234.5, 1234.5))
    derived = derive_metadata(ours, jpeg=b'jpeg', width=4, height=3, reason='missing')
    assert derived['capture_time'] == pytest.approx(1764117385.25)
    assert derived['derived'] is True and derived['derived_reason'] == 'missing'
    assert derive_metadata(foreign, jpeg=b'jpeg', width=4, height=3,
                           reason='x')['capture_time'] == 1234.5
    json.dumps(derived)
