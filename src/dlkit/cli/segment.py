"""``dlkit segment``: semantic segmentation with the course's U-Net on synthetic shapes.

    dlkit segment train --out runs/unet          # 32x32 shapes, 4 classes (background + 3)
    dlkit segment predict runs/unet img.png --out masks/

The run folder holds ``model.safetensors`` (``dl.io.load``), ``config.json``, ``history.csv``,
``metrics.json`` (IoU per class and mean IoU on the test split) and ``masks.png`` (test images,
predicted and true masks).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import numpy as np

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.detect import read_image
from dlkit.cli.errors import UserError
from dlkit.strategy import run_folder as rf

CLASSES = ("background", "circle", "square", "triangle")


@cli.group(context_settings={"help_option_names": ["-h", "--help"]})
def segment() -> None:
    """Semantic segmentation with U-Net (transposed convolutions, skip connections)."""


def predict_masks(model: Any, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    from dlkit.vision.segmentation import predict_masks as argmax

    model.eval()
    with dl.no_grad():
        return np.concatenate([argmax(model(dl.tensor(images[i:i + batch_size])))
                               for i in range(0, len(images), batch_size)])


@segment.command("train")
@click.option("--image-size", default=32, show_default=True, type=int)
@click.option("--n-train", default=1200, show_default=True, type=int)
@click.option("--n-test", default=100, show_default=True, type=int)
@click.option("--filters", default=8, show_default=True, type=int,
              help="filters of the first block (doubled at each level)")
@click.option("--depth", default=3, show_default=True, type=int, help="poolings")
@click.option("--epochs", default=25, show_default=True, type=int)
@click.option("--batch-size", default=16, show_default=True, type=int)
@click.option("--lr", default=0.003, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", default=None, help="run folder (default runs/segment-<time>)")
@click.option("--progress/--no-progress", default=True, show_default=True)
def train_cmd(**o: Any) -> None:
    """Train a U-Net on synthetic shapes; report IoU per class and mean IoU."""
    from dlkit.models import UNet
    from dlkit.vision.detector import cosine_lr
    from dlkit.vision.draw import draw_masks
    from dlkit.vision.segmentation import iou_per_class, pixel_cross_entropy
    from dlkit.vision.shapes import make_shapes

    command = "segment train"
    for name in ("image_size", "n_train", "n_test", "filters", "depth", "epochs", "batch_size"):
        if o[name] <= 0:
            raise UserError(f"--{name.replace('_', '-')}: expected a positive integer, got "
                            f"{o[name]}", command)
    if o["image_size"] % 2 ** o["depth"]:
        raise UserError(f"--image-size {o['image_size']} must be a multiple of 2**depth = "
                        f"{2 ** o['depth']}", command)
    dl.manual_seed(o["seed"])
    train = make_shapes(o["n_train"], o["image_size"], seed=o["seed"])
    test = make_shapes(o["n_test"], o["image_size"], seed=o["seed"] + 10_000)
    model = UNet(3, len(CLASSES), o["filters"], o["depth"], dropout=0.0)
    folder = rf.new_run_folder(o["out"], "segment")
    click.echo(f"{len(train)} train / {len(test)} test images of {o['image_size']}x"
               f"{o['image_size']}; U-Net filters {o['filters']} depth {o['depth']} "
               f"({model.num_parameters()} parameters)")
    optimizer = dl.optim.Adam(model.parameters(), lr=o["lr"])
    start = time.perf_counter()
    dl.train.fit(model, pixel_cross_entropy, optimizer, train.images, train.masks,
                 epochs=o["epochs"], batch_size=o["batch_size"], metrics=(),
                 callbacks=[dl.train.CSVLogger(str(folder / rf.HISTORY)),
                            dl.train.LearningRateScheduler(cosine_lr(o["lr"], o["epochs"]))],
                 verbose=int(o["progress"]))
    seconds = time.perf_counter() - start
    pred = predict_masks(model, test.images)
    ious = iou_per_class(pred, test.masks, len(CLASSES))
    miou = float(np.nanmean(ious))
    dl.io.save(model, folder / rf.MODEL)
    rf.write_json(folder / rf.CONFIG, {"dlkit_version": dl.__version__, "command": "segment",
                                       "task": "segment", "options": o,
                                       "classes": list(CLASSES)})
    rf.write_json(folder / rf.METRICS, {"test": {"mean_iou": round(miou, 6), "iou": {
        name: round(float(v), 6) for name, v in zip(CLASSES, ious)}},
        "train_seconds": round(seconds, 1), "epochs": o["epochs"]})
    n = min(6, len(test))
    draw_masks(list(test.images[:n]), list(pred[:n]), CLASSES[1:], folder / "masks.png",
               truths=list(test.masks[:n]))
    click.echo("  ".join(f"{name} {v:.3f}" for name, v in zip(CLASSES, ious)))
    click.echo(f"trained {o['epochs']} epochs in {seconds:.1f} s; test mean IoU {miou:.3f}; "
               f"wrote {folder}/")


@segment.command("predict")
@click.argument("run")
@click.argument("images", nargs=-1, required=True)
@click.option("--out", default="masks", show_default=True)
def predict_cmd(run: str, images: tuple[str, ...], out: str) -> None:
    """Segment IMAGES: the mask overlaid on each image (PNG, small images enlarged) and the
    class mask (PNG at the image's size, pixel value = class index)."""
    from PIL import Image

    from dlkit.vision.draw import overlay_mask

    command = "segment predict"
    folder = rf.run_folder(run, command)
    if not (folder / rf.MODEL).exists():
        raise UserError(f"{run!r} holds no model (no {rf.MODEL}); pass the folder `dlkit "
                        "segment train` wrote", command)
    config = rf.read_json(folder, rf.CONFIG, command)
    size = int(config["options"]["image_size"])
    model = dl.io.load(folder / rf.MODEL)
    pictures = [read_image(path, command) for path in images]  # every input checked first
    for path, image in zip(images, pictures):
        if image.shape[:2] != (size, size):
            raise UserError(f"{path}: the run segments {size}x{size} images, got "
                            f"{image.shape[0]}x{image.shape[1]}; resize it first", command)
    out_dir = Path(out)  # created only once the inputs are good: a failed call leaves nothing
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, image in zip(images, pictures):
        mask = predict_masks(model, image[None])[0]
        stem = Path(path).stem
        overlay = Image.fromarray((overlay_mask(image, mask) * 255).astype(np.uint8))
        zoom = max(1, 256 // max(image.shape[:2]))  # small images enlarged to be seen
        overlay.resize((image.shape[1] * zoom, image.shape[0] * zoom), Image.NEAREST).save(
            out_dir / f"{stem}_overlay.png")
        Image.fromarray(mask.astype(np.uint8)).save(out_dir / f"{stem}_mask.png")
        counts = {CLASSES[c]: int((mask == c).sum()) for c in np.unique(mask) if c}
        click.echo(f"{path}: {counts or 'background only'} -> {out_dir / (stem + '_overlay.png')}")
