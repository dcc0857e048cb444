"""RNN, GRU, LSTM layers: gradient checks (bidirectional, stacked, masked, initial states),
an unfused step-by-step reference, state handling, embeddings, errors."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn


@pytest.fixture(autouse=True)
def float64():
    dl.set_default_dtype("float64")
    dl.manual_seed(0)


def seq(m=3, T=5, n_x=4, seed=1):
    return dl.tensor(np.random.default_rng(seed).standard_normal((m, T, n_x)))


def weighted(out, seed=2):
    return (out * dl.tensor(np.random.default_rng(seed).standard_normal(out.shape))).sum()


MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=float)


@pytest.mark.parametrize("make,call", [
    (lambda: nn.RNN(4, 3, return_sequences=True), lambda m, x: m(x)),
    (lambda: nn.GRU(4, 3), lambda m, x: m(x)),
    (lambda: nn.LSTM(4, 3, return_sequences=True), lambda m, x: m(x)),
    (lambda: nn.LSTM(4, 3, return_sequences=True), lambda m, x: m(x, mask=MASK)),
    (lambda: nn.GRU(4, 3, return_sequences=True, go_backwards=True),
     lambda m, x: m(x, mask=MASK)),
    (lambda: nn.Bidirectional(nn.LSTM(4, 3, return_sequences=True)), lambda m, x: m(x)),
    (lambda: nn.Bidirectional(nn.GRU(4, 2), merge="sum"), lambda m, x: m(x, mask=MASK)),
    (lambda: nn.Sequential(nn.LSTM(4, 3, return_sequences=True), nn.RNN(3, 2)),
     lambda m, x: m(x)),
    (lambda: nn.Sequential(nn.GRU(4, 3, return_sequences=True),
                           nn.TimeDistributed(nn.Linear(3, 2))), lambda m, x: m(x)),
])
def test_layer_gradient_check(make, call):
    model = make()
    x = seq()
    assert dl.gradient_check_module(model, lambda m: weighted(call(m, x))) < 2e-7


def test_initial_states_get_gradients():
    layer = nn.LSTM(4, 3, return_sequences=True, return_state=True)
    x = seq()
    rng = np.random.default_rng(3)

    def f(x, a0, c0):
        out, a_t, c_t = layer(x, initial_state=(a0, c0))
        return weighted(out) + weighted(a_t, 4) + weighted(c_t, 5)

    assert dl.gradient_check(f, [x.data, rng.standard_normal((3, 3)),
                                 rng.standard_normal((3, 3))]) < 2e-7


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_fused_layer_equals_unfused_step_by_step_reference(kind):
    """The notes' cell equations, one step at a time with dlkit's small ops."""
    layer = getattr(nn, kind)(4, 3, return_sequences=True)
    x = seq()
    n = 3
    W, b = dl.tensor(layer.weight.data), dl.tensor(layer.bias.data)
    a = dl.zeros(3, n, dtype="float64")
    c = dl.zeros(3, n, dtype="float64")
    outs = []
    for t in range(5):
        xt = x[:, t]
        if kind == "RNN":
            a = dl.tanh(dl.linear(dl.concat([a, xt], axis=1), W, b))
        elif kind == "LSTM":
            z = dl.linear(dl.concat([a, xt], axis=1), W, b)
            f, u = dl.sigmoid(z[:, :n]), dl.sigmoid(z[:, n:2 * n])
            cc, o = dl.tanh(z[:, 2 * n:3 * n]), dl.sigmoid(z[:, 3 * n:])
            c = f * c + u * cc
            a = o * dl.tanh(c)
        else:
            z = dl.linear(dl.concat([a, xt], axis=1), W[:2 * n], b[:2 * n])
            gu, gr = dl.sigmoid(z[:, :n]), dl.sigmoid(z[:, n:])
            cc = dl.tanh(dl.linear(dl.concat([gr * a, xt], axis=1), W[2 * n:], b[2 * n:]))
            a = gu * cc + (1 - gu) * a
        outs.append(a)
    reference = dl.stack(outs, axis=1)
    np.testing.assert_allclose(layer(x).numpy(), reference.numpy(), rtol=1e-12, atol=1e-12)


def test_mask_carries_state_over_padding():
    layer = nn.GRU(4, 3, return_sequences=True, return_state=True)
    x = seq()
    out, last = layer(x, mask=MASK)
    np.testing.assert_array_equal(out.numpy()[1, 2], out.numpy()[1, 4])
    np.testing.assert_array_equal(last.numpy()[1], out.numpy()[1, 2])
    short, _ = layer(x[1:2, :3])  # the unpadded sequence alone
    np.testing.assert_allclose(last.numpy()[1], short.numpy()[0, -1], rtol=1e-12)


def test_stateful_layer_carries_state_between_batches():
    layer = nn.LSTM(4, 3, stateful=True)
    x = seq(T=6)
    whole = nn.LSTM(4, 3)
    whole.load_state_dict(layer.state_dict())
    layer(x[:, :3])
    second = layer(x[:, 3:])
    np.testing.assert_allclose(second.numpy(), whole(x).numpy(), rtol=1e-12)
    layer.reset_states()
    np.testing.assert_allclose(layer(x[:, :3]).numpy(), whole(x[:, :3]).numpy(), rtol=1e-12)


def test_bidirectional_sees_both_ends():
    fwd = nn.LSTM(4, 3, return_sequences=True)
    bi = nn.Bidirectional(fwd)
    x = seq()
    out = bi(x).numpy()
    assert out.shape == (3, 5, 6)
    np.testing.assert_allclose(out[..., :3], fwd(x).numpy())
    flipped = bi.backward_layer.get_config()
    assert flipped["go_backwards"] is True


def test_embedding_gradient_sums_repeated_tokens():
    emb = nn.Embedding(6, 3)
    idx = np.array([[1, 2, 1], [5, 1, 0]])
    out = emb(idx)
    np.testing.assert_array_equal(out.numpy()[0, 0], emb.weight.data[1])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1, 3, 1, 0, 0, 1])
    assert dl.gradient_check_module(emb, lambda m: weighted(m(idx))) < 2e-7
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        emb(np.array([[7]]))
    with pytest.raises(TypeError, match="integer"):
        emb(np.array([[0.5]]))
    padded = nn.Embedding(6, 3, padding_idx=0)
    np.testing.assert_array_equal(padded.mask(idx), [[1, 1, 1], [1, 1, 0]])


def test_recurrent_errors_are_clear():
    layer = nn.LSTM(4, 3)
    with pytest.raises(dl.ShapeError, match="single sequence"):
        layer(dl.tensor(np.zeros((5, 4))))
    with pytest.raises(dl.ShapeError, match="n_a"):
        layer(seq(n_x=6))
    with pytest.raises(ValueError, match="a0, c0"):
        layer(seq(), initial_state=dl.zeros(3, 3))
    with pytest.raises(dl.ShapeError, match="mask"):
        layer(seq(), mask=np.ones((3, 4)))


def test_recurrent_models_save_and_load(tmp_path):
    model = nn.Sequential(nn.Embedding(10, 4), nn.Bidirectional(nn.GRU(4, 3,
                                                                       return_sequences=True)),
                          nn.TimeDistributed(nn.Linear(6, 10)))
    idx = np.random.default_rng(0).integers(0, 10, (2, 5))
    dl.io.save(model, tmp_path / "m.safetensors")
    np.testing.assert_array_equal(dl.io.load(tmp_path / "m.safetensors")(idx).numpy(),
                                  model(idx).numpy())


def test_lstm_learns_to_count_ones():
    """Many-to-one: the number of ones in a binary sequence, as a class."""
    dl.set_default_dtype("float32")
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (512, 6, 1)).astype(np.float32)
    y = X.sum(axis=(1, 2)).astype(np.int64)
    model = nn.Sequential(nn.LSTM(1, 16), nn.Linear(16, 7))
    dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.02), X, y,
                 epochs=30, batch_size=64)
    assert dl.train.evaluate(model, "cross_entropy", X, y)["accuracy"] > 0.95
