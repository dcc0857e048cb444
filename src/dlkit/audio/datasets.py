"""Audio datasets on disk: the course's clip folders and transcript manifests.

- Clip folders (the course's trigger-word data): ``root/positives/*.wav``,
  ``root/negatives/*.wav``, ``root/backgrounds/*.wav``; every clip is read, made mono and
  resampled to one rate.
- Manifests: one utterance a line, ``path<TAB>transcript``; paths relative to the
  manifest's folder; blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.audio.signal import resample
from dlkit.audio.wav import read_wav, to_mono, write_wav

CLIP_FOLDERS = ("positives", "negatives", "backgrounds")


def load_wav(path: str | Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """A WAV file as float32 mono, resampled to ``rate`` when given."""
    x, native = read_wav(path)
    x = to_mono(x)
    if rate is not None and rate != native:
        return resample(x, native, rate), rate
    return x, native


def load_clip_folder(root: str | Path, rate: int = 16000) -> dict[str, list[np.ndarray]]:
    """{"positives": [...], "negatives": [...], "backgrounds": [...]} from the folders under
    ``root`` (WAV files in name order); positives and backgrounds must not be empty."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"load_clip_folder: {root} is not a folder")
    clips: dict[str, list[np.ndarray]] = {}
    for name in CLIP_FOLDERS:
        folder = root / name
        files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
        if not files and name != "negatives":
            raise FileNotFoundError(f"load_clip_folder: no WAV files in {folder} (expected the "
                                    f"layout {root}/{{positives,negatives,backgrounds}}/*.wav)")
        clips[name] = [load_wav(f, rate)[0] for f in files]
    return clips


def save_clip_folder(root: str | Path, clips: dict[str, list[Any]], rate: int) -> None:
    """Write clips as ``root/<folder>/<folder>_<i>.wav`` (16-bit PCM)."""
    for name in CLIP_FOLDERS:
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, clip in enumerate(clips.get(name, [])):
            write_wav(folder / f"{name[:-1]}_{i:04d}.wav", clip, rate)


def read_manifest(path: str | Path) -> list[tuple[Path, str]]:
    """[(audio path, transcript), ...] from a ``path<TAB>text`` manifest."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_manifest: no manifest file {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise ValueError(f"read_manifest: {path}:{number}: expected 'path<TAB>text', got "
                             f"{line[:60]!r}")
        audio, text = line.split("\t", 1)
        audio_path = Path(audio) if Path(audio).is_absolute() else path.parent / audio
        rows.append((audio_path, text.strip()))
    if not rows:
        raise ValueError(f"read_manifest: {path} lists no utterances")
    return rows


def write_manifest(path: str | Path, rows: Iterable[tuple[str | Path, str]]) -> None:
    """Write ``path<TAB>text`` lines (paths written as given)."""
    lines = []
    for audio, text in rows:
        if "\t" in text or "\n" in text:
            raise ValueError(f"write_manifest: a transcript holds a tab or newline: {text!r}")
        lines.append(f"{audio}\t{text}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_manifest(path: str | Path, rate: int = 16000) -> tuple[list[np.ndarray], list[str]]:
    """The utterances of a manifest as (audio list, transcript list)."""
    rows = read_manifest(path)
    audio, texts = [], []
    for audio_path, text in rows:
        if not audio_path.is_file():
            raise FileNotFoundError(f"load_manifest: {path} lists {audio_path}, which does not "
                                    f"exist")
        audio.append(load_wav(audio_path, rate)[0])
        texts.append(text)
    return audio, texts
