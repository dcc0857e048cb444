"""Convolutional networks, dlkit vs PyTorch CPU, in one process (float32, channels-last in
dlkit, channels-first in PyTorch as each framework prefers):

(a) LeNet-5 (ReLU, max pooling) on 1x28x28, batch 64: one training step (SGD).
(b) conv3x3(32)+BN+ReLU, 2 residual blocks (conv-BN-ReLU-conv-BN + skip, ReLU), global
    average pool, fc10 on 32x32x3, batch 32: one training step (SGD).
(c) inference (eval mode, no tape) of (b): latency at batch 1, throughput at batch 256.

Also prints the achieved GFLOP/s (multiply-adds x 2, forward + 2x backward for a training
step) against this machine's measured float32 GEMM peak (NumPy, 1024^3).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv_step.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import alternate, blas_info, import_torch, machine_line

import dlkit as dl
from dlkit import nn


def lenet_dlkit():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def lenet_torch(torch):
    t = torch.nn
    return t.Sequential(t.Conv2d(1, 6, 5, padding=2), t.ReLU(), t.MaxPool2d(2),
                        t.Conv2d(6, 16, 5), t.ReLU(), t.MaxPool2d(2), t.Flatten(),
                        t.Linear(400, 120), t.ReLU(), t.Linear(120, 84), t.ReLU(),
                        t.Linear(84, 10))


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU(), nn.Conv2d(c, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c))

    def forward(self, x):
        return dl.relu(self.body(x) + x)


def resnet_dlkit():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                         nn.ReLU(), ResBlock(32), ResBlock(32), nn.GlobalAvgPool2d(),
                         nn.Linear(32, 10))


def resnet_torch(torch):
    t = torch.nn

    class Block(t.Module):
        def __init__(self, c):
            super().__init__()
            self.body = t.Sequential(t.Conv2d(c, c, 3, padding=1, bias=False),
                                     t.BatchNorm2d(c), t.ReLU(),
                                     t.Conv2d(c, c, 3, padding=1, bias=False), t.BatchNorm2d(c))

        def forward(self, x):
            return torch.relu(self.body(x) + x)

    return t.Sequential(t.Conv2d(3, 32, 3, padding=1, bias=False), t.BatchNorm2d(32), t.ReLU(),
                        Block(32), Block(32), t.AdaptiveAvgPool2d(1), t.Flatten(),
                        t.Linear(32, 10))


def train_step_dlkit(model, x, y):
    opt = dl.optim.SGD(model.parameters(), lr=0.01)
    xt = dl.tensor(x)

    def step():
        opt.zero_grad()
        dl.cross_entropy(model(xt), y).backward()
        opt.step()

    return step


def train_step_torch(torch, model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()

    return step


def infer_dlkit(model, x):
    model.eval()
    xt = dl.tensor(x)

    def run():
        with dl.no_grad():
            model(xt)

    return run


def infer_torch(torch, model, x):
    model.eval()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    def run():
        with torch.no_grad():
            model(xt)

    return run


def conv_flops(batch, layers):
    """2 * multiply-adds of the convolution and dense layers: (n_out_positions, k, c_in, c_out)."""
    return 2 * batch * sum(pos * k * k * cin * cout for pos, k, cin, cout in layers)


LENET_LAYERS = [(28 * 28, 5, 1, 6), (10 * 10, 5, 6, 16), (1, 1, 400, 120), (1, 1, 120, 84),
                (1, 1, 84, 10)]
RESNET_LAYERS = [(32 * 32, 3, 3, 32)] + [(32 * 32, 3, 32, 32)] * 4 + [(1, 1, 32, 10)]


def gemm_peak() -> float:
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * 1024**3 / best / 1e9


def report(name, med, flops=None, peak=None, unit="ms", scale=1e3):
    line = f"{name:34s} dlkit {med['dlkit'] * scale:8.2f} {unit}"
    if "torch" in med:
        line += (f"   torch {med['torch'] * scale:8.2f} {unit}   ratio dlkit/torch "
                 f"{med['dlkit'] / med['torch']:.2f}")
    if flops:
        gf = flops / med["dlkit"] / 1e9
        line += f"   dlkit {gf:5.1f} GFLOP/s ({100 * gf / peak:.0f}% of peak)"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--block", type=int, default=10)
    args = parser.parse_args()
    torch = import_torch()
    print(machine_line(torch))
    print(f"BLAS: {blas_info()}")
    peak = gemm_peak()
    print(f"float32 GEMM peak (NumPy, 1024^3): {peak:.0f} GFLOP/s")
    rng = np.random.default_rng(0)
    cases = []
    x = rng.standard_normal((64, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    dl.manual_seed(0)
    work = {"dlkit": train_step_dlkit(lenet_dlkit(), x, y)}
    if torch:
        work["torch"] = train_step_torch(torch, lenet_torch(torch), x, y)
    cases.append(("(a) LeNet-5 train step, batch 64", work, 3 * conv_flops(64, LENET_LAYERS)))
    x = rng.standard_normal((32, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    work = {"dlkit": train_step_dlkit(resnet_dlkit(), x, y)}
    if torch:
        work["torch"] = train_step_torch(torch, resnet_torch(torch), x, y)
    cases.append(("(b) residual net train step, b 32", work, 3 * conv_flops(32, RESNET_LAYERS)))
    for batch in (1, 256):
        x = rng.standard_normal((batch, 32, 32, 3)).astype(np.float32)
        work = {"dlkit": infer_dlkit(resnet_dlkit(), x)}
        if torch:
            work["torch"] = infer_torch(torch, resnet_torch(torch), x)
        cases.append((f"(c) residual net inference, b {batch}", work,
                      conv_flops(batch, RESNET_LAYERS)))
    for name, work, flops in cases:
        med = alternate(work, args.rounds, args.block)
        report(name, med, flops, peak)
        if name.endswith("b 256"):
            print(f"{'':34s} throughput: dlkit {256 / med['dlkit']:.0f} images/s" +
                  (f", torch {256 / med['torch']:.0f} images/s" if "torch" in med else ""))


if __name__ == "__main__":
    main()
