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

from pathlib import Path

import cv2
from framebridge_ros.core.analysis.motion_detector import (
    _merge_fragments, MotionConfig, MotionDetector)
from framebridge_ros.core.analysis.region import parse_region
from framebridge_ros.core.analysis.tracking import box_iou
from framebridge_testing import test_image
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


def test_fragments_merge_only_into_something_a_vehicle_could_be():
    # Two halves of a car merge; a row of cars nose to tail in dense traffic does not
    # chain into one box longer than any vehicle's side view.
    halves = [(100, 50, 40, 30), (145, 52, 40, 28)]
    assert _merge_fragments(halves, 0.3, max_aspect=4.5) == [(100, 50, 85, 30)]
    queue = [(100 + 95 * k, 50, 90, 30) for k in range(4)]
    merged = _merge_fragments(queue, 0.3, max_aspect=4.5)
    assert all(w <= 4.5 * h for _, _, w, h in merged) and len(merged) >= 2
