"""Transformer layers: multi-head attention against a per-head NumPy reference, float64
gradient checks (attention, encoder and decoder layers, inputs and weights), the positional
tables against the formula, the key/value cache, configs, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.nn.transformer import sinusoidal_table
from dlkit.ops.attention import causal_mask
from dlkit.tensor import no_grad


def keep(lengths, n):
    return np.arange(n)[None, :] < np.array(lengths)[:, None]


def test_multihead_attention_matches_per_head_reference(rng):
    d, h, m, tq, tk = 6, 3, 2, 4, 5
    mha = dl.nn.MultiHeadAttention(d, h, dtype="float64")
    q, kv = rng.standard_normal((m, tq, d)), rng.standard_normal((m, tk, d))
    mask = keep([5, 3], tk)[:, None, :]
    out, w = mha(q, kv, kv, mask=mask, return_weights=True)
    assert out.shape == (m, tq, d) and w.shape == (m, h, tq, tk)

    def proj(lin, x):
        return x @ lin.weight.data.T + lin.bias.data
    Q, K, V = proj(mha.q_proj, q), proj(mha.k_proj, kv), proj(mha.v_proj, kv)
    dk = d // h
    heads = []
    for i in range(h):
        sl = slice(i * dk, (i + 1) * dk)
        s = Q[..., sl] @ K[..., sl].swapaxes(1, 2) / math.sqrt(dk)
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        np.testing.assert_allclose(w.numpy()[:, i], p, atol=1e-12)
        heads.append(p @ V[..., sl])
    ref = proj(mha.out_proj, np.concatenate(heads, axis=-1))
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)
    assert (w.numpy()[1, :, :, 3:] == 0).all()


def test_gradient_check_multihead_attention_inputs_and_weights(rng):
    dl.set_default_dtype("float64")
    mha = dl.nn.MultiHeadAttention(4, 2)
    q, kv = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 4))
    g = rng.standard_normal((2, 3, 4))
    mask = keep([4, 2], 4)[:, None, :]
    assert dl.gradient_check(lambda q, kv: (mha(q, kv, kv, mask) * g).sum(), [q, kv]) < 2e-7
    assert dl.check.gradient_check_module(
        mha, lambda mod: (mod(q, kv, kv, mask) * g).sum()) < 2e-7


@pytest.mark.parametrize("norm_first", [False, True])
def test_gradient_check_encoder_layer(rng, norm_first):
    dl.set_default_dtype("float64")
    layer = dl.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first,
                                          activation="gelu")
    x, g = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    mask = keep([3, 2], 3)[:, None, :] & causal_mask(3)
    assert dl.gradient_check(lambda x: (layer(x, mask) * g).sum(), [x]) < 2e-7
    assert dl.check.gradient_check_module(layer, lambda mod: (mod(x, mask) * g).sum()) < 2e-7


@pytest.mark.parametrize("norm_first", [False, True])
def test_gradient_check_decoder_layer(rng, norm_first):
    dl.set_default_dtype("float64")
    layer = dl.nn.TransformerDecoderLayer(4, 2, 5, dropout=0.0, norm_first=norm_first)
    x, mem = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 4))
    g = rng.standard_normal((2, 3, 4))
    tm, mm = causal_mask(3), keep([4, 2], 4)[:, None, :]
    assert dl.gradient_check(lambda x, mem: (layer(x, mem, tm, mm) * g).sum(), [x, mem]) < 2e-7
    assert dl.check.gradient_check_module(
        layer, lambda mod: (mod(x, mem, tm, mm) * g).sum()) < 2e-7


def test_gradient_check_with_dropout_reseeded(rng):
    dl.set_default_dtype("float64")
    layer = dl.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.2)
    x, g = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))

    def f(x):
        dl.manual_seed(3)
        return (layer(x) * g).sum()
    assert dl.gradient_check(f, [x]) < 2e-7


def test_sinusoidal_table_is_the_formula():
    d = 6
    pe = sinusoidal_table(50, d)
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-15)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-15)
    assert sinusoidal_table(3, 5).shape == (3, 5)  # odd d: one more sine column


def test_positional_encodings_add_and_offset():
    pe = dl.nn.PositionalEncoding(4, max_len=20)
    x = np.zeros((2, 5, 4), np.float32)
    np.testing.assert_allclose(pe(x).numpy()[0], sinusoidal_table(5, 4), atol=1e-7)
    np.testing.assert_allclose(pe(x[:, :1], offset=3).numpy()[0, 0], sinusoidal_table(4, 4)[3],
                               atol=1e-7)
    learned = dl.nn.LearnedPositionalEncoding(4, max_len=6)
    y = learned(x)
    np.testing.assert_array_equal(y.numpy()[1], learned.weight.data[:5])
    with pytest.raises(ValueError, match=r"length 7 .*max_len=6"):
        learned(np.zeros((1, 7, 4), np.float32))
    with pytest.raises(ValueError, match=r"length 7 .*max_len=6"):
        learned(np.zeros((1, 2, 4), np.float32), offset=5)


def test_learned_positional_encoding_is_trained(rng):
    learned = dl.nn.LearnedPositionalEncoding(3, max_len=4)
    y = learned(dl.Tensor(rng.standard_normal((2, 2, 3)).astype(np.float32)))
    y.sum().backward()
    np.testing.assert_array_equal(learned.weight.grad[:2], 2.0)
    np.testing.assert_array_equal(learned.weight.grad[2:], 0.0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_key_value_cache_equals_full_causal_run(rng, norm_first):
    enc = dl.nn.TransformerEncoder(2, 8, 2, 16, dropout=0.0, norm_first=norm_first).eval()
    dec = dl.nn.TransformerDecoder(2, 8, 2, 16, dropout=0.0, norm_first=norm_first).eval()
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    mem = rng.standard_normal((2, 4, 8)).astype(np.float32)
    mm = keep([4, 2], 4)[:, None, :]
    with no_grad():
        full = enc(x, causal_mask(5)).numpy()
        full_dec = dec(x, mem, causal_mask(5), mm).numpy()
        past = past_dec = None
        steps, steps_dec = [], []
        mkv = dec.memory_kv(mem)
        for t in range(5):
            y, past = enc(x[:, t:t + 1], past_kv=past, return_kv=True)
            steps.append(y.numpy())
            y, past_dec = dec(x[:, t:t + 1], memory_mask=mm, past_kv=past_dec, memory_kv=mkv,
                              return_kv=True)
            steps_dec.append(y.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)
    np.testing.assert_allclose(np.concatenate(steps_dec, 1), full_dec, atol=1e-5)
    assert past[0][0].shape == (2, 2, 5, 4)


def test_configs_rebuild_through_save_and_load(tmp_path, rng):
    models = [dl.nn.Transformer(8, 2, 1, 2, 16, dropout=0.0, norm_first=True,
                                activation="gelu"),
              dl.nn.TransformerEncoder(2, 8, 4, 12), dl.nn.MultiHeadAttention(8, 2),
              dl.nn.LayerNorm(8), dl.nn.PositionalEncoding(8, 30),
              dl.nn.LearnedPositionalEncoding(8, 30)]
    src = rng.standard_normal((2, 3, 8)).astype(np.float32)
    tgt = rng.standard_normal((2, 4, 8)).astype(np.float32)
    for i, model in enumerate(models):
        model.eval()
        dl.io.save(model, tmp_path / f"m{i}.safetensors")
        back = dl.io.load(tmp_path / f"m{i}.safetensors").eval()
        assert type(back) is type(model) and back.get_config() == model.get_config()
        args = (src, tgt) if isinstance(model, dl.nn.Transformer) else (src,)
        np.testing.assert_array_equal(back(*args).numpy(), model(*args).numpy())


def test_post_norm_output_is_normalized_and_pre_norm_is_not(rng):
    x = rng.standard_normal((2, 3, 8)).astype(np.float32) * 5
    post = dl.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)(x).numpy()
    pre = dl.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=True)(x).numpy()
    np.testing.assert_allclose(post.mean(-1), 0, atol=1e-5)
    assert np.abs(pre.mean(-1)).max() > 0.1


def test_errors_name_both_shapes():
    with pytest.raises(ValueError, match="d_model=10 is not divisible by num_heads=4"):
        dl.nn.MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="not divisible"):
        dl.nn.TransformerEncoderLayer(10, 3)
    mha = dl.nn.MultiHeadAttention(8, 2)
    x = np.zeros((2, 3, 8), np.float32)
    with pytest.raises(ShapeError, match=r"\(m, T_q, T_k\) = \(2, 3, 3\).*got mask of shape "
                                         r"\(2, 4\)"):
        mha(x, mask=np.ones((2, 4), bool))
    with pytest.raises(ShapeError, match=r"query of shape \(m, T, 8\).*got shape \(2, 3, 6\)"):
        mha(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(TypeError, match="boolean mask"):
        mha(x, mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="activation"):
        dl.nn.TransformerEncoderLayer(8, 2, activation="swish")
