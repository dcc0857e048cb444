"""Autograd overhead per op: record + backward on tiny tensors, dlkit vs PyTorch CPU.

Each workload is a chain of N small elementwise ops on a (4, 4) tensor, then backward; the
array work is negligible, so the time per op is the framework's bookkeeping. Both frameworks
run in this process, alternated, and the medians and the ratio dlkit / PyTorch are printed.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/autograd_overhead.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from common import blas_info, import_torch, machine_line

import dlkit as dl

N_OPS = 200


def chain(lib, x, n_ops):
    """n_ops ops in rotation: add, mul, tanh, sub, sigmoid (each recorded on the tape)."""
    y = x
    for _ in range(n_ops // 5):
        y = y + 1.0
        y = y * 0.5
        y = lib.tanh(y)
        y = y - 0.25
        y = lib.sigmoid(y)
    return y.sum()


def time_dlkit(n_ops: int) -> tuple[float, float]:
    x = dl.tensor(np.ones((4, 4), np.float32), requires_grad=True)
    t0 = time.perf_counter()
    out = chain(dl, x, n_ops)
    t1 = time.perf_counter()
    out.backward()
    t2 = time.perf_counter()
    return (t1 - t0) / n_ops, (t2 - t1) / n_ops


def time_torch(torch, n_ops: int) -> tuple[float, float]:
    x = torch.ones((4, 4), dtype=torch.float32, requires_grad=True)
    t0 = time.perf_counter()
    out = chain(torch, x, n_ops)
    t1 = time.perf_counter()
    out.backward()
    t2 = time.perf_counter()
    return (t1 - t0) / n_ops, (t2 - t1) / n_ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    torch = import_torch()
    if torch is not None:
        torch.set_num_threads(1)
    print(machine_line(torch))
    print(f"BLAS: {blas_info()}")
    results = {"dlkit": [], "torch": []}
    for _ in range(20):  # warm-up
        time_dlkit(N_OPS)
        if torch:
            time_torch(torch, N_OPS)
    for _ in range(args.repeats):
        results["dlkit"].append(time_dlkit(N_OPS))
        if torch:
            results["torch"].append(time_torch(torch, N_OPS))
    rows = {}
    for name, samples in results.items():
        if samples:
            fwd = statistics.median(s[0] for s in samples) * 1e6
            bwd = statistics.median(s[1] for s in samples) * 1e6
            rows[name] = (fwd, bwd)
            print(f"{name:6s} per op: record {fwd:5.2f} us, backward {bwd:5.2f} us, "
                  f"total {fwd + bwd:5.2f} us")
    if "torch" in rows:
        d, t = rows["dlkit"], rows["torch"]
        print(f"ratio dlkit/torch: record {d[0] / t[0]:.2f}, backward {d[1] / t[1]:.2f}, "
              f"total {(d[0] + d[1]) / (t[0] + t[1]):.2f}")


if __name__ == "__main__":
    main()
