"""One neural-style-transfer step, dlkit vs PyTorch CPU, each library in its own process.

VGG-19 (random weights; the same layers as torchvision's ``vgg19().features``) at 224 x 224 x 3,
float32, batch 1; the course's costs: content at block5_conv4, style at block1..5_conv1 (0.2
each), J = 10 J_content + 40 J_style. One step = the forward pass of the generated image up to
block5_conv4, the costs, and the backward pass down to the image's pixels (the gradient the
optimizer uses; the update itself is negligible). The targets a^(C) and the style Gram
matrices are computed once, outside the timing.

Each measurement is a fresh process (``--worker dlkit`` or ``--worker torch``) that times
``--steps`` steps after one warm-up step and prints the median; the processes alternate for
``--rounds`` rounds; the result is printed and written as JSON (``--json``).

    python benchmarks/style_step.py [--size 224] [--threads 1] [--rounds 3] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONTENT_LAYER = "block5_conv4"
STYLE_LAYERS = [f"block{b}_conv1" for b in range(1, 6)]


def images(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return tuple(rng.random((size, size, 3)).astype(np.float32) for _ in range(3))


def dlkit_worker(size: int, steps: int) -> list[float]:
    import dlkit as dl
    from dlkit.vision.style import StyleTransfer, vgg19_features

    dl.set_default_dtype("float32")
    st = StyleTransfer(vgg19_features(seed=0), CONTENT_LAYER, STYLE_LAYERS)
    C, S, G0 = images(size)
    a_c, a_s = st.targets(C, S)

    def step() -> None:
        G = dl.Tensor(G0.copy(), requires_grad=True)
        J, _, _ = st.cost(G, a_c, a_s)
        J.backward()
        assert G.grad is not None

    return timed(step, steps)


def torch_worker(size: int, steps: int) -> list[float]:
    import torch

    torch.manual_seed(0)
    layers, c = [], 3
    names, k = {}, 0
    for block, (n, width) in enumerate(zip((2, 2, 4, 4, 4), (64, 128, 256, 512, 512)), 1):
        for i in range(1, n + 1):
            layers += [torch.nn.Conv2d(c, width, 3, padding=1), torch.nn.ReLU()]
            names[f"block{block}_conv{i}"] = k + 1
            k += 2
            c = width
        layers.append(torch.nn.MaxPool2d(2))
        k += 1
    net = torch.nn.Sequential(*layers).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    wanted = {names[CONTENT_LAYER], *(names[n] for n in STYLE_LAYERS)}
    last = max(wanted)

    def acts(img):
        x = (img - mean) / std
        out = {}
        for j, layer in enumerate(net):
            x = layer(x)
            if j in wanted:
                out[j] = x
            if j == last:
                break
        return out

    def gram(a):
        F = a.reshape(a.shape[1], -1)
        return F @ F.T

    C, S, G0 = (torch.from_numpy(a.transpose(2, 0, 1)[None].copy()) for a in images(size))
    with torch.no_grad():
        a_c = acts(C)[names[CONTENT_LAYER]]
        a_s = acts(S)
        g_s = {names[n]: gram(a_s[names[n]]) for n in STYLE_LAYERS}

    def step() -> None:
        G = G0.clone().requires_grad_(True)
        a = acts(G)
        k_c = names[CONTENT_LAYER]
        _, n_c, h, w = a[k_c].shape
        j_c = ((a_c - a[k_c]) ** 2).sum() / (4 * n_c * h * w)
        j_s = 0.0
        for n in STYLE_LAYERS:
            k = names[n]
            _, n_c, h, w = a[k].shape
            j_s = j_s + 0.2 * ((g_s[k] - gram(a[k])) ** 2).sum() / (4 * n_c**2 * (h * w) ** 2)
        (10 * j_c + 40 * j_s).backward()
        assert G.grad is not None

    return timed(step, steps)


def timed(step, steps: int) -> list[float]:
    step()  # warm-up
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def run_worker(name: str, args: argparse.Namespace) -> list[float]:
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--size",
           str(args.size), "--steps", str(args.steps), "--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name} worker failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per process")
    parser.add_argument("--rounds", type=int, default=3, help="processes per library")
    parser.add_argument("--threads", type=int, default=1, help="0: the libraries' defaults")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--worker", choices=["dlkit", "torch"], default=None)
    args = parser.parse_args()
    if args.worker:
        if args.worker == "torch":
            import torch
            if args.threads:
                torch.set_num_threads(args.threads)
            times = torch_worker(args.size, args.steps)
        else:
            times = dlkit_worker(args.size, args.steps)
        print(json.dumps(times))
        return
    sys.path.insert(0, str(HERE))
    from common import blas_info, import_torch, machine_line

    torch = import_torch()
    print(machine_line(torch))
    print(f"BLAS: {blas_info()}")
    print(f"workload: style-transfer step, VGG-19 to block5_conv4 at {args.size}x{args.size}, "
          f"float32, forward + costs + backward to the image; {args.threads or 'default'} "
          f"thread(s); {args.rounds} processes x {args.steps} steps per library")
    names = ["dlkit"] + (["torch"] if torch is not None else [])
    samples: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for n in names:
            samples[n] += run_worker(n, args)
    med = {n: statistics.median(v) for n, v in samples.items()}
    for n, sec in med.items():
        print(f"{n:8s} {sec:8.3f} s per step (median of {len(samples[n])})")
    result = {"workload": "style_step", "size": args.size, "threads": args.threads,
              "seconds": med}
    if "torch" in med:
        result["ratio"] = med["dlkit"] / med["torch"]
        print(f"ratio dlkit/torch {result['ratio']:.2f}  (goal <= 2)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
