"""``dlkit verify``: one-shot face verification and recognition with a triplet-loss embedding.

    dlkit verify train                           # synthetic faces: 180 people train, 20 new
    dlkit verify train --data digits             # digits 0-6 train, 7-9 are the new identities
    dlkit verify train --data faces/ --size 32   # a folder per identity (LFW's layout)
    dlkit verify pair RUN a.png b.png            # distance, and the same identity or not
    dlkit verify identify RUN x.png --gallery people/   # who is it (or not in the database)

The run folder holds ``model.safetensors`` (the encoder, ``dl.io.load``), ``config.json``
(input size, threshold), ``history.csv``, ``metrics.json`` (verification and identification
on the identities kept out of training), ``roc.png`` and ``gallery.safetensors`` (one example
of each new identity).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import numpy as np

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.io import CorruptFileError
from dlkit.strategy import run_folder as rf
from dlkit.vision.images import IMAGE_SUFFIXES, ImageError, load_image, load_image_folder
from dlkit.vision.oneshot import (
    digits_one_shot,
    evaluate_one_shot,
    faces_one_shot,
    lfw_people,
    split_identities,
    train_embedding,
)
from dlkit.vision.triplet import STRATEGIES
from dlkit.vision.verification import Gallery, model_fingerprint, plot_roc, verify

CMD = "verify"
GALLERY, ROC = "gallery.safetensors", "roc.png"


@cli.group(CMD)
def verify_group() -> None:
    """Face verification and one-shot recognition with the triplet loss (FaceNet)."""


@verify_group.command("train")
@click.option("--data", default="faces", show_default=True,
              help="'faces' (synthetic faces of 200 identities, 20 kept out of training), "
              "'digits' (8x8 digits: 0-6 to train, 7-9 new), 'lfw' (scikit-learn's cached LFW "
              "faces) or a folder per identity (root/NAME/*.jpg)")
@click.option("--size", default=32, show_default=True, help="image side for --data")
@click.option("--gray/--color", default=False, help="read --data images in grayscale")
@click.option("--new", "new_fraction", default=0.3, show_default=True,
              help="fraction of the --data identities kept out of training")
@click.option("--epochs", type=int, default=None,
              help="[default: 20 for faces, 2 for digits, 10 for a folder]")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", default=0.003, show_default=True)
@click.option("--alpha", default=0.2, show_default=True, help="the triplet margin")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="semi-hard",
              show_default=True, help="how negatives are mined in each batch")
@click.option("--embedding-dim", default=64, show_default=True)
@click.option("--target-far", type=float, default=None,
              help="choose the threshold for this false-accept rate (default: best accuracy)")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", default=None, help="run folder (default runs/verify-<time>)")
@click.option("--progress/--no-progress", default=True)
def train_cmd(data: str, size: int, gray: bool, new_fraction: float, epochs: int | None,
              batch_size: int, lr: float, alpha: float, strategy: str, embedding_dim: int,
              target_far: float | None, seed: int, out: str | None, progress: bool) -> None:
    """Train an embedding with the triplet loss; test one-shot on identities it never saw."""
    if epochs is None:
        epochs = {"faces": 20, "digits": 2}.get(data, 10)
    for name, value in (("--epochs", epochs), ("--batch-size", batch_size),
                        ("--embedding-dim", embedding_dim), ("--size", size)):
        if value < 1:
            raise UserError(f"{name}: expected a positive integer, got {value}", CMD)
    if not alpha >= 0:
        raise UserError(f"--alpha: expected a margin >= 0, got {alpha}", CMD)
    if target_far is not None and not 0 <= target_far <= 1:
        raise UserError(f"--target-far: expected a rate in [0, 1], got {target_far}", CMD)
    dl.manual_seed(seed)
    bundled = not Path(data).exists()
    if data == "digits" and bundled:
        split = digits_one_shot()
        source, input_size, channels = "digits", 8, 1
    elif data == "faces" and bundled:
        split = faces_one_shot()
        source, input_size, channels = "faces", 16, 1
    else:
        if not 0 < new_fraction < 1:
            raise UserError(f"--new: expected a fraction in (0, 1), got {new_fraction}", CMD)
        try:
            if data == "lfw" and bundled:
                X, y, names = lfw_people(size=size)
                gray = True
            else:
                X, y, names = load_image_folder(data, size, gray, min_per_identity=2)
            split = split_identities(X, y, names, float(new_fraction))
        except (ImageError, ValueError) as e:
            raise UserError(f"--data: {e}", CMD) from None
        source, input_size, channels = str(data), size, 1 if gray else 3
    folder = rf.new_run_folder(out, "verify")
    click.echo(f"{source}: {len(split.y_train)} train / {len(split.y_dev)} dev images of "
               f"{len(np.unique(split.y_train))} identities; new identities "
               f"{', '.join(split.names[k] for k in np.unique(split.y_new))} "
               f"({len(split.y_new)} images); triplet loss alpha={alpha:g}, {strategy} "
               f"negatives")
    start = time.perf_counter()
    try:
        encoder, history = train_embedding(
            split.X_train, split.y_train, embedding_dim, alpha=alpha, strategy=strategy,
            epochs=epochs, batch_size=batch_size, lr=lr, verbose=int(progress),
            callbacks=[dl.train.CSVLogger(str(folder / rf.HISTORY))])
    except ValueError as e:
        raise UserError(str(e), CMD) from None
    seconds = time.perf_counter() - start
    report = evaluate_one_shot(encoder, split, target_far=target_far)
    far, tar = report.pop("roc")
    dl.io.save(encoder, folder / rf.MODEL)
    fingerprint = model_fingerprint(encoder)
    labels = np.unique(split.y_new)
    first = [int(np.flatnonzero(split.y_new == k)[0]) for k in labels]
    Gallery.from_examples(encoder.embed(split.X_new[first]), [split.names[k] for k in labels],
                          report["threshold"], fingerprint).save(folder / GALLERY)
    rf.write_json(folder / rf.CONFIG, {
        "dlkit_version": dl.__version__, "command": "verify train", "data": source,
        "size": input_size, "channels": channels, "threshold": report["threshold"],
        "fingerprint": fingerprint, "options": {
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "alpha": alpha,
            "strategy": strategy, "embedding_dim": embedding_dim, "target_far": target_far,
            "seed": seed}})
    rf.write_json(folder / rf.METRICS, {**report, "epochs": len(history),
                                        "seconds": round(seconds, 3)})
    try:
        plot_roc(far, tar, folder / ROC, title="verification of new identities")
    except ImportError:
        pass
    click.echo(f"trained {len(history)} epochs in {seconds:.1f} s; threshold "
               f"{report['threshold']:.3f} (chosen on dev pairs)")
    click.echo(f"new identities: verification accuracy {report['verification_accuracy']:.3f} "
               f"(AUC {report['auc']:.3f}); one-shot identification "
               f"{report['identification_accuracy']:.3f}")
    click.echo(f"wrote {folder}/ (model.safetensors, gallery.safetensors, config.json, "
               f"history.csv, metrics.json, roc.png)")


def load_run(run: str) -> tuple[Any, dict[str, Any]]:
    folder = rf.run_folder(run, CMD)
    config = rf.read_json(folder, rf.CONFIG, CMD)
    if config.get("command") != "verify train":
        raise UserError(f"{run!r} is not a run of dlkit verify train (it is "
                        f"{config.get('command', 'unknown')!r})", CMD)
    try:
        encoder = dl.io.load(folder / rf.MODEL)
    except (CorruptFileError, FileNotFoundError, ValueError) as e:
        raise UserError(str(e), CMD) from None
    return encoder, config


def read_images(paths: list[str], config: dict[str, Any]) -> np.ndarray:
    size, gray = int(config["size"]), int(config["channels"]) == 1
    try:
        return np.stack([load_image(p, size=size, gray=gray) for p in paths])
    except ImageError as e:
        raise UserError(str(e), CMD) from None


@verify_group.command("pair")
@click.argument("run")
@click.argument("image1")
@click.argument("image2")
@click.option("--threshold", type=float, default=None, help="default: the run's")
def pair_cmd(run: str, image1: str, image2: str, threshold: float | None) -> None:
    """The distance of two images' embeddings, and whether they show the same identity."""
    encoder, config = load_run(run)
    threshold = config["threshold"] if threshold is None else threshold
    X = read_images([image1, image2], config)
    d, same = verify(X[:1], X[1:], threshold, encoder=encoder)
    verdict = "same identity" if same[0] else "different identities"
    click.echo(f"distance {d[0]:.4f} (threshold {threshold:.4f}): {verdict}")


def gallery_from(source: str, encoder: Any, config: dict[str, Any], threshold: float
                 ) -> Gallery:
    path = Path(source)
    fingerprint = model_fingerprint(encoder)
    if path.is_file():
        try:
            gallery = Gallery.load(path)
        except (CorruptFileError, ValueError) as e:
            raise UserError(f"--gallery: {e}", CMD) from None
        try:
            gallery.check_model(fingerprint)
        except ValueError as e:
            raise UserError(f"--gallery: {e}", CMD) from None
        if gallery.dim != encoder.embedding_dim:
            raise UserError(f"--gallery: embeddings of size {gallery.dim}, the model gives "
                            f"{encoder.embedding_dim}", CMD)
        gallery.threshold = threshold
        return gallery
    if not path.is_dir():
        raise UserError(f"--gallery: {source!r} is neither a gallery file nor a folder", CMD)
    size, gray = int(config["size"]), int(config["channels"]) == 1
    try:
        X, y, names = load_image_folder(path, size, gray)
    except ImageError as e:
        raise UserError(f"--gallery: {e}", CMD) from None
    return Gallery.from_examples(encoder.embed(X), [names[k] for k in y], threshold,
                                 fingerprint)


@verify_group.command("identify")
@click.argument("run")
@click.argument("images", nargs=-1, required=True)
@click.option("--gallery", "gallery_src", default=None,
              help="a folder per identity, or a gallery .safetensors (default: the run's)")
@click.option("--threshold", type=float, default=None, help="default: the run's")
@click.option("--save-gallery", default=None, help="write the gallery built from --gallery")
def identify_cmd(run: str, images: tuple[str, ...], gallery_src: str | None,
                 threshold: float | None, save_gallery: str | None) -> None:
    """Who each image shows: the nearest identity of the gallery, or not in the database."""
    encoder, config = load_run(run)
    threshold = config["threshold"] if threshold is None else threshold
    source = gallery_src or str(Path(run) / GALLERY)
    gallery = gallery_from(source, encoder, config, threshold)
    if save_gallery:
        gallery.save(save_gallery)
    X = read_images(list(images), config)
    names, dist = gallery.identify(encoder.embed(X))
    for path, name, d in zip(images, names, dist):
        who = name if name is not None else "not in the database"
        click.echo(f"{path}: {who} (distance {d:.4f}, threshold {threshold:.4f})")


__all__ = ["IMAGE_SUFFIXES", "verify_group"]
