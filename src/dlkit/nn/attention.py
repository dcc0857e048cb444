"""The attention model of course 5 week 3 (Bahdanau et al., 2014), batch-first.

``Attention``: for one output step t, a score e<t,t'> for every input step t' from the
decoder's previous state s<t-1> (m, n_s) and the encoder's features a<t'> (m, T_x, n_a), the
weights alpha<t,t'> = softmax over t' of e<t,t'>, and the context sum_t' alpha<t,t'> a<t'>.
Scores (``score=``):

- ``"course"``: the exercise's small network, e = relu(Dense(1)(tanh(Dense(10)([a<t'>, s<t-1>]))))
  (``densor1``, ``densor2``; the concatenation in the exercise's order, a first),
- ``"additive"`` (Bahdanau): e = v^T tanh(W_a a<t'> + W_s s<t-1> + b),
- ``"dot"`` (Luong): e = s<t-1> . a<t'> (needs n_s = n_a),
- ``"general"`` (Luong): e = s<t-1>^T W a<t'>.

The part of the score that depends only on a<t'> (``keys(a)``) is computed once per input, not
once per output step (the concatenation times Dense(10) equals W_a a + W_s s + b).

``AttentionDecoder``: T_y steps of attention, then the post-attention cell (LSTM by default)
reading [x<t>, context<t>] (x<t> the previous output's embedding, or nothing in the exercise's
model) with state s<t-1>; returns every s<t> and every alpha<t, .>.

``AttentionModel``: the exercise's date translator exactly: one-hot characters (m, T_x) ->
pre-attention Bidirectional LSTM (n_a each way) -> T_y steps of attention and a post-attention
LSTM (n_s) -> Dense softmax over the output characters (logits here; the loss applies the
softmax). ``return_attention=True`` also returns alpha (m, T_y, T_x).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import array_module, get_default_dtype, to_numpy
from dlkit.devices import device_of, to_device
from dlkit.errors import ShapeError
from dlkit.nn.config import register
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import GRU, LSTM, RNN, Bidirectional
from dlkit.ops.activation import relu, stable_log_softmax, tanh
from dlkit.ops.attention_context import attention_context
from dlkit.ops.linalg import linear
from dlkit.ops.shape import concat, getitem, reshape, stack
from dlkit.tensor import Tensor, as_tensor

SCORES = ("course", "additive", "dot", "general")
CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}


@register
class Attention(Module):
    """Attention weights and context for one output step (see the module docstring):
    ``forward(s_prev (m, n_s), a (m, T_x, n_a), keys=None, mask=None)`` ->
    (context (m, n_a), alpha (m, T_x))."""

    def __init__(self, n_s: int, n_a: int, score: str = "course", hidden: int = 10,
                 dtype: Any = None) -> None:
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"Attention: unknown score {score!r}; expected one of {SCORES}")
        if score == "dot" and n_s != n_a:
            raise ValueError(f"Attention: the dot score needs n_s == n_a, got n_s={n_s}, "
                             f"n_a={n_a}; use score='general'")
        self.n_s, self.n_a, self.score, self.hidden = n_s, n_a, score, hidden
        if score == "course":
            self.densor1 = Linear(n_a + n_s, hidden, init="glorot_uniform", dtype=dtype)
            self.densor2 = Linear(hidden, 1, init="glorot_uniform", dtype=dtype)
        elif score == "additive":
            self.W_a = Linear(n_a, hidden, init="glorot_uniform", dtype=dtype)
            self.W_s = Linear(n_s, hidden, bias=False, init="glorot_uniform", dtype=dtype)
            self.v = Linear(hidden, 1, bias=False, init="glorot_uniform", dtype=dtype)
        elif score == "general":
            self.W = Linear(n_a, n_s, bias=False, init="glorot_uniform", dtype=dtype)

    def keys(self, a: Any) -> Tensor:
        """The part of the scores that depends on a<t'> only: computed once per input."""
        a = as_tensor(a)
        if a.ndim != 3 or a.shape[-1] != self.n_a:
            raise ShapeError(f"Attention: expected encoder features a of shape (m, T_x, "
                             f"{self.n_a}), got {a.shape}")
        if self.score == "course":
            w_a = getitem(self.densor1.weight, (slice(None), slice(0, self.n_a)))
            return linear(a, w_a, self.densor1.bias)
        if self.score == "additive":
            return self.W_a(a)
        if self.score == "general":
            return self.W(a)
        return a

    def scores(self, s_prev: Any, keys: Tensor) -> Tensor:
        """e<t, t'> (m, T_x) from s<t-1> (m, n_s) and ``keys(a)``."""
        s_prev = as_tensor(s_prev)
        if s_prev.ndim != 2 or s_prev.shape[-1] != self.n_s:
            raise ShapeError(f"Attention: expected the decoder state s<t-1> of shape (m, "
                             f"{self.n_s}), got {s_prev.shape}")
        m, T = keys.shape[:2]
        if self.score in ("dot", "general"):
            return reshape(keys @ reshape(s_prev, (m, self.n_s, 1)), (m, T))
        if self.score == "course":
            w_s = getitem(self.densor1.weight, (slice(None), slice(self.n_a, None)))
            h = tanh(keys + reshape(linear(s_prev, w_s), (m, 1, self.hidden)))
            return reshape(relu(self.densor2(h)), (m, T))
        h = tanh(keys + reshape(self.W_s(s_prev), (m, 1, self.hidden)))
        return reshape(self.v(h), (m, T))

    def forward(self, s_prev: Any, a: Any, keys: Any = None, mask: Any = None,
                ) -> tuple[Tensor, Tensor]:
        a = as_tensor(a)
        keys = self.keys(a) if keys is None else as_tensor(keys)
        return attention_context(self.scores(s_prev, keys), a, mask)

    def extra_repr(self) -> str:
        return f"n_s={self.n_s}, n_a={self.n_a}, score={self.score!r}, hidden={self.hidden}"

    def get_config(self) -> dict[str, Any]:
        p = next(iter(self.parameters()), None)
        return {"n_s": self.n_s, "n_a": self.n_a, "score": self.score, "hidden": self.hidden,
                "dtype": p.dtype.name if p is not None else None}


@register
class AttentionDecoder(Module):
    """T_y steps of attention + a post-attention cell. ``forward(a (m, T_x, n_a), T_y or
    x (m, T_y, n_in), mask=None, initial_state=None)`` -> (s (m, T_y, n_s), alpha
    (m, T_y, T_x)). ``step`` is one output step, for decoding."""

    def __init__(self, n_a: int, n_s: int, n_in: int = 0, cell: str = "lstm",
                 score: str = "course", hidden: int = 10, dtype: Any = None) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"AttentionDecoder: unknown cell {cell!r}; expected one of "
                             f"{sorted(CELLS)}")
        self.n_a, self.n_s, self.n_in, self.cell_kind = n_a, n_s, n_in, cell
        self.attention = Attention(n_s, n_a, score, hidden, dtype)
        self.cell = CELLS[cell](n_in + n_a, n_s, return_state=True, dtype=dtype)

    @property
    def n_states(self) -> int:
        return 2 if self.cell_kind == "lstm" else 1

    def zero_state(self, m: int, like: Any) -> list[Tensor]:
        xp = array_module(like)
        return [Tensor(xp.zeros((m, self.n_s), dtype=like.dtype))
                for _ in range(self.n_states)]

    def step(self, x_t: Any, states: list[Any], a: Tensor, keys: Tensor, mask: Any = None,
             ) -> tuple[Tensor, list[Tensor], Tensor]:
        """One output step: (s<t>, the new states, alpha<t, .>)."""
        context, alpha = self.attention(states[0], a, keys, mask)
        inp = context if x_t is None else concat([as_tensor(x_t), context], axis=-1)
        m = inp.shape[0]
        out, *states = self.cell(reshape(inp, (m, 1, inp.shape[-1])), initial_state=states)
        return out, states, alpha

    def forward(self, a: Any, steps: Any, mask: Any = None, initial_state: Any = None,
                ) -> tuple[Tensor, Tensor]:
        a = as_tensor(a)
        m = a.shape[0]
        x = None if isinstance(steps, (int, np.integer)) else as_tensor(steps)
        T_y = int(steps) if x is None else x.shape[1]
        if x is not None and (x.ndim != 3 or x.shape[0] != m or x.shape[2] != self.n_in):
            raise ShapeError(f"AttentionDecoder: expected decoder inputs of shape ({m}, T_y, "
                             f"{self.n_in}), got {x.shape}")
        states = list(initial_state) if initial_state is not None else self.zero_state(m, a.data)
        keys = self.attention.keys(a)
        outs, alphas = [], []
        for t in range(T_y):
            x_t = None if x is None else getitem(x, (slice(None), t))
            s, states, alpha = self.step(x_t, states, a, keys, mask)
            outs.append(s)
            alphas.append(alpha)
        return stack(outs, axis=1), stack(alphas, axis=1)

    def get_config(self) -> dict[str, Any]:
        return {"n_a": self.n_a, "n_s": self.n_s, "n_in": self.n_in, "cell": self.cell_kind,
                "score": self.attention.score, "hidden": self.attention.hidden,
                "dtype": self.cell.weight.dtype.name}


def one_hot_ids(idx: Any, depth: int, dtype: Any) -> np.ndarray:
    """Integer ids (m, T) -> one-hot (m, T, depth) (the exercise's Xoh)."""
    idx = getattr(idx, "data", idx)
    idx = idx if hasattr(idx, "dtype") else np.asarray(idx)  # on its device
    if idx.dtype.kind not in "iu":
        raise TypeError(f"AttentionModel: expected integer character ids (m, T_x), got "
                        f"{idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= depth):
        raise ValueError(f"AttentionModel: character ids must lie in [0, {depth}), got "
                         f"{idx.min()} to {idx.max()}")
    return array_module(idx).eye(depth, dtype=dtype)[idx]


@register
class AttentionModel(Module):
    """The exercise's model (see the module docstring): ``model(X (m, T_x) int)`` -> logits
    (m, T_y, n_y); ``return_attention=True`` adds alpha (m, T_y, T_x). The outputs do not read
    the previous output (as in the exercise), so greedy decoding is a per-step argmax."""

    def __init__(self, n_x: int, n_y: int, T_y: int = 10, n_a: int = 32, n_s: int = 64,
                 score: str = "course", hidden: int = 10, dtype: Any = None) -> None:
        super().__init__()
        self.n_x, self.n_y, self.T_y, self.n_a, self.n_s = n_x, n_y, T_y, n_a, n_s
        self.pre = Bidirectional(LSTM(n_x, n_a, return_sequences=True, dtype=dtype))
        self.decoder = AttentionDecoder(2 * n_a, n_s, 0, "lstm", score, hidden, dtype)
        self.output = Linear(n_s, n_y, init="glorot_uniform", dtype=dtype)

    def encode(self, X: Any) -> Tensor:
        """a (m, T_x, 2 n_a): the pre-attention Bi-LSTM over the one-hot characters."""
        dt = self.output.weight.dtype if self.output.weight.dtype else get_default_dtype()
        onehot = one_hot_ids(X, self.n_x, dt)  # on the weights' device
        return self.pre(to_device(onehot, device_of(self.output.weight.data)))

    def forward(self, X: Any, return_attention: bool = False) -> Any:
        s, alphas = self.decoder(self.encode(X), self.T_y)
        logits = self.output(s)
        return (logits, alphas) if return_attention else logits

    def decoder_state(self, X: Any) -> list[Any]:
        """The decoding state of ``X`` for ``step``: [s, c, a, keys] as arrays."""
        a = self.encode(X)
        keys = self.decoder.attention.keys(a)
        return [*(s.data for s in self.decoder.zero_state(a.shape[0], a.data)), a.data,
                keys.data]

    def step(self, tokens: np.ndarray, state: list[Any]) -> tuple[np.ndarray, list[Any]]:
        """``dlkit.text.decode``'s step function (the tokens are not read: the exercise's
        decoder does not feed its outputs back)."""
        s, c, a, keys = state
        out, (s, c), _ = self.decoder.step(None, [Tensor(s), Tensor(c)], Tensor(a),
                                           Tensor(keys))
        z = to_numpy(self.output(out).data).astype(np.float64)
        return stable_log_softmax(z, -1), [s.data, c.data, a, keys]

    def get_config(self) -> dict[str, Any]:
        return {"n_x": self.n_x, "n_y": self.n_y, "T_y": self.T_y, "n_a": self.n_a,
                "n_s": self.n_s, "score": self.decoder.attention.score,
                "hidden": self.decoder.attention.hidden, "dtype": self.output.weight.dtype.name}


__all__ = ["Attention", "AttentionDecoder", "AttentionModel", "SCORES", "one_hot_ids"]
