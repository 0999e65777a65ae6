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
picamera2 with the IMX500's network: a JPEG and its on-sensor detections per request.

One camera runs for as long as the back-end lives. Per frame, one request
(``captured_request(wait=camera_timeout_s, flush=True)``: the first frame exposed after
the call) gives both the JPEG (``save('main', ..., format='jpeg')``) and its own
metadata (``get_metadata()``), so the detections belong to that very image.
``IMX500.get_outputs(metadata, add_batch=True)`` is None on a frame without a tensor,
and the frame's detections are then null with a reason (core/cameras/imx500_tensor.py).

The camera is opened lazily on the capture thread, never in the caller's constructor:
the network firmware upload in start() takes seconds, minutes when not cached. A
request that does not complete within camera_timeout_s closes the camera (a stuck
IMX500 needs a restart); the next capture opens it again, and host capture restarts the
whole back-end with back-off after max_consecutive_errors. picamera2 is imported only
here, and only when this back-end is used: Raspberry Pi OS ships it (apt
python3-picamera2); tests and the demo put a stand-in on the path (test/fake_picamera2).
"""

import concurrent.futures
import io
import logging
from pathlib import Path
import threading
import time
from typing import Any, Dict, Optional, Sequence

from framebridge_ros.core.cameras.backend import (
    CameraError, capture_time_from_sensor, CaptureBackend, CaptureResult)
from framebridge_ros.core.cameras.imx500_tensor import (
    frame_inference, parse_tensor_info, RAW_TENSOR_KEYS, TensorError)
from framebridge_ros.core.volume.layout import explain, write_file_synced

__all__ = ['DEFAULT_IMX500_MODEL', 'Picamera2Camera']

_log = logging.getLogger('framebridge.capture')

DEFAULT_IMX500_MODEL = \
    '/usr/share/imx500-models/imx500_network_ssd_mobilenetv2_fpnlite_320x320_pp.rpk'
_DEFAULT_INFERENCE_RATE = 30.0  # picamera2's NetworkIntrinsics default


def check_model(model: str) -> None:
    """Raise CameraError naming the path when the network file cannot be used."""
    if model and not Path(model).is_file():
        raise CameraError(
            f'imx500_model {model} does not exist: install the models (sudo apt install '
            'imx500-models), point imx500_model at an .rpk file, or set it to "" for '
            'stills without a network')


class Picamera2Camera(CaptureBackend):
    """One long-running picamera2 camera, optionally with an IMX500 network."""

    source = 'picamera2'

    def __init__(self, *, width: int, height: int, quality: int, timeout_s: float,
                 model: str = DEFAULT_IMX500_MODEL, threshold: float = 0.5,
                 classes: Sequence[str] = ()) -> None:
        check_model(model)
        try:
            import picamera2  # noqa: F401 - only to fail early with a clear message
        except ImportError as error:
            raise CameraError(
                'source picamera2 needs the picamera2 package (Raspberry Pi OS: sudo apt '
                'install python3-picamera2); elsewhere use source:=simulated') from error
        self._size, self._quality, self._timeout_s = (width, height), quality, timeout_s
        self._model, self._threshold = model, threshold
        self._classes = list(classes) or None
        self._camera: Any = None
        self._imx500: Any = None
        self._network = ''
        self._lock = threading.Lock()
        self._closed = False
        self.min_interval_s = 0.0
        self.camera_opens = 0
        self.state = 'not started'

    def _open(self) -> None:
        from picamera2 import Picamera2
        imx500, rate, number = None, None, 0
        self.state = 'starting camera'
        started = time.monotonic()
        try:
            if self._model:
                from picamera2.devices import IMX500
                imx500 = IMX500(self._model)  # before Picamera2, as picamera2 requires
                number = imx500.camera_num
                intrinsics = imx500.network_intrinsics
                rate = getattr(intrinsics, 'inference_rate', None) or _DEFAULT_INFERENCE_RATE
            camera = Picamera2(number)
        except (RuntimeError, OSError, ValueError, StopIteration) as error:
            self.state = 'camera failed to open'
            raise CameraError(f'could not open the IMX500 camera: {error}; is it '
                              'connected and free (no other rpicam/picamera2 process)?'
                              ) from error
        try:
            controls = {} if rate is None else {'FrameRate': float(rate)}
            config = camera.create_still_configuration(
                main={'size': self._size}, controls=controls, buffer_count=2)
            camera.options['quality'] = self._quality
            self.state = 'uploading network firmware' if imx500 else 'starting camera'
            camera.start(config)  # uploads the network firmware: seconds to minutes
        except (RuntimeError, OSError, ValueError) as error:
            camera.close()
            self.state = 'camera failed to start'
            raise CameraError(f'the camera did not start: {error}') from error
        with self._lock:
            if self._closed:
                camera.close()
                raise CameraError('camera back-end is closed')
            self._camera, self._imx500 = camera, imx500
        # Never ask for frames faster than the network infers (picamera2's default 30/s).
        self.min_interval_s = 0.0 if rate is None else 1.0 / float(rate)
        self._network = Path(self._model).stem if self._model else ''
        self.camera_opens += 1
        self.state = 'running'
        _log.info('picamera2 camera started in %.1f s (%s%s)', time.monotonic() - started,
                  f'network {self._network}' if imx500 else 'no network',
                  f', {rate:g} inferences/s' if rate else '')

    def capture(self, destination: Path) -> CaptureResult:
        if self._closed:
            raise CameraError('camera back-end is closed')
        if self._camera is None:
            self._open()
        camera, imx500 = self._camera, self._imx500
        started = time.time()
        buffer = io.BytesIO()
        try:
            with camera.captured_request(wait=self._timeout_s, flush=True) as request:
                request.save('main', buffer, format='jpeg')
                metadata = request.get_metadata()
            outputs = imx500.get_outputs(metadata, add_batch=True) if imx500 else None
        except (concurrent.futures.TimeoutError, TimeoutError) as error:
            self._close_camera('timed out')
            raise CameraError(f'picamera2 gave no frame within camera_timeout_s='
                              f'{self._timeout_s:g} s; the camera was closed and is '
                              'reopened on the next capture') from error
        except (RuntimeError, OSError, ValueError) as error:
            self._close_camera('failed')
            raise CameraError(f'picamera2 capture failed: {error}; the camera is '
                              'reopened on the next capture') from error
        try:
            write_file_synced(destination, buffer.getvalue())
        except OSError as error:
            raise CameraError(f'could not write {destination}: {explain(error)}') from error
        camera_meta = {key: value for key, value in metadata.items()
                       if key not in RAW_TENSOR_KEYS}
        fields: Dict[str, Any] = {}
        if imx500 is not None:
            result = frame_inference(outputs=outputs, camera=metadata,
                                     threshold=self._threshold, classes=self._classes,
                                     network=_network_name(metadata) or self._network)
            fields = {'detections': result.detections, **result.fields}
            if result.detections is None:
                fields['detections_reason'] = result.reason
        return CaptureResult(
            capture_time=capture_time_from_sensor(camera_meta, started=started,
                                                  finished=time.time()),
            camera=_jsonable(camera_meta), frame_fields=fields)

    def _close_camera(self, why: str) -> None:
        with self._lock:
            camera, self._camera, self._imx500 = self._camera, None, None
        if camera is not None:
            self.state = f'camera {why}, closed'
            try:
                camera.close()
            except (RuntimeError, OSError) as error:
                _log.warning('closing the picamera2 camera failed: %s', error)

    def health_values(self) -> Dict[str, Any]:
        return {'camera_state': self.state, 'camera_opens': self.camera_opens}

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._close_camera('stopped')


def _network_name(metadata: Dict[str, Any]) -> str:
    try:
        return parse_tensor_info(metadata['CnnOutputTensorInfo']).network_name
    except (KeyError, TensorError):
        return ''


def _jsonable(metadata: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Return libcamera metadata as plain JSON values (tuples to lists, others as text)."""
    out = {}
    for key, value in metadata.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (bool, int, float, str)) else str(v)
                        for v in value]
        else:
            out[key] = str(value)
    return out or None
