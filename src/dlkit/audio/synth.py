"""Audio made on the machine, no download: speech from eSpeak NG, generated "tone words",
and backgrounds (coloured noise, mains hum, babble).

eSpeak NG (Debian's ``espeak-ng`` package) speaks the trigger word, other words and digit
sequences in several voices, speeds and pitches. Where it is not installed,
``espeak_available()`` is False and the tone source stands in: each word is a fixed sequence
of harmonic chirps ("syllables") whose pitch, speed and loudness vary per utterance as a
speaker's would, so the same pipelines (synthesis, training, detection, CTC) run and are
tested without a synthesizer.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.audio.signal import match_target_amplitude, resample
from dlkit.audio.wav import read_wav, to_mono
from dlkit.backend import generator

TRIGGER_WORD = "activate"
NEGATIVE_WORDS = (
    "hello", "banana", "computer", "weather", "music", "kitchen", "lights", "tomorrow",
    "vacation", "actor", "garden", "window", "coffee", "library", "elephant", "morning",
    "yellow", "river", "ticket", "seven", "cabinet", "motivate", "navigate", "captivate",
)
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb+m3", "en-gb-scotland+f2", "en-029+m5",
          "en-gb-x-rp+f4", "en-us+m7")


class SynthesizerError(RuntimeError):
    """eSpeak NG is missing or failed."""


def espeak_binary() -> str | None:
    """The eSpeak NG executable on the PATH (``espeak-ng``, or the older ``espeak``)."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


def espeak_available() -> bool:
    return espeak_binary() is not None


def trim_silence(x: Any, threshold_db: float = -40.0, frame: int = 160) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``threshold_db`` below the loudest."""
    x = np.asarray(x)
    n = len(x) // frame
    if n == 0:
        return x
    energy = (x[:n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(axis=1)
    if energy.max() == 0:
        return x[:0]
    loud = np.flatnonzero(10 * np.log10(energy / energy.max() + 1e-20) > threshold_db)
    return x[loud[0] * frame:(loud[-1] + 1) * frame]


def speak(text: str, rate: int = 16000, voice: str = "en-us", speed: int = 160,
          pitch: int = 50, trim: bool = True) -> np.ndarray:
    """eSpeak NG saying ``text``: float32 mono at ``rate`` Hz (its 22050 Hz resampled),
    silence trimmed. ``speed`` in words per minute (80-450), ``pitch`` 0-99."""
    binary = espeak_binary()
    if binary is None:
        raise SynthesizerError("speak: eSpeak NG is not installed (apt-get install espeak-ng); "
                               "use source='tones' for generated audio")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        cmd = [binary, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-w",
               str(out), "--", text]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or not out.exists():
            raise SynthesizerError(f"speak: espeak-ng failed for voice {voice!r}: "
                                   f"{done.stderr.strip()[:200]}")
        x, native = read_wav(out)
    x = resample(to_mono(x), native, rate)
    return trim_silence(x) if trim else x


def random_voice(rng: Any = None) -> dict[str, Any]:
    """A random speaker: voice, speed (130-200 wpm) and pitch (25-75)."""
    rng = generator() if rng is None else rng
    return {"voice": VOICES[int(rng.integers(len(VOICES)))],
            "speed": int(rng.integers(130, 201)), "pitch": int(rng.integers(25, 76))}


# ---- generated "tone words" ------------------------------------------------------------

def _word_syllables(word: str) -> list[tuple[float, float]]:
    """A fixed chirp pattern for each word: 2-4 syllables (start Hz, end Hz) from its
    letters, so every word sounds different and always the same."""
    seed = sum((i + 1) * ord(c) for i, c in enumerate(word))
    r = np.random.default_rng(seed)
    n = 2 + len(word) % 3
    return [(float(r.uniform(300, 1200)), float(r.uniform(300, 1200))) for _ in range(n)]


def _chirp(f0: float, f1: float, n: int, rate: int) -> np.ndarray:
    t = np.arange(n) / rate
    duration = max(n / rate, 1e-9)
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * duration))
    voice = sum(np.sin(h * phase) / h for h in (1, 2, 3))  # a few harmonics, like a voice
    envelope = np.sqrt(np.clip(np.sin(np.pi * np.arange(n) / max(n - 1, 1)), 0.0, None))
    return voice * envelope


def tone_word(word: str, rate: int = 16000, rng: Any = None, pitch: float | None = None,
              speed: float | None = None) -> np.ndarray:
    """A generated stand-in for a spoken word: its syllable chirps, scaled in pitch
    (x0.8-1.25) and duration (100-170 ms a syllable) like a different speaker."""
    rng = generator() if rng is None else rng
    pitch = float(rng.uniform(0.8, 1.25)) if pitch is None else pitch
    seconds = float(rng.uniform(0.10, 0.17)) if speed is None else 0.135 / speed
    parts = []
    for f0, f1 in _word_syllables(word):
        n = int(seconds * rate)
        parts.append(_chirp(f0 * pitch, f1 * pitch, n, rate))
        parts.append(np.zeros(int(0.02 * rate)))
    return (0.5 * np.concatenate(parts[:-1])).astype(np.float32)


def say(text: str, rate: int = 16000, source: str = "espeak", rng: Any = None) -> np.ndarray:
    """``text`` by a random speaker: eSpeak NG, or tone words joined by short pauses."""
    rng = generator() if rng is None else rng
    if source == "espeak":
        return speak(text, rate, **random_voice(rng))
    if source != "tones":
        raise ValueError(f"say: expected source 'espeak' or 'tones', got {source!r}")
    pitch, speed = float(rng.uniform(0.8, 1.25)), float(rng.uniform(0.8, 1.3))
    pause = np.zeros(int(0.08 * rate), np.float32)
    words = [tone_word(w, rate, rng, pitch, speed) for w in text.split()]
    return np.concatenate([p for w in words for p in (w, pause)][:-1]) if words else pause


# ---- backgrounds ----------------------------------------------------------------------

NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0}


def coloured_noise(n: int, colour: str = "pink", rng: Any = None) -> np.ndarray:
    """Noise with power spectrum 1 / f^alpha (white 0, pink 1, brown 2, blue -1), unit RMS."""
    if colour not in NOISE_COLOURS:
        raise ValueError(f"coloured_noise: expected colour in {sorted(NOISE_COLOURS)}, got "
                         f"{colour!r}")
    rng = generator() if rng is None else rng
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spectrum / f ** (NOISE_COLOURS[colour] / 2), n)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def hum(n: int, rate: int, mains: float = 50.0) -> np.ndarray:
    """Mains hum: the mains frequency and its harmonics, unit RMS."""
    t = np.arange(n) / rate
    x = sum(np.sin(2 * np.pi * mains * h * t) / h for h in (1, 2, 3, 4))
    return (x / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def babble(n: int, clips: Sequence[Any], rng: Any = None, voices: int = 6) -> np.ndarray:
    """Several talkers at once: speech clips at random places, summed, unit RMS."""
    rng = generator() if rng is None else rng
    out = np.zeros(n, np.float32)
    for _ in range(voices * max(1, n // 16000)):
        clip = np.asarray(clips[int(rng.integers(len(clips)))], np.float32)[:n]
        start = int(rng.integers(0, n - len(clip) + 1))
        out[start:start + len(clip)] += clip
    return out / (np.sqrt(np.mean(out ** 2)) + 1e-12)


def random_background(n: int, rate: int, speech: Sequence[Any] = (), rng: Any = None,
                      dbfs: float = -30.0) -> np.ndarray:
    """A mix of coloured noise, sometimes hum, sometimes babble, at ``dbfs``."""
    rng = generator() if rng is None else rng
    colour = list(NOISE_COLOURS)[int(rng.integers(len(NOISE_COLOURS)))]
    x = coloured_noise(n, colour, rng)
    if rng.random() < 0.5:
        x = x + float(rng.uniform(0.2, 1.0)) * hum(n, rate, 50.0 if rng.random() < 0.5 else 60.0)
    if speech and rng.random() < 0.5:
        x = x + float(rng.uniform(0.3, 1.0)) * babble(n, speech, rng)
    return match_target_amplitude(x.astype(np.float32), dbfs)


def clip_bank(n_positive: int = 40, n_negative: int = 80, n_background: int = 8,
              rate: int = 16000, background_seconds: float = 10.0, source: str = "espeak",
              rng: Any = None, trigger: str = TRIGGER_WORD,
              negative_words: Sequence[str] = NEGATIVE_WORDS,
              progress: Any = None) -> dict[str, list[np.ndarray]]:
    """Clips for trigger-word synthesis, the course's three folders: ``positives`` (the
    trigger word by random speakers), ``negatives`` (other words) and ``backgrounds``."""
    rng = generator() if rng is None else rng
    positives, negatives = [], []
    for _ in range(n_positive):
        positives.append(say(trigger, rate, source, rng))
        if progress is not None:
            progress.update(1)
    for _ in range(n_negative):
        word = negative_words[int(rng.integers(len(negative_words)))]
        negatives.append(say(word, rate, source, rng))
        if progress is not None:
            progress.update(1)
    n = int(round(background_seconds * rate))
    backgrounds = []
    for _ in range(n_background):
        backgrounds.append(random_background(n, rate, negatives, rng))
        if progress is not None:
            progress.update(1)
    return {"positives": positives, "negatives": negatives, "backgrounds": backgrounds}


def digit_text(rng: Any = None, low: int = 1, high: int = 4) -> str:
    """A random digit sequence spoken as words: "three one four"."""
    rng = generator() if rng is None else rng
    n = int(rng.integers(low, high + 1))
    return " ".join(DIGITS[int(d)] for d in rng.integers(0, 10, n))
