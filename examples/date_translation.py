"""Course 5, week 3 programming exercise: Neural Machine Translation with attention (human-
readable dates -> ISO YYYY-MM-DD), then beam search and its error analysis.

Part 1 is the exercise's model exactly (``dlkit.nn.attention.AttentionModel``): one-hot characters
(T_x = 30) -> pre-attention Bidirectional LSTM (n_a = 32) -> T_y = 10 steps of attention
(e<t,t'> = relu(Dense(1)(tanh(Dense(10)([a<t'>, s<t-1>])))), alpha = softmax over t', context =
sum alpha a) -> post-attention LSTM (n_s = 64) -> softmax over the 11 output characters; Adam
(lr 0.005, as the exercise) on generated dates. The exercise trains 1 epoch on 10000 dates and
then loads weights trained longer; its outputs for "3 May 1979" etc. are then right.

Part 2 is the library's encoder-decoder (``dl.text.Seq2Seq``): character embeddings, a
bidirectional LSTM, an LSTM decoder that reads its previous output and the context of additive
(Bahdanau) attention, trained through ``fit`` with teacher forcing; exact match and BLEU on
held-out dates, and the attention map (``attention_map.png``): output characters against input
characters.

Part 3 compares greedy search with beam search B = 1, 3, 10 (alpha 0.7): BLEU, exact match and
time. Part 4 runs the notes' beam-search error analysis on a deliberately small model: for each
wrong output, P(y*|x) vs P(y_hat|x) says whether the beam search (B) or the model (R) is at fault.

    python examples/date_translation.py            # about 4 minutes on 2 cores
    python examples/date_translation.py --quick    # about 30 s
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.nn.attention import AttentionModel
from dlkit.text.attention_plot import plot_attention
from dlkit.text.beam_analysis import beam_error_analysis
from dlkit.text.dates import TX, TY, date_pairs, human_vocab, machine_vocab
from dlkit.text.seq2seq import Seq2Seq, Translator, fit_seq2seq, training_arrays

EXAMPLES = ["3 May 1979", "5 April 09", "21th of August 2016", "Tue 10 Jul 2007",
            "Saturday May 9 2018", "March 3 2001", "March 3rd 2001", "1 March 2001"]


def part1(train, dev, epochs: int) -> None:
    print("== Part 1: the exercise's attention model ==")
    hv, mv = human_vocab(), machine_vocab()
    model = AttentionModel(len(hv), len(mv), TY, n_a=32, n_s=64)
    tr = Translator(model, hv, mv, TX, TY)
    print(f"parameters: {model.num_parameters()} (the exercise's Keras model: 52,960; its "
          f"vocabularies are 37 and 11 characters, these {len(hv)} and {len(mv)})")
    opt = dl.optim.Adam(model.parameters(), lr=0.005)
    t0 = time.perf_counter()
    hist = fit_seq2seq(model, opt, *training_arrays(train, tr), epochs=epochs, batch_size=100)
    r = tr.evaluate([s for s, _ in dev], [t for _, t in dev])
    print(f"{epochs} epochs on {len(train)} dates in {time.perf_counter() - t0:.0f} s: loss "
          f"{hist.history['loss'][0]:.3f} -> {hist.history['loss'][-1]:.3f}; dev exact match "
          f"{100 * r['exact_match']:.1f}%, BLEU {100 * r['bleu']:.1f}")


def part2(train, dev, epochs: int, out: Path) -> Translator:
    print("== Part 2: encoder-decoder with attention, reading its previous output ==")
    hv, mv = human_vocab(), machine_vocab()
    model = Seq2Seq(len(hv), len(mv), embed_dim=16, n_a=32, n_s=64, attention="additive",
                    hidden=32)
    tr = Translator(model, hv, mv, TX, TY + 1)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    t0 = time.perf_counter()
    fit_seq2seq(model, opt, *training_arrays(train, tr), epochs=epochs, batch_size=100)
    r = tr.evaluate([s for s, _ in dev], [t for _, t in dev])
    print(f"{epochs} epochs on {len(train)} dates in {time.perf_counter() - t0:.0f} s: dev "
          f"exact match {100 * r['exact_match']:.1f}% ({len(dev)} held-out dates), BLEU "
          f"{100 * r['bleu']:.2f}")
    for text, outs in zip(EXAMPLES, tr.translate(EXAMPLES)):
        print(f"  {text:22s} -> {outs[0][0]}")
    alpha, src, outs = tr.attention_map("Tuesday 09 Oct 1993")
    path = plot_attention(alpha, src, outs, out / "attention_map.png",
                          title="attention: 'tuesday 09 oct 1993'")
    print(f"wrote {path}")
    return tr


def part3(tr: Translator, dev) -> None:
    print("== Part 3: greedy vs beam search (alpha 0.7) ==")
    src, ref = [s for s, _ in dev], [t for _, t in dev]
    for name, b in (("greedy", 1), ("beam B=1", 1), ("beam B=3", 3), ("beam B=10", 10)):
        t0 = time.perf_counter()
        if name == "greedy":
            r = tr.evaluate(src, ref)
        else:
            outs = [o[0][0] for o in tr.translate(src, b, 0.7, search="beam")]
            bleu = dl.text.bleu_score([list(o) for o in outs], [[list(t)] for t in ref])
            r = {"exact_match": float(np.mean([o == t for o, t in zip(outs, ref)])),
                 "bleu": bleu.score}
        dt = time.perf_counter() - t0
        print(f"  {name:10s} exact match {100 * r['exact_match']:6.2f}%  BLEU "
              f"{100 * r['bleu']:6.2f}  {dt:6.2f} s ({len(src) / dt:.0f} dates/s)")


def part4(train, dev) -> None:
    print("== Part 4: beam-search error analysis on a deliberately small model ==")
    hv, mv = human_vocab(), machine_vocab()
    model = Seq2Seq(len(hv), len(mv), embed_dim=8, n_a=8, n_s=16, attention="additive",
                    hidden=8)
    tr = Translator(model, hv, mv, TX, TY + 1)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    fit_seq2seq(model, opt, *training_arrays(train[:2000], tr), epochs=2, batch_size=100)
    sub = dev[:200]
    report = beam_error_analysis(tr, [s for s, _ in sub], [t for _, t in sub], beam_width=3,
                                 alpha=0.7)
    print(report.table(8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dl.manual_seed(args.seed)
    n = 3000 if args.quick else 10000
    train = date_pairs(n, seed=args.seed)
    dev = date_pairs(300 if args.quick else 1000, seed=args.seed + 10_000)
    part1(train, dev, 1 if args.quick else 5)
    tr = part2(train, dev, 3 if args.quick else 6, out)
    part3(tr, dev)
    part4(train, dev)


if __name__ == "__main__":
    main()
