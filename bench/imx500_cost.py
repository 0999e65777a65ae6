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
CPU per frame of the vehicle detector: the imx500 back-end against motion, same frames.

Run from the repository root with the project's Python::

    PYTHONPATH=test/fake_picamera2 .venv/bin/python -m bench.imx500_cost [--frames 120]

Frames come from host capture with the fake IMX500 (source picamera2, 2028x1520, one
frame every 0.5 s of scene time, the network's detections in each frame's metadata),
are decoded with DCT scaling 0.5 (1014x760: camera/image_scaled of a 12 MP camera at
scale 0.25), and are then analysed twice in the same process by VehicleAnalyzer:
once with the imx500 back-end, once with the motion back-end (the same road region,
tracker and counting line). The figure is process CPU time per analyse() call
(time.process_time), median and 90th percentile; JPEG decoding is excluded from both.
"""

import argparse
import tempfile
import time

from framebridge_ros.core.analysis.analyzer import VehicleAnalyzer
from framebridge_ros.core.analysis.factory import make_detector
from framebridge_ros.core.analysis.motion_detector import MotionConfig
from framebridge_ros.core.capture import HostCapture
from framebridge_ros.core.simulation.scene import ROAD_REGION
from framebridge_ros.core.volume.jpeg import decode_jpeg
from framebridge_ros.core.volume.metadata import load_metadata

MODEL = 'test/fake_picamera2/models/imx500_network_ssd_mobilenetv2_fpnlite_320x320_pp.rpk'


def _frames(count: int, directory: str):
    capture = HostCapture({'capture_dir': directory, 'source': 'picamera2', 'width': 2028,
                           'height': 1520, 'imx500_model': MODEL, 'max_images': count + 1})
    capture.start()
    frames = []
    for _ in range(count):
        frame = capture.capture_once()
        if frame is not None:
            metadata = load_metadata(capture.layout.metadata_path_for(frame))
            frames.append((decode_jpeg(frame.read_bytes(), scale=0.5), metadata))
        time.sleep(0.5)
    capture.close()
    return frames


def _cpu_ms(backend: str, frames) -> list:
    region = tuple(ROAD_REGION)
    analyzer = VehicleAnalyzer(
        make_detector(backend, region=region, motion=MotionConfig(),
                      classes=('car', 'motorcycle', 'bus', 'truck')),
        region=region, counting_line=[0.5, 0.0, 0.5, 1.0])
    times = []
    for image, metadata in frames:
        started = time.process_time()
        analyzer.analyze(image, t=metadata['capture_time'], metadata=metadata)
        times.append(1000.0 * (time.process_time() - started))
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--frames', type=int, default=120)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        frames = _frames(options.frames, directory)
    print(f'{len(frames)} frames of {frames[0][0].shape[1]}x{frames[0][0].shape[0]}')
    for backend in ('imx500', 'motion'):
        times = _cpu_ms(backend, frames)
        print(f'{backend:7s} CPU per frame: median {times[len(times) // 2]:.2f} ms, '
              f'p90 {times[int(len(times) * 0.9)]:.2f} ms')


if __name__ == '__main__':
    main()
