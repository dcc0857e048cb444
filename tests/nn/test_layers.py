"""Module, Parameter, layers and initializers."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn


def make_mlp():
    dl.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 2))


def test_sequential_names_and_state_dict_keys():
    model = make_mlp()
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert model[0].weight.shape == (5, 3) and model[0].bias.shape == (5,)
    assert model.num_parameters() == 5 * 3 + 5 + 2 * 5 + 2


def test_state_dict_round_trip_and_copy_semantics():
    a, b = make_mlp(), make_mlp()
    dl.manual_seed(1)
    b = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 2))
    assert not np.allclose(a[0].weight.data, b[0].weight.data)
    state = a.state_dict()
    b.load_state_dict(state)
    np.testing.assert_array_equal(a[0].weight.data, b[0].weight.data)
    state["0.weight"][:] = 0  # the state is a copy: changing it leaves the model alone
    assert np.abs(a[0].weight.data).sum() > 0


def test_load_state_dict_errors_name_key_and_shapes():
    model = make_mlp()
    state = model.state_dict()
    state["3.weight"] = np.zeros((4, 5), np.float32)
    with pytest.raises(dl.ShapeError, match=r"3\.weight.*\(2, 5\).*\(4, 5\)"):
        model.load_state_dict(state)
    state = model.state_dict()
    del state["0.bias"]
    with pytest.raises(KeyError, match="0.bias"):
        model.load_state_dict(state)
    model.load_state_dict(state, strict=False)


def test_train_eval_switches_dropout_and_children():
    model = make_mlp()
    x = dl.tensor(np.ones((4, 3), np.float32))
    model.eval()
    assert not model[2].training
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert model[2].training


def test_freeze_stops_gradients_and_updates():
    model = make_mlp()
    model[0].freeze()
    out = model(dl.tensor(np.ones((4, 3), np.float32))).sum()
    out.backward()
    assert model[0].weight.grad is None and model[3].weight.grad is not None
    assert model.num_parameters(trainable_only=True) == 12


def test_float64_default_dtype_builds_float64_modules():
    dl.set_default_dtype("float64")
    try:
        layer = nn.Linear(2, 3)
        bn = nn.BatchNorm1d(3)
    finally:
        dl.set_default_dtype("float32")
    assert layer.weight.dtype == np.float64 and bn.running_mean.dtype == np.float64
    assert nn.Linear(2, 3).weight.dtype == np.float32


def test_linear_layer_gradient_check():
    dl.set_default_dtype("float64")
    try:
        dl.manual_seed(0)
        layer = nn.Linear(4, 3)
    finally:
        dl.set_default_dtype("float32")
    x = np.random.default_rng(0).standard_normal((5, 4))

    def f(w, b):
        layer.weight.data, layer.bias.data = w.data, b.data
        return (dl.linear(dl.tensor(x), w, b) ** 2).sum()

    assert dl.gradient_check(f, [layer.weight.data, layer.bias.data]) < 2e-7


def test_batchnorm1d_train_and_eval():
    dl.manual_seed(0)
    bn = nn.BatchNorm1d(3)
    x = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32) * 3 + 5
    y = bn(dl.tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(0), rtol=1e-5)
    bn.eval()
    y_eval = bn(dl.tensor(x)).numpy()
    assert not np.allclose(y_eval, y)
    with pytest.raises(dl.ShapeError, match="BatchNorm1d"):
        bn(dl.tensor(np.ones((4, 5), np.float32)))
    assert "running_mean" in bn.state_dict()


@pytest.mark.parametrize("name,std", [("small", 0.01), ("xavier", np.sqrt(1 / 400)),
                                      ("he", np.sqrt(2 / 400))])
def test_initializer_statistics(name, std):
    dl.manual_seed(0)
    w = nn.init.get(name)((300, 400))
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.05 * std
    assert abs(w.std() / std - 1) < 0.02


def test_glorot_uniform_bounds_and_zeros():
    dl.manual_seed(0)
    w = nn.init.glorot_uniform((100, 200))
    limit = np.sqrt(6 / 300)
    assert w.min() >= -limit and w.max() <= limit and w.std() > limit / 2
    assert not nn.init.zeros((3, 4)).any()
    with pytest.raises(ValueError, match="unknown initializer"):
        nn.init.get("orthogonal-ish")


def test_initializers_repeat_with_seed():
    dl.manual_seed(3)
    a = nn.Linear(5, 5).weight.data.copy()
    dl.manual_seed(3)
    np.testing.assert_array_equal(a, nn.Linear(5, 5).weight.data)


def test_module_requires_super_init():
    class Broken(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_repr_lists_children():
    text = repr(make_mlp())
    assert "(0): Linear(3, 5, bias=True)" in text and "Dropout(p=0.5)" in text


def test_replacing_a_child_keeps_its_place():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Softmax())
    setattr(model, "2", nn.Linear(3, 5))
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Softmax"]
    assert list(model.state_dict())[2:] == ["2.weight", "2.bias"]
    layer = nn.Linear(2, 2)
    layer.weight = dl.nn.Parameter(np.zeros((2, 2), np.float32))
    assert list(layer.state_dict()) == ["weight", "bias"]


def test_frozen_batchnorm_runs_in_inference_mode():
    bn = nn.BatchNorm1d(3)
    x = dl.tensor(np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32) + 4)
    bn.freeze()
    y = bn(x)
    np.testing.assert_array_equal(bn.running_mean, 0)  # statistics untouched
    np.testing.assert_allclose(y.numpy(), x.numpy() / np.sqrt(1 + 1e-5), rtol=1e-6)
