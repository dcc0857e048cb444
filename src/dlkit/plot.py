"""Figures of a training run: learning curves and 2-D decision boundaries (matplotlib, the
optional ``plot`` extra; files are written with the non-interactive Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError('plotting needs matplotlib: pip install "dlkit[plot]"') from e
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: Any, path: str | Path, metrics: Sequence[str] = ("loss", "accuracy"),
                title: str = "") -> Path:
    """Training and dev curves per epoch, one panel per metric (``val_*`` dashed)."""
    plt = _pyplot()
    logs: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    shown = [m for m in metrics if m in logs]
    if not shown:
        raise ValueError(f"plot_curves: none of {list(metrics)} in the history; it has "
                         f"{sorted(logs)}")
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.6), squeeze=False)
    for ax, name in zip(axes[0], shown):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], label=f"train {name}")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], "--", label=f"dev {name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_decision_boundary(predict_class: Any, X: np.ndarray, y: np.ndarray, path: str | Path,
                           title: str = "", resolution: int = 300) -> Path:
    """The classes ``predict_class(points (n, 2)) -> (n,)`` assigns over the plane, with the
    examples on top (as the course's plot_decision_boundary)."""
    plt = _pyplot()
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: expected X of shape (m, 2), got {X.shape}")
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.c_[gx.ravel(), gy.ravel()].astype(X.dtype)
    zz = np.asarray(predict_class(grid)).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.contourf(gx, gy, zz, alpha=0.35, cmap="Spectral")
    ax.scatter(X[:, 0], X[:, 1], c=np.asarray(y).reshape(-1), s=12, cmap="Spectral",
               edgecolors="k", linewidths=0.3)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path, plt)


def _save(fig: Any, path: str | Path, plt: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
