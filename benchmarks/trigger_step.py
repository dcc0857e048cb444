"""Training step of the course's trigger-word model, dlkit vs the same model in PyTorch
(CPU), each in its own process, alternated.

Model: Conv1D 196 (kernel 15, stride 4) -> BN -> ReLU -> dropout -> GRU 128 -> dropout ->
BN -> GRU 128 -> dropout -> BN -> dropout -> time-distributed Dense(1); binary
cross-entropy from logits; Adam. Input: batch 8 of 5 s at 16 kHz, the course's spectrogram
(T_x = 998 frames x 101 frequencies, T_y = 246); dropout 0.2; float32. One step = forward,
loss, backward, update. Goal: dlkit at most 2x PyTorch.

    python benchmarks/trigger_step.py [--rounds 3] [--block 3] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from processes import ab_main  # noqa: E402

M, TX, F, FILTERS, UNITS, P = 8, 998, 101, 196, 128, 0.2


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((M, TX, F)).astype(np.float32)
    ty = (TX - 15) // 4 + 1
    y = (rng.random((M, ty, 1)) < 0.1).astype(np.float32)
    return x, y


def dlkit_fn():
    import dlkit as dl
    from dlkit.models.trigger import trigger_word_model

    dl.manual_seed(0)
    model = trigger_word_model(F, FILTERS, 15, 4, UNITS, P)
    opt = dl.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data()

    def step():
        opt.zero_grad()
        loss = dl.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()

    return step


def torch_fn():
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Trigger(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(F, FILTERS, 15, stride=4)
            self.bn0 = nn.BatchNorm1d(FILTERS)
            self.gru1 = nn.GRU(FILTERS, UNITS, batch_first=True)
            self.bn1 = nn.BatchNorm1d(UNITS)
            self.gru2 = nn.GRU(UNITS, UNITS, batch_first=True)
            self.bn2 = nn.BatchNorm1d(UNITS)
            self.drop = nn.Dropout(P)
            self.out = nn.Linear(UNITS, 1)

        def forward(self, x):  # x (m, T, F), channels last as dlkit
            h = self.conv(x.transpose(1, 2))  # (m, C, T')
            h = self.drop(torch.relu(self.bn0(h))).transpose(1, 2)
            h = self.drop(self.gru1(h)[0])
            h = self.bn1(h.transpose(1, 2)).transpose(1, 2)
            h = self.drop(self.gru2(h)[0])
            h = self.drop(self.bn2(h.transpose(1, 2)).transpose(1, 2))
            return self.out(h)

    model = Trigger()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = (torch.from_numpy(a) for a in data())

    def step():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    ab_main(__file__, __doc__, dlkit_fn, torch_fn,
            lambda t: (f"trigger-word model training step, batch {M}, T_x {TX} x {F}, Conv1D "
                       f"{FILTERS}, GRU {UNITS} x 2, Adam, float32, {t} thread(s)"),
            "trigger_step", rounds=3, block=3)


if __name__ == "__main__":
    main()
