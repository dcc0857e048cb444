"""A second backward through a freed graph raises, as in PyTorch; retain_graph keeps it."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import dlkit as dl


def _graph():
    x = dl.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    w = dl.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    loss = ((x * w).exp() + x).sum()
    return x, w, loss


def test_second_backward_raises_and_leaves_grads_alone():
    x, w, loss = _graph()
    loss.backward()
    g = x.grad.copy()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()
    np.testing.assert_array_equal(x.grad, g)  # nothing was added before the refusal


def test_retain_graph_allows_a_second_pass_that_accumulates():
    x, w, loss = _graph()
    loss.backward(retain_graph=True)
    once = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * once)
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_a_second_loss_sharing_a_freed_subgraph_raises():
    x = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x.tanh()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2.0).sum().backward()


def test_ops_that_saved_nothing_can_run_again_as_in_pytorch():
    x = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x + 1.0).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_backward_frees_the_arrays_ops_saved():
    x = dl.tensor(np.ones((4, 4)), requires_grad=True)
    h = x.exp()
    saved = weakref.ref(h.data)
    loss = (h * h).sum()
    del h
    loss.backward()
    gc.collect()
    assert saved() is None  # the loss tensor is still alive, the activations are not


def test_matches_pytorch_on_which_graphs_refuse():
    torch = pytest.importorskip("torch")
    for build in (lambda t: (t * t).sum(), lambda t: (t + 1).sum()):
        tx = torch.ones(3, dtype=torch.float64, requires_grad=True)
        ty = build(tx)
        ty.backward()
        try:
            ty.backward()
            torch_ok = True
        except RuntimeError:
            torch_ok = False
        x = dl.tensor(np.ones(3), requires_grad=True)
        y = build(x)
        y.backward()
        try:
            y.backward()
            ok = True
        except RuntimeError:
            ok = False
        assert ok == torch_ok


def test_training_steps_build_a_new_graph_each_time():
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.ReLU(), dl.nn.Linear(4, 1))
    opt = dl.optim.SGD(model.parameters(), lr=0.1)
    X = dl.tensor(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32))
    for _ in range(3):
        opt.zero_grad()
        model(X).mean().backward()
        opt.step()
