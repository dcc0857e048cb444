"""Language-model examples and batches (course 5, week 1).

One line (a name, a sentence) of tokens y<1> ... y<T> becomes, as the notes' language model,

    x = [<EOS>, y<1>, ..., y<T>]        (x<1> is the start: the notes' zero vector)
    y = [y<1>, ..., y<T>, <EOS>]        (y<t> = x<t+1>; the last target ends the line)

``<EOS>`` doubles as the start token: after the end of one name comes the start of the next,
so a stream "name<EOS>name<EOS>..." and a batch of lines teach the same thing. Lines of a
batch are padded on the right with ``<PAD>`` (id 0) to the longest: the mask (m, T) is 0
there, the recurrent layer carries its state over those steps, and the loss ignores targets
equal to ``<PAD>`` (``cross_entropy(..., ignore_index=0)``).

A long text is instead one stream of tokens for truncated backpropagation through time:
``tbptt_chunks`` lays it out in m parallel rows and cuts the rows into chunks of k steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.text.vocab import EOS_ID, PAD_ID, Vocab


def lm_pair(ids: Sequence[int], eos_id: int = EOS_ID) -> tuple[list[int], list[int]]:
    """(x, y) of one line: x = [<EOS>] + ids, y = ids + [<EOS>] (y<t> = x<t+1>)."""
    ids = [int(i) for i in ids]
    return [eos_id, *ids], [*ids, eos_id]


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID,
                  length: int | None = None) -> np.ndarray:
    """Integer sequences as one (m, T) int64 array, padded on the right with ``pad_id`` to
    the longest (or to ``length``, which must hold them all)."""
    if len(seqs) == 0:
        raise ValueError("pad_sequences: expected at least one sequence, got none")
    longest = max(len(s) for s in seqs)
    T = longest if length is None else int(length)
    if T < longest:
        raise ValueError(f"pad_sequences: length {T} is shorter than the longest sequence "
                         f"({longest})")
    out = np.full((len(seqs), T), pad_id, dtype=np.int64)
    for r, s in enumerate(seqs):
        out[r, :len(s)] = s
    return out


def padding_mask(X: Any, pad_id: int = PAD_ID) -> np.ndarray:
    """The (m, T) 0/1 mask of the tokens that are not ``<PAD>``, in the default float dtype."""
    return (np.asarray(X) != pad_id).astype(get_default_dtype())


def lm_batch(lines: Sequence[str] | Sequence[Sequence[int]], vocab: Vocab,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X, Y (m, T) int64 and the mask (m, T) of a batch of lines (texts, or lists of ids),
    T = the longest line + 1."""
    pairs = [lm_pair(vocab.encode(s) if isinstance(s, str) else s, vocab.eos_id)
             for s in lines]
    X = pad_sequences([x for x, _ in pairs], vocab.pad_id)
    Y = pad_sequences([y for _, y in pairs], vocab.pad_id)
    return X, Y, padding_mask(X, vocab.pad_id)


def tbptt_chunks(ids: Sequence[int], batch_size: int, k: int,
                 pad_id: int = PAD_ID) -> list[tuple[np.ndarray, np.ndarray]]:
    """Truncated BPTT layout of one token stream: the pairs (x, y) = (ids[i], ids[i + 1]),
    i = 0 .. N-2, go in ``batch_size`` rows of L = ceil((N-1) / batch_size) consecutive pairs
    (row r holds pairs r L .. r L + L - 1; the end of the last rows is ``<PAD>``), and the rows
    are cut into chunks of k steps (the last chunk may be shorter). Returns the chunks
    [(X (m, k), Y (m, k)), ...] in order: chunk j + 1 continues every row of chunk j, so a
    stateful layer carries row r's state from one chunk to the next. Every pair of the
    stream appears exactly once."""
    if batch_size < 1 or k < 1:
        raise ValueError(f"tbptt_chunks: expected batch_size >= 1 and k >= 1, got "
                         f"{batch_size}, {k}")
    stream = np.asarray(ids, dtype=np.int64).reshape(-1)
    n_pairs = len(stream) - 1
    if n_pairs < batch_size:
        raise ValueError(f"tbptt_chunks: a stream of {len(stream)} tokens has {n_pairs} "
                         f"(x, y) pairs, fewer than batch_size={batch_size} rows")
    L = -(-n_pairs // batch_size)
    x = np.full(batch_size * L, pad_id, dtype=np.int64)
    y = np.full(batch_size * L, pad_id, dtype=np.int64)
    x[:n_pairs], y[:n_pairs] = stream[:-1], stream[1:]
    X, Y = x.reshape(batch_size, L), y.reshape(batch_size, L)
    return [(X[:, s:s + k], Y[:, s:s + k]) for s in range(0, L, k)]


__all__ = ["lm_batch", "lm_pair", "pad_sequences", "padding_mask", "tbptt_chunks"]
