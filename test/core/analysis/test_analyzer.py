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

import cv2
from framebridge_ros.core.analysis.analyzer import (
    adaptive_threshold, AnalyzerStats, detector_health, VehicleAnalyzer)
from framebridge_ros.core.analysis.detections_schema import detections_message
from framebridge_ros.core.analysis.drawing import draw_analysis
from framebridge_ros.core.analysis.motion_detector import MotionDetector
from framebridge_ros.core.analysis.region import parse_region
from framebridge_ros.core.analysis.tracking import box_iou
from framebridge_ros.core.health import Level
from framebridge_ros.core.simulation.scene import ROAD_REGION, SceneConditions, SimulatedScene
import numpy as np
import pytest


@pytest.mark.parametrize('base, condition, expected', [
    (0.5, 'clear', 0.5),
    (0.5, 'partly_cloudy', 0.5),
    (0.5, 'cloudy', 0.45),
    (0.5, 'dawn_dusk', 0.4),
    (0.5, 'night', 0.35),
    (0.5, None, 0.5),
    (0.5, 'unheard_of', 0.5),
    (0.15, 'night', 0.1),
    (0.95, 'clear', 0.9),
    (0.05, 'clear', 0.1),
])
def test_adaptive_threshold_is_clamped(base, condition, expected):
    assert adaptive_threshold(base, condition) == pytest.approx(expected)


def _clip(conditions, *, frames, size=(800, 600), seed=7):
    scene = SimulatedScene(width=size[0], height=size[1], seed=seed, conditions=conditions)
    region = parse_region([v for p in ROAD_REGION for v in p])
    analyzer = VehicleAnalyzer(MotionDetector(region=region), region=region,
                               counting_line=(0.5, 0.0, 0.5, 1.0), base_threshold=0.5)
    return scene, analyzer


@pytest.mark.parametrize('cover, per_minute', [(0.1, 20.0), (0.5, 40.0)])
def test_daylight_clip_counts_what_the_scene_drew(cover, per_minute):
    scene, analyzer = _clip(SceneConditions(time_of_day_h=12.0, cloud_cover=cover,
                                            vehicles_per_minute=per_minute), frames=45)
    matched = detected = truths = 0
    for i in range(45):
        image, truth = scene.render(float(i))
        result = analyzer.analyze(image, t=float(i))
        if i == 8:  # after warm-up: count from here
            start = truth['crossings']
            analyzer.tracker.counts = dict.fromkeys(analyzer.tracker.directions, 0)
        if i <= 8:
            continue
        inside = [v['box'] for v in truth['vehicles']
                  if v['box'][0] > 0 and v['box'][0] + v['box'][2] < image.shape[1]]
        truths += len(inside)
        detected += len(result.detections)
        matched += sum(any(box_iou(d.box, b) >= 0.5 for d in result.detections)
                       for b in inside)
    expected = {k: truth['crossings'][k] - start[k] for k in start}
    assert sum(expected.values()) >= 5
    assert analyzer.tracker.counts == expected
    assert matched / truths > 0.9
    assert detected >= matched


def test_message_schema_is_plain_json():
    scene, analyzer = _clip(SceneConditions(vehicles_per_minute=30.0), frames=10)
    for i in range(10):
        image, _ = scene.render(float(i))
        result = analyzer.analyze(image, t=float(i))
    message = detections_message(result, stamp_sec=12, stamp_nanosec=34,
                                 frame_id='cam', backend='motion', sky_condition='clear')
    decoded = json.loads(json.dumps(message))
    assert decoded['schema_version'] == 1
    assert decoded['stamp'] == {'sec': 12, 'nanosec': 34}
    assert decoded['image_size'] == [800, 600]
    assert decoded['vehicle_count'] == len(decoded['detections']) > 0
    assert set(decoded['counts']) == {'left_to_right', 'right_to_left'}
    for d in decoded['detections']:
        assert set(d) == {'box', 'class', 'score', 'track_id'}
        assert len(d['box']) == 4 and isinstance(d['track_id'], int)
    annotated = draw_analysis(image, result, counting_line=(0.5, 0, 0.5, 1),
                              region=analyzer.region, sky_condition='clear')
    assert annotated.shape == image.shape
    assert np.count_nonzero(cv2.absdiff(annotated, image)) > 1000


@pytest.mark.parametrize('frames, age_s, status, median_ms, level', [
    (0, None, '-', None, Level.STALE),
    (5, 1.0, 'ok', 20.0, Level.OK),
    (5, 1.0, 'warming_up', 20.0, Level.WARN),
    (5, 60.0, 'ok', 20.0, Level.WARN),
    (5, 1.0, 'ok', 2000.0, Level.WARN),
])
def test_detector_health(frames, age_s, status, median_ms, level):
    now = 1000.0
    stats = AnalyzerStats(frames=frames, last_status=status,
                          last_analysis_time=None if age_s is None else now - age_s,
                          processing_ms=[] if median_ms is None else [median_ms])
    health = detector_health(stats, now=now, max_age_s=5.0, backend='motion')
    assert health.level == level
    assert health.values['backend'] == 'motion'


def test_detector_health_warns_of_a_lane_without_flow():
    now = 1000.0
    stats = AnalyzerStats(frames=50, last_status='ok', last_analysis_time=now - 1.0,
                          processing_ms=[20.0],
                          lanes=[{'row': 320.0, 'detections': 90, 'flow_px_per_s': None},
                                 {'row': 500.0, 'detections': 40, 'flow_px_per_s': 210.0}])
    health = detector_health(stats, now=now, max_age_s=5.0, backend='motion')
    assert health.level == Level.WARN and 'rows 320 px' in health.message
    assert health.values['lanes'] == 2 and health.values['lanes_without_flow'] == 1
