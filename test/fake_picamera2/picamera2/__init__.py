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
A fake picamera2 for machines without a Raspberry Pi camera: tests and the demo only.

It offers exactly what framebridge_ros' picamera2 back-end uses, with the real one's
signatures and behaviour (raspberrypi/picamera2 picamera2.py, request.py):
Picamera2(camera_num), create_still_configuration(main=, controls=, buffer_count=),
options['quality'], start(config), captured_request(wait=, flush=) as a context
manager giving a CompletedRequest (save(name, file_output, format=), get_metadata(),
release()), camera_configuration(), close(). Frames exist every 1/FrameRate s; with
flush=True a request is the first frame whose exposure starts after the call. The image
is the simulated roadside scene; the metadata is laid out as libcamera's (SensorTimestamp
in CLOCK_MONOTONIC ns, ExposureTime, AnalogueGain, Lux, ScalerCrop as a tuple,
FrameDuration, and with a network CnnOutputTensor, CnnOutputTensorInfo, CnnKpiInfo).

Environment (read when a camera starts):
FAKE_PICAMERA2_SEED, FAKE_PICAMERA2_DAY_CYCLE_S  scene seed and day length (0, 0).
FAKE_PICAMERA2_STARTUP_S     seconds start() takes (firmware upload; default 0).
FAKE_PICAMERA2_NO_TENSOR_EVERY  N: every N-th request's frame has no tensor (0: never).
FAKE_PICAMERA2_LAG_FRAMES    the tensor belongs to the frame this many frames earlier.
FAKE_PICAMERA2_TIMEOUT_AFTER N: the first camera opened in this process stops
                             delivering after N requests (captured_request waits `wait`
                             seconds, then raises TimeoutError); cameras opened later work.
FAKE_PICAMERA2_MISS, FAKE_PICAMERA2_FALSE_ALARMS, FAKE_PICAMERA2_SCORE_NOISE
                             miss probability (0.05), mean false alarms per frame (0.3),
                             score standard deviation (0.08).
FAKE_PICAMERA2_TRUTH_LOG     path: one JSON line per request: SensorTimestamp, image size,
                             the scene's ground truth, whether a tensor was sent.
"""

import concurrent.futures
import contextlib
import io
import json
import math
import os
import random
import threading
import time
from typing import Any, Dict, Optional

import cv2
from fake_imx500_sensor import (
    detections_from_truth, pack_output_tensor, pack_tensor_info, scaler_crop_for)

__all__ = ['CompletedRequest', 'Picamera2']

_opened = {'count': 0}
NETWORK = {'file': ''}  # set by IMX500(): frames carry a tensor only with a network
_EPOCH = time.monotonic()  # the sensor's scene clock keeps running across reopenings
_scenes: Dict[tuple, Any] = {}


def _env(name: str, default: float) -> float:
    text = os.environ.get(name, '').strip()
    return float(text) if text else default


class CompletedRequest:
    """One frame: its image and its metadata."""

    def __init__(self, image, metadata: Dict[str, Any], picam2: 'Picamera2') -> None:
        self._image, self._metadata, self.picam2 = image, metadata, picam2
        self._released = False

    def save(self, name: str, file_output: Any,
             format: Optional[str] = None,  # noqa: A002 - picamera2's own name
             exif_data=None) -> None:
        if name != 'main':
            raise RuntimeError(f'Stream {name!r} is not defined')
        if format is None and not isinstance(file_output, (str, os.PathLike)):
            raise RuntimeError('Cannot determine format to save')
        quality = self.picam2.options.get('quality', 90)
        data = cv2.imencode('.jpg', self._image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        if isinstance(file_output, io.BytesIO):
            file_output.write(data.tobytes())
        else:
            with open(file_output, 'wb') as stream:
                stream.write(data.tobytes())

    def get_metadata(self) -> Dict[str, Any]:
        if self._released:
            raise RuntimeError('request already released')
        return dict(self._metadata)

    def release(self) -> None:
        self._released = True


class Picamera2:
    """A fake camera streaming the simulated scene at its FrameRate."""

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num != 0:
            raise IndexError(f'camera {camera_num} not found')
        _opened['count'] += 1
        self._opening = _opened['count']
        self.options: Dict[str, Any] = {}
        self.started = False
        self._config: Optional[dict] = None
        self._requests = 0
        self._closed = False
        self._lock = threading.Lock()
        self._rng = random.Random(int(_env('FAKE_PICAMERA2_SEED', 0)) * 7919 + self._opening)

    def create_still_configuration(self, main: Optional[dict] = None, lores=None, raw=None,
                                   controls: Optional[dict] = None, buffer_count: int = 1,
                                   **_: Any) -> dict:
        main = {'format': 'BGR888', 'size': (4056, 3040), **(main or {})}
        return {'use_case': 'still', 'main': main, 'raw': {'size': (4056, 3040)},
                'controls': {'FrameRate': 10.0, **(controls or {})},
                'buffer_count': buffer_count}

    def camera_configuration(self) -> Optional[dict]:
        return self._config

    def start(self, config: Optional[dict] = None, show_preview: bool = False) -> None:
        if self._closed:
            raise RuntimeError('Camera not opened')
        self._config = config or self.create_still_configuration()
        time.sleep(_env('FAKE_PICAMERA2_STARTUP_S', 0.0))
        self._rate = float(self._config['controls'].get('FrameRate', 10.0))
        width, height = self._config['main']['size']
        key = (width, height, int(_env('FAKE_PICAMERA2_SEED', 0)),
               _env('FAKE_PICAMERA2_DAY_CYCLE_S', 0.0))
        if key not in _scenes:
            from framebridge_ros.core.simulation.scene import SimulatedScene
            _scenes[key] = SimulatedScene(width=width, height=height, seed=key[2],
                                          day_cycle_s=key[3])
        self._scene, self._size = _scenes[key], (width, height)
        self._crop = scaler_crop_for(width, height)
        self.started = True

    @contextlib.contextmanager
    def captured_request(self, wait=None, flush=None):
        request = self.capture_request(wait=wait, flush=flush)
        try:
            yield request
        finally:
            request.release()

    def capture_request(self, wait=None, flush=None) -> CompletedRequest:
        if not self.started:
            raise RuntimeError('Camera must be started before capturing')
        with self._lock:
            self._requests += 1
            requests = self._requests
        hang_after = _env('FAKE_PICAMERA2_TIMEOUT_AFTER', -1)
        if self._opening == 1 and 0 <= hang_after < requests:
            # The device stopped delivering: the job never completes.
            if wait is None or wait is True:
                threading.Event().wait()
            time.sleep(float(wait))
            raise concurrent.futures.TimeoutError()
        period = 1.0 / self._rate
        now = time.monotonic() - _EPOCH
        index = math.ceil(now / period) if flush else math.floor(now / period)
        exposure_start = index * period
        time.sleep(max(0.0, exposure_start + period - (time.monotonic() - _EPOCH)))
        return self._frame(index, exposure_start, period)

    def _frame(self, index: int, t: float, period: float) -> CompletedRequest:
        image, truth = self._scene.render(t)
        camera = self._scene.camera_metadata(t)
        exposure_us = int(min(period * 1e6 * 0.9, camera.get('ExposureTime', 10000)))
        metadata: Dict[str, Any] = {
            'SensorTimestamp': int((_EPOCH + t) * 1e9) + exposure_us * 1000,
            'ExposureTime': exposure_us,
            'AnalogueGain': camera.get('AnalogueGain', 1.0),
            'DigitalGain': camera.get('DigitalGain', 1.0),
            'Lux': camera.get('Lux', 400.0),
            'ColourTemperature': camera.get('ColourTemperature', 5500),
            'FrameDuration': int(period * 1e6),
            'ScalerCrop': self._crop,
        }
        every = int(_env('FAKE_PICAMERA2_NO_TENSOR_EVERY', 0))
        tensor = bool(NETWORK['file']) and not (every > 0 and self._requests % every == 0)
        lag = int(_env('FAKE_PICAMERA2_LAG_FRAMES', 0))
        if tensor:
            seen = truth if lag == 0 else self._scene.ground_truth((index - lag) * period)
            rows = detections_from_truth(
                seen, size=self._size, crop=self._crop, rng=self._rng,
                miss=_env('FAKE_PICAMERA2_MISS', 0.05),
                false_alarms=_env('FAKE_PICAMERA2_FALSE_ALARMS', 0.3),
                score_noise=_env('FAKE_PICAMERA2_SCORE_NOISE', 0.08))
            metadata['CnnOutputTensor'] = pack_output_tensor(rows)
            metadata['CnnOutputTensorInfo'] = list(pack_tensor_info(frame_count=index - lag))
            metadata['CnnKpiInfo'] = [int(self._rng.uniform(8000, 12000)),
                                      int(self._rng.uniform(1500, 2500))]
        log = os.environ.get('FAKE_PICAMERA2_TRUTH_LOG', '')
        if log:
            with open(log, 'a', encoding='utf-8') as stream:
                stream.write(json.dumps({
                    'SensorTimestamp': metadata['SensorTimestamp'], 'scene_t': t,
                    'size': list(self._size), 'tensor': tensor, 'lag_frames': lag,
                    'vehicles': truth['vehicles'], 'crossings': truth['crossings']}) + '\n')
        return CompletedRequest(image, metadata, self)

    def close(self) -> None:
        self._closed = True
        self.started = False
