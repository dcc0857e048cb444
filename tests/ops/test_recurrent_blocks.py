"""The fast paths of the recurrent ops (gates stored block by block in the op's own order,
sigmoid gates from one tanh of pre-halved rows, backward factors for all steps at once)
against a plain step-by-step NumPy reference of the notes' equations, on odd sizes, with
masks and reverse; float64 gradient checks; PyTorch's gradients."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops import recurrent as R

M, T, NX, NA = 3, 7, 5, 5  # odd sizes
MASK = np.ones((M, T))
MASK[1, 4:] = 0
MASK[2, :2] = 0  # leading padding too (a reversed layer meets it last)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def reference(kind, x, w, b, states, mask=None, reverse=False, b_ca=None):
    """The notes' equations, one step at a time, gate blocks in the public order."""
    n = w.shape[0] // R.GATES[kind]
    a = states[0]
    c = states[1] if kind == "lstm" else None
    outs = [None] * x.shape[1]
    for t in (range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])):
        ax = np.concatenate([a, x[:, t]], axis=1)
        if kind == "rnn":
            new_a = np.tanh(ax @ w.T + b)
        elif kind == "lstm":
            z = ax @ w.T + b
            gf, gu = sigmoid(z[:, :n]), sigmoid(z[:, n:2 * n])
            cc, go = np.tanh(z[:, 2 * n:3 * n]), sigmoid(z[:, 3 * n:])
            new_c = gf * c + gu * cc
            new_a = go * np.tanh(new_c)
        else:
            z = ax @ w[:2 * n].T + b[:2 * n]
            gu, gr = sigmoid(z[:, :n]), sigmoid(z[:, n:])
            w_ca, w_cx = w[2 * n:, :n], w[2 * n:, n:]
            if b_ca is None:
                cc = np.tanh((gr * a) @ w_ca.T + x[:, t] @ w_cx.T + b[2 * n:])
            else:
                cc = np.tanh(x[:, t] @ w_cx.T + b[2 * n:] + gr * (a @ w_ca.T + b_ca))
            new_a = gu * cc + (1 - gu) * a
        if mask is not None:
            keep = mask[:, t, None]
            new_a = keep * new_a + (1 - keep) * a
            if kind == "lstm":
                new_c = keep * new_c + (1 - keep) * c
        a = new_a
        if kind == "lstm":
            c = new_c
        outs[t] = a
    return np.stack(outs, axis=1), a, c


def inputs(kind, dtype, seed=0):
    rng = np.random.default_rng(seed)
    G = R.GATES[kind]
    x = rng.standard_normal((M, T, NX))
    w = rng.standard_normal((G * NA, NA + NX)) * 0.6
    b = rng.standard_normal(G * NA) * 0.3
    states = [rng.standard_normal((M, NA)) for _ in range(2 if kind == "lstm" else 1)]
    return [v.astype(dtype) for v in (x, w, b, *states)]


def run(kind, x, w, b, states, reset_after=False, b_ca=None, **kw):
    if kind == "lstm":
        return dl.lstm(x, w, b, *states, **kw)
    if kind == "gru":
        return dl.gru(x, w, b, *states, reset_after=reset_after, recurrent_bias=b_ca, **kw)
    return dl.rnn(x, w, b, *states, **kw)


CASES = [("rnn", False), ("lstm", False), ("gru", False), ("gru", True)]


@pytest.mark.parametrize("kind,reset_after", CASES)
@pytest.mark.parametrize("mask", [None, MASK])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_equals_the_step_by_step_reference(kind, reset_after, mask, reverse, dtype):
    x, w, b, *states = inputs(kind, dtype)
    b_ca = np.linspace(-0.5, 0.5, NA).astype(dtype) if reset_after else None
    outs = run(kind, x, w, b, states, reset_after, b_ca, mask=mask, reverse=reverse)
    seq, a_last, c_last = reference(kind, x.astype(np.float64), w, b, states, mask, reverse,
                                    b_ca)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert outs[0].dtype == dtype and outs[1].dtype == dtype
    np.testing.assert_allclose(outs[0].numpy(), seq, rtol=tol, atol=tol)
    np.testing.assert_allclose(outs[1].numpy(), a_last, rtol=tol, atol=tol)
    if kind == "lstm":
        np.testing.assert_allclose(outs[2].numpy(), c_last, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind,reset_after", CASES)
@pytest.mark.parametrize("mask,reverse", [(None, True), (MASK, False), (MASK, True)])
def test_gradient_check_with_states_mask_and_reverse(kind, reset_after, mask, reverse):
    dl.set_default_dtype("float64")
    x, w, b, *states = inputs(kind, np.float64, seed=1)
    rng = np.random.default_rng(2)
    weights = [rng.standard_normal((M, T, NA)), rng.standard_normal((M, NA)),
               rng.standard_normal((M, NA))]
    extra = [np.linspace(-0.4, 0.6, NA)] if reset_after else []

    def f(x, w, b, *rest):
        states, b_ca = (rest[:-1], rest[-1]) if reset_after else (rest, None)
        outs = run(kind, x, w, b, list(states), reset_after, b_ca, mask=mask,
                   reverse=reverse)
        return sum((o * dl.tensor(v)).sum() for o, v in zip(outs, weights))

    assert dl.gradient_check(f, [x, w, b, *states, *extra]) < 2e-7


@pytest.mark.parametrize("order", [R._LSTM_ORDER, R._GRU_ORDER])
def test_gate_blocks_round_trip_to_the_public_layout(order):
    G = len(order)
    w = np.arange(G * NA * 4, dtype=np.float32).reshape(G * NA, 4)
    blocks = R._blocks(w, order)
    assert blocks.shape == (G, NA, 4)
    for j, public in enumerate(order):  # block j of the op is public block order[j]
        np.testing.assert_array_equal(blocks[j], w[public * NA:(public + 1) * NA])
    np.testing.assert_array_equal(R._rows(blocks, order), w)
    b = np.arange(G * NA, dtype=np.float32)
    np.testing.assert_array_equal(R._rows(R._blocks(b, order)[:, :, 0], order), b)
    blocks[0] = -1  # a copy: the caller's weights are never written
    assert (w >= 0).all()


def test_lstm_internal_order_is_output_forget_update_candidate():
    """The sigmoid gates (o, f, u) first, the candidate last: the layout the op relies on."""
    assert R._LSTM_ORDER == [3, 0, 1, 2]
    assert R._GRU_ORDER == [1, 0, 2]


def test_weights_are_not_changed_by_the_halved_copies():
    x, w, b, a0, c0 = inputs("lstm", np.float32)
    w0, b0 = w.copy(), b.copy()
    out = dl.lstm(x, dl.tensor(w, requires_grad=True), dl.tensor(b, requires_grad=True),
                  a0, c0)[0]
    out.sum().backward()
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("kind,reset_after", [("lstm", False), ("gru", True)])
def test_gradients_equal_pytorchs(kind, reset_after):
    torch = pytest.importorskip("torch")
    x, w, b, *states = inputs(kind, np.float64, seed=3)
    n = NA
    rng = np.random.default_rng(4)
    b_ca = rng.standard_normal(n) * 0.3 if reset_after else None
    g_seq = rng.standard_normal((M, T, n))
    if kind == "lstm":  # ours (f, u, c~, o) -> torch's (i, f, g, o)
        rows = np.r_[n:2 * n, 0:n, 2 * n:4 * n]
        module = torch.nn.LSTM(NX, n, batch_first=True).double()
        hx = tuple(torch.tensor(s[None]) for s in states)
        b_hh = np.zeros(4 * n)
    else:  # ours (u, r, c~) -> torch's (r, z, n) with z = 1 - u: the u rows negated
        rows = np.r_[n:2 * n, 0:n, 2 * n:3 * n]
        module = torch.nn.GRU(NX, n, batch_first=True).double()
        hx = torch.tensor(states[0][None])
        b_hh = np.r_[np.zeros(2 * n), b_ca]
    sign = np.ones((len(rows), 1))
    if kind == "gru":
        sign[n:2 * n] = -1
    params = {"weight_hh_l0": w[rows, :n] * sign, "weight_ih_l0": w[rows, n:] * sign,
              "bias_ih_l0": b[rows] * sign[:, 0], "bias_hh_l0": b_hh}
    params = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, requires_grad=True)
    out, _ = torch.func.functional_call(module, params, (xt, hx))
    (out * torch.tensor(g_seq)).sum().backward()

    dl.set_default_dtype("float64")
    xd, wd, bd = (dl.tensor(v, requires_grad=True) for v in (x, w, b))
    outs = run(kind, xd, wd, bd, states, reset_after, b_ca)
    (outs[0] * dl.tensor(g_seq)).sum().backward()
    np.testing.assert_allclose(outs[0].numpy(), out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), atol=1e-10)
    gw = np.zeros_like(w)
    gw[rows, :n] = params["weight_hh_l0"].grad.numpy() * sign
    gw[rows, n:] = params["weight_ih_l0"].grad.numpy() * sign
    np.testing.assert_allclose(wd.grad, gw, atol=1e-10)
    np.testing.assert_allclose(bd.grad[rows], params["bias_ih_l0"].grad.numpy() * sign[:, 0],
                               atol=1e-10)
