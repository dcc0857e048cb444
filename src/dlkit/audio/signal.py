"""Resampling and loudness: ``resample``, ``dbfs``, ``apply_gain``, ``match_target_amplitude``.

Loudness follows pydub (the course's ``match_target_amplitude``): dBFS = 20 log10(rms / full
scale), with full scale 1 for float audio in [-1, 1]; a gain of g dB multiplies by 10^(g/20).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def resample(x: Any, orig_rate: int, new_rate: int, axis: int = 0) -> np.ndarray:
    """Band-limited resampling by the FFT (as ``scipy.signal.resample``): the spectrum of the
    n samples is cut or zero-padded to n' = round(n new_rate / orig_rate) bins and inverted.
    Best for whole clips (it treats the signal as periodic)."""
    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"resample: expected positive rates, got {orig_rate} -> {new_rate}")
    x = np.asarray(x)
    n = x.shape[axis]
    if orig_rate == new_rate or n == 0:
        return x.copy()
    n_new = int(round(n * new_rate / orig_rate))
    spectrum = np.fft.rfft(x, axis=axis)
    keep = min(spectrum.shape[axis], n_new // 2 + 1)
    shape = list(spectrum.shape)
    shape[axis] = n_new // 2 + 1
    out = np.zeros(shape, spectrum.dtype)
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, keep)
    out[tuple(index)] = spectrum[tuple(index)]
    # a Nyquist bin present in only one of the two lengths is split / merged as scipy does
    if n % 2 == 0 and keep == n // 2 + 1 and n_new > n:
        index[axis] = n // 2
        out[tuple(index)] *= 0.5
    if n_new % 2 == 0 and n_new < n:
        index[axis] = n_new // 2
        out[tuple(index)] *= 2.0
    y = np.fft.irfft(out, n_new, axis=axis) * (n_new / n)
    return y.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)


def dbfs(x: Any, full_scale: float = 1.0) -> float:
    """Loudness in dB relative to full scale: 20 log10(rms / full_scale); -inf for silence."""
    x = np.asarray(x, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return -np.inf if rms == 0 else 20.0 * np.log10(rms / full_scale)


def apply_gain(x: Any, gain_db: float) -> np.ndarray:
    """x * 10^(gain_db / 20)."""
    x = np.asarray(x)
    return (x * (10.0 ** (gain_db / 20.0))).astype(x.dtype)


def match_target_amplitude(x: Any, target_dbfs: float, full_scale: float = 1.0) -> np.ndarray:
    """The course's helper: apply the gain that brings x's dBFS to ``target_dbfs``
    (silence stays silence)."""
    level = dbfs(x, full_scale)
    if not np.isfinite(level):
        return np.asarray(x).copy()
    return apply_gain(x, target_dbfs - level)
