"""Face verification and recognition with embeddings (the notes' one-shot learning).

- ``verify``: d = ||f(x1) - f(x2)||^2; "the same identity" when d < threshold.
- ``make_pairs`` / ``pair_distances``: same/different pairs from labelled embeddings (a dev set).
- ``roc_curve`` / ``auc`` / ``choose_threshold`` / ``plot_roc``: the threshold picked on dev
  pairs, for the best accuracy or for a target false-accept rate (FAR).
- ``Gallery``: one (or a few) stored embeddings per identity; ``identify`` returns the nearest
  identity, or ``None`` ("not in the database") when even the nearest is beyond the threshold.
  Saved and loaded as safetensors, with the identity names and the model's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.backend import generator, to_numpy
from dlkit.errors import ShapeError
from dlkit.io.files import CorruptFileError, read_safetensors, write_safetensors
from dlkit.tensor import Tensor

__all__ = ["Gallery", "auc", "choose_threshold", "identify", "make_pairs", "model_fingerprint",
           "pair_distances", "plot_roc", "roc_curve", "verify", "verification_accuracy"]


def _embeddings(x: Any, encoder: Any, what: str) -> np.ndarray:
    if encoder is not None:
        embed = getattr(encoder, "embed", None)
        if embed is not None:
            return np.asarray(embed(x))
        from dlkit.train.loop import predict
        return predict(encoder, np.asarray(x))
    e = to_numpy(x.data if isinstance(x, Tensor) else x)
    if e.ndim == 1:
        e = e[None]
    if e.ndim != 2:
        raise ShapeError(f"{what}: expected embeddings (m, d) or (d,), got shape {e.shape}; pass "
                         f"encoder= to embed images first")
    return e.astype(np.float64)


def sq_distances(e1: np.ndarray, e2: np.ndarray, op: str = "verify") -> np.ndarray:
    """||e1_i - e2_i||^2 row by row (a single row broadcasts)."""
    if e1.shape[-1] != e2.shape[-1]:
        raise ShapeError(f"{op}: embeddings of different sizes: {e1.shape[-1]} and "
                         f"{e2.shape[-1]} (from two different models?)")
    return ((e1 - e2) ** 2).sum(-1)


def verify(x1: Any, x2: Any, threshold: float, encoder: Any = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Distances d = ||f(x1) - f(x2)||^2 (m,) and ``d < threshold`` (m,) "same identity".

    ``x1``, ``x2``: embeddings (m, d) / (d,), or images when ``encoder`` is given."""
    e1, e2 = _embeddings(x1, encoder, "verify"), _embeddings(x2, encoder, "verify")
    d = sq_distances(e1, e2)
    return d, d < threshold


def make_pairs(labels: Any, n_pairs: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_pairs`` index pairs (i, j), half of the same label and half of different labels
    (dlkit's generator), and ``same`` (n_pairs,) bool."""
    y = np.asarray(to_numpy(labels)).reshape(-1)
    rng = generator()
    n_same = n_pairs // 2
    order = np.argsort(y, kind="stable")
    starts = np.searchsorted(y[order], y)
    _, inverse, per_label = np.unique(y, return_inverse=True, return_counts=True)
    counts = per_label[inverse]
    eligible = np.flatnonzero(counts >= 2)
    if len(eligible) == 0 or len(np.unique(y)) < 2:
        raise ValueError("make_pairs: expected at least two labels and a label with two "
                         "examples")
    i_same = rng.choice(eligible, n_same)
    offset = rng.integers(1, counts[i_same])  # another member of the same label
    rank = np.empty(len(y), dtype=np.int64)
    rank[order] = np.arange(len(y))
    j_same = order[starts[i_same] + (rank[i_same] - starts[i_same] + offset) % counts[i_same]]
    n_diff = n_pairs - n_same
    i_diff = rng.integers(0, len(y), n_diff)
    j_diff = rng.integers(0, len(y), n_diff)
    bad = y[i_diff] == y[j_diff]
    while bad.any():  # redraw the pairs that fell on one label
        j_diff[bad] = rng.integers(0, len(y), int(bad.sum()))
        bad = y[i_diff] == y[j_diff]
    i = np.concatenate([i_same, i_diff])
    j = np.concatenate([j_same, j_diff])
    return i, j, y[i] == y[j]


def pair_distances(embeddings: Any, labels: Any, n_pairs: int = 1000
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Distances (n_pairs,) and ``same`` of balanced random pairs of labelled embeddings."""
    E = _embeddings(embeddings, None, "pair_distances")
    i, j, same = make_pairs(labels, n_pairs)
    return sq_distances(E[i], E[j], "pair_distances"), same


def roc_curve(distances: Any, same: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, tar, thresholds): for each threshold t ("same" when d < t), the false-accept
    rate (different pairs accepted / different pairs) and the true-accept rate (same pairs
    accepted / same pairs); thresholds ascending, from accepting none to accepting all."""
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    s = np.asarray(same, dtype=bool).reshape(-1)
    if d.shape != s.shape:
        raise ShapeError(f"roc_curve: expected distances and same of one length, got "
                         f"{d.shape} and {s.shape}")
    n_pos, n_neg = int(s.sum()), int((~s).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_curve: expected both same and different pairs")
    values = np.unique(d)
    # a threshold just above each distinct distance, and one below them all
    thresholds = np.concatenate([[values[0] - 1e-9], np.nextafter(values, np.inf)])
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    k = np.searchsorted(ds, thresholds, side="left")  # pairs with d < t
    tp = np.concatenate([[0], np.cumsum(ss)])[k]
    fp = np.concatenate([[0], np.cumsum(~ss)])[k]
    return fp / n_neg, tp / n_pos, thresholds


def auc(far: Any, tar: Any) -> float:
    """Area under the ROC curve (trapezoids over FAR)."""
    far, tar = np.asarray(far, np.float64), np.asarray(tar, np.float64)
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2))


def verification_accuracy(distances: Any, same: Any, threshold: float) -> float:
    """Share of pairs decided right by ``d < threshold``."""
    d, s = np.asarray(distances), np.asarray(same, dtype=bool)
    return float(((d < threshold) == s).mean())


def choose_threshold(distances: Any, same: Any, target_far: float | None = None) -> float:
    """The dev-set threshold: the best accuracy (``target_far=None``), or the largest
    threshold whose false-accept rate is at most ``target_far`` (the highest TAR there)."""
    far, tar, thresholds = roc_curve(distances, same)
    if target_far is None:
        s = np.asarray(same, dtype=bool).reshape(-1)
        p = s.mean()
        acc = tar * p + (1 - far) * (1 - p)
        best = np.flatnonzero(acc == acc.max())
        # the middle of the best plateau, halfway between the distances around it
        return float(thresholds[best[len(best) // 2]])
    if not 0 <= target_far <= 1:
        raise ValueError(f"choose_threshold: expected target_far in [0, 1], got {target_far}")
    ok = np.flatnonzero(far <= target_far)
    return float(thresholds[ok[-1]])


def plot_roc(far: Any, tar: Any, path: str | Path, title: str = "",
             threshold_point: tuple[float, float] | None = None) -> Path:
    """The ROC curve (TAR against FAR) with its AUC, as a PNG."""
    from dlkit.plot import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot(far, tar, lw=2, label=f"AUC = {auc(far, tar):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="gray", lw=1, label="chance")
    if threshold_point is not None:
        ax.plot(*threshold_point, "o", color="C3", label="chosen threshold")
    ax.set_xlabel("false accept rate (different pairs accepted)")
    ax.set_ylabel("true accept rate (same pairs accepted)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or "verification ROC")
    fig.tight_layout()
    return _save(fig, path, plt)


def model_fingerprint(model: Any) -> str:
    """A short hash of a model's config and weights: a gallery remembers which model made it."""
    h = hashlib.sha256()
    get_config = getattr(model, "get_config", None)
    if get_config is not None:
        h.update(json.dumps(get_config(), sort_keys=True, default=str).encode())
    for name, value in model.state_dict().items():
        h.update(name.encode())
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()[:16]


class Gallery:
    """The database of the notes: stored embeddings (n, d) with their identity names.

    ``identify(e)`` gives, per query, the name of the nearest stored embedding and its
    distance, or ``None`` when that distance is not below ``threshold`` (not in the database).
    ``model`` is the fingerprint of the encoder that made the embeddings (see
    ``model_fingerprint``); ``check_model`` refuses an encoder of another model.
    """

    def __init__(self, dim: int, threshold: float = 0.7, model: str = "") -> None:
        self.dim, self.threshold, self.model = int(dim), float(threshold), model
        self.names: list[str] = []
        self.embeddings = np.zeros((0, self.dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def identities(self) -> list[str]:
        return sorted(set(self.names))

    def add(self, name: str, embedding: Any) -> None:
        """Store one or more embeddings (d,) / (k, d) under ``name``."""
        e = _embeddings(embedding, None, "Gallery.add").astype(np.float32)
        if e.shape[1] != self.dim:
            raise ShapeError(f"Gallery.add: expected embeddings of size {self.dim}, got "
                             f"{e.shape[1]} (from another model?)")
        self.embeddings = np.concatenate([self.embeddings, e])
        self.names += [str(name)] * len(e)

    def identify(self, embeddings: Any) -> tuple[list[str | None], np.ndarray]:
        """(names, distances) for each query (m, d): the nearest stored identity or None."""
        if not self.names:
            raise ValueError("Gallery.identify: the gallery is empty; add identities first")
        q = _embeddings(embeddings, None, "Gallery.identify")
        if q.shape[1] != self.dim:
            raise ShapeError(f"Gallery.identify: expected embeddings of size {self.dim}, got "
                             f"{q.shape[1]} (from another model?)")
        G = self.embeddings.astype(np.float64)
        D = (q * q).sum(1)[:, None] + (G * G).sum(1)[None] - 2 * q @ G.T
        nearest = D.argmin(1)
        dist = np.maximum(D[np.arange(len(q)), nearest], 0)
        names = [self.names[k] if d < self.threshold else None for k, d in zip(nearest, dist)]
        return names, dist

    def check_model(self, fingerprint: str) -> None:
        if self.model and fingerprint and fingerprint != self.model:
            raise ValueError(f"Gallery: it was made with another model (fingerprint "
                             f"{self.model}, this model is {fingerprint}); rebuild the gallery "
                             f"with this model")

    def save(self, path: str | Path) -> None:
        meta = {"dlkit.kind": "gallery", "names": json.dumps(self.names),
                "threshold": repr(self.threshold), "model": self.model}
        write_safetensors(path, {"embeddings": np.ascontiguousarray(self.embeddings)}, meta,
                          "Gallery.save")

    @classmethod
    def load(cls, path: str | Path) -> Gallery:
        tensors, meta = read_safetensors(path, "Gallery.load")
        if meta.get("dlkit.kind") != "gallery" or "embeddings" not in tensors:
            raise CorruptFileError(f"Gallery.load: {str(path)!r} is not a dlkit gallery file")
        try:
            names = json.loads(meta["names"])
            threshold = float(meta["threshold"])
        except (KeyError, ValueError) as e:
            raise CorruptFileError(f"Gallery.load: {str(path)!r} has bad metadata ({e})") from e
        E = np.asarray(tensors["embeddings"], dtype=np.float32)
        if E.ndim != 2 or len(E) != len(names):
            raise CorruptFileError(f"Gallery.load: {str(path)!r}: {len(names)} names for "
                                   f"embeddings of shape {E.shape}")
        g = cls(E.shape[1], threshold, meta.get("model", ""))
        g.embeddings, g.names = E, list(map(str, names))
        return g

    @classmethod
    def from_examples(cls, embeddings: Any, names: Sequence[Any], threshold: float = 0.7,
                      model: str = "") -> Gallery:
        E = _embeddings(embeddings, None, "Gallery.from_examples")
        if len(E) != len(names):
            raise ShapeError(f"Gallery.from_examples: {len(E)} embeddings, {len(names)} names")
        g = cls(E.shape[1], threshold, model)
        for e, name in zip(E, names):
            g.add(str(name), e)
        return g


def identify(x: Any, gallery: Gallery, encoder: Any = None
             ) -> tuple[list[str | None], np.ndarray]:
    """``gallery.identify`` of embeddings x (m, d), or of images when ``encoder`` is given
    (refused when the gallery was made by another model)."""
    if encoder is not None and hasattr(encoder, "state_dict"):
        gallery.check_model(model_fingerprint(encoder))
    return gallery.identify(_embeddings(x, encoder, "identify"))
