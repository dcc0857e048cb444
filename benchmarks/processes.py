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
