"""The stride-1 "shifted" convolution (one GEMM per kernel offset on the padded grid) against
the im2col reference, on odd sizes, kernels, paddings and 1-, 2- and 3-D inputs."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops import conv as conv_ops
from dlkit.ops import gemm

CONV = {1: dl.conv1d, 2: dl.conv2d, 3: dl.conv3d}
CASES = [  # (input shape, kernel, padding)
    ((3, 7, 6, 16), (3, 3), 1),
    ((2, 5, 9, 17), (2, 4), "same"),
    ((2, 6, 5, 16), (1, 1), 0),
    ((2, 8, 7, 16), (5, 3), (2, 0)),
    ((2, 11, 20), (5,), 2),
    ((2, 4, 5, 3, 16), (2, 3, 2), 1),
    ((2, 9, 7, 16), (4, 2), "same"),  # padding (1, 2) and (0, 1): one gap of 2 and of 1
    ((2, 6, 5, 16), (3, 3), 0),  # no padding: no gaps
    ((1, 4, 5, 16), (2, 2), 3),  # padding wider than the kernel: output larger than input
    ((3, 10, 16), (3,), (4,)),
]


@pytest.fixture(params=["blas", "numpy"])
def gemm_path(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setattr(gemm, "_GEMM", {})
    elif not gemm.blas_accumulates():
        pytest.skip("NumPy's BLAS not found: only the NumPy formula runs here")
    return request.param


def run(x, w, b, padding, g, path, monkeypatch):
    monkeypatch.setattr(conv_ops, "_SHIFTED_MIN_CHANNELS", 1 if path == "shifted" else 10**9)
    monkeypatch.setattr(conv_ops, "_SHIFTED_MIN_ROWS", 1)
    xt, wt, bt = (dl.tensor(v, requires_grad=True) for v in (x, w, b))
    y = CONV[x.ndim - 2](xt, wt, bt, padding=padding)
    assert conv_ops.conv_path(x, (1,) * (x.ndim - 2)) == path
    (y * dl.tensor(g)).sum().backward()
    return y.numpy(), xt.grad, wt.grad, bt.grad


@pytest.mark.parametrize("shape,kernel,padding", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_im2col(rng, monkeypatch, gemm_path, shape, kernel, padding, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(kernel + (shape[-1], 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    ref_out = CONV[len(kernel)](x, w, b, padding=padding).shape
    g = rng.standard_normal(ref_out).astype(dtype)
    fast = run(x, w, b, padding, g, "shifted", monkeypatch)
    ref = run(x, w, b, padding, g, "im2col", monkeypatch)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    for got, want in zip(fast, ref):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape,kernel,padding", CASES[:2] + CASES[4:])
def test_gradient_check(rng, monkeypatch, gemm_path, shape, kernel, padding):
    monkeypatch.setattr(conv_ops, "_SHIFTED_MIN_CHANNELS", 1)
    monkeypatch.setattr(conv_ops, "_SHIFTED_MIN_ROWS", 1)
    small = (2,) + shape[1:-1] + (3,)
    x = rng.standard_normal(small)
    w = rng.standard_normal(kernel + (3, 2))
    b = rng.standard_normal(2)
    conv = CONV[len(kernel)]
    weights = rng.standard_normal(conv(x, w, b, padding=padding).shape)
    diff = dl.gradient_check(lambda x, w, b: (conv(x, w, b, padding=padding)
                                              * dl.tensor(weights)).sum(), [x, w, b])
    assert diff < 2e-7


def test_chosen_for_stride_one_many_channels_and_positions_only():
    many = np.zeros((8, 34, 34, conv_ops._SHIFTED_MIN_CHANNELS), np.float32)
    few = np.zeros((8, 34, 34, 3), np.float32)
    assert conv_ops.conv_path(many, (1, 1)) == "shifted"
    assert conv_ops.conv_path(many, (2, 1)) == "im2col"
    assert conv_ops.conv_path(few, (1, 1)) == "im2col"
    assert conv_ops.conv_path(many[:1], (1, 1)) == "im2col"  # batch 1: one GEMM wins


def test_frozen_input_or_weights(rng, monkeypatch):
    monkeypatch.setattr(conv_ops, "_SHIFTED_MIN_ROWS", 1)
    x = rng.standard_normal((2, 6, 6, 16))
    w = rng.standard_normal((3, 3, 16, 4))
    xa, wa = dl.tensor(x, requires_grad=True), dl.tensor(w, requires_grad=True)
    dl.conv2d(xa, wa, padding=1).sum().backward()  # both wanted
    wt = dl.tensor(w, requires_grad=True)
    dl.conv2d(dl.tensor(x), wt, padding=1).sum().backward()  # only dW wanted
    xt = dl.tensor(x, requires_grad=True)
    dl.conv2d(xt, dl.tensor(w), padding=1).sum().backward()  # only dx wanted
    np.testing.assert_allclose(wt.grad, wa.grad, rtol=1e-12)
    np.testing.assert_allclose(xt.grad, xa.grad, rtol=1e-12)
    # dx of a sum: each input position counts the kernel weights that reach it
    assert np.allclose(xa.grad[:, 2:4, 2:4], w.sum(axis=(0, 1, 3)))


def test_a_small_network_learns_the_same_on_both_paths(monkeypatch):
    """Conv(16 -> 16) + BN + ReLU + GAP + Linear trained by SGD: the shifted path learns (the
    loss falls) and follows the im2col path's trajectory step for step (float64)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 6, 16))
    y = (x[..., :8].mean(axis=(1, 2, 3)) > x[..., 8:].mean(axis=(1, 2, 3))).astype(np.int64)

    def train(path):
        monkeypatch.setattr(conv_ops, "_SHIFTED_MIN_CHANNELS", 1 if path == "shifted" else 10**9)
        monkeypatch.setattr(conv_ops, "_SHIFTED_MIN_ROWS", 1)
        dl.manual_seed(0)
        nn = dl.nn
        model = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                              nn.Conv2d(16, 16, 3, padding="same"), nn.GlobalAvgPool2d(),
                              nn.Linear(16, 2))
        for p in model.parameters():
            p.data = p.data.astype(np.float64)
        opt = dl.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for _ in range(30):
            opt.zero_grad()
            loss = dl.cross_entropy(model(dl.tensor(x)), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.data.copy() for p in model.parameters()]

    shifted_losses, shifted_params = train("shifted")
    im2col_losses, im2col_params = train("im2col")
    assert shifted_losses[-1] < 0.5 * shifted_losses[0]
    np.testing.assert_allclose(shifted_losses, im2col_losses, rtol=1e-9)
    for a, b in zip(shifted_params, im2col_params):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
