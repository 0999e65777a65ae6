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
A lane's flow from displacement votes, learned without tracks (dense traffic at 1 fps).

Every detection of the last frame votes, for every detection of this frame in its lane
(ground points on one lane line, similar height and colour), the displacement between
them. In dense
traffic most pairs are wrong (the vehicle ahead, the one behind), but the gaps between
vehicles vary while a lane's speed does not: over many frames the true displacement
piles up in one bin and the wrong ones spread. A pair of unlike sizes or colours
weighs less: one vehicle keeps both from frame to frame. Used by the tracker
(:mod:`framebridge_ros.core.analysis.tracking`) as a lane prior, and by the lane-order
assignment (:mod:`framebridge_ros.core.analysis.lane_order`) as its flow hypotheses.
"""

import math
from typing import List, Optional, Sequence, Tuple

import cv2
from framebridge_ros.core.analysis.lane_order import LANE_TOLERANCE, LaneFrame, same_lane, \
    size_mismatch
import numpy as np

__all__ = ['LaneVotes']

Box = Tuple[float, float, float, float]  # x, y, w, h in pixels
Point = Tuple[float, float]
_MIN_VOTES = 8
_MIN_SHARE = 0.08
_PEAK_VOTES = 3  # a flow hypothesis (not a decision) needs this many votes


class LaneVotes:
    """Displacement votes between consecutive frames, kept for ``memory_s``."""

    def __init__(self, *, max_height_ratio: float, max_appearance_distance: float,
                 min_speed_frac: float, memory_s: float) -> None:
        self._max_height_ratio = float(max_height_ratio)
        self._max_appearance_distance = float(max_appearance_distance)
        self._min_speed_frac = float(min_speed_frac)
        self._memory_s = float(memory_s)
        # Rows of (u, height, vx, vy, weight, t): u and height as LaneFrame.lane gives them.
        self._votes = np.zeros((0, 6))
        self._previous: List[Tuple[Box, Optional[np.ndarray]]] = []
        self._previous_sizes: List[Tuple[float, float, bool]] = []
        self._previous_lanes: List[Tuple[float, float]] = []
        self.previous_t = 0.0  # time of the last frame added
        self._width = 1
        self._flows: dict = {}  # flow() asked again in one frame: the votes did not change

    def clear(self) -> None:
        """Forget every vote and the last frame."""
        self._votes = np.zeros((0, 6))
        self._previous = []
        self._flows = {}

    def add(self, boxes: Sequence[Box], features: Sequence[Optional[np.ndarray]], t: float,
            frame: LaneFrame, width: int) -> None:
        """Add this frame's votes against the last frame's detections, then forget old ones."""
        self._width = width
        dt = t - (self.previous_t if self._previous else t)
        rows = []
        sizes = [(frame.length(b), frame.height(b), frame.whole(b)) for b in boxes]
        lanes = [frame.lane(b) for b in boxes]
        if self._previous and 0.0 < dt <= 3.0:
            for box, feature, size, (u, h) in zip(boxes, features, sizes, lanes):
                cx, cy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
                for (old, old_feature), old_size, (ou, oh) in zip(
                        self._previous, self._previous_sizes, self._previous_lanes):
                    ox, oy = old[0] + old[2] / 2.0, old[1] + old[3] / 2.0
                    if not same_lane(u, h, ou, oh) or max(box[3], old[3]) \
                            > self._max_height_ratio * max(1e-6, min(box[3], old[3])):
                        continue
                    weight = math.exp(-size_mismatch(size, old_size))
                    if feature is not None and old_feature is not None:
                        unlike = cv2.compareHist(old_feature, feature,
                                                 cv2.HISTCMP_BHATTACHARYYA)
                        if unlike > self._max_appearance_distance:
                            continue
                        weight *= 1.0 - unlike
                    rows.append((u, h, (cx - ox) / dt, (cy - oy) / dt, weight, t))
        self._previous = list(zip(boxes, features))
        self._previous_sizes = sizes
        self._previous_lanes = lanes
        self.previous_t = t
        votes = np.vstack([self._votes, np.array(rows, np.float64).reshape(-1, 6)])
        self._votes = votes[votes[:, 5] >= t - self._memory_s]
        self._flows = {}

    def _binned(self, u: float, h: float, moving: bool, forward: Optional[Point]):
        """Return a lane's votes, their bin keys, the bins and the bins' weights."""
        votes = self._votes
        near = votes[np.abs(votes[:, 0] - u) <= LANE_TOLERANCE * np.maximum(h, votes[:, 1])]
        if moving:  # votes of standing traffic left out
            near = near[np.hypot(near[:, 2], near[:, 3]) >= self._min_speed_frac * self._width]
        if forward is not None:  # the lane's heading is known: backward pairs are aliases
            near = near[near[:, 2] * forward[0] + near[:, 3] * forward[1] > 0.0]
        keys = np.round(near[:, 2] / max(1.0, 0.25 * h)).astype(np.int64)
        bins, index = np.unique(keys, return_inverse=True)
        weights = np.bincount(index, weights=near[:, 4]) if len(near) else np.zeros(0)
        return near, keys, bins, weights

    @staticmethod
    def _median(members: np.ndarray) -> Point:
        vx, vy = (float(v) for v in np.sort(members[:, 2:4], axis=0)[len(members) // 2])
        return (vx, vy)

    def flow(self, u: float, h: float, *, moving: bool = False,
             forward: Optional[Point] = None) -> Optional[Point]:
        """
        Return a lane's flow when one displacement dominates its votes, else None.

        The lane is the one whose ground points lie at u along the counting line, for
        boxes of extent h along it (:meth:`LaneFrame.lane`).

        The bin is a quarter of a vehicle height wide; the peak (with its two
        neighbours) needs ``_MIN_VOTES`` votes, ``_MIN_SHARE`` of the band's votes, and
        twice the weight of any bin not next to it. Standing traffic teaches no flow;
        with ``moving`` its votes are left out: the lane's flow when it moves, whatever
        it does now (a queue). With ``forward`` (the way the lane heads, a vector in
        the image) only the votes that go that way count.
        """
        key = (u, h, moving, forward)
        if key not in self._flows:
            self._flows[key] = self._flow(u, h, moving, forward)
        return self._flows[key]

    def _flow(self, u: float, h: float, moving: bool,
              forward: Optional[Point]) -> Optional[Point]:
        near, keys, bins, weights = self._binned(u, h, moving, forward)
        if len(near) < _MIN_VOTES:
            return None
        top = int(np.argmax(weights))
        peak = int(bins[top])
        rival = float(weights[np.abs(bins - peak) > 1].max(initial=0.0))
        members = near[np.abs(keys - peak) <= 1]
        share = float(members[:, 4].sum() / near[:, 4].sum())
        # A lane of N vehicles a frame gives N true pairs of N x N: the peak holds about
        # 1/N of the votes, while pairs that mean nothing spread over every bin.
        if len(members) < _MIN_VOTES or weights[top] < 2.0 * rival or share < _MIN_SHARE:
            return None
        vx, vy = self._median(members)
        if math.hypot(vx, vy) < self._min_speed_frac * self._width:
            return None
        return (vx, vy)

    def peaks(self, u: float, h: float, count: int = 3,
              forward: Optional[Point] = None) -> List[Point]:
        """Return the flows of the strongest few bins of a lane's moving votes."""
        near, keys, bins, weights = self._binned(u, h, True, forward)
        out: List[Point] = []
        taken: List[int] = []
        for top in np.argsort(-weights, kind='stable'):
            peak = int(bins[top])
            if any(abs(peak - other) <= 1 for other in taken):
                continue
            members = near[np.abs(keys - peak) <= 1]
            if len(members) < _PEAK_VOTES:
                break
            taken.append(peak)
            out.append(self._median(members))
            if len(out) == count:
                break
        return out
