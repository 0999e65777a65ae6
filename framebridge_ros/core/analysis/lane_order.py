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
Order-keeping association within a lane: vehicles in one lane do not overtake.

At one frame per second a vehicle in dense traffic moves about its own length between
frames, so the car behind often stands where the car ahead stood, and a matcher that
takes the best pair first hands one vehicle's track to its neighbour. What a lane
keeps is the order of its vehicles: ordered along the lane's direction, the vehicles
of a frame map to those of the next by a monotone assignment, in which a vehicle may
be missed (hidden, not detected) or new (it came in at the upstream edge, or was
hidden), and one leaves only at the downstream edge. :func:`align` finds the cheapest
such assignment by dynamic programming (an edit distance over the two ordered lists),
so one missed detection costs one skip instead of shifting every vehicle behind it
onto the next.

Positions are taken in the counting line's own frame (:class:`LaneFrame`): ``u`` along
the line says which lane a box is in (the ground point, where the wheels touch, is
the same for a car and a bus of one lane), ``s`` across it says where in its lane.
Plain data in and out; the tracker (:mod:`framebridge_ros.core.analysis.tracking`)
supplies its tracks (:class:`.track.Track`) and the lane's flow.
"""

from dataclasses import dataclass
import math
from typing import Callable, List, Optional, Sequence, Tuple

from framebridge_ros.core.analysis.track import Track

__all__ = ['align', 'Expected', 'LANE_TOLERANCE', 'lane_groups', 'LaneFrame', 'match_lane',
           'same_lane', 'Seen', 'size_mismatch']

Box = Tuple[float, float, float, float]  # x, y, w, h in pixels
Point = Tuple[float, float]
# Costs of the assignment, in units of a squared residual over the track's tolerance:
# a match at the edge of the tolerance (1.5) costs about as much as a miss plus a birth.
_MISS = 1.2
_BIRTH = 1.2
_ENTRY = 0.2
_ACCEPT = 1.5  # a detection farther than this many tolerances from the prediction: no
# A drawn box keeps its vehicle's size exactly, but a detector's does not: on the tuning
# seeds one vehicle's detected box changes its length or height from frame to frame by
# 6-8 % (standard deviation of the log) and, partly hidden by a nearer vehicle, by a
# quarter and more (1 in 10 steps over 10 %). Two cars' lengths differ by up to a third
# (3.6-5 m), a car and a van or a truck by far more. A quarter is one unit: at 0.15,
# tuned on drawn boxes, one vehicle's track broke at a partly hidden step.
_SIZE_SPREAD = 0.25
# Two ground points lie in one lane when they are within this share of the taller box's
# extent along the line: the wheels of a lane's vehicles touch one line whatever their
# size, while the next lane lies a lane width (more than twice a car's height) away.
LANE_TOLERANCE = 0.3


class LaneFrame:
    """Where a box lies relative to the counting line, in pixels of one frame size."""

    def __init__(self, line_a: Point, line_b: Point, size: Tuple[int, int],
                 vertical: bool) -> None:
        (ax, ay), (bx, by) = line_a, line_b
        length = max(1e-9, math.hypot(bx - ax, by - ay))
        self.along = ((bx - ax) / length, (by - ay) / length)
        # Across the line, signed so that s grows the way the first direction name says
        # (left_to_right for a vertical line, top_to_bottom for a horizontal one).
        nx, ny = self.along[1], -self.along[0]
        if (nx if vertical else ny) < 0.0:
            nx, ny = -nx, -ny
        self.normal = (nx, ny)
        self.s_line = ax * nx + ay * ny
        w, h = size
        corners = [cx * nx + cy * ny for cx in (0.0, w) for cy in (0.0, h)]
        self.s_min, self.s_max = min(corners), max(corners)

    def lane(self, box: Sequence[float]) -> Tuple[float, float]:
        """Return (u, height) of a box: where its lane lies along the line, and its scale."""
        return self.position(box)[0], self.height(box)

    def position(self, box: Sequence[float]) -> Tuple[float, float]:
        """Return (u, s) of a box's ground point: which lane, and where in it."""
        gx, gy = box[0] + box[2] / 2.0, box[1] + box[3]
        return (gx * self.along[0] + gy * self.along[1],
                gx * self.normal[0] + gy * self.normal[1])

    def length(self, box: Sequence[float]) -> float:
        """Return a box's extent across the line: a vehicle's length along its lane."""
        return abs(self.normal[0]) * box[2] + abs(self.normal[1]) * box[3]

    def height(self, box: Sequence[float]) -> float:
        """Return a box's extent along the line (its height for a vertical line)."""
        return abs(self.along[0]) * box[2] + abs(self.along[1]) * box[3]

    def whole(self, box: Sequence[float]) -> bool:
        """Return False when the frame edge cuts the box's length (it enters or leaves)."""
        s = [(box[0] + dx) * self.normal[0] + (box[1] + dy) * self.normal[1]
             for dx in (0.0, box[2]) for dy in (0.0, box[3])]
        return min(s) > self.s_min + 1.0 and max(s) < self.s_max - 1.0


def size_mismatch(a: Tuple[float, float, bool], b: Tuple[float, float, bool]) -> float:
    """
    Return how unlike two vehicles' sizes are: 0 alike, 1 about a car against a longer car.

    a and b are (length, height, whole): squared log ratios over ``_SIZE_SPREAD`` of the
    heights, and of the lengths when neither box is cut by the frame edge.
    """
    out = (math.log(max(1e-6, a[1]) / max(1e-6, b[1])) / _SIZE_SPREAD) ** 2
    if a[2] and b[2]:
        out += (math.log(max(1e-6, a[0]) / max(1e-6, b[0])) / _SIZE_SPREAD) ** 2
    return out


def same_lane(u: float, height: float, other_u: float, other_height: float) -> bool:
    """Return True when two ground points (u along the line) lie in one lane."""
    return abs(u - other_u) <= LANE_TOLERANCE * max(height, other_height)


def lane_groups(u: Sequence[float], heights: Sequence[float], *,
                tolerance: float = LANE_TOLERANCE) -> List[List[int]]:
    """
    Group items into lanes by the ground coordinate along the counting line.

    Sorted by ``u``, two neighbours are in one lane when their ground points lie within
    ``tolerance`` x the taller one's height (:data:`LANE_TOLERANCE`). Returns lists of
    indices, each in the order of ``u``.
    """
    order = sorted(range(len(u)), key=lambda k: (u[k], k))
    groups: List[List[int]] = []
    for k in order:
        if groups and u[k] - u[groups[-1][-1]] <= tolerance * max(
                heights[k], heights[groups[-1][-1]]):
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


def align(cost: Sequence[Sequence[Optional[float]]], skip_prev: Sequence[float],
          skip_new: Sequence[float]) -> Tuple[List[Tuple[int, int]], float]:
    """
    Return the cheapest order-keeping assignment of two lists in lane order, and its cost.

    ``cost[i][j]`` is the cost of pairing previous item i with new item j (None: not
    allowed); ``skip_prev[i]`` the cost of leaving i unpaired (missed, or gone),
    ``skip_new[j]`` that of leaving j unpaired (new). The pairs returned increase in
    both indices: an edit distance over the two sequences, O(len(prev) x len(new)).
    """
    n, m = len(skip_prev), len(skip_new)
    inf = float('inf')
    best = [[inf] * (m + 1) for _ in range(n + 1)]
    step = [[0] * (m + 1) for _ in range(n + 1)]  # 1 skip prev, 2 skip new, 3 pair
    best[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = best[i][j]
            if i < n and here + skip_prev[i] < best[i + 1][j]:
                best[i + 1][j], step[i + 1][j] = here + skip_prev[i], 1
            if j < m and here + skip_new[j] < best[i][j + 1]:
                best[i][j + 1], step[i][j + 1] = here + skip_new[j], 2
            if i < n and j < m and cost[i][j] is not None \
                    and here + cost[i][j] < best[i + 1][j + 1]:
                best[i + 1][j + 1], step[i + 1][j + 1] = here + cost[i][j], 3
    pairs: List[Tuple[int, int]] = []
    i, j = n, m
    while i or j:
        kind = step[i][j]
        if kind == 3:
            pairs.append((i - 1, j - 1))
        i -= kind != 2
        j -= kind != 1
    return pairs[::-1], best[n][m]


@dataclass(frozen=True)
class Expected:
    """
    A track as its lane sees it: where it was, where it may be now, how sure.

    ``predictions`` holds (s, tolerance in px) pairs, e.g. from the track's own speed
    and from its lane's flow: a vehicle that stood still is most likely still standing
    whatever its lane did on average, and one seen once can only go by its lane. A
    detection is judged by the prediction it fits best.
    """

    s_last: float
    predictions: Tuple[Tuple[float, float], ...]
    length: float
    height: float
    whole: bool = True

    @property
    def s_predicted(self) -> float:
        """Return the first prediction: the one the lane's order is taken from."""
        return self.predictions[0][0]

    @classmethod
    def of_track(cls, track: Track, s_last: float, flow_s: float, t: float,
                 frame: LaneFrame) -> 'Expected':
        """Return a track's predictions in its lane: the lane's flow, and its own speed."""
        elapsed = max(1e-3, t - track.last_t)
        length = frame.length(track.box)
        # Speeds in a lane differ by up to 2x: the lane's flow gets a wide tolerance.
        predictions = [(s_last + flow_s * elapsed, max(0.5 * length, abs(flow_s) * elapsed))]
        if track.velocity is not None:
            # Its own speed where that agrees with the flow, or where it stood still (a
            # queue); a step against the flow or far from it was a mismatch.
            own = track.velocity[0] * frame.normal[0] + track.velocity[1] * frame.normal[1]
            if abs(own) < 0.25 * abs(flow_s):
                own = 0.0
            if own == 0.0 or (own * flow_s > 0.0 and abs(own - flow_s) <= 0.5 * abs(flow_s)):
                predictions.insert(0, (s_last + own * elapsed,
                                       max(0.5 * length, 0.5 * abs(own) * elapsed)))
        return cls(s_last=s_last, predictions=tuple(predictions), length=length,
                   height=frame.height(track.box), whole=frame.whole(track.box))


@dataclass(frozen=True)
class Seen:
    """A detection as its lane sees it."""

    s: float
    length: float
    height: float
    whole: bool = True


def match_lane(expected: Sequence[Expected], seen: Sequence[Seen], *, direction: int,
               step: float, s_min: float, s_max: float, max_height_ratio: float,
               unlike: Callable[[int, int], Optional[float]],
               appearance_weight: float) -> Tuple[List[Tuple[int, int]], float]:
    """
    Return (track index, detection index) pairs of one lane, order kept, and their cost.

    ``direction`` is +1 when the lane flows towards growing s, -1 otherwise; ``step``
    the lane's displacement since the last frame (px, unsigned). A pair costs its
    squared residual over the tolerance of the track's best-fitting prediction, plus
    ``appearance_weight`` x the colour distance ``unlike(i, j)`` (None refuses the
    pair), plus the :func:`size_mismatch` of the boxes. It is refused when the heights
    differ by more than ``max_height_ratio``, when it is more than ``_ACCEPT``
    tolerances off, or when the vehicle would have moved backwards against its lane. A
    track predicted past the downstream edge leaves for free; a detection near the
    upstream edge (it may have come in since the last frame) is new for little.
    """
    down = s_max if direction > 0 else s_min
    up = s_min if direction > 0 else s_max
    tracks = sorted(range(len(expected)), key=lambda i: direction * expected[i].s_predicted)
    dets = sorted(range(len(seen)), key=lambda j: direction * seen[j].s)
    cost: List[List[Optional[float]]] = []
    for i in tracks:
        e = expected[i]
        row: List[Optional[float]] = []
        for j in dets:
            d = seen[j]
            row.append(None)
            if max(e.height, d.height) > max_height_ratio * max(1e-6, min(e.height, d.height)):
                continue
            if direction * (d.s - e.s_last) < -0.25 * max(e.length, d.length):
                continue  # nobody reverses in a lane
            residual = min(abs(d.s - s) / max(1e-6, tolerance) for s, tolerance in e.predictions)
            if residual > _ACCEPT:
                continue
            colour = unlike(i, j)
            if colour is None:
                continue
            row[-1] = residual * residual + appearance_weight * colour + size_mismatch(
                (e.length, e.height, e.whole), (d.length, d.height, d.whole))
        cost.append(row)
    skip_prev = [0.0 if direction * (expected[i].s_predicted - down)
                 > -0.5 * expected[i].length else _MISS for i in tracks]
    # A vehicle that came in since the last frame has gone at most one step (and a bit:
    # speeds vary) past the upstream edge; its box centre lies within that.
    skip_new = [_ENTRY if direction * (seen[j].s - up) < 1.25 * step else _BIRTH
                for j in dets]
    pairs, total = align(cost, skip_prev, skip_new)
    return [(tracks[a], dets[b]) for a, b in pairs], total
