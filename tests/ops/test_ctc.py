"""CTC loss: a brute-force reference, PyTorch's ctc_loss (forward and gradient), gradient
checks in float64, long inputs, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops.activation import log_softmax
from dlkit.ops.ctc import ctc_loss


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _collapse(path, blank=0):
    out, prev = [], None
    for k in path:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


def _brute_force(lp, label, blank=0):
    """-log sum over every path of T steps that collapses to label (the definition)."""
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        if _collapse(path, blank) == list(label):
            total += np.exp(sum(lp[t, k] for t, k in enumerate(path)))
    return -np.log(total)


def _batch(seed=0, m=5, T=14, C=6, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((m, T, C)).astype(dtype)
    # repeated labels, an empty target, different input lengths
    tg = np.array([[1, 1, 2, 0, 0], [3, 0, 0, 0, 0], [0, 0, 0, 0, 0], [2, 3, 2, 4, 4],
                   [5, 5, 5, 1, 2]])[:m]
    tl = np.array([3, 1, 0, 5, 5])[:m]
    il = np.array([T, 7, 5, T - 3, T])[:m]
    return z, tg, il, tl


def test_equals_the_definition_by_enumerating_paths():
    rng = np.random.default_rng(0)
    for label in ([1], [1, 1], [1, 2], [2, 1, 2], []):
        lp = _log_softmax(rng.standard_normal((5, 3)))
        ours = ctc_loss(lp[None], np.array([label + [0] * (3 - len(label))]), [5],
                        [len(label)], reduction="sum").item()
        assert ours == pytest.approx(_brute_force(lp, label), rel=1e-10)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_forward_and_gradient_equal_torch(reduction):
    torch = pytest.importorskip("torch")
    z, tg, il, tl = _batch()
    zt = dl.Tensor(z, requires_grad=True)
    loss = ctc_loss(log_softmax(zt, axis=-1), tg, il, tl, reduction=reduction)
    ref_z = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.ctc_loss(torch.log_softmax(ref_z, -1).transpose(0, 1),
                                       torch.tensor(tg), torch.tensor(il), torch.tensor(tl),
                                       reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), ref.detach().numpy(), rtol=1e-10)
    seed = np.random.default_rng(1).standard_normal(loss.shape)
    (loss * dl.Tensor(seed)).sum().backward()
    (ref * torch.tensor(seed)).sum().backward()
    np.testing.assert_allclose(zt.grad, ref_z.grad.numpy(), atol=1e-10)
    # "mean" divides each example by its target length (at least 1), then averages
    if reduction == "mean":
        per = ctc_loss(log_softmax(dl.Tensor(z), axis=-1), tg, il, tl, reduction="none")
        assert loss.item() == pytest.approx((per.numpy() / np.maximum(tl, 1)).mean())


def test_concatenated_targets_equal_padded_and_float32_equals_torch():
    torch = pytest.importorskip("torch")
    z, tg, il, tl = _batch(seed=2, dtype=np.float32)
    flat = np.concatenate([row[:n] for row, n in zip(tg, tl)])
    lp = _log_softmax(z)
    a = ctc_loss(lp, tg, il, tl, reduction="none").numpy()
    b = ctc_loss(lp, flat, il, tl, reduction="none").numpy()
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    ref = torch.nn.functional.ctc_loss(torch.tensor(lp).transpose(0, 1), torch.tensor(flat),
                                       torch.tensor(il), torch.tensor(tl), reduction="none")
    np.testing.assert_allclose(a, ref.numpy(), rtol=1e-5)


def test_gradient_check_float64():
    z, tg, il, tl = _batch(seed=3, m=4, T=8, C=6)
    tl = np.array([3, 1, 0, 3])
    lp = _log_softmax(z)
    for reduction in ("mean", "sum"):
        assert dl.gradient_check(lambda x, r=reduction: ctc_loss(x, tg, il, tl, reduction=r),
                                 [lp]) < 2e-7
    w = np.random.default_rng(4).standard_normal(4)
    assert dl.gradient_check(
        lambda x: (ctc_loss(x, tg, il, tl, reduction="none") * dl.Tensor(w)).sum(), [lp]) < 2e-7
    # through the log-softmax, as a model trains it
    assert dl.gradient_check(
        lambda x: ctc_loss(log_softmax(x, axis=-1), tg, il, tl), [z]) < 2e-7


def test_long_input_is_finite_and_steps_past_the_length_get_no_gradient():
    rng = np.random.default_rng(5)
    T = 1000
    z = dl.Tensor(rng.standard_normal((2, T, 28)).astype(np.float32) * 5, requires_grad=True)
    tg = rng.integers(1, 28, (2, 120))
    loss = ctc_loss(log_softmax(z, axis=-1), tg, [T, 600], [120, 80])
    assert np.isfinite(loss.item()) and loss.item() > 0
    loss.backward()
    assert np.isfinite(z.grad).all()
    np.testing.assert_array_equal(z.grad[1, 600:], 0.0)
    assert np.abs(z.grad[1, :600]).sum() > 0


def test_impossible_alignment_is_inf_or_zero_with_zero_infinity():
    lp = _log_softmax(np.random.default_rng(6).standard_normal((1, 3, 4)))
    # "1 1" needs a blank between the repeats: 3 steps, fine; "1 1 1" needs 5 steps
    assert np.isfinite(ctc_loss(lp, [[1, 1]], [3], [2]).item())
    assert ctc_loss(lp, [[1, 1, 1]], [3], [3]).item() == np.inf
    x = dl.Tensor(lp, requires_grad=True)
    loss = ctc_loss(x, [[1, 1, 1]], [3], [3], zero_infinity=True)
    loss.backward()
    assert loss.item() == 0.0 and np.all(x.grad == 0)


def test_bad_input_is_a_clear_error():
    lp = _log_softmax(np.zeros((2, 5, 4)))
    with pytest.raises(dl.ShapeError, match=r"\(m, T, C\)"):
        ctc_loss(lp[0], [[1]], [5], [1])
    with pytest.raises(ValueError, match="batch-first"):
        ctc_loss(lp, [[1], [2]], [6, 5], [1, 1])
    with pytest.raises(ValueError, match="other than the blank"):
        ctc_loss(lp, [[0], [2]], [5, 5], [1, 1])
    with pytest.raises(ValueError, match="other than the blank"):
        ctc_loss(lp, [[4], [2]], [5, 5], [1, 1])
    with pytest.raises(dl.ShapeError, match="sum\\(target_lengths\\)"):
        ctc_loss(lp, np.array([1, 2, 3]), [5, 5], [1, 1])
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss(lp, [[1], [2]], [5, 5], [1, 1], reduction="avg")
    with pytest.raises(TypeError, match="integer targets"):
        ctc_loss(lp, np.array([[1.5], [2]]), [5, 5], [1, 1])
