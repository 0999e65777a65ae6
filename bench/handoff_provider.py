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
frame_provider for the hand-off benchmark, with proposed changes applied.

    python -m bench.handoff_provider --variant reuse [--variant ...] [--ros-args ...]

The node, its parameters and its lifecycle are framebridge_ros.nodes.frame_provider's;
the benchmark drives it over lifecycle_msgs/srv/ChangeState as it drives the real
module. Each variant swaps one piece to measure a change before anyone makes it in the
package (each docstring below says what the change in the package would be):

    reuse         image_to_msg fills a message buffer kept per image shape
    scaled_first  camera/image_scaled is decoded and published before camera/image_raw
    quiet_poll    the safety-net scan of live/ skips a directory whose mtime is unchanged
"""

import argparse
import array
import os
import time
from typing import Callable, Dict, List, Optional, Tuple

from builtin_interfaces.msg import Time
import framebridge_ros.core.volume.feed as feed
from framebridge_ros.core.volume.watcher import VolumeWatcher
import framebridge_ros.nodes.frame_provider as frame_provider
import framebridge_ros.ros_glue as ros_glue
import numpy as np
from sensor_msgs.msg import Image

__all__ = ['QuietPollWatcher', 'ScaledFirstProvider', 'VARIANTS', 'main',
           'reusing_image_to_msg']


def reusing_image_to_msg() -> Callable[..., Image]:
    """
    Return an image_to_msg that fills one reused buffer per image shape.

    One warm memcpy instead of page-faulting a fresh 37 MB array.array per 12 MP frame.
    Safe because publish() has copied the message into the middleware when it returns,
    and the provider publishes under its lock. In the package: keep the buffers in
    the node and hand them to ros_glue.image_to_msg(..., buffer=...).
    """
    buffers: Dict[Tuple[int, ...], array.array] = {}

    def image_to_msg(image: np.ndarray, *, stamp: Time, frame_id: str,
                     encoding: str = 'bgr8') -> Image:
        buffer = buffers.get(image.shape)
        if buffer is None:
            buffer = buffers[image.shape] = array.array('B', bytes(image.nbytes))
        return ros_glue.image_to_msg(image, stamp=stamp, frame_id=frame_id,
                                     encoding=encoding, buffer=buffer)

    return image_to_msg


class _NoSubscribers:
    """Stand in for a publisher that nobody listens to, so the provider skips it for now."""

    def get_subscription_count(self) -> int:
        return 0


class ScaledFirstProvider(frame_provider.FrameProvider):
    """
    Publish camera/image_scaled before camera/image_raw.

    The analysis nodes read image_scaled: at 12 MP they wait for the full decode and the
    37 MB publish of image_raw otherwise. In the package: swap the two entries of the
    (key, publisher, scale) tuple in FrameProvider._publish_locked. Here the parent runs
    twice, first with image_raw hidden, so its logic is measured as it is.
    """

    def _publish_locked(self, frame, *, replay: bool) -> None:
        if not replay:
            self._last_frame, self._published_topics = frame, set()
        raw_publisher, self._raw_pub = self._raw_pub, _NoSubscribers()
        try:
            super()._publish_locked(frame, replay=True)
        finally:
            self._raw_pub = raw_publisher
        super()._publish_locked(frame, replay=True)
        if not replay:
            self.frames_published += 1


class QuietPollWatcher(VolumeWatcher):
    """
    Scan live/ only when its mtime changed since the last scan.

    The scan every poll_interval_s is the safety net of auto mode; with 10,000 files in
    live/ it lists and matches every name each second. An unchanged directory mtime
    means no name was added or removed; the mtime is trusted only once it is older than
    the filesystem's coarse clock tick, so a change in the same tick is never missed.
    In the package: the same test at the top of VolumeWatcher._poll.
    """

    _TICK_NS = 100_000_000

    def _poll(self) -> None:
        trusted_mtime = None
        while not self._stop.wait(self._poll_interval_s):
            try:
                mtime = os.stat(self._directory).st_mtime_ns
            except OSError:
                mtime = None
            if mtime is not None and mtime == trusted_mtime:
                continue
            names = self._scan_names()
            for name in sorted(names - self._known):
                self._on_frame(self._directory / name, time.time())
            self._known = names
            old_enough = mtime is not None and time.time_ns() - mtime > self._TICK_NS
            trusted_mtime = mtime if old_enough else None


def _reuse() -> None:
    frame_provider.image_to_msg = reusing_image_to_msg()


def _scaled_first() -> None:
    frame_provider.FrameProvider = ScaledFirstProvider


def _quiet_poll() -> None:
    feed.VolumeWatcher = QuietPollWatcher


VARIANTS = {'reuse': _reuse, 'scaled_first': _scaled_first, 'quiet_poll': _quiet_poll}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--variant', choices=sorted(VARIANTS), action='append', default=[])
    args, ros_args = parser.parse_known_args(argv)
    for variant in args.variant:
        VARIANTS[variant]()
    frame_provider.main(args=ros_args)


if __name__ == '__main__':
    main()
