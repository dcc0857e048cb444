"""word2vec (course 5 week 2; Mikolov et al., 2013): skip-gram and CBOW, with the softmax,
negative sampling or the hierarchical softmax (a Huffman tree), trained as word2vec trains
(SGD on sparse rows, linear learning-rate decay).

Pairs. For each position a window size ``b`` is drawn uniformly from 1..window (word2vec's
"reduced window", so near words are paired more often); every word within ``b`` of the
centre ("context" c in the notes) is a target t. Frequent words are first dropped with
probability ``1 - (sqrt(f/s) + 1) s/f`` (``f`` the word's share of the corpus, ``s = sample``).

Costs (per pair, averaged over the batch; e_c a row of E, theta_t a row of Theta):
- softmax:  J = -log p(t|c),  p(t|c) = e^{theta_t^T e_c} / sum_j e^{theta_j^T e_c}
  (a composition: the embedding lookup, ``h @ Theta^T``, ``cross_entropy``);
- negative sampling: J = -log sigma(theta_t^T e_c) - sum_{i=1..k} log sigma(-theta_{n_i}^T e_c),
  the k negatives drawn from P(w) = f(w)^{3/4} / sum_j f(w_j)^{3/4} (``UnigramSampler``);
- hierarchical softmax: p(t|c) = prod over the internal nodes n_j on t's Huffman path of
  sigma((1 - 2 code_j) theta_{n_j}^T e_c) (the notes' aside: log2 V binary decisions);
- CBOW: e_c replaced by the mean of the context words' vectors, predicting the centre word.

The hot path is batched: a gather of the (m, k+1, d) output rows, one batched dot product, the
gradients, and a scatter-add of the row gradients by a sorted reduction (``scatter_add_rows``):
no Python loop per pair. ``Word2Vec`` trains in chunks of words with
lr = lr0 * max(1 - words_done / (epochs * words), 1e-4), as word2vec's C code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module, generator
from dlkit.errors import ShapeError
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops.activation import stable_sigmoid
from dlkit.ops.linalg import matmul
from dlkit.ops.loss import cross_entropy
from dlkit.ops.shape import getitem, transpose
from dlkit.tensor import Function, Tensor
from dlkit.text.vectors import WordVectors
from dlkit.text.word_corpus import as_sentences, count_words, encode


def _scipy_sparse() -> Any:
    """scipy.sparse (a compiled segmented sum) when installed, else None (the sorted
    add.reduceat below is the fallback); imported on first use, not with dlkit."""
    try:
        import scipy.sparse as sparse
    except ImportError:  # pragma: no cover
        return None
    return sparse

METHODS = ("skipgram", "cbow")
LOSSES = ("negative", "softmax", "hierarchical")


# ---- the sparse reduction -----------------------------------------------------------------
def scatter_add_rows(rows: Any, values: Any, n_rows: int | None = None, cols: Any = None,
                     weights: Any = None) -> tuple[Any, Any]:
    """Sum the rows of ``values`` (n, d) that share an index in ``rows`` (n,): returns the
    distinct indices (sorted) and their sums (no ``add.at``). With ``cols`` and ``weights``
    (both (nnz,)), entry k adds ``weights[k] * values[cols[k]]`` to row ``rows[k]``, so the
    (nnz, d) products are never formed: the sums are one product with the sparse matrix S
    (distinct rows x n, S[u, c] = the weights of (u, c)). The distinct rows are found by
    marking them in a (n_rows,) flag array. Without SciPy: a sort and a segmented
    ``add.reduceat``; on CuPy, ``cupyx.scatter_add`` into all ``n_rows`` rows."""
    xp = array_module(values)
    if n_rows is None:
        n_rows = int(rows.max()) + 1 if rows.size else 0
    if cols is None:
        cols = xp.arange(len(rows))
    _sparse = _scipy_sparse() if xp is np else None
    if _sparse is None:
        contrib = values[cols] if weights is None else values[cols] * weights[:, None]
        if xp is not np:  # pragma: no cover - GPU
            import cupyx
            out = xp.zeros((n_rows,) + values.shape[1:], values.dtype)
            cupyx.scatter_add(out, rows, contrib)
            return xp.arange(n_rows), out
        if rows.size == 0:
            return rows[:0], contrib[:0]
        order = np.argsort(rows, kind="stable")
        r = rows[order]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        return r[starts], np.add.reduceat(contrib[order], starts, axis=0)
    if rows.size == 0:
        return rows[:0], values[:0]
    flags = np.zeros(n_rows, bool)
    flags[rows] = True
    uniq = np.flatnonzero(flags)
    inverse = (np.cumsum(flags) - 1)[rows]
    w = np.ones(len(rows), values.dtype) if weights is None else weights.astype(values.dtype)
    S = _sparse.csr_matrix((w, (inverse, cols)), shape=(len(uniq), len(values)))
    return uniq, np.asarray(S @ values)


def dense_rows(rows: Any, values: Any, n_rows: int) -> Any:
    """The (n_rows, d) gradient whose row i is the sum of ``values`` at ``rows == i``."""
    uniq, sums = scatter_add_rows(rows, values, n_rows)
    out = array_module(values).zeros((n_rows,) + values.shape[1:], values.dtype)
    out[uniq] = sums
    return out


# ---- negative sampling --------------------------------------------------------------------
class UnigramSampler:
    """Draws word ids from P(w) = count(w)^power / sum_j count(j)^power (power 3/4, the notes'
    f(w)^{3/4}), in O(1) per draw by Vose's alias method."""

    def __init__(self, counts: Any, power: float = 0.75) -> None:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or counts.size == 0 or (counts < 0).any() or counts.sum() <= 0:
            raise ValueError("UnigramSampler: expected a 1-D array of non-negative counts with "
                             "a positive sum")
        p = counts ** power
        self.probs = p / p.sum()
        n = len(p)
        scaled = self.probs * n
        prob = np.ones(n)
        alias = np.arange(n)
        small = [i for i in range(n) if scaled[i] < 1]
        large = [i for i in range(n) if scaled[i] >= 1]
        while small and large:  # once per table, not per draw
            s, g = small.pop(), large.pop()
            prob[s], alias[s] = scaled[s], g
            scaled[g] -= 1 - scaled[s]
            (small if scaled[g] < 1 else large).append(g)
        self.prob, self.alias = prob, alias

    def __len__(self) -> int:
        return len(self.probs)

    def sample(self, shape: int | tuple[int, ...], rng: np.random.Generator | None = None
               ) -> np.ndarray:
        rng = rng if rng is not None else generator()
        i = rng.integers(0, len(self.prob), size=shape)
        return np.where(rng.random(size=shape) < self.prob[i], i, self.alias[i])


def negative_sampling_kernel(h: Any, out: Any, with_loss: bool = True
                             ) -> tuple[Any, Any, Any]:
    """h (m, d) the input vectors, out (m, 1+k, d) the rows theta_t then the k negatives.
    Returns the per-pair losses (m,) (None unless ``with_loss``), dJ/dh (m, d) and
    g = dJ/ds (m, 1+k): s = out h (one batched dot), g = sigma(s) - [1, 0, ..., 0],
    dh = g out; the output rows' gradients are dout_ik = g_ik h_i (``scatter_add_rows`` with
    weights g forms their sums without forming them)."""
    xp = array_module(h)
    s = xp.matmul(out, h[:, :, None])[:, :, 0]
    losses = None
    if with_loss:
        losses = xp.logaddexp(0, -s[:, 0]) + xp.logaddexp(0, s[:, 1:]).sum(axis=1)
    g = stable_sigmoid(s)
    g[:, 0] -= 1
    dh = xp.matmul(g[:, None, :], out)[:, 0]
    return losses, dh, g


class NegativeSamplingLoss(Function):
    """J = mean_i [ -log sigma(theta_{t_i}^T h_i) - sum_k log sigma(-theta_{n_ik}^T h_i) ];
    h (m, d), Theta (V, d); targets (m,), negatives (m, k) integer ids.
    dh_i = g_i0 theta_{t_i} + sum_k g_ik theta_{n_ik}, dTheta rows: g_ik h_i scattered."""

    def __init__(self, targets: Any, negatives: Any) -> None:
        self.rows = np.concatenate([np.asarray(targets)[:, None], np.asarray(negatives)], axis=1)

    def forward(self, h, theta):
        if h.ndim != 2 or theta.ndim != 2 or h.shape[1] != theta.shape[1]:
            raise ShapeError(f"negative_sampling_loss: expected h (m, d) and Theta (V, d), got "
                             f"{h.shape} and {theta.shape}")
        if self.rows.shape[0] != h.shape[0]:
            raise ShapeError(f"negative_sampling_loss: {h.shape[0]} inputs but "
                             f"{self.rows.shape[0]} targets")
        self.n_rows, self.h = theta.shape[0], h
        losses, self.dh, self.g = negative_sampling_kernel(h, theta[self.rows])
        self.m = h.dtype.type(h.shape[0])
        return losses.sum() / self.m

    def backward(self, gy):
        scale = gy / self.m
        m, k1 = self.g.shape
        uniq, sums = scatter_add_rows(self.rows.reshape(-1), self.h, self.n_rows,
                                      cols=np.repeat(np.arange(m), k1),
                                      weights=self.g.reshape(-1))
        dtheta = np.zeros((self.n_rows, self.h.shape[1]), self.h.dtype)
        dtheta[uniq] = sums
        return self.dh * scale, dtheta * scale


def negative_sampling_loss(h: Any, theta: Any, targets: Any, negatives: Any) -> Tensor:
    """The negative-sampling cost of ``NegativeSamplingLoss`` (mean over the m pairs)."""
    return NegativeSamplingLoss(targets, negatives)(h, theta)


# ---- hierarchical softmax -------------------------------------------------------------------
class HuffmanTree:
    """word2vec's Huffman tree over the vocabulary (frequent words near the root): word w's
    path is the internal nodes ``points[w, :depth[w]]`` (ids 0..V-2) and the branch taken at
    each, ``codes`` (0 or 1); padded to the deepest path, ``mask`` marks the real steps.
    P(w | h) = prod_j sigma((1 - 2 c_j) theta_{n_j}^T h), which sums to 1 over the words."""

    def __init__(self, counts: Any) -> None:
        import heapq
        counts = np.asarray(counts, dtype=np.float64)
        V = len(counts)
        if V < 2:
            raise ValueError("HuffmanTree: expected at least 2 words")
        heap = [(c, i) for i, c in enumerate(counts)]
        heapq.heapify(heap)
        parent = np.zeros(2 * V - 1, np.int64)
        branch = np.zeros(2 * V - 1, np.int64)
        nxt = V
        while len(heap) > 1:  # once per table: V - 1 merges
            c1, a = heapq.heappop(heap)
            c2, b = heapq.heappop(heap)
            parent[a], branch[a] = nxt, 0
            parent[b], branch[b] = nxt, 1
            heapq.heappush(heap, (c1 + c2, nxt))
            nxt += 1
        root = 2 * V - 2
        paths, codes = [], []
        for w in range(V):
            nodes, bits, node = [], [], w
            while node != root:
                nodes.append(parent[node] - V)
                bits.append(branch[node])
                node = parent[node]
            paths.append(nodes[::-1])
            codes.append(bits[::-1])
        self.depth = np.array([len(p) for p in paths])
        L = int(self.depth.max())
        self.points = np.zeros((V, L), np.int64)
        self.codes = np.zeros((V, L), np.int64)
        self.mask = np.zeros((V, L), bool)
        for w in range(V):
            d = self.depth[w]
            self.points[w, :d], self.codes[w, :d], self.mask[w, :d] = paths[w], codes[w], True
        self.n_nodes = V - 1


def hierarchical_softmax_kernel(h: Any, out: Any, codes: Any, mask: Any, with_loss: bool = True
                                ) -> tuple[Any, Any, Any]:
    """h (m, d), out (m, L, d) the path's node vectors, codes and mask (m, L). With
    s = out h and sign = 1 - 2 c: J = sum_j mask_j log(1 + e^{-sign_j s_j});
    g = dJ/ds = (sigma(s) - (1 - c)) mask, dh = g out. Returns (losses | None, dh, g)."""
    xp = array_module(h)
    s = xp.matmul(out, h[:, :, None])[:, :, 0]
    m = mask.astype(h.dtype)
    losses = None
    if with_loss:
        losses = (xp.logaddexp(0, -(1 - 2 * codes) * s) * m).sum(axis=1)
    g = (stable_sigmoid(s) - (1 - codes)) * m
    g = g.astype(h.dtype)
    dh = xp.matmul(g[:, None, :], out)[:, 0]
    return losses, dh, g


class HierarchicalSoftmaxLoss(Function):
    """J = mean_i -log P(t_i | h_i), P from the Huffman tree (``HuffmanTree``); inputs h (m, d)
    and the node vectors Theta (V - 1, d)."""

    def __init__(self, tree: HuffmanTree, targets: Any) -> None:
        t = np.asarray(targets)
        self.nodes, self.codes, self.mask = tree.points[t], tree.codes[t], tree.mask[t]

    def forward(self, h, theta):
        if h.ndim != 2 or theta.ndim != 2 or h.shape[1] != theta.shape[1]:
            raise ShapeError(f"hierarchical_softmax_loss: expected h (m, d) and the node "
                             f"vectors (V - 1, d), got {h.shape} and {theta.shape}")
        self.h, self.n_rows = h, theta.shape[0]
        losses, self.dh, self.g = hierarchical_softmax_kernel(h, theta[self.nodes], self.codes,
                                                              self.mask)
        self.m = h.dtype.type(h.shape[0])
        return losses.sum() / self.m

    def backward(self, gy):
        scale = gy / self.m
        m, L = self.g.shape
        uniq, sums = scatter_add_rows(self.nodes.reshape(-1), self.h, self.n_rows,
                                      cols=np.repeat(np.arange(m), L), weights=self.g.reshape(-1))
        dtheta = np.zeros((self.n_rows, self.h.shape[1]), self.h.dtype)
        dtheta[uniq] = sums
        return self.dh * scale, dtheta * scale


def hierarchical_softmax_loss(h: Any, theta: Any, tree: HuffmanTree, targets: Any) -> Tensor:
    """The hierarchical-softmax cost (mean over the m pairs)."""
    return HierarchicalSoftmaxLoss(tree, targets)(h, theta)


def _lookup(E: Tensor, idx: Any) -> Tensor:
    return getitem(E, np.asarray(idx, dtype=np.int64))


def skipgram_softmax_loss(E: Any, theta: Any, centers: Any, targets: Any) -> Tensor:
    """The notes' skip-gram cost: mean_i -log softmax(Theta e_{c_i})_{t_i}, composed of the
    embedding lookup, a matrix product and ``cross_entropy`` (small vocabularies only: it
    computes all V scores)."""
    h = _lookup(E, centers)
    return cross_entropy(matmul(h, transpose(theta)), np.asarray(targets))


def cbow_input(E: Any, contexts: Any, mask: Any) -> Tensor:
    """CBOW's input h_i = mean of e_j over the valid context words j of example i;
    ``contexts`` (m, 2w) ids, ``mask`` (m, 2w) 1 for a real context word."""
    mask = np.asarray(mask, dtype=E.dtype)
    n = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    e = _lookup(E, contexts)                     # (m, 2w, d)
    weights = Tensor((mask / n)[:, :, None])
    return (e * weights).sum(axis=1)


def cbow_loss(E: Any, theta: Any, contexts: Any, mask: Any, targets: Any,
              negatives: Any = None) -> Tensor:
    """CBOW: the mean of the context vectors predicts the centre word, with negative sampling
    (``negatives`` (m, k)) or, when ``negatives`` is None, the full softmax."""
    h = cbow_input(E, contexts, mask)
    if negatives is None:
        return cross_entropy(matmul(h, transpose(theta)), np.asarray(targets))
    return negative_sampling_loss(h, theta, targets, negatives)


# ---- pairs ---------------------------------------------------------------------------------
def keep_probabilities(counts: Any, sample: float) -> np.ndarray:
    """word2vec's subsampling: P(keep w) = min(1, (sqrt(f/s) + 1) s/f), f = count / total."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1) * sample / f)


def subsample(ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator,
              sentences: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Drops each occurrence of word w with probability 1 - keep[w] (before windows are
    drawn, so a window reaches past dropped words, as word2vec)."""
    kept = rng.random(len(ids)) < keep[ids]
    return ids[kept], (None if sentences is None else sentences[kept])


def skipgram_pairs(ids: np.ndarray, window: int, rng: np.random.Generator,
                   sentences: np.ndarray | None = None, dynamic: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(centres, targets): every word paired with each word within its window (size drawn
    from 1..window per position when ``dynamic``), never across a sentence boundary. A loop
    over the 2 * window offsets, vectorized over positions."""
    if window < 1:
        raise ValueError(f"skipgram_pairs: expected window >= 1, got {window}")
    n = len(ids)
    b = rng.integers(1, window + 1, size=n) if dynamic else np.full(n, window)
    centres, targets = [], []
    for o in range(1, min(window, n - 1) + 1):
        same = np.ones(n - o, bool) if sentences is None else sentences[:-o] == sentences[o:]
        right = same & (b[:-o] >= o)   # centre i, target i + o
        left = same & (b[o:] >= o)     # centre i + o, target i
        centres += [ids[:-o][right], ids[o:][left]]
        targets += [ids[o:][right], ids[:-o][left]]
    if not centres:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centres), np.concatenate(targets)


def cbow_windows(ids: np.ndarray, window: int, rng: np.random.Generator,
                 sentences: np.ndarray | None = None, dynamic: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(contexts (m, 2w), mask (m, 2w), centres (m,)): each word's window as a padded row."""
    n = len(ids)
    b = rng.integers(1, window + 1, size=n) if dynamic else np.full(n, window)
    offsets = np.r_[np.arange(-window, 0), np.arange(1, window + 1)]
    pos = np.arange(n)[:, None] + offsets[None, :]
    valid = (pos >= 0) & (pos < n) & (np.abs(offsets)[None, :] <= b[:, None])
    pos = np.clip(pos, 0, max(n - 1, 0))
    if sentences is not None:
        valid &= sentences[pos] == sentences[:, None]
    rows = valid.any(axis=1)
    return ids[pos][rows], valid[rows], ids[rows]


# ---- a module for dl.train.fit --------------------------------------------------------------
@register
class SkipGram(Module):
    """E (V, d) and Theta (V, d) as parameters; ``model(centres)`` gives e_c and ``loss``
    is the negative-sampling (``negative > 0``) or full-softmax cost; ``train_step`` makes it
    its own step: ``dl.train.fit(model, None, optimizer, centres, targets, metrics=())``."""

    def __init__(self, vocab_size: int, dim: int, negative: int = 5,
                 counts: Sequence[int] | None = None) -> None:
        super().__init__()
        rng = generator()
        self.vocab_size, self.dim, self.negative = vocab_size, dim, negative
        self.E = Parameter(((rng.random((vocab_size, dim)) - 0.5) / dim).astype(np.float32))
        self.theta = Parameter(np.zeros((vocab_size, dim), np.float32))
        self.sampler = UnigramSampler(np.ones(vocab_size) if counts is None else counts)
        self._counts = None if counts is None else [int(c) for c in counts]

    def forward(self, centres: Any) -> Tensor:
        return _lookup(self.E, np.asarray(getattr(centres, "data", centres)).astype(np.int64))

    def loss(self, h: Tensor, targets: Any) -> Tensor:
        t = np.asarray(getattr(targets, "data", targets)).astype(np.int64)
        if self.negative <= 0:
            return cross_entropy(matmul(h, transpose(self.theta)), t)
        negatives = self.sampler.sample((len(t), self.negative))
        return negative_sampling_loss(h, self.theta, t, negatives)

    def train_step(self, batch: Any) -> Tensor:
        """The step ``dl.train.fit`` uses for a batch (centres, targets)."""
        centres, targets = batch
        return self.loss(self(centres), targets)

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "dim": self.dim, "negative": self.negative,
                "counts": self._counts}


# ---- the trainer ----------------------------------------------------------------------------
class Word2Vec:
    """word2vec as gensim's ``Word2Vec``: ``Word2Vec(dim=100, window=5, method="skipgram",
    loss="negative", negative=5, min_count=5, sample=1e-3).train(sentences, epochs=5)``, then
    ``.wv`` (a ``WordVectors`` of E). Sentences: lists of words, a flat word list or a text.
    ``progress(words_done, words_total, words_per_second, loss)`` is called after each chunk."""

    def __init__(self, dim: int = 100, window: int = 5, method: str = "skipgram",
                 loss: str = "negative", negative: int = 5, min_count: int = 5,
                 sample: float = 1e-3, lr: float | None = None, min_lr_ratio: float = 1e-4,
                 batch_size: int = 1024, chunk_words: int = 20000, max_vocab: int | None = None,
                 seed: int | None = None) -> None:
        if method not in METHODS:
            raise ValueError(f"Word2Vec: method must be one of {METHODS}, got {method!r}")
        if loss not in LOSSES:
            raise ValueError(f"Word2Vec: loss must be one of {LOSSES}, got {loss!r}")
        if dim < 1 or window < 1 or batch_size < 1 or chunk_words < 1:
            raise ValueError("Word2Vec: dim, window, batch_size and chunk_words must be >= 1")
        if loss == "negative" and negative < 1:
            raise ValueError(f"Word2Vec: negative sampling needs negative >= 1, got {negative}")
        self.dim, self.window, self.method, self.loss = dim, window, method, loss
        self.negative, self.min_count, self.sample = negative, min_count, sample
        self.lr = lr if lr is not None else (0.025 if method == "skipgram" else 0.05)
        self.min_lr_ratio, self.batch_size, self.chunk_words = min_lr_ratio, batch_size, chunk_words
        self.max_vocab = max_vocab
        self.rng = np.random.default_rng(seed) if seed is not None else generator()
        self.words: list[str] = []
        self.losses: list[tuple[int, float]] = []
        self.words_per_second = 0.0
        self._with_loss = True

    # vocabulary and parameters
    def build_vocab(self, corpus: Any) -> Word2Vec:
        sentences = as_sentences(corpus)
        if not sentences:
            raise ValueError("Word2Vec: the corpus is empty")
        self.words, self.counts = count_words(sentences, self.min_count, self.max_vocab)
        self.index = {w: i for i, w in enumerate(self.words)}
        V, d = len(self.words), self.dim
        self.E = ((self.rng.random((V, d), dtype=np.float32) - 0.5) / d).astype(np.float32)
        self.tree = HuffmanTree(self.counts) if self.loss == "hierarchical" else None
        self.theta = np.zeros((V - 1 if self.tree else V, d), np.float32)
        self.sampler = UnigramSampler(self.counts)
        self.keep = keep_probabilities(self.counts, self.sample)
        return self

    @property
    def wv(self) -> WordVectors:
        """The learned embeddings E as a table."""
        return WordVectors(self.words, self.E)

    @property
    def context_vectors(self) -> WordVectors:
        return WordVectors(self.words, self.theta)

    # one batch of examples: sparse SGD on the rows it touches
    def _update_rows(self, matrix: np.ndarray, rows: np.ndarray, grads: np.ndarray,
                     lr: float) -> None:
        uniq, sums = scatter_add_rows(rows, grads, len(matrix))
        matrix[uniq] -= lr * sums

    def _ns_batch(self, centre_rows: np.ndarray, h: np.ndarray, targets: np.ndarray,
                  lr: float, weights: np.ndarray | None = None) -> float:
        m = len(targets)
        out_rows = np.empty((m, 1 + self.negative), np.int64)
        out_rows[:, 0] = targets
        out_rows[:, 1:] = self.sampler.sample((m, self.negative), self.rng)
        losses, dh, g = negative_sampling_kernel(h, self.theta[out_rows], self._with_loss)
        uniq, sums = scatter_add_rows(out_rows.reshape(-1), h, len(self.theta),
                                      cols=self._cols(m), weights=g.reshape(-1))
        self.theta[uniq] -= lr * sums
        self._update_input(centre_rows, dh, lr, weights)
        return float(losses.sum()) if losses is not None else float("nan")

    def _cols(self, m: int) -> np.ndarray:
        key = (m, self.negative)
        if getattr(self, "_cols_key", None) != key:
            self._cols_key, self._cols_cache = key, np.repeat(np.arange(m), 1 + self.negative)
        return self._cols_cache

    def _hs_batch(self, centre_rows: np.ndarray, h: np.ndarray, targets: np.ndarray,
                  lr: float, weights: np.ndarray | None = None) -> float:
        tree = self.tree
        nodes, codes, mask = tree.points[targets], tree.codes[targets], tree.mask[targets]
        losses, dh, g = hierarchical_softmax_kernel(h, self.theta[nodes], codes, mask,
                                                    self._with_loss)
        m, L = nodes.shape
        uniq, sums = scatter_add_rows(nodes.reshape(-1), h, len(self.theta),
                                      cols=np.repeat(np.arange(m), L), weights=g.reshape(-1))
        self.theta[uniq] -= lr * sums
        self._update_input(centre_rows, dh, lr, weights)
        return float(losses.sum()) if losses is not None else float("nan")

    def _softmax_batch(self, centre_rows: np.ndarray, h: np.ndarray, targets: np.ndarray,
                       lr: float, weights: np.ndarray | None = None) -> float:
        z = h @ self.theta.T
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        rows = np.arange(len(targets))
        loss = float(-np.log(np.maximum(p[rows, targets], 1e-30)).sum())
        p[rows, targets] -= 1
        dh = p @ self.theta
        self.theta -= lr * (p.T @ h)
        self._update_input(centre_rows, dh, lr, weights)
        return loss

    def _update_input(self, centre_rows: np.ndarray, dh: np.ndarray, lr: float,
                      weights: np.ndarray | None) -> None:
        if weights is None:
            self._update_rows(self.E, centre_rows, dh, lr)
        else:  # CBOW: each valid context word gets dh / (its window's count)
            keep = weights.reshape(-1) > 0
            m, width = weights.shape
            cols = np.repeat(np.arange(m), width)[keep]
            uniq, sums = scatter_add_rows(centre_rows.reshape(-1)[keep], dh, len(self.E),
                                          cols=cols, weights=weights.reshape(-1)[keep])
            self.E[uniq] -= lr * sums

    def _train_chunk(self, ids: np.ndarray, sent: np.ndarray, lr: float) -> tuple[float, int]:
        """One chunk of words: subsampling, windows, shuffled mini-batches of sparse SGD.
        The cost is computed on the chunk's first batch only (what is reported)."""
        ids, sent = subsample(ids, self.keep, self.rng, sent)
        step = {"negative": self._ns_batch, "softmax": self._softmax_batch,
                "hierarchical": self._hs_batch}[self.loss]
        total, count = 0.0, 0
        if self.method == "skipgram":
            centres, targets = skipgram_pairs(ids, self.window, self.rng, sent)
            n = len(centres)
        else:
            contexts, mask, centres = cbow_windows(ids, self.window, self.rng, sent)
            n = len(centres)
        order = self.rng.permutation(n)
        for s in range(0, n, self.batch_size):
            sel = order[s:s + self.batch_size]
            self._with_loss = s == 0
            if self.method == "skipgram":
                c, t = centres[sel], targets[sel]
                loss = step(c, self.E[c], t, lr)
            else:
                ctx, t = contexts[sel], centres[sel]
                msk = mask[sel].astype(np.float32)
                w = msk / msk.sum(axis=1, keepdims=True)
                h = np.matmul(w[:, None, :], self.E[ctx])[:, 0]
                loss = step(ctx, h, t, lr, w)
            if s == 0:
                total, count = loss, len(t)
        return total, count

    def train(self, corpus: Any, epochs: int = 5,
              progress: Callable[[int, int, float, float], None] | None = None) -> Word2Vec:
        """SGD over ``epochs`` passes, in chunks of ``chunk_words`` words, the learning rate
        decaying linearly to ``lr * min_lr_ratio`` over all the words, as word2vec."""
        if epochs < 1:
            raise ValueError(f"Word2Vec.train: expected epochs >= 1, got {epochs}")
        sentences = as_sentences(corpus)
        if not self.words:
            self.build_vocab(sentences)
        ids, sent = encode(sentences, self.index)
        n = len(ids)
        if n < 2:
            raise ValueError("Word2Vec.train: the corpus has fewer than 2 words in the "
                             "vocabulary")
        total_words = epochs * n
        done, start = 0, time.perf_counter()
        for _ in range(epochs):
            for s in range(0, n, self.chunk_words):
                lr = self.lr * max(1 - done / (total_words + 1), self.min_lr_ratio)
                loss, count = self._train_chunk(ids[s:s + self.chunk_words],
                                                sent[s:s + self.chunk_words], lr)
                done += min(self.chunk_words, n - s)
                self.losses.append((done, loss / max(count, 1)))
                elapsed = max(time.perf_counter() - start, 1e-9)
                self.words_per_second = done / elapsed
                if progress is not None:
                    progress(done, total_words, self.words_per_second, loss / max(count, 1))
        return self


__all__ = [
    "LOSSES", "METHODS", "HierarchicalSoftmaxLoss", "HuffmanTree", "NegativeSamplingLoss",
    "SkipGram", "UnigramSampler", "Word2Vec", "cbow_input", "cbow_loss", "cbow_windows",
    "dense_rows", "hierarchical_softmax_kernel", "hierarchical_softmax_loss",
    "keep_probabilities", "negative_sampling_kernel", "negative_sampling_loss",
    "scatter_add_rows", "skipgram_pairs", "skipgram_softmax_loss", "subsample",
]
