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

"""The provider engine without ROS: feed order, back-pressure, decode cache, calibration."""

import logging
import threading
import time

from framebridge_ros.core.calibration import (
    CalibrationError, load_calibration, uncalibrated)
from framebridge_ros.core.volume.feed import FrameFeed
from framebridge_ros.core.volume.frames import DecodeCache, FrameRejected, load_frame
from framebridge_testing import encode, test_image, wait_for, write_frame
import numpy as np
import pytest


def test_slow_consumer_gets_the_newest_frame_and_skips_are_counted(volume):
    delivered, release = [], threading.Event()

    def slow_consumer(frame):
        delivered.append(frame.name)
        release.wait(10)

    feed = FrameFeed(volume, on_frame=slow_consumer, max_age_s=30, watch_mode='events')
    feed.start()
    try:
        first = write_frame(volume)[0]
        wait_for(lambda: delivered == [first.name], timeout_s=5, what='first frame')
        backlog = [write_frame(volume)[0] for _ in range(5)]
        wait_for(lambda: feed.stats.skipped_backlog == 4, timeout_s=5, what='4 skipped')
        release.set()
        wait_for(lambda: len(delivered) == 2, timeout_s=5, what='newest frame')
        assert delivered[1] == backlog[-1].name
    finally:
        release.set()
        feed.stop()


def test_older_and_repeated_reports_are_ignored(volume):
    delivered = []
    feed = FrameFeed(volume, on_frame=lambda frame: delivered.append(frame.name),
                     max_age_s=30, watch_mode='events')
    feed.start()
    try:
        newer = write_frame(volume)[0]
        wait_for(lambda: delivered == [newer.name], timeout_s=5, what='frame')
        older = write_frame(volume, capture_time=time.time() - 1)[0]
        feed._offer(newer, time.time())  # the same name again (a scan, a closed event)
        feed._offer(older, time.time())  # a straggler
        latest = write_frame(volume)[0]
        wait_for(lambda: latest.name in delivered, timeout_s=5, what='next frame')
        # Neither a second copy of the repeated name nor the older one got through.
        assert delivered == [newer.name, latest.name]
        assert feed.stats.delivered == 2
    finally:
        feed.stop()


def test_a_report_queued_while_its_frame_was_read_is_not_delivered_again(volume):
    """The safety scan can report a frame again while the worker is still reading it."""
    delivered = []
    feed = FrameFeed(volume, on_frame=lambda frame: delivered.append(frame.name),
                     max_age_s=30, watch_mode='events')
    first = write_frame(volume)[0]
    feed._deliver(first)   # the worker's read of the first report...
    feed._pending = first  # ...while the second report was queued behind it
    feed.start()
    try:
        second = write_frame(volume)[0]
        wait_for(lambda: delivered[-1:] == [second.name], timeout_s=5, what='next frame')
        assert delivered == [first.name, second.name]
    finally:
        feed.stop()


def test_existing_fresh_frame_is_delivered_at_start_and_stale_one_is_not(volume):
    write_frame(volume, capture_time=time.time() - 100)
    delivered = []
    feed = FrameFeed(volume, on_frame=lambda frame: delivered.append(frame), max_age_s=5,
                     watch_mode='poll', poll_interval_s=0.05)
    feed.start()
    try:
        wait_for(lambda: feed.stats.rejected['stale'] == 1, timeout_s=5, what='stale')
        assert delivered == []
        fresh = write_frame(volume)[0]
        wait_for(lambda: [frame.name for frame in delivered] == [fresh.name], timeout_s=5,
                 what='fresh frame by polling')
    finally:
        feed.stop()


def test_refusals_are_counted_logged_once_per_episode_and_warned_about(volume, caplog):
    from framebridge_ros.core.health import feed_health, Level
    delivered = []
    feed = FrameFeed(volume, on_frame=lambda frame: delivered.append(frame), max_age_s=5,
                     watch_mode='poll', poll_interval_s=0.02, min_file_bytes=100)
    caplog.set_level(logging.DEBUG, logger='framebridge.feed')

    def health():
        last = delivered[-1].capture_time if delivered else None
        return feed_health(feed.stats, now=time.time(), last_capture_time=last,
                           max_age_s=5, watch_mode='poll', published=len(delivered),
                           cache_hit_rate=0.0)

    def warnings():
        return [record.getMessage() for record in caplog.records
                if record.levelno == logging.WARNING]

    feed.start()
    try:
        first = write_frame(volume)[0]
        wait_for(lambda: len(delivered) == 1, timeout_s=5, what='first frame')
        assert health().level == Level.OK
        (volume.live / 'holiday.jpg').write_bytes(encode(test_image(seed=3)))
        for number in (1, 2):  # one at a time: a scan offers only the newest of a burst
            write_frame(volume, jpeg=b'\xff\xd8' + b'x' * 500)
            wait_for(lambda: feed.stats.rejected['corrupt'] == number, timeout_s=5,
                     what=f'refusal {number}')
        write_frame(volume, capture_time=time.time() - 60)  # stale, and older: not offered
        for number in (2, 3):  # each later scan lists holiday.jpg again
            (volume.live / f'holiday{number}.jpg').write_bytes(b'mine')
            wait_for(lambda: feed.stats.rejected['foreign_name'] >= number, timeout_s=5,
                     what=f'holiday{number}.jpg seen')
        assert feed.stats.rejected['foreign_name'] == 3  # each name once, however often seen
        assert feed.stats.refused_since_delivery == 5
        report = health()
        assert report.level == Level.WARN, report.message
        assert report.message.startswith('frames are being refused: 5 frame(s)')
        assert report.values['skipped_corrupt'] == 2 and report.values['skipped_foreign_name'] == 3
        assert report.values['refused_since_last_frame'] == 5
        # One line per reason in the episode, not one per frame or per scan.
        assert len([text for text in warnings() if 'holiday' in text]) == 1
        assert len([text for text in warnings() if '(corrupt)' in text]) == 1

        latest = write_frame(volume)[0]
        wait_for(lambda: any(f'published {latest.name} after 5 refused frame(s)'
                             in record.getMessage() for record in caplog.records),
                 timeout_s=5, what='the end of the episode logged')
        assert health().level == Level.OK and feed.stats.refused_since_delivery == 0
        # A new episode is logged again.
        write_frame(volume, jpeg=b'\xff\xd8' + b'y' * 500)
        wait_for(lambda: len([text for text in warnings() if '(corrupt)' in text]) == 2,
                 timeout_s=5, what='the next episode logged')
        assert first.name == delivered[0].name
    finally:
        feed.stop()


def test_a_refusal_while_a_frame_is_published_is_not_forgotten(volume):
    # The scan thread refuses files while the delivery thread publishes: a refusal that
    # lands during the publication is after that frame, and must stay counted.
    feed = None

    def publish(frame):
        (volume.live / 'holiday.jpg').write_bytes(encode(test_image(seed=3)))
        wait_for(lambda: feed.stats.rejected['foreign_name'] == 1, timeout_s=5,
                 what='the foreign file refused during the publication')

    feed = FrameFeed(volume, on_frame=publish, max_age_s=30, watch_mode='poll',
                     poll_interval_s=0.02)
    feed.start()
    try:
        write_frame(volume)
        wait_for(lambda: feed.stats.delivered == 1, timeout_s=5, what='the frame delivered')
        assert feed.stats.refused_since_delivery == 1
        assert 'holiday.jpg' in feed.stats.last_refused
    finally:
        feed.stop()


def test_consumer_exception_does_not_stop_the_feed(volume):
    calls = []

    def broken_then_fine(frame):
        calls.append(frame.name)
        if len(calls) == 1:
            raise RuntimeError('consumer bug')

    feed = FrameFeed(volume, on_frame=broken_then_fine, max_age_s=30, watch_mode='events')
    feed.start()
    try:
        write_frame(volume)
        wait_for(lambda: len(calls) == 1, timeout_s=5, what='first call')
        write_frame(volume)
        wait_for(lambda: feed.stats.delivered == 1, timeout_s=5, what='second delivered')
    finally:
        feed.stop()


def test_decode_cache_hits_and_stays_within_its_bounds(volume):
    frames = [load_frame(volume, write_frame(volume, jpeg=encode(test_image(seed=i)))[0],
                         max_age_s=30) for i in range(4)]
    one_image_bytes = 320 * 240 * 3
    cache = DecodeCache(max_entries=10, max_bytes=2 * one_image_bytes)
    first = cache.decode(frames[0])
    assert cache.decode(frames[0]) is first and (cache.hits, cache.misses) == (1, 1)
    assert not first.flags.writeable
    for frame in frames[1:]:
        cache.decode(frame)
    assert len(cache) == 2 and cache.size_bytes <= 2 * one_image_bytes
    assert cache.decode(frames[0]) is not first  # evicted, decoded again
    counted = DecodeCache(max_entries=1)
    counted.decode(frames[0])
    counted.decode(frames[1])
    assert len(counted) == 1
    assert DecodeCache(max_entries=0).decode(frames[0]).shape == (240, 320, 3)


def test_load_frame_rejects_oversized_files(volume):
    path = write_frame(volume)[0]
    with pytest.raises(FrameRejected) as rejected:
        load_frame(volume, path, max_age_s=30, max_file_bytes=100)
    assert rejected.value.reason == 'too_large'


CALIBRATION = """image_width: 640
image_height: 480
camera_name: imx500
camera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0.1, -0.2, 0, 0, 0]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [500, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0]}
"""


@pytest.mark.parametrize('as_url', [False, True])
def test_calibration_file_in_camera_calibration_format(tmp_path, as_url):
    path = tmp_path / 'imx500.yaml'
    path.write_text(CALIBRATION)
    calibration = load_calibration(f'file://{path}' if as_url else str(path))
    assert (calibration['width'], calibration['height']) == (640, 480)
    assert calibration['k'][0] == 500.0 and calibration['d'][:2] == [0.1, -0.2]
    assert len(calibration['p']) == 12 and calibration['model'] == 'plumb_bob'


@pytest.mark.parametrize('content, message', [
    ('image_width: 640\n', 'image_width/image_height'),
    ('[1, 2]', 'calibration mapping'),
    ('image_width: 1\nimage_height: 1\ncamera_matrix: {data: [1, 2]}\n', 'expected 9'),
    ('image_width: [\n', 'not valid YAML'),
])
def test_broken_calibration_says_why(tmp_path, content, message):
    path = tmp_path / 'c.yaml'
    path.write_text(content)
    with pytest.raises(CalibrationError, match=message):
        load_calibration(str(path))
    with pytest.raises(CalibrationError, match='cannot read'):
        load_calibration(str(tmp_path / 'missing.yaml'))


def test_uncalibrated_has_the_frame_size_and_zero_k():
    calibration = uncalibrated(width=4056, height=3040)
    assert (calibration['width'], calibration['height']) == (4056, 3040)
    assert not np.any(calibration['k'])
