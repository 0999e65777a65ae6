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

"""The documents that describe code stay true to it."""

from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))

import param_tables  # noqa: E402 - found through the path set just above


def test_parameter_document_matches_the_code():
    written = (ROOT / 'docs' / 'PARAMETERS.md').read_text()
    assert written == param_tables.document(), \
        'docs/PARAMETERS.md is out of date: python tools/param_tables.py > docs/PARAMETERS.md'


def test_readme_names_every_node_and_topic():
    readme = (ROOT / 'README.md').read_text()
    for name in ('host_capture', 'frame_provider', 'vehicle_detector', 'sky_analyzer',
                 'supervisor', 'camera/image_raw', 'camera/image_raw/compressed',
                 'camera/image_scaled', 'camera/camera_info', 'camera/metadata',
                 'vehicles/detections', 'vehicles/image_annotated', 'sky/condition',
                 'supervisor/status', '/diagnostics', 'make demo', 'make test'):
        assert name in readme, name
