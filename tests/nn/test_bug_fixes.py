"""Bugs found in review (issue 14), each with the test that failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError


def test_embedding_padding_row_never_receives_gradient():
    emb = dl.nn.Embedding(5, 3, padding_idx=0, dtype="float64")
    idx = np.array([[1, 0, 2], [0, 0, 3]])
    out = emb(idx)
    np.testing.assert_array_equal(out.data[idx == 0], 0.0)
    (out * np.random.default_rng(0).normal(size=out.shape)).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[0], 0.0)
    assert np.abs(emb.weight.grad[1:4]).sum() > 0
    opt = dl.optim.Adam(emb.parameters(), lr=0.1)
    opt.step()
    np.testing.assert_array_equal(emb.weight.data[0], 0.0)


def test_embedding_gradient_sums_repeated_tokens_like_a_one_hot_product():
    """The notes' E o_j: the lookup's gradient equals that of the one-hot matrix product."""
    rng = np.random.default_rng(1)
    emb = dl.nn.Embedding(6, 4, dtype="float64")
    idx = rng.integers(0, 6, size=(3, 7))
    w = rng.normal(size=(3, 7, 4))
    (emb(idx) * w).sum().backward()
    one_hot = np.eye(6)[idx]                              # (3, 7, 6)
    expected = np.einsum("mtv,mtd->vd", one_hot, w)       # d/dE of sum((O E) * w)
    np.testing.assert_allclose(emb.weight.grad, expected, rtol=1e-12)


def test_stateful_layer_refuses_a_batch_of_another_size():
    layer = dl.nn.LSTM(2, 3, stateful=True)
    layer(np.zeros((4, 5, 2), np.float32))
    with pytest.raises(ShapeError, match="carried from the last batch has 4 rows, this batch "
                                         "has 3"):
        layer(np.zeros((3, 5, 2), np.float32))
    layer.reset_states()
    assert layer(np.zeros((3, 5, 2), np.float32)).shape == (3, 3)


def test_registering_a_layer_under_a_built_in_name_is_an_error():
    with pytest.raises(ValueError, match="a layer named 'Linear' is already registered"):
        @dl.nn.register
        class Linear(dl.nn.Module):  # noqa: F811 - the point of the test
            pass
    assert dl.nn.LAYERS["Linear"] is dl.nn.Linear

    class Mine(dl.nn.Module):
        pass

    Mine.__name__ = Mine.__qualname__ = "Tanh"
    dl.nn.register(replace=True)(Mine)
    try:
        assert dl.nn.LAYERS["Tanh"] is Mine
    finally:
        dl.nn.register(replace=True)(dl.nn.Tanh)


def test_early_stopping_on_an_error_minimizes_it():
    assert dl.train.EarlyStopping("val_error").monitor.mode == "min"
    assert dl.train.EarlyStopping("val_accuracy").monitor.mode == "max"
    assert dl.train.ModelCheckpoint("x.ckpt", "val_perplexity").monitor.mode == "min"
    with pytest.raises(ValueError, match="cannot tell whether higher or lower is better"):
        dl.train.EarlyStopping("val_something")
