"""CharLM: the notes' RNN language model over characters (or any tokens).

    x<t> (ids, (m, T)) -> Embedding e<t> (m, T, embed_dim)
                       -> RNN / GRU / LSTM a<t> (m, T, n_a), a<0> = 0
                       -> TimeDistributed(Linear) z<t> = W_y a<t> + b_y (m, T, vocab_size)

``softmax(z<t>)`` is y_hat<t>, the distribution of the next token given x<1..t>; the loss is
the notes' L = sum_t -log y_hat<t>[y<t>] (averaged over the predicted tokens). The model
returns logits: ``cross_entropy`` applies the softmax in a numerically stable way.

Inputs equal to ``pad_id`` are masked: the recurrent layer carries its state over them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.nn.config import register
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import GRU, LSTM, RNN, Embedding, TimeDistributed
from dlkit.tensor import Tensor
from dlkit.text.vocab import PAD_ID

CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}


@register
class CharLM(Module):
    """Embedding -> ``cell`` ("lstm", "gru" or "rnn") with ``n_a`` units -> per-step logits.

    ``model(idx)`` gives logits (m, T, vocab_size); ``model(idx, initial_state=s,
    return_state=True)`` also returns the final state (a list: [a] or, for the LSTM,
    [a, c]) to feed the next call, as sampling does one character at a time.
    ``stateful=True`` carries the state from one batch to the next (truncated BPTT);
    ``reset_states()`` forgets it.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, n_a: int = 64, cell: str = "lstm",
                 pad_id: int | None = PAD_ID, stateful: bool = False, dtype: Any = None) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharLM: expected cell 'lstm', 'gru' or 'rnn', got {cell!r}")
        if vocab_size < 2:
            raise ValueError(f"CharLM: expected vocab_size >= 2, got {vocab_size}")
        self.vocab_size, self.embed_dim, self.n_a = int(vocab_size), int(embed_dim), int(n_a)
        self.cell, self.pad_id = cell, pad_id
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=pad_id, dtype=dtype)
        self.rnn = CELLS[cell](embed_dim, n_a, return_sequences=True, return_state=True,
                               stateful=stateful, dtype=dtype)
        self.head = TimeDistributed(Linear(n_a, vocab_size, init="xavier", dtype=dtype))

    @property
    def stateful(self) -> bool:
        return self.rnn.stateful

    @stateful.setter
    def stateful(self, value: bool) -> None:
        self.rnn.stateful = bool(value)

    def reset_states(self) -> None:
        """Forget the state a stateful model carries between batches."""
        self.rnn.reset_states()

    @contextlib.contextmanager
    def stateless(self) -> Iterator[CharLM]:
        """Within the block the model neither reads nor overwrites its carried state
        (sampling or evaluating in the middle of stateful training)."""
        was = self.stateful
        self.stateful = False
        try:
            yield self
        finally:
            self.stateful = was

    def mask(self, idx: Any) -> np.ndarray | None:
        """The (m, T) mask of non-padding inputs, or None when there is no padding."""
        if self.pad_id is None:
            return None
        idx = idx.data if isinstance(idx, Tensor) else idx
        idx = idx if hasattr(idx, "dtype") else np.asarray(idx)  # on its device
        pad = idx == self.pad_id
        return None if not pad.any() else (~pad).astype(self.embedding.weight.dtype)

    def forward(self, idx: Any, initial_state: Any = None, return_state: bool = False) -> Any:
        e = self.embedding(idx)
        a, *state = self.rnn(e, initial_state=initial_state, mask=self.mask(idx))
        logits = self.head(a)
        return (logits, state) if return_state else logits

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, embed_dim={self.embed_dim}, n_a={self.n_a}, "
                f"cell={self.cell!r}")

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "embed_dim": self.embed_dim, "n_a": self.n_a,
                "cell": self.cell, "pad_id": self.pad_id, "stateful": self.stateful,
                "dtype": self.embedding.weight.dtype.name}


__all__ = ["CELLS", "CharLM"]
