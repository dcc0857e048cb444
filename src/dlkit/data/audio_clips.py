"""AudioClipDataset: WAV clips read when asked for, with the standard library's ``wave``.

(The speech work's ``dlkit.audio`` holds spectrograms and synthesis; this is only the
reading a data pipeline needs.)
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.data.dataset import Dataset
from dlkit.data.image_folder import scan_class_folders

_PCM = {1: (np.uint8, 128.0, 128.0), 2: (np.dtype("<i2"), 0.0, 32768.0),
        4: (np.dtype("<i4"), 0.0, 2147483648.0)}


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """``(samples (T, channels) in [-1, 1], sample_rate)`` of a PCM WAV file (8, 16, 24 or
    32 bit), in the default float dtype."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as e:
        raise ValueError(f"read_wav: cannot read WAV file {str(path)!r}: {e}") from e
    if width == 3:  # 24-bit: widen to 32 bits
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        ints = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
                | (b[:, 2].astype(np.int8).astype(np.int32) << 16))
        x = ints.astype(np.float64) / 8388608.0
    elif width in _PCM:
        dtype, zero, scale = _PCM[width]
        x = (np.frombuffer(raw, dtype).astype(np.float64) - zero) / scale
    else:
        raise ValueError(f"read_wav: {str(path)!r} has {8 * width}-bit samples; expected 8, "
                         f"16, 24 or 32-bit PCM")
    return x.reshape(-1, channels).astype(get_default_dtype()), rate


class AudioClipDataset(Dataset):
    """``ds[i] = (clip, label)``: clip ``(T, channels)`` floats in [-1, 1] (``mono`` averages
    the channels to one), cut or zero-padded to ``duration`` seconds when given (otherwise
    clips of different lengths are padded by the loader into a ``PaddedSequence``);
    ``label`` from ``labels`` (or -1 without). Every file must have ``sample_rate`` (the first
    file's rate when None). ``AudioClipDataset.from_folder(root)`` takes a folder per class."""

    def __init__(self, files: Sequence[str | os.PathLike], labels: Sequence[int] | None = None,
                 sample_rate: int | None = None, duration: float | None = None,
                 mono: bool = True, transform: Callable[[np.ndarray], Any] | None = None) -> None:
        self.files = [str(f) for f in files]
        if not self.files:
            raise ValueError("AudioClipDataset: expected at least one WAV file")
        if labels is not None and len(labels) != len(self.files):
            raise ValueError(f"AudioClipDataset: {len(labels)} labels for {len(self.files)} "
                             f"files")
        self.labels = np.full(len(self.files), -1, np.int64) if labels is None else \
            np.asarray(labels, dtype=np.int64)
        if sample_rate is None:
            with wave.open(self.files[0], "rb") as w:
                sample_rate = w.getframerate()
        self.sample_rate, self.duration, self.mono = int(sample_rate), duration, mono
        self.transform = transform
        self.classes: list[str] = []

    @classmethod
    def from_folder(cls, root: str | os.PathLike, **kwargs: Any) -> AudioClipDataset:
        """``root/<class>/<clip>.wav``: labels are class indices, ``ds.classes`` the names."""
        classes, samples = scan_class_folders("AudioClipDataset", root, (".wav",))
        ds = cls([p for p, _ in samples], [c for _, c in samples], **kwargs)
        ds.classes = classes
        return ds

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path = self.files[index]
        x, rate = read_wav(path)
        if rate != self.sample_rate:
            raise ValueError(f"AudioClipDataset: {path!r} is sampled at {rate} Hz, expected "
                             f"{self.sample_rate} Hz (resample it)")
        if self.mono and x.shape[1] > 1:
            x = x.mean(axis=1, keepdims=True)
        if self.duration is not None:
            n = int(round(self.duration * self.sample_rate))
            x = x[:n] if len(x) >= n else np.concatenate(
                [x, np.zeros((n - len(x), x.shape[1]), x.dtype)])
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.labels[index])
