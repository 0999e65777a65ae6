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

import cv2
from framebridge_ros.core.analysis.heading import lamp_heading
from framebridge_ros.core.analysis.tracking import appearance, Tracker
from framebridge_ros.core.simulation.randomised import draw_world, RandomisedScene
import numpy as np
import pytest


def _car(head_at_right: bool, tail: bool = True) -> np.ndarray:
    """Return a dark body 200x60 at (100, 100) with a white head lamp, a red tail lamp."""
    image = np.full((300, 400, 3), 20, np.uint8)
    cv2.rectangle(image, (100, 100), (300, 160), (45, 40, 40), -1)
    head, rear = ((292, 125), (108, 125)) if head_at_right else ((108, 125), (292, 125))
    glow = np.zeros(image.shape, np.float32)
    cv2.circle(glow, head, 7, (235, 245, 255), -1)  # warm white
    if tail:
        cv2.circle(glow, rear, 6, (30, 30, 230), -1)  # red: bright in one channel
    glow += 0.5 * cv2.GaussianBlur(glow, (0, 0), 10) * 4.0  # the halo
    return np.clip(image + glow, 0, 255).astype(np.uint8)


@pytest.mark.parametrize('tail', [True, False])
def test_the_whiter_end_is_the_front(tail):
    box = (100, 100, 200, 60)
    assert lamp_heading(_car(True, tail), box) > 0.1
    assert lamp_heading(_car(False, tail), box) < -0.1


def test_no_lamps_no_colour_or_no_room_says_nothing():
    image = np.full((300, 400, 3), 90, np.uint8)
    assert lamp_heading(image, (100, 100, 200, 60)) == pytest.approx(0.0)
    assert lamp_heading(image[:, :, 0], (100, 100, 200, 60)) is None
    assert lamp_heading(image, (100, 100, 6, 60)) is None
    assert lamp_heading(image, (500, 100, 50, 60)) is None  # outside the image


def test_drawn_vehicles_at_night_show_which_way_they_go():
    # The cue is a vote, not a verdict: most boxes of a lit vehicle point its way, few
    # point against it (seeds no bench or training clip uses).
    right = wrong = 0
    for seed in (90210, 90211):
        world = draw_world(seed, light='night', traffic='light', width=1280, height=720)
        scene = RandomisedScene(world)
        for _ in range(15):
            image, truth, _ = scene.next_frame()
            for vehicle in truth['vehicles']:
                if vehicle['visible'] < 0.6 or vehicle['dont_care']:
                    continue
                cue = lamp_heading(image, vehicle['box'])
                way = world.lanes[vehicle['lane']].direction
                right += cue is not None and cue * way > 0.05
                wrong += cue is not None and cue * way < -0.05
    assert right >= 20 and right >= 8 * wrong, (right, wrong)


def _night_queue_error(seed: int, *, with_headings: bool):
    """Return (|counted - true| summed over directions, true) after the warm-up."""
    world = draw_world(seed, light='night', traffic='dense', width=960, height=540)
    scene = RandomisedScene(world)
    tracker = Tracker(counting_line=list(world.counting_line))
    for i in range(40):
        image, truth, _ = scene.next_frame()
        seen = [v['box'] for v in truth['vehicles'] if v['visible'] >= 0.3]
        tracker.update(seen, t=float(i), frame_size=(960, 540),
                       features=[appearance(image, box) for box in seen],
                       headings=[lamp_heading(image, box) for box in seen]
                       if with_headings else None)
        if i == 8:
            true_then, counted_then = dict(truth['crossings']), dict(tracker.counts)
    true = {d: truth['crossings'][d] - true_then[d] for d in true_then}
    counted = {d: tracker.counts[d] - counted_then[d] for d in counted_then}
    return sum(abs(counted[d] - true[d]) for d in true), sum(true.values())


def test_a_night_queue_whose_motion_aliases_is_counted_the_way_its_lamps_point():
    # Stop-and-go at night, the drawn boxes themselves: where a queue moves about one
    # gap a frame, tracks and votes learned the lane backwards. Of night dense seeds
    # 90300-90339 the lamps changed 5 clips, each for the better (errors 65 -> 44 of
    # 984 crossings); these three went 13 -> 7, 4 -> 0 and 6 -> 0.
    error = true = 0
    for seed in (90307, 90322, 90335):
        e, n = _night_queue_error(seed, with_headings=True)
        error, true = error + e, true + n
    assert true >= 60
    assert error <= 0.15 * true, f'{error} of {true} crossings off'
