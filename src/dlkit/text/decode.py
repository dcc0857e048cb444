"""Decoding a conditional language model P(y | x) over any step function: greedy search, beam
search (course 5 week 3), sampling, and the log probability of given outputs.

The one interface every model implements (seq2seq decoders, ``CharLM``, the Transformer)::

    step_fn(tokens: np.ndarray (k,) int64, state: Any) -> (log_probs: np.ndarray (k, V), state)

``tokens`` are the k hypotheses' last tokens y<t-1> (the start token at t = 1); ``state`` is
whatever the model carries for them (arrays, or lists / tuples / dicts of arrays, whose first
axis is the k hypotheses: RNN states, encoder outputs, a key-value cache); ``log_probs`` are
log P(y<t> | x, y<1..t-1>) over the vocabulary. The searcher reorders and copies hypotheses with
``select_state(state, index)`` (default: every array leaf indexed along axis 0).

Beam search, as the notes: keep the B most likely partial outputs; at each step score all
B x V one-token extensions by the sum of log probabilities (a product of probabilities below 1
underflows; its log does not), keep the B best. An extension ending in ``<EOS>`` is a finished
hypothesis; the beam is refilled from the next best so B stay alive; an example stops when it has
B finished hypotheses and its best live one can no longer overtake them (with B = 1 this is
greedy search), or at ``max_len`` (the live ones then count as finished, unended). Finished
hypotheses are ranked by the length-normalized objective

    score(y) = 1 / T_y^alpha * sum_{t=1}^{T_y} log P(y<t> | x, y<1..t-1>)

(alpha = 0: the plain sum, which favours short outputs; alpha = 1: the mean per token; the
notes' heuristic 0.7 by default). T_y counts the ``<EOS>`` token, whose probability is in the sum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.ops.activation import stable_log_softmax
from dlkit.tensor import Tensor
from dlkit.text.sampling import draw, next_token_probabilities

StepFn = Callable[[np.ndarray, Any], tuple[Any, Any]]


@dataclass
class Hypothesis:
    """One output: ``tokens`` (without the start and the final ``<EOS>``), ``log_prob`` the sum
    of log P over its T_y tokens (``<EOS>`` included when ``ended``), ``score`` the
    length-normalized log_prob / T_y^alpha."""

    tokens: list[int]
    log_prob: float
    score: float
    ended: bool = True

    @property
    def length(self) -> int:
        """T_y: the predicted tokens, ``<EOS>`` included."""
        return len(self.tokens) + int(self.ended)


def select_state(state: Any, index: np.ndarray) -> Any:
    """``state`` with every array leaf indexed along axis 0 by ``index`` (rows copied and
    reordered); lists, tuples and dicts are walked; None and scalars are kept."""
    if state is None or np.isscalar(state):
        return state
    if isinstance(state, Tensor):
        return Tensor(state.data[index])
    if isinstance(state, dict):
        return {k: select_state(v, index) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(select_state(s, index) for s in state)
    if hasattr(state, "shape"):
        return state[index]
    return state


_select_leaves = select_state


def normalized_score(log_prob: Any, length: Any, alpha: float) -> Any:
    """The notes' 1 / T_y^alpha * sum log P (alpha = 0: no normalization)."""
    return log_prob / np.power(np.maximum(length, 1), alpha)


def state_rows(state: Any) -> int | None:
    """The first axis of the first array leaf of ``state`` (None when it has no array)."""
    if isinstance(state, Tensor):
        return state.shape[0]
    if isinstance(state, dict):
        state = list(state.values())
    if isinstance(state, (list, tuple)):
        for s in state:
            rows = state_rows(s)
            if rows is not None:
                return rows
        return None
    return state.shape[0] if hasattr(state, "shape") and len(state.shape) else None


def _start_tokens(start: Any, batch_size: int | None, state: Any = None) -> np.ndarray:
    s = np.asarray(start, dtype=np.int64)
    if s.ndim == 0:
        n = batch_size or state_rows(state) or 1
        return np.full(n, int(s), dtype=np.int64)
    if s.ndim != 1:
        raise ValueError(f"decode: expected start tokens of shape (n,) or one int, got shape "
                         f"{s.shape}")
    if batch_size is not None and len(s) != batch_size:
        raise ValueError(f"decode: expected {batch_size} start tokens, got {len(s)}")
    return s


def _log_probs(step_fn: StepFn, tokens: np.ndarray, state: Any, k: int) -> tuple[Any, Any]:
    out = step_fn(tokens, state)
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError("decode: step_fn must return (log_probs (k, V), new_state)")
    logp, state = out
    logp = np.array(to_numpy(getattr(logp, "data", logp)), dtype=np.float64)
    if logp.ndim != 2 or logp.shape[0] != k:
        raise ValueError(f"decode: step_fn returned log_probs of shape {logp.shape}; expected "
                         f"({k}, V), one row per hypothesis")
    return logp, state


def _check(beam_width: int, max_len: int, alpha: float) -> None:
    if not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
        raise ValueError(f"beam_search: expected a beam width B >= 1, got {beam_width}")
    if max_len < 1:
        raise ValueError(f"decode: expected max_len >= 1, got {max_len}")
    if alpha < 0:
        raise ValueError(f"beam_search: expected alpha >= 0 (0 = no length normalization), "
                         f"got {alpha}")


def greedy_search(step_fn: StepFn, state: Any, start: Any, eos_id: int, max_len: int = 50,
                  *, batch_size: int | None = None, banned_ids: Sequence[int] = (),
                  min_len: int = 0, alpha: float = 0.0) -> list[Hypothesis]:
    """The most likely next token at every step, for each of the n examples at once (``start``:
    one token for all, or (n,) tokens; ``state`` with n rows; n is ``batch_size``, else the
    rows of ``state``, else 1). One ``Hypothesis`` per example."""
    _check(1, max_len, alpha)
    tokens = _start_tokens(start, batch_size, state)
    n = len(tokens)
    out = np.zeros((n, max_len), dtype=np.int64)
    total = np.zeros(n)
    length = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    for t in range(max_len):
        logp, state = _log_probs(step_fn, tokens, state, n)
        if banned_ids:
            logp[:, list(banned_ids)] = -np.inf
        if t < min_len:
            logp[:, eos_id] = -np.inf
        tokens = logp.argmax(axis=1)
        live = ~done
        total[live] += logp[np.arange(n), tokens][live]
        length[live] += 1
        out[live, t] = tokens[live]
        done |= tokens == eos_id
        if done.all():
            break
    hyps = []
    for i in range(n):
        seq = out[i, :length[i]].tolist()
        ended = bool(seq) and seq[-1] == eos_id and done[i]
        if ended:
            seq = seq[:-1]
        hyps.append(Hypothesis(seq, float(total[i]),
                               float(normalized_score(total[i], length[i], alpha)), ended))
    return hyps


def _done(finished: list[Hypothesis], best_live: float, t: int, max_len: int, B: int,
          alpha: float, early_stopping: bool | str) -> bool:
    """Whether an example's search can stop after step t (Hugging Face's three rules)."""
    if len(finished) < B:
        return False
    if early_stopping is True:
        return True
    worst_kept = sorted(h.score for h in finished)[-B]
    length = max_len if early_stopping == "never" and best_live < 0 else t
    return bool(normalized_score(best_live, length, alpha) <= worst_kept)


def beam_search(step_fn: StepFn, state: Any, start: Any, eos_id: int, beam_width: int = 5,
                max_len: int = 50, alpha: float = 0.7, n_best: int = 1, *,
                batch_size: int | None = None,
                select_state: Callable[[Any, np.ndarray], Any] | None = None,
                banned_ids: Sequence[int] = (), min_len: int = 0,
                early_stopping: bool | str = False) -> list[list[Hypothesis]]:
    """Beam search (see the module docstring) for n examples at once: ``start`` one token or
    (n,) tokens, ``state`` with n rows (copied B times here). Returns, per example, the
    ``n_best`` <= B finished hypotheses, best normalized score first. ``select_state(state,
    index)`` copies and reorders the hypotheses' state (default: ``select_state``, every
    array leaf indexed along axis 0).

    An example stops once it has B finished hypotheses and (``early_stopping=False``) the best
    live one, normalized at its current length, no longer beats the B-th finished; ``True``
    stops at B finished; ``"never"`` bounds the live one at ``max_len`` (exact: nothing that
    could still win is dropped for stopping early). With B = 1 and the first two, this is
    greedy search."""
    _check(beam_width, max_len, alpha)
    B = int(beam_width)
    if not 1 <= n_best <= B:
        raise ValueError(f"beam_search: expected 1 <= n_best <= beam width {B}, got {n_best}")
    select = select_state or _select_leaves
    first = _start_tokens(start, batch_size, state)
    n = len(first)
    rows = np.repeat(np.arange(n), B)
    state = select(state, rows)
    tokens = first[rows]
    sums = np.full((n, B), -np.inf)
    sums[:, 0] = 0.0  # one live hypothesis (the start) per example at t = 1
    seqs = np.zeros((n, B, 0), dtype=np.int64)
    active = np.arange(n)  # the examples still searching, in row order
    finished: list[list[Hypothesis]] = [[] for _ in range(n)]
    for t in range(1, max_len + 1):
        a = len(active)
        logp, state = _log_probs(step_fn, tokens, state, a * B)
        V = logp.shape[1]
        if banned_ids:
            logp[:, list(banned_ids)] = -np.inf
        if t <= min_len:
            logp[:, eos_id] = -np.inf
        cand = (sums.reshape(-1, 1) + logp).reshape(a, B * V)
        K = min(2 * B, B * V)
        top = np.argpartition(-cand, K - 1, axis=1)[:, :K]
        top_scores = np.take_along_axis(cand, top, axis=1)
        order = np.lexsort((top, -top_scores), axis=1)  # best first, ties by index
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        beam, tok = top // V, top % V
        finite = np.isfinite(top_scores)
        is_eos = (tok == eos_id) & finite
        # finished: extensions by <EOS> among the B best of this step
        for r, c in zip(*np.nonzero(is_eos[:, :B])):
            i = active[r]
            lp = float(top_scores[r, c])
            finished[i].append(Hypothesis(seqs[r, beam[r, c]].tolist(), lp,
                                          float(normalized_score(lp, t, alpha))))
        # live: the B best extensions not ending the output
        keep = ~is_eos & finite
        pos = np.argsort(~keep, axis=1, kind="stable")[:, :B]
        kept = np.take_along_axis(keep, pos, axis=1)
        new_beam = np.take_along_axis(beam, pos, axis=1)
        new_tok = np.take_along_axis(tok, pos, axis=1)
        new_sums = np.where(kept, np.take_along_axis(top_scores, pos, axis=1), -np.inf)
        new_seqs = np.concatenate(
            [np.take_along_axis(seqs, new_beam[:, :, None], axis=1), new_tok[:, :, None]], axis=2)
        if t == max_len:  # out of length: the live ones finish unended
            for r in range(a):
                for b in np.flatnonzero(kept[r]):
                    lp = float(new_sums[r, b])
                    finished[active[r]].append(Hypothesis(
                        new_seqs[r, b].tolist(), lp, float(normalized_score(lp, t, alpha)),
                        ended=False))
            break
        best_live = new_sums.max(axis=1)
        still = np.array([not _done(finished[i], best_live[r], t, max_len, B, alpha,
                                    early_stopping) for r, i in enumerate(active)])
        still &= kept.any(axis=1)
        if not still.any():
            break
        src = (np.arange(a)[:, None] * B + new_beam)[still].reshape(-1)
        state = select(state, src)
        tokens = new_tok[still].reshape(-1)
        sums, seqs, active = new_sums[still], new_seqs[still], active[still]
    return [sorted(f, key=lambda h: -h.score)[:n_best] for f in finished]


def sample_search(step_fn: StepFn, state: Any, start: Any, eos_id: int, max_len: int = 50, *,
                  batch_size: int | None = None, temperature: float = 1.0,
                  top_k: int | None = None, banned_ids: Sequence[int] = (),
                  seed: int | None = None, alpha: float = 0.0) -> list[Hypothesis]:
    """One output drawn per example from softmax(log P / T) (``top_k``: only the k most likely
    tokens), from dlkit's generator or a ``seed`` of its own."""
    from dlkit.text.sampling import _rng

    _check(1, max_len, alpha)
    next_token_probabilities(np.zeros(2), temperature, top_k)  # check the options early
    rng = _rng(seed)
    tokens = _start_tokens(start, batch_size, state)
    n = len(tokens)
    seqs: list[list[int]] = [[] for _ in range(n)]
    total = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    ended = np.zeros(n, dtype=bool)
    for _ in range(max_len):
        logp, state = _log_probs(step_fn, tokens, state, n)
        p = next_token_probabilities(logp, temperature, top_k, banned_ids)
        tokens = draw(p, rng).astype(np.int64)
        for r in np.flatnonzero(~done):
            total[r] += logp[r, tokens[r]]
            if tokens[r] == eos_id:
                done[r] = ended[r] = True
            else:
                seqs[r].append(int(tokens[r]))
        if done.all():
            break
    return [Hypothesis(seqs[i], float(total[i]),
                       float(normalized_score(total[i], len(seqs[i]) + ended[i], alpha)),
                       bool(ended[i])) for i in range(n)]


def sequence_log_probs(step_fn: StepFn, state: Any, start: Any,
                       outputs: Sequence[Sequence[int]], eos_id: int | None = None, *,
                       batch_size: int | None = None) -> np.ndarray:
    """log P(y | x) = sum_t log P(y<t> | x, y<1..t-1>) of the given outputs (one per example,
    fed by teacher forcing), with the final ``<EOS>`` appended when ``eos_id`` is given: what
    beam-search error analysis compares for y* and y_hat. Returns (n,) float64."""
    first = _start_tokens(start, batch_size if batch_size is not None else len(outputs), state)
    n = len(first)
    if len(outputs) != n:
        raise ValueError(f"sequence_log_probs: expected {n} outputs, got {len(outputs)}")
    seqs = [list(y) + ([eos_id] if eos_id is not None else []) for y in outputs]
    T = max((len(s) for s in seqs), default=0)
    targets = np.zeros((n, T), dtype=np.int64)
    mask = np.zeros((n, T), dtype=bool)
    for i, s in enumerate(seqs):
        targets[i, :len(s)] = s
        mask[i, :len(s)] = True
    total = np.zeros(n)
    tokens = first
    for t in range(T):
        logp, state = _log_probs(step_fn, tokens, state, n)
        total += np.where(mask[:, t], logp[np.arange(n), targets[:, t]], 0.0)
        tokens = targets[:, t]
    return total


def lm_step_fn(model: Any) -> StepFn:
    """The step function of a language model called as ``model(idx (k, 1), initial_state=s,
    return_state=True) -> (logits (k, 1, V), s)`` (``CharLM``): log-softmax of the last logits.
    Use it inside ``dlkit.text.evaluating(model)``; the start state is None."""

    def step(tokens: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        logits, state = model(tokens[:, None], initial_state=state, return_state=True)
        return log_softmax_rows(logits.data[:, -1]), [getattr(s, "data", s) for s in state]

    return step


def log_softmax_rows(z: Any) -> np.ndarray:
    """log softmax over the last axis, in float64 on the host (dlkit's one log-softmax)."""
    return stable_log_softmax(np.array(to_numpy(z), dtype=np.float64), -1)


def lm_beam_search(model: Any, vocab: Any, prefix: str = "", beam_width: int = 5,
                   max_len: int = 50, alpha: float = 0.7, n_best: int = 1,
                   allow_unk: bool = False) -> list[tuple[str, float]]:
    """The most likely texts of a ``CharLM`` after ``prefix`` by beam search: ``n_best``
    (text, normalized score) pairs. (The start is ``<EOS>``, then the prefix, as sampling.)"""
    from dlkit.text.sampling import evaluating

    step = lm_step_fn(model)
    banned = [vocab.pad_id] + ([] if allow_unk else [vocab.unk_id])
    head = vocab.encode(prefix)
    with evaluating(model):
        state = None
        tokens = np.array([vocab.eos_id], dtype=np.int64)
        for tok in head:  # feed the prefix: its state is where the search starts
            _, state = step(tokens, state)
            tokens = np.array([tok], dtype=np.int64)
        hyps = beam_search(step, state, tokens, vocab.eos_id, beam_width, max_len, alpha,
                           n_best, banned_ids=banned)[0]
    return [(vocab.detokenize([vocab.token(i) for i in [*head, *h.tokens]]), h.score)
            for h in hyps]


__all__ = ["Hypothesis", "StepFn", "beam_search", "greedy_search", "lm_beam_search",
           "lm_step_fn", "log_softmax_rows", "normalized_score", "sample_search",
           "select_state", "sequence_log_probs", "state_rows"]
