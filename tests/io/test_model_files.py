"""Saving models and weights: safetensors without pickle, configs, dtypes, atomic writes and
clear errors for missing, corrupt and unknown files."""

import json
import os

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import dlkit as dl
import dlkit.io.files
from dlkit import io, nn
from dlkit.io.tree import decode, encode


def trained_model():
    """A model whose weights and batch-norm buffers are not at their initial values."""
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 6), nn.BatchNorm1d(6), nn.LeakyReLU(0.1),
                          nn.Dropout(0.25), nn.Linear(6, 3, init="xavier"), nn.Softmax())
    X = np.random.default_rng(0).standard_normal((32, 2)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, 32)
    dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.05), X, y,
                 epochs=2, batch_size=8, metrics=())
    return model, X


class Scale(nn.Module):
    """A user layer: y = x * w (no config unless registered)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.w = nn.Parameter(np.full((1, n), 2.0, dl.get_default_dtype()))

    def forward(self, x):
        return x * self.w

    def get_config(self):
        return {"n": self.n}


def test_save_load_rebuilds_the_model(tmp_path):
    model, X = trained_model()
    path = tmp_path / "model.safetensors"
    io.save(model, path)
    rng_before = dl.get_rng_state()
    loaded = io.load(path)
    assert dl.get_rng_state() == rng_before  # rebuilding draws no random numbers
    assert repr(loaded) == repr(model)
    assert loaded[3].p == 0.25 and loaded[2].slope == 0.1 and loaded[1].momentum == 0.1
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
    assert np.abs(loaded[1].running_mean).sum() > 0
    np.testing.assert_array_equal(dl.train.predict(loaded, X), dl.train.predict(model, X))


def test_file_is_plain_safetensors_with_config_metadata(tmp_path):
    model, _ = trained_model()
    path = tmp_path / "model.safetensors"
    io.save(model, path)
    with safe_open(path, framework="numpy") as f:
        assert set(f.keys()) == set(model.state_dict())
        assert f.get_tensor("0.weight").dtype == np.float32  # never downcast to float16
        meta = f.metadata()
    assert meta["dlkit.kind"] == "model" and '"class": "Sequential"' in meta["dlkit.config"]
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)


def test_float64_model_stays_float64(tmp_path):
    dl.set_default_dtype("float64")
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    dl.set_default_dtype("float32")
    io.save(model, tmp_path / "m64.safetensors")
    loaded = io.load(tmp_path / "m64.safetensors")
    assert loaded[0].weight.dtype == np.float64 and loaded[1].running_var.dtype == np.float64
    np.testing.assert_array_equal(loaded[0].weight.data, model[0].weight.data)


def test_weights_of_a_module_without_config(tmp_path):
    class TwoLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 3), nn.Linear(3, 1)

        def forward(self, x):
            return self.b(self.a(x))

    dl.manual_seed(0)
    model = TwoLayer()
    with pytest.raises(NotImplementedError, match="TwoLayer has no get_config.*save_weights"):
        io.save(model, tmp_path / "x.safetensors")
    io.save_weights(model, tmp_path / "w.safetensors")
    dl.manual_seed(1)
    other = TwoLayer()
    assert io.load_weights(other, tmp_path / "w.safetensors") is other
    np.testing.assert_array_equal(other.a.weight.data, model.a.weight.data)
    with pytest.raises(ValueError, match="without a model config.*load_weights"):
        io.load(tmp_path / "w.safetensors")
    smaller = nn.Sequential(nn.Linear(2, 3))
    with pytest.raises(KeyError, match="w.safetensors.*missing"):
        io.load_weights(smaller, tmp_path / "w.safetensors")
    wrong = TwoLayer()
    wrong.b = nn.Linear(3, 2)
    with pytest.raises(dl.ShapeError, match=r"w.safetensors.*mismatch for .b\.(weight|bias)"):
        io.load_weights(wrong, tmp_path / "w.safetensors")


def test_load_weights_non_strict_and_from_checkpoint(tmp_path):
    model, _ = trained_model()
    io.save_weights(model, tmp_path / "w.safetensors")
    first = nn.Sequential(nn.Linear(2, 6))
    io.load_weights(first, tmp_path / "w.safetensors", strict=False)
    np.testing.assert_array_equal(first[0].weight.data, model[0].weight.data)
    io.save_checkpoint(tmp_path / "c.safetensors", model, None, epoch=1, step=1)
    fresh = nn.module_from_config(nn.to_config(model))
    io.load_weights(fresh, tmp_path / "c.safetensors")
    np.testing.assert_array_equal(fresh[4].weight.data, model[4].weight.data)


def test_registered_custom_layer_round_trip(tmp_path, monkeypatch):
    monkeypatch.setitem(nn.LAYERS, "Scale", Scale)
    model = nn.Sequential(nn.Linear(2, 4), Scale(4))
    model[1].w.data[:] = 3.0
    io.save(model, tmp_path / "s.safetensors")
    loaded = io.load(tmp_path / "s.safetensors")
    assert isinstance(loaded[1], Scale) and loaded[1].n == 4
    np.testing.assert_array_equal(loaded[1].w.data, 3.0)
    with pytest.raises(TypeError, match="register: expected a Module subclass"):
        nn.register(int)


def test_unregistered_layer_cannot_be_saved_or_loaded(tmp_path, monkeypatch):
    with pytest.raises(nn.UnknownLayerError, match="Scale is not registered"):
        io.save(nn.Sequential(Scale(2)), tmp_path / "s.safetensors")
    monkeypatch.setitem(nn.LAYERS, "Scale", Scale)
    io.save(nn.Sequential(Scale(2)), tmp_path / "s.safetensors")
    monkeypatch.delitem(nn.LAYERS, "Scale")
    with pytest.raises(nn.UnknownLayerError, match=r"s\.safetensors.*unknown layer 'Scale'"):
        io.load(tmp_path / "s.safetensors")


def test_module_from_config_errors():
    with pytest.raises(ValueError, match="cannot build Linear"):
        nn.module_from_config({"class": "Linear", "config": {"n_in": 2, "wrong": 1}})
    with pytest.raises(ValueError, match="expected a dict with keys 'class'"):
        nn.module_from_config(["Linear"])


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.safetensors"
    model = nn.Sequential(nn.Linear(2, 2))
    for call in (lambda: io.load(path), lambda: io.load_weights(model, path),
                 lambda: io.load_checkpoint(path, model)):
        with pytest.raises(FileNotFoundError, match="nowhere.safetensors"):
            call()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.save(model, tmp_path / "no-folder" / "m.safetensors")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "header"])
def test_corrupt_file_is_a_clear_error(tmp_path, damage):
    model, _ = trained_model()
    path = tmp_path / "m.safetensors"
    io.save(model, path)
    data = path.read_bytes()
    damaged = {"truncate": data[: len(data) - 7], "garbage": os.urandom(300), "empty": b"",
               "header": data[:8] + b"{" * 20 + data[28:]}[damage]
    path.write_bytes(damaged)
    with pytest.raises(io.CorruptFileError, match="m.safetensors.*not a valid dlkit/safetensors"):
        io.load(path)
    assert issubclass(io.CorruptFileError, ValueError)


def test_bad_config_metadata_is_corrupt(tmp_path):
    path = str(tmp_path / "bad.safetensors")
    save_file({"0.weight": np.zeros((2, 2), np.float32)}, path,
              metadata={"dlkit.kind": "model", "dlkit.config": "{not json"})
    with pytest.raises(io.CorruptFileError, match="bad.safetensors.*not JSON"):
        io.load(path)
    save_file({"x": np.zeros(1)}, path, metadata={"dlkit.kind": "checkpoint",
                                                  "dlkit.checkpoint": '{"epoch": 1}'})
    with pytest.raises(io.CorruptFileError, match="not a valid dlkit checkpoint"):
        io.read_checkpoint(path)


def _crash_midway(f, data):
    f.write(data[: len(data) // 2])
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize("writer", ["save", "save_weights", "save_checkpoint"])
def test_crash_mid_write_leaves_the_old_file(tmp_path, monkeypatch, writer):
    model, _ = trained_model()
    path = tmp_path / "m.safetensors"
    write = {"save": lambda m: io.save(m, path),
             "save_weights": lambda m: io.save_weights(m, path),
             "save_checkpoint": lambda m: io.save_checkpoint(path, m, None, epoch=1, step=1)}
    write[writer](model)
    old = model.state_dict()
    os.chmod(path, 0o600)
    with dl.no_grad():
        model[0].weight.data[:] = 0.0
    monkeypatch.setattr(dlkit.io.files, "_write_all", _crash_midway)
    with pytest.raises(OSError, match="disk full"):
        write[writer](model)
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind
    fresh = nn.module_from_config(nn.to_config(model))
    io.load_weights(fresh, path)
    np.testing.assert_array_equal(fresh[0].weight.data, old["0.weight"])
    monkeypatch.undo()
    write[writer](model)
    np.testing.assert_array_equal(io.load_weights(fresh, path)[0].weight.data, 0.0)
    assert os.stat(path).st_mode & 0o777 == 0o600  # a replaced file keeps its permissions


def test_tree_encoding_round_trip_and_errors(tmp_path):
    tensors = {}
    tree = {"big": 2**127 + 1, "neg": -(2**80), "nan": float("nan"), "inf": float("-inf"),
            "arr": np.arange(4.0), "list": [1, np.float32(0.5), {"a": np.ones(2, bool)}],
            "none": None, "s": "x"}
    encoded = encode(tree, tensors)
    assert set(tensors) == {"arr", "list/2/a"}
    back = decode(json.loads(json.dumps(encoded, allow_nan=False)), tensors)
    assert back["big"] == 2**127 + 1 and back["neg"] == -(2**80) and np.isnan(back["nan"])
    assert back["inf"] == float("-inf") and back["list"][1] == 0.5 and back["s"] == "x"
    np.testing.assert_array_equal(back["arr"], np.arange(4.0))
    with pytest.raises(TypeError, match="keys must be strings"):
        encode({1: 2}, {})
    with pytest.raises(TypeError, match="cannot store a object"):
        encode({"x": object()}, {})
    with pytest.raises(TypeError, match="safetensors files hold"):
        io.save_checkpoint(tmp_path / "c.safetensors", nn.Sequential(nn.Linear(1, 1)), None, 0, 0,
                           extra={"bad": np.array(["text"])})
