"""PyTorch's nn.RNN / nn.LSTM / nn.GRU imported into dlkit's layers: same outputs, same
gradients (float64); stacked and bidirectional modules; the reset-after GRU; clear errors."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn
from dlkit.io.torch_import import TorchImportError
from dlkit.io.torch_rnn import (
    load_torch_bidirectional,
    load_torch_rnn,
    load_torch_rnn_stack,
    torch_rnn_weights,
)

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-12
M, T, N_X, N_A = 3, 6, 5, 4


@pytest.fixture(autouse=True)
def float64():
    dl.set_default_dtype("float64")
    dl.manual_seed(0)
    torch.manual_seed(0)


def data(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def close(a, b, what=""):
    b = b.detach().numpy() if hasattr(b, "detach") else b
    a = a.numpy() if isinstance(a, dl.Tensor) else a
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def torch_grads_as_dlkit(kind, module, k=0, reverse=False):
    """The gradients of torch layer k in dlkit's layout: the weight conversion is linear, so it
    maps dW too; b = b_ih + b_hh gets db = db_ih (and the GRU's recurrent_bias db_hh[n])."""
    s = f"_l{k}{'_reverse' if reverse else ''}"
    g = {n: getattr(module, n + s).grad.numpy() for n in ("weight_ih", "weight_hh", "bias_ih",
                                                         "bias_hh")}
    out = torch_rnn_weights(kind, g["weight_ih"], g["weight_hh"], g["bias_ih"], None)
    if kind == "gru":
        out["recurrent_bias"] = g["bias_hh"][2 * N_A:]
    return out


def assert_layer_grads(layer, kind, module, k=0, reverse=False):
    expected = torch_grads_as_dlkit(kind, module, k, reverse)
    for name, g in expected.items():
        close(getattr(layer, name).grad, g, f"grad of {name}")


# ---- one layer ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_single_layer_outputs_and_gradients_equal_torch(kind):
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    module = cls(N_X, N_A, batch_first=True).double()
    extra = {"reset_after": True} if kind == "gru" else {}
    layer = getattr(nn, kind.upper())(N_X, N_A, return_sequences=True, return_state=True,
                                      **extra)
    loaded = load_torch_rnn(layer, module)
    assert dict(loaded)["weight"] == ("weight_hh_l0", "weight_ih_l0")
    x, h0, c0 = data(M, T, N_X), data(M, N_A, seed=2), data(M, N_A, seed=3)
    w_out, w_a, w_c = data(M, T, N_A, seed=4), data(M, N_A, seed=5), data(M, N_A, seed=6)

    tx, th0, tc0 = (torch.tensor(v, requires_grad=True) for v in (x, h0, c0))
    t_out, t_state = module(tx, (th0[None], tc0[None]) if kind == "lstm" else th0[None])
    t_finals = t_state if kind == "lstm" else (t_state,)
    t_loss = (t_out * torch.tensor(w_out)).sum() + (t_finals[0][0] * torch.tensor(w_a)).sum()
    if kind == "lstm":
        t_loss = t_loss + (t_finals[1][0] * torch.tensor(w_c)).sum()
    t_loss.backward()

    dx, da0, dc0 = (dl.tensor(v, requires_grad=True) for v in (x, h0, c0))
    out, *finals = layer(dx, initial_state=(da0, dc0) if kind == "lstm" else da0)
    loss = (out * w_out).sum() + (finals[0] * w_a).sum()
    if kind == "lstm":
        loss = loss + (finals[1] * w_c).sum()
    loss.backward()

    close(out, t_out, "output")
    for i, (f, tf) in enumerate(zip(finals, t_finals)):
        close(f, tf[0], f"final state {i}")
    close(dx.grad, tx.grad, "grad of x")
    close(da0.grad, th0.grad, "grad of h0")
    if kind == "lstm":
        close(dc0.grad, tc0.grad, "grad of c0")
    assert_layer_grads(layer, kind, module)


def test_weights_keep_the_layer_dtype_and_missing_biases_are_zeros():
    module = torch.nn.LSTM(N_X, N_A, bias=False, batch_first=True)  # float32
    layer = nn.LSTM(N_X, N_A, return_sequences=True, dtype="float32")
    loaded = load_torch_rnn(layer, module.state_dict())
    assert dict(loaded)["bias"] == ()
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, 0)
    x = data(M, T, N_X).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy(), module(torch.from_numpy(x))[0].detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_a_reverse_direction_loads_into_a_backward_layer():
    module = torch.nn.GRU(N_X, N_A, batch_first=True, bidirectional=True).double()
    layer = nn.GRU(N_X, N_A, return_sequences=True, go_backwards=True, reset_after=True)
    load_torch_rnn(layer, module, direction=1)
    x = data(M, T, N_X)
    close(layer(x), module(torch.tensor(x))[0][..., N_A:])


def test_layers_of_a_larger_model_by_index_and_prefix():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.LSTM(N_X, N_A, num_layers=2, batch_first=True)
            self.head = torch.nn.Linear(N_A, 2)

    model = Model().double()
    state = model.state_dict()
    first = nn.LSTM(N_X, N_A, return_sequences=True)
    second = nn.LSTM(N_A, N_A, return_sequences=True)
    assert dict(load_torch_rnn(first, state))["weight"] == ("encoder.weight_hh_l0",
                                                            "encoder.weight_ih_l0")
    load_torch_rnn(second, state, layer_index=1, prefix="encoder")
    x = data(M, T, N_X)
    close(second(first(x)), model.encoder(torch.tensor(x))[0])

    two = dict(state, **{f"decoder.{k}": v for k, v in model.encoder.state_dict().items()})
    with pytest.raises(TorchImportError, match=r"several recurrent modules.*prefix="):
        load_torch_rnn(first, two)
    with pytest.raises(TorchImportError, match="no recurrent layer under prefix 'head'"):
        load_torch_rnn(first, two, prefix="head")


# ---- bidirectional and stacked ---------------------------------------------------------------
def test_bidirectional_lstm_equals_torch():
    module = torch.nn.LSTM(N_X, N_A, batch_first=True, bidirectional=True).double()
    bi = nn.Bidirectional(nn.LSTM(N_X, N_A, return_sequences=True))
    loaded = load_torch_rnn(bi, module)
    assert [k for k, _ in loaded] == ["forward_layer.weight", "forward_layer.bias",
                                      "backward_layer.weight", "backward_layer.bias"]
    assert dict(loaded)["backward_layer.weight"] == ("weight_hh_l0_reverse",
                                                     "weight_ih_l0_reverse")
    x, w = data(M, T, N_X), data(M, T, 2 * N_A, seed=7)
    tx = torch.tensor(x, requires_grad=True)
    t_out = module(tx)[0]
    (t_out * torch.tensor(w)).sum().backward()
    dx = dl.tensor(x, requires_grad=True)
    out = bi(dx)
    (out * w).sum().backward()
    close(out, t_out, "output")
    close(dx.grad, tx.grad, "grad of x")
    assert_layer_grads(bi.forward_layer, "lstm", module)
    assert_layer_grads(bi.backward_layer, "lstm", module, reverse=True)


def test_two_layer_lstm_equals_torch():
    module = torch.nn.LSTM(N_X, N_A, num_layers=2, batch_first=True).double()
    model = nn.Sequential(nn.LSTM(N_X, N_A, return_sequences=True),
                          nn.LSTM(N_A, N_A, return_sequences=True))
    loaded = load_torch_rnn(model, module)
    assert [k for k, _ in loaded] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    x, w = data(M, T, N_X), data(M, T, N_A, seed=8)
    tx = torch.tensor(x, requires_grad=True)
    t_out = module(tx)[0]
    (t_out * torch.tensor(w)).sum().backward()
    dx = dl.tensor(x, requires_grad=True)
    out = model(dx)
    (out * w).sum().backward()
    close(out, t_out, "output")
    close(dx.grad, tx.grad, "grad of x")
    assert_layer_grads(model[0], "lstm", module, k=0)
    assert_layer_grads(model[1], "lstm", module, k=1)


def test_stacked_bidirectional_gru_with_dropout_between_equals_torch_in_eval():
    module = torch.nn.GRU(N_X, N_A, num_layers=2, batch_first=True, bidirectional=True,
                          dropout=0.3).double().eval()
    model = nn.Sequential(
        nn.Bidirectional(nn.GRU(N_X, N_A, return_sequences=True, reset_after=True)),
        nn.Dropout(0.3),
        nn.Bidirectional(nn.GRU(2 * N_A, N_A, return_sequences=True, reset_after=True)))
    load_torch_rnn_stack(model, module)
    model.eval()
    x, w = data(M, T, N_X), data(M, T, 2 * N_A, seed=9)
    tx = torch.tensor(x, requires_grad=True)
    t_out = module(tx)[0]
    (t_out * torch.tensor(w)).sum().backward()
    dx = dl.tensor(x, requires_grad=True)
    out = model(dx)
    (out * w).sum().backward()
    close(out, t_out, "output")
    close(dx.grad, tx.grad, "grad of x")
    assert_layer_grads(model[2].backward_layer, "gru", module, k=1, reverse=True)


# ---- the reset-after GRU layer ---------------------------------------------------------------
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=float)


@pytest.mark.parametrize("make,call", [
    (lambda: nn.GRU(4, 3, return_sequences=True, reset_after=True), lambda m, x: m(x)),
    (lambda: nn.GRU(4, 3, go_backwards=True, reset_after=True),
     lambda m, x: m(x, mask=MASK)),
    (lambda: nn.Bidirectional(nn.GRU(4, 3, return_sequences=True, reset_after=True)),
     lambda m, x: m(x)),
])
def test_reset_after_gru_layer_gradient_check(make, call):
    model = make()
    x = dl.tensor(data(3, 5, 4))
    w = data(*call(model, x).shape, seed=2)
    assert dl.gradient_check_module(model, lambda m: (call(m, x) * w).sum()) < 2e-7


def test_reset_after_gru_config_state_dict_and_files(tmp_path):
    layer = nn.GRU(4, 3, return_sequences=True, reset_after=True)
    assert layer.recurrent_bias.shape == (3,)
    assert list(layer.state_dict()) == ["weight", "bias", "recurrent_bias"]
    assert layer.get_config()["reset_after"] is True
    assert "reset_after=True" in repr(layer)
    twin = nn.Bidirectional(layer).backward_layer
    assert twin.reset_after and twin.go_backwards
    plain = nn.GRU(4, 3)
    assert list(plain.state_dict()) == ["weight", "bias"]
    assert plain.get_config()["reset_after"] is False
    x = data(2, 5, 4)
    dl.io.save(layer, tmp_path / "gru.safetensors")
    again = dl.io.load(tmp_path / "gru.safetensors")
    assert again.reset_after
    np.testing.assert_array_equal(again(x).numpy(), layer(x).numpy())
    # the two forms are different functions of the same weights
    plain.load_state_dict({"weight": layer.weight.data, "bias": layer.bias.data})
    assert not np.allclose(plain(x).numpy(), layer(x).numpy()[:, -1])


def test_reset_after_op_errors():
    x, w, b = data(2, 3, 4), data(9, 7), data(9)
    with pytest.raises(ValueError, match="only with reset_after=True"):
        dl.gru(x, w, b, recurrent_bias=np.zeros(3))
    with pytest.raises(dl.ShapeError, match=r"recurrent_bias \(b_ca\) of shape \(3,\)"):
        dl.gru(x, w, b, reset_after=True, recurrent_bias=np.zeros(4))
    out, last = dl.gru(x, w, b, reset_after=True)  # b_ca defaults to zeros
    np.testing.assert_array_equal(out.numpy()[:, -1], last.numpy())


# ---- errors ----------------------------------------------------------------------------------
def test_size_and_kind_mismatches_are_clear():
    lstm = torch.nn.LSTM(N_X, N_A, num_layers=2)
    with pytest.raises(dl.ShapeError, match=r"n_x 4, n_a 4.*input_size 5, hidden_size 4.*"
                                            r"LSTM\(5, 4\)"):
        load_torch_rnn(nn.LSTM(4, N_A), lstm)
    with pytest.raises(dl.ShapeError, match=r"weight_hh_l0 \(16, 4\).*LSTM\(5, 4\)"):
        load_torch_rnn(nn.LSTM(N_X, 8), lstm)
    with pytest.raises(TorchImportError, match="GRU cannot take these weights.*torch LSTM"):
        load_torch_rnn(nn.GRU(N_X, N_A, reset_after=True), lstm)
    with pytest.raises(TorchImportError, match=r"RNN cannot take.*\(4 gate blocks\)"):
        load_torch_rnn(nn.RNN(N_X, N_A), lstm.state_dict())
    with pytest.raises(TorchImportError, match=r"layer_index=2.*2 layers \(l0\.\.l1\)"):
        load_torch_rnn(nn.LSTM(N_A, N_A), lstm, layer_index=2)
    with pytest.raises(TorchImportError, match="not bidirectional"):
        load_torch_rnn(nn.LSTM(N_X, N_A, go_backwards=True), lstm, direction=1)
    with pytest.raises(ValueError, match="direction is 0"):
        load_torch_rnn(nn.LSTM(N_X, N_A), lstm, direction=2)


def test_unsupported_torch_variants_are_named():
    with pytest.raises(TorchImportError, match=r"reset_after=True\)"):
        load_torch_rnn(nn.GRU(N_X, N_A), torch.nn.GRU(N_X, N_A))
    with pytest.raises(TorchImportError, match="relu"):
        load_torch_rnn(nn.RNN(N_X, N_A), torch.nn.RNN(N_X, N_A, nonlinearity="relu"))
    with pytest.raises(TorchImportError, match="proj_size"):
        load_torch_rnn(nn.LSTM(N_X, N_A), torch.nn.LSTM(N_X, 6, proj_size=N_A))
    with pytest.raises(TorchImportError, match="no recurrent layer"):
        load_torch_rnn(nn.LSTM(N_X, N_A), torch.nn.Linear(N_X, N_A))
    with pytest.raises(TypeError, match="expected a torch nn.RNN"):
        load_torch_rnn(nn.LSTM(N_X, N_A), [1, 2])
    with pytest.raises(TypeError, match="got Linear"):
        load_torch_rnn(nn.Linear(N_X, N_A), torch.nn.LSTM(N_X, N_A))


def test_direction_must_match_the_time_direction_of_the_layer():
    bi = torch.nn.LSTM(N_X, N_A, bidirectional=True)
    with pytest.raises(TorchImportError, match="go_backwards=True"):
        load_torch_rnn(nn.LSTM(N_X, N_A), bi, direction=1)
    with pytest.raises(TorchImportError, match="runs forward in time"):
        load_torch_rnn(nn.LSTM(N_X, N_A, go_backwards=True), bi)
    with pytest.raises(TorchImportError, match="not bidirectional"):
        load_torch_bidirectional(nn.Bidirectional(nn.LSTM(N_X, N_A)), torch.nn.LSTM(N_X, N_A))


def test_stack_errors_and_nothing_copied_on_failure():
    module = torch.nn.LSTM(N_X, N_A, num_layers=2, bidirectional=True)
    good = nn.Bidirectional(nn.LSTM(N_X, N_A, return_sequences=True))
    before = good.forward_layer.weight.data.copy()
    wrong_size = nn.Sequential(good, nn.Bidirectional(nn.LSTM(N_A, N_A)))
    with pytest.raises(dl.ShapeError, match="2 x hidden_size"):
        load_torch_rnn(wrong_size, module)
    np.testing.assert_array_equal(good.forward_layer.weight.data, before)
    with pytest.raises(TorchImportError, match="1 recurrent layers.*2 layers"):
        load_torch_rnn_stack(nn.Sequential(good), module)
    with pytest.raises(ValueError, match="return_sequences=True"):
        load_torch_rnn_stack(nn.Sequential(nn.Bidirectional(nn.LSTM(N_X, N_A)),
                                           nn.Bidirectional(nn.LSTM(2 * N_A, N_A))), module)
    with pytest.raises(TorchImportError, match="l0 is bidirectional.*not a Bidirectional"):
        load_torch_rnn_stack(nn.Sequential(nn.LSTM(N_X, N_A, return_sequences=True),
                                           nn.LSTM(2 * N_A, N_A)), module)
    with pytest.raises(TorchImportError, match="has parameters"):
        load_torch_rnn_stack(nn.Sequential(nn.LSTM(N_X, N_A), nn.Linear(N_A, 2)),
                             torch.nn.LSTM(N_X, N_A))
    with pytest.raises(ValueError, match="layer_index and direction"):
        load_torch_rnn(nn.Sequential(good), module, layer_index=1)
    with pytest.raises(ValueError, match="kind is"):
        torch_rnn_weights("cnn", np.zeros((4, 2)), np.zeros((4, 4)))


def test_load_torch_state_dict_hands_nested_recurrent_layers_to_load_torch_rnn():
    """Bug: load_torch_state_dict paired a CharLM's LSTM like any other layer and failed; now
    recurrent layers at any depth go to load_torch_rnn (two stacked layers of one torch LSTM
    count as two), the rest pair by order."""
    tnn = torch.nn

    class TorchLM(tnn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(11, 5)
            self.lstm = tnn.LSTM(5, 6, num_layers=2, batch_first=True)
            self.out = tnn.Linear(6, 11)

        def forward(self, idx):
            return self.out(self.lstm(self.emb(idx))[0])

    class DlLM(dl.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = dl.nn.Embedding(11, 5, dtype="float64")
            self.body = dl.nn.Sequential(
                dl.nn.LSTM(5, 6, return_sequences=True, dtype="float64"),
                dl.nn.LSTM(6, 6, return_sequences=True, dtype="float64"))
            self.head = dl.nn.TimeDistributed(dl.nn.Linear(6, 11, dtype="float64"))

        def forward(self, idx):
            return self.head(self.body(self.emb(idx)))

    torch.manual_seed(0)
    t_model = TorchLM().double().eval()
    model = DlLM()
    report = dl.io.load_torch_state_dict(model, t_model.state_dict())
    assert any(k.startswith("body.1.") and "lstm.weight_ih_l1" in t for k, t in report.loaded)
    idx = np.random.default_rng(0).integers(0, 11, size=(3, 7))
    with torch.no_grad():
        expected = t_model(torch.as_tensor(idx)).numpy()
    np.testing.assert_allclose(model(idx).data, expected, rtol=1e-10, atol=1e-12)
    # a model with one recurrent layer too few is named, and nothing is copied
    short = DlLM()
    short.body = dl.nn.Sequential(dl.nn.LSTM(5, 6, return_sequences=True, dtype="float64"))
    before = short.state_dict()
    with pytest.raises(dl.io.TorchImportError, match="1 recurrent layer"):
        dl.io.load_torch_state_dict(short, t_model.state_dict())
    for k, v in short.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
