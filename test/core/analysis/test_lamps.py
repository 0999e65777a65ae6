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
from framebridge_ros.core.analysis.lamps import (
    _cut_beams, _drop_lone_beams, _find_lamps, _Lamp, _LaneMemory, _pair_lamps,
    _trim_to_lamps, _vote_by_lamp_pairs)
from framebridge_ros.core.analysis.tracking import box_iou
import numpy as np
import pytest


def _blob_masks(body, run, run_lit: bool):
    """Return fg and light masks: a tall body and a flat run to its right."""
    fg = np.zeros((100, 200), np.uint8)
    light = np.zeros_like(fg)
    x, y, w, h = body
    fg[y:y + h, x:x + w] = 255
    rx, ry, rw, rh = run
    fg[ry:ry + rh, rx:rx + rw] = 255
    if run_lit:
        light[ry:ry + rh, rx:rx + rw] = 255
    return fg, light


@pytest.mark.parametrize('run, run_lit, expected_right', [
    ((80, 60, 60, 10), True, 80),    # a lit flat run ahead: a beam, cut
    ((80, 60, 60, 10), False, 140),  # an unlit flat run: a low bonnet or a trailer, kept
    ((80, 30, 60, 40), True, 140),   # lit but as tall as the body: a lit body, kept
])
def test_cut_beams_cuts_only_lit_flat_ends(run, run_lit, expected_right):
    fg, light = _blob_masks((20, 30, 60, 40), run, run_lit)
    out = _cut_beams(fg, light, height_frac=0.6)
    x, y, w, h = cv2.boundingRect(out)
    assert (x, y, x + w, y + h) == (20, 30, expected_right, 70)


@pytest.mark.parametrize('boxes, lamps, expected', [
    # head and tail lamp a car length apart on one row: one box over both
    ([(0, 50, 20, 20), (60, 52, 20, 18)], [True, True], [(0, 50, 80, 20)]),
    # the same two blobs unlit (dusk bodies in a queue): kept apart
    ([(0, 50, 20, 20), (60, 52, 20, 18)], [False, True],
     [(0, 50, 20, 20), (60, 52, 20, 18)]),
    # lamps on different lanes (rows): kept apart
    ([(0, 50, 20, 20), (60, 90, 20, 20)], [True, True],
     [(0, 50, 20, 20), (60, 90, 20, 20)]),
    # close enough, but together longer than any vehicle for its height: kept apart
    ([(0, 50, 20, 20), (80, 50, 20, 20)], [True, True],
     [(0, 50, 20, 20), (80, 50, 20, 20)]),
    # too far apart: kept apart
    ([(0, 50, 40, 40), (170, 50, 40, 40)], [True, True],
     [(0, 50, 40, 40), (170, 50, 40, 40)]),
    # three lamps in a row: the closest two pair, the third is not chained on
    ([(0, 50, 20, 20), (40, 50, 20, 20), (110, 50, 20, 20)], [True, True, True],
     [(0, 50, 60, 20), (110, 50, 20, 20)]),
])
def test_pair_lamps(boxes, lamps, expected):
    grouped = _pair_lamps(boxes, lamps, gap_frac=3.0, max_aspect=4.5)
    assert [box for box, _ in grouped] == expected
    assert sorted(part for _, parts in grouped for part in parts) == sorted(boxes)


@pytest.mark.parametrize('colour, tail', [
    ((230, 240, 250), False),  # white (LED) head lamp
    ((120, 215, 250), False),  # warm halogen head lamp: yellowish, not red
    ((40, 40, 230), True),  # red tail lamp
    ((90, 60, 240), True),  # a pinkish red tail lamp is still in the red band
])
def test_find_lamps_tells_tail_from_head_by_hue(colour, tail):
    image = np.full((120, 640, 3), 10, np.uint8)
    cv2.circle(image, (80, 60), 5, colour, -1)
    fg = np.zeros((120, 640), np.uint8)
    cv2.circle(fg, (80, 60), 12, 255, -1)
    lamps = _find_lamps(image, fg, level=200.0)
    assert [lamp.tail for lamp in lamps] == [tail]
    # Not in the foreground (a street lamp, a lit window): not a vehicle lamp.
    assert _find_lamps(image, np.zeros_like(fg), level=200.0) == []


def _left_to_right(row):
    return 1


def _right_to_left(row):
    return -1


@pytest.mark.parametrize('boxes, kinds, direction, expected', [
    # queue driving right: car A (tail, head) then car B (tail, head); A's head is
    # closest to B's tail but lies behind it, so A pairs with A and B with B
    ([(0, 50, 20, 20), (60, 50, 20, 20), (90, 50, 20, 20), (150, 50, 20, 20)],
     ['tail', 'head', 'tail', 'head'], _left_to_right,
     [(0, 50, 80, 20), (90, 50, 80, 20)]),
    # the same blobs with the lane driving left: a car's head lamp is on the left of
    # its tail lamp, so only the middle two are one car
    ([(0, 50, 20, 20), (60, 50, 20, 20), (90, 50, 20, 20), (150, 50, 20, 20)],
     ['tail', 'head', 'tail', 'head'], _right_to_left,
     [(0, 50, 20, 20), (60, 50, 50, 20), (150, 50, 20, 20)]),
    # direction unknown: a head with a tail pairs, two head lamps do not
    ([(0, 50, 20, 20), (40, 50, 20, 20), (110, 50, 20, 20)], ['head', 'head', 'tail'],
     None, [(0, 50, 20, 20), (40, 50, 90, 20)]),
    # a blob without a lamp core (its partner too dim) still pairs by distance
    ([(0, 50, 20, 20), (60, 52, 20, 18)], ['', 'head'], _left_to_right,
     [(0, 50, 80, 20)]),
])
def test_pair_lamps_puts_tail_behind_head(boxes, kinds, direction, expected):
    grouped = _pair_lamps(boxes, [True] * len(boxes), gap_frac=3.0, max_aspect=4.5,
                          kinds=kinds, direction=direction)
    assert [box for box, _ in grouped] == expected


@pytest.mark.parametrize('direction', [_left_to_right, _right_to_left])
def test_box_ends_at_its_head_and_tail_lamps(direction):
    # A 100 px vehicle (x 100-200) with a beam 80 px long lying ahead of it, lower down.
    fg = np.zeros((120, 400), np.uint8)
    fg[40:80, 100:200] = 255
    d = direction(0)
    beam = slice(200, 280) if d > 0 else slice(20, 100)
    fg[70:90, beam] = 255
    head_x, tail_x = (194, 102) if d > 0 else (102, 194)
    lamps = [_Lamp(head_x, 55, 4, 4, tail=False), _Lamp(tail_x, 55, 4, 4, tail=True)]
    x, y, w, h = cv2.boundingRect(fg)
    trimmed = _trim_to_lamps((x, y, w, h), lamps, fg, direction)
    assert box_iou(trimmed, (100, 40, 100, 40)) > 0.9, trimmed
    # Direction unknown, or no lamp inside: the box is left as it was.
    assert _trim_to_lamps((x, y, w, h), lamps, fg, lambda row: 0) == (x, y, w, h)
    assert _trim_to_lamps((x, y, w, h), [], fg, direction) == (x, y, w, h)
    # Only the tail lamp seen: the front end is unknown, so nothing is cut ahead.
    tail_only = [_Lamp(tail_x, 55, 4, 4, tail=True)]
    assert _trim_to_lamps((x, y, w, h), tail_only, fg, direction)[2] >= 170


def test_lane_direction_from_a_vehicles_own_tail_and_head_lamps():
    lanes = _LaneMemory(200, half_band=10)
    tail, head = _Lamp(100, 50, 4, 4, tail=True), _Lamp(190, 50, 4, 4, tail=False)
    for _ in range(2):
        _vote_by_lamp_pairs(lanes, [(98, 40, 100, 30)], [tail, head])
    assert lanes.direction(52) == 1 and lanes.direction(150) == 0  # its band only
    # A queue's gap: the rear car's head lamp, then the front car's tail lamp, close
    # together. The order says "left" but it is two vehicles: no vote.
    gap = [_Lamp(100, 120, 4, 4, tail=False), _Lamp(130, 120, 4, 4, tail=True)]
    for _ in range(3):
        _vote_by_lamp_pairs(lanes, [(98, 110, 40, 30)], gap)
    assert lanes.direction(122) == 0


def test_lit_patches_without_lamps_are_neither_paired_nor_kept():
    beam_a, beam_b, car = (300, 80, 40, 10), (350, 82, 30, 8), (100, 60, 90, 30)
    boxes = [car, beam_a, beam_b]
    kinds, lit = ['head', '', ''], [True, True, True]
    grouped = _pair_lamps(boxes, lit, gap_frac=3.0, max_aspect=4.5, kinds=kinds)
    assert [parts for _, parts in grouped] == [(car,), (beam_a,), (beam_b,)]
    kept = _drop_lone_beams(grouped, boxes, kinds, lit, max_aspect=4.5)
    assert [box for box, _ in kept] == [car]
    # Not lit enough to count (dusk): only flatter than any side view goes.
    faint_beam, dark_car = (300, 80, 60, 12), (100, 60, 90, 30)
    singles = [(faint_beam, (faint_beam,)), (dark_car, (dark_car,))]
    kept = _drop_lone_beams(singles, [faint_beam, dark_car], ['', ''], [False, False],
                            max_aspect=4.5)
    assert [box for box, _ in kept] == [dark_car]
    # A box grown from a lone head lamp to its lane's length keeps the lamp's flags.
    lamp, grown = (150, 55, 40, 14), (100, 50, 90, 20)
    kept = _drop_lone_beams([(grown, (lamp,))], [lamp], ['head'], [True], max_aspect=4.5)
    assert [box for box, _ in kept] == [grown]


def test_a_beam_is_cut_only_ahead_of_a_head_lamp():
    # The same lit flat run right of a body: cut when the head lamp is at that end,
    # kept when the only lamp is at the other end (a bright body's low end).
    fg, light = _blob_masks((20, 30, 60, 40), (80, 60, 60, 10), True)
    at_front = [_Lamp(76, 45, 4, 4, tail=False)]
    at_back = [_Lamp(21, 45, 4, 4, tail=False)]
    assert cv2.boundingRect(_cut_beams(fg, light, height_frac=0.6, heads=at_front))[2] == 60
    assert cv2.boundingRect(_cut_beams(fg, light, height_frac=0.6, heads=at_back))[2] == 120
