"""TransformerLM: a decoder-only (GPT-style) Transformer language model over characters (or
any tokens), a drop-in for ``dlkit.text.CharLM``.

    x (ids, (m, T)) -> Embedding (m, T, d) + positions -> num_layers causal self-attention
    blocks (pre-norm by default) -> LayerNorm -> Linear -> logits (m, T, vocab_size)

Position t sees tokens 1..t only (the causal mask), so one forward pass trains every next-token
prediction of a line at once. ``model(idx, initial_state=cache, return_state=True)`` continues
from a key/value cache (the keys and values of the tokens already read), the way
``dlkit.text.sample`` drives a ``CharLM``: each new token costs one position.

For search (greedy, beam): ``initial_state(k)`` and ``step(tokens, state)`` follow the
decoding interface ``step_fn(tokens (k,) int64, state) -> (log_probs (k, V), new_state)``,
the state a list of arrays whose first axis is the k hypotheses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.nn.config import register
from dlkit.nn.layer_norm import LayerNorm
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import Embedding
from dlkit.nn.transformer import (
    LearnedPositionalEncoding,
    PositionalEncoding,
    TransformerEncoder,
)
from dlkit.ops.activation import stable_softmax
from dlkit.ops.attention import causal_mask
from dlkit.tensor import Tensor, no_grad
from dlkit.text.vocab import PAD_ID

POSITIONAL = {"learned": LearnedPositionalEncoding, "sinusoidal": PositionalEncoding}


def log_softmax_array(z: Any) -> Any:
    """log softmax over the last axis of an array (the search's log-probabilities)."""
    xp_z = z - z.max(axis=-1, keepdims=True)
    return xp_z - np.log(np.exp(xp_z).sum(axis=-1, keepdims=True))


def cache_to_state(kvs: list) -> list[Any]:
    """[(K_0, V_0), (K_1, V_1), ...] (tensors) -> [K_0, V_0, K_1, V_1, ...] (arrays)."""
    return [a.data if isinstance(a, Tensor) else a for kv in kvs for a in kv]


def state_to_cache(state: Any) -> list[tuple[Any, Any]]:
    """The inverse of ``cache_to_state``."""
    state = list(state)
    return [(state[i], state[i + 1]) for i in range(0, len(state), 2)]


@register
class TransformerLM(Module):
    """Embedding (padding row ``pad_id`` kept at 0) + ``positional`` ("learned" or
    "sinusoidal") encodings -> ``num_layers`` causal Transformer blocks -> logits.

    ``max_len`` bounds the positions (a longer sequence is an error naming both lengths).
    """

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4,
                 num_layers: int = 2, dim_feedforward: int | None = None, dropout: float = 0.1,
                 max_len: int = 256, positional: str = "learned", norm_first: bool = True,
                 activation: str = "gelu", pad_id: int | None = PAD_ID,
                 dtype: Any = None) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"TransformerLM: expected vocab_size >= 2, got {vocab_size}")
        if positional not in POSITIONAL:
            raise ValueError(f"TransformerLM: expected positional 'learned' or 'sinusoidal', "
                             f"got {positional!r}")
        self.vocab_size, self.d_model, self.num_heads = int(vocab_size), int(d_model), \
            int(num_heads)
        self.num_layers, self.max_len, self.positional = int(num_layers), int(max_len), \
            positional
        self.dim_feedforward = int(dim_feedforward or 4 * d_model)
        self.dropout_p, self.norm_first, self.activation = float(dropout), bool(norm_first), \
            activation
        self.pad_id = pad_id
        self.embedding = Embedding(vocab_size, d_model, padding_idx=pad_id, dtype=dtype)
        self.positions = POSITIONAL[positional](d_model, max_len, dropout, dtype=dtype)
        self.blocks = TransformerEncoder(num_layers, d_model, num_heads, self.dim_feedforward,
                                         dropout, activation, norm_first, final_norm=False,
                                         dtype=dtype)
        self.norm = LayerNorm(d_model, dtype=dtype) if norm_first else None
        self.head = Linear(d_model, vocab_size, init="xavier", dtype=dtype)

    def forward(self, idx: Any, initial_state: Any = None, return_state: bool = False,
                return_weights: bool = False) -> Any:
        """idx (m, T) int -> logits (m, T, vocab_size); ``initial_state`` the cache of the
        tokens before idx; ``return_state``: also the cache extended by idx;
        ``return_weights``: also each layer's attention weights (m, h, T, t + T)."""
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else to_numpy(idx))
        if idx.ndim != 2:
            raise ValueError(f"TransformerLM: expected token ids of shape (m, T), got shape "
                             f"{idx.shape}")
        past = None if initial_state is None else state_to_cache(initial_state)
        t_past = 0 if past is None else past[0][0].shape[2]
        t = idx.shape[1]
        x = self.positions(self.embedding(idx), offset=t_past)
        # lines are padded on the right: the causal mask alone keeps every real token from
        # the padding (which only comes after it); outputs at padded positions are ignored
        mask = causal_mask(t, t_past + t)
        x, weights, kvs = self.blocks(x, mask, return_weights=True, past_kv=past,
                                      return_kv=True)
        if self.norm is not None:
            x = self.norm(x)
        logits = self.head(x)
        result: list[Any] = [logits]
        if return_state:
            result.append(cache_to_state(kvs))
        if return_weights:
            result.append(weights)
        return result[0] if len(result) == 1 else tuple(result)

    # ---- the decoding interface ---------------------------------------------------------
    def initial_state(self, k: int) -> list[np.ndarray]:
        """An empty key/value cache for ``k`` hypotheses: 2 * num_layers arrays
        (k, num_heads, 0, d_model / num_heads)."""
        d_k = self.d_model // self.num_heads
        dt = self.head.weight.dtype
        return [np.zeros((k, self.num_heads, 0, d_k), dt) for _ in range(2 * self.num_layers)]

    def step(self, tokens: Any, state: Any) -> tuple[np.ndarray, list[np.ndarray]]:
        """One decoding step: ``tokens`` (k,) int64, the last token of each hypothesis, and
        the cache of the tokens before it -> (log-probabilities of the next token (k, V),
        the cache extended by ``tokens``). Runs in eval mode without the tape."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1, 1)
        was = self.training
        self.eval()
        try:
            with no_grad():
                state = None if state is None or len(state) == 0 or state[0].shape[2] == 0 \
                    else state
                logits, new_state = self(tokens, initial_state=state, return_state=True)
        finally:
            self.train(was)
        return log_softmax_array(np.asarray(logits.data[:, -1], np.float64)), new_state

    def next_token_probabilities(self, idx: Any) -> np.ndarray:
        """softmax of the last position's logits, reading the whole prefix (no cache), in
        eval mode."""
        was = self.training
        self.eval()
        try:
            with no_grad():
                return stable_softmax(np.asarray(self(idx).data[:, -1], np.float64), -1)
        finally:
            self.train(was)

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, d_model={self.d_model}, num_heads="
                f"{self.num_heads}, num_layers={self.num_layers}")

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "d_model": self.d_model,
                "num_heads": self.num_heads, "num_layers": self.num_layers,
                "dim_feedforward": self.dim_feedforward, "dropout": self.dropout_p,
                "max_len": self.max_len, "positional": self.positional,
                "norm_first": self.norm_first, "activation": self.activation,
                "pad_id": self.pad_id, "dtype": self.head.weight.dtype.name}


__all__ = ["TransformerLM", "cache_to_state", "log_softmax_array", "state_to_cache"]
