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

"""
frame_provider: the container side of the hand-off, as a lifecycle node.

Watches <capture_dir>/live/ and publishes each new, complete, fresh frame:

    camera/image_raw             sensor_msgs/Image bgr8 (decoded only if subscribed)
    camera/image_raw/compressed  sensor_msgs/CompressedImage, the file's bytes as they are
    camera/image_scaled          sensor_msgs/Image bgr8, DCT-scaled decode (if subscribed)
    camera/camera_info           sensor_msgs/CameraInfo, latched
    camera/metadata              std_msgs/String, the frame's metadata JSON, latched
    /diagnostics                 diagnostic_msgs/DiagnosticArray, once a second

Every header.stamp is the capture time. Image topics are reliable, transient-local
depth 1 with lifespan = max_age_s; a frame older than max_age_s is never published.

Lifecycle: configure checks parameters, opens the volume and creates publishers;
activate starts watching; deactivate pauses; cleanup releases everything.
"""

import json
import threading
import time
from typing import Dict, Optional, Set

from framebridge_ros.core.calibration import (
    CalibrationError, load_calibration, uncalibrated)
from framebridge_ros.core.health import feed_health, Health
from framebridge_ros.core.params import ParamSpec
from framebridge_ros.core.volume.feed import FrameFeed
from framebridge_ros.core.volume.frames import (
    check_freshness, DecodeCache, Frame, FrameRejected)
from framebridge_ros.core.volume.layout import VolumeError, VolumeLayout
from framebridge_ros.core.volume.watcher import WATCH_MODES
from framebridge_ros.nodes.base import ManagedNode
from framebridge_ros.ros_glue import (
    camera_info_msg, compressed_msg, epoch_to_stamp, frame_qos, image_to_msg, latched_qos,
    run_node, unless_stopping)
from rclpy.event_handler import PublisherEventCallbacks
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

__all__ = ['FrameProvider', 'PROVIDER_PARAMS', 'main']

SCALES = ('1.0', '0.5', '0.25', '0.125')

PROVIDER_PARAMS = (
    ParamSpec('capture_dir', '/mnt/storage/camera_capture',
              'Root of the shared volume; frames are read from its live/.'),
    ParamSpec('max_age_s', 5.0, 'Frames older than this (capture time to now) are never '
              'published; also the lifespan QoS of the image topics.',
              min_value=0.1, max_value=3600.0),
    ParamSpec('watch_mode', 'auto', 'How new frames are noticed: events (inotify), poll, '
              'or auto (events plus a poll as safety net).', choices=WATCH_MODES),
    ParamSpec('poll_interval_s', 1.0, 'Seconds between directory scans in poll and auto.',
              min_value=0.01, max_value=60.0),
    ParamSpec('frame_id', 'camera_optical_frame', 'header.frame_id of every message.'),
    ParamSpec('camera_info_url', '', 'Calibration YAML (file:///path.yaml or a path); '
              'empty publishes an uncalibrated CameraInfo of the frame size.'),
    ParamSpec('publish_raw', True, 'Publish camera/image_raw (decoded only when subscribed).'),
    ParamSpec('publish_compressed', True, 'Publish camera/image_raw/compressed.'),
    ParamSpec('scale', '0.25', 'Decode scale of camera/image_scaled (libjpeg DCT scaling).',
              choices=SCALES),
    ParamSpec('cache_size', 10, 'Decoded frames kept in memory.', min_value=0, max_value=1000),
    ParamSpec('cache_max_mb', 160, 'Upper bound of the decode cache in MiB (160: four 12 MP '
              'frames, or ten at 1080p).',
              min_value=1, max_value=65536),
    ParamSpec('min_file_bytes', 1024, 'Smaller JPEGs are refused as broken.',
              min_value=0, max_value=100000000),
)

_CORE_LOGGERS = ('framebridge.feed', 'framebridge.watcher')


class FrameProvider(ManagedNode):
    """Publishes the frames of a shared volume; see the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('frame_provider', specs=PROVIDER_PARAMS,
                         core_loggers=_CORE_LOGGERS, **kwargs)
        self._feed: Optional[FrameFeed] = None
        self._cache: Optional[DecodeCache] = None
        self._calibration: Optional[dict] = None
        self._raw_pub = self._compressed_pub = self._scaled_pub = None
        self._info_pub = self._metadata_pub = None
        self._last_frame: Optional[Frame] = None
        self._published_topics: Set[str] = set()
        self._publish_lock = threading.Lock()  # feed thread and matched events both publish
        self.frames_published = 0

    # --- lifecycle ------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        params = self.read_configuration()
        if params is None:
            return TransitionCallbackReturn.FAILURE
        try:
            layout = VolumeLayout.at(params['capture_dir'])
            layout.ensure(writable=False)
            if params['camera_info_url']:
                self._calibration = load_calibration(params['camera_info_url'])
        except (VolumeError, CalibrationError) as error:
            return self.configure_failed(error)
        self._cache = DecodeCache(max_entries=params['cache_size'],
                                  max_bytes=params['cache_max_mb'] * 1024 * 1024)
        image_qos = frame_qos(params['max_age_s'])
        # A new subscriber may have missed the last frame because nobody wanted it
        # decoded then: replay it to them if it is still fresh.
        replay = PublisherEventCallbacks(matched=self._on_subscriber_matched)
        self._raw_pub = self.add_publisher(Image, 'camera/image_raw', image_qos,
                                           event_callbacks=replay)
        self._compressed_pub = self.add_publisher(
            CompressedImage, 'camera/image_raw/compressed', image_qos)
        self._scaled_pub = self.add_publisher(
            Image, 'camera/image_scaled', image_qos,
            event_callbacks=PublisherEventCallbacks(matched=self._on_subscriber_matched))
        self._info_pub = self.add_publisher(CameraInfo, 'camera/camera_info', latched_qos())
        self._metadata_pub = self.add_publisher(String, 'camera/metadata', latched_qos())
        self._feed = FrameFeed(layout, on_frame=self._publish_frame,
                               max_age_s=params['max_age_s'],
                               watch_mode=params['watch_mode'],
                               poll_interval_s=params['poll_interval_s'],
                               min_file_bytes=params['min_file_bytes'])
        self.get_logger().info(
            f'configured: {layout.live}, max_age_s={params["max_age_s"]:g}, '
            f'scale={params["scale"]}, camera_info='
            f'{params["camera_info_url"] or "uncalibrated"}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        # Publishers first: the feed hands over the newest frame as soon as it starts.
        result = super().on_activate(state)
        try:
            self._feed.start()
        except OSError as error:
            self.get_logger().error(f'activate failed: {error}; staying inactive')
            self._feed.stop()
            super().on_deactivate(state)
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f'watching ({self._feed.watch_mode_in_use}) and publishing')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._feed is not None:
            self._feed.stop()
        return super().on_deactivate(state)

    def release(self) -> None:
        if self._feed is not None:
            self._feed.stop()
            self._feed = None
        super().release()
        self._raw_pub = self._compressed_pub = self._scaled_pub = None
        self._info_pub = self._metadata_pub = None
        if self._cache is not None:
            self._cache.clear()
        self._cache = None
        self._calibration = None
        self._last_frame = None

    # --- publishing (on the feed's worker thread) -----------------------------------

    def _publish_frame(self, frame: Frame, *, replay: bool = False) -> None:
        with self._publish_lock:
            # Ctrl-C: rclpy shuts the context down before on_shutdown stops the feed, and a
            # frame landing in between has nowhere to go. Not an error: it stays in live/.
            if not self.context.ok():
                return
            with unless_stopping(self):
                self._publish_locked(frame, replay=replay)

    def _publish_locked(self, frame: Frame, *, replay: bool) -> None:
        if not replay:
            self._last_frame, self._published_topics = frame, set()
        params = self.params
        stamp = epoch_to_stamp(frame.capture_time)
        frame_id = params['frame_id']
        done = self._published_topics
        # Age is checked again right before publishing: decoding a 12 MP frame takes time.
        if 'metadata' not in done:
            self._metadata_pub.publish(String(data=json.dumps(frame.metadata)))
            calibration = self._calibration or uncalibrated(width=frame.width,
                                                            height=frame.height)
            self._info_pub.publish(camera_info_msg(calibration, stamp=stamp,
                                                   frame_id=frame_id))
            done.add('metadata')
        if params['publish_compressed'] and 'compressed' not in done:
            check_freshness(frame.capture_time, now=time.time(), max_age_s=params['max_age_s'])
            self._compressed_pub.publish(compressed_msg(frame.jpeg, stamp=stamp,
                                                        frame_id=frame_id))
            done.add('compressed')
        # Scaled first: the analysis nodes wait on it, and it decodes in a fraction of
        # the time (bench/handoff.py: 12 MP image_scaled 173 -> 54 ms, image_raw +26 ms).
        for key, publisher, scale in (
                ('scaled', self._scaled_pub, float(params['scale'])),
                ('raw', self._raw_pub, 1.0)):
            if key in done or publisher.get_subscription_count() == 0:
                continue
            if key == 'raw' and not params['publish_raw']:
                continue
            image = self._cache.decode(frame, scale=scale)
            check_freshness(frame.capture_time, now=time.time(), max_age_s=params['max_age_s'])
            publisher.publish(image_to_msg(image, stamp=stamp, frame_id=frame_id))
            done.add(key)
        if not replay:
            self.frames_published += 1

    def _on_subscriber_matched(self, info) -> None:
        frame = self._last_frame
        if info.current_count_change <= 0 or frame is None or self._feed is None:
            return
        try:
            self._publish_frame(frame, replay=True)
        except FrameRejected:
            pass  # the last frame has aged out: the new subscriber waits for the next one

    # --- diagnostics ----------------------------------------------------------------

    def health(self) -> Dict[str, Health]:
        feed = self._feed
        if feed is None:
            return {}
        last = self._last_frame
        return {f'{self.get_name()}: frames': feed_health(
            feed.stats, now=time.time(),
            last_capture_time=None if last is None else last.capture_time,
            max_age_s=self.params['max_age_s'], watch_mode=feed.watch_mode_in_use or '-',
            published=self.frames_published,
            cache_hit_rate=self._cache.hit_rate if self._cache else 0.0)}


def main(args=None) -> None:
    run_node(FrameProvider, args)


if __name__ == '__main__':
    main()
