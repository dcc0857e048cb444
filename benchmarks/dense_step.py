"""Dense-network training step, dlkit vs PyTorch CPU, in one process.

784-256-256-10, ReLU, softmax cross-entropy from logits, batch 128, one step = forward,
loss, backward, optimizer update; SGD and Adam. float32. Medians over blocks of runs,
alternating the frameworks between blocks.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/dense_step.py
"""

from __future__ import annotations

import argparse

import numpy as np
from common import alternate, blas_info, import_torch, machine_line

import dlkit as dl

SIZES = (784, 256, 256, 10)
BATCH = 128


def dlkit_step(optimizer_name: str):
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(784, 256), dl.nn.ReLU(), dl.nn.Linear(256, 256),
                             dl.nn.ReLU(), dl.nn.Linear(256, 10))
    opt = (dl.optim.SGD(model.parameters(), lr=0.01) if optimizer_name == "sgd"
           else dl.optim.Adam(model.parameters(), lr=1e-3))
    rng = np.random.default_rng(0)
    x = dl.tensor(rng.standard_normal((BATCH, 784)).astype(np.float32))
    y = rng.integers(0, 10, BATCH)

    def step():
        opt.zero_grad()
        loss = dl.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def torch_step(torch, optimizer_name: str):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    opt = (torch.optim.SGD(model.parameters(), lr=0.01) if optimizer_name == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((BATCH, 784)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, BATCH))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=20)
    args = parser.parse_args()
    torch = import_torch()
    print(machine_line(torch))
    print(f"BLAS: {blas_info()}")
    print(f"workload: MLP {'-'.join(map(str, SIZES))}, ReLU, cross-entropy, batch {BATCH}, "
          "float32, one training step")
    for name in ("sgd", "adam"):
        workloads = {"dlkit": dlkit_step(name)}
        if torch is not None:
            workloads["torch"] = torch_step(torch, name)
        med = alternate(workloads, args.rounds, args.block)
        line = f"{name:5s} dlkit {med['dlkit'] * 1e3:7.3f} ms"
        if torch is not None:
            line += (f"   torch {med['torch'] * 1e3:7.3f} ms   ratio dlkit/torch "
                     f"{med['dlkit'] / med['torch']:.2f}")
        print(line)


if __name__ == "__main__":
    main()
