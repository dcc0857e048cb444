"""Gradient checking itself: it passes correct backwards and catches broken ones."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.check import analytic_gradients, numerical_gradients, relative_difference


class Cube(dl.Function):
    """y = x^3 * w;  dx = 3 x^2 w dy, dw = x^3 dy (correct)."""

    def forward(self, x, w):
        self.x, self.w = x, w
        return x**3 * w

    def backward(self, gy):
        return 3 * self.x**2 * self.w * gy, self.x**3 * gy


class CubeMissingFactor(Cube):
    """The same with the 3 of dx forgotten (dw is still right)."""

    def backward(self, gy):
        return self.x**2 * self.w * gy, self.x**3 * gy


class SquareMissingTwo(dl.Function):
    """y = x^2 with dx = x dy: the classic missing factor 2."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return self.x * gy


def _inputs(seed=0, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape), rng.standard_normal(shape)]


def _loss(fn_class):
    return lambda x, w: fn_class()(x, w).sum()


def test_gradient_check_passes_a_correct_function():
    assert dl.gradient_check(_loss(Cube), _inputs()) < 2e-7


def test_gradient_check_flags_a_missing_factor():
    assert dl.gradient_check(_loss(CubeMissingFactor), _inputs()) > 1e-3
    assert dl.gradient_check(lambda x: (SquareMissingTwo()(x) * 0.7).sum(),
                             _inputs()[:1]) > 1e-3


def test_gradient_check_directional_passes_and_flags():
    big = _inputs(1, (40, 50))
    assert dl.gradient_check_directional(_loss(Cube), big) < 1e-6
    assert dl.gradient_check_directional(_loss(CubeMissingFactor), big) > 1e-3
    assert dl.gradient_check_directional(lambda x: SquareMissingTwo()(x).sum(), big[:1]) > 1e-3


def test_gradient_check_directional_is_reproducible_for_a_seed():
    inputs = _inputs(2)
    a = dl.gradient_check_directional(_loss(CubeMissingFactor), inputs, seed=3)
    b = dl.gradient_check_directional(_loss(CubeMissingFactor), inputs, seed=3)
    assert a == b


def test_gradient_check_does_not_modify_its_inputs():
    inputs = _inputs(3)
    before = [x.copy() for x in inputs]
    dl.gradient_check(_loss(Cube), inputs)
    dl.gradient_check_directional(_loss(Cube), inputs)
    for x, y in zip(inputs, before):
        np.testing.assert_array_equal(x, y)


def test_numerical_gradients_are_two_sided_differences():
    x = np.array([1.0, -2.0, 0.5])
    (g,) = numerical_gradients(lambda t: (t * t * t).sum(), [x])
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-7)


@pytest.mark.parametrize("layout", ["fortran", "transposed_view"])
def test_gradient_check_handles_non_contiguous_inputs(layout):
    base = np.random.default_rng(4).standard_normal((5, 3))
    x = np.asfortranarray(base) if layout == "fortran" else base.T
    (g,) = numerical_gradients(lambda t: (t * t).sum(), [x])
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)
    assert dl.gradient_check(lambda t: (t * t * t).sum(), [x]) < 2e-7


def test_analytic_gradients_are_zero_for_unused_inputs():
    x, w = _inputs(5)
    gx, gw = analytic_gradients(lambda x, w: (x * 2.0).sum(), [x, w])
    np.testing.assert_array_equal(gx, np.full(x.shape, 2.0))
    np.testing.assert_array_equal(gw, np.zeros(w.shape))


def test_relative_difference_formula():
    g, a = np.array([3.0, 4.0]), np.array([0.0, 0.0])
    assert relative_difference(g, a) == 1.0  # ||g|| / (||g|| + 0)
    assert relative_difference(a, a) == 0.0  # both zero
    g, a = np.array([1.0, 2.0, 2.0]), np.array([1.0, 2.0, 2.0 + 3e-6])
    expected = 3e-6 / (3.0 + np.sqrt(1 + 4 + (2 + 3e-6) ** 2))
    assert relative_difference(g, a) == pytest.approx(expected, rel=1e-9)
    g, a = np.array([[3.0, 0.0]]), np.array([0.0, 4.0])  # shapes are flattened
    assert relative_difference(g, a) == pytest.approx(5.0 / 7.0)
    assert relative_difference(np.array([1.0]), np.array([-1.0])) == 1.0


def test_gradient_check_module_passes_a_model_and_catches_a_broken_layer():
    dl.set_default_dtype("float64")
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.Tanh(), dl.nn.Linear(4, 2))
    x = dl.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    y = np.array([0, 1, 1, 0, 1])
    assert dl.gradient_check_module(model, lambda m: dl.cross_entropy(m(x), y)) < 2e-7

    class BrokenTanh(dl.Function):
        def forward(self, z):
            self.a = np.tanh(z)
            return self.a

        def backward(self, ga):
            return ga * (1 - self.a)  # should be 1 - a^2

    class Broken(dl.nn.Module):
        def forward(self, z):
            return BrokenTanh()(z)

    model = dl.nn.Sequential(dl.nn.Linear(3, 4), Broken(), dl.nn.Linear(4, 2))
    assert dl.gradient_check_module(model, lambda m: dl.cross_entropy(m(x), y)) > 1e-3


def test_function_accepts_arrays_directly():
    class Double(dl.Function):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return 2 * gy

    out = Double()(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(out.numpy(), [2.0, 4.0])
