"""``dlkit detect``: train a small YOLO, detect objects in images, evaluate mAP.

    dlkit detect train --out runs/yolo                 # synthetic shapes, 64x64, 3 classes
    dlkit detect train --data voc_or_coco_folder --image-size 96 --epochs 40
    dlkit detect predict runs/yolo img1.png img2.png --out detections/
    dlkit detect evaluate runs/yolo                     # mAP table and PR curves

The run folder holds ``model.safetensors`` and ``detector.json`` (anchors, class names, image
size: ``dl.vision.detector.YoloDetector.load``), ``config.json``, ``history.csv``,
``metrics.json`` (mAP@0.5 and COCO mAP@0.5:0.95 on the test split), ``pr_curves.png`` and
``detections.png`` (test images with their detections).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.strategy import run_folder as rf

CMD = "detect"


def parse_ints(text: str, option: str, command: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{option}: expected comma-separated integers, got {text!r}",
                        command) from None
    if not values or any(v <= 0 for v in values):
        raise UserError(f"{option}: expected positive integers, got {text!r}", command)
    return values


def load_data(o: dict[str, Any], command: str) -> tuple[Any, Any]:
    """(train, test): synthetic shapes from the seed, or a VOC/COCO folder split 80/20."""
    from dlkit.vision.shapes import make_shapes

    size = int(o["image_size"])
    if o.get("data"):
        data = load_folder(o, command)
        order = np.random.default_rng(o["seed"]).permutation(len(data))
        n_test = max(1, int(round(0.2 * len(data))))
        if len(data) < 2:
            raise UserError("--data: need at least 2 annotated images (train and test)",
                            command)
        return data.subset(order[n_test:]), data.subset(order[:n_test])
    return (make_shapes(o["n_train"], size, seed=o["seed"]),
            make_shapes(o["n_test"], size, seed=o["seed"] + 10_000))


def load_folder(o: dict[str, Any], command: str) -> Any:
    """All images of the VOC/COCO folder ``o["data"]``, resized to the run's size."""
    from dlkit.vision.annotations import load_detection_folder

    size = int(o["image_size"])
    classes = [c.strip() for c in o["classes"].split(",")] if o.get("classes") else None
    try:
        return load_detection_folder(o["data"], (size, size), classes)
    except (ValueError, FileNotFoundError) as e:
        raise UserError(f"--data: {e}", command) from None


def write_pictures(folder: Path, det: Any, test: Any, report: Any) -> None:
    from dlkit.vision.draw import draw_detection_grid
    from dlkit.vision.evaluation import plot_pr_curves

    plot_pr_curves(report, folder / "pr_curves.png")
    n = min(8, len(test))
    dets = det.detect(test.images[:n], score_threshold=0.5)
    draw_detection_grid(list(test.images[:n]), dets, det.class_names, folder / "detections.png",
                        truths=list(zip(test.boxes[:n], test.labels[:n])))


@cli.group(context_settings={"help_option_names": ["-h", "--help"]})
def detect() -> None:
    """Object detection with a small YOLO (course 4 week 3)."""


@detect.command("train")
@click.option("--data", default=None, help="a VOC or COCO folder (default: synthetic shapes)")
@click.option("--classes", default=None, help="class names, comma-separated (--data)")
@click.option("--image-size", default=64, show_default=True, type=int)
@click.option("--n-train", default=1500, show_default=True, type=int,
              help="synthetic training images")
@click.option("--n-test", default=300, show_default=True, type=int)
@click.option("--epochs", default=20, show_default=True, type=int)
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--lr", default=0.003, show_default=True, type=float)
@click.option("--anchors", "n_anchors", default=3, show_default=True, type=int,
              help="anchor boxes per cell, chosen by k-means (1 - IoU)")
@click.option("--widths", default="16,32,64", show_default=True,
              help="filters of the conv/pool stages (grid = image size / 2**stages)")
@click.option("--head", default=64, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", default=None, help="run folder (default runs/detect-<time>)")
@click.option("--progress/--no-progress", default=True, show_default=True)
def train_cmd(**o: Any) -> None:
    """Train a small YOLO and write a run folder with its mAP and pictures."""
    from dlkit.vision.detector import YoloDetector

    for name in ("image_size", "n_train", "n_test", "epochs", "batch_size", "n_anchors",
                 "head"):
        if o[name] <= 0:
            raise UserError(f"--{name.replace('_', '-')}: expected a positive integer, got "
                            f"{o[name]}", "detect train")
    widths = parse_ints(o["widths"], "--widths", "detect train")
    stride = 2 ** len(widths)
    if o["image_size"] % stride:
        raise UserError(f"--image-size {o['image_size']} must be a multiple of 2**{len(widths)}"
                        f" = {stride} for {len(widths)} pooling stages", "detect train")
    dl.manual_seed(o["seed"])
    train, test = load_data(o, "detect train")
    det = YoloDetector.build(train, o["n_anchors"], widths, o["head"], seed=o["seed"])
    folder = rf.new_run_folder(o["out"], "detect")
    click.echo(f"{len(train)} train / {len(test)} test images of {o['image_size']}x"
               f"{o['image_size']}, classes {', '.join(det.class_names)}; grid "
               f"{det.grid[0]}x{det.grid[1]}, anchors (h, w) {np.round(det.anchors, 3).tolist()};"
               f" {det.model.num_parameters()} parameters")
    start = time.perf_counter()
    det.fit(train, o["epochs"], o["batch_size"], o["lr"],
            callbacks=[dl.train.CSVLogger(str(folder / rf.HISTORY))], verbose=int(o["progress"]))
    seconds = time.perf_counter() - start
    report = det.evaluate(test)
    det.save(folder)
    rf.write_json(folder / rf.CONFIG, {"dlkit_version": dl.__version__, "command": "detect",
                                       "task": "detect", "options": o})
    rf.write_json(folder / rf.METRICS, {"test": report.to_dict(), "train_seconds":
                                        round(seconds, 1), "epochs": o["epochs"]})
    write_pictures(folder, det, test, report)
    click.echo(report.table())
    click.echo(f"trained {o['epochs']} epochs in {seconds:.1f} s; test mAP@0.5 "
               f"{report.map50:.3f}, COCO mAP@0.5:0.95 {report.coco_map:.3f}; wrote {folder}/")


def load_detector(run: str, command: str) -> Any:
    from dlkit.vision.detector import YoloDetector

    folder = rf.run_folder(run, command)
    try:
        return folder, YoloDetector.load(folder)
    except FileNotFoundError as e:
        raise UserError(str(e), command) from None


def read_image(path: str, command: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not Path(path).is_file():
        raise UserError(f"image {path!r} not found", command)
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as e:
        raise UserError(f"{path!r} is not an image ({e})", command) from None


@detect.command("predict")
@click.argument("run")
@click.argument("images", nargs=-1, required=True)
@click.option("--out", default="detections", show_default=True, help="folder for PNG and JSON")
@click.option("--score-threshold", default=0.5, show_default=True, type=float)
@click.option("--iou-threshold", default=0.5, show_default=True, type=float)
@click.option("--max-boxes", default=10, show_default=True, type=int)
def predict_cmd(run: str, images: tuple[str, ...], out: str, score_threshold: float,
                iou_threshold: float, max_boxes: int) -> None:
    """Detect objects in IMAGES: a PNG with boxes, class names and scores, and a JSON of the
    boxes (pixels, corners x1 y1 x2 y2), per image."""
    from dlkit.errors import ShapeError
    from dlkit.vision.draw import draw_detections

    command = "detect predict"
    _, det = load_detector(run, command)
    pictures = [read_image(p, command) for p in images]
    results = []
    for path, image in zip(images, pictures):  # every image detected before anything is written
        try:
            results.append(det.detect(image, score_threshold, iou_threshold, max_boxes)[0])
        except ShapeError as e:
            raise UserError(f"{path}: {e}", command) from None
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, image, (scores, boxes, classes) in zip(images, pictures, results):
        stem = Path(path).stem
        draw_detections(image, boxes, classes, scores, det.class_names, out_dir / f"{stem}.png")
        items = [{"class": det.class_names[int(c)], "score": round(float(s), 4),
                  "box": [round(float(v), 2) for v in b]}
                 for s, b, c in zip(scores, boxes, classes)]
        (out_dir / f"{stem}.json").write_text(json.dumps(items, indent=2) + "\n")
        found = ", ".join(f"{i['class']} {i['score']:.2f}" for i in items) or "nothing"
        click.echo(f"{path}: {found} -> {out_dir / (stem + '.png')}")


@detect.command("evaluate")
@click.argument("run")
@click.option("--data", default=None, help="a VOC or COCO folder (default: the run's test "
              "split)")
@click.option("--out", default=None, help="folder for pr_curves.png (default: the run)")
def evaluate_cmd(run: str, data: str | None, out: str | None) -> None:
    """mAP per class (IoU 0.5, all-point; COCO 0.5:0.95) on the run's test split or --data,
    and the precision-recall curves."""
    from dlkit.vision.evaluation import plot_pr_curves

    command = "detect evaluate"
    folder, det = load_detector(run, command)
    o = rf.read_json(folder, rf.CONFIG, command).get("options", {})
    o["image_size"] = det.image_size[0]
    if data is not None:
        test = load_folder({**o, "data": data, "classes": ",".join(det.class_names)}, command)
    else:
        _, test = load_data(o, command)
    report = det.evaluate(test)
    target = Path(out) if out else folder
    target.mkdir(parents=True, exist_ok=True)
    plot_pr_curves(report, target / "pr_curves.png")
    click.echo(report.table())
    click.echo(f"{len(test)} images; PR curves in {target / 'pr_curves.png'}")
