"""A NumPy forward reference for every case of the op registry, written from the formulas
(Chainer's ``forward_cpu``): the forward pass of each op is checked without PyTorch.

``REFS[case name]`` takes the case's float64 inputs (NumPy arrays) and returns the expected
output. The constants a case captures (labels, masks, conditions) are the registry's own.
Convolutions and pooling are written as the notes' loops over output positions; recurrent
layers as the notes' equations step by step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import op_registry as reg

REFS: dict[str, Callable[..., np.ndarray]] = {}


def ref(name: str, fn: Callable[..., Any]) -> None:
    assert name not in REFS, name
    REFS[name] = fn


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def log_softmax(z, axis=-1):
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def reduce(losses, r):
    return losses.mean() if r == "mean" else losses.sum() if r == "sum" else losses


# ---- elementwise ---------------------------------------------------------------------------
for variant in reg.BROADCASTS:
    ref(f"add/{variant}", np.add)
    ref(f"sub/{variant}", np.subtract)
    ref(f"mul/{variant}", np.multiply)
    ref(f"div/{variant}", np.divide)
ref("add/scalar_shaped_first", np.add)
ref("add/operator_python_scalar", lambda a: a + 2.5)
ref("add/reflected_python_scalar", lambda a: 2.5 + a)
ref("add/same_tensor_twice", lambda a: 2 * a)
ref("sub/reflected_python_scalar", lambda a: 1.5 - a)
ref("mul/same_tensor_twice", np.square)
ref("mul/fortran_order_inputs", np.multiply)
ref("mul/operator_chain", lambda a, b: (a * b - a) * 0.5)
ref("div/reflected_python_scalar", lambda b: 2.0 / b)
for name, c in (("scalar_2", 2), ("scalar_3", 3), ("scalar_half", 0.5), ("scalar_negative", -1.5)):
    ref(f"pow/{name}", lambda x, c=c: np.power(x, c))
ref("pow/tensor_exponent", np.power)
ref("pow/tensor_exponent_same_shape", np.power)
ref("pow/reflected_python_base", lambda x: np.power(2.0, x))
ref("neg/basic", np.negative)
ref("neg/operator", np.negative)
ref("exp/basic", np.exp)
ref("exp/noncontiguous_transposed", lambda x: np.exp(x.T))
ref("log/basic", np.log)
ref("sqrt/basic", np.sqrt)
ref("square/basic", np.square)
ref("abs/basic", np.abs)
ref("abs/strided_view", lambda x: np.abs(x[:, ::2]))
ref("clip/both", lambda x: np.minimum(np.maximum(x, -0.5), 0.5))
ref("clip/lo_only", lambda x: np.maximum(x, -0.5))
ref("clip/hi_only", lambda x: np.minimum(x, 0.5))
ref("maximum/same_shape", np.maximum)
ref("maximum/broadcast", np.maximum)
ref("maximum/python_scalar", lambda x: np.maximum(x, 0.0))
ref("minimum/same_shape", np.minimum)
ref("minimum/broadcast", np.minimum)
ref("where/broadcast_b", lambda a, b: np.where(reg._cond, a, b))
ref("where/broadcast_cond", lambda a, b: np.where(reg._cond_col, a, b))
ref("cast/longdouble_roundtrip", lambda x: x * 3.0)
ref("cast/methods", lambda x: x - 1.0)

# ---- reductions ----------------------------------------------------------------------------


def _logsumexp(x, axis, keepdims):
    m = x.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


_NP_REDUCTIONS = {
    "sum": lambda x, a, k: x.sum(axis=a, keepdims=k),
    "mean": lambda x, a, k: x.sum(axis=a, keepdims=k) / (x.size / np.sum(x, axis=a,
                                                                          keepdims=k).size),
    "max": lambda x, a, k: x.max(axis=a, keepdims=k),
    "min": lambda x, a, k: x.min(axis=a, keepdims=k),
    "var": lambda x, a, k: ((x - x.mean(axis=a, keepdims=True)) ** 2).mean(axis=a, keepdims=k),
    "logsumexp": _logsumexp,
}
for op, fn in _NP_REDUCTIONS.items():
    for axis, keepdims in reg.AXES:
        ref(f"{op}/axis={axis},keepdims={keepdims}",
            lambda x, f=fn, a=axis, k=keepdims: f(x, a, k))
ref("var/ddof=1", lambda x: ((x - x.mean(0)) ** 2).sum(0) / (len(x) - 1))
ref("max/noncontiguous_fortran", lambda x: x.max(axis=0))
ref("sum/noncontiguous_transposed", lambda x: x.T.sum(axis=1))

# ---- shape ---------------------------------------------------------------------------------
ref("reshape/basic", lambda x: x.reshape(2, 6))
ref("reshape/inferred_dim", lambda x: x.reshape(4, 3))
ref("reshape/fortran_order_input", lambda x: np.ascontiguousarray(x).reshape(6, 2))
ref("flatten/start_dim_1", lambda x: x.reshape(x.shape[0], -1))
ref("flatten/start_dim_0", lambda x: x.reshape(-1))
ref("transpose/no_axes", lambda x: x.transpose(2, 1, 0))
ref("transpose/axes", lambda x: x.transpose(1, 2, 0))
ref("transpose/negative_axes", lambda x: x.transpose(2, 0, 1))
ref("swapaxes/basic", lambda x: x.transpose(2, 1, 0))
ref("swapaxes/negative", lambda x: x.transpose(0, 2, 1))
ref("squeeze/all", lambda x: x.reshape(3, 4))
ref("squeeze/axis", lambda x: x.reshape(3, 4, 1))
ref("squeeze/axes_tuple", lambda x: x.reshape(3, 4))
ref("unsqueeze/middle", lambda x: x.reshape(3, 1, 4))
ref("unsqueeze/last", lambda x: x.reshape(3, 4, 1))
ref("broadcast_to/new_and_unit_axes", lambda x: np.tile(x, (2, 1, 4)))
ref("broadcast_to/row", lambda x: np.tile(x, (3, 1)))
ref("concat/axis_1", lambda a, b, c: np.hstack([a, b, c]))
ref("concat/axis_0", lambda a, b: np.vstack([a, b]))
ref("concat/axis_negative", lambda a, b: np.dstack([a, b]))
ref("stack/axis_0", lambda a, b, c: np.array([a, b, c]))
ref("stack/axis_negative", lambda a, b: np.moveaxis(np.array([a, b]), 0, -1))


def _pad_ref(x, widths, value=0.0):
    out = np.full(tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths)), value)
    out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, widths))] = x
    return out


ref("pad/per_axis_value", lambda x: _pad_ref(x, ((1, 2), (0, 3)), 0.5))
ref("pad/int_width", lambda x: _pad_ref(x, ((1, 1), (1, 1))))
ref("pad/spatial_4d", lambda x: _pad_ref(x, ((0, 0), (1, 1), (2, 2), (0, 0))))
ref("getitem/basic_slices", lambda x: np.array([[x[i, j] for j in range(0, 4, 2)]
                                                for i in range(1, 3)]))
ref("getitem/int_and_ellipsis", lambda x: np.array([[x[i, j, 1] for j in range(3)]
                                                    for i in range(2)]))
ref("getitem/newaxis_and_negative_int", lambda x: x[2:3, 1:3])
ref("getitem/operator_slice", lambda x: x[:, 1:3] * 2.0)
ref("getitem/int_array_repeated", lambda x: np.stack([x[i] for i in reg._rows]))
ref("getitem/int_list_repeated", lambda x: np.stack([x[1], x[1], x[2]]))
ref("getitem/tuple_of_arrays_repeated", lambda x: np.array([x[i, j]
                                                           for i, j in zip(reg._r, reg._c)]))
ref("getitem/slice_and_int_array", lambda x: np.stack([x[:, j] for j in reg._cols], axis=1))
ref("getitem/boolean_mask", lambda x: np.array([v for v, keep in zip(x.ravel(),
                                                                     reg._mask.ravel())
                                                if keep]))
ref("getitem/boolean_mask_tensor_rows", lambda x: x[[0, 2]])

# ---- matmul, linear, activations -----------------------------------------------------------


def _matmul(a, b):
    """Sum over the shared axis, written with einsum (vectors promoted as matmul does)."""
    a2, b2 = (a[None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
    out = np.einsum("...ij,...jk->...ik", a2, b2)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


for name in ("2d", "batched", "batched_broadcast_left", "batched_broadcast_both", "1d_left",
             "1d_right", "1d_left_batched", "1d_right_batched", "1d_both"):
    ref(f"matmul/{name}", _matmul)
ref("matmul/operator_transposed_operand", lambda a, b: np.einsum("ik,jk->ij", a, b))
ref("linear/bias", lambda x, w, b: np.einsum("...k,jk->...j", x, w) + b)
ref("linear/no_bias", lambda x, w: np.einsum("...k,jk->...j", x, w))
ref("linear/3d_input", lambda x, w, b: np.einsum("...k,jk->...j", x, w) + b)
ref("linear/fortran_order_weight", lambda x, w, b: np.einsum("...k,jk->...j", x, w) + b)
ref("sigmoid/basic", sigmoid)
ref("tanh/basic", lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)))
ref("relu/basic", lambda z: z * (z > 0))
ref("relu/method", lambda z: z * (z > 0))
ref("leaky_relu/default_slope", lambda z: np.where(z > 0, z, 0.01 * z))
ref("leaky_relu/slope_0.2", lambda z: np.where(z > 0, z, 0.2 * z))
for axis in (-1, 0):
    ref(f"softmax/axis={axis}", lambda x, a=axis: np.exp(x) / np.exp(x).sum(a, keepdims=True))
    ref(f"log_softmax/axis={axis}", lambda x, a=axis: log_softmax(x, a))
ref("softmax/3d_axis_1", lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True))
ref("log_softmax/3d_axis_-1", log_softmax)

# ---- losses --------------------------------------------------------------------------------


def _bce(a, y):
    return -(y * np.log(a) + (1 - y) * np.log(1 - a))


def _ce_labels(z, labels, r, ignore=None):
    flat_z, flat_y = z.reshape(-1, z.shape[-1]), labels.reshape(-1)
    keep = np.ones(flat_y.shape, bool) if ignore is None else flat_y != ignore
    picked = np.array([-log_softmax(flat_z[i])[flat_y[i]] if keep[i] else 0.0
                       for i in range(len(flat_y))])
    if r == "mean":
        return picked.sum() / keep.sum()
    return picked.sum() if r == "sum" else picked.reshape(labels.shape)


for r in ("mean", "sum", "none"):
    ref(f"binary_cross_entropy/{r}", lambda a, y, r=r: reduce(_bce(a, y), r))
    ref(f"binary_cross_entropy_with_logits/{r}", lambda z, y, r=r: reduce(_bce(sigmoid(z), y), r))
    ref(f"cross_entropy/labels_{r}", lambda z, r=r: _ce_labels(z, reg._ce_labels, r))
    ref(f"cross_entropy/one_hot_{r}",
        lambda z, y, r=r: reduce(-(y * log_softmax(z)).sum(-1), r))
    ref(f"cross_entropy/ignore_index_{r}", lambda z, r=r: _ce_labels(z, reg._ce_ignored, r, -1))
    ref(f"cross_entropy/3d_logits_{r}", lambda z, r=r: _ce_labels(z, reg._ce_labels_3d, r))
    ref(f"mse_loss/{r}", lambda a, y, r=r: reduce((a - y) ** 2, r))
ref("binary_cross_entropy/soft_labels", lambda a, y: _bce(a, y).mean())
ref("cross_entropy/soft_targets", lambda z, y: -(y * log_softmax(z)).sum(-1).mean())
ref("cross_entropy/default_ignore_index",
    lambda z: _ce_labels(z, reg._ce_default_ignored, "mean", -100))


def _dropout_ref(x, p, seed):
    """The notes' inverted dropout, D = (rand < keep_prob), A * D / keep_prob, with the
    uniform draws of dlkit's generator after manual_seed(seed)."""
    import dlkit as dl

    dl.manual_seed(seed)
    keep = dl.backend.generator().random(x.shape) < 1 - p
    return x * keep / (1 - p)


ref("dropout/p=0.3", lambda x: _dropout_ref(x, 0.3, 7))
ref("dropout/p=0.5_3d", lambda x: _dropout_ref(x, 0.5, 11))
ref("dropout/eval_identity", lambda x: 2.0 * x)

# ---- batch norm ----------------------------------------------------------------------------


def _bn(x, gamma=None, beta=None, mean=None, var=None, eps=1e-5):
    axes = tuple(range(x.ndim - 1))
    mu = x.mean(axis=axes) if mean is None else mean
    v = ((x - x.mean(axis=axes)) ** 2).mean(axis=axes) if var is None else var
    out = (x - mu) / np.sqrt(v + eps)
    if gamma is not None:
        out = out * gamma
    return out + beta if beta is not None else out


ref("batch_norm/train_2d", _bn)
ref("batch_norm/train_4d_channels_last", _bn)
ref("batch_norm/train_no_affine", _bn)
ref("batch_norm/train_gamma_only", _bn)
ref("batch_norm/eval_2d", lambda x, g, b: _bn(x, g, b, reg._rm, reg._rv))
ref("batch_norm/eval_4d_channels_last", lambda x, g, b: _bn(x, g, b, reg._rm4, reg._rv4))

# ---- convolution and pooling: loops over output positions, as the notes' conv_forward -----


def _pads(padding, sizes, kernel, stride):
    d = len(sizes)
    if padding == "same":
        out = []
        for n, f, s in zip(sizes, kernel, stride):
            total = max((-(-n // s) - 1) * s + f - n, 0)
            out.append((total // 2, total - total // 2))
        return out
    p = (padding,) * d if np.isscalar(padding) else tuple(padding)
    return [(q, q) for q in p]


def _windows(x, kernel, stride, pads, value=0.0):
    """Yield (output index, window (m, *kernel, C)) over every output position."""
    d = len(kernel)
    xp = _pad_ref(x, [(0, 0), *pads, (0, 0)], value)
    sizes = [(xp.shape[1 + i] - kernel[i]) // stride[i] + 1 for i in range(d)]
    for pos in itertools.product(*(range(n) for n in sizes)):
        sl = tuple(slice(p * s, p * s + f) for p, s, f in zip(pos, stride, kernel))
        yield pos, sizes, xp[(slice(None), *sl)]


def conv_ref(x, w, b=None, stride=1, padding=0):
    d = x.ndim - 2
    kernel = w.shape[:d]
    stride = (stride,) * d if np.isscalar(stride) else tuple(stride)
    out = None
    for pos, sizes, window in _windows(x, kernel, stride, _pads(padding, x.shape[1:-1],
                                                              kernel, stride)):
        if out is None:
            out = np.zeros((x.shape[0], *sizes, w.shape[-1]))
        val = np.tensordot(window, w, axes=(list(range(1, d + 2)), list(range(d + 1))))
        out[(slice(None), *pos)] = val + (b if b is not None else 0.0)
    return out


def depthwise_ref(x, w, b=None, stride=1, padding=0):
    kernel, stride = w.shape[:2], (stride, stride)
    out = None
    for pos, sizes, window in _windows(x, kernel, stride, _pads(padding, x.shape[1:3], kernel,
                                                              stride)):
        if out is None:
            out = np.zeros((x.shape[0], *sizes, x.shape[-1]))
        out[(slice(None), *pos)] = (window * w).sum(axis=(1, 2)) + (b if b is not None else 0)
    return out


def pool_ref(kind, x, f, stride=None, padding=0):
    d = x.ndim - 2
    kernel, stride = (f,) * d, (stride or f,) * d
    value = -np.inf if kind == "max" else 0.0
    out = None
    for pos, sizes, window in _windows(x, kernel, stride, _pads(padding, x.shape[1:-1], kernel,
                                                              stride), value):
        if out is None:
            out = np.zeros((x.shape[0], *sizes, x.shape[-1]))
        axes = tuple(range(1, d + 1))
        out[(slice(None), *pos)] = window.max(axis=axes) if kind == "max" else \
            window.mean(axis=axes)
    return out


for c_prev in (1, 3, 12):
    for stride, padding in ((1, 0), (2, 1), (1, 2)):
        ref(f"conv2d/c{c_prev}_s{stride}_p{padding}",
            lambda x, w, b, s=stride, p=padding: conv_ref(x, w, b, s, p))
ref("conv2d/same_even_kernel", lambda x, w: conv_ref(x, w, None, 1, "same"))
ref("conv2d/same_stride2", lambda x, w, b: conv_ref(x, w, b, 2, "same"))
ref("conv2d/1x1", conv_ref)
ref("conv2d/rect_stride_pad", lambda x, w: conv_ref(x, w, None, (2, 1), (1, 0)))
ref("conv1d/basic", lambda x, w, b: conv_ref(x, w, b, 2, 1))
ref("conv1d/many_channels", conv_ref)
ref("conv3d/basic", lambda x, w, b: conv_ref(x, w, b, 1, 1))
ref("conv3d/many_channels_stride2", lambda x, w: conv_ref(x, w, None, 2))
ref("depthwise_conv2d/same", lambda x, w, b: depthwise_ref(x, w, b, 1, 1))
ref("depthwise_conv2d/stride2", lambda x, w: depthwise_ref(x, w, None, 2))
ref("zero_pad/int", lambda x: _pad_ref(x, ((0, 0), (2, 2), (2, 2), (0, 0))))
ref("zero_pad/pairs", lambda x: _pad_ref(x, ((0, 0), (1, 0), (0, 2), (0, 0))))
ref("max_pool2d/2x2_tiled", lambda x: pool_ref("max", x, 2))
ref("max_pool2d/3x3_stride2", lambda x: pool_ref("max", x, 3, 2))
ref("max_pool2d/overlapping", lambda x: pool_ref("max", x, 2, 1))
ref("max_pool2d/untiled_remainder", lambda x: pool_ref("max", x, 2))
ref("max_pool2d/3x3_stride1_padded", lambda x: pool_ref("max", x, 3, 1, 1))
ref("avg_pool2d/3x3_stride2_padded", lambda x: pool_ref("avg", x, 3, 2, 1))
ref("avg_pool2d/2x2_tiled", lambda x: pool_ref("avg", x, 2))
ref("avg_pool2d/3x3_stride2", lambda x: pool_ref("avg", x, 3, 2))
ref("max_pool1d/basic", lambda x: pool_ref("max", x, 3, 2))
ref("avg_pool1d/tiled", lambda x: pool_ref("avg", x, 2))
ref("max_pool3d/tiled", lambda x: pool_ref("max", x, 2))
ref("avg_pool3d/stride1", lambda x: pool_ref("avg", x, 2, 1))
ref("global_avg_pool/2d", lambda x: x.mean(axis=(1, 2)))

# ---- recurrent: the notes' equations, one step at a time ---------------------------------


def _cell(kind, n_a, x_t, w, b, states, b_ca=None):
    """One step: returns the new states ([a] for RNN and GRU, [a, c] for the LSTM)."""
    a = states[0]
    z = np.concatenate([a, x_t], axis=1) @ w.T + b
    if kind == "rnn":
        return [np.tanh(z)]
    if kind == "lstm":
        gf, gu = sigmoid(z[:, :n_a]), sigmoid(z[:, n_a:2 * n_a])
        cc, go = np.tanh(z[:, 2 * n_a:3 * n_a]), sigmoid(z[:, 3 * n_a:])
        c = gf * states[1] + gu * cc
        return [go * np.tanh(c), c]
    gu, gr = sigmoid(z[:, :n_a]), sigmoid(z[:, n_a:2 * n_a])
    if b_ca is None:      # the notes' GRU: the relevance gate scales c<t-1> before W_c
        cc = np.tanh(np.concatenate([gr * a, x_t], 1) @ w[2 * n_a:].T + b[2 * n_a:])
    else:                 # reset after: c~ = tanh(W_cx x + b_c + Gr (W_ca c + b_ca))
        cc = np.tanh(x_t @ w[2 * n_a:, n_a:].T + b[2 * n_a:]
                     + gr * (a @ w[2 * n_a:, :n_a].T + b_ca))
    return [gu * cc + (1 - gu) * a]


def recurrent_ref(kind, x, w, b, *states, mask=None, reverse=False, b_ca=None):
    """(outputs (m, T, n_a), final states); a masked step carries the state over."""
    m, T, _ = x.shape
    n_a = w.shape[1] - x.shape[2]
    n_states = 2 if kind == "lstm" else 1
    st = [s.copy() for s in states] if states else [np.zeros((m, n_a))] * n_states
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        new = _cell(kind, n_a, x[:, t], w, b, st, b_ca)
        keep = np.ones((m, 1)) if mask is None else mask[:, t:t + 1]
        st = [keep * n + (1 - keep) * o for n, o in zip(new, st)]
        outs[t] = st[0]
    return np.stack(outs, axis=1), st


M = reg._seq_mask
ref("rnn/sequence", lambda x, w, b, a0: recurrent_ref("rnn", x, w, b, a0)[0])
ref("rnn/last_state_reverse_masked",
    lambda x, w, b: recurrent_ref("rnn", x, w, b, mask=M, reverse=True)[1][0])
ref("lstm/sequence", lambda x, w, b, a0, c0: recurrent_ref("lstm", x, w, b, a0, c0)[0])
ref("lstm/final_cell_masked", lambda x, w, b: recurrent_ref("lstm", x, w, b, mask=M)[1][1])
ref("gru/sequence", lambda x, w, b, c0: recurrent_ref("gru", x, w, b, c0)[0])
ref("gru/last_reverse_masked",
    lambda x, w, b: recurrent_ref("gru", x, w, b, mask=M, reverse=True)[1][0])
ref("gru/reset_after_sequence",
    lambda x, w, b, b_ca, c0: recurrent_ref("gru", x, w, b, c0, b_ca=b_ca)[0])
ref("lstm/reverse_masked_sequence",
    lambda x, w, b, a0, c0: recurrent_ref("lstm", x, w, b, a0, c0, mask=M, reverse=True)[0])
ref("gru/reset_after_last_reverse_masked",
    lambda x, w, b, b_ca, c0: recurrent_ref("gru", x, w, b, c0, mask=M, reverse=True,
                                            b_ca=b_ca)[1][0])

# ---- multi-label loss with missing labels ------------------------------------------------


def multilabel_ref(z, y, r, mask=None):
    given = ~np.isnan(y) & (y != -1)
    if mask is not None:
        given &= mask
    losses = np.where(given, _bce(sigmoid(z), np.where(given, y, 0.0)), 0.0)
    if r == "none":
        return losses
    total = losses.sum()
    return total / given.sum() if r == "mean" else total / len(z) if r == "batchmean" \
        else total


for r in ("mean", "batchmean", "sum", "none"):
    ref(f"multilabel_bce_with_logits/nan_missing_{r}",
        lambda z, r=r: multilabel_ref(z, reg._ml_labels, r))
ref("multilabel_bce_with_logits/minus_one_missing",
    lambda z: multilabel_ref(z, reg._ml_minus_one.astype(np.float64), "batchmean"))
ref("multilabel_bce_with_logits/mask_soft_targets",
    lambda z, y: multilabel_ref(z, y, "mean", mask=reg._ml_mask))


# ---- the Transformer's ops ------------------------------------------------------------------
def _erf(x):
    import math
    return np.vectorize(math.erf)(x)


ref("gelu/none", lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))))
ref("gelu/tanh", lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))))


def layer_norm_ref(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * g + b


def attention_ref(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True) @ v


ref("layer_norm/affine_3d", layer_norm_ref)
ref("scaled_dot_product_attention/no_mask", attention_ref)
ref("padding_mask/attention", lambda q, k, v: attention_ref(q, k, v, reg._sdpa_keep))
ref("causal_mask/attention", lambda q, k, v: attention_ref(q, k, v, reg._sdpa_causal))
