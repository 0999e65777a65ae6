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
Training frames for the learned vehicle back-end, drawn by the domain-randomised camera.

Run from the repository root with the project's Python (numpy and OpenCV only)::

    .venv/bin/python -m tools.vehicle_net_data --clips 100 --out /tmp/vehicle_net.npz

Seeds come from ``TRAINING_BASE`` (100000) on, apart from the bench's tuning (1000)
and held-out (5000) seeds, so no frame the bench scores was ever trained on. Each clip
is one :func:`~framebridge_ros.core.simulation.randomised.draw_world` per regime (day,
dusk, night; light and dense traffic), and gives ``--frames`` frames, every second
frame of the clip (consecutive frames at 1 fps show the same vehicles). Each frame is
JPEG-encoded at the clip's quality and decoded, as the graph does, then scaled to the
network's training width (``TRAINING_WIDTH``; see
:func:`framebridge_ros.core.analysis.learned_detector.input_size`).
Boxes are stored in that scaled frame, with a don't-care flag for vehicles less than
``--dont-care-below`` visible (by default half, the bench's cut for precision and
recall; 0.3 is the counting's: the tracker follows a vehicle while 30 % of it shows).
"""

import argparse
from concurrent.futures import ProcessPoolExecutor
import sys

import cv2
from framebridge_ros.core.analysis.learned_detector import input_size, TRAINING_WIDTH
from framebridge_ros.core.simulation.randomised import (
    draw_world, LIGHTS, RandomisedScene, TRAFFIC)
import numpy as np

TRAINING_BASE = 100000
SIZES = ((1014, 760), (1280, 720), (960, 540))


def clip_frames(job):
    """Return (images, boxes) of one clip: job is (seed, light, traffic, frames, cut)."""
    seed, light, traffic, frames, dont_care_below = job
    cv2.setNumThreads(1)  # one process per core: OpenCV's own threads only contend
    width, height = SIZES[seed % len(SIZES)]
    world = draw_world(seed, light=light, traffic=traffic, width=width, height=height)
    scene = RandomisedScene(world)
    net_w, net_h = input_size(width, height, TRAINING_WIDTH)
    sx, sy = net_w / width, net_h / height
    images, boxes = [], []
    for i in range(2 * frames):
        image, truth, _ = scene.next_frame()
        if i % 2:
            continue
        ok, jpeg = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, world.jpeg_quality])
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        images.append(cv2.resize(decoded, (net_w, net_h), interpolation=cv2.INTER_AREA))
        rows = [(v['box'][0] * sx, v['box'][1] * sy, v['box'][2] * sx, v['box'][3] * sy,
                 float(v['visible'] < dont_care_below)) for v in truth['vehicles']]
        boxes.append(np.array(rows, np.float32).reshape(-1, 5))
    return images, boxes


def main(argv=None) -> int:
    """Draw the clips and save images (grouped by shape) and boxes to one .npz."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clips', type=int, default=100, help='clips per regime')
    parser.add_argument('--frames', type=int, default=10, help='frames per clip')
    parser.add_argument('--base', type=int, default=TRAINING_BASE)
    parser.add_argument('--lights', default=','.join(LIGHTS),
                        help=f'comma-separated regimes of light, of {",".join(LIGHTS)}')
    parser.add_argument('--traffic', default=','.join(TRAFFIC),
                        help=f'comma-separated regimes of traffic, of {",".join(TRAFFIC)}')
    parser.add_argument('--dont-care-below', type=float, default=0.5,
                        help="visible share under which a vehicle is don't care (0-1)")
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    if not 0.0 <= args.dont_care_below <= 1.0:
        parser.error('--dont-care-below must lie in 0-1')
    lights, traffics = args.lights.split(','), args.traffic.split(',')
    for flag, given, known in (('--lights', lights, LIGHTS), ('--traffic', traffics, TRAFFIC)):
        unknown = sorted(set(given) - set(known))
        if unknown:
            parser.error(f'unknown {flag} {",".join(unknown)}; choose from {",".join(known)}')
    jobs = [(args.base + k, light, traffic, args.frames, args.dont_care_below)
            for k in range(args.clips) for light in lights for traffic in traffics]
    groups = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for n, (images, boxes) in enumerate(pool.map(clip_frames, jobs, chunksize=4)):
            for image, rows in zip(images, boxes):
                group = groups.setdefault(image.shape[:2], ([], []))
                group[0].append(image)
                group[1].append(rows)
            if n % 50 == 0:
                print(f'  clip {n + 1}/{len(jobs)}', file=sys.stderr)
    arrays = {}
    for k, (shape, (images, boxes)) in enumerate(sorted(groups.items())):
        arrays[f'images_{k}'] = np.stack(images)
        arrays[f'boxes_{k}'] = np.array(boxes, dtype=object)
    np.savez(args.out, **arrays)
    print(f'{sum(len(g[0]) for g in groups.values())} frames in {len(groups)} shapes '
          f'-> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
