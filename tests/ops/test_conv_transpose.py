"""conv_transpose2d: a NumPy reference from the scatter formula, PyTorch after layout
conversion, the adjoint of conv2d, float64 gradient checks, the layer, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.ops.conv_transpose import conv_transpose2d, output_size


def reference(x, w, b, s, p, op=0):
    """Y[i, h*s + a - p, w*s + b - p, c] += sum_k x[i, h, w, k] W[a, b, c, k], loops."""
    m, n_h, n_w, _ = x.shape
    f, c_out = w.shape[0], w.shape[2]
    full = np.zeros((m, (n_h - 1) * s + f + op, (n_w - 1) * s + f + op, c_out))
    for h, ww, a, bb in itertools.product(range(n_h), range(n_w), range(f), range(f)):
        full[:, h * s + a, ww * s + bb] += x[:, h, ww] @ w[a, bb].T
    out_h, out_w = output_size(n_h, f, s, p, op), output_size(n_w, f, s, p, op)
    y = full[:, p:p + out_h, p:p + out_w]
    return y + (b if b is not None else 0)


CASES = [  # (n_C_prev, n_C, f, stride, padding, output_padding)
    (3, 4, 2, 2, 0, 0), (3, 2, 3, 2, 1, 1), (9, 10, 3, 1, 1, 0), (2, 3, 4, 3, 2, 2),
    (10, 9, 3, 2, 0, 0), (1, 1, 1, 1, 0, 0),
]


@pytest.mark.parametrize("c_in,c_out,f,s,p,op", CASES)
def test_matches_reference_and_torch(rng, c_in, c_out, f, s, p, op):
    x = rng.standard_normal((2, 4, 5, c_in))
    w = rng.standard_normal((f, f, c_out, c_in))
    b = rng.standard_normal(c_out)
    y = conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op).data
    np.testing.assert_allclose(y, reference(x, w, b, s, p, op), atol=1e-10)
    torch = pytest.importorskip("torch")
    yt = torch.nn.functional.conv_transpose2d(
        torch.tensor(x.transpose(0, 3, 1, 2)), torch.tensor(w.transpose(3, 2, 0, 1)),
        torch.tensor(b), stride=s, padding=p, output_padding=op)
    np.testing.assert_allclose(y, yt.numpy().transpose(0, 2, 3, 1), atol=1e-10)


def test_gradients_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4, 5))
    w = rng.standard_normal((3, 3, 6, 5))
    b = rng.standard_normal(6)
    g = rng.standard_normal((2, 7, 9, 6))
    xs, ws, bs = (dl.tensor(v, requires_grad=True) for v in (x, w, b))
    (conv_transpose2d(xs, ws, bs, stride=2, padding=0) * dl.tensor(g)).sum().backward()
    xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in
                  (x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), b))
    yt = torch.nn.functional.conv_transpose2d(xt, wt, bt, stride=2)
    (yt * torch.tensor(g.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_allclose(xs.grad, xt.grad.numpy().transpose(0, 2, 3, 1), atol=1e-10)
    np.testing.assert_allclose(ws.grad, wt.grad.numpy().transpose(2, 3, 1, 0), atol=1e-10)
    np.testing.assert_allclose(bs.grad, bt.grad.numpy(), atol=1e-10)


def test_is_the_adjoint_of_conv2d(rng):
    # <conv2d(y, W), x> = <y, conv_transpose2d(x, W)> for W (f, f, n_C, n_C_prev)
    w = rng.standard_normal((3, 3, 4, 2))
    y = rng.standard_normal((2, 9, 9, 4))
    z = dl.conv2d(y, w, stride=2, padding=1).data  # (2, 5, 5, 2)
    x = rng.standard_normal(z.shape)
    back = conv_transpose2d(x, w, stride=2, padding=1).data
    assert back.shape == y.shape
    np.testing.assert_allclose((z * x).sum(), (y * back).sum(), rtol=1e-10)


@pytest.mark.parametrize("c_in,c_out,f,s,p,op", CASES[:5])
def test_gradient_check(rng, c_in, c_out, f, s, p, op):
    x = rng.standard_normal((2, 3, 3, c_in))
    w = rng.standard_normal((f, f, c_out, c_in))
    b = rng.standard_normal(c_out)
    out = conv_transpose2d(x, w, b, s, p, op).shape
    weights = rng.standard_normal(out)
    diff = dl.gradient_check(
        lambda x, w, b: (conv_transpose2d(x, w, b, s, p, op) * dl.tensor(weights)).sum(),
        [x, w, b])
    assert diff < 2e-7


def test_same_padding_doubles_the_size(rng):
    x = rng.standard_normal((1, 5, 6, 3)).astype(np.float32)
    for f in (2, 3, 4):
        y = conv_transpose2d(x, rng.standard_normal((f, f, 2, 3)).astype(np.float32),
                             stride=2, padding="same")
        assert y.shape == (1, 10, 12, 2) and y.dtype == np.float32


def test_layer_learns_an_upsampling(rng):
    dl.manual_seed(0)
    layer = dl.nn.ConvTranspose2d(2, 1, 2, stride=2)
    x = rng.standard_normal((8, 4, 4, 2)).astype(np.float32)
    target = np.repeat(np.repeat(x[..., :1] - x[..., 1:], 2, axis=1), 2, axis=2)
    opt = dl.optim.Adam(layer.parameters(), lr=0.05)
    first = None
    for _ in range(150):
        loss = dl.mse_loss(layer(dl.tensor(x)), target)
        first = first if first is not None else float(loss.data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.data) < 1e-3 * first
    rebuilt = dl.nn.module_from_config(dl.nn.to_config(layer))
    assert isinstance(rebuilt, dl.nn.ConvTranspose2d) and rebuilt.weight.shape == (2, 2, 1, 2)


def test_errors():
    x = np.zeros((1, 4, 4, 3))
    with pytest.raises(ShapeError, match="swap the last two axes"):
        conv_transpose2d(x, np.zeros((2, 2, 3, 5)))
    with pytest.raises(ShapeError, match=r"x\[None\]"):
        conv_transpose2d(x[0], np.zeros((2, 2, 5, 3)))
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose2d(x, np.zeros((2, 2, 5, 3)), stride=2, output_padding=2)
    with pytest.raises(ShapeError, match="b of shape"):
        conv_transpose2d(x, np.zeros((2, 2, 5, 3)), np.zeros(3))
