"""Trigger-word datasets on disk, their batches, training and detection on recordings.

A dataset folder (``dlkit trigger synthesize`` writes it):

    clips/positives/*.wav  clips/negatives/*.wav  clips/backgrounds/*.wav
    dataset.json   rate, seconds, T_y, and one recipe per example (background, offset,
                   [clip, start ms, end ms] of each positive and negative)
    preview/       the first examples as WAV files, to listen to

Examples are rendered from their recipes when a batch is drawn (a few numbers per example
on disk instead of seconds of audio and spectrograms), so thousands fit anywhere.
Features: the course's spectrogram, log(P + 1e-10), standardized per frequency.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.audio import synth
from dlkit.audio import trigger as tw
from dlkit.audio.datasets import load_clip_folder, save_clip_folder
from dlkit.audio.features import spectrogram
from dlkit.audio.signal import match_target_amplitude, resample
from dlkit.audio.wav import write_wav
from dlkit.backend import generator
from dlkit.tensor import no_grad
from dlkit.train.loop import predict as _predict

DATASET = "dataset.json"


def trigger_features(audio: Any) -> np.ndarray:
    """log of the course's spectrogram: (..., n) -> (..., T_x, 101) float32."""
    return np.log(spectrogram(np.asarray(audio, np.float32)) + 1e-10).astype(np.float32)


def synthesize_dataset(out: str | Path, n: int = 4000, rate: int = 16000,
                       seconds: float = 5.0, source: str = "auto",
                       clips_dir: str | Path | None = None, n_positive: int = 40,
                       n_negative: int = 80, n_background: int = 8, previews: int = 3,
                       progress: Any = None) -> dict[str, Any]:
    """Make (or read, from ``clips_dir``) the clips and ``n`` example recipes under
    ``out``; returns the dataset's description (also written as ``dataset.json``)."""
    out = Path(out)
    if source == "auto":
        source = "espeak" if synth.espeak_available() else "tones"
    if clips_dir is not None:
        clips = load_clip_folder(clips_dir, rate)
        source = f"clips:{clips_dir}"
    else:
        clips = synth.clip_bank(n_positive, n_negative, n_background, rate,
                                max(seconds, 10.0), source, progress=progress)
    length = int(round(seconds * rate))
    recipes, shown = [], []
    for start in range(0, n, 100):  # in chunks: only the recipes are kept, not the audio
        chunk = tw.synthesize_examples(min(100, n - start), clips["backgrounds"],
                                       clips["positives"], clips["negatives"], rate, seconds,
                                       progress=progress)
        recipes += [e.recipe() for e in chunk]
        shown += chunk[:max(0, previews - len(shown))]
    save_clip_folder(out / "clips", clips, rate)
    Ty = tw.output_steps(tw.n_spectrogram_frames(length))
    description = {"rate": rate, "seconds": seconds, "length": length, "Ty": Ty,
                   "source": source, "n": n, "trigger": synth.TRIGGER_WORD,
                   "examples": recipes}
    (out / DATASET).write_text(json.dumps(description) + "\n")
    (out / "preview").mkdir(exist_ok=True)
    for i, e in enumerate(shown):
        write_wav(out / "preview" / f"example_{i:03d}.wav", e.audio, rate)
    return description


class TriggerDataset:
    """A dataset folder: its clips and example recipes; ``example(i)`` renders one."""

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        path = folder / DATASET
        if not path.is_file():
            raise FileNotFoundError(f"TriggerDataset: {folder} has no {DATASET} (make one with "
                                    f"dlkit trigger synthesize --out {folder})")
        try:
            self.description = json.loads(path.read_text())
            self.rate = int(self.description["rate"])
            self.length = int(self.description["length"])
            self.Ty = int(self.description["Ty"])
            self.recipes = self.description["examples"]
        except (ValueError, KeyError) as e:
            raise ValueError(f"TriggerDataset: {path} is not a trigger dataset ({e})") from None
        self.clips = load_clip_folder(folder / "clips", self.rate)

    def __len__(self) -> int:
        return len(self.recipes)

    def example(self, i: int) -> tw.TriggerExample:
        return tw.render_example(self.recipes[i], self.clips["backgrounds"],
                                 self.clips["positives"], self.clips["negatives"], self.rate,
                                 self.length, self.Ty)

    @property
    def background_ms(self) -> float:
        return self.length * 1000 / self.rate


class Standardize:
    """Per-frequency mean and standard deviation of the log-spectrogram features."""

    def __init__(self, mean: Any, std: Any) -> None:
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardize:
        flat = X.reshape(-1, X.shape[-1]).astype(np.float64)
        return cls(flat.mean(axis=0), flat.std(axis=0) + 1e-6)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


class TriggerBatches:
    """(X, Y) batches of a dataset's examples ``indices``: X (m, T_x, 101) standardized
    log-spectrograms, Y (m, T_y, 1). Re-iterable, reshuffled each pass when ``shuffle``."""

    def __init__(self, dataset: TriggerDataset, indices: Sequence[int], standardize: Standardize,
                 batch_size: int = 32, shuffle: bool = True) -> None:
        self.dataset, self.indices = dataset, np.asarray(indices)
        self.standardize, self.batch_size, self.shuffle = standardize, batch_size, shuffle

    def __len__(self) -> int:
        return -(-len(self.indices) // self.batch_size)

    def __iter__(self):
        order = generator().permutation(self.indices) if self.shuffle else self.indices
        for start in range(0, len(order), self.batch_size):
            examples = [self.dataset.example(int(i)) for i in order[start:start + self.batch_size]]
            X = self.standardize(trigger_features(np.stack([e.audio for e in examples])))
            Y = np.stack([e.y for e in examples])[..., None]
            yield X, Y


def probabilities(model: Any, X: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """sigmoid of the model's logits: (m, T_x, 101) -> (m, T_y)."""
    model.eval()
    with no_grad():
        z = _predict(model, X, batch_size=batch_size)
    return (1.0 / (1.0 + np.exp(-z[..., 0]))).astype(np.float32)


def evaluate_detection(model: Any, dataset: TriggerDataset, indices: Sequence[int],
                       standardize: Standardize, threshold: float = 0.5,
                       batch_size: int = 16) -> dict[str, float]:
    """Event-level precision, recall and F1 of detections on the examples ``indices``
    (a detection counts for a trigger when it falls in that trigger's label window)."""
    tp = fp = fn = 0
    refractory = tw.refractory_after(dataset.Ty, dataset.background_ms)
    tolerance = tw.ones_after(dataset.Ty, dataset.background_ms)
    for start in range(0, len(indices), batch_size):
        examples = [dataset.example(int(i)) for i in indices[start:start + batch_size]]
        X = standardize(trigger_features(np.stack([e.audio for e in examples])))
        for e, p in zip(examples, probabilities(model, X, batch_size)):
            found = tw.detect_triggers(p, threshold, refractory)
            s = tw.detection_scores(found, [end for _, end in e.positives],
                                    dataset.background_ms, dataset.Ty, tolerance)
            tp, fp, fn = tp + s["tp"], fp + s["fp"], fn + s["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "triggers": tp + fn,
            "detections": tp + fp}


def detect_in_recording(model: Any, audio: Any, rate: int, model_rate: int,
                        standardize: Standardize, threshold: float = 0.5,
                        level_dbfs: float | None = -20.0) -> dict[str, Any]:
    """Run the model over a recording of any length (resampled to the model's rate and, as
    the synthesized training examples, brought to ``level_dbfs``; None leaves the level):
    probabilities per output step, the detected steps (with the course's refractory period
    scaled to the step rate) and their times in seconds; ``audio`` is the recording at the
    model's rate and its own level."""
    x = np.asarray(audio, np.float32)
    if rate != model_rate:
        x = resample(x, rate, model_rate)
    model_input = x
    if level_dbfs is not None:  # as every training example (the course's -20 dBFS)
        model_input = match_target_amplitude(x, level_dbfs)
    n_frames = tw.n_spectrogram_frames(len(x))
    if n_frames < 15:
        raise ValueError(f"detect: the recording is too short ({len(x) / model_rate:.3f} s); "
                         f"it needs at least {(14 * 80 + 200) / model_rate:.3f} s")
    probs = probabilities(model, standardize(trigger_features(model_input))[None])[0]
    Ty = len(probs)
    step_seconds = len(x) / model_rate / Ty
    refractory = max(1, int(round(tw.REFRACTORY_STEPS * (10.0 / tw.T_Y) / step_seconds)))
    steps = tw.detect_triggers(probs, threshold, refractory)
    return {"audio": x, "rate": model_rate, "probabilities": probs, "steps": steps,
            "times": [round(s * step_seconds, 3) for s in steps]}


def split_indices(n: int, dev_size: float) -> tuple[np.ndarray, np.ndarray]:
    """A random train/dev split of n examples (dlkit's generator); dev at least 1 when
    dev_size > 0 and n > 1."""
    order = generator().permutation(n)
    n_dev = min(n - 1, max(1, int(round(dev_size * n)))) if dev_size > 0 and n > 1 else 0
    return np.sort(order[n_dev:]), np.sort(order[:n_dev])


def fit_trigger_model(model: Any, dataset: TriggerDataset, train: Sequence[int],
                      dev: Sequence[int], epochs: int = 10, batch_size: int = 32,
                      lr: float = 1e-3, callbacks: Sequence[Any] = (),
                      verbose: int = 0) -> tuple[Any, Standardize]:
    """Train with Adam on the binary cross-entropy of the per-step logits through
    ``dl.train.fit`` (batches rendered on the fly); features standardized with the
    statistics of up to 64 training examples. Returns (history, standardize)."""
    from dlkit.optim import Adam
    from dlkit.train.loop import fit

    sample = [dataset.example(int(i)).audio for i in np.asarray(train)[:64]]
    standardize = Standardize.fit(trigger_features(np.stack(sample)))
    data = TriggerBatches(dataset, train, standardize, batch_size)
    validation = TriggerBatches(dataset, dev, standardize, batch_size, False) if len(dev) \
        else None
    history = fit(model, "bce_logits", Adam(model.parameters(), lr=lr), data, epochs=epochs,
                  validation_data=validation, callbacks=callbacks, metrics=(), verbose=verbose)
    return history, standardize
