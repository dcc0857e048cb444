"""``dlkit style``: neural style transfer of one image in the style of another.

    dlkit style                                   # the bundled china.jpg in flower.jpg's style
    dlkit style photo.jpg painting.jpg --out result.png --steps 100 --size 256
    dlkit style photo.jpg painting.jpg --weights vgg19.safetensors   # real VGG-19 weights

Without ``--weights`` the backbone is VGG-19's first three blocks with random (He-scaled,
seeded) filters: the result takes the style image's colors and texture but less of its
strokes than with trained weights (see docs/faces.md). Writes the result and a strip of
intermediate images (``<out>_steps.png``).
"""

from __future__ import annotations

from pathlib import Path

import click

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.io import CorruptFileError
from dlkit.vision.images import (
    SAMPLE_IMAGES,
    ImageError,
    image_grid,
    load_image,
    sample_image,
    save_image,
)
from dlkit.vision.style import (
    COURSE_CONTENT_LAYER,
    COURSE_STYLE_LAYERS,
    RANDOM_CONTENT_LAYER,
    RANDOM_STYLE_LAYERS,
    StyleTransfer,
    random_vgg_features,
    vgg19_features,
)

CMD = "style"


def read_image(source: str, size: tuple[int, int] | None, max_side: int | None, what: str):
    if Path(source).is_file():
        try:
            return load_image(source, size=size, max_side=max_side)
        except ImageError as e:
            raise UserError(f"{what}: {e}", CMD) from None
    if source in SAMPLE_IMAGES:
        return sample_image(source, size=size, max_side=max_side)
    raise UserError(f"{what}: {source!r} is neither an image file nor a bundled photo "
                    f"({', '.join(SAMPLE_IMAGES)})", CMD)


@cli.command(CMD)
@click.argument("content", default="china.jpg")
@click.argument("style", default="flower.jpg")
@click.option("--out", default="style.png", show_default=True, help="the generated image")
@click.option("--steps", default=60, show_default=True, help="optimizer steps (iterations)")
@click.option("--size", default=128, show_default=True,
              help="the longer side of the generated image, in pixels")
@click.option("--alpha", default=10.0, show_default=True, help="weight of the content cost")
@click.option("--beta", default=40.0, show_default=True, help="weight of the style cost")
@click.option("--optimizer", type=click.Choice(["lbfgs", "adam"]), default="lbfgs",
              show_default=True)
@click.option("--lr", default=0.02, show_default=True, help="Adam's learning rate")
@click.option("--weights", default=None,
              help="torchvision VGG-19 weights as safetensors (default: random filters)")
@click.option("--strip", default=None, help="intermediate images [default: <out>_steps.png]")
@click.option("--seed", default=0, show_default=True)
@click.option("--progress/--no-progress", default=True)
def style_cmd(content: str, style: str, out: str, steps: int, size: int, alpha: float,
              beta: float, optimizer: str, lr: float, weights: str | None, strip: str | None,
              seed: int, progress: bool) -> None:
    """Generate an image with CONTENT's content in STYLE's style (Gatys et al.)."""
    if steps < 1:
        raise UserError(f"--steps: expected a positive integer, got {steps}", CMD)
    if size < 16:
        raise UserError(f"--size: expected at least 16 pixels, got {size}", CMD)
    if alpha < 0 or beta < 0:
        raise UserError(f"--alpha/--beta: expected weights >= 0, got {alpha}, {beta}", CMD)
    C = read_image(content, None, size, "CONTENT")
    S = read_image(style, C.shape[:2], None, "STYLE")  # the style image at the content's size
    dl.manual_seed(seed)
    if weights is None:
        backbone = random_vgg_features(3, seed)
        content_layer, style_layers = RANDOM_CONTENT_LAYER, RANDOM_STYLE_LAYERS
        what = "VGG-19 blocks 1-3 with random filters (no --weights)"
    else:
        try:
            backbone = vgg19_features(weights)
        except (ValueError, CorruptFileError, FileNotFoundError) as e:
            raise UserError(f"--weights: {e}", CMD) from None
        content_layer, style_layers = COURSE_CONTENT_LAYER, COURSE_STYLE_LAYERS
        what = f"VGG-19 with the weights of {weights}"
    transfer = StyleTransfer(backbone, content_layer, style_layers, alpha, beta)
    click.echo(f"{content} in the style of {style}: {C.shape[1]}x{C.shape[0]} pixels, "
               f"{steps} {optimizer} steps, alpha={alpha:g} beta={beta:g}; {what}")
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc="style", unit="step", leave=False)

    def on_step(step: int, logs: dict[str, float]) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(J=f"{logs['total']:.4g}")

    try:
        result = transfer.run(C, S, steps=steps, optimizer=optimizer, lr=lr,
                              callback=on_step)
    finally:
        if bar is not None:
            bar.close()
    out_path = save_image(out, result.image)
    strip_path = Path(strip) if strip else out_path.with_name(out_path.stem + "_steps.png")
    frames = [C, S] + [image for _, image in result.snapshots]
    save_image(strip_path, image_grid(frames, cols=len(frames), pad=2))
    first, last = result.history[0], result.history[-1]
    click.echo(f"J {first['total']:.4g} -> {last['total']:.4g} (content "
               f"{last['content']:.4g}, style {last['style']:.4g}) in {len(result.history)} "
               f"steps, {result.seconds:.1f} s")
    click.echo(f"wrote {out_path} and {strip_path} (content, style, then steps "
               f"{', '.join(str(s) for s, _ in result.snapshots)})")
