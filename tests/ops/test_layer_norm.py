"""layer_norm: NumPy reference, float64 gradient check, PyTorch forward and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.ops.layer_norm import layer_norm


def reference(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def test_forward_matches_the_formula(rng):
    x = rng.standard_normal((3, 4, 6)) * 3 + 1
    g, b = rng.standard_normal(6), rng.standard_normal(6)
    np.testing.assert_allclose(layer_norm(x, g, b).numpy(), reference(x, g, b), atol=1e-12)
    plain = layer_norm(x).numpy()
    np.testing.assert_allclose(plain.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(plain.var(-1), 1, atol=1e-4)


@pytest.mark.parametrize("affine", [True, False])
def test_gradient_check(rng, affine):
    x = rng.standard_normal((2, 3, 5))
    g, b = rng.standard_normal(5), rng.standard_normal(5)
    w = rng.standard_normal((2, 3, 5))
    if affine:
        diff = dl.gradient_check(lambda x, g, b: (layer_norm(x, g, b) * w).sum(), [x, g, b])
    else:
        diff = dl.gradient_check(lambda x: (layer_norm(x) * w).sum(), [x])
    assert diff < 2e-7


def test_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 7, 8))
    g, b = rng.standard_normal(8), rng.standard_normal(8)
    gy = rng.standard_normal((4, 7, 8))
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    ty = torch.nn.functional.layer_norm(tx, (8,), tg, tb, eps=1e-5)
    ty.backward(torch.tensor(gy))
    X, G, B = (dl.Tensor(a, requires_grad=True) for a in (x, g, b))
    y = layer_norm(X, G, B)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    for mine, theirs in ((X, tx), (G, tg), (B, tb)):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), atol=1e-10)


def test_float32_stays_float32_and_constant_rows_are_finite():
    x = np.ones((2, 4), np.float32) * 1e4
    y = layer_norm(x, np.ones(4, np.float32), np.zeros(4, np.float32))
    assert y.dtype == np.float32 and np.isfinite(y.numpy()).all()


def test_bad_shapes_name_both():
    with pytest.raises(ShapeError, match=r"gamma of shape \(4,\).*got shape \(3,\)"):
        layer_norm(np.zeros((2, 4)), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="beta given without gamma"):
        layer_norm(np.zeros((2, 4)), None, np.zeros(4))
