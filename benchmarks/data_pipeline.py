"""Data pipeline: dlkit's DataLoader with worker processes vs PyTorch's, and how long a small
CNN waits for data.

(a) Throughput: an ImageFolder of N generated JPEGs (10 classes, 72x72), each epoch: decode
    (Pillow), random 64x64 crop, random horizontal flip, normalize (ImageNet mean/std),
    batches of 64, 2 workers. dlkit: ``ImageFolder(dtype=uint8)`` decodes per example and the
    batch transform ``Compose([RandomCrop(64), RandomHorizontalFlip(), Normalize(...)])``
    runs in the workers; PyTorch: a ``Dataset`` doing the same per example (NumPy crop/flip,
    its idiom; torchvision is not installed) and ``torch.utils.data.DataLoader``. Each run in
    its own process, alternated, a warm-up epoch first; images/s is the median over rounds.
(b) Waiting: a small CNN (conv3x3(16)-ReLU-pool-conv3x3(32)-ReLU-pool-fc10) trains one epoch
    on the same folder through dlkit's loader (2 workers, prefetch 2; and 0 workers for
    reference); the fraction of step time spent waiting in ``next(loader)``, first batch
    excluded (the workers' start).

    OPENBLAS_NUM_THREADS=1 python benchmarks/data_pipeline.py [--images 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SIZE, CROP, BATCH = 72, 64, 64


def make_folder(root: Path, n: int) -> Path:
    """``n`` smooth random JPEGs (a colour gradient, noise and a bar) in 10 class folders."""
    from PIL import Image
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    for i in range(n):
        c = i % 10
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.uniform(0, 255, 3) * (0.5 + 0.5 * yy[..., None]) * (0.5 + xx[..., None])
        img = np.clip(base + rng.normal(0, 20, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
        img[rng.integers(SIZE)] = 255
        Image.fromarray(img).save(folder / f"{i:05d}.jpg", quality=90)
    return root


# -- (a) throughput, one library per process ---------------------------------------------------

def _augment():
    """dlkit's batch transform: random crop, flip, normalize (on 0..255 pixels)."""
    from dlkit import data
    return data.Compose([data.RandomCrop(CROP), data.RandomHorizontalFlip(),
                         data.Normalize([m * 255 for m in MEAN], [s * 255 for s in STD])])


def run_dlkit(root: str, workers: int, epochs: int) -> float:
    import dlkit as dl
    dl.manual_seed(0)
    loader = dl.data.DataLoader(dl.data.ImageFolder(root, dtype=np.uint8), batch_size=BATCH,
                                shuffle=True, transform=_augment(), num_workers=workers)
    return _images_per_second(loader, epochs, lambda b: b[0].data.shape)


def run_torch(root: str, workers: int, epochs: int) -> float:
    import random

    import torch
    from PIL import Image

    from dlkit.data.image_folder import IMAGE_EXTENSIONS, scan_class_folders
    torch.manual_seed(0)
    _, samples = scan_class_folders("bench", root, IMAGE_EXTENSIONS)
    mean = np.array(MEAN, np.float32) * 255
    std = np.array(STD, np.float32) * 255

    class Folder(torch.utils.data.Dataset):
        def __len__(self):
            return len(samples)

        def __getitem__(self, i):
            path, label = samples[i]
            with Image.open(path) as img:
                x = np.asarray(img.convert("RGB"))
            top, left = random.randint(0, SIZE - CROP), random.randint(0, SIZE - CROP)
            x = x[top:top + CROP, left:left + CROP]
            if random.random() < 0.5:
                x = x[:, ::-1]
            x = (x.astype(np.float32) - mean) / std
            return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), label

    loader = torch.utils.data.DataLoader(Folder(), batch_size=BATCH, shuffle=True,
                                         num_workers=workers)
    return _images_per_second(loader, epochs, lambda b: b[0].shape)


def _images_per_second(loader, epochs: int, shape) -> float:
    for _ in loader:  # warm-up: page cache, imports
        pass
    n, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            n += shape(batch)[0]
    return n / (time.perf_counter() - t0)


# -- (b) waiting ----------------------------------------------------------------------------------

def run_wait(root: str, workers: int) -> dict:
    import dlkit as dl
    from dlkit import nn
    dl.manual_seed(0)
    loader = dl.data.DataLoader(dl.data.ImageFolder(root, dtype=np.uint8), batch_size=BATCH,
                                shuffle=True, transform=_augment(), num_workers=workers,
                                prefetch=2)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 16 * 16, 10))
    opt = dl.optim.SGD(model.parameters(), lr=0.01)
    waits, steps = [], []
    it = iter(loader)
    while True:
        t0 = time.perf_counter()
        batch = next(it, None)
        t1 = time.perf_counter()
        if batch is None:
            break
        x, y = batch
        opt.zero_grad()
        loss = dl.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        waits.append(t1 - t0)
        steps.append(t2 - t0)
    wait, total = sum(waits[1:]), sum(steps[1:])
    return {"workers": workers, "wait_fraction": wait / total, "first_batch_s": waits[0],
            "step_ms": 1000 * statistics.median(steps[1:]), "batches": len(steps)}


# -- driver ---------------------------------------------------------------------------------------

def _child(args: list[str]) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--json", default=None)
    p.add_argument("--only", choices=["dlkit", "torch", "wait"], help=argparse.SUPPRESS)
    p.add_argument("--root", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.only == "dlkit":
        print(json.dumps({"images_per_s": run_dlkit(a.root, a.workers, a.epochs)}))
        return
    if a.only == "torch":
        print(json.dumps({"images_per_s": run_torch(a.root, a.workers, a.epochs)}))
        return
    if a.only == "wait":
        print(json.dumps(run_wait(a.root, a.workers)))
        return

    import platform
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = str(make_folder(Path(tmp) / "images", a.images))
        print(f"wrote {a.images} JPEGs {SIZE}x{SIZE} in {time.perf_counter() - t0:.1f} s")
        common = ["--root", root, "--workers", str(a.workers), "--epochs", str(a.epochs)]
        rates: dict[str, list[float]] = {"dlkit": [], "torch": []}
        for _ in range(a.rounds):
            for lib in rates:
                try:
                    rates[lib].append(_child(["--only", lib, *common])["images_per_s"])
                except subprocess.CalledProcessError as e:
                    print(f"{lib} failed: {e.stderr.strip().splitlines()[-1:]}")
        med = {k: statistics.median(v) for k, v in rates.items() if v}
        for lib, v in rates.items():
            if v:
                print(f"(a) {lib:5s} {a.workers} workers: {med[lib]:7.0f} images/s "
                      f"(rounds: {', '.join(f'{x:.0f}' for x in v)})")
        ratio = med["dlkit"] / med["torch"] if len(med) == 2 else None
        if ratio is not None:
            print(f"(a) dlkit / PyTorch throughput: {ratio:.2f} (goal >= 0.8)")
        waits = [_child(["--only", "wait", "--root", root, "--workers", str(w)])
                 for w in (a.workers, 0)]
        for w in waits:
            print(f"(b) small CNN, {w['workers']} workers: waits {100 * w['wait_fraction']:.1f}%"
                  f" of step time (step {w['step_ms']:.0f} ms median, first batch "
                  f"{w['first_batch_s']:.2f} s, {w['batches']} batches)")
    if a.json:
        Path(a.json).write_text(json.dumps({"images": a.images, "workers": a.workers,
                                            "images_per_s": rates, "ratio": ratio,
                                            "wait": waits}, indent=2))


if __name__ == "__main__":
    main()
