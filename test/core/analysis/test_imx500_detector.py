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

import logging

from framebridge_ros.core.analysis.imx500_detector import (
    DETECTIONS_KEY, Imx500Detector, NO_INFORMATION)
import numpy as np
import pytest

IMAGE = np.zeros((480, 640, 3), np.uint8)


@pytest.mark.parametrize('entries, expected', [
    ([{'box': [0.1, 0.5, 0.2, 0.1], 'score': 0.8, 'class': 'car'}],
     [((64, 240, 128, 48), 0.8, 'car')]),
    ([{'box': [0.9, 0.9, 0.3, 0.3], 'score': 0.6, 'class': 'bus'}],  # clipped to the image
     [((576, 432, 64, 48), 0.6, 'bus')]),
    ([{'box': [0.1, 0.1], 'score': 0.8}, {'score': 0.9}, 'junk',
      {'box': [0.5, 0.5, 0.1, 0.1], 'score': 'high'}], []),
    ([{'box': [0.0, 0.0, 0.5, 0.5], 'score': 0.7, 'class': 'person'}],
     [((0, 0, 320, 240), 0.7, 'person')]),
    ([], []),  # the camera looked and saw nothing: an empty road
])
def test_imx500_boxes_come_from_metadata(entries, expected):
    detector = Imx500Detector()
    found = detector.detect(IMAGE, metadata={DETECTIONS_KEY: entries})
    assert [(d.box, d.score, d.cls) for d in found] == expected
    assert detector.status == 'ok' and detector.frames_without_information == 0


@pytest.mark.parametrize('metadata, reason', [
    (None, 'no metadata for this frame'),
    ({'camera': {'Lux': 400}}, 'no detections field'),
    ({DETECTIONS_KEY: None, 'detections_reason': 'no output tensor on this frame'},
     'no output tensor on this frame'),
    ({DETECTIONS_KEY: None}, 'the camera gave no result'),
    ({DETECTIONS_KEY: 'not a list'}, 'detections is str, not a list'),
])
def test_no_information_is_not_an_empty_road(metadata, reason):
    detector = Imx500Detector()
    assert detector.detect(IMAGE, metadata=metadata) == []
    assert detector.status == NO_INFORMATION
    assert detector.frames_without_information == 1 and reason in detector.last_reason
    values = detector.health_values()
    assert values['frames_without_information'] == 1
    assert reason in values['last_no_information_reason']


def test_no_information_is_logged_once_per_episode_and_warns_when_long(caplog):
    detector = Imx500Detector()
    car = {DETECTIONS_KEY: [{'box': [0.1, 0.5, 0.2, 0.1], 'score': 0.8, 'class': 'car'}]}
    with caplog.at_level(logging.INFO, logger='framebridge.vehicles'):
        for _ in range(3):
            detector.detect(IMAGE, metadata={DETECTIONS_KEY: None})
        assert detector.health_warning() is None  # a few lost tensors are normal
        assert len(detector.detect(IMAGE, metadata=car)) == 1
        assert detector.status == 'ok'
        for _ in range(10):
            detector.detect(IMAGE, metadata=None)
    # One episode: a single good frame between two gaps does not end it.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'not as an empty road' in warnings[0].message
    assert detector.frames_without_information == 13
    assert 'no on-sensor detections for 10 frames' in detector.health_warning()


def test_class_filter_and_malformed_entries_are_counted():
    entries = [{'box': [0.1, 0.5, 0.2, 0.1], 'score': 0.8, 'class': 'car'},
               {'box': [0.5, 0.5, 0.1, 0.1], 'score': 0.9, 'class': 'person'},
               {'box': 'x', 'score': 0.9}]
    detector = Imx500Detector(classes=['car'])
    found = detector.detect(IMAGE, metadata={DETECTIONS_KEY: entries})
    assert [d.cls for d in found] == ['car']
    assert detector.health_values()['malformed_detection_entries'] == 1
