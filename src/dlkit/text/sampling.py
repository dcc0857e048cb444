"""Sampling novel sequences from a trained language model, and its perplexity.

Sampling, as the notes: feed x<1> (here ``<EOS>``, the start) with a<0> = 0, draw y<1> from
softmax(z<1>), feed it back as x<2> with the state a<1>, and so on, one token at a time,
until ``<EOS>`` is drawn or ``max_len`` tokens are out (the exercise stops at 50 characters).
``<PAD>`` is never drawn; ``<UNK>`` is not either unless ``allow_unk`` (the notes: reject it
and draw again from the rest, which is drawing from the others renormalized).

- ``temperature`` T divides the logits: softmax(z / T). T = 1 is the model's distribution,
  T < 1 sharpens it (T -> 0 is greedy argmax), T > 1 flattens it.
- ``top_k`` keeps only the k most likely tokens (k = 1 is greedy and deterministic).
- Draws come from dlkit's generator (``dl.manual_seed(s)`` first makes them repeat), or, with
  ``seed=s``, from a generator of their own that leaves dlkit's stream untouched.

Perplexity = exp(mean over predicted tokens of -log y_hat<t>[y<t>]): the number of equally
likely tokens the model is as unsure as; a uniform guess over |V| tokens has perplexity |V|.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator, to_numpy
from dlkit.nn.module import Module
from dlkit.ops.activation import stable_softmax
from dlkit.ops.loss import cross_entropy
from dlkit.tensor import no_grad
from dlkit.text.batching import lm_batch, tbptt_chunks
from dlkit.text.vocab import Vocab


def next_token_probabilities(logits: Any, temperature: float = 1.0, top_k: int | None = None,
                             banned: Sequence[int] = ()) -> np.ndarray:
    """softmax(z / T) over the last axis, in float64, with the ``banned`` ids and all but the
    ``top_k`` largest logits set to probability 0."""
    if not temperature > 0:
        raise ValueError(f"sample: expected temperature > 0, got {temperature}")
    z = np.array(to_numpy(getattr(logits, "data", logits)), dtype=np.float64)
    V = z.shape[-1]
    if top_k is not None and not 1 <= top_k:
        raise ValueError(f"sample: expected top_k >= 1 or None, got {top_k}")
    if banned:
        z[..., list(banned)] = -np.inf
    if top_k is not None and top_k < V:
        kth = np.partition(z, V - top_k, axis=-1)[..., V - top_k, None]
        z[z < kth] = -np.inf
    z /= temperature
    return stable_softmax(z, axis=-1)


def draw(p: np.ndarray, rng: Any) -> np.ndarray:
    """One index per row of probabilities p (n, V): the first i with cumsum(p)[i] > u,
    u ~ U[0, 1) from ``rng`` (a token of probability 0 is never drawn)."""
    cdf = np.cumsum(p, axis=-1)
    u = rng.random(len(p))[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), p.shape[-1] - 1)


def _rng(seed: int | None) -> Any:
    return generator() if seed is None else np.random.Generator(np.random.PCG64(seed))


@contextlib.contextmanager
def evaluating(model: Module) -> Iterator[Module]:
    """Eval mode, no tape, and (for a stateful ``CharLM``) its carried state left alone;
    the training mode comes back afterwards."""
    was_training = model.training
    model.eval()
    stateless = model.stateless() if hasattr(model, "stateless") else contextlib.nullcontext()
    try:
        with no_grad(), stateless:
            yield model
    finally:
        model.train(was_training)


def sample_ids(model: Module, vocab: Vocab, n: int = 1, max_len: int = 50,
               temperature: float = 1.0, top_k: int | None = None, seed: int | None = None,
               prefix: str = "", allow_unk: bool = False) -> list[list[int]]:
    """``n`` sequences of token ids drawn from ``model`` in parallel (each without its
    final ``<EOS>``, at most ``max_len`` tokens after ``prefix``)."""
    if n < 1 or max_len < 1:
        raise ValueError(f"sample: expected n >= 1 and max_len >= 1, got n={n}, "
                         f"max_len={max_len}")
    next_token_probabilities(np.zeros(2), temperature, top_k)  # check the options early
    rng = _rng(seed)
    banned = [vocab.pad_id] + ([] if allow_unk else [vocab.unk_id])
    start = [vocab.eos_id, *vocab.encode(prefix)]
    out: list[list[int]] = [[] for _ in range(n)]
    done = np.zeros(n, dtype=bool)
    with evaluating(model):
        x = np.tile(np.asarray(start, dtype=np.int64), (n, 1))
        state = None
        for _ in range(max_len):
            logits, state = model(x, initial_state=state, return_state=True)
            p = next_token_probabilities(logits.data[:, -1], temperature, top_k, banned)
            ids = draw(p, rng)
            for r in np.flatnonzero(~done):
                if ids[r] == vocab.eos_id:
                    done[r] = True
                else:
                    out[r].append(int(ids[r]))
            if done.all():
                break
            x = ids[:, None].astype(np.int64)
    return out


def sample(model: Module, vocab: Vocab, max_len: int = 50, temperature: float = 1.0,
           top_k: int | None = None, seed: int | None = None, prefix: str = "",
           allow_unk: bool = False) -> str:
    """One text drawn from ``model`` (see the module docstring): ``prefix`` and then at most
    ``max_len`` tokens, stopping at ``<EOS>``."""
    ids = sample_ids(model, vocab, 1, max_len, temperature, top_k, seed, prefix, allow_unk)[0]
    return vocab.detokenize([vocab.token(i) for i in [*vocab.encode(prefix), *ids]])


def sample_many(model: Module, vocab: Vocab, n: int = 7, max_len: int = 50,
                temperature: float = 1.0, top_k: int | None = None, seed: int | None = None,
                prefix: str = "", allow_unk: bool = False) -> list[str]:
    """``n`` texts drawn in parallel (one batch of n through the model per step)."""
    head = vocab.encode(prefix)
    return [vocab.detokenize([vocab.token(i) for i in [*head, *ids]])
            for ids in sample_ids(model, vocab, n, max_len, temperature, top_k, seed, prefix,
                                  allow_unk)]


def lm_loss(model: Module, vocab: Vocab, lines: Sequence[str], batch_size: int = 256,
            ) -> float:
    """The mean cross-entropy per predicted token (every character and each line's final
    ``<EOS>``) of ``model`` on ``lines``, in eval mode."""
    if len(lines) == 0:
        raise ValueError("perplexity: expected at least one line, got none")
    total, count = 0.0, 0
    with evaluating(model):
        for s in range(0, len(lines), batch_size):
            X, Y, _ = lm_batch(lines[s:s + batch_size], vocab)
            loss = cross_entropy(model(X), Y, reduction="sum", ignore_index=vocab.pad_id)
            total += float(loss.item())
            count += int((Y != vocab.pad_id).sum())
    return total / count


def perplexity(model: Module, vocab: Vocab, lines: Sequence[str], batch_size: int = 256,
               ) -> float:
    """exp(mean cross-entropy per predicted token) on ``lines``; |V| for a uniform guess."""
    return math.exp(lm_loss(model, vocab, lines, batch_size))


def stream_loss(model: Module, ids: Sequence[int], batch_size: int = 16, k: int = 64,
                pad_id: int = 0) -> float:
    """The mean cross-entropy per predicted token of a token stream, read as truncated BPTT
    reads it (``tbptt_chunks``, the state carried across chunks)."""
    total, count = 0.0, 0
    with evaluating(model):
        state = None
        for X, Y in tbptt_chunks(ids, batch_size, k, pad_id):
            logits, state = model(X, initial_state=state, return_state=True)
            total += float(cross_entropy(logits, Y, reduction="sum",
                                         ignore_index=pad_id).item())
            count += int((Y != pad_id).sum())
    return total / max(count, 1)


__all__ = ["draw", "evaluating", "lm_loss", "next_token_probabilities", "perplexity", "sample",
           "sample_ids", "sample_many", "stream_loss"]
