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
Persistent capture: one rpicam-still kept running, a frame per SIGUSR1.

A one-shot rpicam-still pays the camera start-up (1 to 3 s, up to 7 s on some Pis) on
every frame. Here the tool runs as

    rpicam-still -n -t 0 --signal -o .tmp/persistent_%08d.jpg --framestart N
                 --metadata .tmp/persistent.json ...

and each capture() sends SIGUSR1 and waits for the frame. rpicam-still (1.12,
apps/rpicam_still.cpp) saves and closes the JPEG, then rewrites the metadata file,
then looks at the next signal: so a rewritten metadata file means the frame before it
is complete. It installs its signal handlers only after the camera is open, so the
process starts with SIGUSR1 ignored (an ignored signal stays ignored across exec until
the tool sets its handler): an early request is dropped, not fatal, and is re-sent.

If the process dies max_deaths times within death_window_s (whether or not frames
came in between), capture falls back to one-shot for good.
"""

from collections import deque
import logging
import os
from pathlib import Path
import signal
import subprocess
import threading
import time
from typing import Deque, Optional, Sequence

from framebridge_ros.core.cameras.backend import CameraError, CaptureBackend, CaptureResult
from framebridge_ros.core.cameras.rpicam_io import clean_args, kill_group, RpicamFrameReader
from framebridge_ros.core.cameras.rpicam_oneshot import RpicamStill

__all__ = ['PersistentRpicamStill']

_log = logging.getLogger('framebridge.capture')

_RESEND_S = 0.5  # re-send SIGUSR1 this often until the tool has its handler
_POLL_S = 0.002


def _ignore_sigusr1() -> None:
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)


class PersistentRpicamStill(CaptureBackend):
    """One long-running rpicam-still in --signal mode; falls back to one-shot."""

    def __init__(self, *, command: str, width: int, height: int, quality: int,
                 timeout_s: float, work_dir: Path, fallback: RpicamStill,
                 extra_args: Sequence[str] = (), max_deaths: int = 3,
                 death_window_s: float = 600.0,
                 reader: Optional[RpicamFrameReader] = None) -> None:
        self._command, self._width, self._height = command, width, height
        self._quality, self._timeout_s, self._work_dir = quality, timeout_s, work_dir
        self._extra_args = clean_args(extra_args)
        self._reader = reader or RpicamFrameReader(extra_args=self._extra_args)
        self._fallback, self._max_deaths = fallback, max_deaths
        self._death_window_s = death_window_s
        self._metadata_path = work_dir / f'persistent_{os.getpid()}.json'
        self._process: Optional[subprocess.Popen] = None
        self._stderr: Deque[str] = deque(maxlen=20)
        self._ready = threading.Event()
        self._next_index = 0
        self._deaths: Deque[float] = deque(maxlen=max_deaths)
        self._fallen_back = False
        self._lock = threading.Lock()
        self._closed = False
        self.source = 'persistent'

    def _frame_path(self, index: int) -> Path:
        return self._work_dir / f'persistent_{os.getpid()}_{index:08d}.jpg'

    def command_line(self) -> list:
        pattern = str(self._work_dir / f'persistent_{os.getpid()}_%08d.jpg')
        return [self._command, '--nopreview', '--timeout', '0', '--signal',
                '--encoding', 'jpg', '--width', str(self._width),
                '--height', str(self._height), '--quality', str(self._quality),
                '--output', pattern, '--framestart', str(self._next_index),
                '--metadata', str(self._metadata_path), '--metadata-format', 'json',
                *self._extra_args]

    def _start(self) -> subprocess.Popen:
        self._ready.clear()
        self._stderr.clear()
        try:
            process = subprocess.Popen(
                self.command_line(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_ignore_sigusr1)
        except FileNotFoundError as error:
            raise CameraError(f'camera_command {self._command!r} was not found; install '
                              'rpicam-apps or set source:=simulated') from error
        threading.Thread(target=self._read_stderr, args=(process,), daemon=True,
                         name='rpicam-stderr').start()
        _log.info('started persistent %s (pid %d)', self._command, process.pid)
        return process

    def _read_stderr(self, process: subprocess.Popen) -> None:
        for raw in process.stderr:
            line = raw.decode(errors='replace').rstrip()
            self._stderr.append(line)
            if 'Mode selection' in line or 'Still capture' in line:
                self._ready.set()

    def capture(self, destination: Path) -> CaptureResult:
        if self._fallen_back:
            return self._fallback.capture(destination)
        with self._lock:
            if self._closed:
                raise CameraError('camera back-end is closed')
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            process = self._process
        try:
            result = self._request_frame(process, destination)
        except CameraError:
            now = time.monotonic()
            self._deaths.append(now)
            self._stop_process()
            if (len(self._deaths) == self._max_deaths
                    and now - self._deaths[0] <= self._death_window_s):
                self._fallen_back = True
                self.source = self._fallback.source
                _log.error('persistent %s failed %d times in %.0f s; falling back to one '
                           'rpicam-still per frame', self._command, self._max_deaths,
                           now - self._deaths[0])
            raise
        return result

    def _metadata_stamp(self) -> Optional[int]:
        try:
            return os.stat(self._metadata_path).st_mtime_ns
        except FileNotFoundError:
            return None

    def _request_frame(self, process: subprocess.Popen, destination: Path) -> CaptureResult:
        index = self._next_index
        frame_path = self._frame_path(index)
        before = self._metadata_stamp()
        started = time.time()
        deadline = time.monotonic() + self._timeout_s
        next_signal, requested_when_ready = 0.0, False
        while True:
            now = time.monotonic()
            if process.poll() is not None:
                raise CameraError(f'persistent {self._command} exited with '
                                  f'{process.returncode}: {self._stderr_tail()}')
            stamp = self._metadata_stamp()
            if stamp is not None and stamp != before and frame_path.exists():
                break
            if now > deadline:
                raise CameraError(f'persistent {self._command} gave no frame within '
                                  f'camera_timeout_s={self._timeout_s:g} s; restarting it')
            # A request sent before the tool reported its camera ready ('Mode selection',
            # printed after its handlers are installed) may have been ignored: repeat it
            # until one was sent while ready.
            if now >= next_signal and not requested_when_ready:
                ready = self._ready.is_set()
                try:
                    os.kill(process.pid, signal.SIGUSR1)
                except ProcessLookupError:
                    continue
                requested_when_ready, next_signal = ready, now + _RESEND_S
            time.sleep(_POLL_S)
        self._next_index = index + 1
        os.replace(frame_path, destination)
        # The tool is still rewriting the metadata file in place when we may read it.
        return self._reader.result(self._metadata_path, started=started, settle_s=0.5)

    def _stderr_tail(self) -> str:
        return ' | '.join(list(self._stderr)[-3:]) or 'no error output'

    def _stop_process(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGUSR2)  # the tool's own clean exit
            process.wait(timeout=2.0)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            kill_group(process)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._stop_process()
        self._fallback.close()
        self._metadata_path.unlink(missing_ok=True)
        for leftover in self._work_dir.glob(f'persistent_{os.getpid()}_*.jpg'):
            leftover.unlink(missing_ok=True)
