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

"""The records a tracker keeps: a vehicle followed, a crossing counted, a lane's flow."""

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from framebridge_ros.core.analysis.geometry import box_iou
import numpy as np

__all__ = ['CONFIRM_HITS', 'Flow', 'LineCrossing', 'merge_duplicates', 'Track']

Box = Tuple[float, float, float, float]  # x, y, w, h in pixels
Point = Tuple[float, float]
# Observations in a row that confirm a track a weak detection started (SORT's min_hits).
CONFIRM_HITS = 3


@dataclass(frozen=True)
class LineCrossing:
    """One counted crossing: which track, which way, at what time."""

    track_id: int
    direction: str
    t: float


@dataclass
class Track:
    """A vehicle followed over frames; boxes are in pixels of the frames given."""

    track_id: int
    box: Box
    first_t: float
    last_t: float
    velocity: Optional[Point] = None  # px/s of the box centre, None until seen twice
    feature: Optional[np.ndarray] = None  # appearance (a normalised histogram), if given
    hits: int = 1
    misses: int = 0
    counted: Optional[str] = None
    weak_born: bool = False  # started by a weak detection: tentative until confirmed
    pending: Optional[Tuple[Point, Point]] = None  # a crossing made while tentative
    cues: List[float] = field(default_factory=list)  # lamp cues along s (heading.py)
    # The frames before the track's first, newest first: (time, boxes), kept until it
    # is seen again (late_links.revealed_step).
    before_birth: Tuple[Tuple[float, Tuple[Box, ...]], ...] = ()

    @property
    def tentative(self) -> bool:
        """Return True for a track a weak detection started, not yet confirmed."""
        return self.weak_born and self.hits < CONFIRM_HITS

    @property
    def centre(self) -> Point:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)

    @property
    def ground(self) -> Point:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h)


@dataclass
class Flow:
    """Velocity of a confirmed track in one lane, remembered as a lane prior."""

    u: float  # the lane: its ground point along the counting line (LaneFrame.lane)
    h: float
    vx: float
    vy: float
    t: float


def merge_duplicates(tracks: Sequence[Track], where: Callable[[Track], Box]) -> List[Track]:
    """
    Keep one track where two stand in one place (IoU > 0.5): one vehicle, followed twice.

    where(track) is the track's box now (seen or coasting). The track seen last and
    most often stays and keeps a crossing the other had counted; the result is in id
    order.
    """
    kept: List[Tuple[Track, Box]] = []
    for track in sorted(tracks, key=lambda tr: (tr.misses, -tr.hits)):
        box = where(track)
        twin = next((k for k, k_box in kept if box_iou(k_box, box) > 0.5), None)
        if twin is None:
            kept.append((track, box))
        elif track.counted is not None and twin.counted is None:
            twin.counted = track.counted
    return sorted((k for k, _ in kept), key=lambda tr: tr.track_id)
