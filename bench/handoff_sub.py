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
Subscriber process of the hand-off benchmark: one line on stdout per message received.

    python -m bench.handoff_sub --topic camera/image_raw=image [--topic NAME=KIND ...]

KIND is image (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage). Lines:

    M                                every topic has a matched publisher
    R <topic> <stamp_ns> <recv_ns>   a message arrived; recv is the wall clock taken first
                                     thing in the callback, after rclpy built the message

Subscriptions use the default QoS (reliable, volatile, keep last 10): what rqt or a
user's first node asks for. An Image is turned into a numpy view (msg_to_image, no
copy), the first thing any consumer does.
"""

import argparse
from functools import partial
import sys
import time
from typing import List, Optional, Sequence, Tuple

from framebridge_ros.ros_glue import msg_to_image, run_node
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

__all__ = ['BenchSubscriber', 'main']

KINDS = {'image': Image, 'compressed': CompressedImage}


def emit(line: str) -> None:
    """Write one protocol line to the benchmark at once."""
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


class BenchSubscriber(Node):
    """Subscribe to the given topics and report every message and the matching."""

    def __init__(self, topics: Sequence[Tuple[str, str]]) -> None:
        super().__init__('bench_subscriber')
        self._bench_subscriptions = [
            self.create_subscription(KINDS[kind], topic, partial(self._received, topic), 10)
            for topic, kind in topics]
        self._match_timer = self.create_timer(0.02, self._check_matched)

    def _received(self, topic: str, message) -> None:
        received_ns = time.time_ns()
        if isinstance(message, Image):
            msg_to_image(message)
        stamp = message.header.stamp
        emit(f'R {topic} {stamp.sec * 1_000_000_000 + stamp.nanosec} {received_ns}')

    def _check_matched(self) -> None:
        if all(sub.get_publisher_count() > 0 for sub in self._bench_subscriptions):
            emit('M')
            self._match_timer.cancel()  # no timer left running: it would cost idle CPU


def _topic(text: str) -> Tuple[str, str]:
    name, _, kind = text.partition('=')
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f'{text!r}: expected NAME=KIND, KIND one of '
                                         f'{", ".join(KINDS)}')
    return name, kind


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--topic', type=_topic, action='append', required=True)
    args, ros_args = parser.parse_known_args(argv)
    # A user's own subscriber: the environment alone decides its middleware settings.
    run_node(lambda: BenchSubscriber(args.topic), ros_args, middleware_defaults=False)


if __name__ == '__main__':
    main()
