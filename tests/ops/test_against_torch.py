"""Every registry op against PyTorch: forward values and the gradient of every input."""

from __future__ import annotations

import numpy as np
import pytest
from op_registry import BY_NAME, CASES, FAMILIES, TORCH_CASES, torch_batch_norm, upstream_weights

import dlkit as dl

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-12
RTOL32, ATOL32 = 2e-5, 2e-6


def _run_dlkit(case, inputs, requires_grad):
    xs = [dl.tensor(x, requires_grad=r) for x, r in zip(inputs, requires_grad)]
    out = case.f(*xs)
    (out * upstream_weights(out.shape, out.dtype)).sum().backward()
    return out, xs


def _run_torch(case, inputs, requires_grad):
    xs = [torch.tensor(x, requires_grad=r) for x, r in zip(inputs, requires_grad)]
    out = case.torch_f(*xs)
    w = torch.from_numpy(upstream_weights(tuple(out.shape), inputs[0].dtype))
    (out * w).sum().backward()
    return out, xs


def _assert_close(a, b, rtol, atol, what):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.name)
def test_forward_and_gradients_match_torch(case):
    every = [True] * len(case.inputs)
    out, xs = _run_dlkit(case, case.inputs, every)
    t_out, t_xs = _run_torch(case, case.inputs, every)
    assert out.shape == tuple(t_out.shape)
    assert out.dtype == np.float64
    _assert_close(out.numpy(), t_out.detach().numpy(), RTOL, ATOL, "forward")
    for i, (x, tx) in enumerate(zip(xs, t_xs)):
        assert x.grad.shape == tuple(tx.shape)
        _assert_close(x.grad, tx.grad.numpy(), RTOL, ATOL, f"grad of input {i}")


MULTI_INPUT = [c for c in TORCH_CASES if len(c.inputs) > 1]


@pytest.mark.parametrize("case", MULTI_INPUT, ids=lambda c: c.name)
def test_only_inputs_that_require_grad_get_one(case):
    """The backward's needs_grad shortcuts: only the last input requires grad."""
    flags = [False] * (len(case.inputs) - 1) + [True]
    out, xs = _run_dlkit(case, case.inputs, flags)
    _, t_xs = _run_torch(case, case.inputs, flags)
    assert all(x.grad is None for x in xs[:-1])
    _assert_close(xs[-1].grad, t_xs[-1].grad.numpy(), RTOL, ATOL, "grad of the last input")


# torchvision's ops: torchvision does not install beside torch 2.13.0 here, so their reference is
# the NumPy one written from torchvision's definitions (tests/ops/numpy_refs.py)
TORCHVISION_ONLY = {"roi_pool", "roi_align"}


def test_torch_cases_cover_every_op():
    """Dropout's mask comes from dlkit's generator, so only its eval mode has a reference."""
    covered = {c.op for c in TORCH_CASES}
    assert covered == {c.op for c in CASES} - TORCHVISION_ONLY
    assert all(c.torch_f is None for c in CASES if c.name.startswith("dropout/p="))


FLOAT32_CASES = {
    "elementwise": "div/3x1_1x4",
    "reduction": "logsumexp/axis=(0, 2),keepdims=False",
    "shape": "getitem/int_array_repeated",
    "linalg": "linear/3d_input",
    "activation": "log_softmax/axis=0",
    "loss": "cross_entropy/labels_mean",
    "normalization": "batch_norm/train_4d_channels_last",
    "dropout": "dropout/eval_identity",
    "conv": "conv2d/c12_s2_p1",
    "pool": "max_pool2d/3x3_stride2",
    "recurrent": "lstm/sequence",
}


def test_float32_cases_cover_every_family():
    assert sorted(FLOAT32_CASES) == FAMILIES
    assert all(BY_NAME[n].family == fam for fam, n in FLOAT32_CASES.items())


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES.values()))
def test_float32_matches_torch_and_stays_float32(name):
    case = BY_NAME[name]
    inputs = [x.astype(np.float32) for x in case.inputs]
    every = [True] * len(inputs)
    out, xs = _run_dlkit(case, inputs, every)
    t_out, t_xs = _run_torch(case, inputs, every)
    assert out.dtype == np.float32
    _assert_close(out.numpy(), t_out.detach().numpy(), RTOL32, ATOL32, "forward")
    for x, tx in zip(xs, t_xs):
        assert x.grad.dtype == np.float32
        _assert_close(x.grad, tx.grad.numpy(), RTOL32, ATOL32, "grad")


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 2, 5)], ids=["2d", "4d_channels_last"])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["arrays", "tensors"])
def test_batch_norm_running_statistics_match_torch(shape, as_tensor):
    """PyTorch's convention: running = (1 - momentum) running + momentum batch, with the
    unbiased batch variance in running_var; eval mode then uses the running statistics."""
    rng = np.random.default_rng(1)
    c = shape[-1]
    gamma, beta = rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
    rm, rv = np.zeros(c), np.ones(c)
    t_rm, t_rv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    d_rm, d_rv = (dl.tensor(rm), dl.tensor(rv)) if as_tensor else (rm, rv)
    for _ in range(3):
        x = 2.0 * rng.standard_normal(shape) + 3.0
        y = dl.batch_norm(x, gamma, beta, d_rm, d_rv, training=True, momentum=0.2)
        t_y = torch_batch_norm(torch.tensor(x), torch.tensor(gamma), torch.tensor(beta),
                               t_rm, t_rv, training=True, momentum=0.2)
        _assert_close(y.numpy(), t_y.numpy(), RTOL, ATOL, "train forward")
    got_rm = d_rm.numpy() if as_tensor else rm
    got_rv = d_rv.numpy() if as_tensor else rv
    assert not np.allclose(got_rm, 0.0) and not np.allclose(got_rv, 1.0)
    _assert_close(got_rm, t_rm.numpy(), RTOL, ATOL, "running_mean")
    _assert_close(got_rv, t_rv.numpy(), RTOL, ATOL, "running_var")
    x = rng.standard_normal(shape)
    y = dl.batch_norm(x, gamma, beta, d_rm, d_rv, training=False)
    t_y = torch_batch_norm(torch.tensor(x), torch.tensor(gamma), torch.tensor(beta),
                           t_rm, t_rv, training=False)
    _assert_close(y.numpy(), t_y.numpy(), RTOL, ATOL, "eval forward")


def test_batch_norm_float32_running_statistics_stay_float32():
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    x = dl.tensor(np.random.default_rng(2).standard_normal((6, 3)).astype(np.float32))
    y = dl.batch_norm(x, None, None, rm, rv, training=True)
    assert y.dtype == np.float32 and rm.dtype == np.float32 and rv.dtype == np.float32
    t_rm, t_rv = torch.zeros(3), torch.ones(3)
    torch.nn.functional.batch_norm(torch.from_numpy(x.numpy()), t_rm, t_rv, training=True)
    _assert_close(rm, t_rm.numpy(), RTOL32, ATOL32, "running_mean")
    _assert_close(rv, t_rv.numpy(), RTOL32, ATOL32, "running_var")
