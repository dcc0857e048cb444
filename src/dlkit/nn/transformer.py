"""The Transformer's layers (batch-first): multi-head attention, positional encodings,
encoder and decoder layers (post-norm as the paper and the course, pre-norm as an option),
their stacks and the encoder-decoder ``Transformer``.

Masks are booleans, True = attend, broadcastable to (m, T_q, T_k) (a head axis is added), or
(m, num_heads, T_q, T_k): ``dlkit.ops.padding_mask(ids)`` (m, 1, T_k) hides padded keys,
``dlkit.ops.causal_mask(T)`` (T, T) hides the future. Submodule names follow PyTorch's
(``self_attn``, ``linear1``, ``norm1``, ...) so its weights map one to one.

Generation with a key/value cache: the attention layers take ``past_kv`` (the keys and values
of the positions already decoded, (m, h, t, d_k) each) and, with ``return_kv=True``, return
them extended by the new positions; each new token then costs one position, not the prefix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import generator, get_default_dtype
from dlkit.errors import DTypeError, ShapeError, shape_error
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.dropout import Dropout
from dlkit.nn.layer_norm import LayerNorm
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops.activation import gelu, relu
from dlkit.ops.attention import scaled_dot_product_attention
from dlkit.ops.shape import concat
from dlkit.tensor import Tensor, as_tensor

ACTIVATIONS = {"relu": relu, "gelu": gelu, "gelu_tanh": lambda x: gelu(x, "tanh")}


def _broadcastable(shape: tuple, to: tuple) -> bool:
    return len(shape) <= len(to) and all(a == 1 or a == b for a, b in zip(shape[::-1], to[::-1]))


@register
class MultiHeadAttention(Module):
    """softmax(Q_i K_i^T / sqrt(d_k)) V_i for h heads, concatenated and projected:

        Q = query W_q^T + b_q, K = key W_k^T + b_k, V = value W_v^T + b_v  (one GEMM each,
        (m, T, d_model)), split into h heads of d_k = d_model / h by a reshape to
        (m, h, T, d_k); out = concat_heads(attention) W_o^T + b_o.

    ``model(x)`` is self-attention; ``model(query, key, value, mask)`` attends from the
    queries to the keys. ``return_weights=True`` also returns the weights (m, h, T_q, T_k).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        if d_model <= 0 or num_heads <= 0 or d_model % num_heads:
            raise ValueError(f"MultiHeadAttention: d_model={d_model} is not divisible by "
                             f"num_heads={num_heads} (each head gets d_model / num_heads "
                             f"features)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: expected dropout in [0, 1), got {dropout}")
        self.d_model, self.num_heads, self.dropout = int(d_model), int(num_heads), float(dropout)
        self.d_k = d_model // num_heads
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self, name, Linear(d_model, d_model, bias=bias, init="glorot_uniform",
                                       dtype=dtype))

    def split_heads(self, x: Tensor) -> Tensor:
        """(m, T, d_model) -> (m, h, T, d_k)."""
        m, t = x.shape[0], x.shape[1]
        return x.reshape(m, t, self.num_heads, self.d_k).transpose(0, 2, 1, 3)

    def merge_heads(self, x: Tensor) -> Tensor:
        """(m, h, T, d_k) -> (m, T, d_model)."""
        m, _, t, _ = x.shape
        return x.transpose(0, 2, 1, 3).reshape(m, t, self.d_model)

    def project_kv(self, key: Tensor, value: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The keys and values of ``key``/``value`` (m, T_k, d_model), split into heads:
        (m, h, T_k, d_k) each (a decoder's cross-attention computes them once per source)."""
        value = key if value is None else value
        self._check_input("key", key)
        self._check_input("value", value)
        return self.split_heads(self.k_proj(key)), self.split_heads(self.v_proj(value))

    def _check_input(self, name: str, x: Any) -> None:
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise shape_error("MultiHeadAttention", f"{name} of shape (m, T, {self.d_model})",
                              x.shape, "sequences are batch-first (m, T, d_model)")

    def head_mask(self, mask: Any, m: int, t_q: int, t_k: int) -> Any:
        """A boolean mask broadcastable to (m, T_q, T_k) (or (m, h, T_q, T_k)), with the head
        axis in place."""
        arr = mask.data if isinstance(mask, Tensor) else mask
        arr = arr if hasattr(arr, "dtype") else np.asarray(arr)
        if arr.dtype != np.bool_:
            raise DTypeError(f"MultiHeadAttention: expected a boolean mask (True = attend), got "
                             f"{arr.dtype}; build one with padding_mask / causal_mask")
        if arr.ndim <= 3 and _broadcastable(arr.shape, (m, t_q, t_k)):
            return arr[:, None] if arr.ndim == 3 else arr
        if arr.ndim == 4 and _broadcastable(arr.shape, (m, self.num_heads, t_q, t_k)):
            return arr
        raise ShapeError(f"MultiHeadAttention: expected a mask broadcastable to (m, T_q, T_k) = "
                         f"{(m, t_q, t_k)} (or (m, num_heads, T_q, T_k)), got mask of shape "
                         f"{tuple(arr.shape)}")

    def forward(self, query: Any, key: Any = None, value: Any = None, mask: Any = None,
                return_weights: bool = False, past_kv: Any = None, kv: Any = None,
                return_kv: bool = False) -> Any:
        """``query`` (m, T_q, d_model), ``key``/``value`` (m, T_k, d_model) (default: the
        query). ``kv``: keys and values already projected (``project_kv``); ``past_kv``:
        cached ones the new keys and values are appended to. Returns the output
        (m, T_q, d_model), then the weights if ``return_weights``, then (K, V) if
        ``return_kv``."""
        query = as_tensor(query)
        self._check_input("query", query)
        q = self.split_heads(self.q_proj(query))
        if kv is not None:
            k, v = (as_tensor(a) for a in kv)
        else:
            key = query if key is None else as_tensor(key)
            value = key if value is None else as_tensor(value)
            if key.shape[:2] != value.shape[:2]:
                raise ShapeError(f"MultiHeadAttention: expected key and value of the same "
                                 f"(m, T_k), got key {key.shape} and value {value.shape}")
            k, v = self.project_kv(key, value)
            if past_kv is not None:
                k = concat([as_tensor(past_kv[0]), k], axis=2)
                v = concat([as_tensor(past_kv[1]), v], axis=2)
        m, t_q, t_k = query.shape[0], query.shape[1], k.shape[2]
        if k.shape[0] != m:
            raise ShapeError(f"MultiHeadAttention: query of {m} sequences and keys of "
                             f"{k.shape[0]}")
        hm = None if mask is None else self.head_mask(mask, m, t_q, t_k)
        out, weights = scaled_dot_product_attention(
            q, k, v, hm, self.dropout if self.training else 0.0, return_weights=True)
        result: list[Any] = [self.out_proj(self.merge_heads(out))]
        if return_weights:
            result.append(weights)
        if return_kv:
            result.append((k, v))
        return result[0] if len(result) == 1 else tuple(result)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, num_heads={self.num_heads}, dropout={self.dropout}"

    def get_config(self) -> dict[str, Any]:
        return {"d_model": self.d_model, "num_heads": self.num_heads, "dropout": self.dropout,
                "bias": self.q_proj.bias is not None, "dtype": self.q_proj.weight.dtype.name}


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)),
    (max_len, d_model) in float64."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    angle = pos / 10000.0 ** (np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, :d_model // 2])
    return pe


def _check_length(name: str, x: Any, offset: int, max_len: int, d_model: int) -> None:
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise shape_error(name, f"input of shape (m, T, {d_model})", x.shape)
    if offset < 0 or offset + x.shape[1] > max_len:
        raise ValueError(f"{name}: a sequence of length {offset + x.shape[1]} is longer than the "
                         f"positional table's max_len={max_len}; build it with a larger max_len")


@register
class PositionalEncoding(Module):
    """x + PE[offset : offset + T] with the fixed sinusoidal table (``sinusoidal_table``),
    then dropout. ``offset`` is the position of x's first step (generation one step at a
    time)."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 dtype: Any = None) -> None:
        super().__init__()
        if d_model <= 0 or max_len <= 0:
            raise ValueError(f"PositionalEncoding: expected positive sizes, got d_model="
                             f"{d_model}, max_len={max_len}")
        self.d_model, self.max_len = int(d_model), int(max_len)
        self.dtype = np.dtype(dtype or get_default_dtype())
        self.table = sinusoidal_table(self.max_len, self.d_model).astype(self.dtype)
        self.drop = Dropout(dropout)

    def forward(self, x: Any, offset: int = 0) -> Tensor:
        x = as_tensor(x)
        _check_length("PositionalEncoding", x, offset, self.max_len, self.d_model)
        pe = self.table[offset:offset + x.shape[1]]
        if pe.dtype != x.dtype:
            pe = pe.astype(x.dtype)
        return self.drop(x + pe)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"

    def get_config(self) -> dict[str, Any]:
        return {"d_model": self.d_model, "max_len": self.max_len, "dropout": self.drop.p,
                "dtype": self.dtype.name}


@register
class LearnedPositionalEncoding(Module):
    """x + P[offset : offset + T] with a trained table P (max_len, d_model) (as BERT, GPT),
    then dropout. A longer sequence than the table is an error naming both lengths."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0,
                 dtype: Any = None) -> None:
        super().__init__()
        if d_model <= 0 or max_len <= 0:
            raise ValueError(f"LearnedPositionalEncoding: expected positive sizes, got d_model="
                             f"{d_model}, max_len={max_len}")
        dt = np.dtype(dtype or get_default_dtype())
        self.d_model, self.max_len = int(d_model), int(max_len)
        self.weight = Parameter((generator().standard_normal((max_len, d_model)) * 0.02)
                                .astype(dt))
        self.drop = Dropout(dropout)

    def forward(self, x: Any, offset: int = 0) -> Tensor:
        x = as_tensor(x)
        _check_length("LearnedPositionalEncoding", x, offset, self.max_len, self.d_model)
        return self.drop(x + self.weight[offset:offset + x.shape[1]])

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"

    def get_config(self) -> dict[str, Any]:
        return {"d_model": self.d_model, "max_len": self.max_len, "dropout": self.drop.p,
                "dtype": self.weight.dtype.name}


class _LayerBase(Module):
    """What the encoder and decoder layers share: the feed-forward block and the config."""

    def _build(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float,
               activation: str, norm_first: bool, layer_norm_eps: float, dtype: Any,
               n_norms: int) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"{type(self).__name__}: expected activation in "
                             f"{sorted(ACTIVATIONS)}, got {activation!r}")
        self.d_model, self.num_heads = int(d_model), int(num_heads)
        self.dim_feedforward, self.dropout_p = int(dim_feedforward), float(dropout)
        self.activation, self.norm_first, self.layer_norm_eps = activation, bool(norm_first), \
            float(layer_norm_eps)
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout, dtype=dtype)
        if n_norms == 3:  # the decoder's attention over the encoder's output (PyTorch's order)
            self.multihead_attn = MultiHeadAttention(d_model, num_heads, dropout, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, init="glorot_uniform", dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, init="glorot_uniform", dtype=dtype)
        for i in range(1, n_norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, layer_norm_eps, dtype=dtype))
            setattr(self, f"dropout{i}", Dropout(dropout))

    def _feed_forward(self, x: Tensor) -> Tensor:
        """linear2(dropout(activation(linear1(x)))), position by position."""
        return self.linear2(self.dropout(ACTIVATIONS[self.activation](self.linear1(x))))

    def _sublayer(self, x: Tensor, norm: LayerNorm, drop: Dropout, fn: Any) -> tuple:
        """Post-norm: norm(x + drop(f(x))); pre-norm: x + drop(f(norm(x))). ``fn`` returns
        (output, extras)."""
        y, extras = fn(norm(x) if self.norm_first else x)
        x = x + drop(y)
        return (x if self.norm_first else norm(x)), extras

    def _self_attention(self, mask: Any, past_kv: Any) -> Any:
        def fn(h: Tensor) -> tuple:
            out, w, kv = self.self_attn(h, mask=mask, return_weights=True, past_kv=past_kv,
                                        return_kv=True)
            return out, (w, kv)
        return fn

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, num_heads={self.num_heads}, dim_feedforward="
                f"{self.dim_feedforward}, norm_first={self.norm_first}")

    def get_config(self) -> dict[str, Any]:
        return {"d_model": self.d_model, "num_heads": self.num_heads,
                "dim_feedforward": self.dim_feedforward, "dropout": self.dropout_p,
                "activation": self.activation, "norm_first": self.norm_first,
                "layer_norm_eps": self.layer_norm_eps,
                "dtype": self.linear1.weight.dtype.name}


@register
class TransformerEncoderLayer(_LayerBase):
    """Self-attention, then the position-wise feed-forward network, each a residual block:
    post-norm (the paper, the course; PyTorch's default) x = norm(x + sublayer(x)), or
    pre-norm (``norm_first=True``) x = x + sublayer(norm(x)). Also the block of a
    decoder-only (GPT-style) model with a causal mask."""

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, dtype: Any = None) -> None:
        super().__init__()
        self._build(d_model, num_heads, dim_feedforward, dropout, activation, norm_first,
                    layer_norm_eps, dtype, 2)

    def forward(self, x: Any, mask: Any = None, return_weights: bool = False,
                past_kv: Any = None, return_kv: bool = False) -> Any:
        """x (m, T, d_model) -> (m, T, d_model); then the attention weights if
        ``return_weights``, then this layer's (K, V) if ``return_kv``."""
        x = as_tensor(x)
        x, (w, kv) = self._sublayer(x, self.norm1, self.dropout1,
                                    self._self_attention(mask, past_kv))
        x, _ = self._sublayer(x, self.norm2, self.dropout2, lambda h: (self._feed_forward(h),
                                                                         None))
        result: list[Any] = [x]
        if return_weights:
            result.append(w)
        if return_kv:
            result.append(kv)
        return result[0] if len(result) == 1 else tuple(result)


@register
class TransformerDecoderLayer(_LayerBase):
    """Masked self-attention, attention over the encoder's output (``memory``), then the
    feed-forward network, each a residual block (post-norm, or pre-norm with
    ``norm_first``)."""

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, dtype: Any = None) -> None:
        super().__init__()
        self._build(d_model, num_heads, dim_feedforward, dropout, activation, norm_first,
                    layer_norm_eps, dtype, 3)

    def forward(self, x: Any, memory: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
                return_weights: bool = False, past_kv: Any = None, memory_kv: Any = None,
                return_kv: bool = False) -> Any:
        """x (m, T, d_model), memory (m, S, d_model) (or its projected ``memory_kv``) ->
        (m, T, d_model); then (self weights, cross weights) if ``return_weights``, then the
        self-attention's (K, V) if ``return_kv``."""
        x = as_tensor(x)
        if memory is None and memory_kv is None:
            raise ValueError("TransformerDecoderLayer: expected the encoder's output (memory)")
        x, (w_self, kv) = self._sublayer(x, self.norm1, self.dropout1,
                                         self._self_attention(tgt_mask, past_kv))

        def cross(h: Tensor) -> tuple:
            out, w = self.multihead_attn(h, memory, memory, mask=memory_mask,
                                         return_weights=True, kv=memory_kv)
            return out, w
        x, w_cross = self._sublayer(x, self.norm2, self.dropout2, cross)
        x, _ = self._sublayer(x, self.norm3, self.dropout3, lambda h: (self._feed_forward(h),
                                                                         None))
        result: list[Any] = [x]
        if return_weights:
            result.append((w_self, w_cross))
        if return_kv:
            result.append(kv)
        return result[0] if len(result) == 1 else tuple(result)


class _StackBase(Module):
    def _build(self, layer_cls: type, num_layers: int, d_model: int, num_heads: int,
               dim_feedforward: int, dropout: float, activation: str, norm_first: bool,
               layer_norm_eps: float, final_norm: bool | None, dtype: Any) -> None:
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: expected num_layers >= 1, got "
                             f"{num_layers}")
        self.num_layers = int(num_layers)
        self.final_norm = bool(norm_first if final_norm is None else final_norm)
        self.layers = Sequential(*(layer_cls(d_model, num_heads, dim_feedforward, dropout,
                                             activation, norm_first, layer_norm_eps, dtype)
                                   for _ in range(num_layers)))
        self.norm = LayerNorm(d_model, layer_norm_eps, dtype=dtype) if self.final_norm else None

    def get_config(self) -> dict[str, Any]:
        return {"num_layers": self.num_layers, **self.layers[0].get_config(),
                "final_norm": self.final_norm}

    def _finish(self, x: Tensor, weights: list, kvs: list, return_weights: bool,
                return_kv: bool) -> Any:
        if self.norm is not None:
            x = self.norm(x)
        result: list[Any] = [x]
        if return_weights:
            result.append(weights)
        if return_kv:
            result.append(kvs)
        return result[0] if len(result) == 1 else tuple(result)


@register
class TransformerEncoder(_StackBase):
    """``num_layers`` encoder layers, then a final LayerNorm when ``final_norm`` (default: for
    pre-norm layers, whose output is not normalized otherwise)."""

    def __init__(self, num_layers: int, d_model: int, num_heads: int,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str = "relu",
                 norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 final_norm: bool | None = None, dtype: Any = None) -> None:
        super().__init__()
        self._build(TransformerEncoderLayer, num_layers, d_model, num_heads, dim_feedforward,
                    dropout, activation, norm_first, layer_norm_eps, final_norm, dtype)

    def forward(self, x: Any, mask: Any = None, return_weights: bool = False,
                past_kv: Any = None, return_kv: bool = False) -> Any:
        """x (m, T, d_model); ``past_kv``: a list of each layer's cached (K, V). Returns the
        output, then the list of each layer's weights, then the list of each layer's (K, V)."""
        weights, kvs = [], []
        for i, layer in enumerate(self.layers):
            x, w, kv = layer(x, mask, return_weights=True,
                             past_kv=None if past_kv is None else past_kv[i], return_kv=True)
            weights.append(w)
            kvs.append(kv)
        return self._finish(x, weights, kvs, return_weights, return_kv)


@register
class TransformerDecoder(_StackBase):
    """``num_layers`` decoder layers, then a final LayerNorm when ``final_norm``."""

    def __init__(self, num_layers: int, d_model: int, num_heads: int,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str = "relu",
                 norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 final_norm: bool | None = None, dtype: Any = None) -> None:
        super().__init__()
        self._build(TransformerDecoderLayer, num_layers, d_model, num_heads, dim_feedforward,
                    dropout, activation, norm_first, layer_norm_eps, final_norm, dtype)

    def memory_kv(self, memory: Any) -> list[tuple[Tensor, Tensor]]:
        """Each layer's cross-attention keys and values of the encoder's output, computed
        once for all the steps of a generation."""
        return [layer.multihead_attn.project_kv(as_tensor(memory)) for layer in self.layers]

    def forward(self, x: Any, memory: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
                return_weights: bool = False, past_kv: Any = None, memory_kv: Any = None,
                return_kv: bool = False) -> Any:
        weights, kvs = [], []
        for i, layer in enumerate(self.layers):
            x, w, kv = layer(x, memory, tgt_mask, memory_mask, return_weights=True,
                             past_kv=None if past_kv is None else past_kv[i],
                             memory_kv=None if memory_kv is None else memory_kv[i],
                             return_kv=True)
            weights.append(w)
            kvs.append(kv)
        return self._finish(x, weights, kvs, return_weights, return_kv)


@register
class Transformer(Module):
    """The encoder-decoder of "Attention is all you need" on embedded sequences, as
    ``torch.nn.Transformer(batch_first=True)``: ``model(src, tgt, src_mask, tgt_mask,
    memory_mask)`` with src (m, S, d_model), tgt (m, T, d_model) -> (m, T, d_model). Both
    stacks end with a LayerNorm (as PyTorch's)."""

    def __init__(self, d_model: int = 512, num_heads: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, dtype: Any = None) -> None:
        super().__init__()
        common = dict(d_model=d_model, num_heads=num_heads, dim_feedforward=dim_feedforward,
                      dropout=dropout, activation=activation, norm_first=norm_first,
                      layer_norm_eps=layer_norm_eps, final_norm=True, dtype=dtype)
        self.encoder = TransformerEncoder(num_encoder_layers, **common)
        self.decoder = TransformerDecoder(num_decoder_layers, **common)

    def forward(self, src: Any, tgt: Any, src_mask: Any = None, tgt_mask: Any = None,
                memory_mask: Any = None) -> Tensor:
        memory = self.encoder(src, src_mask)
        return self.decoder(tgt, memory, tgt_mask, memory_mask)

    def get_config(self) -> dict[str, Any]:
        c = self.encoder.get_config()
        return {"d_model": c["d_model"], "num_heads": c["num_heads"],
                "num_encoder_layers": self.encoder.num_layers,
                "num_decoder_layers": self.decoder.num_layers,
                "dim_feedforward": c["dim_feedforward"], "dropout": c["dropout"],
                "activation": c["activation"], "norm_first": c["norm_first"],
                "layer_norm_eps": c["layer_norm_eps"], "dtype": c["dtype"]}


__all__ = ["LearnedPositionalEncoding", "MultiHeadAttention", "PositionalEncoding",
           "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerEncoderLayer", "sinusoidal_table"]

