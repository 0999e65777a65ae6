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
The scene's lanes, learned online: where the ground points of its detections pile up.

A lane is the line its vehicles' wheels touch. Over a minute or two, the ground points
of a fixed camera's detections, taken along the counting line (``u`` of
:meth:`~framebridge_ros.core.analysis.lane_order.LaneFrame.lane`), pile up on one line
per lane, while one frame's boxes scatter around them (at night a box may take in a
beam or a halo; a box's bottom jitters by a few per cent of its height). So the lanes
are the peaks of the density of the recent ground points, each point spread by a
tenth of its box's height, and a box belongs to the nearest peak within
:data:`~framebridge_ros.core.analysis.lane_order.LANE_TOLERANCE` of the taller height.
Grouping one frame's boxes by their gaps instead would chain: a few boxes in between
join two lanes going opposite ways.

Plain data in and out; one map per image stream (:class:`LaneMap`).
"""

from typing import List, Optional, Sequence, Tuple

from framebridge_ros.core.analysis.lane_order import lane_groups, LANE_TOLERANCE
import numpy as np

__all__ = ['LaneMap']

_SPREAD = 0.1  # a ground point's spread, as a share of its box's height
_MIN_SHARE = 3.0  # a lane needs the density of this many detections on one line
# A lane's heading by its lamps (:mod:`.heading`) needs this many boxes and their mean
# that many standard errors from zero: by day, with no lamps lit, the cue is noise
# around zero; at dusk and night a lane's mean is 0.2 to 0.45, and at dusk in dense
# traffic as little as 0.09, however many boxes say so (docs/ANALYSIS_HISTORY.md,
# "Session 11").
_MIN_HEADINGS = 12
_HEADING_ERRORS = 4.0


class LaneMap:
    """Recent ground points (u, height, t) and the lane lines they make."""

    def __init__(self, *, memory_s: float) -> None:
        self._memory_s = float(memory_s)
        self._points = np.zeros((0, 3))
        self._headings = np.zeros((0, 4))  # (u, height, lamp cue along s, t)
        self._lines: Optional[List[Tuple[float, float, float]]] = None

    def clear(self) -> None:
        """Forget every point and heading."""
        self._points = np.zeros((0, 3))
        self._headings = np.zeros((0, 4))
        self._lines = None

    def add_headings(self, cues: Sequence[Tuple[float, float, float]], t: float) -> None:
        """Add one frame's (u, height, lamp cue along s) rows at time t."""
        new = np.array([(u, h, c, t) for u, h, c in cues], np.float64).reshape(-1, 4)
        rows = np.vstack([self._headings, new])
        self._headings = rows[rows[:, 3] >= t - self._memory_s]

    def heading(self, u: float, height: float) -> Optional[int]:
        """Return which way (+1, -1 along s) the lane at u heads by its lamps, else None."""
        rows = self._headings
        cues = rows[np.abs(rows[:, 0] - u) <= LANE_TOLERANCE * np.maximum(height, rows[:, 1]),
                    2]
        if len(cues) < _MIN_HEADINGS:
            return None
        mean = float(cues.mean())
        error = float(cues.std()) / np.sqrt(len(cues))
        if abs(mean) < _HEADING_ERRORS * error or mean == 0.0:
            return None
        return 1 if mean > 0.0 else -1

    def add(self, lanes: Sequence[Tuple[float, float]], t: float) -> None:
        """Add one frame's (u, height) pairs at time t; forget points past the memory."""
        new = np.array([(u, h, t) for u, h in lanes], np.float64).reshape(-1, 3)
        points = np.vstack([self._points, new])
        self._points = points[points[:, 2] >= t - self._memory_s]
        self._lines = None

    @property
    def points(self) -> np.ndarray:
        """Return the remembered (u, height, t) rows."""
        return self._points

    def lines(self) -> List[Tuple[float, float, float]]:
        """
        Return the lanes as (u, median height, detections near it), ordered by u.

        Peaks of the density of the ground points (each a Gaussian of ``_SPREAD`` x its
        height, on a 1 px grid) that hold at least ``_MIN_SHARE`` detections' worth;
        of two peaks closer than the lane tolerance, the stronger stays.
        """
        if self._lines is None:
            self._lines = self._find_lines()
        return self._lines

    def _find_lines(self) -> List[Tuple[float, float, float]]:
        points = self._points
        if not len(points):
            return []
        u, h = points[:, 0], np.maximum(1.0, points[:, 1])
        sigma = np.maximum(1.0, np.round(_SPREAD * h))
        margin = int(3 * sigma.max()) + 2  # wider than any kernel's radius
        grid = np.arange(np.floor(u.min()) - margin, u.max() + margin + 1.0)
        density = np.zeros(len(grid))
        # Points at one height share one bandwidth: sum them as a histogram, then blur.
        for bandwidth in np.unique(sigma):
            mine = sigma == bandwidth
            hist = np.bincount(np.clip(np.round(u[mine] - grid[0]).astype(np.int64), 0,
                                       len(grid) - 1), minlength=len(grid)).astype(np.float64)
            radius = int(3 * bandwidth) + 1
            x = np.arange(-radius, radius + 1)
            kernel = np.exp(-0.5 * (x / bandwidth) ** 2)
            kernel /= kernel.sum()
            density += np.convolve(hist, kernel, mode='same')
        # N points on one line make a peak of about N / (sqrt(2 pi) sigma).
        peak_floor = _MIN_SHARE / (np.sqrt(2.0 * np.pi) * float(np.median(sigma)))
        is_peak = (density >= np.roll(density, 1)) & (density > np.roll(density, -1)) \
            & (density >= peak_floor)
        candidates = sorted(((float(density[i]), float(grid[i])) for i in np.nonzero(is_peak)[0]),
                            reverse=True)
        kept: List[Tuple[float, float, float]] = []
        for _, centre in candidates:
            near = np.abs(u - centre) <= LANE_TOLERANCE * h
            height = float(np.median(h[near])) if near.any() else float(np.median(h))
            if any(abs(centre - other) <= LANE_TOLERANCE * max(height, other_h)
                   for other, other_h, _ in kept):
                continue
            kept.append((centre, height, float(near.sum())))
        return sorted(kept)

    def groups(self, u: Sequence[float], heights: Sequence[float]) -> List[List[int]]:
        """
        Group items into lanes: each to the nearest lane line within the tolerance.

        Items near no line (a lane not learned yet) are grouped by their gaps, as
        :func:`.lane_order.lane_groups` does. Returns lists of indices in the order of u.
        """
        lines = self.lines()
        members: List[List[int]] = [[] for _ in lines]
        rest: List[int] = []
        for k, (uk, hk) in enumerate(zip(u, heights)):
            best, where = None, None
            for n, (centre, height, _) in enumerate(lines):
                gap = abs(uk - centre)
                if gap <= LANE_TOLERANCE * max(hk, height) and (best is None or gap < best):
                    best, where = gap, n
            (rest if where is None else members[where]).append(k)
        out = [sorted(m, key=lambda k: (u[k], k)) for m in members if m]
        out += [[rest[i] for i in group] for group in lane_groups(
            [u[k] for k in rest], [heights[k] for k in rest])]
        return sorted(out, key=lambda g: u[g[0]])
