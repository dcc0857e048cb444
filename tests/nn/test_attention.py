"""The attention layer and the exercise's attention model: formula references, float64 gradient
checks, PyTorch, and the clear errors."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.nn.attention import SCORES, Attention, AttentionDecoder, AttentionModel
from dlkit.ops.attention_context import attention_context


def _np_softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_attention_context_matches_formula(rng):
    e, a = rng.normal(size=(3, 5)), rng.normal(size=(3, 5, 4))
    ctx, alpha = attention_context(e, a)
    ref_alpha = _np_softmax(e, 1)
    np.testing.assert_allclose(alpha.data, ref_alpha, rtol=1e-12)
    np.testing.assert_allclose(ctx.data, np.einsum("mt,mtn->mn", ref_alpha, a), rtol=1e-12)
    np.testing.assert_allclose(alpha.data.sum(axis=1), 1.0)


def test_attention_context_mask_and_extremes(rng):
    e, a = rng.normal(size=(2, 4)) * 1e4, rng.normal(size=(2, 4, 3))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    ctx, alpha = attention_context(e, a, mask)
    assert np.isfinite(ctx.data).all()
    assert (alpha.data[0, 2:] == 0).all()
    np.testing.assert_allclose(alpha.data.sum(axis=1), 1.0)


@pytest.mark.parametrize("masked", [False, True])
def test_attention_context_gradient_check(rng, masked):
    e, a, w = rng.normal(size=(3, 5)), rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 4))
    wa = rng.normal(size=(3, 5))
    mask = (np.arange(5) < np.array([[5], [3], [1]])).astype(float) if masked else None

    def f(e, a):
        ctx, alpha = attention_context(e, a, mask)
        return (ctx * w).sum() + (alpha * wa).sum()  # both outputs carry a gradient

    assert dl.gradient_check(f, [e, a]) < 2e-7


def test_attention_context_matches_torch(rng):
    torch = pytest.importorskip("torch")
    e, a, g = rng.normal(size=(3, 5)), rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 4))
    te, ta = torch.tensor(e, requires_grad=True), torch.tensor(a, requires_grad=True)
    tctx = torch.einsum("mt,mtn->mn", torch.softmax(te, 1), ta)
    (tctx * torch.tensor(g)).sum().backward()
    de, da = dl.tensor(e, requires_grad=True), dl.tensor(a, requires_grad=True)
    ctx, _ = attention_context(de, da)
    (ctx * g).sum().backward()
    np.testing.assert_allclose(ctx.data, tctx.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(de.grad, te.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(da.grad, ta.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_course_score_matches_the_exercise_formula(rng):
    dl.set_default_dtype("float64")
    dl.manual_seed(0)
    att = Attention(n_s=6, n_a=4, score="course", hidden=10)
    s, a = rng.normal(size=(2, 6)), rng.normal(size=(2, 5, 4))
    ctx, alpha = att(s, a)
    W1, b1 = att.densor1.weight.data, att.densor1.bias.data
    W2, b2 = att.densor2.weight.data, att.densor2.bias.data
    concat = np.concatenate([a, np.repeat(s[:, None], 5, axis=1)], axis=-1)  # [a, s_prev]
    e = np.maximum(np.tanh(concat @ W1.T + b1) @ W2.T + b2, 0)[..., 0]
    ref = _np_softmax(e, 1)
    np.testing.assert_allclose(alpha.data, ref, rtol=1e-10)
    np.testing.assert_allclose(ctx.data, np.einsum("mt,mtn->mn", ref, a), rtol=1e-10)


def test_additive_and_dot_scores_match_formulas(rng):
    dl.set_default_dtype("float64")
    s, a = rng.normal(size=(2, 4)), rng.normal(size=(2, 5, 4))
    att = Attention(4, 4, "additive", hidden=7)
    e = (np.tanh(a @ att.W_a.weight.data.T + att.W_a.bias.data
                 + (s @ att.W_s.weight.data.T)[:, None]) @ att.v.weight.data.T)[..., 0]
    np.testing.assert_allclose(att(s, a)[1].data, _np_softmax(e, 1), rtol=1e-10)
    dot = Attention(4, 4, "dot")
    np.testing.assert_allclose(dot(s, a)[1].data, _np_softmax(np.einsum("mtn,mn->mt", a, s), 1),
                               rtol=1e-10)
    gen = Attention(3, 4, "general")
    s3 = s[:, :3]
    e = np.einsum("mtk,mk->mt", a @ gen.W.weight.data.T, s3)
    np.testing.assert_allclose(gen(s3, a)[1].data, _np_softmax(e, 1), rtol=1e-10)


@pytest.mark.parametrize("score", SCORES)
def test_attention_layer_gradient_check(rng, score):
    dl.set_default_dtype("float64")
    dl.manual_seed(1)
    att = Attention(4, 4, score, hidden=5)
    s, a, w = rng.normal(size=(2, 4)), rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4))
    if score == "course":  # keep relu's inputs away from its kink
        att.densor2.bias.data[:] = 3.0
    mask = np.array([[1, 1, 1], [1, 1, 0]])
    assert dl.gradient_check(lambda s, a: (att(s, a, mask=mask)[0] * w).sum(), [s, a]) < 2e-7
    if score != "dot":  # the dot score has no parameters
        assert dl.gradient_check_module(att, lambda m: (m(s, a, mask=mask)[0] * w).sum()) < 2e-7


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_attention_decoder_gradient_check(rng, cell):
    dl.set_default_dtype("float64")
    dl.manual_seed(2)
    dec = AttentionDecoder(n_a=4, n_s=3, n_in=2, cell=cell, score="additive", hidden=4)
    a, x = rng.normal(size=(2, 4, 4)), rng.normal(size=(2, 3, 2))
    w = rng.normal(size=(2, 3, 3))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]])
    assert dl.gradient_check_module(dec, lambda m: (m(a, x, mask)[0] * w).sum()) < 2e-7
    assert dl.gradient_check(lambda a, x: (dec(a, x, mask)[0] * w).sum(), [a, x]) < 2e-7


def test_attention_model_shapes_gradients_and_config(rng, tmp_path):
    dl.set_default_dtype("float64")
    dl.manual_seed(3)
    model = AttentionModel(n_x=7, n_y=5, T_y=3, n_a=3, n_s=4, hidden=4)
    model.decoder.attention.densor2.bias.data[:] = 3.0
    X = rng.integers(0, 7, size=(2, 6))
    logits, alphas = model(X, return_attention=True)
    assert logits.shape == (2, 3, 5) and alphas.shape == (2, 3, 6)
    np.testing.assert_allclose(alphas.data.sum(axis=-1), 1.0)
    y = rng.integers(0, 5, size=(2, 3))
    assert dl.gradient_check_module(model, lambda m: dl.cross_entropy(m(X), y)) < 2e-7
    dl.io.save(model, tmp_path / "m.safetensors")
    again = dl.io.load(tmp_path / "m.safetensors")
    np.testing.assert_allclose(again(X).data, logits.data)


def test_attention_model_step_matches_forward(rng):
    from dlkit.text.decode import greedy_search

    dl.manual_seed(4)
    model = AttentionModel(n_x=7, n_y=5, T_y=4, n_a=3, n_s=4)
    X = rng.integers(0, 7, size=(3, 6))
    with dl.no_grad():
        logits = model(X).data
        hyps = greedy_search(model.step, model.decoder_state(X), 0, eos_id=-1, max_len=4)
    assert [h.tokens for h in hyps] == logits.argmax(-1).tolist()


def test_attention_learns_to_copy_a_marked_position(rng):
    """A small task only attention solves easily: output the input symbol at each position."""
    dl.manual_seed(0)
    X = rng.integers(0, 6, size=(256, 5))
    model = AttentionModel(n_x=6, n_y=6, T_y=5, n_a=8, n_s=16, score="additive")
    opt = dl.optim.Adam(model.parameters(), lr=0.02)
    dl.train.fit(model, "cross_entropy", opt, X, X, epochs=25, batch_size=64, metrics=())
    with dl.no_grad():
        acc = (model(X).data.argmax(-1) == X).mean()
    assert acc > 0.9


def test_errors():
    with pytest.raises(ValueError, match="unknown score"):
        Attention(4, 4, "cosine")
    with pytest.raises(ValueError, match="n_s == n_a"):
        Attention(3, 4, "dot")
    att = Attention(4, 4)
    with pytest.raises(ShapeError, match=r"\(m, T_x, 4\)"):
        att(np.zeros((2, 4)), np.zeros((2, 3, 5)))
    with pytest.raises(ShapeError, match="s<t-1>"):
        att(np.zeros((2, 3)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="at least one unmasked"):
        attention_context(np.zeros((1, 2)), np.zeros((1, 2, 3)), np.zeros((1, 2)))
    with pytest.raises(ShapeError, match="same"):
        attention_context(np.zeros((1, 2)), np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="character ids"):
        AttentionModel(3, 3, T_y=2)(np.array([[5]]))
