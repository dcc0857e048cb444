"""Recurrent layers over batch-first sequences (m, T, n_x): RNN, GRU, LSTM, Bidirectional,
TimeDistributed, and Embedding for integer inputs.

Each recurrent layer is one fused op per call (``dlkit.ops.recurrent``), weights as the
notes: ``weight`` (G n_a, n_a + n_x) acting on [a<t-1>, x<t>], gate blocks stacked in the
notes' order (LSTM: forget, update, candidate, output; GRU: update, relevance, candidate),
``bias`` (G n_a,). Initialization as PyTorch: U(-1/sqrt(n_a), 1/sqrt(n_a)); the LSTM's forget
bias starts at 1 (as Keras), so early gradients are not forgotten. ``GRU(reset_after=True)`` is
PyTorch's (and Keras') GRU candidate, with one more parameter ``recurrent_bias`` (n_a,).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import array_module, generator, get_default_dtype
from dlkit.errors import ShapeError
from dlkit.nn.config import module_from_config, register, to_config
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops import recurrent as R
from dlkit.ops.shape import concat, getitem, reshape
from dlkit.tensor import Tensor, as_tensor


class _RecurrentLayer(Module):
    kind = "rnn"

    def __init__(self, n_x: int, n_a: int, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, dtype: Any = None) -> None:
        super().__init__()
        if n_x <= 0 or n_a <= 0:
            raise ValueError(f"{type(self).__name__}: expected positive sizes, got n_x={n_x}, "
                             f"n_a={n_a}")
        G = R.GATES[self.kind]
        dt = np.dtype(dtype or get_default_dtype())
        self.n_x, self.n_a = n_x, n_a
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful = go_backwards, stateful
        bound = 1 / np.sqrt(n_a)
        rng = generator()
        self.weight = Parameter(rng.uniform(-bound, bound, (G * n_a, n_a + n_x)).astype(dt))
        bias = rng.uniform(-bound, bound, G * n_a).astype(dt)
        if self.kind == "lstm":
            bias[:n_a] = 1.0
        self.bias = Parameter(bias)
        self.states: list[Any] | None = None

    @property
    def n_states(self) -> int:
        return 2 if self.kind == "lstm" else 1

    def reset_states(self) -> None:
        """Forget the state a stateful layer carries between batches."""
        self.states = None

    def _initial(self, x: Tensor, initial_state: Any) -> list[Any]:
        if initial_state is None:
            if self.stateful and self.states is not None:
                carried = self.states[0].shape[0]
                if carried != x.shape[0]:
                    raise ShapeError(
                        f"{type(self).__name__}(stateful=True): the state carried from the "
                        f"last batch has {carried} rows, this batch has {x.shape[0]}; a "
                        "stateful layer needs batches of one size (drop_last=True, or pad the "
                        "last batch), or call reset_states() before a batch of another size")
                return list(self.states)
            return [None] * self.n_states
        states = list(initial_state) if isinstance(initial_state, (tuple, list)) \
            else [initial_state]
        if len(states) != self.n_states:
            raise ValueError(f"{type(self).__name__}: expected {self.n_states} initial state"
                             f"{'s (a0, c0)' if self.n_states == 2 else ' a0'}, got "
                             f"{len(states)}")
        return states

    def _op_options(self) -> dict[str, Any]:
        """Extra keyword arguments of the op (the reset-after GRU's)."""
        return {}

    def forward(self, x: Any, initial_state: Any = None, mask: Any = None) -> Any:
        x = as_tensor(x)
        fn = getattr(R, self.kind)
        outs = fn(x, self.weight, self.bias, *self._initial(x, initial_state), mask=mask,
                  reverse=self.go_backwards, **self._op_options())
        seq, finals = outs[0], list(outs[1:])
        if self.stateful:  # carried to the next batch, cut from this batch's tape
            self.states = [s.detach() for s in finals]
        out = seq if self.return_sequences else finals[0]
        if self.return_state:
            return (out, *finals)
        return out

    def extra_repr(self) -> str:
        return (f"{self.n_x}, {self.n_a}, return_sequences={self.return_sequences}"
                + (", go_backwards=True" if self.go_backwards else "")
                + (", stateful=True" if self.stateful else ""))

    def get_config(self) -> dict[str, Any]:
        return {"n_x": self.n_x, "n_a": self.n_a, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "dtype": self.weight.dtype.name}


@register
class RNN(_RecurrentLayer):
    """a<t> = tanh(W [a<t-1>, x<t>] + b); returns a<T> (m, n_a) or, with
    ``return_sequences``, every a<t> (m, T, n_a); ``return_state`` adds a<T>."""

    kind = "rnn"


@register
class GRU(_RecurrentLayer):
    """The notes' full GRU (update and relevance gates); the state c<t> is the output.

    ``reset_after=True``: the relevance gate acts after the candidate's matrix product,
    c~ = tanh(W_cx x + bc + Gr * (W_ca c<t-1> + b_ca)), with b_ca the extra parameter
    ``recurrent_bias`` (n_a,): PyTorch's nn.GRU and Keras' default (see
    ``dlkit.io.load_torch_rnn``). The notes' form (False) is the default."""

    kind = "gru"

    def __init__(self, n_x: int, n_a: int, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, dtype: Any = None, reset_after: bool = False) -> None:
        super().__init__(n_x, n_a, return_sequences, return_state, go_backwards, stateful,
                         dtype)
        self.reset_after = bool(reset_after)
        if self.reset_after:
            bound = 1 / np.sqrt(n_a)
            self.recurrent_bias = Parameter(
                generator().uniform(-bound, bound, n_a).astype(self.weight.dtype))

    def _op_options(self) -> dict[str, Any]:
        if not self.reset_after:
            return {}
        return {"reset_after": True, "recurrent_bias": self.recurrent_bias}

    def extra_repr(self) -> str:
        return super().extra_repr() + (", reset_after=True" if self.reset_after else "")

    def get_config(self) -> dict[str, Any]:
        return dict(super().get_config(), reset_after=self.reset_after)


@register
class LSTM(_RecurrentLayer):
    """The notes' LSTM; ``initial_state`` is a pair (a0, c0); ``return_state`` adds
    (a<T>, c<T>)."""

    kind = "lstm"


@register
class Bidirectional(Module):
    """Runs ``layer`` forward in time and a twin backward in time (its own weights), and
    merges their outputs: ``"concat"`` (n_a + n_a features) or ``"sum"``. With
    return_sequences, step t sees the whole sequence: the forward state up to t and the
    backward state from the end back to t."""

    def __init__(self, layer: _RecurrentLayer, merge: str = "concat") -> None:
        super().__init__()
        if not isinstance(layer, _RecurrentLayer):
            raise TypeError(f"Bidirectional: expected an RNN, GRU or LSTM layer, got "
                            f"{type(layer).__name__}")
        if merge not in ("concat", "sum"):
            raise ValueError(f"Bidirectional: expected merge 'concat' or 'sum', got {merge!r}")
        if layer.return_state or layer.stateful:
            raise ValueError("Bidirectional: the wrapped layer must not use return_state or "
                             "stateful")
        self.merge = merge
        self.forward_layer = layer
        config = dict(layer.get_config(), go_backwards=not layer.go_backwards)
        self.backward_layer = type(layer)(**config)

    def forward(self, x: Any, mask: Any = None) -> Tensor:
        a = self.forward_layer(x, mask=mask)
        b = self.backward_layer(x, mask=mask)
        return concat([a, b], axis=-1) if self.merge == "concat" else a + b

    def get_config(self) -> dict[str, Any]:
        return {"layer": to_config(self.forward_layer), "merge": self.merge}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        return cls(module_from_config(config["layer"]), config["merge"])


@register
class TimeDistributed(Module):
    """Applies ``layer`` to every time step: (m, T, ...) -> (m, T, ...'), e.g. a Linear that
    gives per-step logits (the notes' y<t> = softmax(W_y a<t> + b_y))."""

    def __init__(self, layer: Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim < 3:
            raise ShapeError(f"TimeDistributed: expected (m, T, ...), got shape {x.shape}")
        m, T = x.shape[:2]
        y = self.layer(reshape(x, (m * T,) + x.shape[2:]))
        return reshape(y, (m, T) + y.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {"layer": to_config(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        return cls(module_from_config(config["layer"]))


@register
class Embedding(Module):
    """Integer tokens (m, T) -> vectors (m, T, dim): row i of ``weight`` (vocab, dim) is the
    embedding e_i (the notes' E o_i, without the one-hot product): the indexing op
    ``weight[idx]``, whose backward sums the rows of dY into their tokens' rows.

    ``padding_idx``: that row starts at zero and never learns (as PyTorch's): padding tokens
    embed to zeros and send no gradient. ``mask(idx)`` gives the (m, T) 0/1 mask of
    non-padding tokens."""

    def __init__(self, vocab_size: int, dim: int, padding_idx: int | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if vocab_size <= 0 or dim <= 0:
            raise ValueError(f"Embedding: expected positive sizes, got {vocab_size}, {dim}")
        dt = np.dtype(dtype or get_default_dtype())
        self.vocab_size, self.dim, self.padding_idx = vocab_size, dim, padding_idx
        weight = generator().standard_normal((vocab_size, dim)).astype(dt)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, idx: Any) -> Tensor:
        idx = idx.data if isinstance(idx, Tensor) else idx
        idx = idx if hasattr(idx, "dtype") else np.asarray(idx)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: expected integer token indices, got {idx.dtype}")
        xp = array_module(self.weight.data)
        if xp is not np:  # host ids follow the weights to their device, once
            idx = xp.asarray(idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self.vocab_size):
            raise ValueError(f"Embedding: token indices must lie in [0, {self.vocab_size}), got "
                             f"{idx.min()} to {idx.max()}")
        out = getitem(self.weight, idx)
        if self.padding_idx is not None and (idx == self.padding_idx).any():
            out = out * (idx != self.padding_idx)[..., None].astype(out.dtype)
        return out

    def mask(self, idx: Any) -> np.ndarray:
        idx = idx.data if isinstance(idx, Tensor) else idx
        idx = idx if hasattr(idx, "dtype") else np.asarray(idx)  # on its device
        if self.padding_idx is None:
            return array_module(idx).ones(idx.shape, get_default_dtype())
        return (idx != self.padding_idx).astype(get_default_dtype())

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "dim": self.dim, "padding_idx": self.padding_idx,
                "dtype": self.weight.dtype.name}

    @classmethod
    def from_vectors(cls, vectors: Any, vocab: Any = None, freeze: bool = True,
                     padding_idx: int | None = None) -> Embedding:
        """Pretrained embeddings for transfer (the notes' step 2): ``vectors`` a (V, dim) array,
        or a table with ``matrix_for(tokens)`` (``dlkit.text.WordVectors``) and ``vocab`` its
        tokens in id order (a list, or a ``Vocab``: then ``<PAD>`` is the padding row, kept at
        zero; tokens without a vector get zeros). ``freeze`` keeps the rows fixed in training."""
        if vocab is not None:
            tokens = list(getattr(vocab, "tokens", vocab))
            weight = np.asarray(vectors.matrix_for(tokens))
            if padding_idx is None and tokens and tokens[0] == "<PAD>":
                padding_idx = 0
        else:
            weight = np.asarray(vectors.vectors if hasattr(vectors, "vectors") else vectors)
        if weight.ndim != 2:
            raise ShapeError(f"Embedding.from_vectors: expected a (vocab, dim) matrix, got "
                             f"shape {weight.shape}")
        dtype = weight.dtype if weight.dtype.kind == "f" else None
        layer = cls(weight.shape[0], weight.shape[1], padding_idx, dtype=dtype)
        layer.weight.data[...] = weight
        if padding_idx is not None:
            layer.weight.data[padding_idx] = 0
        if freeze:
            layer.freeze()
        return layer


__all__ = ["GRU", "LSTM", "RNN", "Bidirectional", "Embedding", "TimeDistributed"]
