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
Train the learned vehicle back-end's network and export it to models/vehicle_net.onnx.

Needs PyTorch and onnx, which the package and its tests do not (a venv of its own).
The shipped model was made in four steps with these commands: frames of every regime
(about 5 min) and 45 min of training on 2 cores; frames of night only from other seeds
(about 2.5 min) and 30 min more from that checkpoint at a third of the rate; frames of
dense traffic only from other seeds again (about 3.5 min) and 35 min more, all three
sets, at a third of the rate; dense traffic once more from new seeds and 35 min more,
all four sets (session 9 of issue 13).
Training stops on a time budget, so a rerun gives a network of similar, not identical,
figures::

    python3 -m venv /tmp/train
    /tmp/train/bin/pip install torch==2.13.0 onnx numpy==2.4.6 opencv-python-headless==4.14.0.94
    .venv/bin/python -m tools.vehicle_net_data --clips 120 --frames 8 --out /tmp/vn.npz
    PYTHONPATH=. /tmp/train/bin/python tools/train_vehicle_net.py /tmp/vn.npz --minutes 45 \
        --checkpoint /tmp/vn_a.pt --out /tmp/vn_a.onnx
    .venv/bin/python -m tools.vehicle_net_data --clips 120 --frames 8 --lights night \
        --base 200000 --out /tmp/vn_night.npz
    PYTHONPATH=. /tmp/train/bin/python tools/train_vehicle_net.py /tmp/vn.npz \
        /tmp/vn_night.npz --minutes 30 --lr 1e-3 --seed 1 --resume /tmp/vn_a.pt \
        --checkpoint /tmp/vn_b.pt
    .venv/bin/python -m tools.vehicle_net_data --clips 110 --frames 8 --traffic dense \
        --base 300000 --out /tmp/vn_dense.npz
    PYTHONPATH=. /tmp/train/bin/python tools/train_vehicle_net.py /tmp/vn.npz \
        /tmp/vn_night.npz /tmp/vn_dense.npz --minutes 35 --lr 1e-3 --seed 2 \
        --resume /tmp/vn_b.pt --checkpoint /tmp/vn_c.pt
    .venv/bin/python -m tools.vehicle_net_data --clips 110 --frames 8 --traffic dense \
        --base 500000 --out /tmp/vn_dense2.npz
    PYTHONPATH=. /tmp/train/bin/python tools/train_vehicle_net.py /tmp/vn.npz \
        /tmp/vn_night.npz /tmp/vn_dense.npz /tmp/vn_dense2.npz --minutes 35 --lr 1e-3 \
        --seed 4 --resume /tmp/vn_c.pt --checkpoint /tmp/vn_e.pt

The network: a small encoder to 1/32 of the input and a feature pyramid back to 1/4,
whose five output channels are the centre likelihood (sigmoid), log box width and
height in cells, and the centre offset in its cell (sigmoid). Targets follow TTFNet:
an elliptical Gaussian per vehicle with sigmas of alpha/6 of the box size, the focal
loss of CenterNet on the likelihood, L1 on size and offset at each centre cell.
Vehicles less than half visible are don't care: no loss inside their boxes.

Augmentation, so the network learns vehicles rather than one renderer's look: random
horizontal flip, scale 0.75-1.3, per-channel gain, gamma, contrast, blur, noise and a
JPEG re-encode at a random quality.
"""

import argparse
import math
import time

import cv2
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

STRIDE = 4
ALPHA = 0.54


def cbr(cin, cout, stride=1):
    """Return conv 3x3 + batch norm + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class VehicleNet(nn.Module):
    """Encoder to 1/32, top-down pyramid to 1/4, a 5-channel head."""

    def __init__(self, width=24):
        super().__init__()
        self.s4 = nn.Sequential(cbr(3, 16, 2), cbr(16, 24, 2), cbr(24, 24))
        self.s8 = nn.Sequential(cbr(24, 48, 2), cbr(48, 48))
        self.s16 = nn.Sequential(cbr(48, 64, 2), cbr(64, 64), cbr(64, 64))
        self.s32 = nn.Sequential(cbr(64, 96, 2), cbr(96, 96))
        self.l32 = nn.Conv2d(96, width, 1)
        self.l16 = nn.Conv2d(64, width, 1)
        self.l8 = nn.Conv2d(48, width, 1)
        self.l4 = nn.Conv2d(24, width, 1)
        self.fuse = cbr(width, width)
        self.head = nn.Conv2d(width, 5, 1)
        with torch.no_grad():
            self.head.bias[0] = -4.0  # start with few centres (focal loss prior)

    def forward(self, x):
        """Return [N, 5, H/4, W/4]: sigmoid likelihood, log w, log h, sigmoid offsets."""
        f4 = self.s4(x)
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        p = self.l32(f32)
        p = F.interpolate(p, scale_factor=2.0, mode='nearest') + self.l16(f16)
        p = F.interpolate(p, scale_factor=2.0, mode='nearest') + self.l8(f8)
        p = F.interpolate(p, scale_factor=2.0, mode='nearest') + self.l4(f4)
        out = self.head(self.fuse(p))
        heat = torch.sigmoid(out[:, 0:1])
        offset = torch.sigmoid(out[:, 3:5])
        return torch.cat([heat, out[:, 1:3], offset], dim=1)


def targets(boxes, shape):
    """Return heat, size, offset targets and masks for one image of shape (h, w)."""
    gh, gw = shape[0] // STRIDE, shape[1] // STRIDE
    heat = np.zeros((gh, gw), np.float32)
    weight = np.ones((gh, gw), np.float32)
    size = np.zeros((2, gh, gw), np.float32)
    offset = np.zeros((2, gh, gw), np.float32)
    centre = np.zeros((gh, gw), np.float32)
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    for x, y, w, h, dont_care in sorted(boxes, key=lambda b: -b[2] * b[3]):
        if dont_care:
            x0, y0 = int(x / STRIDE), int(y / STRIDE)
            x1, y1 = int(math.ceil((x + w) / STRIDE)), int(math.ceil((y + h) / STRIDE))
            weight[max(0, y0):y1, max(0, x0):x1] = 0.0
            continue
        if w < 2 or h < 2:
            continue
        cx, cy = (x + w / 2) / STRIDE, (y + h / 2) / STRIDE
        ix, iy = min(gw - 1, int(cx)), min(gh - 1, int(cy))
        sx = max(0.4, ALPHA * w / STRIDE / 6.0)
        sy = max(0.4, ALPHA * h / STRIDE / 6.0)
        g = np.exp(-((xs - ix) ** 2 / (2 * sx * sx) + (ys - iy) ** 2 / (2 * sy * sy)))
        np.maximum(heat, g, out=heat)
        heat[iy, ix] = 1.0
        centre[iy, ix] = 1.0
        size[:, iy, ix] = (math.log(w / STRIDE), math.log(h / STRIDE))
        offset[:, iy, ix] = (cx - ix, cy - iy)
    weight = np.maximum(weight, (heat > 0.05).astype(np.float32))
    return heat, weight, size, offset, centre


def augment(image, boxes, rng):
    """Return a photometrically and geometrically jittered copy of image and boxes."""
    h, w = image.shape[:2]
    boxes = boxes.copy()
    if rng.random() < 0.5:
        image = image[:, ::-1]
        boxes[:, 0] = w - boxes[:, 0] - boxes[:, 2]
    scale = rng.uniform(0.75, 1.3)
    sw, sh = int(round(w * scale)), int(round(h * scale))
    image = cv2.resize(np.ascontiguousarray(image), (sw, sh), interpolation=cv2.INTER_AREA
                       if scale < 1 else cv2.INTER_LINEAR)
    boxes[:, :4] *= scale
    # Crop (or pad) back to the original size, keeping the road band in view.
    canvas = np.full((h, w, 3), int(rng.integers(0, 200)), np.uint8)
    ox = int(rng.integers(0, sw - w + 1)) if sw > w else -int(rng.integers(0, w - sw + 1))
    real = boxes[boxes[:, 4] == 0]
    if sh > h:
        mid = float(np.mean(real[:, 1] + real[:, 3] / 2)) if len(real) else sh / 2
        oy = int(np.clip(mid - h / 2 + rng.uniform(-0.2, 0.2) * h, 0, sh - h))
    else:
        oy = -int(rng.integers(0, h - sh + 1))
    src = image[max(0, oy):max(0, oy) + min(h, sh), max(0, ox):max(0, ox) + min(w, sw)]
    canvas[max(0, -oy):max(0, -oy) + src.shape[0], max(0, -ox):max(0, -ox) + src.shape[1]] = src
    image = canvas
    boxes[:, 0] -= ox
    boxes[:, 1] -= oy
    # Vehicles the crop cuts to under half become don't care; clip the rest.
    x0, y0 = np.clip(boxes[:, 0], 0, w), np.clip(boxes[:, 1], 0, h)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, w)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, h)
    area = np.maximum(1e-6, boxes[:, 2] * boxes[:, 3])
    inside = (x1 - x0) * (y1 - y0) / area
    boxes[:, 4] = np.maximum(boxes[:, 4], (inside < 0.5).astype(np.float32))
    boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3] = x0, y0, x1 - x0, y1 - y0
    boxes = boxes[(boxes[:, 2] >= 1) & (boxes[:, 3] >= 1)]
    # Photometric: gains per channel, gamma, contrast, blur, noise, JPEG.
    f = image.astype(np.float32) / 255.0
    f *= rng.uniform(0.75, 1.25, 3).astype(np.float32)
    f = np.clip(f, 0, 1) ** rng.uniform(0.6, 1.6)
    f = (f - f.mean()) * rng.uniform(0.7, 1.3) + f.mean()
    f = np.clip(f * 255.0, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:
        noise = rng.normal(0.0, rng.uniform(1.0, 8.0), f.shape[:2])[..., None]
        f = np.clip(f + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        quality = int(rng.integers(40, 95))
        f = cv2.imdecode(cv2.imencode('.jpg', f, [cv2.IMWRITE_JPEG_QUALITY, quality])[1],
                         cv2.IMREAD_COLOR)
    return f, boxes


def focal_loss(pred, heat, weight):
    """Return CenterNet's penalty-reduced focal loss, normalised by the centres."""
    pred = pred.clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1).float()
    neg = (1 - pos) * weight
    pos_loss = torch.log(pred) * (1 - pred) ** 2 * pos
    neg_loss = torch.log(1 - pred) * pred ** 2 * (1 - heat) ** 4 * neg
    n = pos.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def batches(datasets, batch, rng):
    """Yield tensors for one batch of one image shape of one dataset, augmented, forever."""
    groups = [(data[f'images_{k}'], data[f'boxes_{k}']) for data in datasets
              for k in range(len([n for n in data.files if n.startswith('images_')]))]
    weights = np.array([len(g[0]) for g in groups], np.float64)
    while True:
        images, boxes = groups[rng.choice(len(groups), p=weights / weights.sum())]
        picks = rng.integers(0, len(images), batch)
        xs, hs, ws, ss, os_, cs = [], [], [], [], [], []
        for i in picks:
            image, rows = augment(images[i], np.asarray(boxes[i], np.float32).reshape(-1, 5),
                                  rng)
            heat, weight, size, offset, centre = targets(rows, image.shape[:2])
            xs.append(image[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0)
            hs.append(heat[None])
            ws.append(weight[None])
            ss.append(size)
            os_.append(offset)
            cs.append(centre[None])
        yield tuple(torch.from_numpy(np.stack(a)) for a in (xs, hs, ws, ss, os_, cs))


def main(argv=None):
    """Train for the given minutes with a cosine schedule, then export ONNX."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('data', nargs='+', help='.npz files of tools.vehicle_net_data')
    parser.add_argument('--minutes', type=float, default=40.0)
    parser.add_argument('--batch', type=int, default=12)
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='models/vehicle_net.onnx')
    parser.add_argument('--checkpoint', default='/tmp/vehicle_net.pt')
    parser.add_argument('--resume', default='')
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    datasets = [np.load(path, allow_pickle=True) for path in args.data]
    net = VehicleNet()
    if args.resume:
        net.load_state_dict(torch.load(args.resume))
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    start = time.time()
    budget = 60.0 * args.minutes
    step = 0
    for x, heat, weight, size, offset, centre in batches(datasets, args.batch, rng):
        done = (time.time() - start) / budget
        if done >= 1.0:
            break
        lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * done)))
        if step < 100:
            lr *= (step + 1) / 100.0
        for group in optimiser.param_groups:
            group['lr'] = lr
        out = net(x)
        l_heat = focal_loss(out[:, 0:1], heat, weight)
        n = centre.sum().clamp(min=1.0)
        l_size = (torch.abs(out[:, 1:3] - size) * centre).sum() / n
        l_off = (torch.abs(out[:, 3:5] - offset) * centre).sum() / n
        loss = l_heat + 0.5 * l_size + l_off
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 50 == 0:
            print(f'step {step} {100 * done:.0f}% lr {lr:.5f} heat {l_heat.item():.3f} '
                  f'size {l_size.item():.3f} offset {l_off.item():.3f}', flush=True)
            torch.save(net.state_dict(), args.checkpoint)
    torch.save(net.state_dict(), args.checkpoint)
    export(net, args.out)


def export(net, path):
    """Write the network as ONNX (batch 1)."""
    net.eval()
    dummy = torch.zeros(1, 3, 288, 512)
    # A fixed export size: OpenCV's importer takes the upsampling scales as constants
    # then, and the network runs at any input whose sides are multiples of 32.
    torch.onnx.export(net, dummy, path, input_names=['image'], output_names=['centres'],
                      opset_version=13, dynamo=False)
    print(f'exported {path}')


if __name__ == '__main__':
    main()
