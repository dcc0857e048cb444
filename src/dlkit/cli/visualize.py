"""``dlkit visualize``: what a trained ConvNet's units respond to.

    dlkit visualize RUN --layer 2 --out grid.png          # top patches of 8 units of layer 2
    dlkit visualize RUN --layer 6 --units 0,3,5 --k 12 --out deep.png
    dlkit visualize RUN --filters --out filters.png       # the first layer's filters

RUN is a run folder of ``dlkit verify train`` or of ``dlkit train`` on image data (a CNN on
the digits); ``--data`` a folder of images (one level or a folder per identity) to search
instead of the run's data.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.io import CorruptFileError
from dlkit.strategy import run_folder as rf
from dlkit.vision.images import IMAGE_SUFFIXES, ImageError, load_image, load_image_folder
from dlkit.vision.visualize import layer_names, layers_of, save_filters, save_top_patches

CMD = "visualize"


def run_images(config: dict, data: str | None, shape: tuple[int, ...]) -> np.ndarray:
    if data is not None:
        path = Path(data)
        if not path.is_dir():
            raise UserError(f"--data: no such folder: {data!r}", CMD)
        gray = shape[-1] == 1
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        try:
            if files:
                return np.stack([load_image(p, size=shape[:2], gray=gray) for p in files])
            return load_image_folder(path, shape[:2], gray)[0]
        except ImageError as e:
            raise UserError(f"--data: {e}", CMD) from None
    source = config.get("data") or config.get("options", {}).get("dataset")
    if isinstance(source, dict):  # dlkit train records {"name" or "path": ..., "sha256": ...}
        source = source.get("path") or source.get("name")
    if source == "digits" and tuple(shape) == (8, 8, 1):
        return dl.data.load_digits(as_images=True)[0]
    if source == "faces" and tuple(shape) == (16, 16, 1):
        from dlkit.vision.oneshot import faces_one_shot
        return faces_one_shot().X_train
    if source and Path(source).is_dir():
        return load_image_folder(source, shape[:2], shape[-1] == 1)[0]
    raise UserError(f"the run's data ({source!r}) cannot be read back as images of shape "
                    f"{tuple(shape)}; pass --data FOLDER", CMD)


@cli.command(CMD)
@click.argument("run")
@click.option("--layer", default=None,
              help="a layer index (see the list it prints), or several: 2,6 (one picture each, "
              "named <out>_layer2.png ...)")
@click.option("--units", default=None, help="channels, e.g. 0,1,2 [default: the first 8]")
@click.option("--k", default=9, show_default=True, help="patches per unit")
@click.option("--filters", is_flag=True, help="draw the first layer's filters instead")
@click.option("--data", default=None, help="a folder of images to search")
@click.option("--out", default="grid.png", show_default=True)
def visualize_cmd(run: str, layer: str | None, units: str | None, k: int, filters: bool,
                  data: str | None, out: str) -> None:
    """Image patches that most activate units of a layer, or the first layer's filters."""
    folder = rf.run_folder(run, CMD)
    config = rf.read_json(folder, rf.CONFIG, CMD)
    try:
        model = dl.io.load(folder / rf.MODEL)
        layers_of(model)
    except (CorruptFileError, FileNotFoundError, ValueError, TypeError) as e:
        raise UserError(str(e), CMD) from None
    names = layer_names(model)
    if filters:
        try:
            path = save_filters(model, out)
        except ValueError as e:
            raise UserError(str(e), CMD) from None
        click.echo(f"wrote {path} (the first convolution's filters)")
        return
    if layer is None:
        raise UserError(f"--layer: choose one of {', '.join(names)} (or pass --filters)", CMD)
    if k < 1:
        raise UserError(f"--k: expected a positive integer, got {k}", CMD)
    try:
        chosen = [int(u) for u in units.split(",")] if units else None
    except ValueError:
        raise UserError(f"--units: expected integers separated by commas, got {units!r}",
                        CMD) from None
    shape = tuple(config.get("input_shape") or (config["size"], config["size"],
                                                 config["channels"]))
    X = run_images(config, data, shape)
    layers = [name.strip() for name in layer.split(",") if name.strip()]
    for name in layers:
        target = Path(out)
        if len(layers) > 1:
            target = target.with_name(f"{target.stem}_layer{name}{target.suffix or '.png'}")
        try:
            path = save_top_patches(model, X, name, target, chosen, k)
        except ValueError as e:
            raise UserError(str(e), CMD) from None
        click.echo(f"wrote {path}: layer {name} of {', '.join(names)}; one row per unit, its "
                   f"{k} strongest patches of {len(X)} images from left to right")
