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
Retention of frames in the shared volume.

Only files whose names are ours are ever touched, only inside the volume, and symlinks
are removed as links, never followed.
"""

import logging
import os
import time
from typing import List

from framebridge_ros.core.volume import (
    FRAME_SUFFIX, is_frame_name, list_frames_sorted, METADATA_SUFFIX, VolumeLayout)

__all__ = ['remove_frame', 'trim_live', 'remove_orphans']

_log = logging.getLogger(__name__)


def remove_frame(layout: VolumeLayout, name: str) -> None:
    """Delete a frame in live/ and its metadata; a file already gone is not an error."""
    (layout.live / name).unlink(missing_ok=True)
    (layout.metadata / (name[:-len(FRAME_SUFFIX)] + METADATA_SUFFIX)).unlink(missing_ok=True)


def trim_live(layout: VolumeLayout, *, max_images: int) -> List[str]:
    """Delete the oldest frames so at most max_images stay in live/; return their names."""
    frames = list_frames_sorted(layout)
    excess = frames[:max(0, len(frames) - max_images)]
    for frame in excess:
        remove_frame(layout, frame.name)
    if excess:
        _log.debug('retention removed %d frame(s), oldest %s', len(excess), excess[0].name)
    return [frame.name for frame in excess]


def remove_orphans(layout: VolumeLayout, *, older_than_s: float = 60.0) -> List[str]:
    """
    Delete leftovers of interrupted hand-offs, older than older_than_s.

    Metadata whose frame is gone (the frame is committed last, so fresh metadata may
    legitimately wait for its frame) and partial files in .tmp/.
    """
    removed, cutoff = [], time.time() - older_than_s
    live_stems = {name[:-len(FRAME_SUFFIX)] for name in os.listdir(layout.live)
                  if is_frame_name(name)} if layout.live.is_dir() else set()
    for directory, is_orphan in (
            (layout.metadata, lambda name: name.endswith(METADATA_SUFFIX)
             and is_frame_name(name[:-len(METADATA_SUFFIX)] + FRAME_SUFFIX)
             and name[:-len(METADATA_SUFFIX)] not in live_stems),
            (layout.tmp, lambda name: True)):
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                if (entry.is_file(follow_symlinks=False) and is_orphan(entry.name)
                        and entry.stat(follow_symlinks=False).st_mtime < cutoff):
                    os.unlink(entry.path)
                    removed.append(entry.name)
            except FileNotFoundError:
                continue
    return removed
