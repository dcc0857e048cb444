"""Course 4, week 4: neural style transfer (Gatys et al.), as the notes.

J(G) = alpha J_content(C, G) + beta J_style(S, G) (alpha 10, beta 40) is minimized over the
pixels of the generated image G, which starts from the content image plus noise (the notes'
G = 0.6 noise + 0.4 content in the mean-centered space); L-BFGS (SciPy's L-BFGS-B, pixels
bounded to [0, 1]) or Adam.

Content: scikit-learn's bundled ``china.jpg``; style: ``flower.jpg`` (no download).
Backbone: with ``--weights vgg19.safetensors`` (torchvision's VGG-19 ImageNet weights,
converted once, see docs/faces.md) the course's layers (content block5_conv4, style
block1..5_conv1, 0.2 each). Without, VGG-19's first three blocks with random He-scaled filters
(content block3_conv1, style block1_conv1, block1_conv2, block2_conv1, block2_conv2,
block3_conv1): random filters still measure local color and texture statistics, so the
result takes on the style image's palette and texture, but not its brush strokes.

Saves ``style_transfer.png`` (content, style, result) and ``style_transfer_steps.png``.

    python examples/style_transfer.py                # 128 px, 60 L-BFGS steps, ~30 s
    python examples/style_transfer.py --quick        # 64 px, 20 steps
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dlkit as dl
from dlkit.vision.images import image_grid, sample_image, save_image
from dlkit.vision.style import (
    COURSE_CONTENT_LAYER,
    COURSE_STYLE_LAYERS,
    RANDOM_CONTENT_LAYER,
    RANDOM_STYLE_LAYERS,
    StyleTransfer,
    random_vgg_features,
    vgg19_features,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    size, steps = (64, 20) if args.quick else (args.size, args.steps)
    out = Path(args.out)
    dl.manual_seed(args.seed)
    C = sample_image("china.jpg", max_side=size)
    S = sample_image("flower.jpg", size=C.shape[:2])
    if args.weights:
        st = StyleTransfer(vgg19_features(args.weights), COURSE_CONTENT_LAYER,
                           COURSE_STYLE_LAYERS)
    else:
        st = StyleTransfer(random_vgg_features(3, args.seed), RANDOM_CONTENT_LAYER,
                           RANDOM_STYLE_LAYERS)
    result = st.run(C, S, steps=steps, optimizer=args.optimizer,
                    callback=lambda k, logs: print(f"step {k:3d}  J {logs['total']:.4f}  "
                                                   f"content {logs['content']:.4f}  style "
                                                   f"{logs['style']:.5f}")
                    if k % 10 == 0 or k == 1 else None)
    print(f"{steps} steps in {result.seconds:.1f} s")
    save_image(out / "style_transfer.png", image_grid([C, S, result.image], cols=3, pad=2))
    frames = [im for _, im in result.snapshots]
    save_image(out / "style_transfer_steps.png", image_grid(frames, cols=len(frames), pad=2))
    print(f"wrote {out}/style_transfer.png (content, style, result) and "
          f"style_transfer_steps.png (steps {', '.join(str(s) for s, _ in result.snapshots)})")


if __name__ == "__main__":
    main()
