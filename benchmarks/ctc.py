"""CTC loss forward + backward, dlkit vs torch.nn.functional.ctc_loss (CPU), each in its own
process, alternated.

Workload: batch 16, T = 200 steps (input lengths 150-200), 29 classes, targets of 20-40
labels; log-softmax of float32 logits, the loss ("mean"), backward to the logits.
Goal: dlkit at most 2x PyTorch.

    python benchmarks/ctc.py [--rounds 5] [--block 10] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from processes import ab_main  # noqa: E402

M, T, C = 16, 200, 29


def data():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((M, T, C)).astype(np.float32)
    il = rng.integers(150, T + 1, M)
    tl = rng.integers(20, 41, M)
    tg = rng.integers(1, C, (M, 40))
    return z, tg, il, tl


def dlkit_fn():
    import dlkit as dl

    z, tg, il, tl = data()

    def step():
        x = dl.Tensor(z, requires_grad=True)
        loss = dl.ops.ctc_loss(dl.log_softmax(x, axis=-1), tg, il, tl)
        loss.backward()

    return step


def torch_fn():
    import torch

    z, tg, il, tl = data()
    zt, tgt, ilt, tlt = (torch.from_numpy(a) for a in (z, tg, il, tl))

    def step():
        x = zt.clone().requires_grad_(True)
        loss = torch.nn.functional.ctc_loss(torch.log_softmax(x, -1).transpose(0, 1), tgt,
                                            ilt, tlt)
        loss.backward()

    return step


def main() -> None:
    ab_main(__file__, __doc__, dlkit_fn, torch_fn,
            lambda t: (f"CTC forward+backward, batch {M}, T {T}, {C} classes, targets 20-40, "
                       f"float32, {t} thread(s)"),
            "ctc", rounds=5, block=10)


if __name__ == "__main__":
    main()
