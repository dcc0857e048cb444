"""A character-level Transformer language model on the dinosaur names, against the LSTM
``CharLM`` of a similar parameter count (course 5: from the RNN language model to the
Transformer).

Both read the same 1536 bundled names (lowercased), the same 90/10 train/dev split, the same
mini-batches of 32 padded names, Adam, 10 % held out for the dev perplexity, and both are
trained with ``dl.train.fit`` and a step whose loss is ``cross_entropy(logits, Y,
ignore_index=<PAD>)``. The Transformer is decoder-only (causal self-attention, pre-norm,
learned positions); its samples come from a key/value cache (one position per new character).

    python examples/transformer_charlm.py             # 30 epochs each
    python examples/transformer_charlm.py --epochs 3  # a quick look
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import dlkit as dl
from dlkit.models.transformer_lm import TransformerLM
from dlkit.text import CharLM, CharVocab
from dlkit.text.training import LinesBatches


def lm_step(pad_id: int):
    """One batch (X, Y) -> the mean cross-entropy per predicted character, weighted by the
    number of characters."""
    def step(model, batch):
        X, Y = batch
        Y = np.asarray(Y.data if isinstance(Y, dl.Tensor) else Y)
        loss = dl.ops.cross_entropy(model(X), Y, ignore_index=pad_id)
        return dl.train.StepOutput(loss, size=int((Y != pad_id).sum()))
    return step


def train(model, vocab, train_lines, dev_lines, epochs, lr, seed):
    dl.manual_seed(seed)
    data = LinesBatches([vocab.encode(s) for s in train_lines], vocab, batch_size=32)
    dev = LinesBatches([vocab.encode(s) for s in dev_lines], vocab, 256, shuffle=False)
    opt = dl.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    history = dl.train.fit(model, None, opt, data, epochs=epochs, validation_data=dev,
                           metrics=(), step=lm_step(vocab.pad_id), clip_norm=1.0)
    seconds = time.perf_counter() - start
    best = min(history.history["val_loss"])
    return {"dev_ppl_final": dl.text.perplexity(model, vocab, dev_lines),
            "dev_ppl_best": math.exp(best), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = dl.text.dinosaur_names()
    order = np.random.default_rng(args.seed).permutation(len(names))
    n_dev = len(names) // 10
    dev_lines = [names[i] for i in order[:n_dev]]
    train_lines = [names[i] for i in order[n_dev:]]
    vocab = CharVocab.from_corpus(train_lines, lower=True)
    dl.manual_seed(args.seed)
    models = {
        "LSTM CharLM (embed 32, n_a 64)": (CharLM(len(vocab), 32, 64), 0.01),
        "TransformerLM (d 32, 4 heads, 2 layers, ff 64)": (
            TransformerLM(len(vocab), 32, 4, 2, 64, dropout=0.1, max_len=64), 0.003),
    }
    print(f"{len(train_lines)} train / {len(dev_lines)} dev names, {len(vocab)} tokens, "
          f"{args.epochs} epochs; uniform guess: perplexity {len(vocab)}")
    print(f"{'model':50s} {'params':>7s} {'dev ppl':>8s} {'best':>6s} {'time':>7s}")
    for name, (model, lr) in models.items():
        r = train(model, vocab, train_lines, dev_lines, args.epochs, lr, args.seed)
        print(f"{name:50s} {model.num_parameters():7d} {r['dev_ppl_final']:8.3f} "
              f"{r['dev_ppl_best']:6.3f} {r['seconds']:6.1f}s")
        dl.manual_seed(args.seed)
        samples = dl.text.sample_many(model, vocab, 6, temperature=0.8, seed=args.seed)
        print("   samples:", ", ".join(s.capitalize() for s in samples))


if __name__ == "__main__":
    main()
