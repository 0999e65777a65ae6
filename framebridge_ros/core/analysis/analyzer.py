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
The per-frame vehicle analysis around a detector: threshold, road region, tracking, health.

:class:`VehicleAnalyzer` runs a detector (:mod:`framebridge_ros.core.analysis.factory`),
keeps detections whose score passes the weather-adaptive threshold
(:func:`adaptive_threshold`) and whose ground point lies in the road region, tracks
them (:mod:`framebridge_ros.core.analysis.tracking`) and counts line crossings. A
detection under the threshold but at least ``low_threshold`` may continue a track whose
predicted box it overlaps (a vehicle half hidden behind a nearer one scores low), or,
by day, three in a row along a lane's flow confirm a track of their own
(:mod:`.tracking`); once a confirmed track takes it, it is a detection like the others.
:meth:`VehicleAnalyzer.analyze` returns plain data that
:mod:`framebridge_ros.core.analysis.detections_schema` turns into the
``vehicles/detections`` JSON.
"""

from dataclasses import dataclass, field
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
from framebridge_ros.core.analysis.detector import Detection, Detector
from framebridge_ros.core.analysis.heading import lamp_heading
from framebridge_ros.core.analysis.region import Polygon
from framebridge_ros.core.analysis.tracking import appearance, LineCrossing, Tracker
from framebridge_ros.core.health import Health, Level
import numpy as np

__all__ = [
    'AnalyzerStats',
    'FrameAnalysis',
    'LAMPS_LIT',
    'THRESHOLD_OFFSETS',
    'VehicleAnalyzer',
    'adaptive_threshold',
    'detector_health',
]

# How far the confidence threshold moves with the sky. Low light and flat overcast
# light lower the contrast between vehicles and road, so every back-end's scores drop
# for the same vehicles; lowering the threshold keeps recall. Clamped to [0.1, 0.9].
THRESHOLD_OFFSETS = {
    'clear': 0.0,
    'partly_cloudy': 0.0,
    'cloudy': -0.05,
    'dawn_dusk': -0.10,
    'night': -0.15,
}
THRESHOLD_LIMITS = (0.1, 0.9)
# Vehicles drive with lamps lit at dusk and night: only then do their lamps say which way
# a lane heads (:mod:`.heading`). By day an end's brightest part is its paint or glass,
# and a lane learned a heading from its vehicles' shape (tuning seed 1013).
LAMPS_LIT = ('dawn_dusk', 'night')


def adaptive_threshold(base: float, condition: Optional[str], *,
                       offsets: Mapping[str, float] = THRESHOLD_OFFSETS) -> float:
    """Return the confidence threshold for a sky condition (unknown: no change), clamped."""
    lo, hi = THRESHOLD_LIMITS
    return min(hi, max(lo, float(base) + offsets.get(condition or '', 0.0)))


@dataclass
class FrameAnalysis:
    """What one frame gave: kept detections with track ids, new crossings, totals."""

    detections: List[Detection]
    track_ids: List[Optional[int]]
    crossings: List[LineCrossing]
    counts: Dict[str, int]
    threshold: float
    status: str
    processing_ms: float
    image_size: Tuple[int, int]


@dataclass
class AnalyzerStats:
    """Running figures for health: frames, detections, timings."""

    frames: int = 0
    frames_with_detections: int = 0
    detections: int = 0
    dropped_stale: int = 0
    lighting_changes: int = 0
    last_status: str = '-'
    last_analysis_time: Optional[float] = None
    processing_ms: List[float] = field(default_factory=list)
    lanes: List[Dict[str, Any]] = field(default_factory=list)


class VehicleAnalyzer:
    """
    Detector + adaptive threshold + road region + tracker: one call per frame.

    The region test uses each box's ground point (bottom centre), so a tall vehicle
    whose roof rises above the drawn road still counts, and movement outside the road
    (trees, clouds, pedestrians on the far verge) does not.
    """

    def __init__(self, detector: Detector, *, region: Polygon,
                 counting_line: Sequence[float], base_threshold: float = 0.5,
                 tracker: Optional[Tracker] = None, adaptive: bool = True,
                 low_threshold: float = 0.2) -> None:
        self.detector = detector
        self.region = region
        self.base_threshold = float(base_threshold)
        # Under the threshold but at least this: a box that may continue a track, not
        # start one (ByteTrack): half-hidden vehicles score low where their track is.
        self.low_threshold = float(low_threshold)
        self.tracker = tracker or Tracker(counting_line=counting_line)
        self.sky_condition: Optional[str] = None
        self.adaptive = bool(adaptive)  # the sky moves the threshold
        self.stats = AnalyzerStats()
        self._region_px: Optional[np.ndarray] = None
        self._region_size: Optional[Tuple[int, int]] = None

    @property
    def threshold(self) -> float:
        """Return the confidence threshold in force for the current sky condition."""
        return adaptive_threshold(self.base_threshold,
                                  self.sky_condition if self.adaptive else None)

    def _in_region(self, point: Tuple[float, float], size: Tuple[int, int]) -> bool:
        if self._region_size != size:
            w, h = size
            self._region_px = np.array([[x * w, y * h] for x, y in self.region], np.float32)
            self._region_size = size
        return cv2.pointPolygonTest(self._region_px, point, False) >= 0

    def analyze(self, image: np.ndarray, *, t: float,
                metadata: Optional[Mapping[str, Any]] = None) -> FrameAnalysis:
        """Analyse the frame captured at t (epoch or scene seconds)."""
        start = time.perf_counter()
        h, w = image.shape[:2]
        threshold = self.threshold
        found = self.detector.detect(image, metadata=metadata)
        on_road = [d for d in found if d.score >= min(threshold, self.low_threshold)
                   and self._in_region(d.ground, (w, h))]
        confident = [d.score >= threshold for d in on_road]
        lit = self.sky_condition in LAMPS_LIT
        every_id, crossings = self.tracker.update(
            [d.box for d in on_road], t=t, frame_size=(w, h),
            features=[appearance(image, d.box) for d in on_road],
            headings=([lamp_heading(image, d.box) if sure else None
                       for d, sure in zip(on_road, confident)] if lit else None),
            confident=confident, night=self.sky_condition == 'night')
        # A weak box is a detection once a track took it.
        taken = [k for k, sure in enumerate(confident) if sure or every_id[k] is not None]
        kept = [on_road[k] for k in taken]
        ids = [every_id[k] for k in taken]
        elapsed = 1000.0 * (time.perf_counter() - start)
        status = self.detector.status
        s = self.stats
        s.frames += 1
        s.frames_with_detections += bool(kept)
        s.detections += len(kept)
        s.lighting_changes += status == 'lighting_change'
        s.last_status = status
        s.last_analysis_time = time.time()
        s.processing_ms = (s.processing_ms + [elapsed])[-100:]
        if s.frames % 10 == 0:  # lanes change slowly; grouping them is not free
            s.lanes = self.tracker.lanes()
        return FrameAnalysis(detections=kept, track_ids=ids, crossings=crossings,
                             counts=dict(self.tracker.counts), threshold=threshold,
                             status=status, processing_ms=elapsed, image_size=(w, h))


def detector_health(stats: AnalyzerStats, *, now: float, max_age_s: float,
                    backend: str) -> Health:
    """
    Judge a vehicle detector from its AnalyzerStats.

    STALE before the first frame; WARN when no frame was analysed for 5 x max_age_s
    (at least 10 s: is the provider publishing?), while the motion model warms up, when
    a lane carries traffic but the tracker learned no flow for it (its crossings go
    uncounted), or when the median frame takes over a second (the detector cannot keep
    up with 1 fps).
    """
    times = sorted(stats.processing_ms)
    stuck = [lane for lane in stats.lanes if lane['flow_px_per_s'] is None]
    median = times[len(times) // 2] if times else None
    last = stats.last_analysis_time
    values = {
        'backend': backend,
        'frames_analysed': stats.frames,
        'frames_with_detections': stats.frames_with_detections,
        'detections': stats.detections,
        'dropped_stale': stats.dropped_stale,
        'lighting_changes': stats.lighting_changes,
        'last_status': stats.last_status,
        'last_frame_age_s': '-' if last is None else round(now - last, 3),
        'processing_median_ms': '-' if median is None else round(median, 2),
        'lanes': len(stats.lanes),
        'lanes_without_flow': len(stuck),
        'lanes_heading_by_lamps': sum(lane.get('heading') is not None for lane in stats.lanes),
    }
    if last is None:
        return Health(Level.STALE, 'no frame analysed yet', values)
    quiet = max(10.0, 5.0 * max_age_s)
    if now - last > quiet:
        return Health(Level.WARN, f'no frame analysed for {now - last:.0f} s', values)
    if stats.last_status == 'warming_up':
        return Health(Level.WARN, 'learning the background', values)
    if stuck:
        rows = ', '.join(f'{lane["row"]:.0f}' for lane in stuck)
        return Health(Level.WARN, f'{len(stuck)} lane(s) with traffic learned no flow '
                      f'(rows {rows} px): their crossings may go uncounted', values)
    if median is not None and median > 1000.0:
        return Health(Level.WARN, f'median analysis time {median:.0f} ms is too slow',
                      values)
    return Health(Level.OK, 'analysing', values)
