"""Shared helpers of the benchmarks: BLAS report, alternating timer, result table."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import numpy as np


def blas_info() -> str:
    """The BLAS libraries NumPy loaded, with their kernel (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl)"
    rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
            f"{i.get('num_threads')} threads)" for i in threadpool_info()
            if i.get("user_api") == "blas"]
    return "; ".join(rows) or "none found"


def machine_line(torch=None) -> str:
    import os
    line = (f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
            f"{platform.python_version()}, numpy {np.__version__}")
    if torch is not None:
        line += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    return line


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def alternate(workloads: dict[str, Callable[[], None]], rounds: int = 10,
              block: int = 20) -> dict[str, float]:
    """Median seconds per call of each workload, alternating between them in blocks.

    Each round runs every workload ``block`` times in a row (the first two calls of a block
    untimed), so one framework's idle worker threads do not steal the cores from the other's
    calls, while slow drifts of the machine reach all workloads alike.
    """
    samples: dict[str, list[float]] = {k: [] for k in workloads}
    for _ in range(rounds):
        for name, fn in workloads.items():
            fn()
            fn()
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}
