"""The triplet loss (FaceNet, Schroff et al. 2015), as the notes, and triplet mining in a batch.

    J = sum_i [ ||f(A_i) - f(P_i)||^2 - ||f(A_i) - f(N_i)||^2 + alpha ]_+ ,   [z]_+ = max(z, 0)

A (anchor) and P (positive) show the same identity, N (negative) another; alpha (the margin,
0.2 in the notes) asks the negative to be farther than the positive by at least alpha.
Embeddings ``(m, d)``, usually L2-normalized (``dlkit.models.siamese.EmbeddingNet``).

``TripletMiningLoss`` picks the triplets inside each batch of (embeddings, labels), as FaceNet
does: every (anchor, positive) pair of a batch with a negative chosen ``"random"``,
``"hard"`` (the closest negative) or ``"semi-hard"`` (the closest negative that is still
farther than the positive). ``IdentityBatches`` makes batches with several examples of each
identity, so that every batch holds positives.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.backend import array_module, generator, to_numpy
from dlkit.errors import ShapeError
from dlkit.tensor import Function, Tensor, as_tensor
from dlkit.train.step import Step, StepOutput

__all__ = ["STRATEGIES", "IdentityBatches", "TripletLoss", "TripletMiningLoss", "TripletStep",
           "mine_triplets", "pairwise_sq_distances", "triplet_loss"]

_REDUCTIONS = ("sum", "mean", "none")
STRATEGIES = ("random", "hard", "semi-hard", "all")


class TripletLoss(Function):
    """z_i = ||a_i - p_i||^2 - ||a_i - n_i||^2 + alpha;  J = sum_i max(z_i, 0) (or the mean).

    With s_i = 1[z_i > 0] (as ReLU: no gradient at the hinge z = 0, where the triplet is
    exactly satisfied):  da = 2 s (n - p),  dp = -2 s (a - p) = 2 s (p - a),  dn = 2 s (a - n).
    Shapes: a, p, n (m, d) -> scalar (``reduction="none"``: (m,)).
    """

    def __init__(self, alpha: float, reduction: str) -> None:
        self.alpha, self.reduction = alpha, reduction

    def forward(self, a, p, n):
        xp = array_module(a)
        self.dp, self.dn = a - p, a - n
        z = (self.dp * self.dp).sum(-1) - (self.dn * self.dn).sum(-1) + a.dtype.type(self.alpha)
        self.active = (z > 0).astype(a.dtype)
        losses = xp.maximum(z, 0)
        if self.reduction == "sum":
            return losses.sum()
        if self.reduction == "mean":
            return losses.mean() if len(losses) else losses.sum()
        return losses

    def backward(self, gy):
        g = gy if self.reduction == "none" else xp_full(gy, self.active.shape)
        if self.reduction == "mean" and len(self.active):
            g = g / g.dtype.type(len(self.active))
        s = (2 * g * self.active)[:, None]
        da = s * (self.dp - self.dn)  # 2 s ((a - p) - (a - n)) = 2 s (n - p)
        return da, -s * self.dp, s * self.dn


def xp_full(gy: Any, shape: tuple[int, ...]) -> Any:
    """A scalar upstream gradient spread over ``shape``."""
    return array_module(gy).broadcast_to(gy, shape)


def _check_embeddings(op: str, **arrays: Any) -> None:
    shapes = {k: tuple(v.shape) for k, v in arrays.items()}
    first = next(iter(shapes.values()))
    for name, shape in shapes.items():
        if len(shape) != 2:
            raise ShapeError(f"{op}: expected {name} of shape (m, d) (one embedding per row), "
                             f"got {shape}")
        if shape != first:
            raise ShapeError(f"{op}: expected anchor, positive and negative of the same shape "
                             f"(m, d), got {shapes}")


def triplet_loss(anchor: Any, positive: Any, negative: Any, alpha: float = 0.2,
                 reduction: str = "sum") -> Tensor:
    """The notes' triplet cost: ``sum_i max(||A_i - P_i||^2 - ||A_i - N_i||^2 + alpha, 0)``.

    ``anchor``, ``positive``, ``negative``: embeddings (m, d); ``reduction`` "sum" (the notes'
    J), "mean" (over the m triplets) or "none" (the m losses)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"triplet_loss: expected reduction in {_REDUCTIONS}, got {reduction!r}")
    if not alpha >= 0:
        raise ValueError(f"triplet_loss: expected alpha (the margin) >= 0, got {alpha!r}")
    a, p, n = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    _check_embeddings("triplet_loss", anchor=a, positive=p, negative=n)
    return TripletLoss(float(alpha), reduction)(a, p, n)


def pairwise_sq_distances(E: Any) -> np.ndarray:
    """D[i, j] = ||e_i - e_j||^2 for the rows of E (m, d), as a NumPy array (no gradient)."""
    E = to_numpy(E.data if isinstance(E, Tensor) else E).astype(np.float64)
    sq = (E * E).sum(1)
    D = sq[:, None] + sq[None, :] - 2 * E @ E.T
    np.maximum(D, 0, out=D)
    np.fill_diagonal(D, 0)
    return D


def mine_triplets(embeddings: Any, labels: Any, strategy: str = "semi-hard",
                  alpha: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (anchor, positive, negative) of triplets inside one batch, as FaceNet.

    Every ordered pair (a, p) of distinct examples with the same label is an anchor-positive
    pair; its negative (a different label) is chosen by ``strategy``:

    - ``"random"``: any negative, uniformly (dlkit's generator);
    - ``"hard"``: argmin_n D[a, n], the closest negative;
    - ``"semi-hard"``: the closest negative with D[a, p] < D[a, n] (FaceNet's choice, which
      avoids the collapse hard negatives cause early on); where there is none, the farthest
      negative (as TensorFlow Addons' ``TripletSemiHardLoss``);
    - ``"all"``: every negative (m_pairs x m_negatives triplets).

    Anchors with no positive or no negative in the batch give no triplet.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"mine_triplets: expected strategy in {STRATEGIES}, got {strategy!r}")
    y = to_numpy(labels.data if isinstance(labels, Tensor) else labels).reshape(-1)
    E = embeddings.data if isinstance(embeddings, Tensor) else embeddings
    if E.ndim != 2 or len(E) != len(y):
        raise ShapeError(f"mine_triplets: expected embeddings (m, d) and labels (m,), got "
                         f"{tuple(E.shape)} and {tuple(np.shape(labels))}")
    D = pairwise_sq_distances(E)
    same = y[:, None] == y[None, :]
    pos = same & ~np.eye(len(y), dtype=bool)
    a_idx, p_idx = np.nonzero(pos)
    neg = ~same[a_idx]  # (pairs, m): the negatives of each pair's anchor
    keep = neg.any(1)
    a_idx, p_idx, neg = a_idx[keep], p_idx[keep], neg[keep]
    if strategy == "all":
        rows, n_idx = np.nonzero(neg)
        return a_idx[rows], p_idx[rows], n_idx
    d_an = D[a_idx]  # (pairs, m)
    if strategy == "random":
        scores = np.where(neg, generator().random(neg.shape), -1.0)
        n_idx = scores.argmax(1)
    elif strategy == "hard":
        n_idx = np.where(neg, d_an, np.inf).argmin(1)
    else:
        d_ap = D[a_idx, p_idx][:, None]
        outside = neg & (d_an > d_ap)
        closest_outside = np.where(outside, d_an, np.inf).argmin(1)
        farthest = np.where(neg, d_an, -np.inf).argmax(1)
        n_idx = np.where(outside.any(1), closest_outside, farthest)
    return a_idx, p_idx, n_idx


class TripletMiningLoss:
    """A loss over (embeddings, labels): the triplet loss of the triplets mined in the batch.

    ``loss(embeddings (m, d), labels (m,)) -> scalar Tensor``, so it goes to ``dl.train.fit``
    as any loss: ``fit(encoder, TripletMiningLoss(), opt, X, labels, metrics=())``.
    ``reduction="mean"`` (default) averages over the mined triplets, whose number changes from
    batch to batch; ``"sum"`` is the notes' J. ``fraction_active`` (after a call) is the share
    of mined triplets with a positive loss. A batch with no triplet (no identity twice) gives
    a zero loss: use ``IdentityBatches`` when identities are many and examples few.
    """

    def __init__(self, alpha: float = 0.2, strategy: str = "semi-hard",
                 reduction: str = "mean") -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"TripletMiningLoss: expected strategy in {STRATEGIES}, got "
                             f"{strategy!r}")
        if reduction not in ("sum", "mean"):
            raise ValueError(f"TripletMiningLoss: expected reduction 'mean' or 'sum', got "
                             f"{reduction!r}")
        self.alpha, self.strategy, self.reduction = float(alpha), strategy, reduction
        self.fraction_active = 0.0
        self.__name__ = f"triplet_{strategy}"

    def __call__(self, embeddings: Tensor, labels: Any) -> Tensor:
        embeddings = as_tensor(embeddings)
        a, p, n = mine_triplets(embeddings, labels, self.strategy, self.alpha)
        if len(a) == 0:  # no identity twice in this batch: nothing to learn from it
            self.fraction_active = 0.0
            return (embeddings * 0.0).sum()
        losses = triplet_loss(embeddings[a], embeddings[p], embeddings[n], self.alpha, "none")
        self.fraction_active = float((to_numpy(losses.data) > 0).mean())
        return losses.sum() if self.reduction == "sum" else losses.mean()

    def __repr__(self) -> str:
        return (f"TripletMiningLoss(alpha={self.alpha}, strategy={self.strategy!r}, "
                f"reduction={self.reduction!r})")


class TripletStep(Step):
    """A ``dl.train.fit`` step for (images, labels) batches: the mined triplet loss of the
    batch's embeddings, logging ``active_triplets`` (the share of mined triplets with a
    positive loss: it falls as training satisfies the margins)."""

    output = "values"

    def __init__(self, loss: TripletMiningLoss | None = None) -> None:
        self.loss = loss or TripletMiningLoss()

    def __call__(self, model: Any, batch: Any) -> StepOutput:
        x, labels = batch[0], batch[1]
        value = self.loss(model(x), labels)
        return StepOutput(value, size=len(x), logs={"active_triplets":
                                                    self.loss.fraction_active})


class IdentityBatches:
    """Batches of ``identities`` identities x ``per_identity`` examples each (FaceNet's
    "around 40 faces per identity per mini-batch"; the PK sampler of later work).

    Iterating yields ``(X_batch, y_batch)`` Tensors (``index_batches()`` yields the index
    arrays); one pass has ``len(self)`` batches, about one epoch of examples. Identities and
    examples are drawn with dlkit's generator; an identity with fewer than ``per_identity``
    examples is drawn with replacement. Pass it as ``data`` to ``dl.train.fit`` (it is a
    re-iterable of batches with a length).
    """

    def __init__(self, X: Any, y: Any, identities: int = 8, per_identity: int = 4,
                 n_batches: int | None = None) -> None:
        self.X = np.asarray(X.data if isinstance(X, Tensor) else X)
        self.y = np.asarray(to_numpy(y.data if isinstance(y, Tensor) else y)).reshape(-1)
        if len(self.X) != len(self.y):
            raise ShapeError(f"IdentityBatches: X has {len(self.X)} examples, y has "
                             f"{len(self.y)}")
        self.classes, inverse = np.unique(self.y, return_inverse=True)
        if len(self.classes) < 2:
            raise ValueError(f"IdentityBatches: expected at least 2 identities, got "
                             f"{len(self.classes)}")
        if identities < 2 or per_identity < 2:
            raise ValueError(f"IdentityBatches: expected identities >= 2 and per_identity >= 2 "
                             f"(a triplet needs two examples of one identity and one of "
                             f"another), got {identities} and {per_identity}")
        self.members = [np.flatnonzero(inverse == k) for k in range(len(self.classes))]
        self.identities = min(int(identities), len(self.classes))
        self.per_identity = int(per_identity)
        per_batch = self.identities * self.per_identity
        self.n_batches = n_batches or max(1, math.ceil(len(self.y) / per_batch))

    def __len__(self) -> int:
        return self.n_batches

    def index_batches(self) -> Iterator[np.ndarray]:
        rng = generator()
        for _ in range(self.n_batches):
            chosen = rng.choice(len(self.classes), self.identities, replace=False)
            parts = []
            for k in chosen:
                members = self.members[k]
                replace = len(members) < self.per_identity
                parts.append(rng.choice(members, self.per_identity, replace=replace))
            yield np.concatenate(parts)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for idx in self.index_batches():
            yield Tensor(self.X[idx]), Tensor(self.y[idx])
