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

"""Tests of the sky classifier on generated skies, a real photo and the simulated scene."""

import json
from pathlib import Path

import cv2
from framebridge_ros.core.analysis.sky import (
    camera_evidence, parse_sky_region, SKY_CONDITIONS, sky_features, sky_health, sky_message,
    sky_scores, SkyClassifier, SkyConfig, SkyStats)
from framebridge_ros.core.health import Level
from framebridge_ros.core.simulation import scene as scene_mod
from framebridge_ros.core.simulation.scene import SceneConditions, SimulatedScene
import numpy as np
import pytest

HOME = Path('/usr/share/doc/opencv-doc/examples/data/home.jpg')
W, H = 640, 480


def _gradient(top_bgr, bottom_bgr) -> np.ndarray:
    """Return a W x H image whose top quarter fades from top_bgr to bottom_bgr."""
    u = np.linspace(0.0, 1.0, H // 4, dtype=np.float32)[:, None, None]
    sky = (1 - u) * np.array(top_bgr, np.float32) + u * np.array(bottom_bgr, np.float32)
    image = np.full((H, W, 3), (60, 110, 70), np.uint8)  # green ground below
    image[:H // 4] = np.broadcast_to(sky, (H // 4, W, 3)).astype(np.uint8)
    return image


def _with_clouds(image: np.ndarray, cover: float, *, seed: int = 0) -> np.ndarray:
    """Paint white blobs over about `cover` of the sky band."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((H // 4, W)).astype(np.float32), (0, 0), 12)
    mask = field >= np.quantile(field, 1.0 - cover)
    out = image.copy()
    band = out[:H // 4]
    band[mask] = (238, 240, 242)
    return out


BLUE_SKY = ((200, 120, 50), (230, 190, 150))  # BGR: deep blue to pale blue
GENERATED = {
    'clear': lambda: _gradient(*BLUE_SKY),
    'clear_few_clouds': lambda: _with_clouds(_gradient(*BLUE_SKY), 0.1),
    'partly_cloudy': lambda: _with_clouds(_gradient(*BLUE_SKY), 0.45),
    'cloudy_grey': lambda: _gradient((175, 172, 168), (205, 205, 203)),
    'cloudy_broken': lambda: _with_clouds(_gradient(*BLUE_SKY), 0.9),
    'night': lambda: _gradient((20, 8, 4), (40, 28, 26)),
    'dusk': lambda: _gradient((120, 60, 60), (80, 150, 250)),
}
EXPECTED = {'clear': 'clear', 'clear_few_clouds': 'clear', 'partly_cloudy': 'partly_cloudy',
            'cloudy_grey': 'cloudy', 'cloudy_broken': 'cloudy', 'night': 'night',
            'dusk': 'dawn_dusk'}


def test_labels_are_the_scenes():
    assert SKY_CONDITIONS == scene_mod.SKY_CONDITIONS


@pytest.mark.parametrize('name', sorted(GENERATED))
def test_generated_skies(name):
    reading = SkyClassifier().classify(GENERATED[name]())
    assert reading.condition == EXPECTED[name], reading.features
    assert sum(reading.scores.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize('name, lo, hi', [
    ('clear', 0.0, 0.05), ('partly_cloudy', 0.35, 0.55), ('cloudy_grey', 0.95, 1.0)])
def test_cloud_cover_estimate(name, lo, hi):
    cover = sky_features(GENERATED[name]())['cloud_cover']
    assert lo <= cover <= hi


@pytest.mark.parametrize('camera, expected', [
    ({'Lux': 1.0}, 'night'),  # auto-exposure made the dark sky look blue: trust lux
    ({'ExposureTime': 1_000_000, 'AnalogueGain': 8.0, 'Lux': 2.0}, 'night'),
    ({'Lux': 20000.0, 'ExposureTime': 500, 'AnalogueGain': 1.0}, 'clear'),
    ({}, 'clear'),
    ({'Lux': 'bright', 'ExposureTime': -5}, 'clear'),  # junk is ignored
])
def test_camera_exposure_outweighs_pixels(camera, expected):
    reading = SkyClassifier().classify(GENERATED['clear'](), metadata={'camera': camera})
    assert reading.condition == expected


@pytest.mark.parametrize('lux, expected', [
    (2.0, 'night'), (5.0, 'dawn_dusk'), (120.0, 'dawn_dusk'), (300.0, 'dawn_dusk'),
    (600.0, 'cloudy'),
])
def test_twilight_is_a_light_level_not_a_colour(lux, expected):
    # A grey overcast sky: by colour alone it is cloudy; the camera's Lux says when the
    # sun is within civil twilight of the horizon (3.4 to 400 lux).
    reading = SkyClassifier().classify(GENERATED['cloudy_grey'](),
                                       metadata={'camera': {'Lux': lux}})
    assert reading.condition == expected


def test_camera_evidence_reads_rpicam_keys():
    metadata = {'camera': {'Lux': 250.5, 'ExposureTime': 12000, 'AnalogueGain': 2.0,
                           'Other': 1}}
    assert camera_evidence(metadata) == {'lux': 250.5, 'exposure_us': 12000.0, 'gain': 2.0}
    assert camera_evidence(None) == {}
    assert camera_evidence({'camera': 'text'}) == {}


def test_smoothing_holds_against_one_odd_frame():
    classifier = SkyClassifier(SkyConfig(smoothing_frames=5))
    for _ in range(4):
        classifier.classify(GENERATED['clear']())
    odd = classifier.classify(GENERATED['cloudy_grey']())
    assert odd.frame_scores['cloudy'] > 0.5
    assert odd.condition == 'clear'
    for _ in range(3):
        reading = classifier.classify(GENERATED['cloudy_grey']())
    assert reading.condition == 'cloudy'


def test_sky_region_selects_the_pixels():
    image = GENERATED['night']()
    image[int(0.6 * H):] = (200, 120, 50)  # 'sky' painted at the bottom
    region = parse_sky_region([0, 0.7, 1, 0.7, 1, 1, 0, 1])
    assert SkyClassifier().classify(image).condition == 'night'
    assert SkyClassifier(region=region).classify(image).condition == 'clear'


@pytest.mark.parametrize('values', [[0, 0, 1, 0], [0, 0, 1, 0, 1, 2], [0, 0, 1, 1, 0.5, 0.5]])
def test_bad_sky_region(values):
    with pytest.raises(ValueError, match='sky region'):
        parse_sky_region(values)


@pytest.mark.parametrize('kwargs', [
    {'night_brightness': 120.0}, {'night_lux': 0.0}, {'clear_below': 0.8},
    {'smoothing_frames': 0}, {'texture_weight': 2.0}])
def test_bad_config(kwargs):
    with pytest.raises(ValueError):
        SkyConfig(**kwargs)


def test_scores_are_explainable():
    features = sky_features(GENERATED['partly_cloudy']())
    scores = sky_scores(features, {})
    assert max(scores, key=scores.get) == 'partly_cloudy'
    assert scores['night'] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.skipif(not HOME.exists(), reason='needs the opencv-doc package')
def test_real_photo_blue_sky_with_clouds():
    image = cv2.imread(str(HOME))
    # The sky of this photo is its upper left; the building fills the right.
    region = parse_sky_region([0.0, 0.0, 0.45, 0.0, 0.45, 0.6, 0.0, 0.6])
    reading = SkyClassifier(region=region).classify(image)
    assert reading.condition in ('clear', 'partly_cloudy')
    assert reading.features['blue_fraction'] > 0.5
    dark = (image * 0.12).astype(np.uint8)
    assert SkyClassifier(region=region).classify(dark).condition == 'night'


@pytest.mark.parametrize('label, conditions', [
    ('clear', SceneConditions(time_of_day_h=12.0, cloud_cover=0.05)),
    ('partly_cloudy', SceneConditions(time_of_day_h=13.0, cloud_cover=0.45)),
    ('cloudy', SceneConditions(time_of_day_h=11.0, cloud_cover=0.9)),
    ('dawn_dusk', SceneConditions(time_of_day_h=19.6, cloud_cover=0.3)),
    ('night', SceneConditions(time_of_day_h=23.0, cloud_cover=0.2)),
])
def test_simulated_scene(label, conditions):
    scene = SimulatedScene(width=1014, height=760, seed=5, conditions=conditions)
    classifier = SkyClassifier()
    for t in range(3):
        image, truth = scene.render(10.0 * t)
        reading = classifier.classify(image)
    assert truth['sky']['condition'] == label
    assert reading.condition == label


def test_message_schema():
    reading = SkyClassifier().classify(GENERATED['clear'](),
                                       metadata={'camera': {'Lux': 9000.0}})
    message = json.loads(json.dumps(
        sky_message(reading, stamp_sec=5, stamp_nanosec=6, frame_id='cam')))
    assert message['schema_version'] == 1
    assert message['stamp'] == {'sec': 5, 'nanosec': 6}
    assert message['condition'] == 'clear'
    assert set(message['scores']) == set(SKY_CONDITIONS)
    assert message['camera'] == {'lux': 9000.0}
    assert 0.0 <= message['cloud_cover'] <= 1.0
    assert message['frames_smoothed'] == 1


@pytest.mark.parametrize('age_s, level', [(None, Level.STALE), (1.0, Level.OK),
                                          (100.0, Level.WARN)])
def test_sky_health(age_s, level):
    stats = SkyStats(frames=0 if age_s is None else 3,
                     last_analysis_time=None if age_s is None else 1000.0 - age_s)
    assert sky_health(stats, now=1000.0, max_age_s=5.0).level == level
