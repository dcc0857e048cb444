"""scaled_dot_product_attention and its masks: NumPy reference, float64 gradient checks with
and without masks, PyTorch forward and gradients, dropout, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import DTypeError, ShapeError
from dlkit.ops.attention import causal_mask, padding_mask
from dlkit.ops.attention import scaled_dot_product_attention as sdpa


def reference(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, s, -1e300)
    e = np.exp(s - s.max(-1, keepdims=True))
    if mask is not None:
        e = e * mask
    p = e / e.sum(-1, keepdims=True)
    return p @ v, p


def qkv(rng, m=2, h=3, tq=4, tk=5, dk=6, dv=7):
    return (rng.standard_normal((m, h, tq, dk)), rng.standard_normal((m, h, tk, dk)),
            rng.standard_normal((m, h, tk, dv)))


def pad_mask_of(m=2, tk=5):
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])[:m, :tk]
    return padding_mask(ids)[:, None]  # (m, 1, 1, T_k): over heads and queries


def test_masks():
    np.testing.assert_array_equal(causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(causal_mask(2, 4), [[1, 1, 1, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(padding_mask([[5, 6, 0]]), [[[True, True, False]]])
    assert padding_mask([[5, 6, 0]]).shape == (1, 1, 3)


@pytest.mark.parametrize("kind", ["none", "padding", "causal", "both"])
def test_forward_matches_reference(rng, kind):
    q, k, v = qkv(rng, tq=5)
    mask = {"none": None, "padding": pad_mask_of(), "causal": causal_mask(5),
            "both": pad_mask_of() & causal_mask(5)}[kind]
    out, p = sdpa(q, k, v, mask, return_weights=True)
    ref, ref_p = reference(q, k, v, mask)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(p.numpy(), ref_p, atol=1e-12)
    np.testing.assert_allclose(p.numpy().sum(-1), 1, atol=1e-12)
    if mask is not None:
        assert (p.numpy()[~np.broadcast_to(mask, p.shape)] == 0).all()


@pytest.mark.parametrize("kind", ["none", "padding", "causal"])
def test_gradient_check(rng, kind):
    q, k, v = qkv(rng, m=2, h=2, tq=3, tk=4, dk=3, dv=2)
    mask = {"none": None, "padding": padding_mask([[1, 2, 0, 0], [1, 2, 3, 4]])[:, None],
            "causal": causal_mask(3, 4)}[kind]
    w = rng.standard_normal((2, 2, 3, 2))
    diff = dl.gradient_check(lambda q, k, v: (sdpa(q, k, v, mask) * w).sum(), [q, k, v])
    assert diff < 2e-7


def test_gradient_check_with_dropout(rng):
    q, k, v = qkv(rng, m=1, h=2, tq=3, tk=3, dk=2, dv=2)
    w = rng.standard_normal((1, 2, 3, 2))

    def f(q, k, v):
        dl.manual_seed(5)  # the same dropout mask at every evaluation
        return (sdpa(q, k, v, causal_mask(3), dropout=0.3) * w).sum()
    assert dl.gradient_check(f, [q, k, v]) < 2e-7


def test_dropout_uses_dlkit_generator_and_keeps_the_expectation(rng):
    q, k, v = qkv(rng, m=1, h=1, tq=2, tk=400, dk=2, dv=1)
    v = np.ones_like(v)
    dl.manual_seed(0)
    a = sdpa(q, k, v, dropout=0.5).numpy()
    dl.manual_seed(0)
    b = sdpa(q, k, v, dropout=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, sdpa(q, k, v).numpy(), atol=1e-3)
    np.testing.assert_allclose(a, 1.0, atol=0.25)  # E[P~ 1] = 1


def test_fully_masked_rows_are_finite_zero_and_their_gradients_zero(rng):
    q, k, v = qkv(rng, m=1, h=1, tq=2, tk=3)
    mask = np.array([[True, True, False], [False, False, False]])
    Q, K, V = (dl.Tensor(a, requires_grad=True) for a in (q, k, v))
    out = sdpa(Q, K, V, mask)
    out.sum().backward()
    assert np.isfinite(out.numpy()).all() and (out.numpy()[..., 1, :] == 0).all()
    assert np.isfinite(Q.grad).all() and (Q.grad[..., 1, :] == 0).all()
    assert (V.grad[..., 2, :] == 0).all()  # the masked key gets no gradient


def test_extreme_scores_stay_finite(rng):
    q, k, v = (a.astype(np.float32) for a in qkv(rng))
    out = sdpa(q * 1e4, k * 1e4, v, causal_mask(4, 5))
    assert out.dtype == np.float32 and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("kind", ["none", "padding", "causal"])
def test_matches_torch(rng, kind):
    torch = pytest.importorskip("torch")
    q, k, v = qkv(rng, tq=5)
    mask = {"none": None, "padding": pad_mask_of(), "causal": causal_mask(5)}[kind]
    gy = rng.standard_normal((2, 3, 5, 7))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ty = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=None if mask is None else torch.tensor(mask))
    ty.backward(torch.tensor(gy))
    Q, K, V = (dl.Tensor(a, requires_grad=True) for a in (q, k, v))
    y = sdpa(Q, K, V, mask)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    for mine, theirs in ((Q, tq), (K, tk), (V, tv)):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), atol=1e-11)


def test_bad_input_names_both_shapes(rng):
    q, k, v = qkv(rng)
    with pytest.raises(ShapeError, match=r"\(2, 3, 4, 5\).*got mask of shape \(4, 4\)"):
        sdpa(q, k, v, causal_mask(4))
    with pytest.raises(DTypeError, match="boolean mask"):
        sdpa(q, k, v, np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"same d_k.*\(2, 3, 4, 6\).*\(2, 3, 5, 2\)"):
        sdpa(q, k[..., :2], v)
    with pytest.raises(ShapeError, match="same T_k"):
        sdpa(q, k, v[..., :3, :])
    with pytest.raises(ValueError, match=r"T_q <= T_k"):
        causal_mask(4, 2)
