"""Course 5, week 1: sequence generation with an LSTM (the "Improvise a Jazz Solo" exercise's
one-to-many model, on data dlkit makes itself, so nothing is downloaded).

The exercise trains an LSTM to predict the next musical value of jazz phrases, then turns it
into a one-to-many generator: x<1> = 0, a<0> = c<0> = 0, and at every step the LSTM cell, a
softmax over the values, and the chosen value fed back as the next input x<t+1>, for T_y
steps. Here the same, twice:

1. Melodies. A small "grammar" of tunes in C major: a tune is 4 bars of 4 notes over a chord
   progression (I-IV-V-I, I-vi-IV-V or I-V-vi-IV); each bar plays one of 6 motifs (arpeggios,
   scale runs, neighbour tones) on its chord's root. 600 tunes as text ("C4 E4 G4 E4 F4 ...")
   train ``dl.text.CharLM`` over a ``WordVocab`` of note names; then it improvises: 200
   tunes drawn one note at a time from <EOS> (the zero start) until it draws <EOS>. How much
   of the grammar did it learn? The share of tunes of the right length (16 notes), of bars
   that are a motif on a chord root, and of tunes whose bars follow one of the progressions,
   for the trained model, for the untrained one, and for the data itself.
2. Continuing a signal. An LSTM(1 -> 32) with a linear output reads sines of random
   amplitude, period (10 to 30 steps) and phase, and learns to predict the next value (mean
   squared error, ``dl.train.fit``), its inputs jittered by Gaussian noise (std 0.05, a
   ``transform=``) so that it learns to recover from small errors of its own, which it will
   read back when generating (without: the error of the 40 steps is about twice as large).
   Generation: it reads the first 20 values of a new sine,
   then produces the next 40 alone, each output fed back as the next input with the carried
   state (``initial_state`` / ``return_state``). Its error is compared with repeating the
   last value seen and with predicting 0. With matplotlib, saves
   ``sequence_generation.png`` into ``--out``.

    python examples/sequence_generation.py            # about 6 s
    python examples/sequence_generation.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.text import CharLM, WordVocab

NOTES = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "D5", "E5", "F5", "G5", "A5", "B5"]
CHORDS = {"I": 0, "ii": 1, "IV": 3, "V": 4, "vi": 5}  # root as a degree of the C major scale
PROGRESSIONS = [("I", "IV", "V", "I"), ("I", "vi", "IV", "V"), ("I", "V", "vi", "IV")]
MOTIFS = [(0, 2, 4, 2), (4, 2, 0, 2), (0, 1, 2, 4), (4, 3, 2, 0), (0, 2, 4, 7), (2, 1, 0, 0)]
BAR = 4
DEFAULT_OUT = Path(__file__).resolve().parent / "output"


# ---- 1. melodies -----------------------------------------------------------------------------
def tune(rng: np.random.Generator) -> list[str]:
    """4 bars: a progression, and for each bar a motif on its chord's root."""
    progression = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    notes = []
    for chord in progression:
        motif = MOTIFS[rng.integers(len(MOTIFS))]
        notes += [NOTES[CHORDS[chord] + step] for step in motif]
    return notes


BARS = {tuple(NOTES[CHORDS[c] + s] for s in m): c for c in CHORDS for m in MOTIFS}


def grammar_scores(tunes: list[list[str]]) -> tuple[float, float, float]:
    """Shares of tunes of 16 notes, of bars (of those tunes) that are a motif on a chord
    root, and of tunes whose 4 bars follow one of the progressions."""
    right_length = [t for t in tunes if len(t) == 4 * BAR]
    bars = [tuple(t[i:i + BAR]) for t in right_length for i in range(0, len(t), BAR)]
    in_grammar = sum(b in BARS for b in bars)
    follows = sum(tuple(BARS.get(tuple(t[i:i + BAR])) for i in range(0, len(t), BAR))
                  in PROGRESSIONS for t in right_length)
    n = max(len(tunes), 1)
    return len(right_length) / n, in_grammar / max(len(bars), 1), follows / n


def melodies(n_tunes: int, epochs: int, seed: int) -> None:
    print(f"1. Melodies: {n_tunes} tunes of {4 * BAR} notes, {len(PROGRESSIONS)} progressions, "
          f"{len(MOTIFS)} motifs")
    rng = np.random.default_rng(seed)
    data = [" ".join(tune(rng)) for _ in range(n_tunes)]
    vocab = WordVocab.from_corpus(data)
    print(f"vocabulary: {len(vocab)} tokens ({len(vocab) - 3} notes + <PAD> <UNK> <EOS>); "
          f"a tune: {data[0]}")
    dl.manual_seed(seed)
    model = CharLM(len(vocab), embed_dim=16, n_a=64, cell="lstm")

    def improvise(k: int) -> list[list[str]]:
        return [t.split() for t in dl.text.sample_many(model, vocab, k, max_len=40,
                                                       seed=seed)]

    before = improvise(200)
    start = time.perf_counter()
    history = dl.text.fit_lines(model, vocab, data, epochs=epochs, batch_size=32, lr=0.01,
                                clip_value=5.0)
    print(f"trained {epochs} epochs in {time.perf_counter() - start:.1f} s: loss "
          f"{history['loss'][0]:.3f} -> {history['loss'][-1]:.3f} per note (perplexity "
          f"{history['perplexity'][-1]:.2f}; a uniform guess: {len(vocab)})")
    after = improvise(200)
    print("improvised (x<1> = <EOS>, each note fed back):")
    for t in after[:4]:
        bars = [" ".join(t[i:i + BAR]) for i in range(0, len(t), BAR)]
        chords = [BARS.get(tuple(t[i:i + BAR]), "?") for i in range(0, len(t), BAR)]
        print(f"  {' | '.join(bars)}   ({'-'.join(chords)})")
    greedy = dl.text.sample(model, vocab, top_k=1, max_len=40)
    print(f"greedy (argmax every step, the same tune each time): {greedy}")
    print("                         16 notes   bars in the grammar   progression followed")
    for name, tunes in (("the data", [d.split() for d in data[:200]]), ("untrained", before),
                        ("trained", after)):
        length, bars, progression = grammar_scores(tunes)
        print(f"  {name:<21} {100 * length:8.1f} % {100 * bars:13.1f} % "
              f"{100 * progression:17.1f} %")
    print()


# ---- 2. continuing a signal --------------------------------------------------------------------
class SignalLSTM(dl.nn.Module):
    """x<t> (m, T, 1) -> LSTM a<t> -> y<t> = W a<t> + b, the prediction of x<t+1>."""

    def __init__(self, n_a: int = 32) -> None:
        super().__init__()
        self.lstm = dl.nn.LSTM(1, n_a, return_sequences=True, return_state=True)
        self.head = dl.nn.TimeDistributed(dl.nn.Linear(n_a, 1, init="xavier"))

    def forward(self, x, initial_state=None, return_state=False):
        a, *state = self.lstm(x, initial_state=initial_state)
        y = self.head(a)
        return (y, state) if return_state else y


def sines(m: int, T: int, rng: np.random.Generator) -> np.ndarray:
    """m sines of T steps: amplitude 0.5-1, period 10-30 steps, any phase; (m, T, 1)."""
    amp = rng.uniform(0.5, 1.0, (m, 1))
    omega = 2 * np.pi / rng.uniform(10, 30, (m, 1))
    phase = rng.uniform(0, 2 * np.pi, (m, 1))
    return (amp * np.sin(omega * np.arange(T) + phase))[..., None].astype(np.float32)


def generate(model: SignalLSTM, prime: np.ndarray, steps: int) -> np.ndarray:
    """Read ``prime`` (m, T0, 1), then produce ``steps`` values, each fed back as the next
    input, the LSTM state carried from step to step."""
    out = []
    with dl.no_grad():
        y, state = model(prime, return_state=True)
        x = y.numpy()[:, -1:]
        for _ in range(steps):
            out.append(x)
            y, state = model(x, initial_state=state, return_state=True)
            x = y.numpy()
    return np.concatenate(out, axis=1)


def signal(epochs: int, seed: int, out: Path) -> None:
    print("2. Continuing a signal: LSTM(1 -> 32) + Linear, trained to predict the next value")
    rng = np.random.default_rng(seed)
    train = sines(512, 61, rng)
    test = sines(200, 60, rng)
    dl.manual_seed(seed)
    model = SignalLSTM(32)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    generator = dl.backend.generator()

    def jitter(X: np.ndarray) -> np.ndarray:
        return X + (0.05 * generator.standard_normal(X.shape)).astype(X.dtype)

    history = dl.train.fit(model, "mse", opt, train[:, :-1], train[:, 1:], epochs=epochs,
                           batch_size=32, metrics=(), clip_norm=1.0, transform=jitter)
    print(f"trained {epochs} epochs in {time.perf_counter() - start:.1f} s: mse "
          f"{history['loss'][0]:.4f} -> {history['loss'][-1]:.5f}")
    prime, truth = test[:, :20], test[:, 20:]
    generated = generate(model, prime, 40)

    def rmse(pred: np.ndarray, upto: int = 40) -> float:
        return float(np.sqrt(((pred[:, :upto] - truth[:, :upto]) ** 2).mean()))

    last = np.repeat(prime[:, -1:], 40, axis=1)
    zero = np.zeros_like(truth)
    print("root mean squared error of the 40 generated steps (first 10 | all 40), 200 new "
          "sines:")
    for name, pred in (("LSTM, its outputs fed back", generated), ("repeat the last value", last),
                       ("predict 0", zero)):
        print(f"  {name:<28} {rmse(pred, 10):.3f} | {rmse(pred):.3f}")
    try:
        from figures import pyplot
    except ImportError:
        print()
        return
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for k, ax in enumerate(axes):
        ax.plot(range(60), test[k, :, 0], color="0.6", label="true")
        ax.plot(range(20), prime[k, :, 0], "k.", label="read")
        ax.plot(range(20, 60), generated[k, :, 0], "r-", label="generated")
        ax.axvline(19.5, color="0.8", lw=0.8)
    axes[0].legend(loc="lower left", fontsize=7)
    fig.suptitle("LSTM one-to-many generation: reads 20 steps, writes 40")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "sequence_generation.png", dpi=100)
    plt.close(fig)
    print(f"saved {out / 'sequence_generation.png'}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="fewer tunes and epochs")
    args = parser.parse_args()
    melodies(300 if args.quick else 600, 4 if args.quick else 12, args.seed)
    signal(8 if args.quick else 30, args.seed, args.out)


if __name__ == "__main__":
    main()
