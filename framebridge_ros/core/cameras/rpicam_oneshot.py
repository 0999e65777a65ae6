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

"""One rpicam-still process per frame: slow to start, but nothing stays running."""

from pathlib import Path
import subprocess
import threading
import time
from typing import List, Optional, Sequence

from framebridge_ros.core.cameras.backend import CameraError, CaptureBackend, CaptureResult
from framebridge_ros.core.cameras.rpicam_io import clean_args, kill_group, RpicamFrameReader

__all__ = ['RpicamStill']


class RpicamStill(CaptureBackend):
    """One rpicam-still process per frame: slow to start, but nothing stays running."""

    source = 'rpicam'

    def __init__(self, *, command: str, width: int, height: int, quality: int,
                 timeout_s: float, extra_args: Sequence[str] = (),
                 reader: Optional[RpicamFrameReader] = None) -> None:
        self._command, self._width, self._height = command, width, height
        self._quality, self._timeout_s = quality, timeout_s
        self._extra_args = clean_args(extra_args)
        self._reader = reader or RpicamFrameReader(extra_args=self._extra_args)
        self._process: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self._closed = False

    def command_line(self, destination: Path, metadata_path: Path) -> List[str]:
        # --immediate skips the preview and makes rpicam-still ignore -t (rpicam_still.cpp);
        # a bounded --timeout is still passed for builds that honour it. The subprocess
        # timeout in capture() is the guard that always holds.
        camera_timeout_ms = max(1, int(self._timeout_s * 1000))
        return [self._command, '--immediate', '--nopreview', '--encoding', 'jpg',
                '--width', str(self._width), '--height', str(self._height),
                '--quality', str(self._quality), '--timeout', f'{camera_timeout_ms}ms',
                '--metadata', str(metadata_path), '--metadata-format', 'json',
                '--output', str(destination), *self._extra_args]

    def capture(self, destination: Path) -> CaptureResult:
        metadata_path = destination.with_name(destination.name + '.camera.json')
        argv = self.command_line(destination, metadata_path)
        started = time.time()
        try:
            with self._lock:
                if self._closed:
                    raise CameraError('camera back-end is closed')
                # A new session lets a timeout kill the whole process group, helpers too.
                self._process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE, start_new_session=True)
            process = self._process
            try:
                _, stderr = process.communicate(timeout=self._timeout_s)
            except subprocess.TimeoutExpired:
                kill_group(process)
                raise CameraError(
                    f'{self._command} did not finish within camera_timeout_s='
                    f'{self._timeout_s:g} s and was killed; the camera may be hung or '
                    'held by another process') from None
            finally:
                self._process = None
            if process.returncode != 0:
                tail = stderr.decode(errors='replace').strip().splitlines()[-3:]
                raise CameraError(f'{self._command} exited with {process.returncode}: '
                                  + (' | '.join(tail) or 'no error output'))
            return self._reader.result(metadata_path, started=started)
        except FileNotFoundError as error:
            raise CameraError(
                f'camera_command {self._command!r} was not found; install rpicam-apps '
                'or set source:=simulated') from error
        except PermissionError as error:
            raise CameraError(f'camera_command {self._command!r} is not executable') from error
        finally:
            metadata_path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            process = self._process
        if process is not None and process.poll() is None:
            kill_group(process)
