"""``dlkit trigger``: trigger-word detection (course 5, week 3).

    dlkit trigger synthesize --out data/trigger --n 4000      # clips + example recipes
    dlkit trigger train --data data/trigger --epochs 10 --out runs/trigger
    dlkit trigger detect runs/trigger recording.wav --out marked.wav   # + marked.png

``synthesize`` speaks "activate" and other words with eSpeak NG (or uses generated tone
words where it is missing, or ``--clips DIR`` of positives/negatives/backgrounds WAVs) over
generated backgrounds. ``train`` fits the course's model (Conv1D 196 k15 s4, BN, GRU 128 x 2,
time-distributed sigmoid) and reports event-level F1 on a dev split. ``detect`` chimes at
every detection of a recording of any length and draws waveform, spectrogram and output.
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
from dlkit.audio import trigger as tw
from dlkit.audio import trigger_data as td
from dlkit.audio.datasets import load_wav
from dlkit.audio.plot import plot_detection
from dlkit.audio.wav import WavError, write_wav
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.models.trigger import trigger_word_model
from dlkit.strategy import run_folder as rf

CMD = "trigger"
PICTURE = "detection.png"


@cli.group(CMD)
def trigger() -> None:
    """Trigger-word detection: synthesize data, train the course's model, detect."""


def _source(source: str, command: str) -> str:
    if source == "espeak" and not synth.espeak_available():
        raise UserError("--source espeak: eSpeak NG is not installed (apt-get install "
                        "espeak-ng), or use --source tones", command)
    return source


def _synthesize(out: Path, n: int, rate: int, seconds: float, source: str,
                clips: str | None, positives: int, negatives: int, backgrounds: int,
                progress: bool, command: str) -> dict[str, Any]:
    if n < 1 or rate < 4000 or seconds <= 0.5:
        raise UserError(f"expected --n >= 1, --rate >= 4000 and --seconds > 0.5, got {n}, "
                        f"{rate}, {seconds}", command)
    total = n + (0 if clips else positives + negatives + backgrounds)
    with tqdm(total=total, desc="synthesize", unit="clip", disable=not progress,
              leave=False) as bar:
        try:
            return td.synthesize_dataset(out, n, rate, seconds, _source(source, command),
                                         clips, positives, negatives, backgrounds,
                                         progress=bar)
        except (FileNotFoundError, WavError, ValueError, synth.SynthesizerError) as e:
            raise UserError(str(e), command) from None


@trigger.command("synthesize")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="dataset folder")
@click.option("--n", "n", default=4000, show_default=True, help="examples")
@click.option("--rate", default=16000, show_default=True, help="sample rate (Hz)")
@click.option("--seconds", default=5.0, show_default=True, help="length of an example")
@click.option("--source", type=click.Choice(["auto", "espeak", "tones"]), default="auto",
              show_default=True, help="speech: eSpeak NG, generated tone words, or auto")
@click.option("--clips", type=click.Path(), default=None,
              help="use the WAVs of DIR/{positives,negatives,backgrounds} instead")
@click.option("--positives", default=40, show_default=True, help="trigger-word clips")
@click.option("--negatives", default=80, show_default=True, help="other-word clips")
@click.option("--backgrounds", default=8, show_default=True, help="background clips")
@click.option("--seed", default=0, show_default=True)
@click.option("--progress/--no-progress", default=True)
def synthesize(out: str, n: int, rate: int, seconds: float, source: str, clips: str | None,
               positives: int, negatives: int, backgrounds: int, seed: int,
               progress: bool) -> None:
    """Write clips and N synthesized examples' recipes to OUT."""
    dl.manual_seed(seed)
    d = _synthesize(Path(out), n, rate, seconds, source, clips, positives, negatives,
                    backgrounds, progress, "trigger synthesize")
    n_pos = sum(len(r["positives"]) for r in d["examples"])
    click.echo(f"wrote {out}/: {n} examples of {seconds:g} s at {rate} Hz ({d['source']}), "
               f"{n_pos} trigger words in all; T_y = {d['Ty']}; listen to {out}/preview/")


@trigger.command("train")
@click.option("--data", type=click.Path(), default=None,
              help="dataset folder (default: synthesize --n 600 into RUN/data)")
@click.option("--epochs", default=10, show_default=True)
@click.option("--batch-size", default=32, show_default=True)
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--dropout", default=0.2, show_default=True,
              help="drop probability (the course uses 0.8 on a pretrained model)")
@click.option("--filters", default=196, show_default=True)
@click.option("--units", default=128, show_default=True)
@click.option("--dev-size", default=0.1, show_default=True)
@click.option("--threshold", default=0.5, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="run folder")
@click.option("--progress/--no-progress", default=True)
def train(data: str | None, epochs: int, batch_size: int, lr: float, dropout: float,
          filters: int, units: int, dev_size: float, threshold: float, seed: int,
          out: str | None, progress: bool) -> None:
    """Train the course's trigger-word model; write a run folder."""
    command = "trigger train"
    if epochs < 1 or batch_size < 1 or not 0 <= dropout < 1 or not 0 <= dev_size < 1:
        raise UserError("expected --epochs, --batch-size >= 1, --dropout and --dev-size in "
                        "[0, 1)", command)
    dl.manual_seed(seed)
    folder = rf.new_run_folder(out, "trigger")
    if data is None:
        data = str(folder / "data")
        _synthesize(Path(data), 600, 16000, 5.0, "auto", None, 40, 80, 8, progress, command)
    try:
        dataset = td.TriggerDataset(data)
    except (FileNotFoundError, ValueError, WavError) as e:
        raise UserError(f"--data: {e}", command) from None
    train_idx, dev_idx = td.split_indices(len(dataset), dev_size)
    model = trigger_word_model(filters=filters, units=units, dropout=dropout)
    click.echo(f"{data}: {len(train_idx)} train / {len(dev_idx)} dev examples of "
               f"{dataset.length / dataset.rate:g} s at {dataset.rate} Hz, T_y = {dataset.Ty}; "
               f"model {model.num_parameters()} parameters")
    start = time.perf_counter()
    history, standardize = td.fit_trigger_model(
        model, dataset, train_idx, dev_idx, epochs, batch_size, lr,
        callbacks=[dl.train.CSVLogger(str(folder / rf.HISTORY))], verbose=int(progress))
    seconds = time.perf_counter() - start
    dl.io.save(model, folder / rf.MODEL)
    metrics: dict[str, Any] = {"epochs": len(history), "seconds": round(seconds, 1),
                               "train_loss": history.history["loss"][-1]}
    if len(dev_idx):
        metrics["dev"] = td.evaluate_detection(model, dataset, dev_idx, standardize, threshold)
        metrics["val_loss"] = history.history["val_loss"][-1]
        shown = next((int(i) for i in dev_idx if dataset.recipes[int(i)]["positives"]),
                     int(dev_idx[0]))  # a dev example with a trigger word, if any
        e = dataset.example(shown)
        x = standardize(td.trigger_features(e.audio)[None])
        p = td.probabilities(model, x)[0]
        found = tw.detect_triggers(p, threshold, tw.refractory_after(dataset.Ty,
                                                                     dataset.background_ms))
        plot_detection(e.audio, dataset.rate, p, folder / PICTURE, found, threshold, e.y,
                       title="dev example: labels (green), output, detections")
    rf.write_json(folder / rf.CONFIG, {
        "dlkit_version": dl.__version__, "command": "trigger train", "task": "trigger",
        "data": str(data), "rate": dataset.rate, "seconds": dataset.length / dataset.rate,
        "Ty": dataset.Ty, "threshold": threshold, "standardize": standardize.to_dict(),
        "options": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "dropout": dropout,
                    "filters": filters, "units": units, "dev_size": dev_size, "seed": seed}})
    rf.write_json(folder / rf.METRICS, metrics)
    line = f"trained {len(history)} epochs in {seconds:.1f} s; wrote {folder}/"
    if "dev" in metrics:
        d = metrics["dev"]
        line += (f"; dev F1 {d['f1']:.3f} (precision {d['precision']:.3f}, recall "
                 f"{d['recall']:.3f}, {d['triggers']} triggers)")
    click.echo(line)


def _load_run(run: str, command: str) -> tuple[Any, dict[str, Any]]:
    folder = rf.run_folder(run, command)
    config = rf.read_json(folder, rf.CONFIG, command)
    if config.get("task") != "trigger":
        raise UserError(f"{run!r} is not a trigger run (task {config.get('task')!r}); pass "
                        "a folder written by dlkit trigger train", command)
    return dl.io.load(folder / rf.MODEL), config


@trigger.command("detect")
@click.argument("run")
@click.argument("recording", type=click.Path())
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="the recording with a chime at each detection (default: RECORDING "
                   "name + _marked.wav)")
@click.option("--png", default=None, type=click.Path(dir_okay=False),
              help="waveform, spectrogram and output (default: OUT with .png)")
@click.option("--threshold", default=None, type=float, help="default: the run's")
def detect(run: str, recording: str, out: str | None, png: str | None,
           threshold: float | None) -> None:
    """Mark every trigger word in RECORDING (a WAV of any length) with a chime."""
    command = "trigger detect"
    model, config = _load_run(run, command)
    threshold = config.get("threshold", 0.5) if threshold is None else threshold
    if not Path(recording).is_file():
        raise UserError(f"no such recording {recording!r}", command)
    try:
        audio, rate = load_wav(recording)
        result = td.detect_in_recording(model, audio, rate, config["rate"],
                                        td.Standardize(**config["standardize"]), threshold)
    except (WavError, ValueError) as e:
        raise UserError(str(e), command) from None
    out_path = Path(out) if out else Path(recording).with_name(Path(recording).stem +
                                                               "_marked.wav")
    marked = tw.insert_chimes(result["audio"], result["rate"], result["steps"],
                              len(result["probabilities"]))
    write_wav(out_path, marked, result["rate"])
    png_path = Path(png) if png else out_path.with_suffix(".png")
    plot_detection(result["audio"], result["rate"], result["probabilities"], png_path,
                   result["steps"], threshold, title=Path(recording).name)
    times = ", ".join(f"{t:.2f} s" for t in result["times"]) or "none"
    click.echo(f"{len(result['steps'])} detections ({times}); wrote {out_path} and {png_path}")
    click.echo(f"max P(trigger) {float(np.max(result['probabilities'])):.3f}")


__all__ = ["trigger"]


