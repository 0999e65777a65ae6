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
JPEG checks and decoding shared by the capture side and the provider side.

OpenCV decodes a truncated JPEG without complaint (libjpeg pads the missing rows with
grey), so completeness is checked on the markers first: SOI at the start, a frame
header with the size, and EOI at the end. Only then is the file decoded.
"""

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

__all__ = ['InvalidJpegError', 'JpegInfo', 'SCALE_FLAGS', 'decode_jpeg', 'inspect_jpeg']

# Start-of-frame markers (baseline, extended, progressive, lossless and the
# arithmetic-coded variants); C4, C8 and CC are other segments.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers with no length field.
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}

# libjpeg's DCT scaling decodes at 1/2, 1/4 or 1/8 size for a fraction of the work.
SCALE_FLAGS = {
    1.0: cv2.IMREAD_COLOR,
    0.5: cv2.IMREAD_REDUCED_COLOR_2,
    0.25: cv2.IMREAD_REDUCED_COLOR_4,
    0.125: cv2.IMREAD_REDUCED_COLOR_8,
}


class InvalidJpegError(ValueError):
    """The bytes are not a complete JPEG image."""


@dataclass(frozen=True)
class JpegInfo:
    """Size of a JPEG as its frame header states it."""

    width: int
    height: int
    components: int


def inspect_jpeg(data: bytes, *, min_bytes: int = 0) -> JpegInfo:
    """
    Check that data is a complete JPEG and return its size, without decoding it.

    Raises InvalidJpegError saying what is wrong (too small, not a JPEG, truncated).
    """
    if len(data) < max(min_bytes, 4):
        raise InvalidJpegError(f'{len(data)} bytes is too small for a JPEG '
                               f'(minimum {max(min_bytes, 4)})')
    if data[:2] != b'\xff\xd8':
        raise InvalidJpegError('does not start with the JPEG SOI marker (not a JPEG)')
    # Some encoders pad after EOI; accept trailing zero bytes only.
    if data.rstrip(b'\x00')[-2:] != b'\xff\xd9':
        raise InvalidJpegError('does not end with the JPEG EOI marker (truncated)')
    info = _frame_header(data)
    if info is None:
        raise InvalidJpegError('has no readable frame header (corrupt)')
    return info


def _frame_header(data: bytes) -> Optional[JpegInfo]:
    position, size = 2, len(data)
    while position + 4 <= size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], 'big')
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            segment = data[position + 4:position + 2 + length]
            if len(segment) < 6:
                return None
            height = int.from_bytes(segment[1:3], 'big')
            width = int.from_bytes(segment[3:5], 'big')
            if width == 0 or height == 0:
                return None
            return JpegInfo(width=width, height=height, components=segment[5])
        if marker == 0xDA:  # start of scan before any frame header
            return None
        position += 2 + length
    return None


def decode_jpeg(data: 'bytes | memoryview | np.ndarray', *, scale: float = 1.0) -> np.ndarray:
    """
    Decode a JPEG to a BGR uint8 image, at full size or DCT-scaled.

    Raises InvalidJpegError if OpenCV cannot decode it.
    """
    try:
        flag = SCALE_FLAGS[scale]
    except KeyError:
        raise ValueError(f'scale must be one of {sorted(SCALE_FLAGS)}, got {scale}') from None
    buffer = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, flag)
    if image is None:
        raise InvalidJpegError('OpenCV could not decode it (corrupt)')
    return image
