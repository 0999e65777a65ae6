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
Track detections across frames and count counting-line crossings per direction.

Built for a fixed camera at about one frame per second: between two frames a vehicle
moves one to three of its own lengths, so the boxes of one vehicle in consecutive
frames usually do not overlap and a plain IoU tracker loses it. Each track predicts
where its vehicle is now from its own velocity, or, seen only once, from its lane's
flow (the velocity earlier tracks in its lane had). A lane is the line its vehicles'
wheels touch: boxes whose ground points (bottom centres) lie within 0.3 of the taller
one's height along the counting line (:func:`.lane_order.same_lane`), whatever their
size.

One frame, in order:

- greedy matching by cost inside gates on position, height, offset along the line and
  colour (:func:`appearance`; in dense traffic at 1 fps the car behind often stands
  where the car ahead stood, and colour tells them apart where position cannot), for
  lanes whose flow is not known; a track seen once, in a lane with no flow, waits for
  a frame where only one detection fits;
- the lane-order assignment (:mod:`.lane_order`) where a lane's flow is known:
  vehicles in a lane keep their order, so one miss costs one skip; the flow comes from
  confirmed tracks or from displacement votes (:mod:`.lane_votes`), which also teach a
  lane that only ever carries dense traffic;
- late links (:mod:`.late_links`): a track lost just before the line linked to a new
  detection just past it; weak detections (``confident`` False) continuing tracks
  (ByteTrack's second association); by day, tentative tracks of weak boxes confirmed
  after ``CONFIRM_HITS`` (:mod:`.track`) observations in a row; a track hidden behind a
  nearer vehicle's box past the line counted there, and one first seen past it that
  stood behind a nearer box before it (by day and dusk); a new box on a coasting
  track's predicted place continues it;
- tracks that stand in one place (IoU > 0.5) merged, the one matched this frame staying;
- a crossing counted when a track's ground point moves across the counting line
  between two observations, at most once per track. At dusk and night lamp headings
  (:mod:`.heading`) teach each lane its direction, and at night a track whose lamps
  face against its lane (it spans two vehicles' lamps) is not counted.

A track that owes its crossing coasts up to ``_MAX_COAST`` frames (vehicles at the line
are often hidden behind a nearer one), else ``max_missed``. A lane with traffic and no
flow is listed by :meth:`Tracker.lanes`. Directions are named from the line:
``left_to_right`` / ``right_to_left`` for a mostly vertical line, else
``top_to_bottom`` / ``bottom_to_top``. The why of each rule, with the figures that
chose it, is in docs/ANALYSIS.md ("Tracking and counting").
"""

import itertools
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
from framebridge_ros.core.analysis.geometry import appearance, box_iou, parse_line, \
    segments_cross, side
from framebridge_ros.core.analysis.lane_map import LaneMap
from framebridge_ros.core.analysis.lane_order import Expected, LANE_TOLERANCE, LaneFrame, \
    match_lane, Seen
from framebridge_ros.core.analysis.lane_votes import LaneVotes
from framebridge_ros.core.analysis.late_links import coasting_under, continue_tentative, \
    continue_with_weak, hidden_step, link_across_line, REVEAL_FRAMES, revealed_step, \
    start_tentative
from framebridge_ros.core.analysis.track import Flow, LineCrossing, merge_duplicates, Track
import numpy as np

__all__ = ['LineCrossing', 'Track', 'Tracker', 'appearance', 'box_iou', 'parse_line']

Box = Tuple[float, float, float, float]  # x, y, w, h in pixels
_MAX_COAST = 4  # frames an uncounted track heading for the line may coast, hidden
_LEAD = 0.5  # assignment cost (under half a missed vehicle) a new lane flow must win by
# A night track whose mean lamp cue points this much against its lane's heading spans two
# vehicles' lamps (:meth:`Tracker._faces_against`).
_GHOST_CUE = 0.2
Point = Tuple[float, float]


class Tracker:
    """
    Greedy predicted-position tracker with line counting; see the module docstring.

    Plain data in (boxes in pixels and a time in seconds), plain data out. Not thread
    safe: one tracker per image stream.
    """

    def __init__(self, *, counting_line: Sequence[float] = (0.5, 0.0, 0.5, 1.0),
                 max_missed: int = 2, max_speed_frac: float = 0.5,
                 max_height_ratio: float = 1.6, flow_memory_s: float = 120.0,
                 appearance_weight: float = 2.0,
                 max_appearance_distance: float = 0.5,
                 min_flow_speed_frac: float = 0.02) -> None:
        self._line = parse_line(counting_line)
        (x1, y1), (x2, y2) = self._line
        self._vertical = abs(x2 - x1) <= abs(y2 - y1)
        # Unit vector along the line in normalised units; good enough in pixels for
        # the lane test, which only compares an offset with the boxes' own extent.
        length = math.hypot(x2 - x1, y2 - y1)
        self._along = ((x2 - x1) / length, (y2 - y1) / length)
        self.directions = (('left_to_right', 'right_to_left') if self._vertical
                           else ('top_to_bottom', 'bottom_to_top'))
        self._max_missed = int(max_missed)
        self._max_speed_frac = float(max_speed_frac)
        self._max_height_ratio = float(max_height_ratio)
        self._flow_memory_s = float(flow_memory_s)
        self._appearance_weight = float(appearance_weight)
        self._max_appearance_distance = float(max_appearance_distance)
        self._min_flow_speed_frac = float(min_flow_speed_frac)
        self._width = 1
        self._frame: Optional[LaneFrame] = None
        self._ids = itertools.count(1)
        self._tracks: List[Track] = []
        self._flows: List[Flow] = []
        self._flow_rows: Optional[np.ndarray] = None  # the flows as an array, for _prior
        self.counts: Dict[str, int] = dict.fromkeys(self.directions, 0)
        self._last_t: Optional[float] = None
        # The last frames' (time, boxes), newest first (late_links.revealed_step).
        self._previous: Tuple[Tuple[float, Tuple[Box, ...]], ...] = ()
        self._night = False
        self._votes = LaneVotes(max_height_ratio=max_height_ratio,
                                max_appearance_distance=max_appearance_distance,
                                min_speed_frac=min_flow_speed_frac, memory_s=flow_memory_s)
        self._lane_map = LaneMap(memory_s=flow_memory_s)

    @property
    def tracks(self) -> List[Track]:
        """Live tracks, including those coasting through a missed frame; not tentative ones."""
        return [tr for tr in self._tracks if not tr.tentative]

    def reset(self) -> None:
        """Forget every track, the lane priors and the counts."""
        self._tracks.clear()
        self._flows.clear()
        self.counts = dict.fromkeys(self.directions, 0)
        self._last_t = None
        self._previous = ()
        self._votes.clear()
        self._lane_map.clear()

    # --- prediction ---------------------------------------------------------------

    def _prior(self, u: float, h: float, t: float) -> Optional[Point]:
        """Median velocity of recent confirmed tracks in the lane at u (LaneFrame.lane)."""
        if self._flow_rows is None or len(self._flow_rows) != len(self._flows):
            self._flow_rows = np.array([(f.u, f.h, f.vx, f.vy, f.t) for f in self._flows],
                                       np.float64).reshape(-1, 5)
        rows = self._flow_rows
        near = rows[(np.abs(rows[:, 0] - u) <= LANE_TOLERANCE * np.maximum(h, rows[:, 1]))
                    & (t - rows[:, 4] <= self._flow_memory_s)]
        if not len(near):
            return self._lane_flow(u, h)
        vx, vy = (float(v) for v in np.sort(near[:, 2:4], axis=0)[len(near) // 2])
        return None if self._against(u, h, (vx, vy)) else (vx, vy)

    def _forward(self, u: float, h: float) -> Optional[Point]:
        """Return the way the lane at u heads by its lamps (an image vector), else None."""
        way = self._lane_map.heading(u, h)
        if way is None or self._frame is None:
            return None
        return (way * self._frame.normal[0], way * self._frame.normal[1])

    def _against(self, u: float, h: float, step: Point) -> bool:
        """Return True when a step goes against the way the lane's lamps say it heads."""
        forward = self._forward(u, h)
        return forward is not None and step[0] * forward[0] + step[1] * forward[1] < 0.0

    def _lane_flow(self, u: float, h: float, *, moving: bool = False) -> Optional[Point]:
        """Return the lane's voted flow (:meth:`.LaneVotes.flow`), the way it heads."""
        return self._votes.flow(u, h, moving=moving, forward=self._forward(u, h))

    def lanes(self, *, min_detections: int = 20) -> List[Dict[str, float]]:
        """
        Return the lanes seen lately: row, detections, flow, and heading by the lamps.

        A lane is a line where the ground points of detections keep coming
        (:class:`.lane_map.LaneMap`); ``row`` is that line's place along the counting
        line (the ground row for a vertical line). Only lanes with ``min_detections``
        near them in the flow memory count. A lane that carries traffic but never
        learns a flow has its crossings left uncounted: the node reports it on
        /diagnostics. ``heading`` is the direction name the lane's lamps point (dusk
        and night), else None.
        """
        out: List[Dict[str, Any]] = []
        for u, h, detections in self._lane_map.lines():
            if detections >= min_detections:
                flow = self._prior(u, h, self._last_t or 0.0)
                way = self._lane_map.heading(u, h)
                out.append({'row': round(u, 1), 'detections': int(detections),
                            'flow_px_per_s': None if flow is None
                            else round(math.hypot(*flow), 1),
                            'heading': None if way is None
                            else self.directions[0 if way > 0 else 1]})
        return out

    def _gate_and_prediction(self, track: Track, t: float,
                             size: int) -> Tuple[Box, float, bool]:
        """Return the predicted box, the gate, and whether any velocity guided them."""
        dt = max(1e-3, t - track.last_t)
        x, y, w, h = track.box
        velocity, spread = track.velocity, 0.5
        lane = self._frame.lane(track.box)
        if velocity is not None:  # an alias step loses to the lane's voted flow
            flow = self._lane_flow(*lane)
            if flow is not None and math.hypot(velocity[0] - flow[0], velocity[1] - flow[1]) \
                    > 0.5 * math.hypot(*flow):
                velocity, spread = flow, 1.0
        if velocity is None:
            # Vehicles in one lane differ in speed by up to 2x: a prior gets a wide gate.
            velocity, spread = self._prior(*lane, t), 1.0
        if velocity is None:
            return track.box, self._max_speed_frac * size * dt, False
        dx, dy = velocity[0] * dt, velocity[1] * dt
        gate = max(0.5 * w, spread * math.hypot(dx, dy))
        return (x + dx, y + dy, w, h), gate, True

    def _cost(self, track: Track, predicted: Box, gate: float, box: Box,
              feature: Optional[np.ndarray]) -> Optional[float]:
        th, bh = track.box[3], box[3]
        if max(th, bh) > self._max_height_ratio * max(1e-6, min(th, bh)):
            return None
        pcx, pcy = predicted[0] + predicted[2] / 2.0, predicted[1] + predicted[3] / 2.0
        bcx, bcy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
        # Vehicles keep their lane, and lanes run across the counting line: the offset
        # along the line may not exceed half the boxes' extent in that direction.
        ux, uy = self._along
        extent = max(abs(ux) * track.box[2] + abs(uy) * th, abs(ux) * box[2] + abs(uy) * bh)
        if abs((bcx - pcx) * ux + (bcy - pcy) * uy) > 0.5 * extent:
            return None
        distance = math.hypot(bcx - pcx, bcy - pcy)
        if distance > gate:
            return None
        iou = box_iou(predicted, box)
        cost = 1.0 - iou if iou > 0.0 else 1.0 + distance / max(gate, 1e-6)
        if feature is not None and track.feature is not None:
            unlike = cv2.compareHist(track.feature, feature, cv2.HISTCMP_BHATTACHARYYA)
            if unlike > self._max_appearance_distance:
                return None
            cost += self._appearance_weight * unlike
        return cost

    # --- update -------------------------------------------------------------------

    def update(self, boxes: Sequence[Sequence[float]], *, t: float,
               frame_size: Tuple[int, int],
               features: Optional[Sequence[Optional[np.ndarray]]] = None,
               headings: Optional[Sequence[Optional[float]]] = None,
               confident: Optional[Sequence[bool]] = None, night: bool = False,
               ) -> Tuple[List[Optional[int]], List[LineCrossing]]:
        """
        Take the detections of the frame at time t (seconds); return their track ids.

        Returns (ids, crossings): ids[i] is the track id of boxes[i], and crossings
        the lines crossed since the previous frame. frame_size is (width, height) in
        pixels and scales the counting line. features[i], if given, is an appearance
        descriptor of boxes[i] (float32 histogram, see :func:`appearance`), and
        headings[i] its lamp cue (:func:`.heading.lamp_heading`), which teaches each
        lane which way it heads, and, with ``night`` True, lets a track whose lamps face
        against its lane go uncounted. A time that goes backwards resets the tracker (a
        replayed or restarted stream). confident[i] False marks a weak detection (under
        the confidence threshold): it may continue a track whose predicted box it
        overlaps (:func:`.late_links.continue_with_weak`), or, with no headings given,
        a tentative track, and teaches the lanes nothing; its id is None when no
        confirmed track takes it.
        """
        if self._last_t is not None and t < self._last_t:
            self.reset()
        self._last_t = t
        self._night = bool(night)
        width, height = frame_size
        self._width = width
        every = [tuple(float(v) for v in b[:4]) for b in boxes]
        every_feature = list(features) if features is not None else [None] * len(every)
        sure = [True] * len(every) if confident is None else [bool(c) for c in confident]
        strong = [i for i in range(len(every)) if sure[i]]
        weak = [i for i in range(len(every)) if not sure[i]]
        boxes = [every[i] for i in strong]
        features = [every_feature[i] for i in strong]
        if headings is not None:
            headings = [headings[i] for i in strong]
        weak_boxes = [every[i] for i in weak]
        weak_features = [every_feature[i] for i in weak]
        ids: List[Optional[int]] = [None] * len(boxes)
        weak_ids: List[Optional[int]] = [None] * len(weak)
        a, b = self._line
        line_a, line_b = (a[0] * width, a[1] * height), (b[0] * width, b[1] * height)
        used_tracks, crossings = set(), []
        self._frame = LaneFrame(line_a, line_b, (width, height), self._vertical)
        if headings is not None and abs(self._frame.normal[0]) >= 0.7:  # lanes across
            self._lane_map.add_headings(
                [self._frame.lane(b) + (cue * self._frame.normal[0],)
                 for b, cue in zip(boxes, headings)
                 if cue is not None and self._frame.whole(b)], t)
        # Tentative tracks take only what the confirmed ones leave (the late passes).
        confirmed = self.tracks
        tentative = [tr for tr in self._tracks if tr.tentative]
        lane_pairs, lane_tracks, lane_boxes = self._match_lanes(confirmed, boxes, features, t,
                                                                self._frame)

        def note_cue(i: int, track: Track) -> None:
            if headings is not None and headings[i] is not None:
                track.cues.append(headings[i] * self._frame.normal[0])  # along s, as lanes

        def observe(track: Track, box: Box, feature: Optional[np.ndarray]) -> None:
            crossing = self._observe(track, box, feature, t, line_a, line_b)
            if crossing is not None:
                crossings.append(crossing)

        def accept(i: int, track: Track) -> None:
            used_tracks.add(id(track))
            ids[i] = track.track_id
            note_cue(i, track)
            observe(track, boxes[i], features[i])

        def where(track: Track) -> Box:
            return self._where(track, t)

        for i, track in lane_pairs:
            accept(i, track)
        # Tracks with a velocity are matched first: their predictions are the sharpest.
        candidates: List[Tuple[float, int, Track]] = []
        for track in confirmed:
            if id(track) in lane_tracks or track.misses > self._max_missed:
                continue
            predicted, gate, guided = self._gate_and_prediction(track, t, max(width, height))
            rank = 0.0 if track.velocity is not None else 10.0
            mine = []
            for i, box in enumerate(boxes):
                if i in lane_boxes:
                    continue
                cost = self._cost(track, predicted, gate, box, features[i])
                if cost is not None:
                    mine.append((rank + cost, i, track))
            # Seen once, with no lane flow to go by: when two detections fit and none
            # lies where the track was (a vehicle that stood still, IoU > 0.7), the
            # better fit is as likely the vehicle behind, which moved into about the
            # same place (at 1 fps dense traffic aliases like a wagon wheel; a partial
            # overlap or a similar colour proves nothing). Wait for a frame that is not
            # ambiguous rather than learn, and teach the lane, a wrong velocity.
            if not guided and len(mine) > 1 and min(mine)[0] > rank + 0.3:
                continue
            candidates += mine
        candidates.sort(key=lambda c: (c[0], c[1]))
        for _, i, track in candidates:
            if id(track) in used_tracks or ids[i] is not None:
                continue
            accept(i, track)
        unmatched = [tr for tr in confirmed if id(tr) not in used_tracks]
        for i, track in link_across_line(
                unmatched, boxes, [i for i in range(len(boxes)) if ids[i] is None], t=t,
                line=(line_a, line_b), frame=self._frame, lane_flow=self._lane_flow,
                max_height_ratio=self._max_height_ratio):
            accept(i, track)
        for k, track in continue_with_weak(
                [tr for tr in unmatched if id(tr) not in used_tracks], weak_boxes,
                weak_features, predict=lambda tr: self._gate_and_prediction(
                    tr, t, max(width, height)), cost=self._cost):
            used_tracks.add(id(track))
            weak_ids[k] = track.track_id
            observe(track, weak_boxes[k], weak_features[k])
        for pool in ((boxes, features, ids), (weak_boxes, weak_features, weak_ids)):
            for i, track in continue_tentative(
                    [tr for tr in tentative if id(tr) not in used_tracks],
                    *pool, predict=lambda tr: self._gate_and_prediction(
                        tr, t, max(width, height)), cost=self._cost):
                used_tracks.add(id(track))
                pool[2][i] = track.track_id
                observe(track, pool[0][i], pool[1][i])
        survivors = []
        for track in self._tracks:
            if id(track) not in used_tracks:
                if track.tentative:
                    continue  # evidence must keep coming, frame after frame
                track.misses += 1
                crossing = self._crossing_while_hidden(track, t, boxes + weak_boxes,
                                                       line_a, line_b)
                if crossing is not None:
                    crossings.append(crossing)
                if track.misses > self._max_missed and not self._owed(
                        track, line_a, line_b):
                    continue
            survivors.append(track)
        for i, box in enumerate(boxes):
            # By night a box is lamps: over a track's place, as likely the next car's.
            lost = None if ids[i] is not None or self._night else coasting_under(
                box, survivors, where)
            if lost is not None:
                ids[i] = lost.track_id
                observe(lost, box, features[i])
            elif ids[i] is None:
                track = Track(track_id=next(self._ids), box=box, first_t=t, last_t=t,
                              feature=features[i],
                              before_birth=() if self._night else self._previous)
                note_cue(i, track)
                survivors.append(track)
                ids[i] = track.track_id
        if headings is None:  # by day: see the module docstring
            survivors += start_tentative(weak_boxes, weak_features, weak_ids, t=t,
                                         taken=list(boxes) + [tr.box for tr in survivors],
                                         ids=self._ids)
        self._tracks = merge_duplicates(survivors, where)
        self._flows = [f for f in self._flows if t - f.t <= self._flow_memory_s]
        self._flow_rows = None
        self._votes.add(boxes, features, t, self._frame, width)
        self._lane_map.add([self._frame.lane(b) for b in boxes], t)
        self._previous = ((t, tuple(every)),) + self._previous[:REVEAL_FRAMES - 1]
        every_id: List[Optional[int]] = [None] * len(every)
        unsure = {tr.track_id for tr in self._tracks if tr.tentative}
        for i, track_id in itertools.chain(zip(strong, ids), zip(weak, weak_ids)):
            every_id[i] = None if track_id in unsure else track_id
        return every_id, crossings

    def _match_lanes(self, tracks: Sequence[Track], boxes: Sequence[Box],
                     features: Sequence[Optional[np.ndarray]], t: float,
                     frame: LaneFrame) -> Tuple[List[Tuple[int, Track]], set, set]:
        """
        Pair tracks and detections lane by lane, order kept, where a lane's flow is known.

        Returns the pairs (detection index, track), and the tracks (by id) and the
        detection indices that were decided here; the greedy pass takes the rest.
        """
        live = [tr for tr in tracks if tr.misses <= self._max_missed]
        every = [tr.box for tr in live] + list(boxes)
        positions = [frame.position(box) for box in every]
        pairs: List[Tuple[int, Track]] = []
        decided_tracks, decided_boxes = set(), set()
        dt = t - self._votes.previous_t
        for group in self._lane_map.groups([p[0] for p in positions],
                                           [frame.height(b) for b in every]):
            mine = [k for k in group if k < len(live)]
            theirs = [k - len(live) for k in group if k >= len(live)]
            if not mine or not theirs or dt <= 0.0:
                continue
            u = sorted(positions[k][0] for k in group)[len(group) // 2]
            h = sorted(frame.height(every[k]) for k in group)[len(group) // 2]
            seen = [Seen(s=positions[len(live) + j][1], length=frame.length(boxes[j]),
                         height=frame.height(boxes[j]), whole=frame.whole(boxes[j]))
                    for j in theirs]

            # Colour is a cost here, not a veto: the order keeps neighbours apart, and at
            # night a box's colours change so much (lamps, beams) that in some lanes
            # half of the true pairs fail the greedy pass's gate.
            def unlike(i: int, j: int, mine=mine, theirs=theirs) -> Optional[float]:
                old, new = live[mine[i]].feature, features[theirs[j]]
                if old is None or new is None:
                    return 0.0
                return cv2.compareHist(old, new, cv2.HISTCMP_BHATTACHARYYA)

            # Which flow the lane has is what the assignment under it says: under the
            # wrong one (an alias of dense traffic), vehicles would come in at the
            # downstream edge, leave at the upstream one and change size on the way.
            # The lane's known flow starts ahead: a lane does not change its flow from one
            # frame to the next.
            prior = self._prior(u, h, t)
            voted = self._lane_flow(u, h, moving=True)
            tried: List[Tuple[float, float, list]] = []  # (cost, flow along s, pairs)
            # Votes first where they are clear: a flow taught by tracks may hold an alias.
            if voted and prior and voted[0] * prior[0] + voted[1] * prior[1] <= 0.0:
                prior = None  # learned against the votes: from aliased tracks
            forward = self._forward(u, h)
            leads = [(voted, _LEAD), (prior, 0.0)] if voted else [(prior, _LEAD)] + [
                (peak, 0.0) for peak in self._votes.peaks(u, h, forward=forward)]
            for flow, lead in leads:
                flow_s = None if flow is None else (
                    flow[0] * frame.normal[0] + flow[1] * frame.normal[1])
                if flow_s is None or abs(flow_s) < self._min_flow_speed_frac * self._width \
                        or any(abs(flow_s - other) <= 0.25 * abs(other) for _, other, _ in tried):
                    continue  # standing, unknown or tried: the greedy pass keeps its rules
                expected = [Expected.of_track(live[k], positions[k][1], flow_s, t, frame)
                            for k in mine]
                found = match_lane(expected, seen, direction=1 if flow_s > 0 else -1,
                                   step=abs(flow_s) * dt, s_min=frame.s_min,
                                   s_max=frame.s_max, max_height_ratio=self._max_height_ratio,
                                   unlike=unlike, appearance_weight=self._appearance_weight)
                tried.append((found[1] - lead, flow_s, found[0]))
            # With neither a prior nor a clear vote, the peaks are only guesses (a
            # periodic queue at 1 fps fits several flows): wait, as the greedy pass does.
            if not tried or (prior is None and voted is None):
                continue
            tried.sort(key=lambda c: c[0])
            best = tried[0]
            matched = best[2]
            pairs += [(theirs[j], live[mine[i]]) for i, j in matched]
            decided_tracks.update(id(live[k]) for k in mine)
            decided_boxes.update(theirs)
        return pairs, decided_tracks, decided_boxes

    def _where(self, track: Track, t: float) -> Box:
        """Return a track's box at t: where it was seen, or where it coasts to."""
        if not track.misses:
            return track.box
        # A coasting track seen once goes by its lane's flow, as it is predicted.
        velocity = track.velocity or self._prior(*self._frame.lane(track.box), t)
        if velocity is None:
            return track.box
        dt = t - track.last_t
        x, y, w, h = track.box
        return (x + velocity[0] * dt, y + velocity[1] * dt, w, h)

    def _owed(self, track: Track, line_a: Point, line_b: Point) -> bool:
        """Return True while a lost track still owes its crossing: coast it on."""
        if track.counted is not None or track.velocity is None or track.hits < 2 \
                or track.misses > _MAX_COAST:
            return False
        flow = self._lane_flow(*self._frame.lane(track.box)) or track.velocity
        now = side(track.ground, line_a, line_b)
        then = side((track.ground[0] + flow[0], track.ground[1] + flow[1]), line_a, line_b)
        return now * then <= 0.0 or abs(then) < abs(now)

    def _observe(self, track: Track, box: Box, feature: Optional[np.ndarray], t: float,
                 line_a: Point, line_b: Point) -> Optional[LineCrossing]:
        dt = max(1e-3, t - track.last_t)
        before, old_centre, first_box = track.ground, track.centre, track.box
        track.box = box
        cx, cy = track.centre
        measured = ((cx - old_centre[0]) / dt, (cy - old_centre[1]) / dt)
        if track.velocity is None:
            track.velocity = measured
        else:  # light smoothing: boxes clipped at the frame edge jitter the centre
            track.velocity = (0.5 * (track.velocity[0] + measured[0]),
                              0.5 * (track.velocity[1] + measured[1]))
        track.last_t, track.hits, track.misses = t, track.hits + 1, 0
        if feature is not None:
            track.feature = feature
        # Only a track that moved over two steps may teach its lane's flow: a young or
        # standing track (a ghost, a mismatch) would teach the next tracks wrong.
        speed = math.hypot(*track.velocity)
        if track.hits >= 3 and speed >= self._min_flow_speed_frac * self._width \
                and not track.weak_born:
            u, h = self._frame.lane(box)
            self._flows.append(Flow(u=u, h=h, vx=track.velocity[0],
                                    vy=track.velocity[1], t=t))
        after = track.ground
        if track.counted is None and segments_cross(before, after, line_a, line_b):
            track.pending = (before, after)
        if track.before_birth:  # seen again: it moved, so its first box can be gone back
            step = revealed_step(track, first_box, line=(line_a, line_b))
            track.before_birth = ()
            if track.counted is None and track.pending is None and step is not None:
                track.pending = step
        if track.counted is not None or track.pending is None or track.tentative:
            return None  # a tentative track counts once confirmed
        before, after = track.pending
        track.pending = None
        return self._count(track, before, after, t)

    def _crossing_while_hidden(self, track: Track, t: float, boxes: Sequence[Box],
                               line_a: Point, line_b: Point) -> Optional[LineCrossing]:
        """Count a lost track that owes its crossing and crosses behind a nearer box."""
        # Moved over two steps, as a track must to teach a flow: a first step may alias.
        if track.counted is not None or track.hits < 3 or track.misses > _MAX_COAST:
            return None
        step = hidden_step(track, t, boxes)
        if step is None or not segments_cross(step[0], step[1], line_a, line_b):
            return None
        return self._count(track, step[0], step[1], t)

    def _faces_against(self, track: Track, u: float, h: float) -> bool:
        """Return True when a track's mean lamp cue points against its lane's heading."""
        way = self._lane_map.heading(u, h)
        if way is None or len(track.cues) < 2:
            return False
        return way * sum(track.cues) / len(track.cues) < -_GHOST_CUE

    def _count(self, track: Track, before: Point, after: Point,
               t: float) -> Optional[LineCrossing]:
        # Backwards across the line a track has only jumped to the vehicle behind (an
        # alias): no count, now or later, for the vehicle it follows has its own track.
        # A track whose lamps face against its lane at night follows no vehicle at all.
        lane = self._frame.lane(track.box)
        if self._against(*lane, (after[0] - before[0], after[1] - before[1])) \
                or (self._night and self._faces_against(track, *lane)):
            track.counted = 'against'
            return None
        if self._vertical:
            direction = self.directions[0] if after[0] > before[0] else self.directions[1]
        else:
            direction = self.directions[0] if after[1] > before[1] else self.directions[1]
        track.counted = direction
        self.counts[direction] += 1
        return LineCrossing(track_id=track.track_id, direction=direction, t=t)
