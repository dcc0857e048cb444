"""Course 5, week 3: image captioning as sequence to sequence (the notes' second example):
a CNN encodes the image, an RNN language model conditioned on it writes the caption.

Synthetic 12x12 RGB images with one shape (square, frame, bar) of one colour (red, green,
blue) in one corner, captioned "a red square at the top left" (36 distinct captions). The
model (``dl.text.CaptionModel``): conv 3x3 (8) - relu - max pool - conv 3x3 (16) - relu - max
pool - flatten - tanh(Linear) = v, the LSTM decoder's first state and an input at every step
next to the previous word's embedding; trained through ``fit`` with teacher forcing
(``dl.text.fit_seq2seq``), decoded with greedy and beam search.

    python examples/image_captioning.py            # about 20 s
    python examples/image_captioning.py --quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.text.captioning import CaptionModel, caption, caption_vocab, synthetic_captions
from dlkit.text.seq2seq import encode_texts, fit_seq2seq, teacher_forcing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    dl.manual_seed(args.seed)
    vocab = caption_vocab()
    images, captions = synthetic_captions(600 if args.quick else 2000, seed=args.seed)
    test_images, test_captions = synthetic_captions(300, seed=args.seed + 1000)
    Y_in, Y_out = teacher_forcing(encode_texts(captions, vocab, None, "caption"), vocab.eos_id)
    model = CaptionModel(len(vocab), embed_dim=12, n_s=48)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    t0 = time.perf_counter()
    hist = fit_seq2seq(model, opt, images, Y_in, Y_out, epochs=4 if args.quick else 8,
                       batch_size=32)
    print(f"{len(images)} images, loss {hist.history['loss'][0]:.3f} -> "
          f"{hist.history['loss'][-1]:.4f} per word in {time.perf_counter() - t0:.1f} s")
    for name, b in (("greedy", 1), ("beam B=3", 3)):
        out = caption(model, vocab, test_images, beam_width=b)
        exact = np.mean([o == c for o, c in zip(out, test_captions)])
        bleu = dl.text.corpus_bleu(out, [[c] for c in test_captions])
        print(f"{name:9s} held-out exact match {100 * exact:.1f}%, BLEU {100 * bleu:.2f}")
    for text, truth in list(zip(out, test_captions))[:5]:
        print(f"  {text:34s} (truth: {truth})")
    try:
        plt = dl.plot._pyplot()
    except ImportError:
        return
    fig, axes = plt.subplots(1, 5, figsize=(12, 3))
    for ax, img, text in zip(axes, test_images, out):
        ax.imshow(img)
        ax.set_title(text.replace(" at the ", "\n"), fontsize=9)
        ax.axis("off")
    path = Path(args.out) / "image_captions.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
