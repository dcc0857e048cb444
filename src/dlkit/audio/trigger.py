"""Trigger-word detection, the course's method (course 5, week 3).

Training examples are synthesized: positive clips (the trigger word, "activate") and
negative clips (other words) are overlaid at random non-overlapping places on a background;
the label y has T_y steps (1375 for 10 s) and is 1 for the 50 steps right after each
positive ends (``insert_ones``; several ones instead of one make the labels less
imbalanced). Times are in milliseconds as the course's pydub code; audio is float arrays.

Detection runs the model over a recording and marks (with a chime) every step where the
output probability is above a threshold, at most once per refractory period (the course's
``chime_on_activate``: 75 steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlkit.audio.features import spectrogram
from dlkit.audio.signal import apply_gain, match_target_amplitude
from dlkit.backend import generator

T_Y = 1375  # output steps of the course's model for a 10 s clip
ONES_AFTER = 50  # label steps set to 1 after each trigger word
REFRACTORY_STEPS = 75  # the course's chime_on_activate: at most one chime per 75 steps


def _randint(rng: Any, low: int, high: int) -> int:
    """One integer in [low, high): np.random.Generator.integers or the course's
    np.random.randint (a RandomState, or the np.random module itself)."""
    rng = generator() if rng is None else rng
    if hasattr(rng, "integers"):
        return int(rng.integers(low, high))
    return int(rng.randint(low=low, high=high))


def is_overlapping(segment_time: tuple[int, int],
                   previous_segments: Sequence[tuple[int, int]]) -> bool:
    """Whether (start, end) in ms overlaps any previous (start, end), ends included."""
    segment_start, segment_end = segment_time
    return any(segment_start <= previous_end and segment_end >= previous_start
               for previous_start, previous_end in previous_segments)


def get_random_time_segment(segment_ms: int, background_ms: int = 10_000,
                            rng: Any = None) -> tuple[int, int]:
    """A random segment of ``segment_ms`` ms inside the background: start uniform in
    [0, background_ms - segment_ms), end = start + segment_ms - 1 (the course's)."""
    segment_ms = int(segment_ms)
    if segment_ms >= background_ms:
        raise ValueError(f"get_random_time_segment: a clip of {segment_ms} ms does not fit in "
                         f"a background of {background_ms} ms")
    start = _randint(rng, 0, background_ms - segment_ms)
    return start, start + segment_ms - 1


def duration_ms(samples: Any, rate: int) -> int:
    """A clip's length in whole milliseconds (pydub's ``len(segment)``)."""
    return int(round(len(samples) * 1000 / rate))


def insert_audio_clip(background: Any, audio_clip: Any, previous_segments: list, rate: int,
                      rng: Any = None, retries: int = 5) -> tuple[np.ndarray, tuple[int, int]]:
    """Overlay ``audio_clip`` on ``background`` at a random segment that overlaps none of
    ``previous_segments`` (tried 1 + ``retries`` times, the course's newer version); the
    segment is appended to ``previous_segments``. When no free place is found the background
    comes back unchanged with segment (background_ms, background_ms)."""
    background = np.asarray(background)
    clip = np.asarray(audio_clip)
    background_ms = duration_ms(background, rate)
    segment_ms = duration_ms(clip, rate)
    if len(clip) >= len(background):
        raise ValueError(f"insert_audio_clip: the clip ({segment_ms} ms) is longer than the "
                         f"background ({background_ms} ms)")
    segment_time = get_random_time_segment(segment_ms, background_ms, rng)
    while is_overlapping(segment_time, previous_segments) and retries > 0:
        segment_time = get_random_time_segment(segment_ms, background_ms, rng)
        retries -= 1
    if is_overlapping(segment_time, previous_segments):
        return background.copy(), (background_ms, background_ms)
    previous_segments.append(segment_time)
    start = int(segment_time[0] * rate / 1000)
    stop = min(len(background), start + len(clip))
    out = background.copy()
    out[start:stop] += clip[:stop - start].astype(out.dtype)
    return out, segment_time


def insert_ones(y: Any, segment_end_ms: int, background_ms: int = 10_000,
                n_ones: int = ONES_AFTER) -> np.ndarray:
    """Set the ``n_ones`` label steps strictly after the segment's end to 1 (in place, and
    returned): segment_end_y = int(segment_end_ms * T_y / background_ms), steps
    segment_end_y + 1 ... segment_end_y + n_ones that are < T_y. ``y`` is (1, T_y) as the
    course, or (T_y,)."""
    flat = y.reshape(-1) if y.ndim == 2 and y.shape[0] == 1 else y
    if flat.ndim != 1:
        raise ValueError(f"insert_ones: expected y of shape (1, T_y) or (T_y,), got {y.shape}")
    Ty = flat.shape[0]
    end = int(segment_end_ms * Ty / background_ms)
    if end < Ty:
        flat[end + 1:min(Ty, end + 1 + n_ones)] = 1
    return y


def refractory_after(Ty: int, background_ms: float) -> int:
    """The course's 75-step refractory period (of 1375 steps over 10 s) for another T_y."""
    return max(1, int(round(REFRACTORY_STEPS * (Ty / T_Y) * (10_000 / background_ms))))


def output_steps(n_frames: int, kernel: int = 15, stride: int = 4) -> int:
    """T_y of the course's model: the Conv1D (kernel 15, stride 4, valid) over T_x frames."""
    return (n_frames - kernel) // stride + 1


@dataclass
class TriggerExample:
    """One synthesized example: the audio, its labels (T_y,), where the words went
    (segments in ms) and which clips they were (indices into the clip lists)."""

    audio: np.ndarray
    y: np.ndarray
    positives: list[tuple[int, int]]
    negatives: list[tuple[int, int]]
    positive_clips: list[int] = field(default_factory=list)
    negative_clips: list[int] = field(default_factory=list)
    background: int = 0
    offset: int = 0

    def recipe(self) -> dict[str, Any]:
        """What it takes to render the example again from the same clips (a few numbers)."""
        return {"background": self.background, "offset": self.offset,
                "positives": [[c, s[0], s[1]] for c, s in zip(self.positive_clips,
                                                              self.positives)],
                "negatives": [[c, s[0], s[1]] for c, s in zip(self.negative_clips,
                                                              self.negatives)]}


def ones_after(Ty: int, background_ms: float) -> int:
    """The course's 50 label steps of T_y = 1375 over 10 s, as steps of another T_y and
    length (the same 0.36 s)."""
    return max(1, int(round(ONES_AFTER * (Ty / T_Y) * (10_000 / background_ms))))


def render_example(recipe: dict[str, Any], backgrounds: Sequence[Any],
                   activates: Sequence[Any], negatives: Sequence[Any], rate: int,
                   length: int, Ty: int, background_gain_db: float = -20.0,
                   target_dbfs: float = -20.0) -> TriggerExample:
    """An example from its ``recipe`` (``TriggerExample.recipe()``): the same audio and
    labels ``create_training_example`` made."""
    offset = int(recipe["offset"])
    bg = np.asarray(backgrounds[int(recipe["background"])], np.float32)[offset:offset + length]
    audio = apply_gain(bg, background_gain_db)
    background_ms = duration_ms(audio, rate)
    y = np.zeros(Ty, dtype=np.float32)
    n_ones = ones_after(Ty, background_ms)
    for clips, key in ((activates, "positives"), (negatives, "negatives")):
        for c, start, end in recipe[key]:
            clip = np.asarray(clips[int(c)], np.float32)
            first = int(int(start) * rate / 1000)
            stop = min(len(audio), first + len(clip))
            audio = audio.copy()
            audio[first:stop] += clip[:stop - first]
            if key == "positives":
                insert_ones(y, int(end), background_ms, n_ones)
    audio = match_target_amplitude(audio, target_dbfs)
    return TriggerExample(audio.astype(np.float32), y,
                          [(int(s), int(e)) for _, s, e in recipe["positives"]],
                          [(int(s), int(e)) for _, s, e in recipe["negatives"]],
                          [int(c) for c, _, _ in recipe["positives"]],
                          [int(c) for c, _, _ in recipe["negatives"]],
                          int(recipe["background"]), offset)


def create_training_example(background: Any, activates: Sequence[Any],
                            negatives: Sequence[Any], rate: int, Ty: int = T_Y,
                            rng: Any = None, max_positives: int = 4, max_negatives: int = 2,
                            background_gain_db: float = -20.0,
                            target_dbfs: float = -20.0) -> TriggerExample:
    """The course's ``create_training_example``: the background 20 dB quieter, 0 to 4 random
    positive clips (each followed by ``insert_ones``), 0 to 2 negative clips, all without
    overlap, and the mix brought to -20 dBFS."""
    rng = generator() if rng is None else rng
    audio = apply_gain(np.asarray(background, dtype=np.float32), background_gain_db)
    background_ms = duration_ms(audio, rate)
    y = np.zeros(Ty, dtype=np.float32)
    n_ones = ones_after(Ty, background_ms)
    previous: list[tuple[int, int]] = []
    placed_pos, placed_neg, pos_clips, neg_clips = [], [], [], []
    for _ in range(_randint(rng, 0, max_positives + 1) if activates else 0):
        c = _randint(rng, 0, len(activates))
        audio, segment = insert_audio_clip(audio, activates[c], previous, rate, rng)
        if segment[0] < background_ms:
            insert_ones(y, segment[1], background_ms, n_ones)
            placed_pos.append(segment)
            pos_clips.append(c)
    for _ in range(_randint(rng, 0, max_negatives + 1) if negatives else 0):
        c = _randint(rng, 0, len(negatives))
        audio, segment = insert_audio_clip(audio, negatives[c], previous, rate, rng)
        if segment[0] < background_ms:
            placed_neg.append(segment)
            neg_clips.append(c)
    audio = match_target_amplitude(audio, target_dbfs)
    return TriggerExample(audio.astype(np.float32), y, placed_pos, placed_neg, pos_clips,
                          neg_clips)


def synthesize_examples(n: int, backgrounds: Sequence[Any], activates: Sequence[Any],
                        negatives: Sequence[Any], rate: int, seconds: float | None = None,
                        rng: Any = None, progress: Any = None) -> list[TriggerExample]:
    """``n`` examples on backgrounds cut to ``seconds`` (a random window of a longer one);
    T_y follows from the course's spectrogram and model for that length."""
    rng = generator() if rng is None else rng
    if not backgrounds:
        raise ValueError("synthesize_examples: expected at least one background clip")
    length = int(round(seconds * rate)) if seconds else min(len(b) for b in backgrounds)
    Ty = output_steps(n_spectrogram_frames(length))
    examples = []
    if min(len(b) for b in backgrounds) < length:
        raise ValueError(f"synthesize_examples: a background of "
                         f"{min(len(b) for b in backgrounds) / rate:.2f} s is shorter than the "
                         f"{length / rate:.2f} s examples")
    for _ in range(n):
        index = _randint(rng, 0, len(backgrounds))
        bg = np.asarray(backgrounds[index], dtype=np.float32)
        offset = _randint(rng, 0, len(bg) - length + 1)
        example = create_training_example(bg[offset:offset + length], activates, negatives,
                                          rate, Ty, rng)
        example.background, example.offset = index, offset
        examples.append(example)
        if progress is not None:
            progress.update(1)
    return examples


def n_spectrogram_frames(n_samples: int, nfft: int = 200, noverlap: int = 120) -> int:
    return (n_samples - nfft) // (nfft - noverlap) + 1


def examples_to_arrays(examples: Sequence[TriggerExample]) -> tuple[np.ndarray, np.ndarray]:
    """X (m, T_x, 101) course spectrograms (float32), Y (m, T_y, 1) labels."""
    audio = np.stack([e.audio for e in examples])
    X = spectrogram(audio.astype(np.float32))
    Y = np.stack([e.y for e in examples])[..., None]
    return X, Y


def detect_triggers(probabilities: Any, threshold: float = 0.5,
                    refractory: int = REFRACTORY_STEPS, min_steps: int = 1) -> list[int]:
    """Steps where a trigger is detected: the probability has been above ``threshold`` for
    ``min_steps`` consecutive steps, and more than ``refractory`` steps have passed since the
    last detection (the course's ``chime_on_activate`` is min_steps=1, refractory=75)."""
    p = np.asarray(probabilities).reshape(-1)
    detections: list[int] = []
    since, run = refractory, 0  # the course starts its counter at 0 and adds 1 before testing
    for i, v in enumerate(p):
        since += 1
        run = run + 1 if v > threshold else 0
        if run >= min_steps and since > refractory:
            detections.append(i)
            since = 0
    return detections


def chime(rate: int, seconds: float = 0.3) -> np.ndarray:
    """A short bell-like marker: 880 Hz and 1320 Hz with an exponential decay."""
    t = np.arange(int(rate * seconds)) / rate
    tone = np.sin(2 * np.pi * 880 * t) + 0.5 * np.sin(2 * np.pi * 1320 * t)
    return (0.4 * tone * np.exp(-t / (seconds / 4))).astype(np.float32)


def insert_chimes(audio: Any, rate: int, steps: Sequence[int], Ty: int,
                  marker: Any = None) -> np.ndarray:
    """Overlay a chime at each detected step (step i of T_y at i / T_y of the recording)."""
    out = np.asarray(audio, dtype=np.float32).copy()
    marker = chime(rate) if marker is None else np.asarray(marker, dtype=np.float32)
    for i in steps:
        start = int(i / Ty * len(out))
        stop = min(len(out), start + len(marker))
        out[start:stop] += marker[:stop - start]
    return np.clip(out, -1.0, 1.0)


def detection_scores(detections: Sequence[int], positive_ends_ms: Sequence[int],
                     background_ms: float, Ty: int, tolerance: int = ONES_AFTER) -> dict:
    """Event-level precision, recall and F1: a true trigger ending at e (ms) is found when a
    detection falls within ``tolerance`` steps after its label start
    int(e T_y / background_ms); each detection matches at most one trigger."""
    ends = sorted(int(e * Ty / background_ms) for e in positive_ends_ms)
    unused = sorted(detections)
    tp = 0
    for e in ends:
        hit = next((d for d in unused if e - 2 <= d <= e + tolerance), None)
        if hit is not None:
            unused.remove(hit)
            tp += 1
    fp, fn = len(unused), len(ends) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}
