"""Figures of audio: waveform, spectrogram and the trigger model's output over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlkit.audio.features import spectrogram


def plot_detection(audio: Any, rate: int, probabilities: Any, path: str | Path,
                   detections: Any = (), threshold: float | None = None,
                   labels: Any = None, title: str = "") -> Path:
    """Three panels sharing the time axis: the waveform, the course's spectrogram (dB) and
    the output probability (with the threshold, the detections and, if given, the labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(audio, np.float32)
    seconds = len(x) / rate
    p = np.asarray(probabilities).reshape(-1)
    t_out = (np.arange(len(p)) + 0.5) * seconds / len(p)
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    axes[0].plot(np.arange(len(x)) / rate, x, lw=0.5, color="tab:blue")
    axes[0].set_ylabel("amplitude")
    spec = 10 * np.log10(spectrogram(x) + 1e-12).T
    axes[1].imshow(spec, aspect="auto", origin="lower", extent=(0, seconds, 0, rate / 2),
                   cmap="magma", vmin=np.percentile(spec, 5), vmax=spec.max())
    axes[1].set_ylabel("frequency (Hz)")
    if labels is not None:
        axes[2].fill_between(t_out, 0, np.asarray(labels).reshape(-1), color="tab:green",
                             alpha=0.25, step="mid", label="labels")
    axes[2].plot(t_out, p, color="tab:orange", label="P(trigger)")
    if threshold is not None:
        axes[2].axhline(threshold, ls="--", color="gray", lw=1, label="threshold")
    for i, d in enumerate(detections):
        for ax in axes:
            ax.axvline(t_out[d], color="tab:red", lw=1, alpha=0.8,
                       label="detection" if ax is axes[2] and i == 0 else None)
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_ylabel("probability")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(loc="upper right", fontsize=8)
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
