"""Each library in its own process, alternated: a worker times ``block`` calls of one
workload and prints the median; the parent runs the workers in turn for ``rounds`` rounds
and takes the median of their medians (so neither library's threads or caches touch the
other's timings)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def worker_median(fn: Callable[[], None], block: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(block):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_alternating(script: str, names: list[str], rounds: int, block: int,
                    extra: list[str] = ()) -> dict[str, float]:
    samples: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for name in names:
            out = subprocess.run([sys.executable, script, "--worker", name, "--block",
                                  str(block), *extra], capture_output=True, text=True,
                                 check=True).stdout
            samples[name].append(json.loads(out.strip().splitlines()[-1])["seconds"])
    return {n: statistics.median(v) for n, v in samples.items()}


def ab_main(script: str, doc: str, dlkit_fn: Callable[[], Callable[[], None]],
            torch_fn: Callable[[], Callable[[], None]], describe: Callable[[int], str],
            workload: str, goal: str = "<= 2", rounds: int = 5, block: int = 10) -> None:
    """The command line of a dlkit-vs-PyTorch benchmark: ``--worker`` runs one side in this
    process (threads set first); otherwise both sides alternate in their own processes and
    the medians, the ratio and (``--json``) a result file are written."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--worker", choices=["dlkit", "torch"])
    p.add_argument("--rounds", type=int, default=rounds)
    p.add_argument("--block", type=int, default=block)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    if a.worker:
        from threadpoolctl import threadpool_limits

        threadpool_limits(a.threads)
        if a.worker == "torch":
            import torch

            torch.set_num_threads(a.threads)
        fn = dlkit_fn() if a.worker == "dlkit" else torch_fn()
        print(json.dumps({"seconds": worker_median(fn, a.block)}))
        return
    med = run_alternating(script, ["dlkit", "torch"], a.rounds, a.block,
                          ["--threads", str(a.threads)])
    ratio = med["dlkit"] / med["torch"]
    print(describe(a.threads))
    for name, sec in med.items():
        print(f"{name:8s} {sec * 1e3:9.2f} ms")
    print(f"ratio dlkit/torch {ratio:.2f}  (goal {goal})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"workload": workload, "ms": {k: v * 1e3 for k, v in med.items()},
                       "ratio": ratio, "threads": a.threads}, f, indent=2)
