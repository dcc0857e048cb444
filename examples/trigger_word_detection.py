"""Course 5, week 3 programming exercise: Trigger word detection.

Part 1 runs the course's data-synthesis helpers and prints what the notebook prints:
``is_overlapping((950, 1430), [(2000, 2550), (260, 949)])`` -> False and
``is_overlapping((2305, 2950), [(824, 1532), (1900, 2305), (3424, 3656)])`` -> True;
``insert_ones`` at 9700 ms then 4251 ms -> ``arr1[0][1333], arr1[0][634], arr1[0][635]`` =
0.0 1.0 0.0; the spectrogram of a 10 s clip at 44.1 kHz has T_x = 5511 frames of 101
frequencies and the model's output T_y = 1375 steps.

Part 2 synthesizes training examples (positives "activate" and negatives overlaid on
backgrounds, labels 1 for the 0.36 s after each "activate"), trains the course's model
(Conv1D 196 k15 s4, BN, ReLU, dropout, GRU 128, dropout, BN, GRU 128, dropout, BN, dropout,
time-distributed sigmoid) with Adam through ``dl.train.fit``, reports event-level precision,
recall and F1 on a dev set, and marks detections with a chime on the course's dev
recordings (or a generated 20 s recording), saving WAVs and a PNG of waveform, spectrogram
and output probability.

Clips: the course's own (``--course-data DIR`` with its raw_data_activates_*,
raw_data_negatives_*, raw_data_backgrounds_*, raw_data_dev_* WAVs; by default
``../shared/course-data/trigger`` next to the repository, used when present), else eSpeak NG
speech (``apt-get install espeak-ng``), else generated tone words. The course trains at
44.1 kHz on 10 s clips (T_x 5511); the default here resamples to 8 kHz (T_x 998, T_y 246),
which a CPU trains in minutes: ``--rate 44100`` for the course's shapes. The course starts
from a model trained on 4000 examples for hours and uses dropout 0.8; from scratch, a
smaller dropout (0.2) learns in a few epochs.

    python examples/trigger_word_detection.py            # a few minutes
    python examples/trigger_word_detection.py --quick    # under a minute
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.audio import read_wav, synth, write_wav
from dlkit.audio import trigger as tw
from dlkit.audio import trigger_data as td
from dlkit.audio.datasets import load_wav, save_clip_folder
from dlkit.audio.plot import plot_detection
from dlkit.models.trigger import trigger_word_model

COURSE_DATA = Path(__file__).resolve().parents[2] / "shared" / "course-data" / "trigger"
PREFIXES = {"positives": "raw_data_activates_", "negatives": "raw_data_negatives_",
            "backgrounds": "raw_data_backgrounds_"}


def part1(course: Path | None) -> None:
    print("Part 1: the course's helpers")
    print("  overlap 1 =", tw.is_overlapping((950, 1430), [(2000, 2550), (260, 949)]))
    print("  overlap 2 =", tw.is_overlapping((2305, 2950), [(824, 1532), (1900, 2305),
                                                            (3424, 3656)]))
    arr1 = tw.insert_ones(np.zeros((1, tw.T_Y)), 9700)
    arr1 = tw.insert_ones(arr1, 4251)
    print("  insert_ones: arr1[0][1333], arr1[0][634], arr1[0][635] =", arr1[0][1333],
          arr1[0][634], arr1[0][635], "(course: 0.0 1.0 0.0)")
    if course is not None and (course / "train.wav").exists():
        x, rate = read_wav(course / "train.wav")
        name = "the course's train.wav"
    else:
        rate, name = 44100, "10 s of generated noise"
        x = synth.coloured_noise(10 * rate, "pink")
    spec = dl.audio.spectrogram(x[:, 0] if x.ndim == 2 else x)
    print(f"  spectrogram of {name} at {rate} Hz: {spec.shape} (course: (101, 5511) "
          f"frequency-first); T_y = {tw.output_steps(spec.shape[0])}")


def course_clips(course: Path, folder: Path) -> bool:
    """Lay the course's flat files out as positives/negatives/backgrounds folders."""
    found = False
    for name, prefix in PREFIXES.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for f in sorted(course.glob(prefix + "*.wav")):
            shutil.copy(f, folder / name / f.name)
            found = True
    return found


def long_recording(rate: int, source: str, rng) -> tuple[np.ndarray, list[float]]:
    """20 s: background, four "activate"s and three other words; returns the audio and the
    times the triggers end."""
    x = synth.random_background(20 * rate, rate, rng=rng, dbfs=-35)
    ends = []
    for t, word in [(1.0, "activate"), (3.5, "banana"), (6.0, "activate"), (9.0, "kitchen"),
                    (12.0, "activate"), (15.5, "motivate"), (17.5, "activate")]:
        w = synth.say(word, rate, source, rng) * 0.5
        i = int(t * rate)
        x[i:i + len(w)] += w
        if word == "activate":
            ends.append(round(t + len(w) / rate, 2))
    return dl.audio.match_target_amplitude(x, -20.0), ends


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--course-data", type=Path, default=COURSE_DATA)
    p.add_argument("--rate", type=int, default=8000)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--add-speech", action="store_true",
                   help="with the course's clips, add eSpeak NG positives and negatives")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    a = p.parse_args()
    if a.quick:
        a.n, a.epochs, a.seconds = 160, 4, 5.0
    a.out.mkdir(parents=True, exist_ok=True)
    dl.manual_seed(a.seed)
    course = a.course_data if a.course_data.is_dir() else None
    part1(course)

    print("\nPart 2: synthesize, train, detect")
    source = "espeak" if synth.espeak_available() else "tones"
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "clips"
        use_course = course is not None and course_clips(course, clips)
        if use_course and a.add_speech and synth.espeak_available():
            # the course's 10 "activate" clips are few: add eSpeak NG speakers to them
            extra = synth.clip_bank(40, 60, 0, a.rate, source="espeak")
            save_clip_folder(clips, {"positives": extra["positives"],
                                     "negatives": extra["negatives"]}, a.rate)
        start = time.perf_counter()
        description = td.synthesize_dataset(Path(tmp) / "data", a.n, a.rate, a.seconds, source,
                                            clips if use_course else None)
        origin = "the course's" if use_course else description["source"]
        print(f"  {a.n} examples of {a.seconds:g} s at {a.rate} Hz from {origin} clips, "
              f"T_y = {description['Ty']} "
              f"({time.perf_counter() - start:.1f} s)")
        dataset = td.TriggerDataset(Path(tmp) / "data")
        train, dev = td.split_indices(len(dataset), 0.1)
        model = trigger_word_model(dropout=0.2)
        print(f"  the course's model: {model.num_parameters()} parameters")
        start = time.perf_counter()
        history, standardize = td.fit_trigger_model(model, dataset, train, dev, a.epochs,
                                                    batch_size=16, lr=1e-3, verbose=1)
        print(f"  trained {a.epochs} epochs in {time.perf_counter() - start:.0f} s: loss "
              f"{history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f}, "
              f"dev loss {history.history['val_loss'][-1]:.4f}")
        scores = td.evaluate_detection(model, dataset, dev, standardize)
        print(f"  dev ({len(dev)} examples, {scores['triggers']} triggers): precision "
              f"{scores['precision']:.3f}, recall {scores['recall']:.3f}, F1 {scores['f1']:.3f}")

    recordings = sorted(course.glob("raw_data_dev_*.wav")) if course is not None else []
    if not recordings:
        x, ends = long_recording(a.rate, source, np.random.default_rng(a.seed))
        write_wav(a.out / "trigger_long.wav", x, a.rate)
        print(f"  generated 20 s recording, triggers end at {ends} s")
        recordings = [a.out / "trigger_long.wav"]
    for path in recordings:
        audio, rate = load_wav(path)
        r = td.detect_in_recording(model, audio, rate, a.rate, standardize, 0.5)
        marked = tw.insert_chimes(r["audio"], r["rate"], r["steps"], len(r["probabilities"]))
        write_wav(a.out / f"{path.stem}_chime.wav", marked, r["rate"])
        png = plot_detection(r["audio"], r["rate"], r["probabilities"],
                             a.out / f"{path.stem}_detection.png", r["steps"], 0.5,
                             title=path.name)
        print(f"  {path.name}: detections at {r['times']} s -> {png}")


if __name__ == "__main__":
    main()
