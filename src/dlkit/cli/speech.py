"""``dlkit speech``: speech recognition with CTC (course 5, week 3).

    dlkit speech train --out runs/speech                # spoken digit sequences (eSpeak NG)
    dlkit speech train --manifest data/train.tsv        # your own path<TAB>text utterances
    dlkit speech transcribe runs/speech utterance.wav --beam 8

The model: log-mel spectrogram -> Conv1d -> bidirectional GRUs -> per-step softmax over the
characters and the blank, trained with the CTC cost; the run folder holds the model, its
config (alphabet, sample rate), history.csv, metrics.json (dev CER and WER) and samples.txt.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import numpy as np
from tqdm import tqdm

import dlkit as dl
from dlkit.audio import synth
from dlkit.audio.datasets import load_manifest, load_wav
from dlkit.audio.metrics import cer, wer
from dlkit.audio.speech import (
    DEFAULT_CHARS,
    Alphabet,
    SpeechRecognizer,
    fit_recognizer,
    speech_features,
    synthesize_utterances,
    transcribe,
)
from dlkit.audio.wav import WavError
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.strategy import run_folder as rf

SAMPLES = "samples.txt"
N_MELS = 40


@cli.group("speech")
def speech() -> None:
    """Speech recognition with CTC: train a recognizer, transcribe WAV files."""


def _data(manifest: str | None, n: int, rate: int, source: str, progress: bool,
          command: str) -> tuple[list[np.ndarray], list[str], str]:
    if manifest is not None:
        try:
            audio, texts = load_manifest(manifest, rate)
        except (FileNotFoundError, ValueError, WavError) as e:
            raise UserError(f"--manifest: {e}", command) from None
        return audio, texts, f"manifest {manifest}"
    if source == "auto":
        source = "espeak" if synth.espeak_available() else "tones"
    if source == "espeak" and not synth.espeak_available():
        raise UserError("--source espeak: eSpeak NG is not installed (apt-get install "
                        "espeak-ng), or use --source tones", command)
    with tqdm(total=n, desc="synthesize", unit="utt", disable=not progress, leave=False) as bar:
        audio, texts = synthesize_utterances(n, rate, source, progress=bar)
    return audio, texts, f"{n} digit sequences ({source})"


@speech.command("train")
@click.option("--manifest", type=click.Path(), default=None,
              help="path<TAB>text utterances (default: synthesized digit sequences)")
@click.option("--n", "n", default=600, show_default=True, help="synthesized utterances")
@click.option("--source", type=click.Choice(["auto", "espeak", "tones"]), default="auto",
              show_default=True)
@click.option("--rate", default=16000, show_default=True, help="sample rate (Hz)")
@click.option("--alphabet", default=DEFAULT_CHARS, show_default=True,
              help="the characters (the blank is added)")
@click.option("--epochs", default=15, show_default=True)
@click.option("--batch-size", default=16, show_default=True)
@click.option("--lr", default=3e-3, show_default=True)
@click.option("--filters", default=128, show_default=True)
@click.option("--units", default=128, show_default=True)
@click.option("--layers", default=2, show_default=True)
@click.option("--dev-size", default=0.1, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="run folder")
@click.option("--progress/--no-progress", default=True)
def train(manifest: str | None, n: int, source: str, rate: int, alphabet: str, epochs: int,
          batch_size: int, lr: float, filters: int, units: int, layers: int, dev_size: float,
          seed: int, out: str | None, progress: bool) -> None:
    """Train a CTC recognizer; write a run folder."""
    command = "speech train"
    if min(n, epochs, batch_size, filters, units, layers) < 1 or not 0 <= dev_size < 1:
        raise UserError("expected --n, --epochs, --batch-size, --filters, --units, --layers "
                        ">= 1 and --dev-size in [0, 1)", command)
    try:
        chars = Alphabet(alphabet)
    except ValueError as e:
        raise UserError(f"--alphabet: {e}", command) from None
    dl.manual_seed(seed)
    audio, texts, what = _data(manifest, n, rate, source, progress, command)
    for i, t in enumerate(texts):
        try:
            chars.encode(t)
        except ValueError as e:
            raise UserError(f"utterance {i + 1}: {e}", command) from None
    feats = [speech_features(a, rate, N_MELS) for a in audio]
    order = dl.backend.generator().permutation(len(feats))
    n_dev = min(len(feats) - 1, int(round(dev_size * len(feats)))) if dev_size else 0
    dev, tr = order[:n_dev], order[n_dev:]
    options = {"n_features": N_MELS, "n_classes": len(chars), "filters": filters,
               "kernel": 11, "stride": 2, "units": units, "layers": layers}
    model = SpeechRecognizer(**options)
    folder = rf.new_run_folder(out, "speech")
    click.echo(f"{what}: {len(tr)} train / {len(dev)} dev utterances; model "
               f"{model.num_parameters()} parameters")
    start = time.perf_counter()
    history = fit_recognizer(
        model, [feats[i] for i in tr], [texts[i] for i in tr], chars,
        [feats[i] for i in dev], [texts[i] for i in dev], epochs, batch_size, lr,
        callbacks=[dl.train.CSVLogger(str(folder / rf.HISTORY))], verbose=int(progress))
    seconds = time.perf_counter() - start
    dl.io.save(model, folder / rf.MODEL)
    metrics: dict[str, Any] = {"epochs": len(history), "seconds": round(seconds, 1),
                               "train_loss": history.history["loss"][-1]}
    lines = []
    if len(dev):
        hyps = transcribe(model, [feats[i] for i in dev], chars)
        refs = [texts[i] for i in dev]
        metrics["dev"] = {"cer": cer(refs, hyps), "wer": wer(refs, hyps), "utterances": len(dev)}
        lines = [f"{r}\t{h}" for r, h in zip(refs, hyps)]
    (folder / SAMPLES).write_text("reference\thypothesis\n" + "\n".join(lines) + "\n")
    rf.write_json(folder / rf.CONFIG, {
        "dlkit_version": dl.__version__, "command": "speech train", "task": "speech",
        "data": what, "rate": rate, "n_mels": N_MELS, "alphabet": chars.chars,
        "model": options, "options": {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                      "dev_size": dev_size, "seed": seed}})
    rf.write_json(folder / rf.METRICS, metrics)
    line = f"trained {len(history)} epochs in {seconds:.1f} s; wrote {folder}/"
    if "dev" in metrics:
        line += f"; dev CER {metrics['dev']['cer']:.3f}, WER {metrics['dev']['wer']:.3f}"
    click.echo(line)


@speech.command("transcribe")
@click.argument("run")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--beam", default=1, show_default=True, help="beam width (1: greedy)")
def transcribe_cmd(run: str, files: tuple[str, ...], beam: int) -> None:
    """Print the transcript of each WAV file."""
    command = "speech transcribe"
    folder = rf.run_folder(run, command)
    config = rf.read_json(folder, rf.CONFIG, command)
    if config.get("task") != "speech":
        raise UserError(f"{run!r} is not a speech run (task {config.get('task')!r}); pass a "
                        "folder written by dlkit speech train", command)
    model = dl.io.load(folder / rf.MODEL)
    chars = Alphabet(config["alphabet"])
    feats = []
    for f in files:
        if not Path(f).is_file():
            raise UserError(f"no such file {f!r}", command)
        try:
            audio, _ = load_wav(f, config["rate"])
        except WavError as e:
            raise UserError(str(e), command) from None
        feats.append(speech_features(audio, config["rate"], config["n_mels"]))
    for f, text in zip(files, transcribe(model, feats, chars, beam_width=beam)):
        click.echo(f"{f}\t{text}" if len(files) > 1 else text)


__all__ = ["speech"]
