"""Differentiable ops, one family a file; each a ``Function`` with forward and backward."""

from dlkit.ops.activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from dlkit.ops.attention import causal_mask, padding_mask, scaled_dot_product_attention
from dlkit.ops.conv import conv1d, conv2d, conv3d, depthwise_conv2d, zero_pad
from dlkit.ops.conv_transpose import conv_transpose2d
from dlkit.ops.ctc import ctc_loss
from dlkit.ops.dropout import dropout
from dlkit.ops.elementwise import (
    abs,
    add,
    cast,
    clip,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sqrt,
    square,
    sub,
    where,
)
from dlkit.ops.layer_norm import layer_norm
from dlkit.ops.linalg import linear, matmul
from dlkit.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from dlkit.ops.multilabel import multilabel_bce_with_logits
from dlkit.ops.normalization import batch_norm
from dlkit.ops.pool import (
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    global_avg_pool,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from dlkit.ops.recurrent import gru, lstm, rnn
from dlkit.ops.reduction import logsumexp, max, mean, min, sum, var
from dlkit.ops.roi import roi_align, roi_pool
from dlkit.ops.shape import (
    broadcast_to,
    concat,
    flatten,
    getitem,
    pad,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)

__all__ = [
    "abs", "add", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "broadcast_to", "cast", "clip", "concat", "cross_entropy", "div", "dropout", "exp",
    "flatten", "getitem", "leaky_relu", "linear", "log", "log_softmax", "logsumexp", "matmul",
    "max", "maximum", "mean", "min", "minimum", "mse_loss", "mul", "neg", "pad", "pow", "relu",
    "reshape", "sigmoid", "softmax", "sqrt", "square", "squeeze", "stack", "sub", "sum",
    "swapaxes", "tanh", "transpose", "unsqueeze", "var", "where",
    "conv1d", "conv2d", "conv3d", "depthwise_conv2d", "zero_pad", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "global_avg_pool", "max_pool1d", "max_pool2d", "max_pool3d", "gru", "lstm",
    "rnn", "multilabel_bce_with_logits", "conv_transpose2d", "roi_pool", "roi_align",
    "ctc_loss",
    "causal_mask", "gelu", "layer_norm", "padding_mask", "scaled_dot_product_attention",
]
