"""LSTM language-model training step, dlkit vs PyTorch CPU, in one process.

Character-level LM: vocab 64, embedding 32, LSTM 128, sequence 50, batch 32; per-step logits
(a Linear on (m, T, n_a)), cross-entropy over all steps, Adam. float32. One step = forward,
loss, backward, optimizer update. PyTorch runs twice: its fused nn.LSTM, and an nn.LSTMCell
in a Python loop over the 50 steps (what a hand-written recurrent model costs). Medians over
blocks of runs, alternating the frameworks between blocks. Goals: dlkit at most 1.5x nn.LSTM
(issue 17; measured fairly, each library in its own process, by ``run_all.py --only lstm``),
and faster than the LSTMCell loop.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/lstm_lm.py [--threads 1]

``--threads N`` limits both frameworks to N threads (a fair comparison on a shared or small
machine, where idle BLAS threads spinning against each other can dominate small GEMMs).
"""

from __future__ import annotations

import argparse

import numpy as np
from common import alternate, blas_info, import_torch, machine_line

import dlkit as dl
from dlkit import nn

VOCAB, EMBED, HIDDEN, SEQ, BATCH = 64, 32, 128, 50, 32


def batch():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, VOCAB, (BATCH, SEQ + 1))
    return idx[:, :-1], idx[:, 1:]  # inputs and next-token targets


def dlkit_step():
    dl.set_default_dtype("float32")
    dl.manual_seed(0)
    model = nn.Sequential(nn.Embedding(VOCAB, EMBED), nn.LSTM(EMBED, HIDDEN,
                                                                return_sequences=True),
                          nn.Linear(HIDDEN, VOCAB))
    opt = dl.optim.Adam(model.parameters(), lr=1e-3)
    x, y = batch()

    def step():
        opt.zero_grad()
        loss = dl.cross_entropy(model(x), y)  # logits (m, T, vocab), labels (m, T)
        loss.backward()
        opt.step()

    return step


def torch_step(torch, cell_loop: bool):
    torch.manual_seed(0)
    t = torch.nn

    class LM(t.Module):
        def __init__(self):
            super().__init__()
            self.embed = t.Embedding(VOCAB, EMBED)
            self.rnn = t.LSTMCell(EMBED, HIDDEN) if cell_loop else \
                t.LSTM(EMBED, HIDDEN, batch_first=True)
            self.out = t.Linear(HIDDEN, VOCAB)

        def forward(self, idx):
            e = self.embed(idx)
            if not cell_loop:
                return self.out(self.rnn(e)[0])
            h = c = e.new_zeros(e.shape[0], HIDDEN)
            outs = []
            for step in range(e.shape[1]):
                h, c = self.rnn(e[:, step], (h, c))
                outs.append(h)
            return self.out(torch.stack(outs, dim=1))

    model = LM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = (torch.from_numpy(a) for a in batch())

    def step():
        opt.zero_grad()
        loss = t.functional.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0,
                        help="BLAS and torch threads for both frameworks (0: their defaults)")
    args = parser.parse_args()
    torch = import_torch()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    print(machine_line(torch))
    print(f"BLAS: {blas_info()}")
    print(f"workload: LSTM LM, vocab {VOCAB}, embedding {EMBED}, LSTM {HIDDEN}, sequence {SEQ}, "
          f"batch {BATCH}, cross-entropy over all steps, Adam, float32, one training step")
    workloads = {"dlkit": dlkit_step()}
    if torch is not None:
        workloads["torch nn.LSTM"] = torch_step(torch, cell_loop=False)
        workloads["torch LSTMCell loop"] = torch_step(torch, cell_loop=True)
    med = alternate(workloads, args.rounds, args.block)
    for name, sec in med.items():
        print(f"{name:20s} {sec * 1e3:8.3f} ms")
    if torch is not None:
        print(f"ratio dlkit/nn.LSTM        {med['dlkit'] / med['torch nn.LSTM']:.2f}  "
              "(goal <= 1.5)")
        print(f"ratio dlkit/LSTMCell loop  {med['dlkit'] / med['torch LSTMCell loop']:.2f}  "
              "(goal < 1)")


if __name__ == "__main__":
    main()
