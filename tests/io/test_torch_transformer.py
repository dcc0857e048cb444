"""PyTorch import of nn.MultiheadAttention (packed in_proj split into Q, K, V), nn.LayerNorm,
nn.TransformerEncoderLayer / DecoderLayer and nn.Transformer: after the import, dlkit's
modules equal PyTorch's in eval mode, forward and gradients (inputs and every weight), with
padding and causal masks."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops.attention import causal_mask

torch = pytest.importorskip("torch")

M, T, S, D, H, FF = 2, 5, 6, 8, 2, 12
SRC_LENGTHS = [6, 4]  # the second source has 2 padded positions
TGT_LENGTHS = [5, 3]


def keep(lengths, n):
    """(m, n) True where the position is a real token."""
    return np.arange(n)[None, :] < np.array(lengths)[:, None]


def torch_grad(tmodule, key, d=D):
    """The gradient of the torch parameter a dlkit key was imported from (a q/k/v slice of
    the packed in_proj)."""
    params = dict(tmodule.named_parameters())
    prefix, _, name = key.rpartition(".")
    owner, _, proj = prefix.rpartition(".")
    if proj in ("q_proj", "k_proj", "v_proj"):
        packed = params[(f"{owner}." if owner else "") + f"in_proj_{name}"].grad
        i = "qkv".index(proj[0])
        return packed[i * d:(i + 1) * d].numpy()
    return params[key].grad.numpy()


def check_grads(model, tmodule):
    n = 0
    for key, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, torch_grad(tmodule, key), atol=1e-10, err_msg=key)
        n += 1
    assert n == len(list(tmodule.parameters())) + sum(
        2 for name, _ in tmodule.named_parameters() if name.endswith("in_proj_weight")) \
        + sum(2 for name, _ in tmodule.named_parameters() if name.endswith("in_proj_bias"))


def tensors(rng, *shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    return arrays, [torch.tensor(a, requires_grad=True) for a in arrays], \
        [dl.Tensor(a, requires_grad=True) for a in arrays]


def test_split_keeps_order_and_values(rng):
    tm = torch.nn.MultiheadAttention(D, H, batch_first=True).double()
    model = dl.nn.MultiHeadAttention(D, H, dtype="float64")
    report = dl.io.load_torch_state_dict(model, tm.state_dict())
    assert [k for k, _ in report.loaded][:3] == ["q_proj.weight", "q_proj.bias",
                                                "k_proj.weight"]
    w = tm.in_proj_weight.detach().numpy()
    np.testing.assert_array_equal(model.k_proj.weight.data, w[D:2 * D])
    np.testing.assert_array_equal(model.v_proj.bias.data, tm.in_proj_bias.detach().numpy()[2 * D:])


@pytest.mark.parametrize("masks", ["none", "padding", "causal", "both"])
def test_multihead_attention(rng, masks):
    tm = torch.nn.MultiheadAttention(D, H, batch_first=True).double().eval()
    model = dl.nn.MultiHeadAttention(D, H, dtype="float64").eval()
    dl.io.load_torch_state_dict(model, tm.state_dict())
    (q, kv, gy), (tq, tkv, _), (Q, KV, _) = tensors(rng, (M, T, D), (M, T, D), (M, T, D))
    pad = masks in ("padding", "both")
    causal = masks in ("causal", "both")
    kpm = torch.tensor(~keep(TGT_LENGTHS, T)) if pad else None
    am = torch.tensor(~causal_mask(T)) if causal else None
    ty, tw = tm(tq, tkv, tkv, key_padding_mask=kpm, attn_mask=am, need_weights=True,
                average_attn_weights=False)
    ty.backward(torch.tensor(gy))
    mask = np.ones((1, T, T), bool)
    if pad:
        mask = mask & keep(TGT_LENGTHS, T)[:, None, :]
    if causal:
        mask = mask & causal_mask(T)
    y, w = model(Q, KV, KV, mask=mask, return_weights=True)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(Q.grad, tq.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(KV.grad, tkv.grad.numpy(), atol=1e-11)
    check_grads(model, tm)


def test_layer_norm(rng):
    tm = torch.nn.LayerNorm(D).double()
    with torch.no_grad():
        tm.weight.copy_(torch.randn(D))
        tm.bias.copy_(torch.randn(D))
    model = dl.nn.LayerNorm(D, dtype="float64")
    dl.io.load_torch_state_dict(model, tm.state_dict())
    (x, gy), (tx, _), (X, _) = tensors(rng, (M, T, D), (M, T, D))
    ty = tm(tx)
    ty.backward(torch.tensor(gy))
    y = model(X)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), atol=1e-11)
    check_grads(model, tm)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_with_padding_and_causal_masks(rng, norm_first, activation):
    tm = torch.nn.TransformerEncoderLayer(D, H, FF, dropout=0.1, activation=activation,
                                          batch_first=True, norm_first=norm_first)
    tm = tm.double().eval()
    model = dl.nn.TransformerEncoderLayer(D, H, FF, activation=activation,
                                          norm_first=norm_first, dtype="float64").eval()
    dl.io.load_torch_state_dict(model, tm.state_dict())
    (x, gy), (tx, _), (X, _) = tensors(rng, (M, T, D), (M, T, D))
    ty = tm(tx, src_mask=torch.tensor(~causal_mask(T)),
            src_key_padding_mask=torch.tensor(~keep(TGT_LENGTHS, T)))
    ty.backward(torch.tensor(gy))
    y = model(X, mask=keep(TGT_LENGTHS, T)[:, None, :] & causal_mask(T))
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-11)
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), atol=1e-10)
    check_grads(model, tm)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_with_masks(rng, norm_first):
    tm = torch.nn.TransformerDecoderLayer(D, H, FF, batch_first=True, norm_first=norm_first)
    tm = tm.double().eval()
    model = dl.nn.TransformerDecoderLayer(D, H, FF, norm_first=norm_first,
                                          dtype="float64").eval()
    dl.io.load_torch_state_dict(model, tm.state_dict())
    (x, mem, gy), (tx, tmem, _), (X, MEM, _) = tensors(rng, (M, T, D), (M, S, D), (M, T, D))
    ty = tm(tx, tmem, tgt_mask=torch.tensor(~causal_mask(T)),
            tgt_key_padding_mask=torch.tensor(~keep(TGT_LENGTHS, T)),
            memory_key_padding_mask=torch.tensor(~keep(SRC_LENGTHS, S)))
    ty.backward(torch.tensor(gy))
    y = model(X, MEM, tgt_mask=keep(TGT_LENGTHS, T)[:, None, :] & causal_mask(T),
              memory_mask=keep(SRC_LENGTHS, S)[:, None, :])
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-11)
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(MEM.grad, tmem.grad.numpy(), atol=1e-10)
    check_grads(model, tm)


def test_whole_transformer(rng):
    tm = torch.nn.Transformer(D, H, 2, 2, FF, batch_first=True).double().eval()
    model = dl.nn.Transformer(D, H, 2, 2, FF, dtype="float64").eval()
    report = dl.io.load_torch_state_dict(model, tm.state_dict())
    assert not report.missing and not report.unexpected
    (src, tgt, gy), (ts, tt, _), (SRC, TGT, _) = tensors(rng, (M, S, D), (M, T, D), (M, T, D))
    src_pad = torch.tensor(~keep(SRC_LENGTHS, S))
    ty = tm(ts, tt, tgt_mask=torch.tensor(~causal_mask(T)), src_key_padding_mask=src_pad,
            memory_key_padding_mask=src_pad)
    ty.backward(torch.tensor(gy))
    src_mask = keep(SRC_LENGTHS, S)[:, None, :]
    y = model(SRC, TGT, src_mask=src_mask, tgt_mask=causal_mask(T), memory_mask=src_mask)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(SRC.grad, ts.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(TGT.grad, tt.grad.numpy(), atol=1e-9)
    check_grads(model, tm)


def test_mismatched_heads_size_is_a_clear_error():
    tm = torch.nn.MultiheadAttention(D, H, batch_first=True)
    model = dl.nn.MultiHeadAttention(2 * D, H)
    with pytest.raises(ValueError, match=r"shape mismatch.*q_proj.weight.*\(16, 16\)"):
        dl.io.load_torch_state_dict(model, tm.state_dict())
