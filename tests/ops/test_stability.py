"""Numerical stability: huge logits, probabilities of exactly 0 and 1, and no silent float64."""

from __future__ import annotations

import numpy as np
import pytest
from op_registry import CASES, upstream_weights

import dlkit as dl

BIG = 1e4
LOGITS = np.array([[BIG, -BIG, 0.0], [-BIG, -BIG, BIG], [BIG, BIG, -BIG], [0.5, -0.5, 2.0]])
LABELS = np.array([1, 0, 2, 0])  # each row's label is a losing class where it can be
BINARY = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 1.0]])

LOGIT_OPS = {
    "sigmoid": lambda z: dl.sigmoid(z),
    "bce_with_logits": lambda z: dl.binary_cross_entropy_with_logits(z, BINARY),
    "bce_with_logits_none": lambda z: dl.binary_cross_entropy_with_logits(
        z, BINARY, reduction="none"),
    "cross_entropy": lambda z: dl.cross_entropy(z, LABELS),
    "cross_entropy_one_hot": lambda z: dl.cross_entropy(z, np.eye(3)[LABELS]),
    "softmax": lambda z: dl.softmax(z),
    "softmax_axis0": lambda z: dl.softmax(z, axis=0),
    "log_softmax": lambda z: dl.log_softmax(z),
    "logsumexp": lambda z: dl.logsumexp(z, axis=-1),
    "logsumexp_all": lambda z: dl.logsumexp(z),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LOGIT_OPS))
def test_huge_logits_give_finite_values_and_gradients(name, dtype):
    z = dl.tensor(LOGITS.astype(dtype), requires_grad=True)
    out = LOGIT_OPS[name](z)
    assert out.dtype == dtype
    assert np.isfinite(out.numpy()).all()
    (out * upstream_weights(out.shape, dtype)).sum().backward()
    assert z.grad.dtype == dtype
    assert np.isfinite(z.grad).all()


def test_huge_logits_give_the_exact_limits():
    z = dl.tensor(np.array([BIG, -BIG, 0.0]))
    np.testing.assert_allclose(dl.sigmoid(z).numpy(), [1.0, 0.0, 0.5], rtol=0, atol=1e-300)
    # log(1 + e^z) - z y: confidently wrong by 1e4 costs 1e4, confidently right costs 0
    bce = dl.binary_cross_entropy_with_logits(z, np.array([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(bce.numpy(), [BIG, BIG, np.log(2.0)], rtol=1e-12)
    ce = dl.cross_entropy(dl.tensor(LOGITS[:1]), LABELS[:1], reduction="none")
    np.testing.assert_allclose(ce.numpy(), [2 * BIG], rtol=1e-12)
    np.testing.assert_allclose(dl.log_softmax(dl.tensor(LOGITS[:1])).numpy(),
                               [[0.0, -2 * BIG, -BIG]], atol=1e-9)
    np.testing.assert_allclose(dl.logsumexp(dl.tensor(np.array([BIG, BIG]))).item(),
                               BIG + np.log(2.0), rtol=1e-15)


def test_cross_entropy_gradient_at_huge_logits_is_softmax_minus_one_hot():
    z = dl.tensor(LOGITS[:3], requires_grad=True)
    dl.cross_entropy(z, LABELS[:3], reduction="sum").backward()
    expected = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, -1.0]])
    expected[1] = [-1.0, 0.0, 1.0]
    np.testing.assert_allclose(z.grad, expected, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e2, 1e4, 1e30])
def test_softmax_of_large_inputs_sums_to_one(scale, dtype):
    z = (np.random.default_rng(0).standard_normal((5, 7)) * scale).astype(dtype)
    for axis in (-1, 0):
        a = dl.softmax(dl.tensor(z), axis=axis).numpy()
        assert a.dtype == dtype and np.isfinite(a).all() and (a >= 0).all()
        np.testing.assert_allclose(a.sum(axis=axis), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_probabilities_exactly_0_and_1(reduction, dtype):
    a = dl.tensor(np.array([[0.0], [1.0], [0.0], [1.0]], dtype), requires_grad=True)
    y = np.array([[0.0], [1.0], [1.0], [0.0]], dtype)
    cost = dl.binary_cross_entropy(a, y, reduction=reduction)
    values = cost.numpy()
    assert values.dtype == dtype and np.isfinite(values).all()
    per_example = [0.0, 0.0, 100.0, 100.0]  # log(0) is clamped at -100, as PyTorch
    expected = {"mean": np.mean(per_example), "sum": np.sum(per_example),
                "none": np.reshape(per_example, (4, 1))}[reduction]
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    (cost * upstream_weights(cost.shape, dtype)).sum().backward()
    assert a.grad.dtype == dtype and np.isfinite(a.grad).all()


def test_binary_cross_entropy_gradient_points_the_right_way_at_the_edges():
    a = dl.tensor(np.array([0.0, 1.0]), requires_grad=True)
    dl.binary_cross_entropy(a, np.array([1.0, 0.0]), reduction="sum").backward()
    assert a.grad[0] < -1e6 and a.grad[1] > 1e6  # push a = 0 up toward y = 1 and vice versa


def test_sigmoid_never_overflows_in_any_float_dtype():
    for dtype in (np.float16, np.float32, np.float64):
        z = np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4], dtype)
        with np.errstate(over="raise", invalid="raise"):
            a = dl.sigmoid(dl.tensor(z)).numpy()
        assert a.dtype == dtype and np.isfinite(a).all()
        assert (np.diff(a) >= 0).all() and a[0] >= 0 and a[-1] == 1


FLOAT32 = [c for c in CASES if c.op != "cast"]


@pytest.mark.parametrize("case", FLOAT32, ids=lambda c: c.name)
def test_float32_inputs_give_float32_outputs_and_gradients(case):
    xs = [dl.tensor(x.astype(np.float32), requires_grad=True) for x in case.inputs]
    out = case.f(*xs)
    assert out.dtype == np.float32
    (out * upstream_weights(out.shape, np.float32)).sum().backward()
    for x in xs:
        assert x.grad.dtype == np.float32, case.name
