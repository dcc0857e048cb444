"""WAV reading and writing, resampling and loudness."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from dlkit.audio import (
    WavError,
    apply_gain,
    dbfs,
    match_target_amplitude,
    read_wav,
    resample,
    to_mono,
    write_wav,
)


def _tone(n=800, rate=8000, f=440.0, channels=1):
    t = np.arange(n) / rate
    x = 0.5 * np.sin(2 * np.pi * f * t)
    return x if channels == 1 else np.stack([x, -0.25 * x], axis=1)


@pytest.mark.parametrize("channels", [1, 2])
def test_pcm16_round_trip_mono_and_stereo(tmp_path, channels):
    x = _tone(channels=channels)
    write_wav(tmp_path / "a.wav", x, 8000)
    y, rate = read_wav(tmp_path / "a.wav")
    assert rate == 8000 and y.shape == x.shape and y.dtype == np.float32
    assert np.abs(y - x).max() < 1.0 / 32767 + 1e-6
    raw, _ = read_wav(tmp_path / "a.wav", normalize=False)
    assert raw.dtype == np.int16 and raw.max() == int(round(0.5 * 32767))


@pytest.mark.parametrize("fmt", ["float32", "float64"])
def test_float_wav_round_trip_equals_scipy(tmp_path, fmt):
    wavfile = pytest.importorskip("scipy.io.wavfile")
    x = _tone(channels=2)
    write_wav(tmp_path / "f.wav", x, 16000, sample_format=fmt)
    y, rate = read_wav(tmp_path / "f.wav", normalize=False)
    ref_rate, ref = wavfile.read(tmp_path / "f.wav")
    assert rate == ref_rate == 16000 and y.dtype == ref.dtype
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_allclose(y, x.astype(fmt))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32])
def test_reads_pcm_widths_written_by_scipy(tmp_path, dtype):
    wavfile = pytest.importorskip("scipy.io.wavfile")
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(50, 3), dtype=dtype)
    wavfile.write(tmp_path / "p.wav", 22050, x)
    y, rate = read_wav(tmp_path / "p.wav", normalize=False)
    expected = x.astype(np.int16) - 128 if dtype == np.uint8 else x
    assert rate == 22050
    np.testing.assert_array_equal(y, expected)
    scaled, _ = read_wav(tmp_path / "p.wav")
    assert np.abs(scaled).max() <= 1.0


def test_reads_24_bit_pcm(tmp_path):
    values = np.array([0, 1, -1, 2 ** 23 - 1, -(2 ** 23)], dtype=np.int64)
    data = b"".join(int(v & 0xFFFFFF).to_bytes(3, "little") for v in values)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 24000, 3, 24)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack(
        "<I", len(data)) + data + b"\0"
    (tmp_path / "p24.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    y, _ = read_wav(tmp_path / "p24.wav", normalize=False)
    np.testing.assert_array_equal(y, values)


def test_not_a_wav_file_and_unsupported_width_are_clear_errors(tmp_path):
    (tmp_path / "notes.wav").write_text("these are not samples")
    with pytest.raises(WavError, match="not a WAV file"):
        read_wav(tmp_path / "notes.wav")
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000 * 6, 6, 48)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 12)
    (tmp_path / "w48.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body) + 12) + body
                                       + bytes(12))
    with pytest.raises(WavError, match="unsupported sample width 48 bits"):
        read_wav(tmp_path / "w48.wav")
    with pytest.raises(ValueError, match="transpose"):
        write_wav(tmp_path / "t.wav", np.zeros((2, 100)), 8000)
    with pytest.raises(ValueError, match="sample_format"):
        write_wav(tmp_path / "t.wav", np.zeros(10), 8000, sample_format="mp3")


def test_to_mono_averages_channels():
    x = np.array([[1.0, 3.0], [2.0, 0.0]], np.float32)
    np.testing.assert_array_equal(to_mono(x), [2.0, 1.0])


@pytest.mark.parametrize("n, old, new", [(1000, 8000, 16000), (1001, 44100, 8000),
                                         (999, 16000, 8000), (800, 8000, 11025)])
def test_resample_equals_scipy(n, old, new):
    signal = pytest.importorskip("scipy.signal")
    x = np.random.default_rng(1).standard_normal((n, 2))
    y = resample(x, old, new)
    ref = signal.resample(x, int(round(n * new / old)), axis=0)
    np.testing.assert_allclose(y, ref, atol=1e-10)


def test_resample_keeps_a_tone_frequency():
    x = _tone(n=8000, rate=8000, f=500.0)
    y = resample(x, 8000, 16000)
    peak = np.argmax(np.abs(np.fft.rfft(y)))
    assert len(y) == 16000 and peak * 16000 / len(y) == pytest.approx(500.0)


def test_gain_and_match_target_amplitude():
    x = _tone().astype(np.float32)
    assert dbfs(x) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=1e-3)
    assert dbfs(apply_gain(x, 6.0)) == pytest.approx(dbfs(x) + 6.0, abs=1e-4)
    y = match_target_amplitude(x, -20.0)
    assert y.dtype == np.float32 and dbfs(y) == pytest.approx(-20.0, abs=1e-4)
    assert dbfs(np.zeros(10)) == -np.inf
    np.testing.assert_array_equal(match_target_amplitude(np.zeros(10), -20.0), 0.0)
