"""Pooling as separable 1-D pools (ops/pool.py) against a plain loop over windows: forward,
the first-maximum gradient, float64 gradient checks on odd sizes, strides and paddings in
1-D, 2-D and 3-D, and ties (all-zero windows after a ReLU) as PyTorch routes them."""

import itertools

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops import pool as pool_ops

RNG = np.random.default_rng(17)
POOLS = {("max", 1): dl.max_pool1d, ("max", 2): dl.max_pool2d, ("max", 3): dl.max_pool3d,
         ("avg", 1): dl.avg_pool1d, ("avg", 2): dl.avg_pool2d, ("avg", 3): dl.avg_pool3d}


def loop_pool(mode, x, f, s, p, gy):
    """Y and dX by a loop over output positions: the window's max (its first maximum in
    row-major order gets dY) or mean (dY / f^d to every element); padding -inf or 0."""
    d = x.ndim - 2
    value = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, [(0, 0)] + [(p, p)] * d + [(0, 0)], constant_values=value)
    out = tuple((n - f) // s + 1 for n in xp.shape[1:-1])
    y = np.empty((x.shape[0], *out, x.shape[-1]))
    gx = np.zeros_like(xp)
    for pos in itertools.product(*(range(o) for o in out)):
        sl = (slice(None),) + tuple(slice(q * s, q * s + f) for q in pos)
        win = xp[sl].reshape(x.shape[0], -1, x.shape[-1])  # window elements in row-major order
        g = gy[(slice(None), *pos)]
        if mode == "avg":
            y[(slice(None), *pos)] = win.mean(axis=1)
            gx[sl] += g.reshape((g.shape[0],) + (1,) * d + g.shape[-1:]) / win.shape[1]
            continue
        y[(slice(None), *pos)] = win.max(axis=1)
        first = win.argmax(axis=1)  # NumPy's argmax: the first maximum
        gwin = np.zeros_like(win)
        np.put_along_axis(gwin, first[:, None], g[:, None], axis=1)
        gx[sl] += gwin.reshape(xp[sl].shape)
    crop = (slice(None),) + tuple(slice(p, p + n) for n in x.shape[1:-1])
    return y, gx[crop]


CASES = [  # (d, shape, f, stride, padding): tiled, remainders, overlapping, gaps, padded
    (1, (2, 7, 3), 2, 2, 0), (1, (2, 9, 2), 3, 2, 1), (1, (3, 8, 2), 2, 1, 0),
    (1, (2, 10, 3), 2, 3, 0),
    (2, (2, 8, 6, 3), 2, 2, 0), (2, (2, 7, 9, 2), 2, 2, 0), (2, (2, 7, 8, 3), 3, 2, 1),
    (2, (1, 5, 6, 2), 2, 1, 0), (2, (2, 9, 7, 2), 3, 3, 0), (2, (2, 6, 7, 2), 2, 3, 1),
    (2, (1, 6, 6, 2), 4, 4, 0), (2, (1, 7, 7, 2), 3, 1, 1),
    (3, (1, 4, 6, 4, 2), 2, 2, 0), (3, (1, 5, 5, 6, 2), 3, 2, 1), (3, (1, 4, 5, 3, 2), 2, 1, 0),
]


@pytest.mark.parametrize("long_run", [1024, 1])  # slices copied first or read in place
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("d,shape,f,s,p", CASES)
def test_forward_and_gradient_match_the_loop_over_windows(monkeypatch, mode, d, shape, f, s, p,
                                                          long_run):
    monkeypatch.setattr(pool_ops, "_LONG_RUN", long_run)
    x = RNG.normal(size=shape)
    t = dl.tensor(x, requires_grad=True)
    y = POOLS[mode, d](t, f, s, padding=p)
    gy = RNG.normal(size=y.shape)
    y_ref, gx_ref = loop_pool(mode, x, f, s, p, gy)
    np.testing.assert_allclose(y.data, y_ref, rtol=1e-12, atol=1e-12)
    (y * dl.tensor(gy)).sum().backward()
    np.testing.assert_allclose(t.grad, gx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("d,shape,f,s,p", CASES)
def test_float64_gradient_check(mode, d, shape, f, s, p):
    # distinct values (a shuffled grid): no ties within 1e-7, so max is differentiable
    n = int(np.prod(shape))
    x = (RNG.permutation(n) / n + RNG.uniform(0, 1e-3, n)).reshape(shape)
    w = RNG.normal(size=POOLS[mode, d](x, f, s, padding=p).shape)
    diff = dl.gradient_check(lambda a: (POOLS[mode, d](a, f, s, padding=p) * w).sum(), [x])
    assert diff < 2e-7


@pytest.mark.parametrize("long_run", [1024, 1])
@pytest.mark.parametrize("f,s", [(2, 2), (3, 2), (2, 1)])
def test_tied_maxima_give_the_gradient_to_the_first_in_row_major_order(monkeypatch, f, s,
                                                                        long_run):
    monkeypatch.setattr(pool_ops, "_LONG_RUN", long_run)
    # after a ReLU whole windows are 0: one element (the first) gets dY, as in PyTorch
    x = np.maximum(RNG.normal(size=(3, 8, 8, 4)), 0)
    x[:, :4, :4] = 0.0
    x[:, 5, 5] = x[:, 5, 6] = x[:, 6, 5] = 2.5  # ties of positive values too
    x[:, 4, 7] = x[:, 5, 6] = 5.0  # one window's maxima in different rows and columns
    t = dl.tensor(x, requires_grad=True)
    y = dl.max_pool2d(t, f, s)
    gy = RNG.normal(size=y.shape)
    (y * dl.tensor(gy)).sum().backward()
    _, gx_ref = loop_pool("max", x, f, s, 0, gy)
    np.testing.assert_allclose(t.grad, gx_ref, rtol=1e-12, atol=1e-12)
    if f == s == 2:  # one element (the window's first) of each all-zero window gets dY
        assert (t.grad[:, :4, :4] != 0).sum() == 3 * 4 * 4 and (t.grad[:, :4:2, :4:2] != 0).all()
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, f, s)
    (yt * torch.tensor(gy.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_allclose(t.grad, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12)


def test_float32_stays_float32_and_no_grad_needs_no_winners():
    x = RNG.normal(size=(4, 28, 28, 6)).astype(np.float32)
    t = dl.tensor(x, requires_grad=True)
    for pool in (dl.max_pool2d, dl.avg_pool2d):
        y = pool(t, 2)
        assert y.dtype == np.float32
        y.sum().backward()
        assert t.grad.dtype == np.float32
    with dl.no_grad():
        y = dl.max_pool2d(x, 3, 2, padding=1)
    np.testing.assert_allclose(y.data, loop_pool("max", x.astype(np.float64), 3, 2, 1,
                                                 np.zeros(y.shape))[0], rtol=1e-6)


def test_a_window_of_one_is_a_strided_copy():
    x = RNG.normal(size=(2, 7, 5, 3))
    t = dl.tensor(x, requires_grad=True)
    y = dl.max_pool2d(t, (1, 1), (2, 1))
    np.testing.assert_array_equal(y.data, x[:, ::2])
    y.sum().backward()
    expected = np.zeros_like(x)
    expected[:, ::2] = 1
    np.testing.assert_array_equal(t.grad, expected)


@pytest.mark.parametrize("mode,d,f,s,p", [("max", 2, 3, 2, 1), ("max", 2, 2, 2, 0),
                                          ("avg", 2, 3, 1, 1), ("max", 3, 3, 2, 0),
                                          ("max", 1, 4, 3, 1)])
def test_on_the_strict_cupy_stand_in_equal_the_cpu(mode, d, f, s, p):
    from dlkit.backend import to_numpy
    from dlkit.testing.strict import StrictArray

    x = np.maximum(RNG.normal(size=(2,) + (7,) * d + (3,)), 0)  # ties at 0
    t = dl.tensor(x, requires_grad=True)
    y = POOLS[mode, d](t, f, s, padding=p)
    gy = RNG.normal(size=y.shape)
    (y * dl.tensor(gy)).sum().backward()
    td = dl.tensor(x, device="strict", requires_grad=True)
    yd = POOLS[mode, d](td, f, s, padding=p)
    assert isinstance(yd.data, StrictArray)
    (yd * dl.tensor(gy, device="strict")).sum().backward()
    np.testing.assert_allclose(yd.numpy(), y.data, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(td.grad), t.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f,s", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_3d_ties_follow_the_row_major_order_of_the_window(f, s):
    # ties between positions that differ in each axis: the rank over earlier axes decides
    x = np.zeros((2, 6, 6, 6, 2))
    x[:, 1, 0, 1] = x[:, 0, 1, 1] = x[:, 1, 1, 0] = 3.0
    x[:, 3:, 3:, 3:] = RNG.integers(0, 3, size=(2, 3, 3, 3, 2))  # many ties of small integers
    t = dl.tensor(x, requires_grad=True)
    y = dl.max_pool3d(t, f, s)
    gy = RNG.normal(size=y.shape)
    (y * dl.tensor(gy)).sum().backward()
    y_ref, gx_ref = loop_pool("max", x, f, s, 0, gy)
    np.testing.assert_array_equal(y.data, y_ref)
    np.testing.assert_allclose(t.grad, gx_ref, rtol=1e-12, atol=1e-12)
