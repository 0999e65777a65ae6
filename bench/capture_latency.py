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
Capture-to-landed latency of the host capture back-ends.

    python -m bench.capture_latency [--frames 30] [--sizes 1920x1080,4056x3040]

For each back-end (simulated camera; fake rpicam-still one-shot; fake rpicam-still
persistent) and size, times HostCapture.capture_once() from its start to the frame
being visible in live/, and splits out the part spent after the camera delivered the
JPEG (checks, metadata with sha256, fsync, renames, retention: the hand-off itself).
The fake camera stands in for the hardware: its own time (a Python process start plus
an OpenCV encode) is not the Pi's, so for rpicam the hand-off column is the figure that
carries over; the one-shot vs persistent gap shows what persistent mode saves of each
process start (on a Pi, the 1 to 7 s camera start-up).
"""

import argparse
import os
from pathlib import Path
import statistics
import sys
import tempfile
import time

from framebridge_ros.core.capture import HostCapture

FAKE_BIN = Path(__file__).resolve().parents[1] / 'test' / 'fake_bin'


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(*, source: str, width: int, height: int, frames: int) -> dict:
    """Capture frames and return latency figures in milliseconds."""
    with tempfile.TemporaryDirectory(prefix='fb-capture-bench-') as root:
        capture = HostCapture({'capture_dir': root, 'source': source, 'width': width,
                               'height': height, 'quality': 95, 'max_images': 20,
                               'camera_timeout_s': 30.0})
        capture.start()
        totals, handoffs = [], []
        original = capture._backend.capture

        def timed_capture(destination):
            result = original(destination)
            timed_capture.delivered = time.perf_counter()
            return result

        capture._backend.capture = timed_capture
        try:
            for _ in range(frames + 1):  # the first frame pays start-up: not counted
                started = time.perf_counter()
                frame = capture.capture_once()
                landed = time.perf_counter()
                if frame is None:
                    raise RuntimeError(f'{source}: {capture.stats.last_error}')
                totals.append(1000 * (landed - started))
                handoffs.append(1000 * (landed - timed_capture.delivered))
        finally:
            capture.close()
    totals, handoffs = totals[1:], handoffs[1:]
    return {'median': statistics.median(totals), 'p95': _percentile(totals, 0.95),
            'handoff_median': statistics.median(handoffs),
            'handoff_p95': _percentile(handoffs, 0.95)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--sizes', default='1920x1080,4056x3040')
    options = parser.parse_args(argv)
    os.environ['PATH'] = os.pathsep.join(
        [str(FAKE_BIN), str(Path(sys.executable).parent), os.environ['PATH']])
    print(f'capture -> landed in live/, {options.frames} frames each, quality 95 (ms)')
    print(f'{"back-end":<22}{"size":>11}{"median":>9}{"p95":>9}'
          f'{"hand-off med":>14}{"hand-off p95":>14}')
    for size in options.sizes.split(','):
        width, height = (int(value) for value in size.split('x'))
        for source, label in (('simulated', 'simulated'), ('rpicam', 'fake rpicam one-shot'),
                              ('persistent', 'fake rpicam persistent')):
            result = measure(source=source, width=width, height=height,
                             frames=options.frames)
            print(f'{label:<22}{size:>11}{result["median"]:>9.1f}{result["p95"]:>9.1f}'
                  f'{result["handoff_median"]:>14.1f}{result["handoff_p95"]:>14.1f}',
                  flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
