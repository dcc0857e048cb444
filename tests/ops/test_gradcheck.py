"""Gradient checks of every op in the registry (float64, the notes' two-sided difference)."""

from __future__ import annotations

import numpy as np
import pytest
from op_registry import CASES, scalarize, upstream_weights

import dlkit as dl

THRESHOLD = 2e-7  # the notes: below 1e-7 great; 2e-7 leaves room for eps = 1e-7 rounding


def test_registry_covers_every_op():
    covered = {c.op for c in CASES}
    assert set(dl.ops.__all__) <= covered, set(dl.ops.__all__) - covered


def test_registry_inputs_are_float64_and_outputs_finite():
    for c in CASES:
        assert all(x.dtype == np.float64 for x in c.inputs), c.name
        out = c.f(*[dl.tensor(x) for x in c.inputs])
        assert isinstance(out, dl.Tensor), c.name
        assert np.isfinite(out.numpy()).all(), c.name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradient_check(case):
    out = case.f(*[dl.tensor(x) for x in case.inputs])
    f = scalarize(case.f, out.shape)
    assert dl.gradient_check(f, case.inputs) < THRESHOLD


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradients_have_input_shape_and_dtype(case):
    xs = [dl.tensor(x, requires_grad=True) for x in case.inputs]
    out = case.f(*xs)
    assert out.requires_grad
    (out * upstream_weights(out.shape)).sum().backward()
    for x, t in zip(case.inputs, xs):
        assert t.grad is not None, case.name
        assert t.grad.shape == x.shape and t.grad.dtype == np.float64, case.name


def _mlp_loss(x, w1, b1, gamma, beta, w2, b2):
    labels = np.arange(x.shape[0]) % w2.shape[0]
    h = dl.relu(dl.batch_norm(dl.linear(x, w1, b1), gamma, beta))
    return dl.cross_entropy(dl.linear(h, w2, b2), labels)


def test_directional_gradient_check_on_a_larger_network():
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((64, 50)), 0.1 * rng.standard_normal((40, 50)),
              rng.standard_normal(40), rng.uniform(0.5, 1.5, 40), rng.standard_normal(40),
              0.1 * rng.standard_normal((10, 40)), rng.standard_normal(10)]
    assert sum(x.size for x in inputs) > 5000
    assert dl.gradient_check_directional(_mlp_loss, inputs, n_directions=5) < 1e-6


def test_directional_gradient_check_on_batched_matmul_and_logsumexp():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((8, 16, 32)), rng.standard_normal((32, 24))
    f = lambda a, b: dl.logsumexp(dl.matmul(a, b) * 0.1, axis=-1).sum()  # noqa: E731
    assert dl.gradient_check_directional(f, [a, b], n_directions=4) < 1e-6
