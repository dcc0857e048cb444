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


# ---- transposed convolution, ROI pooling, CTC ---------------------------------------------


def conv_transpose_ref(x, w, b, s, p):
    """Each input pixel scatters x[i, j] W (f, f, C) into the output window at (i s, j s); then
    p rows and columns are cut from each side (the notes' transposed convolution)."""
    m, h, wd, _ = x.shape
    f = w.shape[0]
    out = np.zeros((m, (h - 1) * s + f, (wd - 1) * s + f, w.shape[2]))
    for i in range(h):
        for j in range(wd):
            out[:, i * s:i * s + f, j * s:j * s + f] += np.einsum("mc,abkc->mabk", x[:, i, j], w)
    out = out[:, p:out.shape[1] - p, p:out.shape[2] - p]
    return out + b


for stride, padding in ((1, 0), (2, 1), (2, 0)):
    ref(f"conv_transpose2d/s{stride}_p{padding}",
        lambda x, w, b, s=stride, p=padding: conv_transpose_ref(x, w, b, s, p))


def roi_pool_ref(x, rois, size, scale=1.0):
    """Fast R-CNN (torchvision's definition): the ROI rounded to the grid, cut into p x p bins
    of floor/ceil bounds, the max of each (0 for an empty bin)."""
    ph, pw = (size, size) if np.isscalar(size) else size
    _, H, W, C = x.shape
    out = np.zeros((len(rois), ph, pw, C))
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh = round(x1 * scale), round(y1 * scale)
        rw, rh = max(round(x2 * scale) - sw + 1, 1), max(round(y2 * scale) - sh + 1, 1)
        for i in range(ph):
            for j in range(pw):
                h0 = min(max(int(np.floor(i * rh / ph)) + sh, 0), H)
                h1 = min(max(int(np.ceil((i + 1) * rh / ph)) + sh, 0), H)
                w0 = min(max(int(np.floor(j * rw / pw)) + sw, 0), W)
                w1 = min(max(int(np.ceil((j + 1) * rw / pw)) + sw, 0), W)
                if h1 > h0 and w1 > w0:
                    out[k, i, j] = x[int(b), h0:h1, w0:w1].max(axis=(0, 1))
    return out


def _bilinear(v, y, x):
    """torchvision's bilinear sample of v (H, W, C) at (y, x); 0 outside [-1, H] x [-1, W]."""
    H, W = v.shape[:2]
    if y < -1 or y > H or x < -1 or x > W:
        return np.zeros(v.shape[2])
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= H - 1:
        yl = yh = H - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= W - 1:
        xl = xh = W - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    return ((1 - ly) * (1 - lx) * v[yl, xl] + (1 - ly) * lx * v[yl, xh]
            + ly * (1 - lx) * v[yh, xl] + ly * lx * v[yh, xh])


def roi_align_ref(x, rois, size, scale=1.0, ratio=2, aligned=False):
    """ROI Align: each bin the mean of ratio x ratio bilinear samples at regular points."""
    ph, pw = (size, size) if np.isscalar(size) else size
    off = 0.5 if aligned else 0.0
    out = np.zeros((len(rois), ph, pw, x.shape[3]))
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sw, y2 * scale - off - sh
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        for i in range(ph):
            for j in range(pw):
                acc = np.zeros(x.shape[3])
                for iy in range(ratio):
                    for ix in range(ratio):
                        acc += _bilinear(x[int(b)], sh + i * bh + (iy + 0.5) * bh / ratio,
                                         sw + j * bw + (ix + 0.5) * bw / ratio)
                out[k, i, j] = acc / ratio ** 2
    return out


ref("roi_pool/2x2", lambda x: roi_pool_ref(x, reg._rois, 2))
ref("roi_pool/3x2_scale_half", lambda x: roi_pool_ref(x, reg._rois * [1, 2, 2, 2, 2], (3, 2),
                                                      0.5))
ref("roi_align/2x2", lambda x: roi_align_ref(x, reg._rois, 2))
ref("roi_align/aligned_3x3_ratio1", lambda x: roi_align_ref(x, reg._rois, 3, 1.0, 1, True))


def ctc_ref(log_p, labels, blank=0):
    """-log p(labels | x): the notes' sum over every alignment that collapses to the labels,
    by the forward recursion over the extended sequence (blank, l1, blank, l2, ..., blank)."""
    ext = [blank]
    for c in labels:
        ext += [int(c), blank]
    S, T = len(ext), len(log_p)
    alpha = np.full(S, -np.inf)
    alpha[0] = log_p[0, blank]
    if S > 1:
        alpha[1] = log_p[0, ext[1]]
    for t in range(1, T):
        new = np.full(S, -np.inf)
        for s in range(S):
            terms = [alpha[s]] + ([alpha[s - 1]] if s >= 1 else [])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(terms) + log_p[t, ext[s]]
        alpha = new
    return -np.logaddexp.reduce(alpha[-2:] if S > 1 else alpha[-1:])


def _ctc(z, r):
    lp = log_softmax(z)
    losses = np.array([ctc_ref(lp[b, :reg._ctc_in[b]], reg._ctc_targets[b, :reg._ctc_tg[b]])
                       for b in range(len(z))])
    if r == "mean":  # as PyTorch: each loss over its target length (at least 1), then the mean
        return (losses / np.maximum(reg._ctc_tg, 1)).mean()
    return losses.sum() if r == "sum" else losses


for r in ("mean", "sum", "none"):
    ref(f"ctc_loss/{r}", lambda z, r=r: _ctc(z, r))


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
