"""The attention map: alpha<t, t'> as a picture, output tokens (rows) against input tokens
(columns), as the course's date exercise draws it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.plot import _pyplot, _save


def _label(token: str) -> str:
    return "␣" if token == " " else token


def plot_attention(alpha: Any, source: Sequence[str], output: Sequence[str], path: str | Path,
                   title: str = "") -> Path:
    """Heat map of ``alpha`` (T_y, T_x): row t is how much output token t attended to each
    input token (each row sums to 1)."""
    alpha = np.asarray(alpha, dtype=float)
    if alpha.shape != (len(output), len(source)):
        raise ValueError(f"plot_attention: expected alpha of shape ({len(output)}, "
                         f"{len(source)}) for the tokens given, got {alpha.shape}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.34 * len(source) + 1.6),
                                    max(3.0, 0.34 * len(output) + 1.4)))
    im = ax.imshow(alpha, cmap="Blues", vmin=0.0, vmax=max(float(alpha.max()), 1e-12),
                   aspect="auto")
    ax.set_xticks(range(len(source)))
    ax.set_xticklabels([_label(t) for t in source])
    ax.set_yticks(range(len(output)))
    ax.set_yticklabels([_label(t) for t in output])
    ax.set_xlabel("input")
    ax.set_ylabel("output")
    ax.tick_params(length=0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="alpha<t, t'>")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path, plt)


__all__ = ["plot_attention"]
