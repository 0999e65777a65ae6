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

from framebridge_ros.core.analysis.region import parse_region
import pytest


@pytest.mark.parametrize('values, message', [
    ([0, 0, 1, 0], 'at least 3'),
    ([0, 0, 1, 0, 1, 1, 0], 'at least 3'),
    ([0, 0, 1, 0, 1, 1.5], 'within'),
    ([0, 0, 0.5, 0.5, 1, 1], 'no area'),
    ([0, 0, -0.1, 0, 1, 1], 'within'),
])
def test_parse_region_rejects(values, message):
    with pytest.raises(ValueError, match=message):
        parse_region(values)


def test_parse_region_accepts_pairs():
    assert parse_region([0, 0.5, 1, 0.5, 1, 1]) == ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0))
