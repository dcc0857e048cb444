"""One table of op cases (Chainer-style): the gradient checks and the PyTorch comparisons of
every op in ``dlkit.ops`` are driven from here.

Each ``OpCase`` holds a name ``"<op>/<variant>"`` (the part before the slash is the op of
``dlkit.ops`` it covers), a function of dlkit tensors, float64 sample inputs drawn from one
seeded generator (away from kinks and ties), and optionally the same function written with
PyTorch (taking torch tensors, converting layouts where dlkit's channels-last differs).
Integer labels, masks and conditions are constants captured by the functions, not inputs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import dlkit as dl


class _Lazy:
    """A module whose functions are looked up when called, so that importing the registry does
    not import PyTorch (only the torch comparison tests call the references)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(self._name), attr)(*args, **kwargs)

        return call


torch = _Lazy("torch")
F = _Lazy("torch.nn.functional")


@dataclass(frozen=True)
class OpCase:
    name: str
    family: str
    f: Callable[..., Any]
    inputs: tuple[np.ndarray, ...]
    torch_f: Callable[..., Any] | None = None

    @property
    def op(self) -> str:
        return self.name.split("/")[0]


CASES: list[OpCase] = []
_rng = np.random.default_rng(20240601)


def case(name: str, family: str, f: Callable, inputs: list, torch_f: Callable | None = None):
    assert all(c.name != name for c in CASES), f"duplicate case {name}"
    arrays = tuple(np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x
                   for x in inputs)
    assert all(a.dtype == np.float64 for a in arrays), name
    CASES.append(OpCase(name, family, f, arrays, torch_f))


def upstream_weights(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """The fixed random array a non-scalar output is summed against (so dL/dy is not ones)."""
    seed = 1000 + 31 * len(shape) + int(np.prod(shape, dtype=np.int64))
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def scalarize(f: Callable, out_shape: tuple[int, ...], dtype: Any = np.float64) -> Callable:
    """``lambda *xs: sum(f(*xs) * W)`` with ``W = upstream_weights(out_shape)``."""
    w = upstream_weights(out_shape, dtype)
    return lambda *xs: (f(*xs) * w).sum()


# ---- sample inputs ------------------------------------------------------------------------


def randn(*shape: int, scale: float = 1.0) -> np.ndarray:
    return scale * _rng.standard_normal(shape)


def away(*shape: int, margin: float = 0.2) -> np.ndarray:
    """Normal-ish values at least ``margin`` from 0 (for relu, abs, leaky_relu, division)."""
    sign = np.where(_rng.random(shape) < 0.5, -1.0, 1.0)
    return sign * (margin + np.abs(_rng.standard_normal(shape)))


def positive(*shape: int, lo: float = 0.5, hi: float = 2.0) -> np.ndarray:
    return _rng.uniform(lo, hi, shape)


def probs(*shape: int) -> np.ndarray:
    return _rng.uniform(0.05, 0.95, shape)


def away_from(x: np.ndarray, points: tuple[float, ...], margin: float = 0.1) -> np.ndarray:
    """``x`` with entries within ``margin`` of any of ``points`` moved 2.5 margins up."""
    x = x.copy()
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + 2.5 * margin
    return x


def separated(shape_a: tuple, shape_b: tuple, margin: float = 0.2) -> list[np.ndarray]:
    """Two arrays whose broadcast entries differ by at least ``margin`` (no ties)."""
    b = randn(*shape_b)
    shape = np.broadcast_shapes(shape_a, shape_b)
    a = np.broadcast_to(b, shape) + away(*shape, margin=margin)
    return [np.ascontiguousarray(a.reshape(shape_a)), b]


def distinct(*shape: int) -> np.ndarray:
    """Values with no ties (a shuffled grid plus noise) for max / min."""
    n = int(np.prod(shape))
    return (_rng.permutation(n) * 0.3 + _rng.uniform(0, 0.1, n)).reshape(shape) - 0.15 * n


def int_labels(shape: tuple, n_classes: int) -> np.ndarray:
    return _rng.integers(0, n_classes, size=shape)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[labels]


def _t(a: np.ndarray):
    return torch.as_tensor(a)


def seeded_dropout(x, p: float, seed: int = 7):
    """Dropout with the mask fixed by reseeding before the draw (so f is a function of x)."""
    dl.manual_seed(seed)
    return dl.dropout(x, p)


# ---- elementwise ---------------------------------------------------------------------------

E = "elementwise"
BROADCASTS = {
    "same_shape": ((3, 4), (3, 4)),
    "3x1_1x4": ((3, 1), (1, 4)),
    "scalar_shaped": ((3, 4), ()),
    "rank_broadcast": ((2, 3, 4), (4,)),
}
for variant, (sa, sb) in BROADCASTS.items():
    case(f"add/{variant}", E, dl.add, [randn(*sa), randn(*sb)], lambda a, b: a + b)
    case(f"sub/{variant}", E, dl.sub, [randn(*sa), randn(*sb)], lambda a, b: a - b)
    case(f"mul/{variant}", E, dl.mul, [randn(*sa), randn(*sb)], lambda a, b: a * b)
    case(f"div/{variant}", E, dl.div, [randn(*sa), away(*sb, margin=0.5)], lambda a, b: a / b)
case("add/scalar_shaped_first", E, dl.add, [randn(), randn(2, 3)], lambda a, b: a + b)
case("add/operator_python_scalar", E, lambda a: a + 2.5, [randn(3, 4)], lambda a: a + 2.5)
case("add/reflected_python_scalar", E, lambda a: 2.5 + a, [randn(3, 4)], lambda a: 2.5 + a)
case("add/same_tensor_twice", E, lambda a: a + a, [randn(3, 4)], lambda a: a + a)
case("sub/reflected_python_scalar", E, lambda a: 1.5 - a, [randn(3, 4)], lambda a: 1.5 - a)
case("mul/same_tensor_twice", E, lambda a: a * a, [randn(3, 4)], lambda a: a * a)
case("mul/fortran_order_inputs", E, dl.mul,
     [np.asfortranarray(randn(4, 5)), np.asfortranarray(randn(4, 5))], lambda a, b: a * b)
case("mul/operator_chain", E, lambda a, b: (a * b - a) * 0.5, [randn(3, 4), randn(4)],
     lambda a, b: (a * b - a) * 0.5)
case("div/reflected_python_scalar", E, lambda b: 2.0 / b, [away(3, 4, margin=0.5)],
     lambda b: 2.0 / b)
for name, c, make in [
    ("scalar_2", 2, lambda: randn(3, 4)),
    ("scalar_3", 3, lambda: randn(3, 4)),
    ("scalar_half", 0.5, lambda: positive(3, 4)),
    ("scalar_negative", -1.5, lambda: positive(3, 4)),
]:
    case(f"pow/{name}", E, lambda x, c=c: dl.pow(x, c), [make()], lambda x, c=c: x**c)
case("pow/tensor_exponent", E, dl.pow, [positive(3, 4), randn(4)], torch.pow)
case("pow/tensor_exponent_same_shape", E, lambda a, b: a**b, [positive(2, 3), randn(2, 3)],
     lambda a, b: a**b)
case("pow/reflected_python_base", E, lambda x: 2.0**x, [randn(3, 4)], lambda x: 2.0**x)
case("neg/basic", E, dl.neg, [randn(3, 4)], lambda x: -x)
case("neg/operator", E, lambda x: -x, [randn(2, 3, 2)], lambda x: -x)
case("exp/basic", E, dl.exp, [randn(3, 4)], torch.exp)
case("exp/noncontiguous_transposed", E, lambda x: dl.exp(dl.transpose(x)),
     [randn(3, 4)], lambda x: torch.exp(x.T))
case("log/basic", E, dl.log, [positive(3, 4)], torch.log)
case("sqrt/basic", E, dl.sqrt, [positive(3, 4)], torch.sqrt)
case("square/basic", E, dl.square, [randn(3, 4)], torch.square)
case("abs/basic", E, dl.abs, [away(3, 4)], torch.abs)
case("abs/strided_view", E, lambda x: dl.abs(dl.getitem(x, (slice(None), slice(None, None, 2)))),
     [away(3, 6)], lambda x: torch.abs(x[:, ::2]))
_clip_x = away_from(_rng.uniform(-1.5, 1.5, (4, 5)), (-0.5, 0.5))
case("clip/both", E, lambda x: dl.clip(x, -0.5, 0.5), [_clip_x],
     lambda x: torch.clamp(x, -0.5, 0.5))
case("clip/lo_only", E, lambda x: dl.clip(x, lo=-0.5), [_clip_x], lambda x: x.clamp(min=-0.5))
case("clip/hi_only", E, lambda x: dl.clip(x, hi=0.5), [_clip_x], lambda x: x.clamp(max=0.5))
case("maximum/same_shape", E, dl.maximum, separated((3, 4), (3, 4)), torch.maximum)
case("maximum/broadcast", E, dl.maximum, separated((3, 4), (4,)), torch.maximum)
case("maximum/python_scalar", E, lambda x: dl.maximum(x, 0.0), [away(3, 4)],
     lambda x: torch.clamp(x, min=0.0))
case("minimum/same_shape", E, dl.minimum, separated((3, 4), (3, 4)), torch.minimum)
case("minimum/broadcast", E, dl.minimum, separated((2, 3, 4), (3, 1)), torch.minimum)
_cond = _rng.random((3, 4)) < 0.5
case("where/broadcast_b", E, lambda a, b: dl.where(_cond, a, b), [randn(3, 4), randn(4)],
     lambda a, b: torch.where(_t(_cond), a, b))
_cond_col = np.array([[True], [False], [True]])
case("where/broadcast_cond", E, lambda a, b: dl.where(dl.tensor(_cond_col), a, b),
     [randn(3, 4), randn(3, 4)], lambda a, b: torch.where(_t(_cond_col), a, b))
# Casting float64 -> long double -> float64 is exact, so it can be gradient-checked.
case("cast/longdouble_roundtrip", E,
     lambda x: dl.cast(dl.cast(x, np.longdouble) * 3.0, np.float64), [randn(3, 4)],
     lambda x: x * 3.0)
case("cast/methods", E, lambda x: (x.astype(np.longdouble) - 1.0).double(), [randn(2, 5)],
     lambda x: x - 1.0)

# ---- reductions ----------------------------------------------------------------------------

R = "reduction"
AXES = [(None, False), (None, True), (1, False), (-1, True), ((0, 2), False), ((0, -1), True)]
_REDUCTIONS = {
    "sum": (dl.sum, lambda x, d, k: torch.sum(x, dim=d, keepdim=k)),
    "mean": (dl.mean, lambda x, d, k: torch.mean(x, dim=d, keepdim=k)),
    "max": (dl.max, lambda x, d, k: torch.amax(x, dim=d, keepdim=k)),
    "min": (dl.min, lambda x, d, k: torch.amin(x, dim=d, keepdim=k)),
    "var": (dl.var, lambda x, d, k: torch.var(x, dim=d, keepdim=k, correction=0)),
    "logsumexp": (dl.logsumexp, lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k)),
}
for op, (dl_f, torch_r) in _REDUCTIONS.items():
    for axis, keepdims in AXES:
        dims = (0, 1, 2) if axis is None else axis
        case(f"{op}/axis={axis},keepdims={keepdims}", R,
             lambda x, f=dl_f, a=axis, k=keepdims: f(x, a, k),
             [distinct(3, 4, 5) if op in ("max", "min") else randn(3, 4, 5)],
             lambda x, r=torch_r, d=dims, k=keepdims: r(x, d, k))
case("var/ddof=1", R, lambda x: dl.var(x, axis=0, ddof=1), [randn(5, 3)],
     lambda x: torch.var(x, dim=0, correction=1))
case("max/noncontiguous_fortran", R, lambda x: dl.max(x, axis=0),
     [np.asfortranarray(distinct(4, 3))], lambda x: torch.amax(x, dim=0))
case("sum/noncontiguous_transposed", R, lambda x: dl.sum(dl.transpose(x), axis=1),
     [randn(3, 5)], lambda x: x.T.sum(dim=1))

# ---- shape ops -----------------------------------------------------------------------------

S = "shape"
case("reshape/basic", S, lambda x: dl.reshape(x, (2, 6)), [randn(3, 4)],
     lambda x: x.reshape(2, 6))
case("reshape/inferred_dim", S, lambda x: dl.reshape(x, (4, -1)), [randn(3, 4)],
     lambda x: x.reshape(4, -1))
case("reshape/fortran_order_input", S, lambda x: dl.reshape(x, (6, 2)),
     [np.asfortranarray(randn(3, 4))], lambda x: x.reshape(6, 2))
case("flatten/start_dim_1", S, lambda x: dl.flatten(x, 1), [randn(2, 3, 4)],
     lambda x: torch.flatten(x, 1))
case("flatten/start_dim_0", S, dl.flatten, [randn(2, 3, 4)], torch.flatten)
case("transpose/no_axes", S, dl.transpose, [randn(2, 3, 4)], lambda x: x.permute(2, 1, 0))
case("transpose/axes", S, lambda x: dl.transpose(x, (1, 2, 0)), [randn(2, 3, 4)],
     lambda x: x.permute(1, 2, 0))
case("transpose/negative_axes", S, lambda x: dl.transpose(x, (-1, 0, 1)), [randn(2, 3, 4)],
     lambda x: x.permute(2, 0, 1))
case("swapaxes/basic", S, lambda x: dl.swapaxes(x, 0, 2), [randn(2, 3, 4)],
     lambda x: torch.swapaxes(x, 0, 2))
case("swapaxes/negative", S, lambda x: dl.swapaxes(x, -1, 1), [randn(2, 3, 4)],
     lambda x: torch.swapaxes(x, -1, 1))
case("squeeze/all", S, dl.squeeze, [randn(3, 1, 4, 1)], torch.squeeze)
case("squeeze/axis", S, lambda x: dl.squeeze(x, 1), [randn(3, 1, 4, 1)],
     lambda x: x.squeeze(1))
case("squeeze/axes_tuple", S, lambda x: dl.squeeze(x, (1, -1)), [randn(3, 1, 4, 1)],
     lambda x: x.squeeze((1, 3)))
case("unsqueeze/middle", S, lambda x: dl.unsqueeze(x, 1), [randn(3, 4)],
     lambda x: x.unsqueeze(1))
case("unsqueeze/last", S, lambda x: dl.unsqueeze(x, -1), [randn(3, 4)],
     lambda x: x.unsqueeze(-1))
case("broadcast_to/new_and_unit_axes", S, lambda x: dl.broadcast_to(x, (2, 3, 4)),
     [randn(3, 1)], lambda x: x.broadcast_to((2, 3, 4)))
case("broadcast_to/row", S, lambda x: dl.broadcast_to(x, (3, 4)), [randn(4)],
     lambda x: x.broadcast_to((3, 4)))
case("concat/axis_1", S, lambda a, b, c: dl.concat([a, b, c], axis=1),
     [randn(2, 3), randn(2, 1), randn(2, 2)], lambda a, b, c: torch.cat([a, b, c], dim=1))
case("concat/axis_0", S, lambda a, b: dl.concat([a, b]), [randn(1, 3), randn(2, 3)],
     lambda a, b: torch.cat([a, b]))
case("concat/axis_negative", S, lambda a, b: dl.concat([a, b], axis=-1),
     [randn(2, 2, 3), randn(2, 2, 1)], lambda a, b: torch.cat([a, b], dim=-1))
case("stack/axis_0", S, lambda a, b, c: dl.stack([a, b, c]),
     [randn(2, 3), randn(2, 3), randn(2, 3)], lambda a, b, c: torch.stack([a, b, c]))
case("stack/axis_negative", S, lambda a, b: dl.stack([a, b], axis=-1),
     [randn(2, 3), randn(2, 3)], lambda a, b: torch.stack([a, b], dim=-1))
case("pad/per_axis_value", S, lambda x: dl.pad(x, ((1, 2), (0, 3)), value=0.5), [randn(3, 4)],
     lambda x: F.pad(x, (0, 3, 1, 2), value=0.5))
case("pad/int_width", S, lambda x: dl.pad(x, 1), [randn(2, 3)],
     lambda x: F.pad(x, (1, 1, 1, 1)))
case("pad/spatial_4d", S, lambda x: dl.pad(x, ((0, 0), (1, 1), (2, 2), (0, 0))),
     [randn(2, 3, 3, 2)], lambda x: F.pad(x, (0, 0, 2, 2, 1, 1)))
case("getitem/basic_slices", S, lambda x: dl.getitem(x, (slice(1, None), slice(None, None, 2))),
     [randn(3, 4)], lambda x: x[1:, ::2])
case("getitem/int_and_ellipsis", S, lambda x: dl.getitem(x, (Ellipsis, 1)), [randn(2, 3, 4)],
     lambda x: x[..., 1])
case("getitem/newaxis_and_negative_int", S, lambda x: dl.getitem(x, (None, -1, slice(1, 3))),
     [randn(3, 4)], lambda x: x[None, -1, 1:3])
case("getitem/operator_slice", S, lambda x: x[:, 1:3] * 2.0, [randn(3, 4)],
     lambda x: x[:, 1:3] * 2.0)
_rows = np.array([0, 2, 0, 1, 0])
case("getitem/int_array_repeated", S, lambda x: dl.getitem(x, _rows), [randn(3, 4)],
     lambda x: x[_t(_rows)])
case("getitem/int_list_repeated", S, lambda x: dl.getitem(x, [1, 1, 2]), [randn(3, 4)],
     lambda x: x[[1, 1, 2]])
_r, _c = np.array([0, 0, 2, 2]), np.array([1, 1, 3, 0])
case("getitem/tuple_of_arrays_repeated", S, lambda x: dl.getitem(x, (_r, _c)), [randn(3, 4)],
     lambda x: x[_t(_r), _t(_c)])
_cols = np.array([3, 0, 3])
case("getitem/slice_and_int_array", S, lambda x: dl.getitem(x, (slice(None), _cols)),
     [randn(3, 4)], lambda x: x[:, _t(_cols)])
_mask = _rng.random((3, 4)) < 0.5
case("getitem/boolean_mask", S, lambda x: dl.getitem(x, _mask), [randn(3, 4)],
     lambda x: x[_t(_mask)])
case("getitem/boolean_mask_tensor_rows", S, lambda x: x[dl.tensor(np.array([True, False, True]))],
     [randn(3, 4)], lambda x: x[_t(np.array([True, False, True]))])

# ---- matmul and linear ---------------------------------------------------------------------

L = "linalg"
for name, sa, sb in [
    ("2d", (3, 4), (4, 5)),
    ("batched", (2, 3, 4), (2, 4, 5)),
    ("batched_broadcast_left", (2, 3, 4), (4, 5)),
    ("batched_broadcast_both", (2, 1, 3, 4), (5, 4, 2)),
    ("1d_left", (4,), (4, 5)),
    ("1d_right", (3, 4), (4,)),
    ("1d_left_batched", (4,), (2, 4, 5)),
    ("1d_right_batched", (2, 3, 4), (4,)),
    ("1d_both", (4,), (4,)),
]:
    case(f"matmul/{name}", L, dl.matmul, [randn(*sa), randn(*sb)], torch.matmul)
case("matmul/operator_transposed_operand", L, lambda a, b: a @ b.T, [randn(3, 4), randn(5, 4)],
     lambda a, b: a @ b.T)
case("linear/bias", L, dl.linear, [randn(3, 4), randn(5, 4), randn(5)], F.linear)
case("linear/no_bias", L, dl.linear, [randn(3, 4), randn(5, 4)], F.linear)
case("linear/3d_input", L, dl.linear, [randn(2, 3, 4), randn(5, 4), randn(5)], F.linear)
case("linear/fortran_order_weight", L, dl.linear,
     [randn(3, 4), np.asfortranarray(randn(2, 4)), randn(2)], F.linear)

# ---- activations ---------------------------------------------------------------------------

A = "activation"
case("sigmoid/basic", A, dl.sigmoid, [randn(3, 4, scale=3.0)], torch.sigmoid)
case("tanh/basic", A, dl.tanh, [randn(3, 4, scale=2.0)], torch.tanh)
case("relu/basic", A, dl.relu, [away(3, 4)], torch.relu)
case("relu/method", A, lambda x: x.relu(), [away(2, 3, 2)], torch.relu)
case("leaky_relu/default_slope", A, dl.leaky_relu, [away(3, 4)], F.leaky_relu)
case("leaky_relu/slope_0.2", A, lambda x: dl.leaky_relu(x, 0.2), [away(3, 4)],
     lambda x: F.leaky_relu(x, 0.2))
for axis in (-1, 0):
    case(f"softmax/axis={axis}", A, lambda x, a=axis: dl.softmax(x, a), [randn(3, 4, scale=2)],
         lambda x, a=axis: torch.softmax(x, dim=a))
    case(f"log_softmax/axis={axis}", A, lambda x, a=axis: dl.log_softmax(x, a),
         [randn(3, 4, scale=2)], lambda x, a=axis: torch.log_softmax(x, dim=a))
case("softmax/3d_axis_1", A, lambda x: dl.softmax(x, 1), [randn(2, 3, 4)],
     lambda x: torch.softmax(x, dim=1))
case("log_softmax/3d_axis_-1", A, dl.log_softmax, [randn(2, 3, 4)],
     lambda x: torch.log_softmax(x, dim=-1))

# ---- losses --------------------------------------------------------------------------------

LOSS = "loss"
_ce_labels = int_labels((5,), 4)
_ce_labels_3d = int_labels((2, 3), 4)
_ce_ignored = np.array([1, -1, 3, 0, -1, 2])
for r in ("mean", "sum", "none"):
    case(f"binary_cross_entropy/{r}", LOSS,
         lambda a, y, r=r: dl.binary_cross_entropy(a, y, reduction=r),
         [probs(4, 1), (_rng.random((4, 1)) < 0.5).astype(np.float64)],
         lambda a, y, r=r: F.binary_cross_entropy(a, y, reduction=r))
    case(f"binary_cross_entropy_with_logits/{r}", LOSS,
         lambda z, y, r=r: dl.binary_cross_entropy_with_logits(z, y, reduction=r),
         [randn(4, 3, scale=2.0), probs(4, 3)],
         lambda z, y, r=r: F.binary_cross_entropy_with_logits(z, y, reduction=r))
    case(f"cross_entropy/labels_{r}", LOSS,
         lambda z, r=r: dl.cross_entropy(z, _ce_labels, reduction=r), [randn(5, 4, scale=2.0)],
         lambda z, r=r: F.cross_entropy(z, _t(_ce_labels), reduction=r))
    case(f"cross_entropy/one_hot_{r}", LOSS,
         lambda z, y, r=r: dl.cross_entropy(z, y, reduction=r),
         [randn(5, 4, scale=2.0), one_hot(int_labels((5,), 4), 4)],
         lambda z, y, r=r: F.cross_entropy(z, y, reduction=r))
    case(f"cross_entropy/ignore_index_{r}", LOSS,
         lambda z, r=r: dl.cross_entropy(z, _ce_ignored, reduction=r, ignore_index=-1),
         [randn(6, 4)],
         lambda z, r=r: F.cross_entropy(z, _t(_ce_ignored), reduction=r, ignore_index=-1))
    case(f"cross_entropy/3d_logits_{r}", LOSS,
         lambda z, r=r: dl.cross_entropy(z, _ce_labels_3d, reduction=r), [randn(2, 3, 4)],
         lambda z, r=r: F.cross_entropy(z.permute(0, 2, 1), _t(_ce_labels_3d), reduction=r))
    case(f"mse_loss/{r}", LOSS, lambda a, y, r=r: dl.mse_loss(a, y, reduction=r),
         [randn(4, 3), randn(4, 3)], lambda a, y, r=r: F.mse_loss(a, y, reduction=r))
case("binary_cross_entropy/soft_labels", LOSS, dl.binary_cross_entropy,
     [probs(3, 2), probs(3, 2)], F.binary_cross_entropy)
case("cross_entropy/soft_targets", LOSS, dl.cross_entropy,
     [randn(3, 5), np.random.default_rng(3).dirichlet(np.ones(5), 3)], F.cross_entropy)
_ce_default_ignored = np.array([2, -100, 0])
case("cross_entropy/default_ignore_index", LOSS,
     lambda z: dl.cross_entropy(z, _ce_default_ignored), [randn(3, 4)],
     lambda z: F.cross_entropy(z, _t(_ce_default_ignored)))

# ---- dropout -------------------------------------------------------------------------------

case("dropout/p=0.3", "dropout", lambda x: seeded_dropout(x, 0.3), [randn(4, 5)])
case("dropout/p=0.5_3d", "dropout", lambda x: seeded_dropout(x, 0.5, seed=11), [randn(2, 3, 4)])
case("dropout/eval_identity", "dropout", lambda x: dl.dropout(x, 0.5, training=False) * 2.0,
     [randn(3, 4)], lambda x: F.dropout(x, 0.5, training=False) * 2.0)

# ---- batch norm (channels-last; torch is channels-first) -----------------------------------


def _to_torch_layout(x):
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1)) if x.ndim > 2 else x


def _from_torch_layout(y):
    return y.permute(0, *range(2, y.ndim), 1) if y.ndim > 2 else y


def torch_batch_norm(x, gamma=None, beta=None, running_mean=None, running_var=None,
                     training=True, momentum=0.1, eps=1e-5):
    y = F.batch_norm(_to_torch_layout(x), running_mean, running_var, gamma, beta,
                     training=training, momentum=momentum, eps=eps)
    return _from_torch_layout(y)


N = "normalization"
_rm, _rv = randn(3, scale=0.3), positive(3)
_rm4, _rv4 = randn(4, scale=0.3), positive(4)
case("batch_norm/train_2d", N, dl.batch_norm,
     [randn(6, 3, scale=2.0) + 1.0, positive(3), randn(3)], torch_batch_norm)
case("batch_norm/train_4d_channels_last", N, dl.batch_norm,
     [randn(2, 3, 3, 4) * 1.5 - 0.5, positive(4), randn(4)], torch_batch_norm)
case("batch_norm/train_no_affine", N, dl.batch_norm, [randn(5, 3)], torch_batch_norm)
case("batch_norm/train_gamma_only", N, dl.batch_norm, [randn(5, 3), positive(3)],
     torch_batch_norm)
case("batch_norm/eval_2d", N,
     lambda x, g, b: dl.batch_norm(x, g, b, _rm, _rv, training=False),
     [randn(4, 3), positive(3), randn(3)],
     lambda x, g, b: torch_batch_norm(x, g, b, _t(_rm), _t(_rv), training=False))
case("batch_norm/eval_4d_channels_last", N,
     lambda x, g, b: dl.batch_norm(x, g, b, _rm4, _rv4, training=False),
     [randn(2, 2, 3, 4), positive(4), randn(4)],
     lambda x, g, b: torch_batch_norm(x, g, b, _t(_rm4), _t(_rv4), training=False))

# ---- convolution and pooling (channels-last; PyTorch is channels-first, W as OI(D)HW) -------


def torch_conv(x, w, b=None, stride=1, padding=0):
    d = x.ndim - 2
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[d]
    w_t = w.permute(d + 1, d, *range(d))  # (*f, C_prev, C) -> (C, C_prev, *f)
    return _from_torch_layout(conv(_to_torch_layout(x), w_t, b, stride=stride,
                                   padding=padding))


def torch_depthwise(x, w, b=None, stride=1, padding=0):
    c = x.shape[-1]
    w_t = w.permute(2, 0, 1).unsqueeze(1)  # (f, f, C) -> (C, 1, f, f)
    return _from_torch_layout(F.conv2d(_to_torch_layout(x), w_t, b, stride=stride,
                                       padding=padding, groups=c))


def torch_pool(kind, d):
    def run(x, f, stride=None, padding=0):
        fn = getattr(F, f"{kind}_pool{d}d")
        return _from_torch_layout(fn(_to_torch_layout(x), f, stride if stride else f, padding))
    return run


C = "conv"
for c_prev in (1, 3, 12):  # few channels take the offset-major columns, many the patch rows
    for stride, padding in ((1, 0), (2, 1), (1, 2)):
        case(f"conv2d/c{c_prev}_s{stride}_p{padding}", C,
             lambda x, w, b, s=stride, p=padding: dl.conv2d(x, w, b, s, p),
             [randn(2, 7, 6, c_prev), randn(3, 3, c_prev, 4, scale=0.5), randn(4)],
             lambda x, w, b, s=stride, p=padding: torch_conv(x, w, b, s, p))
case("conv2d/same_even_kernel", C, lambda x, w: dl.conv2d(x, w, None, 1, "same"),
     [randn(2, 5, 5, 2), randn(2, 2, 2, 3)])
case("conv2d/same_stride2", C, lambda x, w, b: dl.conv2d(x, w, b, 2, "same"),
     [randn(2, 6, 7, 9), randn(3, 3, 9, 2), randn(2)])
case("conv2d/1x1", C, lambda x, w, b: dl.conv2d(x, w, b), [randn(2, 4, 4, 10),
     randn(1, 1, 10, 3), randn(3)], torch_conv)
case("conv2d/rect_stride_pad", C, lambda x, w: dl.conv2d(x, w, None, (2, 1), (1, 0)),
     [randn(2, 7, 5, 3), randn(3, 2, 3, 2)],
     lambda x, w: torch_conv(x, w, None, (2, 1), (1, 0)))
case("conv1d/basic", C, lambda x, w, b: dl.conv1d(x, w, b, 2, 1),
     [randn(2, 9, 3), randn(3, 3, 4), randn(4)], lambda x, w, b: torch_conv(x, w, b, 2, 1))
case("conv1d/many_channels", C, lambda x, w: dl.conv1d(x, w), [randn(2, 8, 10),
     randn(4, 10, 3)], torch_conv)
case("conv3d/basic", C, lambda x, w, b: dl.conv3d(x, w, b, 1, 1),
     [randn(2, 4, 4, 3, 2), randn(2, 3, 2, 2, 3), randn(3)],
     lambda x, w, b: torch_conv(x, w, b, 1, 1))
case("conv3d/many_channels_stride2", C, lambda x, w: dl.conv3d(x, w, None, 2),
     [randn(1, 5, 5, 5, 9), randn(3, 3, 3, 9, 2)], lambda x, w: torch_conv(x, w, None, 2))
case("depthwise_conv2d/same", C, lambda x, w, b: dl.depthwise_conv2d(x, w, b, 1, 1),
     [randn(2, 5, 6, 3), randn(3, 3, 3), randn(3)],
     lambda x, w, b: torch_depthwise(x, w, b, 1, 1))
case("depthwise_conv2d/stride2", C, lambda x, w: dl.depthwise_conv2d(x, w, None, 2),
     [randn(2, 7, 7, 4), randn(3, 3, 4)], lambda x, w: torch_depthwise(x, w, None, 2))
case("zero_pad/int", C, lambda x: dl.zero_pad(x, 2), [randn(2, 3, 3, 2)],
     lambda x: _from_torch_layout(F.pad(_to_torch_layout(x), (2, 2, 2, 2))))
case("zero_pad/pairs", C, lambda x: dl.zero_pad(x, [(1, 0), (0, 2)]), [randn(2, 3, 3, 2)],
     lambda x: _from_torch_layout(F.pad(_to_torch_layout(x), (0, 2, 1, 0))))

P = "pool"
case("max_pool2d/2x2_tiled", P, lambda x: dl.max_pool2d(x, 2), [distinct(2, 4, 6, 3)],
     lambda x: torch_pool("max", 2)(x, 2))
case("max_pool2d/3x3_stride2", P, lambda x: dl.max_pool2d(x, 3, 2), [distinct(2, 7, 8, 2)],
     lambda x: torch_pool("max", 2)(x, 3, 2))
case("max_pool2d/overlapping", P, lambda x: dl.max_pool2d(x, 2, 1), [distinct(1, 4, 5, 2)],
     lambda x: torch_pool("max", 2)(x, 2, 1))
case("max_pool2d/untiled_remainder", P, lambda x: dl.max_pool2d(x, 2), [distinct(2, 5, 5, 2)],
     lambda x: torch_pool("max", 2)(x, 2))
case("max_pool2d/3x3_stride1_padded", P, lambda x: dl.max_pool2d(x, 3, 1, 1),
     [distinct(2, 5, 6, 3)], lambda x: torch_pool("max", 2)(x, 3, 1, 1))
case("avg_pool2d/3x3_stride2_padded", P, lambda x: dl.avg_pool2d(x, 3, 2, 1),
     [randn(2, 5, 6, 3)], lambda x: torch_pool("avg", 2)(x, 3, 2, 1))
case("avg_pool2d/2x2_tiled", P, lambda x: dl.avg_pool2d(x, 2), [randn(2, 4, 6, 3)],
     lambda x: torch_pool("avg", 2)(x, 2))
case("avg_pool2d/3x3_stride2", P, lambda x: dl.avg_pool2d(x, 3, 2), [randn(2, 7, 8, 2)],
     lambda x: torch_pool("avg", 2)(x, 3, 2))
case("max_pool1d/basic", P, lambda x: dl.max_pool1d(x, 3, 2), [distinct(2, 9, 3)],
     lambda x: torch_pool("max", 1)(x, 3, 2))
case("avg_pool1d/tiled", P, lambda x: dl.avg_pool1d(x, 2), [randn(2, 8, 3)],
     lambda x: torch_pool("avg", 1)(x, 2))
case("max_pool3d/tiled", P, lambda x: dl.max_pool3d(x, 2), [distinct(1, 4, 4, 4, 2)],
     lambda x: torch_pool("max", 3)(x, 2))
case("avg_pool3d/stride1", P, lambda x: dl.avg_pool3d(x, 2, 1), [randn(1, 3, 3, 3, 2)],
     lambda x: torch_pool("avg", 3)(x, 2, 1))
case("global_avg_pool/2d", P, dl.global_avg_pool, [randn(2, 3, 4, 5)],
     lambda x: x.mean(dim=(1, 2)))


# ---- recurrent (fused whole-sequence ops; PyTorch's gate order and split weights differ) ---


def torch_recurrent(kind, n_a, **kw):
    """Run PyTorch's nn.RNN / nn.LSTM with dlkit's fused weights converted: W = [W_hh | W_ih]
    with LSTM blocks (forget, update, candidate, output) = PyTorch's (f, i, g, o)."""
    def run(x, w, b, *states):
        import torch as real

        n_x = x.shape[-1]
        cls = {"rnn": real.nn.RNN, "lstm": real.nn.LSTM}[kind]
        module = cls(n_x, n_a, batch_first=True, **kw).double()
        w_hh, w_ih = w[:, :n_a], w[:, n_a:]
        if kind == "lstm":  # ours f, u, c~, o  ->  torch i, f, g, o
            order = real.cat([real.arange(n_a, 2 * n_a), real.arange(0, n_a),
                              real.arange(2 * n_a, 4 * n_a)])
            w_hh, w_ih, b = w_hh[order], w_ih[order], b[order]
        params = {"weight_hh_l0": w_hh, "weight_ih_l0": w_ih, "bias_ih_l0": b,
                  "bias_hh_l0": real.zeros_like(b)}
        h0 = tuple(s[None] for s in states)
        out, _ = real.func.functional_call(module, params,
                                           (x, h0 if kind == "lstm" else h0[0]))
        return out
    return run


def torch_gru_notes(x, w, b, c0):
    """The notes' GRU written step by step with PyTorch ops (PyTorch's own nn.GRU applies the
    reset gate after the matrix product, a different formula)."""
    import torch as real

    n_a = c0.shape[-1]
    w_a, w_x = w[:, :n_a], w[:, n_a:]
    c, outs = c0, []
    for t in range(x.shape[1]):
        zx = x[:, t] @ w_x.T + b
        gu = real.sigmoid(zx[:, :n_a] + c @ w_a[:n_a].T)
        gr = real.sigmoid(zx[:, n_a:2 * n_a] + c @ w_a[n_a:2 * n_a].T)
        cc = real.tanh(zx[:, 2 * n_a:] + (gr * c) @ w_a[2 * n_a:].T)
        c = gu * cc + (1 - gu) * c
        outs.append(c)
    return real.stack(outs, dim=1)


def torch_gru_reset_after(x, w, b, b_ca, c0):
    """PyTorch's nn.GRU (reset after the product) with dlkit's reset-after weights converted:
    torch's gate rows (r, z, n) = ours (relevance, -update, candidate), as Gu = 1 - z =
    sigma(-(z's pre-activation)); b_ih = b with those rows, b_hh = (0, 0, b_ca)."""
    import torch as real

    n_a = c0.shape[-1]
    module = real.nn.GRU(x.shape[-1], n_a, batch_first=True).double()
    u, r, c = slice(0, n_a), slice(n_a, 2 * n_a), slice(2 * n_a, 3 * n_a)
    rows = lambda a: real.cat([a[r], -a[u], a[c]])  # noqa: E731
    zeros = real.zeros_like(b_ca)
    params = {"weight_hh_l0": rows(w[:, :n_a]), "weight_ih_l0": rows(w[:, n_a:]),
              "bias_ih_l0": rows(b), "bias_hh_l0": real.cat([zeros, zeros, b_ca])}
    out, _ = real.func.functional_call(module, params, (x, c0[None]))
    return out


R = "recurrent"
_na = 3
_seq_mask = np.ones((3, 5))
_seq_mask[1, 3:] = 0
case("rnn/sequence", R, lambda x, w, b, a0: dl.rnn(x, w, b, a0)[0],
     [randn(3, 5, 4), randn(_na, _na + 4, scale=0.5), randn(_na, scale=0.1), randn(3, _na)],
     torch_recurrent("rnn", _na))
case("rnn/last_state_reverse_masked", R,
     lambda x, w, b: dl.rnn(x, w, b, mask=_seq_mask, reverse=True)[1],
     [randn(3, 5, 4), randn(_na, _na + 4, scale=0.5), randn(_na, scale=0.1)])
case("lstm/sequence", R, lambda x, w, b, a0, c0: dl.lstm(x, w, b, a0, c0)[0],
     [randn(3, 5, 4), randn(4 * _na, _na + 4, scale=0.5), randn(4 * _na, scale=0.1),
      randn(3, _na), randn(3, _na)], torch_recurrent("lstm", _na))
case("lstm/final_cell_masked", R, lambda x, w, b: dl.lstm(x, w, b, mask=_seq_mask)[2],
     [randn(3, 5, 4), randn(4 * _na, _na + 4, scale=0.5), randn(4 * _na, scale=0.1)])
case("gru/sequence", R, lambda x, w, b, c0: dl.gru(x, w, b, c0)[0],
     [randn(3, 5, 4), randn(3 * _na, _na + 4, scale=0.5), randn(3 * _na, scale=0.1),
      randn(3, _na)], torch_gru_notes)
case("gru/last_reverse_masked", R,
     lambda x, w, b: dl.gru(x, w, b, mask=_seq_mask, reverse=True)[1],
     [randn(3, 5, 4), randn(3 * _na, _na + 4, scale=0.5), randn(3 * _na, scale=0.1)])
case("gru/reset_after_sequence", R,
     lambda x, w, b, b_ca, c0: dl.gru(x, w, b, c0, reset_after=True, recurrent_bias=b_ca)[0],
     [randn(3, 5, 4), randn(3 * _na, _na + 4, scale=0.5), randn(3 * _na, scale=0.1),
      randn(_na, scale=0.5), randn(3, _na)], torch_gru_reset_after)
case("lstm/reverse_masked_sequence", R,
     lambda x, w, b, a0, c0: dl.lstm(x, w, b, a0, c0, mask=_seq_mask, reverse=True)[0],
     [randn(3, 5, 4), randn(4 * _na, _na + 4, scale=0.5), randn(4 * _na, scale=0.1),
      randn(3, _na), randn(3, _na)])
case("gru/reset_after_last_reverse_masked", R,
     lambda x, w, b, b_ca, c0: dl.gru(x, w, b, c0, mask=_seq_mask, reverse=True,
                                      reset_after=True, recurrent_bias=b_ca)[1],
     [randn(3, 5, 4), randn(3 * _na, _na + 4, scale=0.5), randn(3 * _na, scale=0.1),
      randn(_na, scale=0.5), randn(3, _na)])


# ---- multi-label loss with missing labels (the notes' "?"); own generator, so the inputs of
# the cases above do not move

_ml_rng = np.random.default_rng(606)
_ml_labels = np.array([[1, 0, np.nan, 1], [np.nan, np.nan, 0, 1], [0, 1, 1, np.nan]])
_ml_minus_one = np.where(np.isnan(_ml_labels), -1, _ml_labels).astype(np.int64)
_ml_mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1], [1, 0, 1, 1]], dtype=bool)


def torch_multilabel(z, y, reduction, mask=None):
    """PyTorch's BCE-with-logits with weight = the mask of labelled entries, normalized as
    dlkit's: "mean" over labelled entries, "batchmean" over examples."""
    y_np = y if isinstance(y, np.ndarray) else None
    given = (~np.isnan(y_np) & (y_np != -1)) if y_np is not None else np.ones(z.shape, bool)
    if mask is not None:
        given = given & mask
    weight = torch.as_tensor(given.astype(np.float64))
    target = torch.as_tensor(np.where(given, y_np, 0.0)) if y_np is not None else y
    kind = "none" if reduction == "none" else "sum"
    out = F.binary_cross_entropy_with_logits(z, target, weight=weight, reduction=kind)
    if reduction == "mean":
        return out / float(given.sum())
    return out / z.shape[0] if reduction == "batchmean" else out


for r in ("mean", "batchmean", "sum", "none"):
    case(f"multilabel_bce_with_logits/nan_missing_{r}", LOSS,
         lambda z, r=r: dl.multilabel_bce_with_logits(z, _ml_labels, reduction=r),
         [2.0 * _ml_rng.standard_normal((3, 4))],
         lambda z, r=r: torch_multilabel(z, _ml_labels, r))
case("multilabel_bce_with_logits/minus_one_missing", LOSS,
     lambda z: dl.multilabel_bce_with_logits(z, _ml_minus_one, reduction="batchmean"),
     [_ml_rng.standard_normal((3, 4))],
     lambda z: torch_multilabel(z, _ml_minus_one.astype(np.float64), "batchmean"))
case("multilabel_bce_with_logits/mask_soft_targets", LOSS,
     lambda z, y: dl.multilabel_bce_with_logits(z, y, mask=_ml_mask),
     [_ml_rng.standard_normal((3, 4)), _ml_rng.uniform(0.05, 0.95, (3, 4))],
     lambda z, y: torch_multilabel(z, y, "mean", mask=_ml_mask))

# ---- transposed convolution, ROI pooling, CTC (own generator, so the inputs above stay) -----
_new_rng = np.random.default_rng(707)


def _nrandn(*shape, scale=1.0):
    return scale * _new_rng.standard_normal(shape)


def torch_conv_transpose(x, w, b=None, stride=1, padding=0):
    w_t = w.permute(3, 2, 0, 1)  # (f, f, C, C_prev) -> PyTorch's (C_prev, C, f, f)
    return _from_torch_layout(F.conv_transpose2d(_to_torch_layout(x), w_t, b, stride=stride,
                                                 padding=padding))


for stride, padding in ((1, 0), (2, 1), (2, 0)):
    case(f"conv_transpose2d/s{stride}_p{padding}", C,
         lambda x, w, b, s=stride, p=padding: dl.conv_transpose2d(x, w, b, s, p),
         [_nrandn(2, 3, 4, 3), _nrandn(3, 3, 2, 3, scale=0.5), _nrandn(2)],
         lambda x, w, b, s=stride, p=padding: torch_conv_transpose(x, w, b, s, p))
_rois = np.array([[0, 0.4, 0.6, 5.2, 4.1], [1, 1.0, 0.0, 6.9, 6.9], [0, 2.2, 3.1, 3.6, 6.0]])
_roi_x = (_new_rng.permutation(2 * 7 * 8 * 3) * 0.37 % 11.0).reshape(2, 7, 8, 3) - 5.0
case("roi_pool/2x2", P, lambda x: dl.roi_pool(x, _rois, 2), [_roi_x])
case("roi_pool/3x2_scale_half", P, lambda x: dl.roi_pool(x, _rois * [1, 2, 2, 2, 2], (3, 2),
                                                          spatial_scale=0.5), [_roi_x])
case("roi_align/2x2", P, lambda x: dl.roi_align(x, _rois, 2), [_nrandn(2, 7, 8, 3)])
case("roi_align/aligned_3x3_ratio1", P,
     lambda x: dl.roi_align(x, _rois, 3, sampling_ratio=1, aligned=True), [_nrandn(2, 7, 8, 3)])
_ctc_targets = np.array([[1, 2, 2, 0], [3, 1, 0, 0], [2, 0, 0, 0]])
_ctc_in, _ctc_tg = np.array([8, 6, 5]), np.array([3, 2, 0])
for r in ("mean", "sum", "none"):
    case(f"ctc_loss/{r}", LOSS,
         lambda z, r=r: dl.ctc_loss(dl.log_softmax(z), _ctc_targets, _ctc_in, _ctc_tg,
                                    reduction=r),
         [_nrandn(3, 8, 4)],
         lambda z, r=r: F.ctc_loss(torch.log_softmax(z, -1).transpose(0, 1),
                                   _t(_ctc_targets), _t(_ctc_in), _t(_ctc_tg), reduction=r))


# ---- the Transformer's ops (issue 15; fuller tests in tests/ops/test_layer_norm.py,
# test_scaled_dot_product_attention.py, test_gelu.py) ------------------------------------
_sdpa_keep = dl.ops.padding_mask(np.array([[1, 2, 3, 0], [1, 2, 3, 4]]))[:, None]  # (2,1,1,4)
_sdpa_causal = dl.ops.causal_mask(3, 4)
for approx in ("none", "tanh"):
    case(f"gelu/{approx}", A, lambda x, a=approx: dl.ops.gelu(x, a), [randn(3, 4, scale=2.0)],
         lambda x, a=approx: F.gelu(x, approximate=a))
case("layer_norm/affine_3d", N, dl.ops.layer_norm,
     [randn(2, 3, 5, scale=2.0) + 1.0, positive(5), randn(5)],
     lambda x, g, b: F.layer_norm(x, (x.shape[-1],), g, b, eps=1e-5))
case("scaled_dot_product_attention/no_mask", L, dl.ops.scaled_dot_product_attention,
     [randn(2, 2, 3, 4), randn(2, 2, 4, 4), randn(2, 2, 4, 3)],
     F.scaled_dot_product_attention)
case("padding_mask/attention", L,
     lambda q, k, v: dl.ops.scaled_dot_product_attention(q, k, v, _sdpa_keep),
     [randn(2, 2, 3, 4), randn(2, 2, 4, 4), randn(2, 2, 4, 3)],
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                    attn_mask=torch.as_tensor(_sdpa_keep)))
case("causal_mask/attention", L,
     lambda q, k, v: dl.ops.scaled_dot_product_attention(q, k, v, _sdpa_causal),
     [randn(2, 2, 3, 4), randn(2, 2, 4, 4), randn(2, 2, 4, 3)],
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                    attn_mask=torch.as_tensor(_sdpa_causal)))

BY_NAME = {c.name: c for c in CASES}
TORCH_CASES = [c for c in CASES if c.torch_f is not None]
FAMILIES = sorted({c.family for c in CASES})
