"""Forward references written from the notes' formulas in plain NumPy, so the forward pass of
the ops that matter most is checked with or without PyTorch (the torch comparisons are a second
opinion, not the only one). Each test names what breaking the op would look like."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl

RNG = np.random.default_rng(7)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---- pooling: max pools over -inf padding, average pools count the zeros -----------------

def max_pool2d_ref(x, f, s, p):
    m, h, w, c = x.shape
    xp = np.full((m, h + 2 * p, w + 2 * p, c), -np.inf)
    xp[:, p:p + h, p:p + w] = x
    oh, ow = (h + 2 * p - f) // s + 1, (w + 2 * p - f) // s + 1
    out = np.empty((m, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = xp[:, i * s:i * s + f, j * s:j * s + f].max(axis=(1, 2))
    return out


def avg_pool2d_ref(x, f, s, p):
    m, h, w, c = x.shape
    xp = np.zeros((m, h + 2 * p, w + 2 * p, c))
    xp[:, p:p + h, p:p + w] = x
    oh, ow = (h + 2 * p - f) // s + 1, (w + 2 * p - f) // s + 1
    out = np.empty((m, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = xp[:, i * s:i * s + f, j * s:j * s + f].mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("f,s,p", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 1)])
def test_max_pool_pads_with_minus_infinity(f, s, p):
    # all-negative inputs: a max pool padded with 0 instead of -inf returns 0 at the borders
    x = -np.abs(RNG.normal(size=(2, 5, 6, 3))) - 0.1
    out = dl.max_pool2d(x, f, s, padding=p).data
    np.testing.assert_allclose(out, max_pool2d_ref(x, f, s, p), rtol=0, atol=0)
    assert (out < 0).all()


@pytest.mark.parametrize("f,s,p", [(2, 2, 0), (3, 1, 1), (3, 2, 1)])
def test_avg_pool_counts_zero_padding(f, s, p):
    x = RNG.normal(size=(2, 5, 6, 3))
    np.testing.assert_allclose(dl.avg_pool2d(x, f, s, padding=p).data,
                               avg_pool2d_ref(x, f, s, p), rtol=1e-12, atol=1e-12)


# ---- batch norm: the running variance is the unbiased batch variance ---------------------

def test_batch_norm_training_output_and_unbiased_running_variance():
    m, n, momentum, eps = 8, 5, 0.1, 1e-5
    z = RNG.normal(1.0, 2.0, size=(m, n))
    gamma, beta = RNG.normal(size=n), RNG.normal(size=n)
    layer = dl.nn.BatchNorm1d(n, momentum=momentum, eps=eps, dtype="float64")
    layer.gamma.data[...], layer.beta.data[...] = gamma, beta
    out = layer(z).data
    mu, var = z.mean(axis=0), z.var(axis=0)          # the notes: 1/m sum, 1/m sum (z - mu)^2
    np.testing.assert_allclose(out, gamma * (z - mu) / np.sqrt(var + eps) + beta, rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean, momentum * mu, rtol=1e-12)
    unbiased = z.var(axis=0, ddof=1)                  # as PyTorch: m / (m - 1) times var
    np.testing.assert_allclose(layer.running_var, (1 - momentum) * 1.0 + momentum * unbiased,
                               rtol=1e-12)
    layer.eval()
    np.testing.assert_allclose(
        layer(z).data, gamma * (z - layer.running_mean) / np.sqrt(layer.running_var + eps) +
        beta, rtol=1e-12)


# ---- recurrent cells: the notes' equations step by step ----------------------------------

def lstm_ref(x, W, b, n_a):
    m, T, _ = x.shape
    a, c, outs = np.zeros((m, n_a)), np.zeros((m, n_a)), []
    for t in range(T):
        z = np.concatenate([a, x[:, t]], axis=1) @ W.T + b
        gf, gu = _sigmoid(z[:, :n_a]), _sigmoid(z[:, n_a:2 * n_a])
        cc, go = np.tanh(z[:, 2 * n_a:3 * n_a]), _sigmoid(z[:, 3 * n_a:])
        c = gf * c + gu * cc
        a = go * np.tanh(c)
        outs.append(a)
    return np.stack(outs, axis=1), c


def gru_ref(x, W, b, n_a):
    m, T, n_x = x.shape
    c, outs = np.zeros((m, n_a)), []
    for t in range(T):
        xt = x[:, t]
        gu = _sigmoid(np.concatenate([c, xt], 1) @ W[:n_a].T + b[:n_a])
        gr = _sigmoid(np.concatenate([c, xt], 1) @ W[n_a:2 * n_a].T + b[n_a:2 * n_a])
        cc = np.tanh(np.concatenate([gr * c, xt], 1) @ W[2 * n_a:].T + b[2 * n_a:])
        c = gu * cc + (1 - gu) * c
        outs.append(c)
    return np.stack(outs, axis=1)


def rnn_ref(x, W, b):
    m, T, _ = x.shape
    a, outs = np.zeros((m, W.shape[0])), []
    for t in range(T):
        a = np.tanh(np.concatenate([a, x[:, t]], 1) @ W.T + b)
        outs.append(a)
    return np.stack(outs, axis=1)


def test_lstm_forward_equals_the_notes_equations_and_the_forget_bias_starts_at_one():
    dl.manual_seed(0)
    n_x, n_a = 3, 4
    layer = dl.nn.LSTM(n_x, n_a, return_sequences=True, dtype="float64")
    b = layer.bias.data
    # documented: the forget-gate bias (the first n_a entries) starts at 1, the rest are small
    np.testing.assert_array_equal(b[:n_a], 1.0)
    assert np.abs(b[n_a:]).max() <= 1 / np.sqrt(n_a)
    x = RNG.normal(size=(2, 5, n_x))
    a, c = lstm_ref(x, layer.weight.data, b, n_a)
    np.testing.assert_allclose(layer(x).data, a, rtol=1e-12, atol=1e-13)


def test_gru_and_rnn_forward_equal_the_notes_equations():
    x = RNG.normal(size=(2, 6, 3))
    W, b = RNG.normal(size=(3 * 4, 4 + 3)) * 0.5, RNG.normal(size=12) * 0.1
    np.testing.assert_allclose(dl.gru(x, W, b)[0].data, gru_ref(x, W, b, 4), rtol=1e-12,
                               atol=1e-13)
    W, b = RNG.normal(size=(4, 7)) * 0.5, RNG.normal(size=4) * 0.1
    np.testing.assert_allclose(dl.rnn(x, W, b)[0].data, rnn_ref(x, W, b), rtol=1e-12,
                               atol=1e-13)


# ---- convolution and the losses ----------------------------------------------------------

def conv2d_ref(x, W, b, s, p):
    m, h, w, _ = x.shape
    f, _, _, n_c = W.shape
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    oh, ow = (h + 2 * p - f) // s + 1, (w + 2 * p - f) // s + 1
    out = np.empty((m, oh, ow, n_c))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * s:i * s + f, j * s:j * s + f]          # the notes' a_slice_prev
            out[:, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [0, 1, 2])) + b
    return out


@pytest.mark.parametrize("s,p", [(1, 0), (1, 1), (2, 1)])
def test_conv2d_equals_the_notes_loop(s, p):
    x, W, b = RNG.normal(size=(2, 6, 5, 3)), RNG.normal(size=(3, 3, 3, 4)), RNG.normal(size=4)
    np.testing.assert_allclose(dl.conv2d(x, W, b, stride=s, padding=p).data,
                               conv2d_ref(x, W, b, s, p), rtol=1e-11, atol=1e-12)


def test_losses_and_softmax_equal_their_formulas():
    z = RNG.normal(size=(6, 4)) * 3
    labels = RNG.integers(0, 4, size=6)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(dl.log_softmax(z).data, log_p, rtol=1e-12)
    np.testing.assert_allclose(dl.softmax(z).data, np.exp(log_p), rtol=1e-12)
    np.testing.assert_allclose(dl.cross_entropy(z, labels).item(),
                               -log_p[np.arange(6), labels].mean(), rtol=1e-12)
    zb, y = RNG.normal(size=(6, 1)) * 3, RNG.integers(0, 2, size=(6, 1)).astype(float)
    a = 1 / (1 + np.exp(-zb))
    bce = -(y * np.log(a) + (1 - y) * np.log(1 - a)).mean()
    np.testing.assert_allclose(dl.binary_cross_entropy_with_logits(zb, y).item(), bce,
                               rtol=1e-12)
    np.testing.assert_allclose(dl.binary_cross_entropy(a, y).item(), bce, rtol=1e-12)
    np.testing.assert_allclose(dl.sigmoid(zb).data, a, rtol=1e-12)
