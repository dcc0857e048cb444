"""The engine: tensor creation and dtypes, operators, the tape and backward."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl

# ---- creation and dtype rules --------------------------------------------------------------


def test_python_floats_become_float32_by_default():
    assert dl.tensor(1.5).dtype == np.float32
    assert dl.tensor([1.0, 2.0]).dtype == np.float32
    assert dl.tensor([[1, 2.5]]).dtype == np.float32
    assert dl.tensor([1, 2]).dtype.kind == "i"
    assert dl.tensor([True, False]).dtype == np.bool_


def test_numpy_arrays_keep_their_dtype_and_are_copied():
    a = np.arange(3.0)
    t = dl.tensor(a)
    assert t.dtype == np.float64
    a[0] = 100.0
    assert t.numpy()[0] == 0.0
    assert dl.tensor(a.astype(np.float32)).dtype == np.float32
    assert dl.tensor(a, dtype="float32").dtype == np.float32
    assert dl.tensor(dl.tensor(a)).dtype == np.float64


def test_set_default_dtype_changes_new_float_tensors_only():
    dl.set_default_dtype("float64")
    try:
        assert dl.get_default_dtype() == np.float64
        assert dl.tensor(1.5).dtype == np.float64
        assert dl.randn(2, 2).dtype == np.float64
        assert dl.tensor(np.ones(2, np.float32)).dtype == np.float32
    finally:
        dl.set_default_dtype("float32")
    assert dl.tensor(1.5).dtype == np.float32 and dl.zeros(2).dtype == np.float32


def test_requires_grad_on_an_integer_tensor_raises():
    with pytest.raises(TypeError, match="float"):
        dl.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        dl.tensor(np.arange(3)).requires_grad_()
    t = dl.tensor([1.0, 2.0]).requires_grad_()
    assert t.requires_grad and t.is_leaf


def test_requires_grad_of_a_non_leaf_cannot_change():
    y = dl.tensor([1.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


# ---- operators -----------------------------------------------------------------------------

A = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]])
B = np.array([[2.0, 1.0, -1.0], [3.0, 0.25, 2.0]])


@pytest.mark.parametrize("op, expected", [
    (lambda a, b: a + b, A + B),
    (lambda a, b: a - b, A - B),
    (lambda a, b: a * b, A * B),
    (lambda a, b: a / b, A / B),
    (lambda a, b: abs(a) ** b, np.abs(A) ** B),
    (lambda a, b: a @ b.T, A @ B.T),
    (lambda a, b: -a, -A),
    (lambda a, b: +a, A),
    (lambda a, b: abs(a), np.abs(A)),
], ids=["add", "sub", "mul", "div", "pow", "matmul", "neg", "pos", "abs"])
def test_operators_between_tensors(op, expected):
    out = op(dl.tensor(A), dl.tensor(B))
    assert isinstance(out, dl.Tensor)
    np.testing.assert_allclose(out.numpy(), expected)


@pytest.mark.parametrize("op, expected", [
    (lambda t: t + 2, A + 2), (lambda t: 2 + t, 2 + A),
    (lambda t: t - 2, A - 2), (lambda t: 2 - t, 2 - A),
    (lambda t: t * 2.5, A * 2.5), (lambda t: 2.5 * t, 2.5 * A),
    (lambda t: t / 4, A / 4), (lambda t: 4 / t, 4 / A),
    (lambda t: t**2, A**2), (lambda t: 2**t, 2**A),
], ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow", "rpow"])
def test_operators_with_python_scalars(op, expected):
    out = op(dl.tensor(A))
    assert isinstance(out, dl.Tensor) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected)


@pytest.mark.parametrize("op, expected", [
    (lambda t, a: a + t, B + A), (lambda t, a: a - t, B - A), (lambda t, a: a * t, B * A),
    (lambda t, a: a / t, B / A), (lambda t, a: a @ t.T, B @ A.T),
    (lambda t, a: t + a, A + B), (lambda t, a: t @ a.T, A @ B.T),
], ids=["radd", "rsub", "rmul", "rdiv", "rmatmul", "add", "matmul"])
def test_ndarray_and_tensor_give_a_tensor_with_grad(op, expected):
    t = dl.tensor(A, requires_grad=True)
    out = op(t, B)
    assert isinstance(out, dl.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.numpy(), expected)
    out.sum().backward()
    assert t.grad.shape == A.shape


def test_float32_tensor_with_python_float_stays_float32():
    t = dl.tensor(np.ones(3, np.float32), requires_grad=True)
    for out in (t * 0.1, 0.1 * t, t + 1e-8, 1.0 - t, t / 3.0, 3.0 / t, t**2.5, 2.0**t,
                dl.maximum(t, 0.5), dl.where(t.numpy() > 0, t, 0.0)):
        assert out.dtype == np.float32
    (t * 0.1).sum().backward()
    assert t.grad.dtype == np.float32


def test_float32_tensor_with_float64_array_grad_stays_float32():
    t = dl.tensor(np.ones(3, np.float32), requires_grad=True)
    out = t * np.full(3, 2.0)  # NumPy promotes the product; the gradient is cast back
    out.sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad, [2.0, 2.0, 2.0])


def test_comparisons_return_tensors_without_grad():
    t = dl.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for out, expected in [(t > 2, [0, 0, 1]), (t >= 2, [0, 1, 1]), (t < 2, [1, 0, 0]),
                          (t <= 2, [1, 1, 0]), (t == 2, [0, 1, 0]), (t != 2, [1, 0, 1]),
                          (t == dl.tensor(np.array([1.0, 0.0, 3.0])), [1, 0, 1])]:
        assert isinstance(out, dl.Tensor) and not out.requires_grad
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out.numpy(), np.array(expected, bool))
    assert (t > 0).all() and (t > 2).any() and not (t > 5).any()


def test_bool_of_a_multi_element_tensor_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(dl.tensor([1.0, 2.0]) > 0)
    assert bool(dl.tensor([3.0]) > 0)


def test_indexing_records_a_gradient():
    x = dl.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x[1] * 2.0 + x[:, 0].sum() + x[np.array([2, 2]), np.array([3, 3])].sum()
    assert y.shape == (4,)
    y.sum().backward()
    expected = np.zeros((3, 4))
    expected[1] += 2.0
    expected[:, 0] += 4.0
    expected[2, 3] += 2 * 4.0
    np.testing.assert_array_equal(x.grad, expected)
    rows = list(x)
    assert len(rows) == 3 and all(r.requires_grad for r in rows)


def test_tensor_methods_match_numpy_and_record_gradients():
    x = dl.tensor(A, requires_grad=True)
    np.testing.assert_array_equal(x.T.numpy(), A.T)
    np.testing.assert_array_equal(x.reshape(3, 2).numpy(), A.reshape(3, 2))
    np.testing.assert_array_equal(x.reshape((6,)).numpy(), A.reshape(6))
    np.testing.assert_allclose(x.sum(axis=0).numpy(), A.sum(axis=0))
    np.testing.assert_allclose(x.mean(axis=1, keepdims=True).numpy(), A.mean(1, keepdims=True))
    np.testing.assert_allclose(x.max().item(), A.max())
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), A.argmax(axis=1))
    (x.T.reshape(-1) * np.arange(6.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(6.0).reshape(3, 2).T)
    x.zero_grad()
    x.mean().backward()
    np.testing.assert_allclose(x.grad, np.full(A.shape, 1 / 6))


def test_detach_item_numpy_tolist():
    x = dl.tensor(np.array([[2.0, 3.0]]), requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), [[4.0, 6.0]])
    assert x.sum().item() == 5.0 and isinstance(x.sum().item(), float)
    assert float(x[0, 1]) == 3.0 and int(x[0, 0]) == 2
    assert isinstance(x.numpy(), np.ndarray) and x.tolist() == [[2.0, 3.0]]
    with pytest.raises(ValueError, match="one element"):
        x.item()
    assert "requires_grad=True" in repr(x)


# ---- backward --------------------------------------------------------------------------------


def test_backward_on_a_non_scalar_without_grad_raises():
    y = dl.tensor(np.ones(3), requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="one-element"):
        y.backward()


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (dl.tensor(np.ones(3)) * 2.0).sum().backward()


def test_backward_with_an_explicit_grad():
    x = dl.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * x
    y.backward(np.array([1.0, 0.5, -1.0]), retain_graph=True)
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, -6.0])
    x.zero_grad()
    y.backward(dl.tensor(np.array([1.0, 1.0, 1.0])))
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    with pytest.raises(ValueError, match=r"\(3,\)"):
        y.backward(np.ones(4))


def test_backward_does_not_alias_the_callers_grad_array():
    x = dl.tensor(np.zeros(3), requires_grad=True)
    g = np.array([1.0, 2.0, 3.0])
    (x + 1.0).backward(g)
    assert not np.shares_memory(x.grad, g)
    g[:] = 0.0
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])
    leaf = dl.tensor(np.zeros(2), requires_grad=True)
    g2 = np.ones(2)
    leaf.backward(g2)
    g2[:] = 5.0
    np.testing.assert_array_equal(leaf.grad, [1.0, 1.0])


def test_a_tensor_used_twice_accumulates():
    x = dl.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.numpy())
    x.zero_grad()
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    x.zero_grad()
    y = x * 3.0  # an intermediate used by two consumers
    (y * y + y).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * (2 * 3 * x.numpy() + 1))


def test_leaves_accumulate_across_backward_calls_and_zero_grad_resets():
    x = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    (x * 10.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [14.0, 18.0])
    x.zero_grad()
    assert x.grad is None
    (x * 10.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [10.0, 10.0])


def test_only_leaves_keep_grads():
    x = dl.tensor(np.ones(2), requires_grad=True)
    y = x * 2.0
    (y * 3.0).sum().backward()
    assert y.grad is None and not y.is_leaf
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_no_grad_records_nothing_and_enable_grad_restores():
    x = dl.tensor(np.ones(3), requires_grad=True)
    with dl.no_grad():
        assert not dl.is_grad_enabled()
        y = (x * 2.0).sum()
        with dl.enable_grad():
            z = (x * 2.0).sum()
    assert dl.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad
    with pytest.raises(RuntimeError):
        y.backward()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError), dl.no_grad():
        raise KeyError
    assert dl.is_grad_enabled()


def test_constants_do_not_get_grads():
    x = dl.tensor(np.ones(3), requires_grad=True)
    c = dl.tensor(np.full(3, 2.0))
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("step", ["add", "mul"])
def test_a_100000_node_chain_backpropagates_without_recursion(step):
    x = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0 if step == "add" else y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    del y  # freeing the long chain must not overflow the stack either


def test_grads_of_leaves_fed_the_same_array_are_independent():
    a = dl.tensor(np.ones(3), requires_grad=True)
    b = dl.tensor(np.ones(3), requires_grad=True)
    (a + b).backward(np.array([1.0, 2.0, 3.0]))  # Add passes the same array to both
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad *= 10.0
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])


def test_leaf_grads_are_writable_fresh_arrays():
    """Sum's backward is a broadcast (read-only) view; the leaf must get its own array."""
    x = dl.tensor(np.ones((2, 3)), requires_grad=True)
    w = dl.tensor(np.ones((2, 3)), requires_grad=True)
    (x.sum() + w.reshape(6).sum()).backward()
    x.grad += 1.0
    w.grad += 1.0
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
    assert not np.shares_memory(x.grad, w.grad)


def test_grad_of_a_broadcast_input_has_the_input_shape():
    x = dl.tensor(np.ones((3, 1)), requires_grad=True)
    b = dl.tensor(np.ones(4), requires_grad=True)
    (x * b).backward(np.ones((3, 4)))
    assert x.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_array_equal(x.grad, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad, np.full(4, 3.0))


# ---- custom functions ------------------------------------------------------------------------


class SplitScale(dl.Function):
    """(y0, y1) = (2 x[:n], 3 x[n:]): a function with two outputs."""

    def forward(self, x):
        self.n = x.shape[0] // 2
        return x[: self.n] * 2.0, x[self.n:] * 3.0

    def backward(self, g0, g1):
        self.received = (g0.copy(), g1.copy())
        return np.concatenate([g0 * 2.0, g1 * 3.0])


def test_multi_output_function_gives_an_unused_output_a_zero_gradient():
    x = dl.tensor(np.arange(4.0), requires_grad=True)
    fn = SplitScale()
    y0, y1 = fn(x)
    assert y0.requires_grad and y1.requires_grad
    (y0 * np.array([1.0, 5.0])).sum().backward()
    g0, g1 = fn.received
    np.testing.assert_array_equal(g0, [1.0, 5.0])
    assert g1.shape == y1.shape and g1.dtype == y1.dtype
    np.testing.assert_array_equal(g1, 0.0)
    np.testing.assert_array_equal(x.grad, [2.0, 10.0, 0.0, 0.0])


def test_multi_output_function_with_both_outputs_used():
    x = dl.tensor(np.arange(4.0), requires_grad=True)
    y0, y1 = SplitScale()(x)
    (y0.sum() + (y1 * y1).sum()).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 3 * 2 * 3 * 2.0, 3 * 2 * 3 * 3.0])


def test_multi_output_function_without_grad_returns_plain_tensors():
    y0, y1 = SplitScale()(dl.tensor(np.arange(4.0)))
    assert not y0.requires_grad and not y1.requires_grad
    np.testing.assert_array_equal(y1.numpy(), [6.0, 9.0])


def test_scalar_outputs_of_forward_become_zero_dim_arrays():
    class Total(dl.Function):
        def forward(self, x):
            return np.float64(x.sum())  # a NumPy scalar, not an array

        def backward(self, gy):
            return np.full(3, gy)

    x = dl.tensor(np.ones(3), requires_grad=True)
    y = Total()(x)
    assert isinstance(y.data, np.ndarray) and y.shape == ()
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])


def test_broadcast_mismatch_names_the_op():
    with pytest.raises(dl.ShapeError, match=r"add: .*\(2,3\).*\(4,\)"):
        dl.tensor(np.ones((2, 3))) + dl.tensor(np.ones(4))
    with pytest.raises(dl.ShapeError, match="mul"):
        dl.tensor(np.ones((2, 3))) * np.ones((3, 2))


def test_function_returning_no_gradient_does_not_block_other_paths():
    """A backward that returns None for one input must still let the gradient that arrives
    at the same producer through another path flow on to the leaves."""

    class StopGradient(dl.Function):
        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            return None

    x = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3.0
    out = (StopGradient()(h) + h * 2.0).sum()
    out.backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
