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
Publisher processes of the hand-off benchmark: the floor and the naive baseline.

    python -m bench.handoff_pub floor --jpeg FRAME.jpg [--jpeg ...]
    python -m bench.handoff_pub naive --live DIR [--poll-s 1.0]

floor: a bare rclpy publisher of already decoded frames, default settings. It decodes
the JPEGs once at start; then each line 'P <seq> <index>' on stdin publishes frame
<index>, stamped with the wall clock taken just before the message is filled, and
answers 'T <seq> <stamp_ns> <fill_ns> <publish_ns>'. The fill is `msg.data =
image.tobytes()`, the plain way. 'M' on stdout: a subscriber is matched.

naive: the seed's design re-done faithfully: a 1 s timer lists live/*.jpg, takes the
newest by mtime, cv2.imread()s it and publishes it on camera/image_raw with a plain
rclpy publisher (default QoS), msg.data filled from bytes. The one addition is the
stamp: the capture time from the file name (the seed stamped now()), so the
benchmark can tell which frame arrived when.
"""

import argparse
import glob
import os
import sys
import time
from typing import List, Optional

import cv2
from framebridge_ros.core.volume.layout import stem_capture_time
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image

__all__ = ['FLOOR_TOPIC', 'NaiveProvider', 'main']

FLOOR_TOPIC = 'floor/image_raw'


def emit(line: str) -> None:
    """Write one protocol line to the benchmark at once."""
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def _plain_message(image: np.ndarray, stamp_s: float, frame_id: str) -> Image:
    message = Image(height=image.shape[0], width=image.shape[1], encoding='bgr8',
                    is_bigendian=0, step=image.shape[1] * 3)
    message.header.stamp.sec, message.header.stamp.nanosec = divmod(
        int(round(stamp_s * 1e9)), 1_000_000_000)
    message.header.frame_id = frame_id
    message.data = image.tobytes()
    return message


def run_floor(jpegs: List[str], *, match_timeout_s: float = 60.0) -> None:
    """Publish decoded frames on request from stdin; see the module docstring."""
    images = [cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR) for path in jpegs]
    node = Node('bench_floor_publisher')
    try:
        publisher = node.create_publisher(Image, FLOOR_TOPIC, 10)
        deadline = time.monotonic() + match_timeout_s
        while publisher.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                raise SystemExit(f'no subscriber matched within {match_timeout_s:g} s')
            time.sleep(0.01)  # discovery runs on DDS threads: this only looks at the count
        emit('M')
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] != 'P':
                break
            sequence, index = words[1], int(words[2])
            started = time.time()
            message = _plain_message(images[index], started, 'camera')
            filled = time.time()
            publisher.publish(message)
            published = time.time()
            stamp = message.header.stamp
            emit(f'T {sequence} {stamp.sec * 1_000_000_000 + stamp.nanosec} '
                 f'{int((filled - started) * 1e9)} {int((published - filled) * 1e9)}')
    finally:
        node.destroy_node()


class NaiveProvider(Node):
    """The seed's provider: poll, newest by mtime, imread, publish; see the module docstring."""

    def __init__(self, live: str, poll_s: float) -> None:
        super().__init__('naive_provider')
        self._live = live
        self._last: Optional[str] = None
        self._publisher = self.create_publisher(Image, 'camera/image_raw', 10)
        self._timer = self.create_timer(poll_s, self._poll)

    def _poll(self) -> None:
        files = glob.glob(os.path.join(self._live, '*.jpg'))
        if not files:
            return
        try:
            newest = max(files, key=os.path.getmtime)
        except OSError:
            return  # a file went away between listing and stat: next poll
        if newest == self._last:
            return
        self._last = newest
        image = cv2.imread(newest)
        if image is None:
            return
        stamp = stem_capture_time(os.path.basename(newest)) or time.time()
        self._publisher.publish(_plain_message(image, stamp, 'camera'))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    modes = parser.add_subparsers(dest='mode', required=True)
    floor = modes.add_parser('floor')
    floor.add_argument('--jpeg', action='append', required=True)
    naive = modes.add_parser('naive')
    naive.add_argument('--live', required=True)
    naive.add_argument('--poll-s', type=float, default=1.0)
    args, ros_args = parser.parse_known_args(argv)
    rclpy.init(args=ros_args)
    node = None
    try:
        if args.mode == 'floor':
            run_floor(args.jpeg)
        else:
            node = NaiveProvider(args.live, args.poll_s)
            rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
