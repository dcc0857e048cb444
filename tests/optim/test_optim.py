"""Optimizers against the notes' formulas (and PyTorch where the rule is the same)."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import optim


def param(values):
    return dl.nn.Parameter(np.array(values, dtype=np.float64))


def step_with(opt_cls, grads, **kw):
    p = param([1.0, -2.0, 3.0])
    opt = opt_cls([p], **kw)
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        opt.step()
    return p.data, opt


GRADS = [[0.5, -1.0, 2.0], [0.1, 0.3, -0.2], [1.0, 1.0, 1.0]]


def test_sgd_formula():
    w, _ = step_with(optim.SGD, GRADS, lr=0.1)
    np.testing.assert_allclose(w, np.array([1.0, -2.0, 3.0]) - 0.1 * np.sum(GRADS, axis=0))


def test_momentum_formula():
    w, v = np.array([1.0, -2.0, 3.0]), np.zeros(3)
    for g in GRADS:
        v = 0.9 * v + 0.1 * np.array(g)
        w = w - 0.05 * v
    got, _ = step_with(optim.Momentum, GRADS, lr=0.05, beta=0.9)
    np.testing.assert_allclose(got, w, rtol=1e-12)


def test_rmsprop_formula():
    w, s = np.array([1.0, -2.0, 3.0]), np.zeros(3)
    for g in map(np.array, GRADS):
        s = 0.999 * s + 0.001 * g**2
        w = w - 0.01 * g / (np.sqrt(s) + 1e-8)
    got, _ = step_with(optim.RMSprop, GRADS, lr=0.01)
    np.testing.assert_allclose(got, w, rtol=1e-12)


def test_adam_formula_with_bias_correction():
    w, v, s = np.array([1.0, -2.0, 3.0]), np.zeros(3), np.zeros(3)
    for t, g in enumerate(map(np.array, GRADS), start=1):
        v = 0.9 * v + 0.1 * g
        s = 0.999 * s + 0.001 * g**2
        w = w - 0.01 * (v / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
    got, _ = step_with(optim.Adam, GRADS, lr=0.01)
    np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("name", ["Adam", "RMSprop", "SGD"])
def test_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    kw = {"Adam": {"lr": 0.01}, "RMSprop": {"lr": 0.01}, "SGD": {"lr": 0.1}}[name]
    tkw = dict(kw, alpha=0.999, eps=1e-8) if name == "RMSprop" else kw
    tp = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, name)([tp], **tkw)
    for g in GRADS:
        tp.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    got, _ = step_with(getattr(optim, name), GRADS, **kw)
    np.testing.assert_allclose(got, tp.detach().numpy(), rtol=1e-10)


def test_weight_decay_equals_l2_cost_term():
    """weight_decay = lambda/m on a mean loss == adding lambda/(2m) ||W||^2 to the cost."""
    rng = np.random.default_rng(0)
    X, W0 = rng.standard_normal((8, 3)), rng.standard_normal((2, 3))
    lam, m = 0.7, 8
    a = dl.nn.Parameter(W0.copy())
    b = dl.nn.Parameter(W0.copy())
    opt_a = optim.SGD([a], lr=0.1, weight_decay=lam / m)
    opt_b = optim.SGD([b], lr=0.1)
    for _ in range(3):
        for p, opt, penalty in ((a, opt_a, False), (b, opt_b, True)):
            opt.zero_grad()
            loss = (dl.linear(dl.tensor(X), p) ** 2).sum(axis=1).mean()
            if penalty:
                loss = loss + (lam / (2 * m)) * (p * p).sum()
            loss.backward()
            opt.step()
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


def test_weight_decay_skips_biases():
    bias = param([1.0, 1.0])
    bias.grad = np.zeros(2)
    optim.SGD([bias], lr=0.1, weight_decay=1.0).step()
    np.testing.assert_array_equal(bias.data, [1.0, 1.0])


def test_state_dict_round_trip_resumes_exactly():
    w1, opt1 = step_with(optim.Adam, GRADS[:2], lr=0.01)
    p2 = param(w1.copy())
    opt2 = optim.Adam([p2], lr=0.5)
    opt2.load_state_dict(opt1.state_dict())
    assert opt2.lr == 0.01 and opt2.step_count == 2
    for p, opt in ((opt1.params[0], opt1), (p2, opt2)):
        p.grad = np.array(GRADS[2])
        opt.step()
    np.testing.assert_array_equal(opt1.params[0].data, p2.data)
    with pytest.raises(ValueError, match="Adam"):
        optim.SGD([param([1.0])], lr=0.1).load_state_dict(opt1.state_dict())


def test_zero_grad_and_bad_arguments():
    p = param([1.0])
    p.grad = np.ones(1)
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing happens
    np.testing.assert_array_equal(p.data, [1.0])
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="beta1"):
        optim.Adam([p], beta1=1.0)
    with pytest.raises(TypeError, match="parameters"):
        optim.SGD([np.zeros(3)], lr=0.1)


def schedule_lrs(cls, epochs, **kw):
    opt = optim.SGD([param([1.0])], lr=0.2)
    sched = cls(opt, **kw)
    return [opt.lr] + [sched.step() for _ in range(epochs)]


def test_schedules_follow_the_notes():
    np.testing.assert_allclose(schedule_lrs(optim.InverseTimeDecay, 3, decay_rate=1.0),
                               [0.2, 0.1, 0.2 / 3, 0.05])
    np.testing.assert_allclose(
        schedule_lrs(optim.InverseTimeDecay, 4, decay_rate=1.0, time_interval=2, staircase=True),
        [0.2, 0.2, 0.1, 0.1, 0.2 / 3])
    np.testing.assert_allclose(schedule_lrs(optim.ExponentialDecay, 2), [0.2, 0.19, 0.1805])
    np.testing.assert_allclose(schedule_lrs(optim.InverseSqrtDecay, 3, k=1.0),
                               [0.2, 0.2 / np.sqrt(2), 0.2 / np.sqrt(3), 0.1])
    np.testing.assert_allclose(schedule_lrs(optim.StepDecay, 4, drop=0.5, every=2),
                               [0.2, 0.2, 0.1, 0.1, 0.05])


def test_clip_grad_norm_and_value():
    a, b = param([3.0]), param([4.0])
    a.grad, b.grad = np.array([3.0]), np.array([4.0])
    norm = optim.clip_grad_norm([a, b], max_norm=1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.8], rtol=1e-5)
    a.grad = np.array([-7.0])
    optim.clip_grad_value([a], 2.0)
    assert a.grad[0] == -2.0
    small = param([1.0])
    small.grad = np.array([0.5])
    assert optim.clip_grad_norm([small], 1.0) == 0.5 and small.grad[0] == 0.5
