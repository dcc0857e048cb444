"""Transformer encoder training step, dlkit vs PyTorch CPU, each library in its own process;
and tokens per second of cached generation.

Step: a stack of 2 post-norm encoder layers (d_model 128, 4 heads, feed-forward 512, ReLU,
dropout 0.1), batch 32 of sequences of 64, float32, a padding mask (the last 8 positions of
half the sequences), MSE to a fixed target, Adam; one step = forward, loss, backward,
update. dlkit and PyTorch each run in a child process of their own (no thread pools or
allocators shared), alternated ``--repeats`` times; each child reports the median of its
timed calls, and the table gives the median over the repeats. Goal: dlkit at most 1.5x.

Generation: a TransformerLM (vocab 64, d_model 128, 4 heads, 2 layers) greedily extends 32
prompts by 64 tokens, with the key/value cache (one position per new token) and without it
(the whole prefix re-read at every step).

    python benchmarks/transformer_step.py [--threads 1] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

D, HEADS, LAYERS, FF, SEQ, BATCH = 128, 4, 2, 512, 64, 32
GEN_VOCAB, GEN_BATCH, GEN_TOKENS = 64, 32, 64


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SEQ, D)).astype(np.float32)
    target = rng.standard_normal((BATCH, SEQ, D)).astype(np.float32)
    keep = np.ones((BATCH, SEQ), bool)
    keep[::2, -8:] = False
    return x, target, keep


def dlkit_step():
    import dlkit as dl
    dl.manual_seed(0)
    model = dl.nn.TransformerEncoder(LAYERS, D, HEADS, FF, dropout=0.1)
    opt = dl.optim.Adam(model.parameters(), lr=1e-4)
    x, target, keep = data()
    mask = keep[:, None, :]

    def step():
        opt.zero_grad()
        loss = dl.ops.mse_loss(model(x, mask), target)
        loss.backward()
        opt.step()
    return step


def torch_step():
    import torch
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.1, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x, target, keep = (torch.from_numpy(a) for a in data())
    pad = ~keep

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x, src_key_padding_mask=pad), target)
        loss.backward()
        opt.step()
    return step


def timed(fn, rounds: int) -> float:
    fn()
    fn()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def generation() -> dict[str, float]:
    import dlkit as dl
    from dlkit.models.transformer_lm import TransformerLM
    dl.manual_seed(0)
    model = TransformerLM(GEN_VOCAB, D, HEADS, LAYERS, FF, max_len=256).eval()
    start = np.random.default_rng(0).integers(3, GEN_VOCAB, GEN_BATCH)

    def cached():
        state, tokens = model.initial_state(GEN_BATCH), start
        for _ in range(GEN_TOKENS):
            log_probs, state = model.step(tokens, state)
            tokens = log_probs.argmax(-1)

    def uncached():
        prefix = start[:, None]
        for _ in range(GEN_TOKENS):
            tokens = model.next_token_probabilities(prefix).argmax(-1)
            prefix = np.concatenate([prefix, tokens[:, None]], 1)
    n = GEN_BATCH * GEN_TOKENS
    return {"cached_tokens_per_s": n / timed(cached, 3),
            "uncached_tokens_per_s": n / timed(uncached, 3)}


def child(which: str, rounds: int, threads: int | None) -> None:
    if which == "torch":
        import torch
        if threads:
            torch.set_num_threads(threads)
        print(json.dumps({"seconds": timed(torch_step(), rounds), "torch": torch.__version__,
                          "threads": torch.get_num_threads()}))
    elif which == "dlkit":
        print(json.dumps({"seconds": timed(dlkit_step(), rounds)}))
    else:
        print(json.dumps(generation()))


def run_child(which: str, args) -> dict:
    env = dict(os.environ)
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--child", which, "--rounds", str(args.rounds)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per process")
    parser.add_argument("--repeats", type=int, default=3, help="processes per library")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds, args.threads)
        return
    libs = ["dlkit"] + ([] if args.no_torch else ["torch"])
    seconds: dict[str, list[float]] = {k: [] for k in libs}
    info: dict = {}
    for _ in range(args.repeats):
        for lib in libs:
            r = run_child(lib, args)
            seconds[lib].append(r["seconds"])
            info.update({k: v for k, v in r.items() if k != "seconds"})
    med = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"machine: {os.cpu_count()} cores, numpy {np.__version__}, threads "
          f"{args.threads or 'default'}" + (f", torch {info['torch']}" if "torch" in info
                                             else ""))
    print(f"workload: encoder {LAYERS} layers, d_model {D}, {HEADS} heads, ff {FF}, seq {SEQ}, "
          f"batch {BATCH}, padding mask, Adam; one training step, float32")
    line = f"dlkit {med['dlkit'] * 1e3:8.2f} ms"
    results: dict = {"workload": {"layers": LAYERS, "d_model": D, "heads": HEADS, "ff": FF,
                                  "seq": SEQ, "batch": BATCH},
                     "threads": args.threads, "dlkit_ms": med["dlkit"] * 1e3}
    if "torch" in med:
        ratio = med["dlkit"] / med["torch"]
        line += f"   torch {med['torch'] * 1e3:8.2f} ms   ratio dlkit/torch {ratio:.2f}"
        results.update(torch_ms=med["torch"] * 1e3, ratio=ratio)
    print(line)
    gen = run_child("generation", args)
    print(f"generation (TransformerLM d {D}, {LAYERS} layers, {GEN_BATCH} prompts x "
          f"{GEN_TOKENS} tokens): cached {gen['cached_tokens_per_s']:.0f} tokens/s, without "
          f"the cache {gen['uncached_tokens_per_s']:.0f} tokens/s "
          f"({gen['cached_tokens_per_s'] / gen['uncached_tokens_per_s']:.1f}x)")
    results["generation"] = gen
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
