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
The traffic of the simulated scene: vehicle classes, lanes and their schedules.

Each lane's vehicles come from its own random stream (:class:`Lane`), so the schedule,
and with it every vehicle's class, size, speed, colour and crossing time, is a pure
function of the seed. How a vehicle looks is drawn in ``sprites.py``.
"""

import bisect
from dataclasses import dataclass
import math

from framebridge_ros.core.simulation.textures import seeded_rng, STREAM_LANE

__all__ = [
    'BUS_COLOURS',
    'CLASS_BY_NAME',
    'LANES',
    'Lane',
    'Vehicle',
]

_WARMUP_S = -30.0  # schedule starts before t=0 so the first frame has traffic
_LANE_GAP_FRAC = 0.035  # minimum bumper gap, fraction of the reference width
_DRAWS_PER_VEHICLE = 8  # fixed per vehicle so the random stream never shifts


@dataclass(frozen=True)
class _ClassSpec:
    name: str
    weight: float
    length: tuple[float, float]  # fraction of the reference width
    aspect: tuple[float, float]  # body height / length, side view
    crossing_s: tuple[float, float]  # time to cross the whole image
    head: tuple[float, float]  # headlight (u, v) in the right-facing sprite
    tail: tuple[float, float]


_CLASSES = (
    _ClassSpec('car', 0.72, (0.085, 0.115), (0.30, 0.36), (3.5, 6.5), (0.985, 0.48),
               (0.012, 0.45)),
    _ClassSpec('truck', 0.10, (0.17, 0.23), (0.38, 0.44), (5.0, 8.0), (0.988, 0.70),
               (0.01, 0.73)),
    _ClassSpec('bus', 0.06, (0.22, 0.27), (0.27, 0.30), (5.0, 8.0), (0.99, 0.76),
               (0.008, 0.70)),
    _ClassSpec('motorcycle', 0.12, (0.040, 0.050), (0.60, 0.70), (3.0, 5.5), (0.78, 0.45),
               (0.08, 0.55)),
)
CLASS_BY_NAME = {c.name: c for c in _CLASSES}


@dataclass(frozen=True)
class _LaneSpec:
    direction: str
    baseline: float  # wheel contact row, fraction of the height
    scale: float  # far lane is further away, so smaller


LANES = (_LaneSpec('right_to_left', 0.655, 0.90), _LaneSpec('left_to_right', 0.86, 1.04))

# BGR albedo and relative frequency, roughly what a car park looks like.
_CAR_COLOURS = (
    ((232, 234, 236), 0.22), ((30, 30, 32), 0.19), ((168, 166, 162), 0.16),
    ((104, 106, 108), 0.14), ((150, 78, 30), 0.09), ((36, 38, 168), 0.09),
    ((48, 82, 44), 0.03), ((140, 170, 196), 0.03), ((82, 44, 24), 0.05),
)
BUS_COLOURS = (((236, 238, 240), 0.35), ((40, 190, 236), 0.2), ((44, 52, 190), 0.2),
               ((150, 92, 36), 0.15), ((70, 140, 60), 0.1))


def _lerp(span: tuple[float, float], u: float) -> float:
    return span[0] + (span[1] - span[0]) * u


def _pick(weights: tuple[float, ...], u: float) -> int:
    total = sum(weights)
    acc = 0.0
    for i, wgt in enumerate(weights):
        acc += wgt / total
        if u < acc:
            return i
    return len(weights) - 1


def _vehicle_colour(cls: str, u_pick: float, u_shade: float) -> tuple[int, int, int]:
    palette = BUS_COLOURS if cls == 'bus' else _CAR_COLOURS
    base = palette[_pick(tuple(w for _, w in palette), u_pick)][0]
    k = 0.88 + 0.24 * u_shade  # same paint, different dirt and light
    return (min(255, int(base[0] * k)), min(255, int(base[1] * k)), min(255, int(base[2] * k)))


@dataclass(frozen=True)
class Vehicle:
    """One scheduled vehicle: its class, size, lane, speed and times in view, in pixels."""

    vid: int
    cls: str
    direction: str
    lane: int
    length_px: int
    height_px: int
    baseline_px: int
    speed_px_s: float
    sign: int  # +1 moving right, -1 moving left
    x_enter: float  # left edge at t_enter (just outside the image)
    t_enter: float
    t_exit: float
    t_cross: float  # centre on the counting line
    colour: tuple[int, int, int]
    style: int

    def left_at(self, t: float) -> float:
        """Return the x of the left edge at scene time t."""
        return self.x_enter + self.sign * self.speed_px_s * (t - self.t_enter)


class Lane:
    """
    Deterministic vehicle schedule of one lane.

    Arrivals are a Poisson process drawn from a per-lane random stream; an arrival is
    delayed when needed so that no vehicle ever overlaps the one ahead while either is
    in view. The schedule is generated lazily up to the asked time and pruned far
    behind it; asking for a pruned time regenerates from the start, which gives the
    same vehicles because the stream is a pure function of the seed. Past ``keep``
    vehicles, the older half is pruned once it left more than ``prune_margin_s`` before
    the asked time. Crossings are counted at ``line_x_norm``, a fraction of the width.
    """

    def __init__(self, *, index: int, seed_key: int, rate_per_s: float, width: int,
                 height: int, ref_px: float, line_x_norm: float, keep: int,
                 prune_margin_s: float) -> None:
        self._index = index
        self._spec = LANES[index]
        self._seed_key = seed_key
        self._rate = rate_per_s
        self._width = width
        self._baseline = int(round(self._spec.baseline * height))
        self._ref = ref_px * self._spec.scale
        self._gap = _LANE_GAP_FRAC * ref_px
        self._line_px = line_x_norm * width
        self._keep, self._prune_margin_s = keep, prune_margin_s
        self._reset()

    def _reset(self) -> None:
        self._rng = seeded_rng(self._seed_key, STREAM_LANE, self._index)
        self._seq = 0
        self._proposal = _WARMUP_S
        self._vehicles: list[Vehicle] = []
        self._enter: list[float] = []
        self._cross: list[float] = []
        self._pruned_until = -math.inf
        self._pruned_crossings = 0

    def _earliest_entry(self, lead: Vehicle, speed: float) -> float:
        # Behind the lead's rear (plus gap) on entry; if faster, still behind when the
        # lead's rear leaves the image (the gap only shrinks in between).
        t = lead.t_enter + (lead.length_px + self._gap) / lead.speed_px_s
        if speed > lead.speed_px_s:
            t = max(t, lead.t_exit - (self._width - self._gap) / speed)
        return t

    def _next_vehicle(self) -> Vehicle:
        u = [float(x) for x in self._rng.random(_DRAWS_PER_VEHICLE)]
        self._proposal += -math.log1p(-u[0]) / self._rate
        spec = _CLASSES[_pick(tuple(c.weight for c in _CLASSES), u[1])]
        length = max(4, int(round(self._ref * _lerp(spec.length, u[2]))))
        height = max(3, int(round(length * _lerp(spec.aspect, u[3]))))
        duration = _lerp(spec.crossing_s, u[4])
        speed = (self._width + length) / duration
        t_enter = self._proposal
        if self._vehicles:
            t_enter = max(t_enter, self._earliest_entry(self._vehicles[-1], speed))
        sign = 1 if self._spec.direction == 'left_to_right' else -1
        x_enter = float(-length) if sign > 0 else float(self._width)
        centre0 = x_enter + length / 2.0
        vehicle = Vehicle(
            vid=self._seq * len(LANES) + self._index, cls=spec.name,
            direction=self._spec.direction, lane=self._index, length_px=length,
            height_px=height, baseline_px=self._baseline, speed_px_s=speed, sign=sign,
            x_enter=x_enter, t_enter=t_enter, t_exit=t_enter + duration,
            t_cross=t_enter + (self._line_px - centre0) / (sign * speed),
            colour=_vehicle_colour(spec.name, u[5], u[6]), style=int(u[7] * 2 ** 31))
        self._seq += 1
        return vehicle

    def _ensure(self, t: float) -> None:
        if self._rate <= 0.0:
            return
        if t < self._pruned_until:
            self._reset()
        while not self._vehicles or self._vehicles[-1].t_enter <= t:
            v = self._next_vehicle()
            self._vehicles.append(v)
            self._enter.append(v.t_enter)
            self._cross.append(v.t_cross)
        if len(self._vehicles) > self._keep:
            k = len(self._vehicles) // 2
            if self._vehicles[k - 1].t_exit < t - self._prune_margin_s:
                gone = self._vehicles[:k]
                self._pruned_crossings += sum(1 for v in gone if v.t_cross >= 0.0)
                self._pruned_until = max(self._pruned_until, max(v.t_exit for v in gone))
                del self._vehicles[:k], self._enter[:k], self._cross[:k]

    @property
    def direction(self) -> str:
        """Direction of travel, one of the scene's DIRECTIONS."""
        return self._spec.direction

    def visible(self, t: float) -> list[Vehicle]:
        """Return the vehicles at least partly inside the image at t."""
        self._ensure(t)
        found = []
        for i in range(bisect.bisect_right(self._enter, t) - 1, -1, -1):
            v = self._vehicles[i]
            if v.t_exit <= t:
                break  # no overtaking in view, so exits are ordered like entries
            if v.t_enter < t:
                found.append(v)
        return found

    def crossings(self, t: float) -> int:
        """Return how many vehicles' centres reached the counting line in [0, t]."""
        if t < 0.0:
            return 0
        self._ensure(t)
        # Crossing times are ordered for the same no-overtaking reason.
        lo = bisect.bisect_left(self._cross, 0.0)
        hi = bisect.bisect_right(self._cross, t)
        return self._pruned_crossings + max(0, hi - lo)
