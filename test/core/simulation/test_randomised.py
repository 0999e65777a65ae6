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

from framebridge_ros.core.simulation.randomised import (
    draw_world, LIGHTS, okta_label, RandomisedScene, sky_label, TRAFFIC)
import numpy as np
import pytest

SIZE = {'width': 320, 'height': 240}


@pytest.mark.parametrize('cover, label', [
    (0.0, 'clear'), (0.25, 'clear'), (0.26, 'partly_cloudy'), (0.74, 'partly_cloudy'),
    (0.75, 'cloudy'), (1.0, 'cloudy'),
])
def test_okta_bands(cover, label):
    assert okta_label(cover) == label


@pytest.mark.parametrize('lux, cover, label', [
    (1.0, 0.0, 'night'), (3.3, 0.9, 'night'), (3.4, 0.0, 'dawn_dusk'),
    (399.0, 0.9, 'dawn_dusk'), (400.0, 0.9, 'cloudy'), (20000.0, 0.1, 'clear'),
])
def test_sky_label_from_light_and_cover(lux, cover, label):
    assert sky_label(lux=lux, cover=cover) == label


def test_same_seed_same_clip_and_seeds_differ():
    frames = []
    for seed in (5, 5, 6):
        scene = RandomisedScene(draw_world(seed, light='dusk', traffic='dense', **SIZE))
        frames.append([scene.next_frame() for _ in range(3)])
    (a, ta, ma), (b, tb, mb) = frames[0][-1], frames[1][-1]
    assert np.array_equal(a, b) and ta == tb and ma == mb
    assert not np.array_equal(a, frames[2][-1][0])


@pytest.mark.parametrize('light', LIGHTS)
def test_metadata_and_sky_label_follow_the_light(light):
    scene = RandomisedScene(draw_world(3, light=light, traffic='light', **SIZE))
    _, truth, metadata = scene.next_frame()
    camera = metadata['camera']
    assert {'Lux', 'ExposureTime', 'AnalogueGain'} <= set(camera)
    assert metadata['capture_time'] == 0.0
    expected = {'night': 'night', 'dusk': 'dawn_dusk'}.get(light)
    assert truth['sky']['condition'] == (expected or okta_label(truth['sky']['cloud_cover']))


def test_the_draws_cover_what_varies_on_real_roads():
    lanes, directions, classes, speeds = set(), set(), set(), []
    for seed in range(12):
        world = draw_world(seed, light=LIGHTS[seed % 3], traffic=TRAFFIC[seed % 2], **SIZE)
        lanes.add(len(world.lanes))
        directions.update(lane.direction for lane in world.lanes)
        speeds.extend(lane.speed for lane in world.lanes)
        scene = RandomisedScene(world, warmup_s=60.0)
        for _ in range(2):
            _, truth, _ = scene.next_frame()
            classes.update(v['class'] for v in truth['vehicles'])
    assert lanes == {1, 2, 3, 4} and directions == {-1, 1}
    assert classes == {'car', 'van', 'truck', 'bus', 'motorcycle'}
    assert 0.3 <= min(speeds) < 0.5 and 1.3 < max(speeds) <= 1.5


def test_vehicles_move_their_lanes_speed_and_edge_vehicles_are_dont_care():
    world = draw_world(11, light='day', traffic='dense', **SIZE)
    for lane in world.lanes:
        lane.stop_x = None  # free flow: each moves at its own speed
    scene = RandomisedScene(world)
    previous, steps, edge_cases = {}, [], 0
    for _ in range(8):
        _, truth, _ = scene.next_frame()
        for v in truth['vehicles']:
            x, y, w, h = v['box']
            cut = x <= 0 or x + w >= SIZE['width']
            if cut and v['visible'] < 0.5:
                assert v['dont_care']
                edge_cases += 1
            if v['id'] in previous and not cut and v['visible'] == 1.0:
                car = 4.5 * world.lanes[v['lane']].px_per_m  # speeds are in car lengths
                steps.append(abs(x - previous[v['id']][0]) / car)
        previous = {v['id']: v['box'] for v in truth['vehicles']}
    assert edge_cases > 0
    # Free flow moves 0.3 to 1.5 car lengths a frame (+-15 % per vehicle), less when
    # closing up behind a slower one.
    assert len(steps) > 10 and 0.2 < np.median(steps) < 1.75 and max(steps) < 1.5 * 1.16
