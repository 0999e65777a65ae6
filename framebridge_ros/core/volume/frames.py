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
Reading frames from the volume: the checks and freshness rule every reader shares.

load_frame() turns a path in live/ into a Frame or raises FrameRejected with a reason
a counter can be keyed on. The frame_provider node and the drop-in reader both use it,
so a frame refused by one is refused by the other.
"""

from collections import OrderedDict
from dataclasses import dataclass
import os
from pathlib import Path
import stat
import threading
import time
from typing import Any, Dict, Optional, Tuple

from framebridge_ros.core.volume.jpeg import decode_jpeg, inspect_jpeg, InvalidJpegError
from framebridge_ros.core.volume.layout import FUTURE_TOLERANCE_S, VolumeLayout
from framebridge_ros.core.volume.metadata import derive_metadata, load_metadata, MetadataError
import numpy as np

__all__ = ['DecodeCache', 'Frame', 'FrameRejected', 'REJECT_REASONS', 'load_frame']

# Why a frame was not used; also the names of the provider's skip counters.
REJECT_REASONS = ('stale', 'future', 'corrupt', 'gone', 'unsafe', 'too_large')

# A decoded frame costs 3 bytes per pixel: a header may not promise more pixels than any
# camera here has (12 MP; 100 MP leaves room) nor more than a real JPEG packs into its
# bytes (a uniform image still takes a byte per 64 pixels).
MAX_FRAME_PIXELS = 100_000_000
MAX_PIXELS_PER_BYTE = 1000


class FrameRejected(Exception):
    """A frame that must not be published; reason is one of REJECT_REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    """A complete, fresh JPEG from live/ with its metadata, not yet decoded."""

    path: Path
    jpeg: bytes
    metadata: Dict[str, Any]
    capture_time: float
    width: int
    height: int

    @property
    def name(self) -> str:
        return self.path.name

    def age_s(self, now: Optional[float] = None) -> float:
        return (time.time() if now is None else now) - self.capture_time


def check_freshness(capture_time: float, *, now: float, max_age_s: float) -> None:
    """Raise FrameRejected if a frame captured at capture_time may not be used at now."""
    age = now - capture_time
    if age > max_age_s:
        raise FrameRejected('stale', f'{age:.2f} s old, older than max_age_s={max_age_s:g}')
    if age < -FUTURE_TOLERANCE_S:
        raise FrameRejected('future', f'dated {-age:.1f} s in the future; is the host '
                            'clock right?')


def load_frame(layout: VolumeLayout, path: Path, *, max_age_s: float,
               now: Optional[float] = None, max_file_bytes: int = 64 * 1024 * 1024,
               min_file_bytes: int = 0) -> Frame:
    """
    Read, check and date one frame; raise FrameRejected saying why it cannot be used.

    Refuses: symlinks out of the volume and anything not a regular file (unsafe),
    files over max_file_bytes (too_large), vanished files (gone), incomplete or
    undecodable-looking JPEGs (corrupt), and frames outside the freshness window
    (stale, future). Missing or broken metadata is derived from the file and marked.
    """
    if not layout.contains(path):
        raise FrameRejected('unsafe', 'resolves outside the volume (symlink?)')
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FrameRejected('gone', 'disappeared before it could be read') from None
    if not stat.S_ISREG(info.st_mode):
        raise FrameRejected('unsafe', 'is not a regular file')
    if info.st_size > max_file_bytes:
        raise FrameRejected('too_large', f'{info.st_size} bytes, over {max_file_bytes}')
    try:
        with open(path, 'rb') as stream:
            # Sized by the stat above: read(max_file_bytes + 1) would allocate 64 MiB per
            # frame, 4 ms of a 5 MB frame's 4.5 ms read (bench/handoff.py, compressed).
            jpeg = stream.read(min(info.st_size, max_file_bytes) + 1)
    except FileNotFoundError:
        raise FrameRejected('gone', 'disappeared before it could be read') from None
    except OSError as error:
        raise FrameRejected('gone', f'cannot be read: {error.strerror}') from error
    try:
        jpeg_info = inspect_jpeg(jpeg, min_bytes=min_file_bytes)
    except InvalidJpegError as error:
        raise FrameRejected('corrupt', str(error)) from error
    pixels = jpeg_info.width * jpeg_info.height
    if pixels > MAX_FRAME_PIXELS or pixels > MAX_PIXELS_PER_BYTE * len(jpeg):
        raise FrameRejected('too_large', f'header claims {jpeg_info.width}x{jpeg_info.height} '
                            f'from {len(jpeg)} bytes: refused before decoding')
    metadata_path = layout.metadata_path_for(path)
    try:
        if not layout.contains(metadata_path):
            raise MetadataError(f'{metadata_path.name} resolves outside the volume (symlink?)')
        metadata = load_metadata(metadata_path)
    except MetadataError as error:
        metadata = derive_metadata(path, jpeg=jpeg, width=jpeg_info.width,
                                   height=jpeg_info.height, reason=str(error))
    capture_time = float(metadata['capture_time'])
    check_freshness(capture_time, now=time.time() if now is None else now,
                    max_age_s=max_age_s)
    return Frame(path=path, jpeg=jpeg, metadata=metadata, capture_time=capture_time,
                 width=jpeg_info.width, height=jpeg_info.height)


class DecodeCache:
    """
    The last decoded images, keyed by (frame name, scale), bounded in count and bytes.

    Thread-safe; hits and misses are counted for diagnostics.
    """

    def __init__(self, *, max_entries: int = 10, max_bytes: int = 512 * 1024 * 1024) -> None:
        self._entries: 'OrderedDict[Tuple[str, float], np.ndarray]' = OrderedDict()
        self._max_entries, self._max_bytes = max_entries, max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def decode(self, frame: Frame, *, scale: float = 1.0) -> np.ndarray:
        """Decode frame at scale, or return the image decoded before; raise FrameRejected."""
        key = (frame.name, scale)
        with self._lock:
            image = self._entries.get(key)
            if image is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return image
            self.misses += 1
        try:
            image = decode_jpeg(frame.jpeg, scale=scale)
        except InvalidJpegError as error:
            raise FrameRejected('corrupt', str(error)) from error
        image.flags.writeable = False  # shared between consumers: nobody may draw on it
        self._store(key, image)
        return image

    def _store(self, key: Tuple[str, float], image: np.ndarray) -> None:
        if self._max_entries == 0 or image.nbytes > self._max_bytes:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = image
            self._bytes += image.nbytes
            while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
