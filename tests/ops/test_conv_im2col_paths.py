"""The im2col path of ops/conv.py (few-channel (K, N) and many-channel (N, K) patch layouts,
and the input gradient as a batched GEMM plus col2im) against a plain loop over output
positions, on odd sizes, strides and paddings in 1-D, 2-D and 3-D; float64 gradient checks."""

import itertools

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops import conv as conv_ops

RNG = np.random.default_rng(23)
CONVS = {1: dl.conv1d, 2: dl.conv2d, 3: dl.conv3d}


def loop_conv(x, w, b, s, p, gz):
    """Z, dX, dW, db by a loop over output positions (the notes' conv_forward/backward)."""
    d = x.ndim - 2
    f = w.shape[:d]
    xp = np.pad(x, [(0, 0)] + [(p, p)] * d + [(0, 0)])
    out = tuple((n - k) // s + 1 for n, k in zip(xp.shape[1:-1], f))
    z = np.empty((x.shape[0], *out, w.shape[-1]))
    gx, gw = np.zeros_like(xp), np.zeros_like(w)
    for pos in itertools.product(*(range(o) for o in out)):
        sl = (slice(None),) + tuple(slice(q * s, q * s + k) for q, k in zip(pos, f))
        win = xp[sl]  # (m, *f, C_prev)
        z[(slice(None), *pos)] = np.tensordot(win, w, axes=d + 1) + b
        g = gz[(slice(None), *pos)]  # (m, C)
        gx[sl] += np.tensordot(g, w, axes=([1], [d + 1]))
        gw += np.tensordot(win, g, axes=([0], [0]))
    crop = (slice(None),) + tuple(slice(p, p + n) for n in x.shape[1:-1])
    return z, gx[crop], gw, gz.sum(axis=tuple(range(d + 1)))


CASES = [  # (x shape, f, C, stride, padding): 1 to 9 input channels, both patch layouts
    ((2, 11, 1), 3, 4, 1, 1), ((2, 12, 5), 4, 3, 3, 2), ((3, 9, 2), 2, 5, 2, 0),
    ((2, 9, 8, 1), 5, 3, 1, 2), ((2, 7, 9, 3), 3, 4, 2, 1), ((2, 8, 7, 4), 3, 2, 1, 0),
    ((2, 10, 9, 6), 5, 7, 1, 0), ((2, 11, 10, 9), 3, 5, 3, 1), ((1, 9, 9, 2), 4, 3, 2, 3),
    ((1, 5, 6, 5, 1), 3, 2, 1, 1), ((1, 6, 5, 7, 3), 2, 3, 2, 0), ((1, 5, 5, 5, 6), 3, 2, 2, 1),
]


@pytest.mark.parametrize("shape,f,c,s,p", CASES)
def test_forward_and_gradients_match_the_loop_over_positions(shape, f, c, s, p):
    d = len(shape) - 2
    x = RNG.normal(size=shape)
    w = RNG.normal(size=(f,) * d + (shape[-1], c))
    b = RNG.normal(size=c)
    ts = [dl.tensor(a, requires_grad=True) for a in (x, w, b)]
    z = CONVS[d](*ts, stride=s, padding=p)
    gz = RNG.normal(size=z.shape)
    refs = loop_conv(x, w, b, s, p, gz)
    np.testing.assert_allclose(z.data, refs[0], rtol=1e-10, atol=1e-10)
    (z * dl.tensor(gz)).sum().backward()
    for t, ref in zip(ts, refs[1:]):
        np.testing.assert_allclose(t.grad, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape,f,c,s,p", CASES)
def test_float64_gradient_check(shape, f, c, s, p):
    d = len(shape) - 2
    x = RNG.normal(size=shape)
    w = RNG.normal(size=(f,) * d + (shape[-1], c)) * 0.5
    b = RNG.normal(size=c)
    out = CONVS[d](x, w, b, stride=s, padding=p)
    v = RNG.normal(size=out.shape)
    diff = dl.gradient_check(lambda *a: (CONVS[d](*a, stride=s, padding=p) * v).sum(), [x, w, b])
    assert diff < 2e-7


@pytest.mark.parametrize("c_prev", [1, 3, 6])
def test_correlate_adjoint_is_the_transpose_of_correlate(c_prev):
    # <correlate(X, W), G> = <X, correlate_adjoint(G, W)> for every X, G: the exact adjoint
    x = RNG.normal(size=(2, 9, 8, c_prev))
    w = RNG.normal(size=(3, 3, c_prev, 4))
    z, _, _ = conv_ops.correlate(x, w, (2, 1), (4, 6))
    g = RNG.normal(size=z.shape)
    gx = conv_ops.correlate_adjoint(g, w, (2, 1), x.shape)
    np.testing.assert_allclose((z * g).sum(), (x * gx).sum(), rtol=1e-12)


def test_float32_stays_float32_through_both_layouts():
    for c_prev in (1, 6):
        x = dl.tensor(RNG.normal(size=(4, 12, 12, c_prev)).astype(np.float32),
                      requires_grad=True)
        w = dl.tensor(RNG.normal(size=(5, 5, c_prev, 8)).astype(np.float32), requires_grad=True)
        z = dl.conv2d(x, w, padding=2)
        assert z.dtype == np.float32 and z.data.flags.c_contiguous
        z.sum().backward()
        assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("c_prev", [1, 3])
def test_few_channel_products_in_blocks_match_the_loop(monkeypatch, c_prev):
    monkeypatch.setattr(conv_ops, "_SMALL_GEMM", 1)  # blocks of 64 rows, a partial last one
    x = RNG.normal(size=(3, 10, 9, c_prev))
    w = RNG.normal(size=(3, 3, c_prev, 5))
    b = RNG.normal(size=5)
    assert conv_ops._few_block(np.zeros((9 * c_prev, 270)), 5) > 0  # blocks run
    ts = [dl.tensor(a, requires_grad=True) for a in (x, w, b)]
    z = dl.conv2d(*ts, padding=1)
    gz = RNG.normal(size=z.shape)
    refs = loop_conv(x, w, b, 1, 1, gz)
    np.testing.assert_allclose(z.data, refs[0], rtol=1e-10, atol=1e-10)
    (z * dl.tensor(gz)).sum().backward()  # dW by blocks accumulated in place
    for t, ref in zip(ts, refs[1:]):
        np.testing.assert_allclose(t.grad, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 4, 5, 6), (1, 3, 4, 5, 2)])
def test_add_bias_adds_b_to_every_position_in_place(shape):
    b = RNG.normal(size=shape[-1])
    y = RNG.normal(size=shape)
    expected = y + b
    conv_ops.add_bias(y, b)
    np.testing.assert_array_equal(y, expected)
    y = RNG.normal(size=shape[:-1] + (2 * shape[-1],))[..., ::2]  # not contiguous
    expected = y + b
    conv_ops.add_bias(y, b)
    np.testing.assert_array_equal(y, expected)



@pytest.mark.parametrize("c_prev,s,p", [(1, 1, 2), (3, 2, 1), (6, 1, 0), (9, 3, 1)])
def test_on_the_strict_cupy_stand_in_equal_the_cpu(c_prev, s, p):
    from dlkit.backend import to_numpy
    from dlkit.testing.strict import StrictArray

    arrays = [RNG.normal(size=(2, 9, 8, c_prev)), RNG.normal(size=(3, 3, c_prev, 4)),
              RNG.normal(size=4)]
    ts = [dl.tensor(a, requires_grad=True) for a in arrays]
    z = dl.conv2d(*ts, stride=s, padding=p)
    gz = RNG.normal(size=z.shape)
    (z * dl.tensor(gz)).sum().backward()
    tds = [dl.tensor(a, device="strict", requires_grad=True) for a in arrays]
    zd = dl.conv2d(*tds, stride=s, padding=p)
    assert isinstance(zd.data, StrictArray)
    (zd * dl.tensor(gz, device="strict")).sum().backward()
    np.testing.assert_allclose(zd.numpy(), z.data, rtol=1e-10, atol=1e-12)
    for td, t in zip(tds, ts):
        np.testing.assert_allclose(to_numpy(td.grad), t.grad, rtol=1e-10, atol=1e-12)


def test_block_copies_where_the_array_module_has_no_sliding_window_view(monkeypatch):
    import types

    class NoWindows:  # NumPy without sliding_window_view (as an old CuPy)
        lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace())

        def __getattr__(self, name):
            return getattr(np, name)

    x = RNG.normal(size=(2, 9, 8, 5))
    expected, few = conv_ops.im2col(x, (3, 2), (2, 1), (4, 7))
    monkeypatch.setattr(conv_ops, "array_module", lambda a: NoWindows())
    cols, few_copies = conv_ops.im2col(x, (3, 2), (2, 1), (4, 7))
    assert few_copies and not few and cols.shape == (3 * 2 * 5, 2 * 4 * 7)
    np.testing.assert_array_equal(cols.reshape(3, 2, 5, 2, 4, 7),
                                  expected.reshape(2, 4, 7, 3, 2, 5).transpose(3, 4, 5, 0, 1, 2))
