"""Connectionist temporal classification (Graves et al., 2006): the CTC cost.

An RNN emits, at each of T steps, a distribution over C classes, one of them the blank.
A path pi (one class per step) collapses to a label sequence by merging repeated classes not
separated by a blank and dropping blanks (the notes' "ttt_h_eee___" -> "the"). The cost is
-log p(l | x), p(l | x) = sum over the paths that collapse to l of prod_t y_t(pi_t),
summed by the forward-backward algorithm on the extended label l' = (blank, l_1, blank, l_2,
..., l_S, blank) of length 2S + 1, in log space (no underflow on thousands of steps):

    alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) [+ alpha_{t-1}(s-2)]) y_t(l'_s)
    beta_t(s)  = beta_{t+1}(s) y_{t+1}(l'_s) + beta_{t+1}(s+1) y_{t+1}(l'_{s+1})
                 [+ beta_{t+1}(s+2) y_{t+1}(l'_{s+2})]

with the skip [.] allowed when l'_s is a label different from l'_{s-2};
p(l | x) = alpha_{T-1}(2S) + alpha_{T-1}(2S - 1), and the gradient with respect to the
log-probabilities is d(-log p) / d log y_t(k) = -(1/p) sum_{s: l'_s = k} alpha_t(s) beta_t(s)
(here beta excludes the emission at t): minus the posterior that step t emits k.

Layout: ``log_probs`` is batch-first ``(m, T, C)`` (dlkit's sequence convention; PyTorch's
``ctc_loss`` takes ``(T, m, C)``: transpose between them). Reductions as PyTorch: ``"mean"``
divides each example's loss by its target length (at least 1) and averages over the batch;
``"sum"``; ``"none"`` gives ``(m,)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import array_module, to_numpy
from dlkit.errors import ShapeError
from dlkit.tensor import Function, Tensor, as_tensor

_REDUCTIONS = ("mean", "sum", "none")


class CTCLoss(Function):
    """Batched CTC by forward-backward in log space; backward gives minus the posteriors.

    Inputs: log_probs (m, T, C). Saved: the extended labels ``ext`` (m, S'), their validity
    (s < 2 S_b + 1), the skip mask, input lengths (m,), target lengths (m,)."""

    def __init__(self, ext: Any, valid: Any, skip: Any, input_lengths: Any,
                 target_lengths: Any, reduction: str, zero_infinity: bool) -> None:
        self.ext, self.valid, self.skip = ext, valid, skip
        self.input_lengths, self.target_lengths = input_lengths, target_lengths
        self.reduction, self.zero_infinity = reduction, zero_infinity

    def forward(self, log_probs):
        xp = array_module(log_probs)
        m, T, _ = log_probs.shape
        S = self.ext.shape[1]
        dtype = log_probs.dtype
        neg_inf = dtype.type(-np.inf)
        # lp_ext[t, b, s] = log y_t^b(l'_s): every step's emissions of the extended labels
        lp_ext = log_probs.transpose(1, 0, 2)[:, xp.arange(m)[:, None], self.ext]
        lp_ext = xp.where(self.valid[None], lp_ext, neg_inf)
        self.lp_ext = lp_ext
        # 0 where the skip s-2 -> s is allowed, -inf where not
        self.skip_pen = xp.where(self.skip, dtype.type(0), neg_inf)
        log_alpha = xp.full((T, m, S), neg_inf, dtype=dtype)
        alive0 = (self.input_lengths > 0)[:, None]
        log_alpha[0, :, :2] = xp.where(alive0, lp_ext[0, :, :2], neg_inf)
        one_back = xp.full((m, S), neg_inf, dtype=dtype)
        two_back = xp.full((m, S), neg_inf, dtype=dtype)
        with np.errstate(invalid="ignore"):
            for t in range(1, T):
                prev = log_alpha[t - 1]
                one_back[:, 1:] = prev[:, :-1]
                two_back[:, 2:] = prev[:, :-2]
                two_back += self.skip_pen
                cur = xp.logaddexp(prev, one_back, out=log_alpha[t])
                xp.logaddexp(cur, two_back, out=cur)
                cur += lp_ext[t]
        self.log_alpha = log_alpha
        # log p(l | x) at each example's own last step: alpha(2S) + alpha(2S - 1)
        rows = xp.arange(m)
        last_t = xp.maximum(self.input_lengths - 1, 0)
        end = 2 * self.target_lengths
        a_end = log_alpha[last_t, rows, end]
        a_before = xp.where(self.target_lengths > 0,
                            log_alpha[last_t, rows, xp.maximum(end - 1, 0)], neg_inf)
        with np.errstate(invalid="ignore"):
            loglik = xp.logaddexp(a_end, a_before)
        loglik = xp.where(self.input_lengths > 0, loglik,
                          xp.where(self.target_lengths == 0, 0.0, neg_inf))
        self.loglik = loglik.astype(log_probs.dtype)
        losses = -self.loglik
        self.infinite = ~xp.isfinite(losses)
        if self.zero_infinity:
            losses = xp.where(self.infinite, 0, losses).astype(log_probs.dtype)
        self.divisor = xp.maximum(self.target_lengths, 1).astype(log_probs.dtype)
        if self.reduction == "mean":
            return (losses / self.divisor).mean()
        if self.reduction == "sum":
            return losses.sum()
        return losses

    def backward(self, gy):
        xp = array_module(gy)
        lp_ext, log_alpha = self.lp_ext, self.log_alpha
        T, m, S = lp_ext.shape
        dtype = lp_ext.dtype
        neg_inf = dtype.type(-np.inf)
        # beta_t(s) without the emission at t; starts at each example's own last step
        end = 2 * self.target_lengths
        s_index = xp.arange(S)[None, :]
        start = (s_index == end[:, None]) | ((s_index == end[:, None] - 1)
                                             & (self.target_lengths[:, None] > 0))
        start = xp.where(start, dtype.type(0), neg_inf)
        skip_from = xp.full((m, S), neg_inf, dtype=dtype)  # may s -> s + 2 be skipped to
        skip_from[:, :-2] = self.skip_pen[:, 2:]
        log_beta = xp.full_like(log_alpha, neg_inf)
        beta = xp.full((m, S), neg_inf, dtype=dtype)
        one_ahead = xp.full((m, S), neg_inf, dtype=dtype)
        two_ahead = xp.full((m, S), neg_inf, dtype=dtype)
        last_t = to_numpy(self.input_lengths) - 1
        starts_at = {int(t): xp.asarray(np.flatnonzero(last_t == t)) for t in set(last_t)
                     if t >= 0}
        with np.errstate(invalid="ignore"):
            for t in range(T - 1, -1, -1):
                if t < T - 1:  # beta_t(s) = logsumexp over s, s+1, s+2 of beta_{t+1} + lp
                    nxt = beta + lp_ext[t + 1]
                    one_ahead[:, :-1] = nxt[:, 1:]
                    two_ahead[:, :-2] = nxt[:, 2:]
                    two_ahead += skip_from
                    xp.logaddexp(nxt, one_ahead, out=beta)
                    xp.logaddexp(beta, two_ahead, out=beta)
                rows = starts_at.get(t)
                if rows is not None:  # examples whose last step is t start here
                    beta[rows] = start[rows]
                log_beta[t] = beta
        # posterior of (t, s), summed over the s that carry the same class
        finite = ~self.infinite
        safe_loglik = xp.where(finite, self.loglik, 0)
        with np.errstate(invalid="ignore"):
            post = xp.exp(log_alpha + log_beta - safe_loglik[None, :, None])
        post = xp.where(finite[None, :, None], post, 0)
        C = self.inputs[0].shape[2]
        onehot = (self.ext[:, :, None] == xp.arange(C)[None, None, :]).astype(dtype)
        gamma = xp.matmul(post.transpose(1, 0, 2), onehot)  # (m, T, C)
        if self.reduction == "mean":
            weight = gy / (self.divisor * dtype.type(m))
        elif self.reduction == "sum":
            weight = xp.broadcast_to(gy, (m,))
        else:
            weight = gy
        return -gamma * weight.astype(dtype)[:, None, None]


def _as_int_array(xp: Any, x: Any, name: str) -> Any:
    arr = to_numpy(x.data if isinstance(x, Tensor) else x)
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise TypeError(f"ctc_loss: expected integer {name}, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def ctc_loss(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """CTC cost of log-probabilities ``log_probs`` (m, T, C) (log-softmax outputs, batch
    first) for label sequences ``targets``: padded (m, S_max) or concatenated (sum of
    target_lengths,) as PyTorch; ``input_lengths`` (m,) <= T and ``target_lengths`` (m,).
    Steps t >= input_lengths[b] are ignored (their gradient is 0). An impossible alignment
    (too few steps for the labels and their repeats) costs inf, or 0 with zero_infinity."""
    lp = as_tensor(log_probs)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"ctc_loss: expected reduction in {_REDUCTIONS}, got {reduction!r}")
    if lp.ndim != 3:
        hint = " (a single sequence? add a batch axis: x[None])" if lp.ndim == 2 else ""
        raise ShapeError(f"ctc_loss: expected log_probs (m, T, C), got shape {lp.shape}{hint}")
    if lp.dtype.kind != "f":
        raise TypeError(f"ctc_loss: expected float log_probs, got {lp.dtype}")
    m, T, C = lp.shape
    if not 0 <= blank < C:
        raise ValueError(f"ctc_loss: expected 0 <= blank < C = {C}, got blank={blank}")
    xp = array_module(lp.data)
    in_len = _as_int_array(xp, input_lengths, "input_lengths").reshape(-1)
    tg_len = _as_int_array(xp, target_lengths, "target_lengths").reshape(-1)
    tg = _as_int_array(xp, targets, "targets")
    if in_len.shape != (m,) or tg_len.shape != (m,):
        raise ShapeError(f"ctc_loss: expected input_lengths and target_lengths of shape "
                         f"({m},), got {in_len.shape} and {tg_len.shape}")
    if (in_len < 0).any() or (in_len > T).any():
        raise ValueError(f"ctc_loss: expected 0 <= input_lengths <= T = {T}, got "
                         f"{in_len.tolist()}; is log_probs time-major (T, m, C)? dlkit is "
                         f"batch-first (m, T, C): transpose(1, 0, 2)")
    if (tg_len < 0).any():
        raise ValueError(f"ctc_loss: expected target_lengths >= 0, got {tg_len.tolist()}")
    S_max = int(tg_len.max()) if m else 0
    if tg.ndim == 1:  # concatenated, as PyTorch allows
        if tg.size != tg_len.sum():
            raise ShapeError(f"ctc_loss: concatenated targets of length {tg.size} do not match "
                             f"sum(target_lengths) = {int(tg_len.sum())}")
        offsets = np.concatenate([[0], np.cumsum(tg_len)[:-1]])
        pos = offsets[:, None] + np.arange(S_max)[None, :]
        inside = np.arange(S_max)[None, :] < tg_len[:, None]
        tg = np.where(inside, tg[np.minimum(pos, max(tg.size - 1, 0))] if tg.size else 0, 0)
    elif tg.ndim == 2:
        if tg.shape[0] != m or tg.shape[1] < S_max:
            raise ShapeError(f"ctc_loss: expected padded targets ({m}, >= {S_max}), got "
                             f"shape {tg.shape}")
        tg = tg[:, :S_max]
    else:
        raise ShapeError(f"ctc_loss: expected targets (m, S) or concatenated (N,), got shape "
                         f"{tg.shape}")
    inside = np.arange(S_max)[None, :] < tg_len[:, None]
    labels = tg[inside]
    if labels.size and ((labels < 0).any() or (labels >= C).any() or (labels == blank).any()):
        raise ValueError(f"ctc_loss: expected target labels in [0, {C}) other than the blank "
                         f"{blank}, got values {sorted(set(labels.tolist()))[:10]}")
    # extended labels l' = (blank, l1, blank, l2, ..., blank); skip s-2 -> s where allowed
    S = 2 * S_max + 1
    ext = np.full((m, S), blank, dtype=np.int64)
    ext[:, 1::2] = np.where(inside, tg, blank)
    valid = np.arange(S)[None, :] < (2 * tg_len + 1)[:, None]
    skip = np.zeros((m, S), dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    arrays = [xp.asarray(a) for a in (ext, valid, skip, in_len, tg_len)]
    return CTCLoss(*arrays, reduction, zero_infinity)(lp)
