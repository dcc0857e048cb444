"""Spectrogram (the course's, against matplotlib), STFT against scipy, mel filters, MFCC."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.audio import (
    dct_ii,
    frames,
    hz_to_mel,
    log_mel_spectrogram,
    mel_filterbank,
    mel_to_hz,
    mfcc,
    spectrogram,
    stft,
)


def test_frames_is_a_strided_view():
    x = np.arange(10.0)
    f = frames(x, 4, 3)
    np.testing.assert_array_equal(f, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    assert np.shares_memory(f, x)
    assert frames(np.zeros((2, 3)), 4, 1).shape == (2, 0, 4)


@pytest.mark.parametrize("n", [8000, 4411])
def test_course_spectrogram_equals_matplotlib_specgram(n):
    mlab = pytest.importorskip("matplotlib.mlab")
    x = np.random.default_rng(0).standard_normal(n) * 1000
    pxx, freqs, bins = mlab.specgram(x, NFFT=200, Fs=8000, noverlap=120)
    ours = spectrogram(x)
    assert ours.shape == pxx.T.shape == ((n - 200) // 80 + 1, 101)
    assert np.abs(ours - pxx.T).max() / np.abs(pxx).max() < 1e-6
    np.testing.assert_allclose(ours, pxx.T, rtol=1e-6, atol=0)


def test_course_spectrogram_shape_for_ten_seconds_at_44k():
    x = np.zeros((2, 441000), np.float32)
    assert spectrogram(x).shape == (2, 5511, 101)
    assert spectrogram(x).dtype == np.float32


def test_int16_input_is_handled_as_matplotlib_does():
    mlab = pytest.importorskip("matplotlib.mlab")
    x = (np.random.default_rng(1).standard_normal(1000) * 3000).astype(np.int16)
    pxx, _, _ = mlab.specgram(x, NFFT=200, Fs=8000, noverlap=120)
    np.testing.assert_allclose(spectrogram(x), pxx.T, rtol=1e-6)


@pytest.mark.parametrize("window", ["hann", "hamming"])
def test_stft_equals_scipy_signal(window):
    signal = pytest.importorskip("scipy.signal")
    x = np.random.default_rng(2).standard_normal((3, 1000))
    ours = stft(x, n_fft=256, hop_length=64, window=window)
    w = signal.get_window(window, 256)
    _, _, ref = signal.stft(x, window=w, nperseg=256, noverlap=192, boundary=None,
                            padded=False, detrend=False, return_onesided=True)
    np.testing.assert_allclose(ours / w.sum(), np.swapaxes(ref, -1, -2), atol=1e-12)


def test_stft_centered_equals_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal(2000)
    ours = stft(x, n_fft=400, hop_length=160, window="hann", center=True)
    ref = torch.stft(torch.from_numpy(x), 400, 160, window=torch.hann_window(400,
                     dtype=torch.float64), center=True, pad_mode="reflect",
                     return_complex=True).numpy().T
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_stft_errors():
    with pytest.raises(ValueError, match="shorter than one frame"):
        stft(np.zeros(10), n_fft=64)
    with pytest.raises(ValueError, match="unknown window"):
        stft(np.zeros(100), n_fft=64, window="kaiser7")
    with pytest.raises(ValueError, match="noverlap"):
        spectrogram(np.zeros(1000), nfft=200, noverlap=200)


def test_mel_scale_and_filterbank():
    assert hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))
    np.testing.assert_allclose(mel_to_hz(hz_to_mel([0, 440, 4000])), [0, 440, 4000])
    fb = mel_filterbank(10, 512, 16000)
    assert fb.shape == (257, 10) and fb.min() >= 0 and fb.max() <= 1
    freqs = np.linspace(0, 8000, 257)
    centres = mel_to_hz(np.linspace(0, hz_to_mel(8000), 12))[1:-1]
    # each filter peaks at the bin nearest to its centre frequency
    nearest = np.abs(freqs[:, None] - centres).argmin(axis=0)
    np.testing.assert_array_equal(fb.argmax(axis=0), nearest)
    with pytest.raises(ValueError, match="f_max"):
        mel_filterbank(10, 512, 16000, f_max=9000)


def test_mel_filterbank_equals_torchaudio_formula():
    # torchaudio.functional.melscale_fbanks (HTK, norm=None), written out
    n_freqs, n_mels, sr = 201, 23, 16000
    all_freqs = np.linspace(0, sr // 2, n_freqs)
    m_pts = np.linspace(hz_to_mel(20.0), hz_to_mel(7600.0), n_mels + 2)
    f_pts = mel_to_hz(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    ref = np.maximum(0, np.minimum(down, up))
    np.testing.assert_allclose(mel_filterbank(n_mels, 400, sr, 20.0, 7600.0), ref, atol=1e-12)


def test_dct_equals_scipy_and_mfcc_shapes():
    fft = pytest.importorskip("scipy.fft")
    x = np.random.default_rng(4).standard_normal((5, 40))
    np.testing.assert_allclose(dct_ii(x, 13), fft.dct(x, norm="ortho")[:, :13], atol=1e-12)
    audio = np.random.default_rng(5).standard_normal((2, 16000)).astype(np.float32)
    lm = log_mel_spectrogram(audio, 16000)
    assert lm.shape == (2, 98, 40) and lm.dtype == np.float32 and np.isfinite(lm).all()
    c = mfcc(audio, 16000, n_mfcc=13)
    assert c.shape == (2, 98, 13)
    np.testing.assert_allclose(c, dct_ii(lm, 13), rtol=1e-5, atol=1e-4)
    assert np.isfinite(log_mel_spectrogram(np.zeros(1000), 16000)).all()
    with pytest.raises(ValueError, match="n_mfcc"):
        mfcc(audio, 16000, n_mfcc=50)
