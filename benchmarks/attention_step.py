"""Attention seq2seq training step, dlkit vs PyTorch CPU (each in its own process, alternated),
and dlkit's decoding throughput (greedy and beam search B = 5) in sequences per second.

The model of ``dlkit translate train`` (the date task): source vocabulary 44, embedding 16,
bidirectional LSTM encoder 32 + 32, bridge tanh(Linear) to the decoder's first state, additive
(Bahdanau) attention with 32 hidden units, LSTM decoder 64 reading [embedding of y<t-1>,
context], Linear to 14 output tokens; T_x = 30, T_y = 11, batch 100; cross-entropy with
ignore_index, global-norm clipping at 5, Adam. float32. One step = forward, loss, backward,
clipping, update. PyTorch runs the same computation (nn.LSTM for the encoder, an LSTMCell loop
for the decoder, as any attention decoder must). Goal: dlkit at most 2x PyTorch.

    python benchmarks/attention_step.py [--rounds 5] [--steps 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SRC_V, TGT_V, EMBED, N_A, N_S, HIDDEN, TX, TY, BATCH = 44, 14, 16, 32, 64, 32, 30, 11, 100


def batch():
    rng = np.random.default_rng(0)
    X = rng.integers(3, SRC_V, (BATCH, TX))
    Y = rng.integers(3, TGT_V, (BATCH, TY))
    Y_in = np.concatenate([np.full((BATCH, 1), 2), Y[:, :-1]], axis=1)
    return X, Y_in, Y


def dlkit_worker(steps: int) -> dict:
    import dlkit as dl
    from dlkit.text.dates import date_pairs, human_vocab, machine_vocab
    from dlkit.text.seq2seq import Seq2Seq, Seq2SeqStep, Translator

    dl.manual_seed(0)
    model = Seq2Seq(SRC_V, TGT_V, EMBED, N_A, N_S, "lstm", True, "additive", HIDDEN)
    opt = dl.optim.Adam(model.parameters(), lr=1e-3)
    X, Y_in, Y_out = batch()
    step_fn = Seq2SeqStep()

    def step():
        opt.zero_grad()
        step_fn(model, (X, Y_in, Y_out)).loss.backward()
        dl.optim.clip_grad_norm(opt.params, 5.0)
        opt.step()

    train = _time(step, steps)
    hv, mv = human_vocab(), machine_vocab()
    tr = Translator(Seq2Seq(len(hv), len(mv), EMBED, N_A, N_S, "lstm", True, "additive",
                            HIDDEN), hv, mv, TX, TY)
    texts = [h for h, _ in date_pairs(500, seed=1)]
    decode = {}
    for name, b in (("greedy", 1), ("beam5", 5)):
        tr.translate(texts[:50], b)
        t0 = time.perf_counter()
        tr.translate(texts, b)
        decode[name] = len(texts) / (time.perf_counter() - t0)
    return {"step": train, "decode": decode}


def torch_worker(steps: int) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.src = nn.Embedding(SRC_V, EMBED)
            self.enc = nn.LSTM(EMBED, N_A, batch_first=True, bidirectional=True)
            self.bridge = nn.Linear(2 * N_A, N_S)
            self.tgt = nn.Embedding(TGT_V, EMBED)
            self.W_a = nn.Linear(2 * N_A, HIDDEN)
            self.W_s = nn.Linear(N_S, HIDDEN, bias=False)
            self.v = nn.Linear(HIDDEN, 1, bias=False)
            self.cell = nn.LSTMCell(EMBED + 2 * N_A, N_S)
            self.out = nn.Linear(N_S, TGT_V)

        def forward(self, x, y_in):
            a, _ = self.enc(self.src(x))
            summary = torch.cat([a[:, -1, :N_A], a[:, 0, N_A:]], dim=-1)
            s = torch.tanh(self.bridge(summary))
            c = torch.zeros_like(s)
            keys = self.W_a(a)
            e = self.tgt(y_in)
            outs = []
            for t in range(y_in.shape[1]):
                score = self.v(torch.tanh(keys + self.W_s(s)[:, None])).squeeze(-1)
                alpha = torch.softmax(score, dim=1)
                context = torch.bmm(alpha[:, None], a)[:, 0]
                s, c = self.cell(torch.cat([e[:, t], context], dim=-1), (s, c))
                outs.append(s)
            return self.out(torch.stack(outs, dim=1))

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, Y_in, Y_out = (torch.from_numpy(a) for a in batch())

    def step():
        opt.zero_grad()
        logits = model(X, Y_in)
        loss = nn.functional.cross_entropy(logits.reshape(-1, TGT_V), Y_out.reshape(-1),
                                           ignore_index=0)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    return {"step": _time(step, steps), "threads": torch.get_num_threads(),
            "version": torch.__version__}


def _time(fn, steps: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _limit(threads: int) -> None:
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--worker", choices=["dlkit", "torch"], default=None)
    parser.add_argument("--out", default=None, help="Write the results as JSON here.")
    args = parser.parse_args()
    if args.worker:
        _limit(args.threads)
        fn = dlkit_worker if args.worker == "dlkit" else torch_worker
        print(json.dumps(fn(args.steps)))
        return
    here = Path(__file__)
    results: dict[str, list] = {"dlkit": [], "torch": []}
    for _ in range(args.rounds):
        for name in results:
            cmd = [sys.executable, str(here), "--worker", name, "--steps", str(args.steps),
                   "--threads", str(args.threads)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                if name == "torch" and "No module named 'torch'" in p.stderr:
                    continue
                raise SystemExit(p.stderr)
            results[name].append(json.loads(p.stdout.strip().splitlines()[-1]))
    d = statistics.median(r["step"] for r in results["dlkit"])
    print(f"workload: attention seq2seq (date task), T_x {TX}, T_y {TY}, batch {BATCH}, "
          f"float32, one training step; {args.rounds} rounds x {args.steps} steps, own "
          f"processes, alternated; threads {args.threads or 'default'}")
    print(f"dlkit              {d * 1e3:8.2f} ms/step")
    summary = {"dlkit_step_s": d}
    if results["torch"]:
        t = statistics.median(r["step"] for r in results["torch"])
        print(f"torch {results['torch'][0]['version']:12s} {t * 1e3:8.2f} ms/step")
        print(f"ratio dlkit/torch  {d / t:.2f}  (goal <= 2)")
        summary.update(torch_step_s=t, ratio=d / t)
    for name in ("greedy", "beam5"):
        v = statistics.median(r["decode"][name] for r in results["dlkit"])
        print(f"dlkit decoding {name:7s} {v:8.0f} sequences/s (500 dates, batch 256)")
        summary[f"{name}_seq_per_s"] = v
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
