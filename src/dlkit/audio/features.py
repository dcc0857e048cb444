"""Spectral features: frames, STFT, the course's spectrogram, log-mel filterbanks, MFCCs.

Every function takes ``(..., n)`` samples (any leading batch axes) and returns time first,
``(..., n_frames, n_bins)``: a batch of spectrograms is ready for a ``(m, T, n)`` sequence
model. Frames are a strided view of the signal (no copy) and all frames go through one FFT.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided


def frames(x: Any, frame_length: int, hop_length: int) -> np.ndarray:
    """Overlapping frames as a read-only strided view: (..., n) -> (..., n_frames,
    frame_length), frame t = x[..., t*hop : t*hop + frame_length]; n_frames =
    1 + (n - frame_length) // hop (no padding; a signal shorter than a frame gives 0 frames)."""
    x = np.asarray(x)
    if frame_length <= 0 or hop_length <= 0:
        raise ValueError(f"frames: expected positive frame_length and hop_length, got "
                         f"{frame_length}, {hop_length}")
    n = x.shape[-1]
    n_frames = max(0, 1 + (n - frame_length) // hop_length) if n >= frame_length else 0
    shape = x.shape[:-1] + (n_frames, frame_length)
    strides = x.strides[:-1] + (x.strides[-1] * hop_length, x.strides[-1])
    return as_strided(x, shape=shape, strides=strides, writeable=False)


def get_window(window: Any, length: int) -> np.ndarray:
    """A window by name: ``"hann"`` (periodic, as scipy.signal and torch.stft),
    ``"hanning"`` (symmetric, ``np.hanning``, as matplotlib and the course), ``"hamming"``
    (periodic), ``"boxcar"``/``None``; or the array itself."""
    if window is None or (isinstance(window, str) and window in ("boxcar", "rect", "ones")):
        return np.ones(length)
    if isinstance(window, str):
        k = np.arange(length)
        if window == "hann":
            return 0.5 - 0.5 * np.cos(2 * np.pi * k / length)
        if window == "hanning":
            return np.hanning(length)
        if window == "hamming":
            return 0.54 - 0.46 * np.cos(2 * np.pi * k / length)
        raise ValueError(f"get_window: unknown window {window!r} (expected 'hann', "
                         f"'hanning', 'hamming', 'boxcar' or an array)")
    w = np.asarray(window, dtype=np.float64)
    if w.shape != (length,):
        raise ValueError(f"get_window: expected a window of length {length}, got shape "
                         f"{w.shape}")
    return w


def stft(x: Any, n_fft: int = 400, hop_length: int | None = None, window: Any = "hann",
         center: bool = False) -> np.ndarray:
    """Short-time Fourier transform X[..., t, k] = sum_j w[j] x[t*hop + j] e^{-2 pi i jk/n_fft},
    one-sided: (..., n) -> complex (..., n_frames, n_fft // 2 + 1). ``center`` pads n_fft/2
    on both sides by reflection (torch/librosa's default), so frame t is centred on t*hop."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    hop_length = hop_length or n_fft // 4
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        x = np.pad(x, pad, mode="reflect")
    if x.shape[-1] < n_fft:
        raise ValueError(f"stft: signal of {x.shape[-1]} samples is shorter than one frame "
                         f"(n_fft={n_fft})")
    w = get_window(window, n_fft).astype(x.dtype)
    return np.fft.rfft(frames(x, n_fft, hop_length) * w, axis=-1)


def spectrogram(x: Any, nfft: int = 200, fs: float = 8000, noverlap: int = 120,
                window: Any = "hanning") -> np.ndarray:
    """The course's spectrogram (``plt.specgram(x, nfft, fs, noverlap=noverlap)``): the
    one-sided power spectral density of Hanning-windowed frames, hop nfft - noverlap,
    P[t, k] = c_k |X[t, k]|^2 / (fs sum_j w_j^2) with c_k = 2 except at DC and Nyquist.
    (..., n) -> (..., n_frames, nfft // 2 + 1): time first (matplotlib returns (k, t));
    10 s at 44.1 kHz gives the course's (5511, 101). Stereo input: pass one channel."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if not 0 <= noverlap < nfft:
        raise ValueError(f"spectrogram: expected 0 <= noverlap < nfft, got noverlap="
                         f"{noverlap}, nfft={nfft}")
    w = get_window(window, nfft)
    spec = stft(x, nfft, nfft - noverlap, w)
    power = (spec.real ** 2 + spec.imag ** 2) / (fs * (w ** 2).sum())
    upper = -1 if nfft % 2 == 0 else None  # the Nyquist bin exists only for even nfft
    power[..., 1:upper] *= 2.0
    return power.astype(x.dtype)


def hz_to_mel(f: Any) -> Any:
    """HTK mel scale: m = 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: Any) -> Any:
    """f = 700 (10^(m / 2595) - 1)."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: float, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """Triangular filters (n_fft // 2 + 1, n_mels), centres equally spaced in mel between
    f_min and f_max (default sample_rate / 2); filter i rises from centre i-1 to 1 at centre i
    and falls to 0 at centre i+1 (torchaudio's ``melscale_fbanks`` with norm=None, HTK)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"mel_filterbank: expected 0 <= f_min < f_max <= sample_rate / 2, "
                         f"got f_min={f_min}, f_max={f_max}, sample_rate={sample_rate}")
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rise = (freqs[:, None] - lower) / (centre - lower)
    fall = (upper - freqs[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rise, fall))


def log_mel_spectrogram(x: Any, sample_rate: float, n_fft: int = 400,
                        hop_length: int | None = None, n_mels: int = 40,
                        f_min: float = 0.0, f_max: float | None = None,
                        eps: float = 1e-10) -> np.ndarray:
    """log(|STFT|^2 @ mel filters + eps): (..., n) -> (..., n_frames, n_mels); the default
    25 ms frames every 10 ms at 16 kHz (n_fft=400, hop=160)."""
    hop_length = hop_length or n_fft * 2 // 5
    spec = stft(x, n_fft, hop_length, "hann")
    power = spec.real ** 2 + spec.imag ** 2
    mel = power @ mel_filterbank(n_mels, n_fft, sample_rate, f_min, f_max).astype(power.dtype)
    return np.log(mel + eps).astype(np.result_type(np.asarray(x).dtype, np.float32))


def dct_ii(x: Any, n: int | None = None) -> np.ndarray:
    """Orthonormal DCT-II along the last axis, keeping the first n coefficients:
    C_k = s_k sum_j x_j cos(pi k (2j + 1) / (2N)), s_0 = sqrt(1/N), s_k = sqrt(2/N)."""
    x = np.asarray(x)
    N = x.shape[-1]
    n = N if n is None else n
    k, j = np.arange(n)[:, None], np.arange(N)[None, :]
    basis = np.cos(np.pi * k * (2 * j + 1) / (2 * N)) * np.sqrt(2.0 / N)
    basis[0] *= np.sqrt(0.5)
    return x @ basis.T.astype(x.dtype)


def mfcc(x: Any, sample_rate: float, n_mfcc: int = 13, n_mels: int = 40, n_fft: int = 400,
         hop_length: int | None = None, **mel_options: Any) -> np.ndarray:
    """Mel-frequency cepstral coefficients: the first n_mfcc coefficients of the orthonormal
    DCT-II of the log-mel spectrogram, (..., n) -> (..., n_frames, n_mfcc)."""
    if n_mfcc > n_mels:
        raise ValueError(f"mfcc: expected n_mfcc <= n_mels, got {n_mfcc} > {n_mels}")
    return dct_ii(log_mel_spectrogram(x, sample_rate, n_fft, hop_length, n_mels,
                                      **mel_options), n_mfcc)
