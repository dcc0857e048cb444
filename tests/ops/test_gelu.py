"""GELU (exact and tanh forms): formula, float64 gradient check, PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops.activation import gelu


def test_formula(rng):
    z = rng.standard_normal(50) * 3
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])
    tanh = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
    np.testing.assert_allclose(gelu(z).numpy(), exact, atol=1e-14)
    np.testing.assert_allclose(gelu(z, "tanh").numpy(), tanh, atol=1e-14)
    assert np.abs(exact - tanh).max() > 1e-6  # the two forms differ


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gradient_check(rng, approximate):
    z = rng.standard_normal((3, 4)) * 2
    w = rng.standard_normal((3, 4))
    assert dl.gradient_check(lambda z: (gelu(z, approximate) * w).sum(), [z]) < 2e-7


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_matches_torch(rng, approximate):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((5, 6)) * 4
    gy = rng.standard_normal((5, 6))
    tz = torch.tensor(z, requires_grad=True)
    ty = torch.nn.functional.gelu(tz, approximate=approximate)
    ty.backward(torch.tensor(gy))
    Z = dl.Tensor(z, requires_grad=True)
    y = gelu(Z, approximate)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(Z.grad, tz.grad.numpy(), atol=1e-12)


def test_layer_and_bad_option():
    layer = dl.nn.GELU("tanh")
    assert dl.nn.module_from_config(dl.nn.to_config(layer)).approximate == "tanh"
    assert layer(np.float32([0.0, 1.0])).dtype == np.float32
    with pytest.raises(ValueError, match="approximate 'none' or 'tanh'"):
        gelu(np.zeros(2), "erf")
