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

"""Tests of order-keeping association within a lane, and of the tracker that uses it."""

from framebridge_ros.core.analysis.lane_order import (
    align, Expected, lane_groups, LaneFrame, match_lane, Seen)
from framebridge_ros.core.analysis.tracking import Tracker
import numpy as np
import pytest


def _lane(fronts, step, *, missing=(), speed_error=0.0):
    """Return Expected/Seen of cars 100 px long at fronts, moved by step; some unseen."""
    expected = [Expected(s_last=f - 50.0, predictions=((f - 50.0 + step * (1.0 + speed_error),
                                                        0.5 * step),),
                         length=100.0, height=40.0) for f in fronts]
    seen = [Seen(s=f - 50.0 + step, length=100.0, height=40.0)
            for k, f in enumerate(fronts) if k not in missing]
    return expected, seen


def _match(expected, seen, direction=1):
    return match_lane(expected, seen, direction=direction, step=120.0, s_min=0.0,
                      s_max=1280.0, max_height_ratio=1.6, unlike=lambda i, j: 0.0,
                      appearance_weight=2.0)[0]


def test_a_missed_vehicle_is_skipped_not_shifted_onto_its_neighbour():
    # Nose to tail at one car length a frame, the prediction 30 % short: the car behind
    # is as near to a track's prediction as its own car. The third car is not seen.
    fronts = [1100.0, 960.0, 830.0, 700.0, 560.0, 430.0]
    expected, seen = _lane(fronts, 120.0, missing={2}, speed_error=-0.3)
    pairs = _match(expected, seen)
    assert pairs == [(5, 4), (4, 3), (3, 2), (1, 1), (0, 0)]


def test_a_vehicle_leaves_at_the_downstream_edge_and_one_comes_in_upstream():
    expected, _ = _lane([1250.0, 1000.0, 700.0], 200.0)
    seen = [Seen(s=80.0, length=100.0, height=40.0),  # came in at the upstream edge
            Seen(s=850.0, length=100.0, height=40.0), Seen(s=1150.0, length=100.0,
                                                           height=40.0)]
    pairs = _match(expected, seen)
    assert sorted(pairs) == [(1, 2), (2, 1)]  # the first track left the frame


@pytest.mark.parametrize('direction', [1, -1])
def test_nobody_reverses_in_a_lane(direction):
    # A car that stood still is not seen; the only detection is 40 px behind its last
    # place (the next car, closing up). It fits the car's standing prediction, but the
    # car would have moved backwards: the car is missed and the detection is new.
    expected = [Expected(s_last=600.0, predictions=((600.0, 50.0),), length=100.0,
                         height=40.0)]
    seen = [Seen(s=600.0 - direction * 40.0, length=100.0, height=40.0)]
    assert _match(expected, seen, direction) == []
    seen = [Seen(s=600.0 + direction * 40.0, length=100.0, height=40.0)]
    assert _match(expected, seen, direction) == [(0, 0)]  # forwards is fine


def test_align_is_an_edit_distance_in_order():
    cost = [[0.0, None, None], [None, None, 0.1], [None, 5.0, None]]
    # Pairing (2, 1) would cross the pair (1, 2): order is kept, so it is left out.
    assert align(cost, [1.0] * 3, [1.0] * 3) == ([(0, 0), (1, 2)], pytest.approx(2.1))
    assert align([], [], []) == ([], 0.0)
    assert align([[None]], [0.5], [0.5]) == ([], 1.0)


def test_lane_groups_follow_the_ground_not_the_box_centre():
    # A bus and a car in one lane share their ground row; a car one lane farther away
    # has its ground a lane width (more than twice its height) higher up.
    u = [400.0, 401.0, 330.0]
    heights = [90.0, 40.0, 36.0]
    assert lane_groups(u, heights) == [[2], [0, 1]]


@pytest.mark.parametrize('line, box, expected', [
    (((500.0, 0.0), (500.0, 700.0)), (100.0, 300.0, 80.0, 40.0), (340.0, 140.0)),
    (((500.0, 700.0), (500.0, 0.0)), (100.0, 300.0, 80.0, 40.0), (-340.0, 140.0)),
    (((0.0, 300.0), (1000.0, 300.0)), (100.0, 300.0, 80.0, 40.0), (140.0, 340.0)),
])
def test_lane_frame_measures_across_the_line_the_first_directions_way(line, box, expected):
    frame = LaneFrame(line[0], line[1], (1000, 700), vertical=line[0][0] == line[1][0])
    assert frame.position(box) == pytest.approx(expected)


def _queue_lane(seed, *, speed, frames, miss_rate, size_noise=0.0):
    """
    Return (t, boxes, true crossings so far) at 1 fps: one dense lane, left to right.

    Cars of 110-150 px, some vans and motorcycles, gaps of 0.3 to 1 car length, each at
    its own speed (+-10 %) but never closer than 30 px to the one ahead; a stop line at
    x = 560 is red from 10 s to 18 s, so a queue stands just before the counting line
    (x = 640) and then pulls away. Each detection is missed with ``miss_rate``, and its
    length and height are off by a factor of exp(N(0, ``size_noise``)), as a detector's
    boxes are (the learned back-end's: 0.06-0.08 on the randomised camera).
    """
    rng = np.random.default_rng(seed)
    cars, front = [], 0.0  # [front x, length, wanted speed, speed]
    for _ in range(80):
        length = rng.choice([rng.uniform(110, 150), rng.uniform(160, 200), rng.uniform(60, 70)],
                            p=[0.8, 0.15, 0.05])
        cars.append([front, length, speed * rng.uniform(0.9, 1.1), 0.0])
        front -= length + rng.uniform(0.3, 1.0) * 130.0
    crossed, out, dt = 0, [], 0.25
    for step in range(int(frames / dt)):
        t = step * dt
        lead_rear = None
        for car in cars:
            limit = 1e9 if lead_rear is None else lead_rear - car[0] - 30.0
            if 10.0 <= t < 18.0 and car[0] <= 560.0:
                limit = min(limit, 560.0 - car[0])
            wanted = min(car[2], max(0.0, limit))
            car[3] = min(wanted, car[3] + 0.6 * car[2] * dt) if wanted > car[3] else wanted
            before = car[0] - car[1] / 2.0
            car[0] += car[3] * dt
            crossed += before < 640.0 <= car[0] - car[1] / 2.0
            lead_rear = car[0] - car[1]
        if step % 4 == 3:
            boxes, which = [], []
            for k, (front, length, _, _) in enumerate(cars):
                x0, x1 = max(0.0, front - length), min(1280.0, front)
                if x1 - x0 > 0.3 * length and rng.random() >= miss_rate:
                    grow, tall = np.exp(rng.normal(0.0, size_noise, 2)) if size_noise \
                        else (1.0, 1.0)
                    boxes.append((x0, 300.0, (x1 - x0) * grow,
                                  (40.0 + 0.1 * (length - 130.0)) * tall))
                    which.append(k)
            out.append((t + dt, boxes, which, crossed))
    return out


@pytest.mark.parametrize('size_noise, share', [(0.0, 0.03), (0.07, 0.06)])
def test_a_dense_queueing_lane_at_one_length_a_frame_is_counted_despite_misses(size_noise, share):
    # About one car length (130 px) a frame, no colour (night), one detection in ten
    # missed, and a queue that stands just before the line and pulls away: the car
    # behind stands about where the car ahead stood, a missed car leaves a gap its
    # neighbours' tracks would close, and a standing queue would alias backwards. With
    # exact sizes (drawn boxes) and with a detector's size noise.
    errors, crossings = [], 0
    for seed in range(1, 13):
        tracker = Tracker(counting_line=(0.5, 0.0, 0.5, 1.0))
        for t, boxes, _, crossed in _queue_lane(seed, speed=130.0, frames=50,
                                                miss_rate=0.1, size_noise=size_noise):
            tracker.update(boxes, t=t, frame_size=(1280, 720))
            if t == 8.0:
                start, counted = crossed, sum(tracker.counts.values())
        true, found = crossed - start, sum(tracker.counts.values()) - counted
        errors.append(found - true)
        crossings += true
    # The greedy tracker alone is off on 8 of the 12 seeds (13 crossings in all). The size
    # term is set for a detector's boxes (lane_order._SIZE_SPREAD), so exact boxes lose a
    # little (5 of 198; 2 at the spread tuned on drawn boxes), and noisy ones gain (11
    # of 198, against 28 at that spread and 37 before the lanes were learned).
    assert crossings > 180 and sum(map(abs, errors)) <= share * crossings, errors


def test_colours_that_change_from_frame_to_frame_still_count_in_a_lane():
    # At night a box's colours change as it passes lamps and beams: here each vehicle
    # keeps 45 to 100 % of its own colour and takes the rest at random every frame, so
    # about half of one vehicle's consecutive boxes lie past the greedy pass's colour
    # gate (Bhattacharyya 0.5), as seen in the simulator's night lanes; two vehicles'
    # lie about 1.0 apart. Within a lane colour only adds to the cost.
    errors = []
    for seed in range(1, 7):
        rng = np.random.default_rng(seed)
        tracker = Tracker(counting_line=(0.5, 0.0, 0.5, 1.0))
        for t, boxes, which, crossed in _queue_lane(seed, speed=130.0, frames=50,
                                                    miss_rate=0.0):
            features = []
            for k in which:
                f = np.zeros(96, np.float32)
                own = rng.uniform(0.45, 1.0)
                f[k % 48] += own
                f[48 + rng.integers(48)] += 1.0 - own
                features.append(f)
            tracker.update(boxes, t=t, frame_size=(1280, 720), features=features)
            if t == 8.0:
                start, counted = crossed, sum(tracker.counts.values())
        errors.append(sum(tracker.counts.values()) - counted - (crossed - start))
    assert max(map(abs, errors)) <= 1 and sum(map(abs, errors)) <= 1, errors
