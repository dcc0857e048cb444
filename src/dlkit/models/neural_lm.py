"""The notes' fixed-window neural language model (course 5 week 2; Bengio et al., 2003).

The n previous words o_1..o_n -> their embeddings e_j = E o_j (a row look-up) -> concatenated
(n * dim) -> Linear + tanh (W[1], b[1]) -> Linear (W[2], b[2]) -> softmax over the vocabulary,
the next word's probabilities. Trained with ``cross_entropy`` on (window, next word) pairs from
``context_windows``, its E is a word embedding too: words followed by the same words end up
near each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.errors import ShapeError
from dlkit.nn.config import register
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import Embedding
from dlkit.ops.activation import tanh
from dlkit.ops.shape import reshape
from dlkit.tensor import Tensor


def context_windows(ids: Any, context: int, sentences: Any = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(X (m, context), y (m,)): each word with the ``context`` words before it (windows
    that would cross a sentence boundary are left out)."""
    ids = np.asarray(ids, dtype=np.int64)
    if context < 1:
        raise ValueError(f"context_windows: expected context >= 1, got {context}")
    n = len(ids) - context
    if n < 1:
        raise ValueError(f"context_windows: {len(ids)} words are too few for windows of "
                         f"{context} words and a target")
    pos = np.arange(n)[:, None] + np.arange(context + 1)[None, :]
    keep = np.ones(n, bool)
    if sentences is not None:
        s = np.asarray(sentences)[pos]
        keep = (s == s[:, :1]).all(axis=1)
    windows = ids[pos][keep]
    return windows[:, :-1], windows[:, -1]


@register
class NeuralLM(Module):
    """Embedding (vocab, dim) -> concat of ``context`` vectors -> Linear(context * dim,
    hidden) + tanh -> Linear(hidden, vocab): logits of the next word."""

    def __init__(self, vocab_size: int, context: int = 4, dim: int = 50,
                 hidden: int = 128) -> None:
        super().__init__()
        self.vocab_size, self.context, self.dim, self.hidden = vocab_size, context, dim, hidden
        self.embedding = Embedding(vocab_size, dim)
        self.embedding.weight.data *= 0.1
        self.hidden_layer = Linear(context * dim, hidden, init="xavier")
        self.output = Linear(hidden, vocab_size, init="xavier")

    def forward(self, x: Any) -> Tensor:
        idx = np.asarray(x.data if isinstance(x, Tensor) else x).astype(np.int64)
        if idx.ndim != 2 or idx.shape[1] != self.context:
            raise ShapeError(f"NeuralLM: expected the previous words' ids (m, {self.context}), "
                             f"got shape {idx.shape}")
        e = reshape(self.embedding(idx), (idx.shape[0], self.context * self.dim))
        return self.output(tanh(self.hidden_layer(e)))

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "context": self.context, "dim": self.dim,
                "hidden": self.hidden}


__all__ = ["NeuralLM", "context_windows"]
