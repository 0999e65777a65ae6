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
Low light: headlight beams, lamp cores, lanes learned from lamps, lamps grouped into vehicles.

At dusk and at night a vehicle's body is hardly different from the road, while its
lamps and the light they throw are. These steps of :class:`MotionDetector` (see
:mod:`framebridge_ros.core.analysis.motion_detector`) work on the shrunk frame, its
foreground mask and a mask of lit pixels:

- :func:`_cut_beams` cuts the flat, lit beam off the ends of a blob;
- :func:`_find_lamps` finds lamp cores (small spots near the top of the range; red and
  saturated is a tail lamp) and :func:`_beam_side` the side a head lamp shines to;
- :class:`_LaneMemory` learns each lane band's travel direction and vehicle size;
- :func:`_split_at_lamps`, :func:`_trim_to_lamps`, :func:`_pair_lamps`,
  :func:`_extend_lone_lamps` and :func:`_drop_lone_beams` turn lamp blobs into
  vehicle boxes.
"""

from collections import deque
from dataclasses import dataclass
import math
from typing import Deque, Dict, List, Optional, Sequence, Tuple

import cv2
from framebridge_ros.core.analysis.detector import Box
from framebridge_ros.core.analysis.geometry import box_iou
import numpy as np


def _cut_beams(fg: np.ndarray, light: np.ndarray, *, height_frac: float,
               heads: Optional[Sequence['_Lamp']] = None) -> np.ndarray:
    """
    Return fg without the light beams at the ends of its blobs.

    A headlight beam lies on the road: lit (``light``) and flat. Per blob, columns at
    either end whose foreground is mostly lit and lower than ``height_frac`` of the
    blob's tallest column are cut off, up to the first column that is tall or unlit:
    the body. A blob that is lit and flat throughout (a beam on its own) has nothing
    taller than itself, so it is kept unless it is lit throughout and flat (wider than
    twice its height).

    With the head lamps known (``heads``, lamp cores that are not red), a run is cut
    only where a head lamp sits at that end of the body: a beam shines ahead of a head
    lamp, and a bright body (a white van at dusk is "lit" by the test above too) has
    no head lamp at its flat, low end (a bonnet, a trailer, a bus's lower side).
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    out = fg.copy()
    for i in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[i])
        comp = labels[y:y + h, x:x + w] == i
        heights = comp.sum(axis=0)
        tall = np.flatnonzero(heights >= height_frac * heights.max())
        lit = comp & (light[y:y + h, x:x + w] > 0)
        cut = np.zeros(w, bool)
        for run, edge in ((slice(0, tall[0]), tall[0]), (slice(tall[-1] + 1, w), tall[-1] + 1)):
            # The flat run beyond the body is cut when it is mostly light.
            if not 2 * lit[:, run].sum() >= heights[run].sum() > 0:
                continue
            if heads is not None and not any(
                    y <= lamp.cy < y + h
                    and abs(lamp.cx - (x + edge)) <= max(lamp.w, 0.1 * w) + 2
                    for lamp in heads):
                continue  # no head lamp at this end: not a beam
            cut[run] = True
        if cut.any():
            out[y:y + h, x:x + w][comp & cut[None, :]] = 0
    return out


@dataclass(frozen=True)
class _Lamp:
    """A lamp core in the analysed image: its bounding box, and red (a tail lamp) or not."""

    x: int
    y: int
    w: int
    h: int
    tail: bool

    @property
    def cx(self) -> float:
        return self.x + self.w / 2.0

    @property
    def cy(self) -> float:
        return self.y + self.h / 2.0


# Broad hue bands (OpenCV hue 0..179): red wraps around 0. A tail lamp is red and
# saturated; a head lamp is white, or warm (halogen yellow) with little saturation.
_RED_HUE = (10, 170)
_RED_SATURATION = 90


def _find_lamps(small: np.ndarray, fg: np.ndarray, *, level: float) -> List[_Lamp]:
    """
    Return the lamp cores of the moving blobs: small spots brighter than level.

    A lamp is a light source, so its core is near the top of the camera's range even
    when the body around it is dark. Spots wider or taller than 3 % of the width are
    a lit body (a white van at dusk), not a lamp. A core is a tail lamp when most of
    its pixels are in the red hue band and saturated.
    """
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    core = cv2.bitwise_and(cv2.inRange(hsv[:, :, 2], int(math.ceil(level)), 255), fg)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    biggest = max(2, 0.03 * fg.shape[1])
    lamps = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < 2 or max(w, h) > biggest:
            continue
        pixels = hsv[y:y + h, x:x + w][labels[y:y + h, x:x + w] == i]
        hue, sat = pixels[:, 0], pixels[:, 1]
        red = ((hue <= _RED_HUE[0]) | (hue >= _RED_HUE[1])) & (sat >= _RED_SATURATION)
        lamps.append(_Lamp(x, y, w, h, tail=2 * int(red.sum()) > len(pixels)))
    return lamps


def _beam_side(light: np.ndarray, lamp: _Lamp) -> int:
    """
    Return the side a head lamp shines to: +1 right, -1 left, 0 unclear.

    A head lamp lights the road ahead of the vehicle, below and beyond the lamp; behind
    it is the vehicle's own dark body. The lit fraction of a window below the lamp on
    each side decides, when one side has at least twice the other's.
    """
    size = max(lamp.w, lamp.h)
    height, width = light.shape[:2]
    y0, y1 = lamp.y + lamp.h, min(height, lamp.y + lamp.h + 3 * size)
    reach = 5 * size
    right = light[y0:y1, min(width, lamp.x + lamp.w + size):lamp.x + lamp.w + size + reach]
    left = light[y0:y1, max(0, lamp.x - size - reach):max(0, lamp.x - size)]
    if y1 <= y0 or min(right.shape[1], left.shape[1]) < reach // 2:
        return 0
    r = cv2.countNonZero(right) / float(right.size)
    lf = cv2.countNonZero(left) / float(left.size)
    if r > 2.0 * lf + 0.05:
        return 1
    if lf > 2.0 * r + 0.05:
        return -1
    return 0


class _LaneMemory:
    """
    Travel direction and vehicle size per row band of the image (one lane), learned.

    A lane's traffic goes one way and its vehicles have similar sizes, so evidence from
    one vehicle holds for the rows around it (``half_band`` rows either side).
    Direction votes are capped so that the lane can change its mind (a camera turned);
    sizes are the median of the last pairs seen in the band (a bus among cars, or a
    wrong pair, does not set the size).
    """

    def __init__(self, rows: int, *, half_band: float) -> None:
        self.votes = np.zeros(rows, np.float32)
        self.half = max(1, int(round(half_band)))
        self._sizes: Deque[Tuple[float, float, float, float]] = deque(maxlen=60)

    def vote(self, row: float, sign: int) -> None:
        if sign:
            r = int(round(row))
            band = slice(max(0, r - self.half), max(0, r + self.half + 1))
            self.votes[band] = np.clip(self.votes[band] + sign, -10.0, 10.0)

    def direction(self, row: float) -> int:
        """Return +1 (left to right), -1 or 0 (not known yet) at an image row."""
        v = float(self.votes[min(len(self.votes) - 1, max(0, int(round(row))))])
        return 0 if abs(v) < 2.0 else (1 if v > 0 else -1)

    def learn_size(self, row: float, length: float, height: float, drop: float) -> None:
        """Remember a vehicle's length, height and drop from lamp row to ground."""
        self._sizes.append((row, length, height, drop))

    def size_at(self, row: float) -> Optional[Tuple[float, float, float]]:
        """Return the median (length, height, drop) near row, or None before 3 pairs."""
        near = [s[1:] for s in self._sizes if abs(s[0] - row) <= self.half]
        if len(near) < 3:
            return None
        length, height, drop = (float(v) for v in np.median(np.array(near), axis=0))
        return length, height, drop


def _vote_by_lamp_pairs(lanes: '_LaneMemory', boxes: Sequence[Box],
                        lamps: Sequence[_Lamp]) -> None:
    """
    Vote each blob's travel direction when it shows one tail and one head lamp.

    A vehicle drives towards its head lamp: the red lamp at one end and the white one
    at the other give the direction even where the beam is too faint to tell. In a
    queue the head lamp of one vehicle and the tail lamp of the next can share a blob
    the other way round; they are only a gap apart, while a vehicle's own lamps are at
    least twice the blob's height apart (a side view is long), so only those vote.
    """
    for box in boxes:
        inside = _lamps_in(box, lamps)
        tails = [lamp for lamp in inside if lamp.tail]
        heads = [lamp for lamp in inside if not lamp.tail]
        if len(tails) == 1 and len(heads) == 1:
            tail, head = tails[0], heads[0]
            if abs(head.cy - tail.cy) <= max(head.h, tail.h, 2) \
                    and abs(head.cx - tail.cx) >= 2.0 * box[3]:
                lanes.vote((head.cy + tail.cy) / 2.0, 1 if head.cx > tail.cx else -1)


def _lamps_in(box: Box, lamps: Sequence[_Lamp]) -> List[_Lamp]:
    """Return the lamp cores whose centre lies in box."""
    x, y, w, h = box
    return [lamp for lamp in lamps
            if x <= lamp.cx < x + w and y <= lamp.y + lamp.h / 2.0 < y + h]


def _lamp_kind(box: Box, lamps: Sequence[_Lamp]) -> str:
    """Return 'head', 'tail', 'both' or '' for the lamp cores whose centre is in box."""
    inside = {lamp.tail for lamp in _lamps_in(box, lamps)}
    if len(inside) == 2:
        return 'both'
    return ('tail' if True in inside else 'head') if inside else ''


def _split_at_lamps(boxes: List[Box], lamps: Sequence[_Lamp], fg: np.ndarray,
                    direction) -> List[Box]:
    """
    Return boxes with each blob that holds the lamps of two vehicles cut in two.

    Along the travel direction of its lane (``direction(row)``: +1 right, -1 left,
    0 unknown) a vehicle shows its tail lamp first and its head lamp last. In a queue
    the rear vehicle's head lamp and beam join the front vehicle's tail into one blob:
    a tail lamp after any lamp, or any lamp after a head lamp, starts another vehicle.
    The cut is just behind that tail lamp, or just ahead of that head lamp; each piece
    is shrunk to its foreground and trimmed to its end lamps (:func:`_trim_to_lamps`).
    """
    out = []
    for box in boxes:
        x, y, w, h = box
        d = direction(y + h / 2.0)
        inside = _lamps_in(box, lamps)
        if d == 0 or len(inside) < 2:
            out.append(box)
            continue
        ordered = sorted(inside, key=lambda lamp: d * lamp.cx)  # rear to front
        cuts = []
        for rear, front in zip(ordered, ordered[1:]):
            gap = abs(front.cx - rear.cx) - (front.w + rear.w) / 2.0
            if gap <= max(front.w, front.h, rear.w, rear.h):
                continue  # one lamp seen as two spots
            if front.tail:
                cuts.append(front.x if d > 0 else front.x + front.w)
            elif not rear.tail:
                cuts.append(rear.x + rear.w if d > 0 else rear.x)
        if not cuts:
            out.append(box)
            continue
        edges = [x] + sorted(min(x + w, max(x, cut)) for cut in cuts) + [x + w]
        for a, b in zip(edges, edges[1:]):
            if b - a < 2:
                continue
            px, py, pw, ph = cv2.boundingRect(fg[y:y + h, a:b])
            if pw and ph:
                out.append((a + px, y + py, pw, ph))
    return sorted(_trim_to_lamps(box, lamps, fg, direction) for box in out)


def _trim_to_lamps(box: Box, lamps: Sequence[_Lamp], fg: np.ndarray, direction) -> Box:
    """
    Return box without what lies ahead of its front head lamp or behind its rear tail lamp.

    Seen from the side, a vehicle's head lamp is at its front and its tail lamp at its
    back; beyond them is the beam on the road or the glow of the lamp, not the body.
    The piece kept is shrunk to its foreground, so a beam lying below the body goes too.
    """
    x, y, w, h = box
    d = direction(y + h / 2.0)
    inside = _lamps_in(box, lamps)
    if d == 0 or not inside:
        return box
    ordered = sorted(inside, key=lambda lamp: d * lamp.cx)  # rear to front
    a, b = x, x + w
    front, rear = ordered[-1], ordered[0]
    if not front.tail:
        if d > 0:
            b = min(b, front.x + front.w)
        else:
            a = max(a, front.x)
    if rear.tail:
        if d > 0:
            a = max(a, rear.x)
        else:
            b = min(b, rear.x + rear.w)
    if (a, b) == (x, x + w) or b - a < 2:
        return box
    px, py, pw, ph = cv2.boundingRect(fg[y:y + h, a:b])
    return (a + px, y + py, pw, ph) if pw and ph else box


def _pair_lamps(boxes: List[Box], lamps: Sequence[bool], *, gap_frac: float,
                max_aspect: float, kinds: Optional[Sequence[str]] = None,
                direction=None) -> List[Tuple[Box, Tuple[Box, ...]]]:
    """
    Return (box, parts) with the lamp blobs of one vehicle joined, two at a time.

    At night a body barely differs from the dark road, so a vehicle shows as its lamps
    (``lamps[i]``: blob i is mostly lit, see :meth:`MotionDetector._light_mask`):
    a head-lamp blob at one end, a tail-lamp blob at the other, at the same height on
    the body. Two blobs are one vehicle when their centre rows agree within half the
    taller blob, the horizontal gap is below ``gap_frac`` of the taller blob's height
    and their union is no longer than ``max_aspect`` times its height (no vehicle's
    side view is longer). When the lamp cores are known (``kinds[i]``: 'head', 'tail',
    'both' or ''), a vehicle's tail lamp is behind its head lamp: with the lane's
    travel direction known (``direction(row)``: +1 right, -1 left, 0 unknown) the rear
    blob must not be a head lamp alone nor the front blob a tail lamp alone; without
    it two head lamps or two tail lamps are not one vehicle, and where lamp cores are
    seen at all, two blobs without one are not a vehicle either. A blob with only a
    tail lamp behind one with only a head lamp are the two ends of one vehicle even
    when its body between them shows (a dark truck under a street lamp), so that pair
    needs no lit majority. Pairs are taken closest
    first and each blob joins at most one pair: a queue of vehicles is not chained
    into one box.
    """
    if gap_frac <= 0.0 or len(boxes) < 2:
        return [(b, (b,)) for b in boxes]
    kinds = kinds or [''] * len(boxes)
    cores_seen = any(kinds)
    candidates = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            ends = _tail_then_head(a, b, kinds[i], kinds[j], direction)
            if not (lamps[i] and lamps[j]) and not ends:
                continue
            if cores_seen and not (kinds[i] or kinds[j]):
                continue  # two patches of light with no lamp in either: a beam in pieces
            tall = max(a[3], b[3])
            if abs((a[1] + a[3] / 2.0) - (b[1] + b[3] / 2.0)) > 0.5 * tall:
                continue
            gap = max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])
            x0, y0 = min(a[0], b[0]), min(a[1], b[1])
            x1 = max(a[0] + a[2], b[0] + b[2])
            y1 = max(a[1] + a[3], b[1] + b[3])
            if gap > gap_frac * tall or x1 - x0 > max_aspect * (y1 - y0):
                continue
            d = direction((y0 + y1) / 2.0) if direction is not None else 0
            left, right = (i, j) if a[0] + a[2] / 2.0 <= b[0] + b[2] / 2.0 else (j, i)
            if d:
                rear, front = (left, right) if d > 0 else (right, left)
                if kinds[rear] == 'head' or kinds[front] == 'tail':
                    continue
            elif kinds[i] == kinds[j] and kinds[i] in ('head', 'tail'):
                continue
            candidates.append((gap, i, j, (x0, y0, x1 - x0, y1 - y0)))
    used = set()
    out = []
    for _, i, j, union in sorted(candidates):
        if i not in used and j not in used:
            used.update((i, j))
            out.append((union, (boxes[i], boxes[j])))
    return sorted(out + [(b, (b,)) for k, b in enumerate(boxes) if k not in used])


def _tail_then_head(a: Box, b: Box, kind_a: str, kind_b: str, direction) -> bool:
    """Return True when a and b are a tail-lamp-only blob behind a head-lamp-only one."""
    if direction is None or {kind_a, kind_b} != {'head', 'tail'}:
        return False
    d = direction((min(a[1], b[1]) + max(a[1] + a[3], b[1] + b[3])) / 2.0)
    head_right = (a[0] + a[2] / 2.0 > b[0] + b[2] / 2.0) == (kind_a == 'head')
    return d != 0 and head_right == (d > 0)


def _blob_flags(boxes: Sequence[Box], kinds: Sequence[str],
                lamps: Sequence[bool]) -> Dict[Box, Tuple[str, bool]]:
    """Return each blob's (lamp kind, mostly lamp light), looked up by its box."""
    return {box: (kind, lamp) for box, kind, lamp in zip(boxes, kinds, lamps)}


def _extend_lone_lamps(grouped: List[Tuple[Box, Tuple[Box, ...]]], boxes: Sequence[Box],
                       kinds: Sequence[str], lamps: Sequence[bool], cores: Sequence[_Lamp],
                       lanes: _LaneMemory,
                       width: int) -> List[Tuple[Box, Tuple[Box, ...]]]:
    """
    Return grouped with a lone head or tail lamp blob grown to its lane's vehicle size.

    Pairs of a tail blob behind a head blob teach the lane band its vehicle length,
    height and the drop from the lamps' row to the ground. A lamp blob left alone (its
    partner too dim to be foreground) is the front (head) or back (tail) of such a
    vehicle: the box reaches back from a head lamp, or forward from a tail lamp, by the
    learned length, with the learned height standing on the learned ground row below
    the lamp (a blob's own height includes glow and beam, the lamp row does not).
    """
    kind_of = _blob_flags(boxes, kinds, lamps)

    def lamp_row(box: Box) -> Optional[float]:
        inside = _lamps_in(box, cores)
        return (sum(c.y + c.h / 2.0 for c in inside) / len(inside)) if inside else None

    for (x, y, w, h), parts in grouped:
        if len(parts) != 2:
            continue
        d = lanes.direction(y + h / 2.0)
        rear, front = sorted(parts, key=lambda p: d * (p[0] + p[2] / 2.0))
        rows = [lamp_row(p) for p in parts]
        if d and kind_of[rear][0] == 'tail' and kind_of[front][0] == 'head' \
                and None not in rows:
            row = sum(rows) / 2.0
            lanes.learn_size(row, w, h, y + h - row)
    out = []
    for box, parts in grouped:
        x, y, w, h = box
        kind, lamp = kind_of.get(box, ('', False))
        row = lamp_row(box)
        d = lanes.direction(y + h / 2.0)
        size = None if row is None else lanes.size_at(row)
        if len(parts) != 1 or not lamp or kind not in ('head', 'tail') or not d \
                or size is None or size[0] <= w:
            out.append((box, parts))
            continue
        length, height, drop = size
        if (kind == 'head') == (d > 0):
            x0, x1 = x + w - length, x + w  # the body lies to the left of the lamp
        else:
            x0, x1 = x, x + length
        y1 = row + drop
        x0, x1 = max(0.0, x0), min(float(width), x1)
        grown = (int(round(x0)), int(round(y1 - height)), int(round(x1 - x0)),
                 int(round(height)))
        # A vehicle whose two lamps were both left alone grows the same box twice.
        if not any(box_iou(grown, other) > 0.7 for other, _ in out):
            out.append((grown, parts))
    return out


def _drop_lone_beams(grouped: List[Tuple[Box, Tuple[Box, ...]]], boxes: Sequence[Box],
                     kinds: Sequence[str], lamps: Sequence[bool], *,
                     max_aspect: float) -> List[Tuple[Box, Tuple[Box, ...]]]:
    """
    Return grouped without lit, flat blobs that hold no lamp and joined no vehicle.

    With headlights on every vehicle shows a lamp. A blob with no lamp core in it, left
    alone by the pairing, is not a vehicle when it is a flat patch of light (wider
    than twice its height and mostly lit: a beam cut off its vehicle, a reflection)
    or flatter than any vehicle's side view (wider than ``max_aspect`` times its
    height: a beam at dusk, too faint to count as lit).
    """
    flags = _blob_flags(boxes, kinds, lamps)
    out = []
    for box, parts in grouped:
        # A box grown from a lone lamp (_extend_lone_lamps) keeps its blob's flags.
        kind, lamp = flags.get(parts[0], ('', False))
        flat = box[2] > (2.0 if lamp else max_aspect) * box[3]
        if len(parts) == 1 and not kind and flat:
            continue
        out.append((box, parts))
    return out
