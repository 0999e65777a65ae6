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

"""What both rpicam-still back-ends share: argument hygiene, killing, the metadata file."""

import json
import logging
import os
from pathlib import Path
import signal
import subprocess
from typing import Any, Dict, List, Optional, Sequence

__all__ = ['clean_args', 'kill_group', 'read_camera_metadata']

_log = logging.getLogger('framebridge.capture')


def clean_args(args: Sequence[str]) -> List[str]:
    return [arg for arg in args if arg]


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        _log.error('camera process %d survived SIGKILL', process.pid)


def read_camera_metadata(path: Path) -> Optional[Dict[str, Any]]:
    # The camera's own metadata is a bonus: a frame without it is still a frame.
    try:
        if path.stat().st_size > 256 * 1024:
            return None
        camera = json.loads(path.read_bytes())
        return camera if isinstance(camera, dict) else None
    except (OSError, ValueError):
        return None
