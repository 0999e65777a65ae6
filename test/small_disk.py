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
A real small filesystem for disk-full tests: a tmpfs mounted for one test.

Mounting needs root (CI runs as root); elsewhere the test is skipped with the reason.
Shared by the tests and bench/disk_full.py.
"""

from contextlib import contextmanager
import os
from pathlib import Path
import shutil
import subprocess
from typing import Iterator, Optional

MIB = 1024 * 1024

__all__ = ['MIB', 'free_bytes', 'grow_file', 'mount_error', 'tmpfs']


def mount_error(directory: Path, size_mb: int) -> Optional[str]:
    """Mount a tmpfs of size_mb at directory; return None, or why it could not be."""
    if os.geteuid() != 0:
        return 'mounting a tmpfs needs root (CI runs the tests as root)'
    directory.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size_mb}m,mode=0755', 'tmpfs',
                        str(directory)], check=True, capture_output=True, timeout=10)
    except FileNotFoundError:
        return 'no mount command on this machine'
    except subprocess.CalledProcessError as error:
        return f'mount -t tmpfs refused: {error.stderr.decode(errors="replace").strip()}'
    return None


@contextmanager
def tmpfs(directory: Path, size_mb: int, *, skip=None) -> Iterator[Path]:
    """Yield directory with a fresh tmpfs of size_mb mounted on it; unmount afterwards."""
    why = mount_error(directory, size_mb)
    if why is not None:
        if skip is None:
            raise RuntimeError(f'cannot use a small disk: {why}')
        skip(f'needs a small real filesystem: {why}')
    try:
        yield directory
    finally:
        # Lazy: a subprocess that still holds a file must not make the unmount fail.
        subprocess.run(['umount', '-l', str(directory)], check=False, capture_output=True)


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def grow_file(path: Path, *, leave_free_bytes: int, chunk: int = MIB) -> int:
    """Grow a (foreign) file until the disk has about leave_free_bytes free; return its size."""
    with open(path, 'ab') as stream:
        while True:
            room = free_bytes(path.parent) - leave_free_bytes
            if room <= 0:
                break
            try:
                stream.write(b'\0' * min(chunk, room))
                stream.flush()
            except OSError:
                break
    return path.stat().st_size
