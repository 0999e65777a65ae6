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

from framebridge_ros.core.capture import CAPTURE_PARAMS
from framebridge_ros.core.params import ParameterError, ParamSpec, validate_params
import pytest


@pytest.mark.parametrize('spec, value, expected', [
    (ParamSpec('a', 1.0, ''), 2, 2.0),
    (ParamSpec('a', 1, '', min_value=0, max_value=5), 5, 5),
    (ParamSpec('a', 'x', '', choices=('x', 'y')), 'y', 'y'),
    (ParamSpec('a', [], ''), ('p', 'q'), ['p', 'q']),
    (ParamSpec('a', [0.5, 1.0], ''), [1, 2.5], [1.0, 2.5]),
    (ParamSpec('a', [0.5], '', parse=lambda v: tuple(v)), [0.25], (0.25,)),
    (ParamSpec('a', True, ''), False, False),
])
def test_valid_values_are_converted(spec, value, expected):
    assert spec.check(value) == expected


@pytest.mark.parametrize('spec, value, message', [
    (ParamSpec('a', 1.0, '', min_value=0.0), -1.0, 'below its minimum'),
    (ParamSpec('a', 1, '', max_value=3), 4, 'above its maximum'),
    (ParamSpec('a', 1, ''), True, 'must be int'),
    (ParamSpec('a', 1, ''), 1.5, 'must be int'),
    (ParamSpec('a', 'x', '', choices=('x', 'y')), 'z', 'not one of x, y'),
    (ParamSpec('a', [], ''), [1], 'list of str'),
    (ParamSpec('a', [0.5, 1.0], ''), ['x'], 'list of float'),
    (ParamSpec('a', [0.5], '', parse=lambda v: float('above one')), [2.0],
     'a: could not convert'),
])
def test_invalid_values_say_why(spec, value, message):
    with pytest.raises(ParameterError, match=message):
        spec.check(value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ParameterError) as raised:
        validate_params(CAPTURE_PARAMS, {'interval_s': -1.0, 'quality': 101,
                                         'source': 'webcam'})
    text = str(raised.value)
    assert 'interval_s' in text and 'quality' in text and 'source' in text


def test_capture_defaults_mirror_the_seed():
    defaults = validate_params(CAPTURE_PARAMS, {})
    assert (defaults['capture_dir'], defaults['width'], defaults['height'],
            defaults['quality'], defaults['interval_s'], defaults['max_images']) == (
        '/mnt/storage/camera_capture', 4056, 3040, 95, 1.0, 100)
