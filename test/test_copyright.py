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
License headers: ament_copyright where it is installed, the same rule by hand where not.

ament_copyright has no Jazzy wheel on PyPI, so without it this test checks that every
Python file starts with the project's Apache-2.0 header instead of being skipped.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = [ROOT / name for name in ('framebridge_ros', 'test', 'setup.py', 'launch',
                                  'bench', 'tools') if (ROOT / name).exists()]
HEADER_LINES = [
    '# Copyright 2026 The framebridge_ros Authors',
    '# Licensed under the Apache License, Version 2.0 (the "License");',
]


def _python_files():
    for path in PATHS:
        yield from ([path] if path.is_file() else sorted(path.rglob('*.py')))
    yield from sorted((ROOT / 'test' / 'fake_bin').glob('*'))


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    try:
        from ament_copyright.main import main
    except ImportError:
        main = None
    if main is not None:
        assert main(argv=[str(path) for path in PATHS]) == 0, 'Found errors'
        return
    missing = []
    for path in _python_files():
        head = path.read_text(errors='replace').splitlines()[:16]
        if not all(line in head for line in HEADER_LINES):
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, 'files without the Apache-2.0 header: ' + ', '.join(missing)
