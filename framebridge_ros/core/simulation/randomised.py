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
A domain-randomised roadside camera: every clip drawn from wide distributions.

:mod:`framebridge_ros.core.simulation.scene` is one fixed roadside scene. Rules tuned
on it learn its look. This renderer draws each clip's world from a seed instead
(:func:`draw_world`): the camera (horizon, focal length, height), 1 to 4 lanes with a
direction each, the vehicle classes with their spread in length, height and colour,
speeds of 0.3 to 1.5 vehicle lengths a frame at 1 fps, gaps (light or dense traffic),
stop lines that make queues and stop-and-go, and, for the light: the scene Lux, the
ambient level (so a body is anything from invisible to clear), lamp size, colour
temperature, halo, height on the body, head lamps only or head and tail lamps, beams,
street lamps, tree and cloud shadows, exposure bias and limit, noise and JPEG quality.

Rendering works in linear light: an albedo image times an illumination image, plus
emitted light (sky, lamps, halos), times the auto-exposure gain, then a square-root
tone curve, noise and 8 bits. Nearer lanes are drawn over farther ones (occlusion).

Ground truth per frame (:meth:`RandomisedScene.next_frame`): every vehicle's body box
(wheels to roof, not its light), class, lane, direction, the visible share of its body
(cut by the frame edge or hidden by a nearer vehicle) and ``dont_care`` when less than
half of it is visible; cumulative crossings of the counting line by the box centre;
the sky label (:func:`sky_label`, defined in oktas and twilight lux, docs/ANALYSIS.md);
and the camera metadata, named as rpicam-still's ``--metadata`` names it.
"""

from dataclasses import dataclass, field
import math
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

__all__ = [
    'LIGHTS', 'TRAFFIC', 'Lane', 'RandomisedScene', 'World', 'draw_world', 'okta_label',
    'sky_label',
]

LIGHTS = ('day', 'dusk', 'night')
TRAFFIC = ('light', 'dense')
DIRECTIONS = ('left_to_right', 'right_to_left')
# Civil twilight: the sun at the horizon gives about 400 lux, at 6 degrees below about
# 3.4 lux. Oktas: up to 2/8 of the sky covered is fair, 6/8 or more overcast.
SUNSET_LUX = 400.0
CIVIL_TWILIGHT_END_LUX = 3.4
CLEAR_UP_TO_OKTAS = 2
CLOUDY_FROM_OKTAS = 6

# Vehicle classes: (name, weight, length m, height m).
_CLASSES = (
    ('car', 0.62, (3.6, 5.0), (1.35, 1.65)),
    ('van', 0.14, (4.6, 5.9), (1.9, 2.6)),
    ('truck', 0.10, (6.5, 11.0), (2.8, 3.8)),
    ('bus', 0.07, (10.0, 12.5), (2.9, 3.4)),
    ('motorcycle', 0.07, (1.9, 2.3), (1.1, 1.5)),
)
_CAR_LENGTH_M = 4.5
_LANE_WIDTH_M = 3.5
_DT = 0.25  # kinematics step, s


def okta_label(cover: float) -> str:
    """Return clear, partly_cloudy or cloudy for a sky cover share 0..1, by oktas."""
    if cover <= CLEAR_UP_TO_OKTAS / 8.0:
        return 'clear'
    if cover >= CLOUDY_FROM_OKTAS / 8.0:
        return 'cloudy'
    return 'partly_cloudy'


def sky_label(*, lux: float, cover: float) -> str:
    """
    Return the sky label of a frame from the scene light and the cover in view.

    Night below the end of civil twilight (3.4 lux), dawn_dusk from there to sunset
    (400 lux), else the okta band of the cover in view.
    """
    if lux < CIVIL_TWILIGHT_END_LUX:
        return 'night'
    if lux < SUNSET_LUX:
        return 'dawn_dusk'
    return okta_label(cover)


@dataclass
class Lane:
    """One lane: its ground row, scale, direction and traffic."""

    row: float  # image row where the wheels touch, px
    px_per_m: float
    direction: int  # +1 left to right, -1 right to left
    speed: float  # mean speed, car lengths per second
    gap: Tuple[float, float]  # bumper gap drawn from this range, in car lengths
    stop_x: Optional[float] = None  # a stop line (px), for queues
    stop_period: Tuple[float, float] = (0.0, 0.0)  # red, green (s)
    stop_phase: float = 0.0


@dataclass
class World:
    """Everything drawn for one clip."""

    seed: int
    light: str
    traffic: str
    width: int
    height: int
    horizon: float
    lanes: List[Lane]
    lux: float
    ambient: float
    cloud_cover: float
    max_gain: float
    exposure_bias: float
    noise_sigma: float
    jpeg_quality: int
    lamps_on: bool
    tail_lamps: bool
    lamp_size: float  # lamp radius, fraction of the body height
    lamp_height: float  # lamp centre above the ground, fraction of the body height
    head_colour: Tuple[float, float, float]
    lamp_radiance: float
    halo_sigma: float  # in lamp radii
    halo_gain: float
    beam_gain: float
    beam_length: float  # in vehicle lengths
    street_lamps: int
    tree_shadows: int
    cloud_shadows: bool
    dusk_warmth: float
    shadow_depth: float  # light left in a cast shadow (sun: dark; overcast: faint)
    counting_x: float
    road_top: float
    road_bottom: float
    colours: List[Tuple[float, float, float]] = field(default_factory=list)

    @property
    def road_region(self) -> Tuple[float, ...]:
        """Return the road as a user would draw it: flat normalised x, y pairs."""
        top, bottom = self.road_top / self.height, min(1.0, self.road_bottom / self.height)
        return (0.0, top, 1.0, top, 1.0, bottom, 0.0, bottom)

    @property
    def counting_line(self) -> Tuple[float, float, float, float]:
        """Return a vertical counting line x1, y1, x2, y2 (normalised)."""
        x = self.counting_x / self.width
        return (x, 0.0, x, 1.0)


def _kelvin_bgr(kelvin: float) -> Tuple[float, float, float]:
    """Return a lamp colour (linear BGR, max 1) for a colour temperature 2700-6500 K."""
    u = (min(6500.0, max(2700.0, kelvin)) - 2700.0) / 3800.0
    return (0.45 + 0.55 * u, 0.78 + 0.17 * u, 1.0 - 0.08 * u)


def draw_world(seed: int, *, light: str, traffic: str, width: int = 1014,
               height: int = 760) -> World:
    """Draw one clip's world from a seed for a light regime and a traffic density."""
    if light not in LIGHTS or traffic not in TRAFFIC:
        raise ValueError(f'light in {LIGHTS}, traffic in {TRAFFIC}')
    r = np.random.default_rng([seed, LIGHTS.index(light), TRAFFIC.index(traffic)])
    u = r.uniform
    horizon = height * u(0.2, 0.38)
    near_row = height * u(0.8, 0.95)
    car_frac = u(0.09, 0.22)  # a car's length on the near lane, share of the width
    focal_over_d0 = width * car_frac / _CAR_LENGTH_M
    d0 = u(7.0, 16.0)
    focal = focal_over_d0 * d0
    cam_h = (near_row - horizon) * d0 / focal
    n_lanes = int(r.choice([1, 2, 3, 4], p=[0.2, 0.4, 0.2, 0.2]))
    pattern = r.integers(3)  # 0 opposite halves, 1 all one way, 2 random per lane
    first = 1 if r.random() < 0.5 else -1
    lanes = []
    for i in range(n_lanes):
        d = d0 + i * _LANE_WIDTH_M
        if pattern == 0:
            direction = first if i < max(1, n_lanes // 2) else -first
        elif pattern == 1:
            direction = first
        else:
            direction = 1 if r.random() < 0.5 else -1
        if traffic == 'dense':
            gap = (u(0.3, 0.6), u(0.8, 1.5))
        else:
            gap = (u(3.0, 6.0), u(8.0, 16.0))
        lane = Lane(row=horizon + focal * cam_h / d, px_per_m=focal / d,
                    direction=direction, speed=u(0.3, 1.5), gap=gap)
        if r.random() < (0.35 if traffic == 'dense' else 0.15):
            lane.stop_x = width * u(0.25, 0.75)
            lane.stop_period = (u(6.0, 20.0), u(10.0, 30.0))
            lane.stop_phase = u(0.0, 40.0)
        lanes.append(lane)
    far = lanes[-1]
    spacing = (lanes[0].row - far.row) / max(1, n_lanes - 1) if n_lanes > 1 \
        else 0.5 * _LANE_WIDTH_M * lanes[0].px_per_m * cam_h / d0
    road_top = max(horizon + 4.0, far.row - 0.5 * max(spacing, 0.25 * far.px_per_m))
    road_bottom = min(height - 1.0, lanes[0].row + 0.6 * max(spacing, 8.0))
    if light == 'day':
        cover = float(u(0.0, 1.0))
        lux = float(10 ** u(math.log10(1500.0), math.log10(30000.0)) * (1 - 0.7 * cover))
        lux = max(lux, 600.0)
    elif light == 'dusk':
        cover = float(u(0.0, 1.0))
        lux = float(10 ** u(math.log10(8.0), math.log10(300.0)))
    else:
        cover = float(u(0.0, 1.0))
        lux = float(10 ** u(math.log10(0.3), math.log10(2.5)))
    lamps_on = light != 'day'
    colours = []
    for _ in range(64):
        kind = r.random()
        if kind < 0.22:
            v = u(0.02, 0.08)
            colours.append((v, v, v * u(0.95, 1.1)))  # black, dark grey
        elif kind < 0.42:
            v = u(0.6, 0.85)
            colours.append((v, v, v))  # white
        elif kind < 0.62:
            v = u(0.2, 0.45)
            colours.append((v * u(0.95, 1.05), v, v))  # silver, grey
        else:
            hsv = np.uint8([[[r.integers(180), r.integers(80, 255), r.integers(60, 230)]]])
            b, g, rr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0] / 255.0
            colours.append((float(b) ** 2.2, float(g) ** 2.2, float(rr) ** 2.2))
    return World(
        seed=seed, light=light, traffic=traffic, width=width, height=height,
        horizon=horizon, lanes=lanes, lux=lux, ambient=lux / 25000.0, cloud_cover=cover,
        max_gain=float(u(40.0, 400.0)), exposure_bias=float(u(-0.7, 0.7)),
        noise_sigma=float(u(0.8, 3.0)), jpeg_quality=int(r.integers(60, 96)),
        lamps_on=lamps_on, tail_lamps=bool(r.random() < 0.8),
        lamp_size=float(u(0.05, 0.13)), lamp_height=float(u(0.3, 0.65)),
        head_colour=_kelvin_bgr(float(u(2700.0, 6500.0))),
        lamp_radiance=float(u(0.3, 3.0)), halo_sigma=float(u(1.0, 5.0)),
        halo_gain=float(u(0.002, 0.03)), beam_gain=float(u(0.001, 0.02)),
        beam_length=float(u(0.4, 1.5)),
        street_lamps=int(r.integers(0, 5)) if light != 'day' else 0,
        tree_shadows=int(r.integers(0, 6)) if light == 'day' else 0,
        cloud_shadows=bool(light == 'day' and 0.2 < cover < 0.8 and r.random() < 0.6),
        dusk_warmth=float(u(0.0, 1.0)),
        shadow_depth=float(min(0.9, u(0.3, 0.6) + 0.4 * cover)),
        counting_x=float(width * u(0.35, 0.65)),
        road_top=float(road_top), road_bottom=float(road_bottom), colours=colours)


@dataclass
class _Vehicle:
    ident: int
    lane: int
    cls: str
    length: float  # px
    height: float  # px
    x: float  # front bumper, px
    speed: float  # px / s wanted
    v: float = 0.0  # px / s now
    colour: Tuple[float, float, float] = (0.3, 0.3, 0.3)
    cabin: Tuple[float, float] = (0.3, 0.85)
    lamps: bool = True
    counted: bool = False


def _fbm(rng: np.random.Generator, shape: Tuple[int, int], cells: int) -> np.ndarray:
    """Return smooth noise in 0..1 of shape (rows, cols), from a few octaves."""
    out = np.zeros(shape, np.float32)
    for octave in range(4):
        n = cells * 2 ** octave
        grid = rng.random((max(2, n * shape[0] // shape[1] + 2), n + 2)).astype(np.float32)
        out += cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC) \
            / 2 ** octave
    out -= out.min()
    return out / max(1e-6, float(out.max()))


def _soft_ellipse(layer: np.ndarray, centre: Tuple[float, float], axes: Tuple[float, float],
                  *, scale: float = 1.0, add: Optional[Tuple[float, ...]] = None) -> None:
    """Multiply a soft-edged ellipse of layer by scale, or add a colour to it, in place."""
    (cx, cy), (ax, ay) = centre, (max(1.0, axes[0]), max(1.0, axes[1]))
    height, width = layer.shape[:2]
    x0, y0 = max(0, int(cx - ax - 3)), max(0, int(cy - ay - 3))
    x1, y1 = min(width, int(cx + ax + 4)), min(height, int(cy + ay + 4))
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.ellipse(mask, (int(cx - x0), int(cy - y0)), (int(ax), int(ay)), 0, 0, 360, 1.0, -1)
    mask = cv2.blur(mask, (3, 3))[..., None]
    part = layer[y0:y1, x0:x1]
    if add is None:
        part *= 1.0 - mask * (1.0 - scale)
    else:
        part += mask * np.array(add, np.float32)


class RandomisedScene:
    """
    One clip of a drawn :class:`World`, frame by frame at 1 fps.

    Frames come in order from :meth:`next_frame`; the clip is a pure function of the
    world's seed. Traffic runs for ``warmup_s`` before the first frame so it starts
    full.
    """

    def __init__(self, world: World, *, warmup_s: float = 40.0) -> None:
        self.world = w = world
        self._rng = np.random.default_rng([w.seed, 7])
        self._t = -warmup_s
        self._frame = 0
        self._next_id = 0
        self._vehicles: List[_Vehicle] = []
        self._spawn_at = [self._t + self._rng.uniform(0.0, 3.0) for _ in w.lanes]
        self.crossings: Dict[str, int] = dict.fromkeys(DIRECTIONS, 0)
        self._gain = None
        self._lamp_patches: Dict[int, np.ndarray] = {}
        self._build_static()
        while self._t < 0.0:
            self._step()

    # --- the static world ------------------------------------------------------------

    def _build_static(self) -> None:
        w, r = self.world, self._rng
        h, wd = w.height, w.width
        hz, top, bottom = int(w.horizon), int(w.road_top), int(w.road_bottom)
        albedo = np.empty((h, wd, 3), np.float32)
        ground = _fbm(r, (h, wd), 6)
        grass = np.array([r.uniform(0.03, 0.08), r.uniform(0.1, 0.25), r.uniform(0.06, 0.2)],
                         np.float32)
        albedo[:] = grass * (0.7 + 0.6 * ground[..., None])
        road = r.uniform(0.12, 0.4)
        albedo[top:bottom] = road * (0.85 + 0.3 * ground[top:bottom, :, None]) \
            * np.array([1.0, 1.0, r.uniform(0.95, 1.08)], np.float32)
        for a, b in zip(w.lanes, w.lanes[1:]):
            row = int(round((a.row + b.row) / 2.0))
            thick = max(1, int(round(0.12 * a.px_per_m)))
            dash = max(4, int(round(3.0 * a.px_per_m)))
            for x in range(0, wd, 2 * dash):
                albedo[row:row + thick, x:x + dash] = 0.7
        for edge in (top, bottom - 2):
            albedo[max(0, edge):edge + 2] = 0.55
        # Tree and building silhouettes on the horizon, pavement below the road.
        for _ in range(int(r.integers(3, 14))):
            cx, rad = r.uniform(0, wd), r.uniform(0.02, 0.08) * h
            cv2.circle(albedo, (int(cx), int(hz)), int(rad),
                       tuple(float(v) for v in grass * r.uniform(0.3, 0.7)), -1)
        albedo[bottom:] = r.uniform(0.2, 0.45)
        self._albedo = albedo
        # Illumination: the ambient light, tree shadows by day, street lamp pools.
        ambient = w.ambient
        tint = np.array((1.0, 1.0, 1.0) if w.light == 'day' else
                        (1.15, 1.0, 0.85) if w.light == 'night' else
                        (0.9 + 0.2 * (1 - w.dusk_warmth), 0.95, 1.0 + 0.2 * w.dusk_warmth),
                        np.float32)
        shade = np.ones((h, wd), np.float32)
        for _ in range(w.tree_shadows):
            cx, cy = r.uniform(0, wd), r.uniform(top, bottom)
            axes = (int(r.uniform(0.03, 0.12) * wd), int(r.uniform(0.02, 0.08) * h))
            cv2.ellipse(shade, (int(cx), int(cy)), axes, 0, 0, 360, float(r.uniform(0.4, 0.75)),
                        -1)
        if w.tree_shadows:
            shade = cv2.GaussianBlur(shade, (0, 0), 3 + 0.004 * wd)
        illum = np.empty((h, wd, 3), np.float32)
        illum[:] = ambient * tint
        illum *= shade[..., None]
        emit = np.zeros((h, wd, 3), np.float32)
        for _ in range(w.street_lamps):
            cx = r.uniform(0.05, 0.95) * wd
            colour = np.array((0.25, 0.6, 1.0) if r.random() < 0.5 else (1.0, 0.97, 0.9),
                              np.float32)
            pool = np.zeros((h, wd), np.float32)
            cv2.ellipse(pool, (int(cx), int((top + bottom) / 2)),
                        (int(r.uniform(0.06, 0.15) * wd), int((bottom - top) * 0.6)), 0, 0, 360,
                        1.0, -1)
            pool = cv2.GaussianBlur(pool, (0, 0), 0.03 * wd) * r.uniform(5e-4, 5e-3)
            illum += pool[..., None] * colour
            head = (int(cx), int(max(2, top - r.uniform(0.1, 0.25) * h)))
            cv2.circle(emit, head, max(2, int(0.004 * wd)), tuple(float(v) for v in colour * 2.0),
                       -1)
        self._illum = illum
        self._emit = emit
        # The sky: a gradient plus clouds covering the drawn share, in view.
        sky = np.zeros((hz, wd, 3), np.float32)
        rows = np.linspace(0.0, 1.0, max(1, hz), dtype=np.float32)[:, None, None]
        if w.light == 'day':
            zenith, low = np.array((0.55, 0.25, 0.08)), np.array((0.75, 0.6, 0.45))
        elif w.light == 'dusk':
            warm = w.dusk_warmth
            zenith = np.array((0.35, 0.2, 0.12))
            low = np.array((0.25 + 0.3 * (1 - warm), 0.35 + 0.1 * (1 - warm), 0.45 + 0.5 * warm))
        else:
            zenith, low = np.array((0.06, 0.03, 0.02)), np.array((0.12, 0.12, 0.14))
        sky[:] = (zenith * (1 - rows) + low * rows).astype(np.float32)
        cloud_field = _fbm(r, (max(1, hz), wd), 3)
        cut = float(np.quantile(cloud_field, 1.0 - w.cloud_cover)) if w.cloud_cover > 0 \
            else 2.0
        self._cloud_mask = np.clip((cloud_field - cut) * 12.0 + 0.5, 0.0, 1.0)
        grey = 0.75 - 0.45 * w.cloud_cover
        cloud_colour = np.array((grey, grey, grey * (1.0 + 0.3 * (w.light == 'dusk'))),
                                np.float32)
        sky = sky * (1 - self._cloud_mask[..., None]) + cloud_colour * self._cloud_mask[..., None]
        self._sky = sky * (ambient * (1.6 if w.light != 'night' else 3.0))
        self.cloud_cover_in_view = float((self._cloud_mask > 0.5).mean()) if hz else 0.0
        self._noise = r.normal(0.0, 1.0, (h + 32, wd + 32)).astype(np.float32)
        self._cloud_shadow = _fbm(r, (h // 8 + 1, 2 * wd // 8 + 1), 3) if w.cloud_shadows \
            else None

    # --- traffic ---------------------------------------------------------------------

    def _spawn(self, index: int) -> None:
        w, r = self.world, self._rng
        lane = w.lanes[index]
        names = [c[0] for c in _CLASSES]
        weights = np.array([c[1] for c in _CLASSES])
        cls = names[int(r.choice(len(names), p=weights / weights.sum()))]
        _, _, (l0, l1), (h0, h1) = _CLASSES[names.index(cls)]
        length, height = r.uniform(l0, l1) * lane.px_per_m, r.uniform(h0, h1) * lane.px_per_m
        car = _CAR_LENGTH_M * lane.px_per_m
        x = -5.0 if lane.direction > 0 else w.width + 5.0
        ahead = [v for v in self._vehicles if v.lane == index]
        if ahead:
            last = ahead[-1]
            rear = last.x - lane.direction * last.length
            gap = 0.3 * car
            if lane.direction * (rear - x) < gap:  # no room yet: try again shortly
                self._spawn_at[index] = self._t + _DT
                return
        speed = lane.speed * car * r.uniform(0.85, 1.15)
        colour = w.colours[int(r.integers(len(w.colours)))]
        cabin = (r.uniform(0.2, 0.4), r.uniform(0.7, 0.9)) if cls == 'car' else (0.0, 0.25)
        self._vehicles.append(_Vehicle(
            ident=self._next_id, lane=index, cls=cls, length=length, height=height, x=x,
            speed=speed, v=speed, colour=colour, cabin=cabin,
            lamps=bool(w.lamps_on and (w.light == 'night' or r.random() < 0.9))))
        self._next_id += 1
        g0, g1 = lane.gap
        headway = (r.uniform(g0, g1) * car + length) / max(1e-3, speed)
        self._spawn_at[index] = self._t + headway

    def _red(self, lane: Lane, t: float) -> bool:
        red, green = lane.stop_period
        if lane.stop_x is None or red + green <= 0:
            return False
        return (t + lane.stop_phase) % (red + green) < red

    def _step(self) -> None:
        w = self.world
        for i in range(len(w.lanes)):
            if self._spawn_at[i] <= self._t:
                self._spawn(i)
        for i, lane in enumerate(w.lanes):
            car = _CAR_LENGTH_M * lane.px_per_m
            queue = [v for v in self._vehicles if v.lane == i]
            queue.sort(key=lambda v: -lane.direction * v.x)  # front first
            leader_rear = None
            for v in queue:
                limit = float('inf')
                if leader_rear is not None:
                    limit = lane.direction * (leader_rear - v.x) - 0.25 * car
                if self._red(lane, self._t) and lane.direction * (lane.stop_x - v.x) > -1.0:
                    limit = min(limit, lane.direction * (lane.stop_x - v.x))
                # Close up to the obstacle within about a second, never through it.
                wanted = min(v.speed, max(0.0, limit) / 1.0)
                accel = 0.6 * v.speed  # px / s^2: a car gets to speed in ~2 s
                v.v = min(wanted, v.v + accel * _DT) if wanted > v.v else wanted
                before = v.x
                v.x += lane.direction * v.v * _DT
                centre_before = before - lane.direction * v.length / 2.0
                centre = v.x - lane.direction * v.length / 2.0
                side_before, side = centre_before - w.counting_x, centre - w.counting_x
                if not v.counted and side_before * side <= 0 and centre != centre_before:
                    v.counted = True
                    self.crossings[DIRECTIONS[0 if lane.direction > 0 else 1]] += 1
                leader_rear = v.x - lane.direction * v.length
        # Gone once the whole body has left the frame on the far side.
        self._vehicles = [v for v in self._vehicles
                          if (v.x - v.length < w.width + 10 if w.lanes[v.lane].direction > 0
                              else v.x + v.length > -10)]
        self._t += _DT

    # --- one frame -------------------------------------------------------------------

    def _box(self, v: _Vehicle) -> Tuple[float, float, float, float]:
        lane = self.world.lanes[v.lane]
        x0 = v.x - v.length if lane.direction > 0 else v.x
        return (x0, lane.row - v.height, v.length, v.height)

    def _draw_vehicle(self, albedo, illum, emit, v: _Vehicle) -> None:
        w = self.world
        lane = w.lanes[v.lane]
        d = lane.direction
        x0, y0, length, height = self._box(v)
        ground = lane.row
        wheel = max(1.5, 0.17 * height if v.cls != 'motorcycle' else 0.28 * height)

        def px(fx: float, fy: float) -> Tuple[int, int]:
            # fx 0 rear .. 1 front along the travel direction; fy 0 ground .. 1 roof.
            x = x0 + (fx if d > 0 else 1.0 - fx) * length
            return (int(round(x)), int(round(ground - fy * height)))

        if w.light == 'day':  # a cast shadow on the road under and beside the body
            cx, cy = px(0.5, 0.0)
            _soft_ellipse(illum, (cx, cy + 0.05 * height), (0.55 * length, 0.18 * height),
                          scale=w.shadow_depth)
        colour = tuple(float(c) for c in v.colour)
        glass = (0.05, 0.05, 0.06)
        if v.cls == 'car':
            c0, c1 = v.cabin
            body = [px(0.0, 0.12), px(0.0, 0.5), px(c0 - 0.08, 0.55), px(c0, 1.0),
                    px(c1, 1.0), px(min(1.0, c1 + 0.1), 0.55), px(1.0, 0.45), px(1.0, 0.12)]
            cv2.fillPoly(albedo, [np.array(body, np.int32)], colour)
            cv2.fillPoly(albedo, [np.array([px(c0 + 0.02, 0.6), px(c0 + 0.05, 0.92),
                                            px(c1 - 0.02, 0.92), px(c1 + 0.05, 0.6)],
                                           np.int32)], glass)
        elif v.cls == 'motorcycle':
            cv2.fillPoly(albedo, [np.array([px(0.1, 0.2), px(0.2, 0.55), px(0.85, 0.6),
                                            px(0.95, 0.2)], np.int32)], colour)
            cv2.fillPoly(albedo, [np.array([px(0.35, 0.55), px(0.4, 1.0), px(0.6, 1.0),
                                            px(0.65, 0.55)], np.int32)], (0.04, 0.04, 0.05))
        else:
            cab = 0.22 if v.cls == 'truck' else 0.0
            cv2.fillPoly(albedo, [np.array([px(0.0, 0.12), px(0.0, 1.0), px(1.0, 1.0),
                                            px(1.0, 0.12)], np.int32)], colour)
            if cab:  # a cargo box of another colour behind the cab
                cargo = tuple(float(c) for c in w.colours[v.ident % len(w.colours)])
                cv2.fillPoly(albedo, [np.array([px(0.0, 0.15), px(0.0, 1.0),
                                                px(1.0 - cab - 0.02, 1.0),
                                                px(1.0 - cab - 0.02, 0.15)], np.int32)], cargo)
                cv2.rectangle(albedo, px(1.0 - cab + 0.03, 0.9), px(0.97, 0.6), glass, -1)
            else:
                for k in range(int(max(1, length / (1.3 * height)))):
                    f0 = 0.05 + k * 1.3 * height / length
                    if f0 + 0.6 * height / length < 0.97:
                        cv2.rectangle(albedo, px(f0, 0.9), px(f0 + 0.6 * height / length, 0.6),
                                      glass, -1)
        for fx in ((0.2, 0.8) if v.cls != 'truck' else (0.12, 0.3, 0.85)):
            cx, cy = px(fx, 0.0)
            cv2.circle(albedo, (cx, int(round(cy - wheel))), int(round(wheel)),
                       (0.03, 0.03, 0.03), -1)
        if not v.lamps:
            return
        size = max(1.0, w.lamp_size * height)
        head, tail = px(0.985, w.lamp_height), px(0.015, w.lamp_height)
        hc = w.head_colour
        radiance = w.lamp_radiance
        self._glow(emit, head, size, tuple(radiance * c for c in hc))
        if w.tail_lamps:
            self._glow(emit, tail, size * 0.9,
                       tuple(radiance * 0.25 * c for c in (0.08, 0.06, 1.0)))
        # The beam lights the road ahead of the vehicle (it adds to the illumination).
        reach = w.beam_length * length
        bx = head[0] + d * reach / 2.0
        _soft_ellipse(illum, (bx, ground + 0.1 * height), (reach / 2.0, 0.25 * height),
                      add=tuple(w.beam_gain * c for c in hc))

    def _glow(self, emit, centre, size, colour) -> None:
        """Add a lamp: a saturated core and a soft halo around it."""
        w = self.world
        key = int(round(2.0 * size))  # lamps of one size share one patch
        size = key / 2.0
        sigma = max(1.0, w.halo_sigma * size)
        half = int(3 * sigma + size + 1)
        x, y = centre
        x0, y0, x1, y1 = max(0, x - half), max(0, y - half), min(w.width, x + half + 1), \
            min(w.height, y + half + 1)
        if x1 <= x0 or y1 <= y0:
            return
        lamp = self._lamp_patches.get(key)
        if lamp is None:  # one core + halo per lamp size (a lane's lamps share it)
            lamp = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
            cv2.circle(lamp, (half, half), int(round(size)), 1.0, -1)
            halo = cv2.GaussianBlur(lamp, (0, 0), sigma)
            lamp += halo * (w.halo_gain / max(1e-6, float(halo.max()) * w.lamp_radiance))
            self._lamp_patches[key] = lamp
        patch = lamp[y0 - (y - half):y1 - (y - half), x0 - (x - half):x1 - (x - half)]
        emit[y0:y1, x0:x1] += patch[..., None] * np.array(colour, np.float32)

    def next_frame(self) -> Tuple[np.ndarray, dict, dict]:
        """Return the next frame (BGR uint8), its ground truth and its metadata."""
        w = self.world
        t = self._frame * 1.0
        while self._t < t - 1e-9:
            self._step()
        albedo, illum, emit = self._albedo.copy(), self._illum.copy(), self._emit.copy()
        if self._cloud_shadow is not None:
            shift = (2 * self._frame) % (self._cloud_shadow.shape[1] // 2)
            band = self._cloud_shadow[:, shift:shift + self._cloud_shadow.shape[1] // 2 + 1]
            shadow = cv2.resize(band, (w.width, w.height), interpolation=cv2.INTER_LINEAR)
            illum *= (0.6 + 0.4 * (shadow > 0.45))[..., None] if w.cloud_cover > 0.5 \
                else (1.0 - 0.35 * (shadow > 0.6))[..., None]
        order = sorted(self._vehicles, key=lambda v: w.lanes[v.lane].row)  # far first
        for v in order:
            self._draw_vehicle(albedo, illum, emit, v)
        radiance = albedo * illum + emit
        hz = int(w.horizon)
        radiance[:hz] = self._sky + emit[:hz]
        # Average metering that a few lamps cannot dominate.
        sample = radiance[::8, ::8]
        metered = float(np.minimum(sample, 4.0 * float(np.median(sample))).mean())
        wanted = 0.18 * 2 ** w.exposure_bias / max(1e-9, metered)
        gain = min(w.max_gain, max(0.2, wanted))
        self._gain = gain
        radiance *= gain
        np.clip(radiance, 0.0, 1.0, out=radiance)
        out = np.sqrt(radiance, out=radiance)
        out *= 255.0
        sigma = w.noise_sigma * max(1.0, gain / 2.0) ** 0.3
        oy, ox = (int(v) for v in self._rng.integers(0, 32, 2))
        noise = self._noise[oy:oy + w.height, ox:ox + w.width] * sigma
        out += noise[..., None]
        image = np.clip(out, 0, 255).astype(np.uint8)
        truth = self._truth(order)
        self._frame += 1
        return image, truth, {'capture_time': t, 'camera': self._camera(gain)}

    def _camera(self, gain: float) -> dict:
        """Return what rpicam-still's --metadata says: Lux, ExposureTime (us), gains."""
        w = self.world
        lux = w.lux * float(self._rng.uniform(0.97, 1.03))
        exposure = min(33000.0, gain * 250.0)
        return {'Lux': round(lux, 3), 'ExposureTime': int(round(exposure)),
                'AnalogueGain': round(max(1.0, gain * 250.0 / exposure), 3),
                'DigitalGain': 1.0}

    def _truth(self, order: List[_Vehicle]) -> dict:
        w = self.world
        vehicles = []
        boxes = [self._box(v) for v in order]
        for k, (v, (x, y, bw, bh)) in enumerate(zip(order, boxes)):
            x0, y0 = max(0.0, x), max(0.0, y)
            x1, y1 = min(float(w.width), x + bw), min(float(w.height), y + bh)
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            inside = (x1 - x0) * (y1 - y0) / (bw * bh)
            # Hidden by nearer vehicles (drawn later): their boxes over this one.
            mask = np.ones((max(1, int(y1 - y0)), max(1, int(x1 - x0))), np.uint8)
            for other, (ox, oy, ow, oh) in zip(order[k + 1:], boxes[k + 1:]):
                if w.lanes[other.lane].row <= w.lanes[v.lane].row:
                    continue
                a0, b0 = int(max(0, ox - x0)), int(max(0, oy - y0))
                a1 = int(min(mask.shape[1], ox + ow - x0))
                b1 = int(min(mask.shape[0], oy + oh - y0))
                if a1 > a0 and b1 > b0:
                    mask[b0:b1, a0:a1] = 0
            visible = inside * float(mask.mean())
            vehicles.append({
                'id': v.ident, 'class': v.cls, 'lane': v.lane,
                'direction': DIRECTIONS[0 if w.lanes[v.lane].direction > 0 else 1],
                'box': [int(round(x0)), int(round(y0)), int(round(x1 - x0)),
                        int(round(y1 - y0))],
                'visible': round(visible, 3), 'dont_care': visible < 0.5,
                'speed_lengths_per_s': round(v.v / max(1e-6, v.length), 3),
                'lamps': v.lamps})
        label = sky_label(lux=w.lux, cover=self.cloud_cover_in_view)
        return {'vehicles': vehicles, 'crossings': dict(self.crossings),
                'sky': {'condition': label, 'cloud_cover': round(self.cloud_cover_in_view, 3),
                        'oktas': int(round(8 * self.cloud_cover_in_view)), 'lux': w.lux},
                'light': w.light, 'traffic': w.traffic}
