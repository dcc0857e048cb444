"""Pictures of the Transformer: the attention weights of each head, and the positional
encoding table (matplotlib, the optional ``plot`` extra, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.plot import _pyplot, _save


def _array(x: Any) -> np.ndarray:
    return np.asarray(to_numpy(getattr(x, "data", x)), dtype=np.float64)


def plot_attention_heads(weights: Any, path: str | Path,
                         query_labels: Sequence[str] | None = None,
                         key_labels: Sequence[str] | None = None, title: str = "",
                         heads: Sequence[int] | None = None) -> Path:
    """One heat map per head of the attention weights (num_heads, T_q, T_k) of one example
    (rows: the queries, columns: the keys they attend to; each row sums to 1)."""
    plt = _pyplot()
    w = _array(weights)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ValueError(f"plot_attention_heads: expected weights of shape (num_heads, T_q, "
                         f"T_k) for one example, got shape {w.shape}")
    chosen = list(range(len(w))) if heads is None else list(heads)
    for h in chosen:
        if not 0 <= h < len(w):
            raise ValueError(f"plot_attention_heads: head {h} out of range: the weights have "
                             f"{len(w)} heads")
    for name, labels, n in (("query_labels", query_labels, w.shape[1]),
                            ("key_labels", key_labels, w.shape[2])):
        if labels is not None and len(labels) != n:
            raise ValueError(f"plot_attention_heads: {len(labels)} {name} for {n} positions")
    cols = min(4, len(chosen))
    rows = -(-len(chosen) // cols)
    cell = max(2.2, 0.28 * max(w.shape[1:]))
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols + 0.6, cell * rows + 0.6),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, h in zip(axes.ravel(), chosen):
        ax.axis("on")
        ax.imshow(w[h], cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_title(f"head {h}", fontsize=9)
        if key_labels is not None:
            ax.set_xticks(range(len(key_labels)), list(key_labels), fontsize=7)
        if query_labels is not None:
            ax.set_yticks(range(len(query_labels)), list(query_labels), fontsize=7)
        ax.set_xlabel("key", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_positional_encoding(table: Any, path: str | Path, title: str = "") -> Path:
    """The positional encoding table (positions, d_model) as a heat map, beside the curves of
    a few of its dimensions over the positions (the course's picture)."""
    plt = _pyplot()
    pe = _array(table)
    if pe.ndim != 2:
        raise ValueError(f"plot_positional_encoding: expected a table (positions, d_model), "
                         f"got shape {pe.shape}")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    im = ax0.imshow(pe, cmap="RdBu", aspect="auto", vmin=-1, vmax=1)
    ax0.set_xlabel("dimension i")
    ax0.set_ylabel("position")
    fig.colorbar(im, ax=ax0)
    d = pe.shape[1]
    for i in sorted({0, 1, 2 * (d // 16), 2 * (d // 16) + 1, 2 * (d // 4)} & set(range(d))):
        ax1.plot(pe[:, i], label=f"i = {i} ({'sin' if i % 2 == 0 else 'cos'})")
    ax1.set_xlabel("position")
    ax1.set_ylabel("PE(position, i)")
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3)
    fig.suptitle(title or f"positional encoding, d_model = {d}")
    fig.tight_layout()
    return _save(fig, path, plt)


__all__ = ["plot_attention_heads", "plot_positional_encoding"]
