"""WAV files: read and write 8/16/24/32-bit PCM and 32/64-bit float, mono or multichannel.

Samples come back as ``(n,)`` for mono or ``(n, channels)`` (time first, as
``scipy.io.wavfile``), scaled to floats in [-1, 1) by default or as the stored integers with
``normalize=False``. Writing uses the standard library's ``wave`` for PCM and writes the
RIFF ``fmt``/``data`` chunks itself for IEEE float (``wave`` does not write format 3).
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path
from typing import Any

import numpy as np

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_PCM_WIDTHS = (1, 2, 3, 4)
_FLOAT_WIDTHS = (4, 8)


class WavError(ValueError):
    """A file that is not a WAV file dlkit can read (not RIFF/WAVE, an unsupported format)."""


def _chunks(raw: bytes, path: str) -> dict[bytes, bytes]:
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise WavError(f"read_wav: {path} is not a WAV file (no RIFF/WAVE header)")
    chunks, pos = {}, 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        chunks.setdefault(cid, raw[pos + 8:pos + 8 + size])
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    if b"fmt " not in chunks or b"data" not in chunks:
        raise WavError(f"read_wav: {path} has no 'fmt ' or 'data' chunk (truncated file?)")
    return chunks


def _decode(data: bytes, fmt: int, width: int, path: str) -> tuple[np.ndarray, float]:
    """Raw little-endian samples -> (array, full scale); 24-bit PCM widened to int32."""
    if fmt == _FLOAT:
        if width not in _FLOAT_WIDTHS:
            raise WavError(f"read_wav: {path}: unsupported float sample width {width * 8} bits "
                           f"(expected 32 or 64)")
        return np.frombuffer(data[:len(data) // width * width], f"<f{width}"), 1.0
    if fmt != _PCM:
        raise WavError(f"read_wav: {path}: unsupported WAV format code {fmt} (expected PCM "
                       f"or IEEE float; compressed WAV files are not read)")
    if width not in _PCM_WIDTHS:
        raise WavError(f"read_wav: {path}: unsupported sample width {width * 8} bits "
                       f"(expected 8, 16, 24 or 32)")
    n = len(data) // width
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        return np.frombuffer(data[:n], np.uint8).astype(np.int16) - 128, 128.0
    if width == 3:
        b = np.frombuffer(data[:n * 3], np.uint8).reshape(n, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.int32), float(1 << 23)
    return np.frombuffer(data[:n * width], f"<i{width}"), float(1 << (8 * width - 1))


def read_wav(path: str | Path, normalize: bool = True,
             dtype: Any = np.float32) -> tuple[np.ndarray, int]:
    """Read a WAV file -> (samples, sample_rate); samples ``(n,)`` mono or ``(n, channels)``.

    ``normalize``: integer PCM divided by its full scale (int16 / 32768) into ``dtype``;
    ``False`` keeps the stored integers (or floats).
    """
    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise WavError(f"read_wav: {path} is a directory, not a WAV file") from None
    chunks = _chunks(raw, path)
    fmt_chunk = chunks[b"fmt "]
    if len(fmt_chunk) < 16:
        raise WavError(f"read_wav: {path}: 'fmt ' chunk too short")
    fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt_chunk[:16])
    if fmt == _EXTENSIBLE and len(fmt_chunk) >= 26:
        fmt = struct.unpack("<H", fmt_chunk[24:26])[0]  # first two bytes of the subformat GUID
    if channels < 1 or rate < 1:
        raise WavError(f"read_wav: {path}: bad header ({channels} channels, rate {rate})")
    samples, scale = _decode(chunks[b"data"], fmt, (bits + 7) // 8, path)
    samples = samples[:len(samples) // channels * channels]
    if channels > 1:
        samples = samples.reshape(-1, channels)
    if not normalize:
        return samples.copy(), rate
    out = samples.astype(dtype)
    if fmt == _PCM:
        out /= np.asarray(scale, dtype=out.dtype)
    return out, rate


def write_wav(path: str | Path, samples: Any, rate: int, sample_format: str = "pcm16") -> None:
    """Write ``samples`` ((n,) or (n, channels)) at ``rate`` Hz.

    ``sample_format``: ``"pcm16"`` (floats in [-1, 1] scaled by 32767 and clipped; integer
    arrays written as they are), ``"float32"`` or ``"float64"`` (IEEE float WAV).
    """
    x = np.asarray(samples)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError(f"write_wav: expected samples (n,) or (n, channels), got shape "
                         f"{x.shape}")
    if x.ndim == 2 and x.shape[1] > x.shape[0]:
        raise ValueError(f"write_wav: expected (n, channels) with time first, got shape "
                         f"{x.shape}; transpose? (x.T)")
    channels = 1 if x.ndim == 1 else x.shape[1]
    rate = int(rate)
    if rate <= 0:
        raise ValueError(f"write_wav: expected a positive sample rate, got {rate}")
    if sample_format == "pcm16":
        if np.issubdtype(x.dtype, np.integer):
            pcm = np.clip(x, -32768, 32767).astype("<i2")
        else:
            pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        return
    widths = {"float32": 4, "float64": 8}
    if sample_format not in widths:
        raise ValueError(f"write_wav: expected sample_format 'pcm16', 'float32' or 'float64', "
                         f"got {sample_format!r}")
    width = widths[sample_format]
    data = x.astype(f"<f{width}").tobytes()
    fmt = struct.pack("<HHIIHH", _FLOAT, channels, rate, rate * channels * width,
                      channels * width, width * 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def to_mono(samples: Any) -> np.ndarray:
    """(n, channels) -> (n,) by averaging the channels; mono passes through."""
    x = np.asarray(samples)
    return x if x.ndim == 1 else x.mean(axis=1).astype(x.dtype)
