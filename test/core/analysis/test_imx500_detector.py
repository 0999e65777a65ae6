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

from framebridge_ros.core.analysis.imx500_detector import IMX500_KEY, Imx500Detector
import numpy as np
import pytest


@pytest.mark.parametrize('entries, expected', [
    ([{'box': [0.1, 0.5, 0.2, 0.1], 'score': 0.8, 'class': 'car'}],
     [((64, 240, 128, 48), 0.8, 'car')]),
    ([{'box': [0.9, 0.9, 0.3, 0.3], 'score': 0.6, 'class': 'bus'}],  # clipped to the image
     [((576, 432, 64, 48), 0.6, 'bus')]),
    ([{'box': [0.1, 0.1], 'score': 0.8}, {'score': 0.9}, 'junk',
      {'box': [0.5, 0.5, 0.1, 0.1], 'score': 'high'}], []),
    ([{'box': [0.0, 0.0, 0.5, 0.5], 'score': 0.7, 'class': 'person'}],
     [((0, 0, 320, 240), 0.7, 'person')]),
    ('not a list', []),
])
def test_imx500_boxes_come_from_metadata(entries, expected):
    image = np.zeros((480, 640, 3), np.uint8)
    found = Imx500Detector().detect(image, metadata={'camera': {IMX500_KEY: entries}})
    assert [(d.box, d.score, d.cls) for d in found] == expected


def test_imx500_without_metadata_and_with_class_filter():
    image = np.zeros((480, 640, 3), np.uint8)
    assert Imx500Detector().detect(image) == []
    assert Imx500Detector().detect(image, metadata={'camera': None}) == []
    entries = [{'box': [0.1, 0.5, 0.2, 0.1], 'score': 0.8, 'class': 'car'},
               {'box': [0.5, 0.5, 0.1, 0.1], 'score': 0.9, 'class': 'person'}]
    found = Imx500Detector(classes=['car']).detect(
        image, metadata={'camera': {IMX500_KEY: entries}})
    assert [d.cls for d in found] == ['car']
