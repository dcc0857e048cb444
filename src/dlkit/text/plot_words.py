"""Words in 2-D (course 5 week 2: the notes' t-SNE picture of an embedding): PCA (the two
leading principal directions) or t-SNE (scikit-learn's ``TSNE``), drawn with labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlkit.plot import _pyplot, _save
from dlkit.text.vectors import WordVectors

METHODS = ("pca", "tsne")


def project_2d(X: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(n, d) -> (n, 2): the projections on the two leading principal components of the
    centred rows, or a t-SNE map (perplexity min(30, (n - 1) / 3); exact up to 500 words)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 3:
        raise ValueError(f"project_2d: expected at least 3 vectors (n, d), got shape {X.shape}")
    if method == "pca":
        centred = X - X.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        out = centred @ vt[:2].T
        return out if out.shape[1] == 2 else np.c_[out, np.zeros(len(out))]
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as e:
            raise ImportError('t-SNE needs scikit-learn: pip install "dlkit[data]"') from e
        perplexity = max(1.0, min(30.0, (len(X) - 1) / 3))
        method = "exact" if len(X) <= 500 else "barnes_hut"  # exact is faster for a few words
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed,
                    method=method).fit_transform(X)
    raise ValueError(f"project_2d: method must be one of {METHODS}, got {method!r}")


def plot_words(vectors: WordVectors, words: Sequence[str], path: str | Path,
               method: str = "pca", groups: Sequence[int] | None = None, title: str = "",
               seed: int = 0) -> Path:
    """A scatter of ``words`` (each must be in ``vectors``) in 2-D, each point labelled;
    ``groups`` colours the points by group number. Written to ``path`` (PNG)."""
    words = list(dict.fromkeys(words))
    X = np.stack([vectors[w] for w in words])
    xy = project_2d(X, method, seed)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = None if groups is None else [f"C{g % 10}" for g in groups]
    ax.scatter(xy[:, 0], xy[:, 1], s=18, c=colours)
    for (x, y), w in zip(xy, words, strict=True):
        ax.annotate(w, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    ax.set_title(title or f"{len(words)} words, {'t-SNE' if method == 'tsne' else 'PCA'} of "
                 f"{vectors.dim}-d vectors")
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path, plt)


__all__ = ["METHODS", "plot_words", "project_2d"]
