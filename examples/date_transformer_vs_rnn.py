"""The date translation task with both architectures, side by side: the attention RNN
(``Seq2Seq``: LSTM encoder, additive attention, LSTM decoder; the defaults of
``dlkit translate train``) and the encoder-decoder Transformer (``TransformerTranslator``:
pre-norm, 2 + 2 layers, 4 heads, d_model 32, Adam 0.01 with a cosine decay over 30 epochs),
on the same 8000 generated dates, judged on 1000 held-out ones by exact match and BLEU with
greedy decoding (the Transformer's through its key/value cache), with the training time.

Measured (2-core machine, quiet, 1 BLAS thread): attention RNN (59,822 parameters, 6 epochs)
97.9% exact match, BLEU 99.47, 14.7 s of training; Transformer (45,198 parameters, 30 epochs)
100.0%, BLEU 100.00, 93.7 s. The Transformer needs many more epochs on this small task (95.9%
after 15 epochs at a constant lr 0.01 with dropout 0.1; 66.7% after 8 at 0.003).

    python examples/date_transformer_vs_rnn.py            # about 2 minutes on a quiet machine
    python examples/date_transformer_vs_rnn.py --quick    # a rough look in a minute or two
"""

from __future__ import annotations

import argparse
import math
import time

import dlkit as dl
from dlkit.text.dates import TX, TY, date_pairs, human_vocab, machine_vocab
from dlkit.text.seq2seq import Translator, build_model, fit_seq2seq, training_arrays

MODELS = {
    # name: (build_model kind, options, Adam lr, epochs, cosine decay)
    "attention RNN (Seq2Seq, LSTM, additive)": (
        "seq2seq", dict(embed_dim=16, n_a=32, n_s=64, cell="lstm", attention="additive",
                        hidden=32), 0.01, 6, False),
    "Transformer (d 32, 4 heads, 2+2 layers)": (
        "transformer", dict(d_model=32, num_heads=4, num_encoder_layers=2,
                            num_decoder_layers=2, dim_feedforward=64, dropout=0.0,
                            norm_first=True), 0.01, 30, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2000 dates, a few epochs")
    args = parser.parse_args()
    train = date_pairs(2000 if args.quick else 8000, seed=0)
    dev = date_pairs(1000, seed=10_000)
    src_vocab, tgt_vocab = human_vocab(), machine_vocab()
    print(f"{'model':42s} {'params':>7s} {'epochs':>6s} {'exact':>7s} {'BLEU':>6s} "
          f"{'train s':>8s}")
    for name, (kind, options, lr, epochs, cosine) in MODELS.items():
        epochs = max(2, epochs // 3) if args.quick else epochs
        dl.manual_seed(0)
        model = build_model(kind, src_vocab, tgt_vocab, TY + 1, **options)
        tr = Translator(model, src_vocab, tgt_vocab, TX, TY + 1)
        callbacks = [dl.train.LearningRateScheduler(
            lambda e, _, lr=lr, n=epochs: lr * 0.5 * (1 + math.cos(math.pi * e / n)))] \
            if cosine else []
        start = time.perf_counter()
        fit_seq2seq(model, dl.optim.Adam(model.parameters(), lr=lr), *training_arrays(train, tr),
                    epochs=epochs, batch_size=100, clip_norm=1.0 if kind == "transformer" else 5.0,
                    callbacks=callbacks, pad_id=tgt_vocab.pad_id)
        seconds = time.perf_counter() - start
        r = tr.evaluate([s for s, _ in dev], [t for _, t in dev])
        print(f"{name:42s} {model.num_parameters():7d} {epochs:6d} {r['exact_match']:7.1%} "
              f"{100 * r['bleu']:6.2f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
