"""Property tests over random shapes: broadcasting gradients and reductions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlkit as dl

SETTINGS = settings(max_examples=30, deadline=None)


def reduce_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Reference: sum g over the axes broadcasting added (leading) or stretched (size 1)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True).reshape(shape)


def _array(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                max_side=4),
       op=st.sampled_from(["add", "mul", "sub", "div"]), seed=st.integers(0, 2**16))
def test_broadcast_gradient_is_the_sum_over_broadcast_axes(shapes, op, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    a_np, b_np = _array(seed, sa), _array(seed + 1, sb)
    if op == "div":
        b_np = np.where(b_np >= 0, b_np + 0.5, b_np - 0.5)
    g = _array(seed + 2, out_shape)
    a, b = dl.tensor(a_np, requires_grad=True), dl.tensor(b_np, requires_grad=True)
    out = getattr(dl, op)(a, b)
    assert out.shape == out_shape
    out.backward(g)
    bb = np.broadcast_to(b_np, out_shape)
    ba = np.broadcast_to(a_np, out_shape)
    local_a, local_b = {
        "add": (g, g), "sub": (g, -g), "mul": (g * bb, g * ba),
        "div": (g / bb, -g * ba / bb**2),
    }[op]
    assert a.grad.shape == sa and b.grad.shape == sb
    np.testing.assert_allclose(a.grad, reduce_to(local_a, sa), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, reduce_to(local_b, sb), rtol=1e-12, atol=1e-12)


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    return shape, axis, draw(st.booleans())


def _reduced_count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


@SETTINGS
@given(spec=shape_and_axis(), op=st.sampled_from(["sum", "mean", "max", "min"]),
       seed=st.integers(0, 2**16))
def test_reductions_match_numpy_and_grads_have_input_shape(spec, op, seed):
    shape, axis, keepdims = spec
    rng = np.random.default_rng(seed)
    x_np = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)  # no ties
    x = dl.tensor(x_np, requires_grad=True)
    out = getattr(dl, op)(x, axis=axis, keepdims=keepdims)
    expected = getattr(np, op)(x_np, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    assert x.grad.shape == shape and x.grad.dtype == np.float64
    g_full = g if keepdims else np.expand_dims(g, _axes(axis, len(shape)))
    if op == "sum":
        np.testing.assert_allclose(x.grad, np.broadcast_to(g_full, shape))
    elif op == "mean":
        np.testing.assert_allclose(x.grad, np.broadcast_to(g_full, shape)
                                   / _reduced_count(shape, axis))
    else:  # the whole upstream gradient goes to the one extreme entry of each slice
        extreme = x_np == getattr(np, op)(x_np, axis=axis, keepdims=True)
        np.testing.assert_allclose(x.grad, np.where(extreme, g_full, 0.0))
        np.testing.assert_allclose(x.grad.sum(), g.sum())


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    return tuple(sorted(a % ndim for a in axes))


@SETTINGS
@given(spec=shape_and_axis(), seed=st.integers(0, 2**16))
def test_var_and_logsumexp_match_numpy(spec, seed):
    shape, axis, keepdims = spec
    x_np = np.random.default_rng(seed).standard_normal(shape)
    x = dl.tensor(x_np, requires_grad=True)
    np.testing.assert_allclose(dl.var(x, axis, keepdims).numpy(),
                               np.var(x_np, axis=axis, keepdims=keepdims), atol=1e-12)
    m = np.max(x_np, axis=axis, keepdims=True)
    lse = np.log(np.exp(x_np - m).sum(axis=axis, keepdims=True)) + m
    if not keepdims:
        lse = lse.reshape(np.var(x_np, axis=axis).shape)
    out = dl.logsumexp(x, axis, keepdims)
    np.testing.assert_allclose(out.numpy(), lse, rtol=1e-12)
    out.sum().backward()
    assert x.grad.shape == shape
    # d/dx sum(logsumexp) = softmax over the reduced axes: it sums to 1 per reduced slice
    np.testing.assert_allclose(x.grad.sum(), lse.size, rtol=1e-12)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), seed=st.integers(0, 2**16))
def test_reshape_transpose_roundtrip_gradient_is_upstream(shape, seed):
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape)
    perm = tuple(rng.permutation(len(shape)))
    x = dl.tensor(x_np, requires_grad=True)
    y = dl.transpose(x, perm).reshape(-1)
    np.testing.assert_array_equal(y.numpy(), x_np.transpose(perm).reshape(-1))
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, g.reshape(x_np.transpose(perm).shape)
                                  .transpose(np.argsort(perm)))


@SETTINGS
@given(p=st.floats(0.05, 0.95), seed=st.integers(0, 2**16))
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p, seed):
    """Inverted dropout: A * D / keep_prob; the backward uses the same mask and scale."""
    dl.manual_seed(seed)
    x_np = np.random.default_rng(seed).uniform(0.5, 1.5, (100, 100))
    x = dl.tensor(x_np, requires_grad=True)
    out = dl.dropout(x, p)
    y = out.numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 4 * np.sqrt(p * (1 - p) / y.size)
    np.testing.assert_allclose(y[kept], x_np[kept] / (1 - p), rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, kept / (1 - p), rtol=1e-12)


def test_dropout_edge_probabilities_and_eval_mode():
    x = dl.tensor(np.ones((3, 4)), requires_grad=True)
    assert dl.dropout(x, 0.0) is x and dl.dropout(x, 0.7, training=False) is x
    out = dl.dropout(x, 1.0)
    np.testing.assert_array_equal(out.numpy(), 0.0)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, 0.0)
