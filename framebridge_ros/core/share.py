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

"""Files the package ships (config/, models/): installed share folder, else the source tree."""

from pathlib import Path
from typing import Optional

__all__ = ['shipped_file']

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def shipped_file(folder: str, name: str) -> Optional[Path]:
    """Return share/framebridge_ros/<folder>/<name>, else <source tree>/<folder>/<name>."""
    try:
        from ament_index_python.packages import get_package_share_directory
        path = Path(get_package_share_directory('framebridge_ros')) / folder / name
        if path.is_file():
            return path
    except (ImportError, LookupError, OSError, ValueError):
        pass  # not installed, or no AMENT_PREFIX_PATH: running from the source tree
    path = _SOURCE_ROOT / folder / name
    return path if path.is_file() else None
