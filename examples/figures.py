"""Figures for the examples: decision boundaries and cost curves, written as PNG files with
matplotlib's non-interactive Agg backend (nothing opens a window).

Not an example itself: the scripts next to it import it (``python examples/<name>.py`` puts
this folder on ``sys.path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import dlkit as dl

DEFAULT_OUT = Path(__file__).resolve().parent / "output"


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def subplots(n: int, cols: int = 3, size: float = 3.6) -> tuple[Any, list[Any]]:
    """A figure with ``n`` panels on a grid of ``cols`` columns; returns (fig, flat axes),
    with the unused panels hidden."""
    plt = pyplot()
    rows = -(-n // cols)
    cols = min(cols, n)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def predicted_class(model: dl.nn.Module, X: np.ndarray) -> np.ndarray:
    """1 where the model's logit is positive (sigma(z) > 0.5), else 0; shape (m,)."""
    return (dl.train.predict(model, X) > 0).astype(np.int64).reshape(-1)


def decision_boundary(ax: Any, model: dl.nn.Module, X: np.ndarray, y: np.ndarray,
                      title: str = "", resolution: int = 200) -> None:
    """The course's plot_decision_boundary: the class the model predicts over the plane,
    with the examples (X (m, 2), y (m, 1)) on top."""
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.c_[gx.ravel(), gy.ravel()].astype(X.dtype)
    zz = predicted_class(model, grid).reshape(gx.shape)
    ax.contourf(gx, gy, zz, levels=[-0.5, 0.5, 1.5], cmap="Spectral", alpha=0.5)
    ax.scatter(X[:, 0], X[:, 1], c=np.asarray(y).reshape(-1), cmap="Spectral", s=10,
               edgecolors="k", linewidths=0.3)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def cost_curve(ax: Any, costs: Any, label: str = "", every: int = 1,
               xlabel: str = "iterations") -> None:
    """Cost per iteration (or epoch), as the course's learning-curve plots."""
    costs = np.asarray(costs)
    ax.plot(np.arange(len(costs)) * every, costs, label=label or None)
    ax.set_xlabel(xlabel)
    ax.locator_params(axis="x", nbins=5)
    ax.set_ylabel("cost")
    ax.grid(alpha=0.3)
    if label:
        ax.legend(fontsize=8)


def save(fig: Any, out: str | Path, name: str) -> Path:
    """Write ``fig`` to ``out/name`` (creating ``out``), close it, print and return the path."""
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    print(f"figure: {path}")
    return path


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f} %"
