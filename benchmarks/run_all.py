"""The README's performance table from one command: each library in its own process.

Every workload runs as a child process of this script (``--worker NAME --side dlkit|torch``)
that imports only the library it times (the dlkit side never imports PyTorch, so no OpenMP
pool lives next to OpenBLAS's), with OMP/OPENBLAS/MKL_NUM_THREADS set before the import and
``torch.set_num_threads`` in the torch child. The parent alternates the two sides for
``--rounds`` rounds (the side that goes first swaps each round), with 1 and with 2 threads.
Each child times ``--block`` calls after two warm-up calls and prints its samples as JSON,
with the BLAS kernel OpenBLAS picked (threadpoolctl). Per side the minimum and the median over
all samples of all rounds are reported, and the ratio dlkit / PyTorch of the minima.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src python benchmarks/run_all.py

Writes ``benchmarks/results.json`` (``--out``) and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

# name -> (row label in the table, goal for dlkit / PyTorch, unit of one sample)
WORKLOADS: dict[str, tuple[str, str, str]] = {
    "autograd": ("autograd overhead per op (200 tiny elementwise ops, record + backward)",
                 "<= 1.0", "us/op"),
    "mlp": ("MLP 784-256-256-10, batch 128, SGD step", "<= 1.0", "ms"),
    "lenet": ("LeNet-5, 1x28x28, batch 64, SGD step", "<= 1.3", "ms"),
    "resnet": ("conv3x3(32) + 2 residual blocks + GAP + fc10, 32x32x3, batch 32, SGD step",
               "<= 1.3", "ms"),
    "resnet_b1": ("same net, inference latency, batch 1", "<= 1.5", "ms"),
    "lstm": ("LSTM LM (V 64, E 32, H 128, T 50, B 32), Adam, vs `nn.LSTM`", "<= 1.5", "ms"),
}
SIDES = ("dlkit", "torch")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
UNIT_SCALE = {"ms": 1e3, "us/op": 1e6}


# ---------------------------------------------------------------------------------------------
# child side: build one workload of one library and time it
# ---------------------------------------------------------------------------------------------

def _autograd(side: str) -> Callable[[], float]:
    """A callable that runs the chain once and returns seconds per op (record + backward)."""
    import autograd_overhead as ao

    if side == "dlkit":
        return lambda: sum(ao.time_dlkit(ao.N_OPS))
    import torch

    return lambda: sum(ao.time_torch(torch, ao.N_OPS))


def build(name: str, side: str) -> Callable[[], None]:
    """The step function of workload ``name`` for ``side`` (imports only that library)."""
    import numpy as np

    if name == "mlp":
        import dense_step as m

        if side == "dlkit":
            return m.dlkit_step("sgd")
        import torch

        return m.torch_step(torch, "sgd")
    if name == "lstm":
        import lstm_lm as m

        if side == "dlkit":
            return m.dlkit_step()
        import torch

        return m.torch_step(torch, cell_loop=False)
    import conv_step as m  # lenet, resnet, resnet_b1

    rng = np.random.default_rng(0)
    torch = None
    if side == "torch":
        import torch
    else:
        import dlkit as dl

        dl.manual_seed(0)
    if name == "lenet":
        x = rng.standard_normal((64, 28, 28, 1)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        return (m.train_step_dlkit(m.lenet_dlkit(), x, y) if side == "dlkit"
                else m.train_step_torch(torch, m.lenet_torch(torch), x, y))
    if name == "resnet":
        x = rng.standard_normal((32, 32, 32, 3)).astype(np.float32)
        y = rng.integers(0, 10, 32)
        return (m.train_step_dlkit(m.resnet_dlkit(), x, y) if side == "dlkit"
                else m.train_step_torch(torch, m.resnet_torch(torch), x, y))
    if name == "resnet_b1":
        x = rng.standard_normal((1, 32, 32, 3)).astype(np.float32)
        return (m.infer_dlkit(m.resnet_dlkit(), x) if side == "dlkit"
                else m.infer_torch(torch, m.resnet_torch(torch), x))
    raise ValueError(f"run_all: unknown workload {name!r}; expected one of {list(WORKLOADS)}")


def time_block(fn: Callable[[], None], block: int, warmup: int = 2) -> list[float]:
    """Seconds of each of ``block`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(block):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def worker(name: str, side: str, threads: int, block: int) -> dict:
    """Run in the child: time the workload and describe the process's BLAS and threads."""
    from common import blas_info

    if side == "torch":
        import torch

        torch.set_num_threads(threads)
    if name == "autograd":
        per_op = _autograd(side)
        for _ in range(20):  # warm-up
            per_op()
        samples = [per_op() for _ in range(block * 10)]  # each call is short: more of them
    else:
        samples = time_block(build(name, side), block)
    info = {"workload": name, "side": side, "threads": threads, "samples": samples,
            "blas": blas_info()}
    if side == "torch":
        import torch

        info["torch_threads"] = torch.get_num_threads()
    return info


# ---------------------------------------------------------------------------------------------
# parent side: run the children, collect, summarize, print
# ---------------------------------------------------------------------------------------------

def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


def parse_child_output(stdout: str) -> dict:
    """The JSON record a child printed on its last non-empty line of stdout."""
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("run_all: a worker printed nothing; expected one JSON line")
    return json.loads(lines[-1])


def run_child(name: str, side: str, threads: int, block: int, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--side", side,
           "--threads", str(threads), "--block", str(block)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(threads),
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"run_all: worker {name}/{side}/{threads} failed:\n{proc.stderr}")
    return parse_child_output(proc.stdout)


def summarize(records: list[dict]) -> dict:
    """Per workload and thread count: per side min, median, samples count; ratio of minima.

    ``records`` are child outputs (``workload``, ``side``, ``threads``, ``samples`` in seconds).
    """
    grouped: dict[tuple[str, int], dict[str, list[float]]] = {}
    for rec in records:
        key = (rec["workload"], int(rec["threads"]))
        grouped.setdefault(key, {}).setdefault(rec["side"], []).extend(rec["samples"])
    out: dict = {}
    for (name, threads), sides in grouped.items():
        entry = {side: {"min_s": min(s), "median_s": statistics.median(s), "n": len(s)}
                 for side, s in sides.items()}
        if "dlkit" in entry and "torch" in entry:
            entry["ratio_min"] = entry["dlkit"]["min_s"] / entry["torch"]["min_s"]
            entry["ratio_median"] = entry["dlkit"]["median_s"] / entry["torch"]["median_s"]
        out.setdefault(name, {})[str(threads)] = entry
    return out


def _fmt(seconds: float, unit: str) -> str:
    v = seconds * UNIT_SCALE[unit]
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def markdown_table(figures: dict, threads: list[int]) -> str:
    """The README's table: one row per workload, per thread count dlkit and PyTorch minimum
    (median) and the ratio of the minima, then the goal."""
    head = ["benchmark"]
    for t in threads:
        th = f"{t} thread{'s' if t > 1 else ''}"
        head += [f"dlkit, {th}", f"PyTorch, {th}", f"ratio, {th}"]
    head.append("goal")
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, (label, goal, unit) in WORKLOADS.items():
        if name not in figures:
            continue
        cells = [label]
        for t in threads:
            e = figures[name].get(str(t), {})
            for side in SIDES:
                s = e.get(side)
                cells.append(f"{_fmt(s['min_s'], unit)} ({_fmt(s['median_s'], unit)}) {unit}"
                             if s else "-")
            cells.append(f"**{e['ratio_min']:.2f}**" if "ratio_min" in e else "-")
        cells.append(goal)
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def machine_description() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "arch": platform.machine(), "cores": os.cpu_count(),
            "system": f"{platform.system()} {platform.release()}",
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def versions() -> dict:
    import numpy as np

    out = {"python": platform.python_version(), "numpy": np.__version__}
    try:  # the version only, read from the package metadata: no torch import in the parent
        from importlib.metadata import version

        out["torch"] = version("torch")
    except Exception:  # noqa: BLE001 - PyTorch missing: the dlkit side still runs
        out["torch"] = None
    return out


def source_revision() -> str | None:
    """The git commit of the measured code, with "+changes" when the tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                "--", "../src", "."], cwd=HERE, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout (an unpacked release): nothing to record
    return commit + ("+changes" if dirty else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="processes per side, alternated")
    parser.add_argument("--block", type=int, default=10, help="timed calls per process")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--only", default="", help="comma-separated workloads (default all)")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--timeout", type=float, default=300, help="seconds per process")
    parser.add_argument("--table-from", metavar="JSON",
                        help="print the table of an earlier results file, measure nothing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.side, int(args.threads), args.block)))
        return
    if args.table_from:
        print_report(json.loads(Path(args.table_from).read_text()))
        return
    names = [n for n in args.only.split(",") if n] or list(WORKLOADS)
    unknown = set(names) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s) {sorted(unknown)}; expected from {list(WORKLOADS)}")
    threads = [int(t) for t in args.threads.split(",")]
    records, kernels = [], set()
    t_start = time.perf_counter()
    for t in threads:
        for r in range(args.rounds):
            for name in names:
                order = SIDES if r % 2 == 0 else SIDES[::-1]
                for side in order:
                    rec = run_child(name, side, t, args.block, args.timeout)
                    records.append(rec)
                    kernels.add(rec["blas"])
                    med = statistics.median(rec["samples"]) * UNIT_SCALE[WORKLOADS[name][2]]
                    print(f"threads {t} round {r + 1} {name:9s} {side:5s} median "
                          f"{med:8.3f} {WORKLOADS[name][2]}   BLAS: {rec['blas']}", flush=True)
    figures = summarize(records)
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": machine_description(), "versions": versions(),
              "source": source_revision(),
              "blas": sorted(kernels), "rounds": args.rounds, "block": args.block,
              "threads": threads, "seconds_total": round(time.perf_counter() - t_start, 1),
              "env_overrides": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE",
                                                           "OPENBLAS_L2_SIZE")
                                if k in os.environ},
              "figures": figures}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print()
    print_report(result)
    print(f"\nwrote {args.out} ({result['seconds_total']} s)")


def print_report(result: dict) -> None:
    """The header lines and the Markdown table of a results dict (as written to JSON)."""
    machine, ver = result["machine"], result["versions"]
    print(f"{result['date']}, {machine['cpu']}, {machine['cores']} cores, python "
          f"{ver['python']}, numpy {ver['numpy']}, torch {ver['torch']}; "
          f"BLAS: {'; '.join(result['blas'])}"
          + (f"; dlkit at {result['source']}" if result.get("source") else ""))
    print(f"each side in its own processes, {result['rounds']} rounds x {result['block']} "
          "calls; minimum (median) per side; ratio = dlkit / PyTorch of the minima\n")
    print(markdown_table(result["figures"], result["threads"]))


if __name__ == "__main__":
    main()
