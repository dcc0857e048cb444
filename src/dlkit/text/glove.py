"""GloVe (course 5 week 2; Pennington et al., 2014): co-occurrence counts and the weighted
least-squares objective, trained with AdaGrad as the GloVe paper.

X_ij sums, over every occurrence of word i, 1/d for each word j at distance d <= window
(both sides, never across a sentence boundary), so X is symmetric. It is kept sparse as the
arrays (rows, cols, values) of its non-zero entries.

    J = sum_{X_ij > 0} f(X_ij) (theta_i^T e_j + b_i + b'_j - log X_ij)^2,
    f(x) = (x / x_max)^alpha if x < x_max else 1   (x_max = 100, alpha = 3/4),

over the non-zero entries only (f(0) = 0 removes the others). theta and e play symmetric roles,
so the final vectors are e_w = (e_w + theta_w) / 2, as the notes say.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.errors import ShapeError
from dlkit.tensor import Function, Tensor
from dlkit.text.vectors import WordVectors
from dlkit.text.word2vec import dense_rows, scatter_add_rows
from dlkit.text.word_corpus import as_sentences, count_words, encode


class Cooccurrence:
    """The sparse co-occurrence matrix: ``rows``, ``cols``, ``values`` of its non-zero
    entries (sorted by row, then column) and the vocabulary size ``n``."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> None:
        self.rows, self.cols, self.values, self.n = rows, cols, values, n

    def __len__(self) -> int:
        return len(self.values)

    def to_dense(self) -> np.ndarray:
        X = np.zeros((self.n, self.n))
        X[self.rows, self.cols] = self.values
        return X


def cooccurrence(ids: np.ndarray, n_words: int, window: int = 10,
                 sentences: np.ndarray | None = None, weighting: bool = True,
                 chunk: int = 1_000_000) -> Cooccurrence:
    """X from a corpus of word ids: for each offset d = 1..window (a loop over offsets,
    vectorized over positions) both (w_t, w_{t+d}) and (w_{t+d}, w_t) gain 1/d (or 1 without
    ``weighting``); equal (i, j) are summed by sorting their keys i * V + j."""
    if window < 1:
        raise ValueError(f"cooccurrence: expected window >= 1, got {window}")
    ids = np.asarray(ids, dtype=np.int64)
    keys_all, vals_all = [], []
    for start in range(0, max(len(ids), 1), chunk):
        stop = min(start + chunk + window, len(ids))  # windows reach into the next chunk
        part = ids[start:stop]
        sent = None if sentences is None else sentences[start:stop]
        head = min(chunk, len(part))  # pairs start in this chunk only
        keys, vals = [], []
        for d in range(1, window + 1):
            if d >= len(part):
                break
            left = np.arange(min(head, len(part) - d))
            if sent is not None:
                left = left[sent[left] == sent[left + d]]
            a, b = part[left], part[left + d]
            w = np.full(len(a), 1.0 / d if weighting else 1.0)
            keys += [a * n_words + b, b * n_words + a]
            vals += [w, w]
        if keys:
            k, v = np.concatenate(keys), np.concatenate(vals)
            uniq, inverse = np.unique(k, return_inverse=True)
            keys_all.append(uniq)
            vals_all.append(np.bincount(inverse, weights=v))
    if not keys_all:
        return Cooccurrence(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), n_words)
    k, v = np.concatenate(keys_all), np.concatenate(vals_all)
    uniq, inverse = np.unique(k, return_inverse=True)
    values = np.bincount(inverse, weights=v)
    return Cooccurrence(uniq // n_words, uniq % n_words, values, n_words)


def glove_weight(x: Any, x_max: float = 100.0, alpha: float = 0.75) -> np.ndarray:
    """f(x) = (x / x_max)^alpha, capped at 1."""
    return np.minimum(np.asarray(x, dtype=np.float64) / x_max, 1.0) ** alpha


def glove_kernel(theta_i: Any, e_j: Any, b_i: Any, b_j: Any, log_x: Any, f: Any
                 ) -> tuple[Any, Any]:
    """Per entry: diff = theta_i . e_j + b_i + b'_j - log X_ij and f diff^2."""
    diff = (theta_i * e_j).sum(axis=1) + b_i + b_j - log_x
    return diff, f * diff * diff


class GloveLoss(Function):
    """J = sum_k f(X_k) (theta_{i_k}^T e_{j_k} + b_{i_k} + b'_{j_k} - log X_k)^2 over the given
    non-zero entries k; inputs theta (V, d), E (V, d), b (V,), b' (V,).
    With g_k = 2 f(X_k) diff_k: dtheta_i += g e_j, dE_j += g theta_i, db_i += g, db'_j += g."""

    def __init__(self, rows: Any, cols: Any, x: Any, x_max: float = 100.0,
                 alpha: float = 0.75) -> None:
        self.i, self.j = np.asarray(rows), np.asarray(cols)
        x = np.asarray(x, dtype=np.float64)
        if (x <= 0).any():
            raise ValueError("glove_loss: the co-occurrence values must be positive (only the "
                             "non-zero entries of X enter the objective)")
        self.x = x
        self.x_max, self.alpha = x_max, alpha

    def forward(self, theta, E, b, bt):
        if theta.ndim != 2 or theta.shape != E.shape or b.shape != (len(E),) \
                or bt.shape != (len(E),):
            raise ShapeError(f"glove_loss: expected theta and E (V, d), b and b' (V,), got "
                             f"{theta.shape}, {E.shape}, {b.shape}, {bt.shape}")
        dt = theta.dtype
        self.f = glove_weight(self.x, self.x_max, self.alpha).astype(dt)
        self.ti, self.ej = theta[self.i], E[self.j]
        self.diff, losses = glove_kernel(self.ti, self.ej, b[self.i], bt[self.j],
                                         np.log(self.x).astype(dt), self.f)
        self.V = len(E)
        return losses.sum()

    def backward(self, gy):
        g = 2 * self.f * self.diff * gy
        dtheta = dense_rows(self.i, g[:, None] * self.ej, self.V)
        dE = dense_rows(self.j, g[:, None] * self.ti, self.V)
        db = np.bincount(self.i, weights=g, minlength=self.V).astype(g.dtype)
        dbt = np.bincount(self.j, weights=g, minlength=self.V).astype(g.dtype)
        return dtheta, dE, db, dbt


def glove_loss(theta: Any, E: Any, b: Any, bt: Any, rows: Any, cols: Any, x: Any,
               x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
    """The GloVe objective ``GloveLoss`` over the entries (rows, cols, x)."""
    return GloveLoss(rows, cols, x, x_max, alpha)(theta, E, b, bt)


class GloVe:
    """GloVe as the paper's reference code: ``GloVe(dim=100, window=10).train(sentences,
    epochs=25)``, AdaGrad (lr 0.05, squared-gradient sums starting at 1) over shuffled
    mini-batches of the non-zero entries of X, then ``.wv`` = (E + theta) / 2."""

    def __init__(self, dim: int = 100, window: int = 10, x_max: float = 100.0,
                 alpha: float = 0.75, lr: float = 0.05, min_count: int = 5,
                 batch_size: int = 4096, max_vocab: int | None = None,
                 seed: int | None = None) -> None:
        if dim < 1 or window < 1 or batch_size < 1:
            raise ValueError("GloVe: dim, window and batch_size must be >= 1")
        self.dim, self.window, self.x_max, self.alpha = dim, window, x_max, alpha
        self.lr, self.min_count, self.batch_size = lr, min_count, batch_size
        self.max_vocab = max_vocab
        self.rng = np.random.default_rng(seed) if seed is not None else generator()
        self.words: list[str] = []
        self.losses: list[float] = []
        self.words_per_second = 0.0

    def build(self, corpus: Any) -> GloVe:
        """Vocabulary, co-occurrence counts and initial parameters (uniform in
        [-0.5/d, 0.5/d], as the reference code)."""
        sentences = as_sentences(corpus)
        if not sentences:
            raise ValueError("GloVe: the corpus is empty")
        self.words, self.counts = count_words(sentences, self.min_count, self.max_vocab)
        index = {w: i for i, w in enumerate(self.words)}
        ids, sent = encode(sentences, index)
        self.n_tokens = len(ids)
        self.X = cooccurrence(ids, len(self.words), self.window, sent)
        if len(self.X) == 0:
            raise ValueError("GloVe: no two vocabulary words occur within a window")
        V, d = len(self.words), self.dim

        def init(*shape: int) -> np.ndarray:
            return ((self.rng.random(shape) - 0.5) / d).astype(np.float32)

        self.theta, self.E = init(V, d), init(V, d)
        self.b, self.bt = init(V), init(V)
        self._sq = [np.ones_like(p) for p in (self.theta, self.E, self.b, self.bt)]
        return self

    @property
    def wv(self) -> WordVectors:
        """The final vectors (e + theta) / 2."""
        return WordVectors(self.words, (self.E + self.theta) / 2)

    def _adagrad(self, k: int, param: np.ndarray, rows: np.ndarray, grads: np.ndarray) -> None:
        uniq, sums = scatter_add_rows(rows, grads, len(param))
        sq = self._sq[k]
        sq[uniq] += sums * sums
        param[uniq] -= self.lr * sums / np.sqrt(sq[uniq])

    def _batch(self, sel: np.ndarray) -> float:
        i, j = self.X.rows[sel], self.X.cols[sel]
        f = self._f[sel]
        ti, ej = self.theta[i], self.E[j]
        diff, losses = glove_kernel(ti, ej, self.b[i], self.bt[j], self._logx[sel], f)
        g = f * diff  # the reference code's gradient of J / 2
        self._adagrad(0, self.theta, i, g[:, None] * ej)
        self._adagrad(1, self.E, j, g[:, None] * ti)
        self._adagrad(2, self.b, i, g)
        self._adagrad(3, self.bt, j, g)
        return float(losses.sum())

    def train(self, corpus: Any = None, epochs: int = 25,
              progress: Callable[[int, int, float, float], None] | None = None) -> GloVe:
        """``epochs`` passes over the non-zero entries. ``progress(words_done, words_total,
        words_per_second, loss)`` after each batch (words: corpus tokens per epoch, pro rata)."""
        if epochs < 1:
            raise ValueError(f"GloVe.train: expected epochs >= 1, got {epochs}")
        if not self.words:
            if corpus is None:
                raise ValueError("GloVe.train: give a corpus (or call build first)")
            self.build(corpus)
        self._f = glove_weight(self.X.values, self.x_max, self.alpha).astype(np.float32)
        self._logx = np.log(self.X.values).astype(np.float32)
        n = len(self.X)
        total = epochs * self.n_tokens
        start = time.perf_counter()
        for epoch in range(epochs):
            order = self.rng.permutation(n)
            loss = 0.0
            for s in range(0, n, self.batch_size):
                loss += self._batch(order[s:s + self.batch_size])
                done = int(self.n_tokens * (epoch + min(s + self.batch_size, n) / n))
                self.words_per_second = done / max(time.perf_counter() - start, 1e-9)
                if progress is not None:
                    progress(done, total, self.words_per_second, loss / min(s + self.batch_size,
                                                                            n))
            self.losses.append(loss / n)
        return self


__all__ = ["Cooccurrence", "GloVe", "GloveLoss", "cooccurrence", "glove_loss", "glove_weight"]
