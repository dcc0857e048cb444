"""Data parallelism on this machine: MPI allreduce over loopback and the step time of the
residual CNN of conv_step.py at a fixed global batch on 1 and 2 ranks; then the ring
allreduce scaling model's predicted speed-up for the zoo's models (a plot).

(a) Allreduce (float32 sum, in place, mpi4py on the mpich wheel), 2 ranks, 4 KB to 64 MB:
    time per call (median), algorithm bandwidth bytes/t and bus bandwidth 2(N-1)/N bytes/t;
    latency = the time of an 8-byte allreduce.
(b) The residual CNN (conv3x3(32)+BN+ReLU, 2 residual blocks, GAP, fc10; 32x32x3) trained
    with SGD at global batch 32: 1 rank (batch 32) vs 2 ranks (batch 16 each, gradients
    averaged by dlkit.distributed's bucketed allreduce); each rank one BLAS thread. Printed:
    step times, their ratio, and the share of the 2-rank step spent in the allreduce.
(c) With --plot PNG: T(N) = T_compute / N + 2 (N-1)/N * bytes / bandwidth
    + buckets * 2 (N-1) * latency, speed-up T(1) / T(N) at a fixed global batch of 256 for
    LeNet-5, the residual CNN, MobileNet, ResNet-50, AlexNet and VGG-16, on 10 Gbit/s
    (latency 30 us) and 100 Gbit/s (5 us) networks, each worker computing at the rate (b)
    measured for one rank (left) or at an assumed 20 TFLOP/s, an accelerator (right).

    python benchmarks/allreduce.py [--json out.json] [--plot docs/distributed_scaling.png]

The machine may be shared: rerun and compare before trusting a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIZES = [4 * 1024 * 4**k for k in range(8)]     # 4 KB .. 64 MB
GLOBAL_BATCH = 32


# ---- workers (run under mpiexec) -----------------------------------------------------------
def worker_allreduce(out: str) -> None:
    import dlkit as dl
    from dlkit.distributed import allreduce_, barrier

    rows = []
    for nbytes in [8, *SIZES]:
        buf = np.ones(nbytes // 4, np.float32)
        reps = max(5, min(300, int(3e8 / max(nbytes, 1e5))))
        times = []
        for _ in range(reps):
            barrier()
            t = time.perf_counter()
            allreduce_(buf)
            times.append(time.perf_counter() - t)
        rows.append({"bytes": nbytes, "seconds": float(np.median(times)), "reps": reps})
    if dl.distributed.is_main():
        Path(out).write_text(json.dumps(rows))


def worker_step(out: str, steps: int) -> None:
    sys.path.insert(0, str(HERE))
    from conv_step import resnet_dlkit

    import dlkit as dl
    from dlkit.distributed import GradientAverager, barrier, broadcast_parameters, world_size

    world = world_size()
    dl.manual_seed(0)
    model = resnet_dlkit()
    broadcast_parameters(model)
    params = list(model.parameters())
    opt = dl.optim.SGD(params, lr=0.01)
    average = GradientAverager(params)
    rng = np.random.default_rng(dl.distributed.rank())
    x = dl.tensor(rng.standard_normal((GLOBAL_BATCH // world, 32, 32, 3)).astype(np.float32))
    y = rng.integers(0, 10, GLOBAL_BATCH // world)
    step_times, comm_times = [], []
    for i in range(steps + 2):
        barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        dl.cross_entropy(model(x), y).backward()
        t1 = time.perf_counter()
        average()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= 2:   # two warm-up steps
            step_times.append(t3 - t0)
            comm_times.append(t2 - t1)
    if dl.distributed.is_main():
        Path(out).write_text(json.dumps({
            "world": world, "step": float(np.median(step_times)),
            "comm": float(np.median(comm_times)), "gradient_bytes":
                int(sum(p.data.nbytes for p in params)), "buckets": len(average.buckets),
            "parameters": int(sum(p.size for p in params))}))


# ---- driver --------------------------------------------------------------------------------
def run(ranks: int, *args: str) -> dict:
    from dlkit.distributed.launch import find_mpiexec

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        command = [sys.executable, __file__, "--worker", *args, out]
        if ranks > 1:
            command = [find_mpiexec(), "-n", str(ranks), *command]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        subprocess.run(command, check=True, env=env)
        return json.loads(Path(out).read_text())


# forward multiply-adds per example at the model's usual input, and parameters (published
# figures for the ImageNet models; counted for the two small ones)
ZOO = {
    "LeNet-5 (32x32x1)": (0.42e6, 61_706),
    "residual CNN (32x32x3)": (38.6e6, 38_000),
    "MobileNet (224)": (569e6, 4.2e6),
    "ResNet-50 (224)": (4.1e9, 25.6e6),
    "AlexNet (227)": (0.72e9, 61e6),
    "VGG-16 (224)": (15.5e9, 138e6),
}
RESIDUAL_MACS = 38.6e6   # conv1 0.88M + 4 convs of 9.44M multiply-adds per 32x32x3 example


def predicted_time(n: np.ndarray, compute: float, nbytes: float, bandwidth: float,
                   latency: float, buckets: int) -> np.ndarray:
    """T(N) = T_compute / N + 2 (N - 1) / N * bytes / bandwidth + buckets 2 (N - 1) latency."""
    return compute / n + 2 * (n - 1) / n * nbytes / bandwidth + buckets * 2 * (n - 1) * latency


def plot(path: str, flops_per_second: float, batch: int = 256,
         accelerator: float = 20e12) -> None:
    """Two panels: workers computing at the measured dlkit rate (one CPU core), and workers
    at ``accelerator`` FLOP/s (an assumed GPU-class rate), where communication matters."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.array([1, 2, 4, 8, 16, 32, 64, 128])
    networks = (("10 Gbit/s, 30 us", 10e9 / 8, 30e-6, "-"),
                ("100 Gbit/s, 5 us", 100e9 / 8, 5e-6, "--"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    colors = plt.cm.tab10(np.arange(len(ZOO)))
    for ax, rate, what in ((axes[0], flops_per_second, "dlkit on one CPU core (measured)"),
                           (axes[1], accelerator, "an accelerator (assumed)")):
        for (name, (macs, params)), color in zip(ZOO.items(), colors):
            compute = 3 * 2 * macs * batch / rate   # forward + 2x backward
            nbytes = 4 * params
            buckets = max(1, int(np.ceil(nbytes / (25 * 2**20))))
            for _, bw, lat, style in networks:
                t = predicted_time(n, compute, nbytes, bw, lat, buckets)
                ax.plot(n, t[0] / t, style, color=color, marker="o", ms=3,
                        label=name if style == "-" else None)
        ax.plot(n, n, ":", color="gray", label="ideal (N)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("workers N")
        ax.set_title(f"worker: {what}, {rate / 1e9:,.0f} GFLOP/s", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("predicted speed-up T(1) / T(N)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Ring allreduce model, fp32 gradients, global batch {batch} "
                 "(solid: 10 Gbit/s, 30 us; dashed: 100 Gbit/s, 5 us)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", default=None, help="Save the figures here.")
    parser.add_argument("--plot", default=None, help="Write the scaling plot here (PNG).")
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "allreduce":
            worker_allreduce(rest[-1])
        else:
            worker_step(rest[-1], int(rest[0]))
        return
    print(f"machine: {os.cpu_count()} cores (shared with other jobs: figures are noisy)")
    rows = run(2, "allreduce")
    print("(a) allreduce, 2 ranks, loopback")
    print(f"{'bytes':>10} {'time':>10} {'algbw GB/s':>11} {'busbw GB/s':>11}")
    for r in rows:
        alg = r["bytes"] / r["seconds"] / 1e9
        print(f"{r['bytes']:>10} {r['seconds'] * 1e6:>8.1f}us {alg:>11.3f} {alg:>11.3f}")
    # at N = 2 the bus bandwidth 2 (N - 1) / N * bytes / t equals bytes / t
    latency = rows[0]["seconds"]
    big = rows[-1]
    bandwidth = big["bytes"] / big["seconds"]   # 2(N-1)/N = 1 at N = 2
    print(f"latency (8 bytes) {latency * 1e6:.1f} us; bandwidth at 64 MB "
          f"{bandwidth / 1e9:.2f} GB/s")
    one = run(1, "step", str(args.steps))
    two = run(2, "step", str(args.steps))
    print(f"(b) residual CNN, global batch {GLOBAL_BATCH}, {one['parameters']} parameters "
          f"({one['gradient_bytes']} bytes of gradients, {two['buckets']} bucket)")
    print(f"1 rank  step {one['step'] * 1e3:8.1f} ms")
    print(f"2 ranks step {two['step'] * 1e3:8.1f} ms   (allreduce {two['comm'] * 1e3:.2f} ms = "
          f"{100 * two['comm'] / two['step']:.1f}% of the step, waiting for the slower "
          "rank included)")
    print(f"ratio 2 ranks / 1 rank {two['step'] / one['step']:.3f} (ideal 0.5); speed-up "
          f"{one['step'] / two['step']:.2f}")
    rate = 3 * 2 * RESIDUAL_MACS * GLOBAL_BATCH / one["step"]
    print(f"one rank computes {rate / 1e9:.1f} GFLOP/s on the residual CNN")
    result = {"allreduce": rows, "latency_s": latency, "bandwidth_Bps": bandwidth,
              "step_1_rank": one, "step_2_ranks": two, "flops_per_second": rate}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.plot:
        plot(args.plot, rate)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
