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
The tracker's late passes: links made after the first assignment has taken its pick.

Both take only tracks the first pass left unmatched, so they never take a vehicle from
a track that explains it:

- :func:`link_across_line`: a track lost just before the counting line (a gate or the
  colour test refused the match) and a new detection just past it in its lane are one
  vehicle, and its crossing is counted.
- :func:`hidden_step`: a track that owes its crossing and, by its own speed, would now
  stand behind a nearer vehicle's box has not vanished: it is hidden, and the tracker
  counts it when that step takes it across the line. In dense traffic the far lane's
  vehicles cross behind the near lane's lorries, seen on one side of the line only.
- :func:`revealed_step`: the mirror of :func:`hidden_step`, for a vehicle first seen
  past the line: gone back by its own speed, it stood behind a nearer box before it.
- :func:`coasting_under`: a new detection on a coasting track's predicted box continues
  it, by day and dusk.
- :func:`continue_with_weak`: a detection under the confidence threshold may continue a
  track whose predicted box it overlaps (ByteTrack's second association; Zhang et al.,
  2022). A vehicle half hidden behind a nearer one scores low; its track knows where it
  is, and a low box there is that vehicle, while a low box nowhere near a track is as
  likely a shadow or a lamp's glare.
- :func:`start_tentative`, :func:`continue_tentative`: by day a weak detection no track
  takes starts a tentative track, continued the way a weak box continues a track and
  confirmed after :data:`.track.CONFIRM_HITS` observations in a row (the tracker's
  module docstring says why).
"""

from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from framebridge_ros.core.analysis.geometry import box_intersection, box_iou, segments_cross
from framebridge_ros.core.analysis.lane_order import LaneFrame, same_lane
from framebridge_ros.core.analysis.track import Track
import numpy as np

__all__ = ['coasting_under', 'continue_tentative', 'continue_with_weak', 'hidden_by',
           'hidden_step', 'HIDDEN_COVER', 'link_across_line', 'REVEAL_FRAMES',
           'revealed_step', 'start_tentative', 'WEAK_MIN_IOU']

Box = Tuple[float, float, float, float]  # x, y, w, h in pixels
Point = Tuple[float, float]
# A weak box must overlap its track's predicted box this much (IoU): at 1 fps a vehicle
# moves about its length, so only a track that predicts well may take one (on the
# tuning seeds 1000-1031, 0.3 against no overlap asked: night dense 8.0 -> 6.9 %, the
# rest alike).
WEAK_MIN_IOU = 0.3


def link_across_line(tracks: Sequence[Track], boxes: Sequence[Box], free: Sequence[int], *,
                     t: float, line: Tuple[Point, Point], frame: LaneFrame,
                     lane_flow: Callable[[float, float], Optional[Point]],
                     max_height_ratio: float) -> List[Tuple[int, Track]]:
    """
    Pair tracks lost before the line with free detections just past it in their lane.

    ``tracks`` are those the first pass left unmatched, ``free`` the indices of the
    detections no track took. A pair lies in one lane (same ground line, heights within
    ``max_height_ratio``), on both sides of the line, and its step goes the way the
    lane flows (``lane_flow``, else the track's own velocity), no longer than 1.5 x the
    lane's displacement. Only tracks that moved (seen twice) and are not counted yet.
    Colour is not asked. Returns (detection index, track) pairs.
    """
    line_a, line_b = line
    pairs: List[Tuple[float, int, Track]] = []
    for track in tracks:
        # A first step is the ambiguous case the first pass waits out.
        if track.counted is not None or track.velocity is None:
            continue
        dt = max(1e-3, t - track.last_t)
        lane = frame.lane(track.box)
        flow = lane_flow(*lane) or track.velocity
        for i in free:
            box = boxes[i]
            th, bh = track.box[3], box[3]
            if max(th, bh) > max_height_ratio * max(1e-6, min(th, bh)):
                continue
            if not same_lane(*lane, *frame.lane(box)):
                continue
            ground = (box[0] + box[2] / 2.0, box[1] + bh)
            if not segments_cross(track.ground, ground, line_a, line_b):
                continue
            dx = ground[0] - track.ground[0]
            if dx * flow[0] <= 0.0 or abs(dx) > 1.5 * abs(flow[0]) * dt + 0.5 * box[2]:
                continue
            pairs.append((abs(dx - flow[0] * dt), i, track))
    return _cheapest_first(pairs)


# A nearer box covering this much of where a lost track would be hides it.
HIDDEN_COVER = 0.5
# Frames a track born past the line is gone back through (revealed_step): behind a
# lorry a car may stay hidden for two. Tuning seeds, day dense 1000-1127: one frame
# 115, two 112, three 111 off of 3288, but three adds 6 over-counts on 1000-1063.
REVEAL_FRAMES = 2
# Nearer: its ground point lies lower in the image by this much of the track's height
# (a camera looks down on the road; a box of the same lane would be its own vehicle).
_NEARER = 0.2


def hidden_by(box: Box, boxes: Sequence[Box], *, ground_y: float,
              cover: float = HIDDEN_COVER) -> bool:
    """
    Return True when one of ``boxes``, nearer the camera, covers ``cover`` of box.

    Nearer: its ground lies lower than ``ground_y``, the vehicle's own.
    """
    x, y, w, h = box
    for other in boxes:
        if other[1] + other[3] <= ground_y + _NEARER * h:
            continue
        covered = box_intersection(box, other)
        if covered > 0.0 and covered >= cover * w * h:
            return True
    return False


def hidden_step(track: Track, t: float, boxes: Sequence[Box], *,
                cover: float = HIDDEN_COVER) -> Optional[Tuple[Point, Point]]:
    """
    Return (last ground point, predicted ground point) of a lost track hidden at t.

    The track's own velocity predicts its box at t; it is hidden when one of ``boxes``
    (this frame's detections), whose ground point lies nearer the camera, covers
    ``cover`` of that box. None when it is not, or the track has no velocity.
    """
    if track.velocity is None:
        return None
    dt = t - track.last_t
    x, y, w, h = track.box
    px, py = x + track.velocity[0] * dt, y + track.velocity[1] * dt
    if not hidden_by((px, py, w, h), boxes, ground_y=y + h, cover=cover):
        return None
    return track.ground, (px + w / 2.0, py + h)


def revealed_step(track: Track, born: Box, *, line: Tuple[Point, Point],
                  cover: float = HIDDEN_COVER) -> Optional[Tuple[Point, Point]]:
    """
    Return (hidden ground point, ground point at birth) of a track revealed past the line.

    The mirror of :func:`hidden_step`: a vehicle that crossed the line behind a nearer
    one is first seen past it. Going back from its first box (``born``) by its own
    velocity through the frames before (``track.before_birth``), it stood where a nearer
    box covered ``cover`` of it in each, back to a frame where it stood before the line.
    None when it did not, or the track has no velocity.
    """
    if track.velocity is None:
        return None
    x, y, w, h = born
    after = (x + w / 2.0, y + h)
    for then, boxes in track.before_birth:
        dt = track.first_t - then
        px, py = x - track.velocity[0] * dt, y - track.velocity[1] * dt
        if not hidden_by((px, py, w, h), boxes, ground_y=py + h, cover=cover):
            return None
        before = (px + w / 2.0, py + h)
        if segments_cross(before, after, *line):
            return before, after
    return None


def coasting_under(box: Box, tracks: Sequence[Track],
                   where: Callable[[Track], Box]) -> Optional[Track]:
    """
    Return the coasting confirmed track a free detection stands on (IoU > 0.5), if any.

    where(track) is the track's box now. Such a pair would be merged as one vehicle
    followed twice anyway, the newborn staying; the detection continues the track
    instead, so the vehicle keeps its speed (a box stretched a third longer, which the
    lane-order assignment calls a miss and a birth, would otherwise lose the step that
    carries the crossing).
    """
    best, best_iou = None, 0.5
    for track in tracks:
        if track.misses and not track.tentative:
            iou = box_iou(where(track), box)
            if iou > best_iou:
                best, best_iou = track, iou
    return best


def continue_with_weak(tracks: Sequence[Track], boxes: Sequence[Box],
                       features: Sequence[Optional[np.ndarray]], *,
                       predict: Callable[[Track], Tuple[Box, float, bool]],
                       cost: Callable[[Track, Box, float, Box, Optional[np.ndarray]],
                                      Optional[float]],
                       min_iou: float = WEAK_MIN_IOU,
                       min_hits: int = 2) -> List[Tuple[int, Track]]:
    """
    Pair unmatched tracks with weak detections (under the confidence threshold).

    ``predict(track)`` gives (predicted box, gate, guided) as the first pass has it,
    ``cost(track, predicted, gate, box, feature)`` that pass's cost (None: refused).
    A track must have been seen in the last frame (as in ByteTrack, a lost track is
    found again only by a confident box), have been seen ``min_hits`` times (twice: it
    moved; once for a tentative track, guided by its lane's flow) and be guided by a
    velocity, its own or its lane's; the weak box must pass the first pass's gates and
    overlap the predicted box by ``min_iou``. Returns (weak index, track) pairs, the
    cheapest first.
    """
    pairs: List[Tuple[float, int, Track]] = []
    for track in tracks:
        if track.hits < min_hits or track.misses:
            continue
        predicted, gate, guided = predict(track)
        if not guided:
            continue
        for k, box in enumerate(boxes):
            if box_iou(predicted, box) < min_iou:
                continue
            price = cost(track, predicted, gate, box, features[k])
            if price is not None:
                pairs.append((price, k, track))
    return _cheapest_first(pairs)


def continue_tentative(tracks: Sequence[Track], boxes: Sequence[Box],
                       features: Sequence[Optional[np.ndarray]],
                       ids: Sequence[Optional[int]], *,
                       predict: Callable[[Track], Tuple[Box, float, bool]],
                       cost: Callable[[Track, Box, float, Box, Optional[np.ndarray]],
                                      Optional[float]]) -> List[Tuple[int, Track]]:
    """
    Pair tentative tracks with the detections no track took (``ids[i]`` None).

    As :func:`continue_with_weak` pairs, from the first sighting on: the predicted box
    (by the lane's flow while the track has no velocity of its own) must overlap the
    detection. Returns (detection index, track) pairs.
    """
    free = [i for i in range(len(boxes)) if ids[i] is None]
    pairs = continue_with_weak(tracks, [boxes[i] for i in free], [features[i] for i in free],
                               predict=predict, cost=cost, min_hits=1)
    return [(free[k], track) for k, track in pairs]


def start_tentative(boxes: Sequence[Box], features: Sequence[Optional[np.ndarray]],
                    box_ids: Sequence[Optional[int]], *, t: float, taken: List[Box],
                    ids: Iterator[int]) -> List[Track]:
    """
    Start a tentative track at each weak box no track took (``box_ids[i]`` None).

    Not where the box overlaps one of ``taken`` (this frame's other boxes and the live
    tracks) by IoU 0.3, the greedy gate's "same vehicle" cut: there it is a second box
    of a vehicle already followed. New track ids come from ``ids``.
    """
    out = []
    for box, feature, box_id in zip(boxes, features, box_ids):
        if box_id is None and not any(box_iou(box, b) > 0.3 for b in taken):
            out.append(Track(track_id=next(ids), box=box, first_t=t, last_t=t,
                             feature=feature, weak_born=True))
            taken.append(box)
    return out


def _cheapest_first(pairs: List[Tuple[float, int, Track]]) -> List[Tuple[int, Track]]:
    out, taken, linked = [], set(), set()
    for _, i, track in sorted(pairs, key=lambda p: (p[0], p[1])):
        if i in taken or id(track) in linked:
            continue
        taken.add(i)
        linked.add(id(track))
        out.append((i, track))
    return out
