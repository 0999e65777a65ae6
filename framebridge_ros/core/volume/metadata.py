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
Per-frame metadata: what the capture side writes and the provider side reads.

Schema (version 1), one JSON object per frame in metadata/<stem>.json::

    schema_version   1
    capture_time     float, seconds since the epoch (UTC) when the frame was exposed
    timestamp        the same as ISO 8601 UTC text
    sequence         int, per capture process, increasing
    width, height    int, pixels of the JPEG
    quality          int, JPEG quality asked of the encoder
    file_size        int, bytes of the JPEG
    sha256           hex digest of the JPEG bytes
    source           'rpicam' | 'persistent' | 'picamera2' | 'simulated' | 'derived'
    capture_duration_s  float, how long the capture took
    camera           dict, what the camera reported (rpicam --metadata), optional
    ground_truth     dict, what the simulated camera drew, optional
    detections       on-sensor (IMX500) detections, only from a camera running a network:
                     [{"box": [x, y, w, h] fractions of the JPEG, "score", "class"}], or
                     null when the camera gave no result for this frame ("no
                     information", never "no objects"); detections_reason says why.
                     With it: detections_network, detections_sensor_timestamp_ns,
                     detections_scaler_crop [x, y, w, h] sensor pixels,
                     inference_dnn_runtime_ms, inference_dsp_runtime_ms
                     (core/cameras/imx500_tensor.py).
    derived          true when the provider had to make the metadata up from the file
"""

import datetime
import hashlib
import json
import os
from pathlib import Path
import stat
from typing import Any, Mapping, Optional

from framebridge_ros.core.volume.layout import stem_capture_time

__all__ = [
    'MAX_METADATA_BYTES', 'MAX_METADATA_DEPTH', 'MetadataError', 'SCHEMA_VERSION',
    'build_metadata', 'derive_metadata', 'dump_metadata', 'load_metadata',
]

SCHEMA_VERSION = 1
# Real metadata is a few KiB; a bound keeps a hostile or broken file from making a
# reader allocate without limit.
MAX_METADATA_BYTES = 256 * 1024
# Real metadata nests 4 levels deep; a bound far above that keeps a small hostile file
# from exhausting the parser's recursion, here or in any subscriber that parses it.
MAX_METADATA_DEPTH = 32


class MetadataError(ValueError):
    """A metadata file is missing, too large, not JSON or lacks required fields."""


def iso_utc(epoch_s: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.timezone.utc)
    return moment.isoformat(timespec='microseconds').replace('+00:00', 'Z')


def build_metadata(*, capture_time: float, sequence: int, width: int, height: int,
                   quality: int, jpeg: bytes, source: str, capture_duration_s: float,
                   camera: Optional[Mapping[str, Any]] = None,
                   ground_truth: Optional[Mapping[str, Any]] = None) -> dict:
    """Metadata for a frame the capture side has just produced and checked."""
    metadata = {
        'schema_version': SCHEMA_VERSION,
        'capture_time': capture_time,
        'timestamp': iso_utc(capture_time),
        'sequence': sequence,
        'width': width,
        'height': height,
        'quality': quality,
        'file_size': len(jpeg),
        'sha256': hashlib.sha256(jpeg).hexdigest(),
        'source': source,
        'capture_duration_s': round(capture_duration_s, 6),
    }
    if camera:
        metadata['camera'] = dict(camera)
    if ground_truth:
        metadata['ground_truth'] = dict(ground_truth)
    return metadata


def dump_metadata(metadata: Mapping[str, Any]) -> bytes:
    return json.dumps(metadata, separators=(',', ':'), sort_keys=True).encode()


def load_metadata(path: Path, *, max_bytes: int = MAX_METADATA_BYTES) -> dict:
    """
    Read and check one metadata file.

    Raises MetadataError if it is missing, larger than max_bytes, not a JSON object, or
    has no numeric capture_time.
    """
    try:
        # O_NOFOLLOW: a symlink is refused, never followed (out of the volume);
        # O_NONBLOCK: a FIFO cannot make open() wait for a writer for ever.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, 'rb') as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise MetadataError(f'{path.name} is not a regular file')
            if info.st_size > max_bytes:
                raise MetadataError(
                    f'{path.name} is {info.st_size} bytes, over the {max_bytes} limit')
            raw = stream.read(max_bytes + 1)
    except FileNotFoundError as error:
        raise MetadataError(f'{path.name} is missing') from error
    except OSError as error:
        raise MetadataError(f'{path.name} cannot be read: {error.strerror}') from error
    if len(raw) > max_bytes:
        raise MetadataError(f'{path.name} grew past the {max_bytes} byte limit')
    try:
        metadata = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise MetadataError(f'{path.name} is not valid JSON: {error}') from error
    if not isinstance(metadata, dict):
        raise MetadataError(f'{path.name} holds {type(metadata).__name__}, not an object')
    if _depth_exceeds(metadata, MAX_METADATA_DEPTH):
        raise MetadataError(f'{path.name} nests deeper than {MAX_METADATA_DEPTH} levels')
    capture_time = metadata.get('capture_time')
    if isinstance(capture_time, bool) or not isinstance(capture_time, (int, float)):
        raise MetadataError(f'{path.name} has no numeric capture_time')
    return metadata


def _depth_exceeds(document: Any, limit: int) -> bool:
    """Tell whether lists and objects nest deeper than limit (iteratively: no recursion)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


def derive_metadata(frame: Path, *, jpeg: bytes, width: int, height: int,
                    reason: str) -> dict:
    """
    Metadata made up from the frame itself when its own file is missing or broken.

    The capture time comes from the file name if it is ours, else from the file's
    modification time; 'derived' and 'derived_reason' say so to every consumer.
    """
    capture_time = stem_capture_time(frame.name)
    if capture_time is None:
        capture_time = frame.stat().st_mtime
    return {
        'schema_version': SCHEMA_VERSION,
        'capture_time': capture_time,
        'timestamp': iso_utc(capture_time),
        'width': width,
        'height': height,
        'file_size': len(jpeg),
        'sha256': hashlib.sha256(jpeg).hexdigest(),
        'source': 'derived',
        'derived': True,
        'derived_reason': reason,
    }
