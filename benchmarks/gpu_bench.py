"""GPU training steps: dlkit on CuPy vs PyTorch CUDA on the same GPU, each library in its own
process (float32; one step = forward, loss, backward, optimizer update; the GPU synchronized
before and after the timed steps).

Workloads (the README's CPU benchmarks, on the GPU):
  resnet   ResNetSmall (3x3 CONV 16 + BN + ReLU, BasicBlocks widths 16/32/64 x 2, global
           average pool, FC 10) on 32x32x3, batch 256, SGD momentum 0.9
  lstm_lm  character LM: embedding 32, LSTM 128, per-step Linear to 64 classes, sequence 50,
           batch 32, Adam
  mlp      784-256-256-10 ReLU, batch 128, Adam

    python benchmarks/gpu_bench.py --out gpu_bench.json       # all, one process per library
    python benchmarks/gpu_bench.py --lib dlkit --device cuda  # one library, JSON on stdout

Goals (issue 18): dlkit/PyTorch step time at most 2 (resnet), 2 (lstm_lm), 1.5 (mlp); dlkit's
resnet on the GPU at least 20x faster than dlkit on the CPU (``--lib dlkit --device cpu``,
a few steps only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORKLOADS = ("resnet", "lstm_lm", "mlp")
GOALS = {"resnet": 2.0, "lstm_lm": 2.0, "mlp": 1.5}


def _data(workload: str):
    rng = np.random.default_rng(0)
    if workload == "resnet":
        return (rng.standard_normal((256, 32, 32, 3)).astype(np.float32),
                rng.integers(0, 10, 256))
    if workload == "lstm_lm":
        idx = rng.integers(0, 64, (32, 51))
        return idx[:, :-1], idx[:, 1:]
    return rng.standard_normal((128, 784)).astype(np.float32), rng.integers(0, 10, 128)


# ---- dlkit ------------------------------------------------------------------------------------
def dlkit_step(workload: str, device: str):
    import dlkit as dl
    from dlkit import nn

    dl.manual_seed(0)
    if workload == "resnet":
        model = dl.models.ResNetSmall(n_classes=10)
    elif workload == "lstm_lm":
        model = nn.Sequential(nn.Embedding(64, 32), nn.LSTM(32, 128, return_sequences=True),
                              nn.Linear(128, 64))
    else:
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10))
    model.to(device)
    opt = dl.optim.Momentum(model.parameters(), lr=0.01, beta=0.9) if workload == "resnet" \
        else dl.optim.Adam(model.parameters(), lr=0.001)
    X, y = _data(workload)
    x, t = dl.tensor(X, device=device), dl.tensor(y, device=device)

    def step():
        loss = dl.cross_entropy(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, dl.cuda.synchronize


# ---- PyTorch ----------------------------------------------------------------------------------
def torch_step(workload: str, device: str):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if workload == "resnet":
        class Block(nn.Module):
            def __init__(self, c_in, c, stride):
                super().__init__()
                self.main = nn.Sequential(
                    nn.Conv2d(c_in, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                    nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
                self.short = nn.Identity() if stride == 1 and c_in == c else nn.Sequential(
                    nn.Conv2d(c_in, c, 1, stride, bias=False), nn.BatchNorm2d(c))

            def forward(self, x):
                return torch.relu(self.main(x) + self.short(x))

        layers, c = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
        for i, w in enumerate((16, 32, 64)):
            for j in range(2):
                layers.append(Block(c, w, 2 if i > 0 and j == 0 else 1))
                c = w
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
        model = nn.Sequential(*layers)
    elif workload == "lstm_lm":
        class LM(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.lstm = nn.Embedding(64, 32), nn.LSTM(32, 128, batch_first=True)
                self.fc = nn.Linear(128, 64)

            def forward(self, x):
                return self.fc(self.lstm(self.emb(x))[0])

        model = LM()
    else:
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10))
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if workload == "resnet" \
        else torch.optim.Adam(model.parameters(), lr=0.001)
    X, y = _data(workload)
    if workload == "resnet":
        X = X.transpose(0, 3, 1, 2).copy()  # PyTorch's channels-first
    x, t = torch.from_numpy(X).to(device), torch.from_numpy(np.asarray(y)).to(device)

    def step():
        out = model(x)
        loss = nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    return step, sync


def time_steps(step, sync, warmup: int, steps: int, repeats: int) -> dict:
    for _ in range(warmup):  # includes CuPy's kernel compilation and cuDNN's autotuning
        step()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        times.append((time.perf_counter() - start) / steps)
    return {"step_ms": round(1000 * statistics.median(times), 4),
            "step_ms_all": [round(1000 * t, 4) for t in times]}


def run_one(lib: str, device: str, workloads: list[str], quick: bool) -> dict:
    results = {}
    for w in workloads:
        make = dlkit_step if lib == "dlkit" else torch_step
        step, sync = make(w, device)
        on_cpu = device == "cpu"
        warmup, steps, repeats = (1, 2, 2) if on_cpu or quick else (5, 20, 5)
        results[w] = time_steps(step, sync, warmup, steps, repeats)
        print(f"{lib:6s} {device:6s} {w:8s} {results[w]['step_ms']:10.3f} ms/step",
              file=sys.stderr, flush=True)
    return results


def gpu_name() -> str:
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        try:
            import torch

            return torch.cuda.get_device_name(0)
        except Exception:
            return "unknown"


def versions() -> dict:
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for name in ("cupy", "torch"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            out[name] = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lib", choices=["dlkit", "torch"], default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--quick", action="store_true", help="few steps (a smoke test)")
    parser.add_argument("--out", default=None, help="write all results as JSON here")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per process")
    args = parser.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    if args.lib is not None:
        print(json.dumps(run_one(args.lib, args.device, workloads, args.quick)))
        return
    results, errors = {}, {}
    runs = [("dlkit", "cuda", workloads), ("torch", "cuda", workloads),
            ("dlkit", "cpu", ["resnet"])]
    for lib, device, ws in runs:
        key = f"{lib}-{device}"
        cmd = [sys.executable, __file__, "--lib", lib, "--device", device,
               "--workloads", ",".join(ws)] + (["--quick"] if args.quick else [])
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                                  env=os.environ)
            sys.stderr.write(done.stderr)
            if done.returncode == 0:
                results[key] = json.loads(done.stdout.strip().splitlines()[-1])
            else:
                errors[key] = done.stderr.strip().splitlines()[-1:] or ["failed"]
        except subprocess.TimeoutExpired:
            errors[key] = [f"timed out after {args.timeout} s"]
    ratios = {}
    for w in workloads:
        try:
            r = results["dlkit-cuda"][w]["step_ms"] / results["torch-cuda"][w]["step_ms"]
            ratios[f"{w}_dlkit_over_torch"] = round(r, 3)
            ratios[f"{w}_goal_met"] = r <= GOALS[w]
        except KeyError:
            pass
    try:
        speedup = results["dlkit-cpu"]["resnet"]["step_ms"] / \
            results["dlkit-cuda"]["resnet"]["step_ms"]
        ratios["resnet_gpu_speedup_over_dlkit_cpu"] = round(speedup, 2)
        ratios["resnet_speedup_goal_met"] = speedup >= 20
    except KeyError:
        pass
    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "gpu": gpu_name(), "cpu_count": os.cpu_count(), "versions": versions(),
              "quick": args.quick, "results": results, "ratios": ratios, "errors": errors}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
