"""Course 5, week 3: speech recognition with the CTC cost, on synthesized utterances.

The notes' model: audio -> spectrogram features -> (here) a 1-D convolution -> bidirectional
GRUs -> at each step a softmax over the characters and the blank; the CTC cost sums the
probabilities of every path that collapses (repeats merged, blanks dropped: "ttt_h_eee___"
-> "the") to the transcript, so the many input steps need no alignment with the few
characters. Data: spoken digit sequences ("three one four") from eSpeak NG in several voices,
speeds and pitches (generated tone words where eSpeak NG is missing). It prints the CTC cost
per epoch, the character and word error rates on held-out utterances, greedy and prefix-beam
transcripts side by side, and a PNG of one utterance's per-step output probabilities.

    python examples/ctc_speech_recognition.py            # a few minutes
    python examples/ctc_speech_recognition.py --quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import dlkit as dl
from dlkit.audio import synth
from dlkit.audio.metrics import cer, wer
from dlkit.audio.speech import (
    Alphabet,
    SpeechRecognizer,
    fit_recognizer,
    speech_features,
    synthesize_utterances,
    transcribe,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    a = p.parse_args()
    if a.quick:
        a.n, a.epochs, a.rate = 200, 4, 8000
    a.out.mkdir(parents=True, exist_ok=True)
    dl.manual_seed(a.seed)
    source = "espeak" if synth.espeak_available() else "tones"
    audio, texts = synthesize_utterances(a.n, a.rate, source)
    feats = [speech_features(x, a.rate) for x in audio]
    n_dev = a.n // 10
    alphabet = Alphabet()
    model = SpeechRecognizer(40, len(alphabet), filters=96, kernel=11, stride=2, units=96,
                             layers=2)
    print(f"{a.n} utterances ({source}), {n_dev} held out; model {model.num_parameters()} "
          f"parameters")
    start = time.perf_counter()
    history = fit_recognizer(model, feats[n_dev:], texts[n_dev:], alphabet, feats[:n_dev],
                             texts[:n_dev], epochs=a.epochs, verbose=1)
    for epoch, (loss, val) in enumerate(zip(history.history["loss"],
                                            history.history["val_loss"])):
        print(f"  epoch {epoch}: CTC cost {loss:.4f}, dev {val:.4f}")
    print(f"trained in {time.perf_counter() - start:.0f} s")
    greedy = transcribe(model, feats[:n_dev], alphabet)
    beam = transcribe(model, feats[:n_dev], alphabet, beam_width=8)
    print(f"dev CER greedy {cer(texts[:n_dev], greedy):.3f}, beam {cer(texts[:n_dev], beam):.3f}"
          f"; WER greedy {wer(texts[:n_dev], greedy):.3f}")
    for ref, g, b in list(zip(texts, greedy, beam))[:6]:
        print(f"  {ref!r:28s} greedy {g!r:28s} beam {b!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model.eval()
    with dl.no_grad():
        probs = dl.softmax(model(feats[0][None]), axis=-1).numpy()[0]
    fig, ax = plt.subplots(figsize=(10, 4))
    labels = ["_"] + list(alphabet.chars)
    ax.imshow(probs.T, aspect="auto", origin="lower", cmap="viridis")
    ax.set_yticks(range(len(labels)), ["space" if c == " " else c for c in labels], fontsize=6)
    ax.set_xlabel("output step")
    ax.set_title(f"per-step probabilities for {texts[0]!r} (row '_' is the blank)")
    fig.tight_layout()
    fig.savefig(a.out / "ctc_probabilities.png", dpi=100)
    print(f"wrote {a.out / 'ctc_probabilities.png'}")


if __name__ == "__main__":
    main()
