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
Running host_restart_command: the supervisor's one way to revive host capture.

At most one run at a time and at most one per back-off period; no shell, no stdin, its
own session, so a run past its timeout is killed with all it started. The last 300
bytes of its output are kept for the log and for ``~/status``.
"""

import os
import signal
import subprocess
import tempfile
from typing import List, Optional, Sequence, Tuple

from framebridge_ros.core.supervision.rules import Backoff

__all__ = ['HostRestart', 'kill_group']


def kill_group(process: subprocess.Popen) -> None:
    """Kill a command we started and whatever it started (its own session), and reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended on its own meanwhile
    process.wait()


class HostRestart:
    """The runs of host_restart_command: start, poll, kill; ``restarts`` their outcomes."""

    def __init__(self) -> None:
        self.backoff = Backoff(1.0, 1.0)  # the supervisor sets it from its parameters
        self.restarts: List[Tuple[float, str]] = []  # (start time, outcome)
        self._process: Optional[subprocess.Popen] = None
        self._started = 0.0
        self._output = None

    def set_backoff(self, *, base_s: float, max_s: float, host_stale_s: float) -> None:
        """Host capture gets at least host_stale_s to deliver before the next try."""
        self.backoff.base_s = max(base_s, host_stale_s)
        self.backoff.max_s = max(max_s, self.backoff.base_s)

    def ready(self, now: float) -> bool:
        """Return True when no run is under way and the back-off allows another."""
        return self._process is None and self.backoff.ready(now)

    def start(self, command: Sequence[str], now: float) -> Optional[str]:
        """Start a run; return why it could not start, or None."""
        self.backoff.record(now)
        self._output = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                list(command), stdin=subprocess.DEVNULL, stdout=self._output,
                stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as error:
            self._output.close()
            self._output = None
            self.restarts.append((now, f'could not run: {error.strerror}'))
            return str(error)
        self._started = now
        self.restarts.append((now, 'running'))
        return None

    def poll(self, now: float, *, timeout_s: float) -> Optional[Tuple[bool, str]]:
        """Return (exited 0, outcome) once the run under way ends or is killed, else None."""
        process = self._process
        if process is None:
            return None
        code = process.poll()
        if code is None:
            if now - self._started < timeout_s:
                return None
            kill_group(process)
            outcome = f'killed after {timeout_s:g} s'
        else:
            outcome = f'exit code {code}'
        self._output.seek(0)
        output = self._output.read()[-300:].decode(errors='replace').strip()
        self._output.close()
        self._process = self._output = None
        self.restarts[-1] = (self.restarts[-1][0], outcome + (f': {output}' if output else ''))
        return code == 0, self.restarts[-1][1]

    def stop(self) -> None:
        """Kill a run under way (the supervisor is shutting down)."""
        if self._process is not None:
            kill_group(self._process)
            self._process = None
