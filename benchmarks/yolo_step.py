"""One YOLO training step, dlkit vs the same network and loss in PyTorch CPU (float32; dlkit
channels-last, PyTorch channels-first): YOLOSmall (3 stages conv3x3-BN-leaky-pool, 16/32/64
filters, a 3x3 head of 64 and a 1x1 conv to 3 x (5 + 3)) on 64x64x3 images, batch 32, with the
YOLOv2-form loss and an Adam step. Alternated in one process; medians and the ratio printed.

    python benchmarks/yolo_step.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import alternate, import_torch, machine_line

import dlkit as dl
from dlkit.models import YOLOSmall
from dlkit.vision.shapes import make_shapes
from dlkit.vision.yolo import YoloLoss, boxes_hw, encode_targets, kmeans_anchors


def torch_model(torch, widths=(16, 32, 64), head=64, out=24):
    t = torch.nn
    layers, c = [], 3
    for w in widths:
        layers += [t.Conv2d(c, w, 3, padding=1, bias=False), t.BatchNorm2d(w),
                   t.LeakyReLU(0.1), t.MaxPool2d(2)]
        c = w
    layers += [t.Conv2d(c, head, 3, padding=1, bias=False), t.BatchNorm2d(head),
               t.LeakyReLU(0.1), t.Conv2d(head, out, 1)]
    return t.Sequential(*layers)


def torch_loss(torch, pred, y, anchors, lc=5.0, ln=0.5):
    """The same loss as dlkit.vision.yolo.YoloLoss, in PyTorch."""
    F = torch.nn.functional
    obj = y[..., 0]
    conf = F.binary_cross_entropy_with_logits(pred[..., 0], obj, reduction="none")
    safe = torch.where(obj[..., None] > 0, y[..., 3:5], anchors)
    t_hw = torch.log(safe / anchors) * obj[..., None]
    l_xy = ((torch.sigmoid(pred[..., 1:3]) - y[..., 1:3]) ** 2 * obj[..., None]).sum()
    l_hw = ((pred[..., 3:5] - t_hw) ** 2 * obj[..., None]).sum()
    logp = F.log_softmax(pred[..., 5:], -1)
    l_cls = (-(logp * y[..., 5:]).sum(-1) * obj).sum()
    return (lc * (l_xy + l_hw) + (conf * obj).sum() + ln * (conf * (1 - obj)).sum()
            + l_cls) / pred.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    torch = import_torch()
    if torch is not None and args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    dl.manual_seed(0)
    data = make_shapes(args.batch, 64, seed=0)
    anchors = kmeans_anchors(boxes_hw(data.boxes, (64, 64)), 3, seed=0)
    y = encode_targets(data.boxes, data.labels, (64, 64), 8, anchors, 3)
    model = YOLOSmall(3, 3, 3, (16, 32, 64), 64)
    loss_fn = YoloLoss(anchors)
    opt = dl.optim.Adam(model.parameters(), lr=1e-3)
    x = dl.tensor(data.images)

    def dlkit_step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    workloads = {"dlkit": dlkit_step}
    print(machine_line(torch))
    if torch is not None:
        tm = torch_model(torch)
        topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        tx = torch.tensor(data.images.transpose(0, 3, 1, 2).copy())
        ty = torch.tensor(y)
        ta = torch.tensor(anchors, dtype=torch.float32)

        def torch_step():
            out = tm(tx).permute(0, 2, 3, 1).reshape(y.shape)
            loss = torch_loss(torch, out, ty, ta)
            topt.zero_grad()
            loss.backward()
            topt.step()

        workloads["torch"] = torch_step
    t = alternate(workloads, rounds=args.rounds, block=5)
    print(f"YOLOSmall training step, batch {args.batch} of 64x64x3:")
    for name, seconds in t.items():
        print(f"  {name:6s} {seconds * 1e3:8.1f} ms")
    result = {"batch": args.batch, "dlkit_ms": t["dlkit"] * 1e3}
    if torch is not None:
        ratio = t["dlkit"] / t["torch"]
        print(f"  ratio dlkit / PyTorch: {ratio:.2f} (goal <= 1.5)")
        result.update(torch_ms=t["torch"] * 1e3, ratio=ratio)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
