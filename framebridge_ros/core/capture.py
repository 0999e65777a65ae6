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
Host capture: the loop that hands a camera back-end's frames to the shared volume.

Runs without ROS: `python3 -m framebridge_ros.core.capture --source simulated
--capture_dir /tmp/vol` (or the `framebridge-capture` console script) takes the same
parameters as the host_capture node.

Each capture goes: room for it above the reserve (volume.space_guard) -> back-end
writes a JPEG into .tmp/ -> completeness and decodability checks -> metadata -> atomic
commit into live/ -> retention. A failed capture is discarded with one log line; after
max_consecutive_errors the back-end is restarted with exponential back-off. A write
that runs out of space is retried once after the guard made room; a frame that still
finds none is discarded and counted by the guard, without restarting the camera.
"""

import argparse
from collections import deque
from dataclasses import dataclass, field
from functools import partial
import logging
import os
from pathlib import Path
import signal
import threading
import time
from typing import Any, Callable, Deque, Dict, Optional, Sequence

from framebridge_ros.core.cameras.backend import CameraError, CaptureBackend, CaptureResult
from framebridge_ros.core.cameras.factory import make_backend, SOURCES
from framebridge_ros.core.cameras.picamera2_imx500 import DEFAULT_IMX500_MODEL
from framebridge_ros.core.episodes import Episode
from framebridge_ros.core.params import ParameterError, ParamSpec, validate_params
from framebridge_ros.core.volume.jpeg import decode_jpeg, inspect_jpeg, InvalidJpegError
from framebridge_ros.core.volume.layout import (
    commit_frame, frame_stem, VolumeError, VolumeLayout, write_file_synced)
from framebridge_ros.core.volume.metadata import build_metadata, dump_metadata
from framebridge_ros.core.volume.retention import ARCHIVE_PARAMS, HostArchive, remove_orphans
from framebridge_ros.core.volume.space_guard import GUARD_PARAMS, is_out_of_space, SpaceGuard

__all__ = ['CAPTURE_PARAMS', 'CaptureRunner', 'CaptureStats', 'HostCapture', 'main']

_log = logging.getLogger('framebridge.capture')

CAPTURE_PARAMS = (
    ParamSpec('capture_dir', '/mnt/storage/camera_capture',
              'Root of the shared volume (live/, metadata/, processed/, .tmp/ below it).'),
    ParamSpec('source', 'rpicam', 'Camera back-end: rpicam (one rpicam-still per frame), '
              'persistent (one long-running rpicam-still), picamera2 (one long-running '
              'camera with the IMX500 network: on-sensor detections per frame) or '
              'simulated (synthetic scene).', choices=SOURCES),
    ParamSpec('interval_s', 1.0, 'Seconds between capture starts.',
              min_value=0.02, max_value=3600.0),
    ParamSpec('width', 4056, 'Image width in pixels.', min_value=64, max_value=16384),
    ParamSpec('height', 3040, 'Image height in pixels.', min_value=64, max_value=16384),
    ParamSpec('quality', 95, 'JPEG quality.', min_value=1, max_value=100),
    ParamSpec('max_images', 100, 'Frames kept in live/; the oldest move to processed/ '
              '(kept within processed_max_mb and processed_max_images).',
              min_value=1, max_value=1000000),
    ParamSpec('camera_command', 'rpicam-still',
              'Camera executable (trusted configuration: run without a shell).'),
    ParamSpec('camera_timeout_s', 10.0, 'Hard limit for one capture; a camera that takes '
              'longer is killed and the capture counts as an error.',
              min_value=0.5, max_value=300.0),
    ParamSpec('extra_args', [], 'Extra arguments appended to the camera command, '
              "e.g. ['--awb', 'daylight']. Empty strings are ignored."),
    ParamSpec('min_file_bytes', 1024, 'A JPEG smaller than this is discarded as broken.',
              min_value=0, max_value=100000000),
    ParamSpec('max_consecutive_errors', 5, 'Failed captures in a row before the camera '
              'back-end is restarted (with back-off).', min_value=1, max_value=10000),
    ParamSpec('imx500_model', DEFAULT_IMX500_MODEL, 'picamera2: IMX500 network file (.rpk) '
              'whose detections go into the metadata of each frame; empty = no network, plain '
              'stills. A file that does not exist fails start-up.'),
    ParamSpec('detection_threshold', 0.5, 'On-sensor detections (picamera2, or rpicam-still '
              'with an IMX500 tensor): lowest score kept in the metadata.',
              min_value=0.0, max_value=1.0),
    ParamSpec('detection_classes', [], 'On-sensor detections: COCO class names kept in the '
              "metadata, e.g. ['car', 'truck']; empty = every class."),
    ParamSpec('simulated_day_cycle_s', 0.0, 'Simulated camera only: seconds for a whole '
              'simulated day (0 keeps the light and clouds fixed).',
              min_value=0.0, max_value=1.0e7),
    ParamSpec('simulated_seed', 0, 'Simulated camera only: scene random seed.',
              min_value=0, max_value=2**31 - 1),
    *ARCHIVE_PARAMS,
    *GUARD_PARAMS,
)

_BACKOFF_MAX_S = 60.0


@dataclass
class CaptureStats:
    """Counters a health report reads; written by the capture thread only."""

    frames_captured: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    backend_restarts: int = 0
    last_capture_time: Optional[float] = None
    last_duration_s: Optional[float] = None
    last_error: str = ''
    last_frame: str = ''
    durations_s: Deque[float] = field(default_factory=lambda: deque(maxlen=100))
    camera_metadata_dropped: int = 0
    last_camera_metadata_problem: str = ''
    frames_without_detections: int = 0  # `detections: null`: the camera gave no result
    last_detections_reason: str = ''
    backend_values: Dict[str, Any] = field(default_factory=dict)


class HostCapture:
    """
    One capture step at a time, from camera to committed frame.

    Owns the back-end and restarts it after max_consecutive_errors failures; the
    caller decides when to call capture_once() (CaptureRunner does it on a thread).
    """

    def __init__(self, params: Dict[str, Any], *,
                 backend_factory: Callable[[Dict[str, Any]], CaptureBackend] = make_backend
                 ) -> None:
        self.params = validate_params(CAPTURE_PARAMS, params)
        self.layout = VolumeLayout.at(self.params['capture_dir'])
        self.stats = CaptureStats()
        self.guard = SpaceGuard.from_params(self.layout, self.params)
        self.archive = HostArchive.from_params(self.layout, self.params)
        self._last_frame_bytes = 0
        self._backend_factory = backend_factory
        self._backend: Optional[CaptureBackend] = None
        self._sequence = 0
        self._restarts_in_a_row = 0
        self._closed = False
        self.backoff_s = 0.0
        self._metadata_episode = Episode(
            logger=_log,
            started='%(frame)s: %(problem)s; frames land without the camera metadata (no '
                    'Lux, exposure or sensor time for the analysers) until it is readable '
                    'again',
            ended='camera metadata readable again (%(total)d frames without it so far)')
        self._detections_episode = Episode(
            logger=_log,
            started='%(frame)s has no on-sensor detections (%(problem)s): such frames say '
                    'detections null, "no information", and are counted in '
                    'frames_without_detections',
            ended='on-sensor detections steady again (%(total)d frames without them so far)')

    def start(self) -> None:
        """Create the volume and start the camera back-end; raise with a clear message."""
        self._closed = False
        self.layout.ensure()
        remove_orphans(self.layout)
        self._backend = self._backend_factory(self.params)

    def refresh_backend_values(self) -> None:
        """Copy the back-end's own health values (camera state) into the stats now."""
        backend = self._backend
        if backend is not None:
            self.stats.backend_values = _backend_values(backend)

    @property
    def min_interval_s(self) -> float:
        backend = self._backend
        return getattr(backend, 'min_interval_s', 0.0) if backend is not None else 0.0

    @property
    def source(self) -> str:
        return self._backend.source if self._backend else self.params['source']

    def close(self) -> None:
        self._closed = True
        self._close_backend()

    def _close_backend(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()

    def capture_once(self) -> Optional[Path]:
        """Capture and commit one frame; return its path, or None if it was discarded."""
        if self._closed:
            return None
        if self._backend is None:
            self._restart_backend()
        backend = self._backend  # close() from another thread may drop self._backend
        if backend is None:
            return None
        expected = self._last_frame_bytes or self.params['width'] * self.params['height'] // 4
        if not self.guard.make_room(expected + 8192):
            self.guard.discarded()
            return None
        self._sequence += 1
        part = self.layout.tmp / f'capture_{os.getpid()}_{self._sequence:06d}.jpg.part'
        started = time.monotonic()
        try:
            result = self._with_room(partial(backend.capture, part), expected + 8192,
                                     before_retry=partial(part.unlink, missing_ok=True))
            jpeg = part.read_bytes()
            info = inspect_jpeg(jpeg, min_bytes=self.params['min_file_bytes'])
            decode_jpeg(jpeg, scale=0.125)  # cheap proof that it decodes
            duration = time.monotonic() - started
            metadata = build_metadata(
                capture_time=result.capture_time, sequence=self._sequence,
                width=info.width, height=info.height, quality=self.params['quality'],
                jpeg=jpeg, source=backend.source, capture_duration_s=duration,
                camera=result.camera, ground_truth=result.ground_truth)
            metadata.update(result.frame_fields)
            stem = frame_stem(capture_time=result.capture_time, sequence=self._sequence)
            metadata_json = dump_metadata(metadata)
            frame = self._with_room(
                partial(commit_frame, self.layout, stem=stem, jpeg_tmp=part,
                        metadata_json=metadata_json), len(jpeg) + len(metadata_json) + 8192,
                before_retry=partial(write_file_synced, part, jpeg))
        except (CameraError, InvalidJpegError, VolumeError, OSError) as error:
            part.unlink(missing_ok=True)
            if is_out_of_space(error):
                self.guard.discarded()  # a full disk is no camera fault: no restart
                self.stats.last_error = f'disk full, frame discarded: {error}'
            else:
                self._record_error(error)
            return None
        self._last_frame_bytes = len(jpeg)
        self._record_success(frame, result.capture_time, duration)
        self._record_camera_extras(frame, result, backend)
        try:
            self.archive.trim()
        except OSError as error:
            _log.warning('retention could not trim live/: %s; it will retry next frame',
                         error)
        return frame

    def _with_room(self, attempt: Callable[[], Any], needed_bytes: int, *,
                   before_retry: Callable[[], Any]) -> Any:
        """Run attempt(); if it ran out of space, make room and run it once more."""
        try:
            return attempt()
        except (CameraError, OSError) as error:
            if not self.guard.retry_after(error, needed_bytes):
                raise
        before_retry()
        return attempt()

    def _record_success(self, frame: Path, capture_time: float, duration: float) -> None:
        stats = self.stats
        stats.frames_captured += 1
        stats.consecutive_errors = 0
        stats.last_capture_time, stats.last_duration_s = capture_time, duration
        stats.last_frame = frame.name
        stats.durations_s.append(duration)
        self._restarts_in_a_row = 0
        self.backoff_s = 0.0

    def _record_camera_extras(self, frame: Path, result: CaptureResult,
                              backend: CaptureBackend) -> None:
        stats = self.stats
        stats.backend_values = _backend_values(backend)
        problem = result.camera_problem
        stats.camera_metadata_dropped += bool(problem)
        stats.last_camera_metadata_problem = problem
        self._metadata_episode.update(problem, frame=frame.name,
                                      total=stats.camera_metadata_dropped)
        fields = result.frame_fields
        reason = fields.get('detections_reason', '') if (
            'detections' in fields and fields['detections'] is None) else ''
        stats.frames_without_detections += bool(reason)
        stats.last_detections_reason = reason
        self._detections_episode.update(reason, frame=frame.name,
                                        total=stats.frames_without_detections)

    def _record_error(self, error: Exception) -> None:
        stats = self.stats
        stats.errors += 1
        stats.consecutive_errors += 1
        kind = 'invalid JPEG' if isinstance(error, InvalidJpegError) else 'capture failed'
        stats.last_error = f'{kind}: {error}'
        limit = self.params['max_consecutive_errors']
        if stats.consecutive_errors < limit:
            _log.warning('%s: %s; frame discarded, retrying (%d/%d in a row)',
                         kind, error, stats.consecutive_errors, limit)
            return
        _log.error('%s: %s; %d failures in a row, restarting the %s back-end',
                   kind, error, stats.consecutive_errors, self.source)
        self._restart_backend()

    def _restart_backend(self) -> None:
        self._close_backend()
        if self._closed:
            return
        self._restarts_in_a_row += 1
        self.stats.backend_restarts += 1
        self.stats.consecutive_errors = 0
        self.backoff_s = min(_BACKOFF_MAX_S, self.params['interval_s']
                             * 2 ** self._restarts_in_a_row)
        try:
            self._backend = self._backend_factory(self.params)
        except (CameraError, OSError) as error:
            self.stats.last_error = f'back-end restart failed: {error}'
            _log.error('could not restart the camera back-end: %s; next try in %.1f s',
                       error, self.backoff_s)
            return
        _log.warning('camera back-end restarted (restart %d); waiting %.1f s before the '
                     'next capture', self.stats.backend_restarts, self.backoff_s)


def _backend_values(backend: CaptureBackend) -> Dict[str, Any]:
    # A factory may hand over any object with capture() and close() (tests do).
    values = getattr(backend, 'health_values', None)
    return values() if values is not None else {}


class CaptureRunner:
    """Calls HostCapture.capture_once() every interval_s on its own thread."""

    def __init__(self, capture: HostCapture, *,
                 on_frame: Optional[Callable[[Optional[Path]], None]] = None) -> None:
        self._capture = capture
        self._on_frame = on_frame
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name='capture', daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Let the capture in progress be the last one; safe from the capture thread."""
        self._stop.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the capture in progress; a hung camera is killed, not waited for."""
        self._stop.set()
        if self._thread is None:
            return
        self._thread.join(timeout=0.2)
        if self._thread.is_alive():
            self._capture.close()  # kills a camera process we would otherwise wait on
            self._thread.join(timeout=timeout_s)
        self._thread = None

    def _run(self) -> None:
        interval = self._capture.params['interval_s']
        next_start = time.monotonic()
        while not self._stop.is_set():
            interval = self._pace(interval)
            try:
                frame = self._capture.capture_once()
                if self._on_frame is not None:
                    self._on_frame(frame)
            except Exception:  # noqa: B902 - the capture thread must outlive any bug
                _log.exception('capture step failed unexpectedly; continuing')
            # Keep a steady cadence; a slow capture delays the next one, never queues.
            next_start = max(next_start + interval, time.monotonic())
            next_start += self._capture.backoff_s
            self._stop.wait(max(0.0, next_start - time.monotonic()))

    def _pace(self, interval: float) -> float:
        # Never faster than the camera can give a fresh result (the IMX500's inference).
        floor = self._capture.min_interval_s
        if interval < floor:
            _log.warning('interval_s=%g is shorter than one network inference (%.3f s); '
                         'capturing every %.3f s', interval, floor, floor)
            return floor
        return interval


def build_argument_parser(specs: Sequence[ParamSpec] = CAPTURE_PARAMS
                          ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='framebridge-capture',
        description='Capture frames into a framebridge shared volume without ROS.')
    for spec in specs:
        flags = [f'--{spec.name}']
        if '_' in spec.name:
            flags.append(f'--{spec.name.replace("_", "-")}')
        if spec.kind is list:
            parser.add_argument(*flags, dest=spec.name, nargs='*', default=None,
                                help=spec.description)
        elif spec.kind is bool:
            parser.add_argument(*flags, dest=spec.name, default=None,
                                type=lambda text: text.lower() in ('1', 'true', 'yes'),
                                help=spec.description)
        else:
            parser.add_argument(*flags, dest=spec.name, type=spec.kind, default=None,
                                choices=spec.choices,
                                help=f'{spec.description} Default: {spec.default}.')
    parser.add_argument('--count', type=int, default=0,
                        help='Stop after this many frames (0: run until Ctrl-C).')
    parser.add_argument('--log-level', default='INFO',
                        choices=('DEBUG', 'INFO', 'WARNING', 'ERROR'))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Plain-Python host capture: the host_capture node's job on a host without ROS."""
    options = build_argument_parser().parse_args(argv)
    logging.basicConfig(level=options.log_level,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    values = {name: value for name, value in vars(options).items() if value is not None}
    try:
        capture = HostCapture(values)
        capture.start()
    except (ParameterError, VolumeError, CameraError) as error:
        _log.error('cannot start: %s', error)
        return 2
    done = threading.Event()

    def report(frame: Optional[Path]) -> None:
        stats = capture.stats
        if frame is not None:
            _log.info('frame %s landed (%d bytes, %.0f ms; %d captured, %d errors)',
                      frame.name, frame.stat().st_size, 1000 * stats.last_duration_s,
                      stats.frames_captured, stats.errors)
        if options.count and stats.frames_captured >= options.count:
            # Stop the loop here, on its own thread: a wake-up of the main thread may
            # come after the next capture on a loaded machine.
            runner.request_stop()
            done.set()

    runner = CaptureRunner(capture, on_frame=report)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    _log.info('capturing %dx%d from %s into %s every %.2f s',
              capture.params['width'], capture.params['height'], capture.source,
              capture.layout.live, capture.params['interval_s'])
    runner.start()
    done.wait()
    runner.stop()
    capture.close()
    _log.info('stopped after %d frames, %d errors', capture.stats.frames_captured,
              capture.stats.errors)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
