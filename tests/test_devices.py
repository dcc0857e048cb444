"""Devices on the CPU: naming, moving tensors/modules/optimizers/batches/files, the mixed-device
error and device-side seeding, all through the strict CuPy stand-in (``dlkit.testing.strict``),
which behaves towards NumPy as a CuPy array does."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.backend import to_numpy
from dlkit.testing.strict import ForeignArrayError, StrictArray

DEV = "strict"


def test_device_names():
    assert str(dl.device("cpu")) == "cpu" and dl.device("CPU") == "cpu"
    assert dl.device(None) == dl.device("cpu") and dl.device(dl.device("cpu")) == "cpu"
    assert str(dl.device("strict:0")) == "strict:0" and repr(dl.device(DEV)) == \
        "device('strict:0')"
    with pytest.raises(ValueError, match="expected 'cpu' or 'cuda'.*'tpu'"):
        dl.device("tpu")
    with pytest.raises(ValueError, match="cuda:N"):
        dl.device("strict:x")
    with pytest.raises(dl.DeviceError, match="1 strict device"):
        dl.device("strict:1")
    with pytest.raises(TypeError, match="expected a string"):
        dl.device(3)


def test_cuda_without_cupy_is_a_clear_error_and_is_available_never_raises():
    pytest.importorskip  # noqa: B018 - documentation: this test is for machines without CuPy
    if dl.cuda.is_available():
        pytest.skip("a GPU is present: the error is for machines without one")
    assert dl.cuda.device_count() == 0
    with pytest.raises(dl.DeviceError, match="device 'cuda'.*(pip install|no usable|no NVIDIA)"):
        dl.device("cuda")
    with pytest.raises(dl.DeviceError, match="device 'cuda'"):
        dl.tensor([1.0]).to("cuda")
    assert "cuda" in dl.cuda.unavailable_reason()


def test_tensor_on_a_device_and_back_keeps_values_and_gradients():
    x = np.arange(6.0).reshape(2, 3)
    a = dl.tensor(x, device=DEV, requires_grad=True)
    assert a.device == DEV and isinstance(a.data, StrictArray) and a.is_leaf
    assert a.to(DEV) is a
    b = a.to("cpu")
    assert b.device == "cpu" and isinstance(b.data, np.ndarray)
    np.testing.assert_array_equal(b.numpy(), x)
    (b * b).sum().backward()  # gradient crosses back to the device
    assert isinstance(a.grad, StrictArray)
    np.testing.assert_allclose(to_numpy(a.grad), 2 * x)
    c = dl.tensor(x).to(DEV, dtype="float32")
    assert c.dtype == np.float32 and c.device == DEV
    assert dl.tensor(x).cpu().device == "cpu"


def test_tensors_on_two_devices_meeting_name_both():
    a = dl.tensor(np.ones((2, 3)), device=DEV)
    b = dl.tensor(np.ones((2, 3)))
    with pytest.raises(dl.DeviceError, match=r"add: .*input 0 on strict:0 and input 1 on cpu"):
        a + b
    with pytest.raises(dl.DeviceError, match=r"matmul: .*on cpu.*on strict:0"):
        dl.tensor(np.ones((3, 3))) @ a.T
    # Python numbers and 0-d host tensors go along, as in PyTorch
    assert (a * 2.0).device == DEV and (a + dl.tensor(1.0)).device == DEV
    np.testing.assert_allclose((a + dl.tensor(1.0)).numpy(), 2.0)


def test_the_strict_namespace_refuses_what_cupy_refuses():
    a = dl.tensor(np.ones(3), device=DEV).data
    with pytest.raises(ForeignArrayError):
        np.asarray(a)
    with pytest.raises(ForeignArrayError):
        a + np.ones(3)
    assert not isinstance(a, np.ndarray)
    xp = dl.backend.array_module(a)
    assert isinstance(np.exp(a), StrictArray) and isinstance(xp.exp(a), StrictArray)
    assert isinstance(a.sum(), StrictArray) and float(a.sum()) == 3.0


def test_module_to_moves_parameters_buffers_and_grads():
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(4, 5), dl.nn.BatchNorm1d(5), dl.nn.ReLU(),
                             dl.nn.Linear(5, 2))
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    dl.cross_entropy(model(dl.tensor(x)), np.arange(8) % 2).backward()
    before = model.state_dict()
    assert model.to(DEV) is model and model.device == DEV
    for p in model.parameters():
        assert isinstance(p.data, StrictArray) and isinstance(p.grad, StrictArray)
    for _, b in model.named_buffers():
        assert isinstance(b, StrictArray)
    after = model.state_dict()  # always host arrays
    for k in before:
        assert type(after[k]) is np.ndarray
        np.testing.assert_array_equal(after[k], before[k])
    y = model(dl.tensor(x, device=DEV))
    assert y.device == DEV
    assert model.cpu().device == "cpu"


def _train(device: str, steps: int = 5) -> tuple[np.ndarray, float]:
    dl.manual_seed(3)
    model = dl.nn.Sequential(dl.nn.Linear(4, 8), dl.nn.ReLU(), dl.nn.Dropout(0.3),
                             dl.nn.Linear(8, 3))
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    model.to(device)  # after building the optimizer: its state follows
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    loss = dl.tensor(0.0)
    for _ in range(steps):
        loss = dl.cross_entropy(model(dl.tensor(x, device=device)),
                                dl.tensor(y, device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return to_numpy(model[0].weight.data), loss.item()


def test_optimizer_state_follows_the_parameters_and_a_seeded_run_repeats():
    w1, l1 = _train(DEV)
    w2, l2 = _train(DEV)
    np.testing.assert_array_equal(w1, w2)  # dropout draws on the device, seeded
    assert l1 == l2
    w0, _ = _train("cpu", steps=0)
    assert not np.allclose(w1, w0)


def test_optimizer_state_moves_lazily_and_with_to():
    model = dl.nn.Linear(3, 2)
    opt = dl.optim.Adam(model.parameters(), lr=0.1)
    x = np.ones((4, 3), np.float32)
    model(dl.tensor(x)).sum().backward()
    opt.step()
    model.to(DEV)
    model.zero_grad()
    model(dl.tensor(x, device=DEV)).sum().backward()
    opt.step()
    assert all(isinstance(v, StrictArray) for s in opt.state for v in s.values())
    assert opt.to("cpu") is opt
    assert all(type(v) is np.ndarray for s in opt.state for v in s.values())
    state = opt.state_dict()
    assert all(type(v) is np.ndarray for v in state["state"].values())
    opt2 = dl.optim.Adam(model.parameters(), lr=0.1)
    opt2.load_state_dict(state)  # loads onto the parameters' device
    assert all(isinstance(v, StrictArray) for s in opt2.state for v in s.values())


def test_dataloader_moves_each_batch_once():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    batches = list(dl.data.DataLoader(X, y, batch_size=4, shuffle=False, device=DEV))
    assert len(batches) == 3
    for xb, yb in batches:
        assert isinstance(xb.data, StrictArray) and isinstance(yb.data, StrictArray)
    np.testing.assert_array_equal(batches[0][0].numpy(), X[:4])
    ds = dl.data.ArrayDataset(X, y)
    xb, yb = next(iter(dl.data.DataLoader(ds, batch_size=5, shuffle=False, device=DEV)))
    assert xb.device == DEV and yb.device == DEV
    xb, _ = next(iter(dl.data.DataLoader(X, y, batch_size=5)))
    assert xb.device == "cpu"


def test_move_handles_nested_batches():
    from collections import namedtuple

    from dlkit.devices import move

    Pair = namedtuple("Pair", "a b")
    batch = {"x": dl.tensor(np.ones(2)), "rest": [Pair(np.zeros(1), "label")], "n": 3}
    out = move(batch, DEV)
    assert out["x"].device == DEV and isinstance(out["rest"][0].a, StrictArray)
    assert out["rest"][0].b == "label" and out["n"] == 3


def test_save_writes_host_arrays_and_load_goes_to_the_requested_device(tmp_path):
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.BatchNorm1d(4)).to(DEV)
    path = tmp_path / "m.safetensors"
    dl.io.save(model, path)
    on_cpu = dl.io.load(path)
    assert on_cpu.device == "cpu"
    on_dev = dl.io.load(path, device=DEV)
    assert on_dev.device == DEV
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(on_cpu.state_dict()[k], v)
        np.testing.assert_array_equal(on_dev.state_dict()[k], v)
    dl.io.load_weights(on_dev, path)  # into a model on the device: stays there
    assert on_dev.device == DEV


def test_checkpoint_saved_on_the_cpu_resumes_on_the_device_and_back(tmp_path):
    from dlkit.io.checkpoint import load_checkpoint, save_checkpoint

    w_dev, _ = _train(DEV, steps=2)
    dl.manual_seed(3)
    model = dl.nn.Sequential(dl.nn.Linear(4, 8), dl.nn.ReLU(), dl.nn.Dropout(0.3),
                             dl.nn.Linear(8, 3))
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    model(dl.tensor(np.ones((2, 4), np.float32))).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=1, step=1)
    model2 = dl.nn.Sequential(dl.nn.Linear(4, 8), dl.nn.ReLU(), dl.nn.Dropout(0.3),
                              dl.nn.Linear(8, 3)).to(DEV)
    opt2 = dl.optim.Adam(model2.parameters(), lr=0.01)
    load_checkpoint(tmp_path / "c.safetensors", model2, opt2)
    assert model2.device == DEV
    assert all(isinstance(v, StrictArray) for s in opt2.state for v in s.values())
    np.testing.assert_array_equal(to_numpy(model2[0].weight.data), model[0].weight.numpy())
    save_checkpoint(tmp_path / "d.safetensors", model2, opt2, epoch=2, step=2)
    model3 = dl.nn.Sequential(dl.nn.Linear(4, 8), dl.nn.ReLU(), dl.nn.Dropout(0.3),
                              dl.nn.Linear(8, 3))
    opt3 = dl.optim.Adam(model3.parameters(), lr=0.01)
    assert load_checkpoint(tmp_path / "d.safetensors", model3, opt3)["epoch"] == 2
    assert model3.device == "cpu"
    assert all(type(v) is np.ndarray for s in opt3.state for v in s.values())
    assert w_dev.shape == (8, 4) or w_dev.shape == (4, 8)


def test_device_generator_is_seeded_by_manual_seed():
    from dlkit.backend import array_module, generator

    xp = array_module(dl.tensor(np.ones(1), device=DEV).data)
    dl.manual_seed(7)
    a = to_numpy(generator(xp).random(5))
    dl.manual_seed(7)
    b = to_numpy(generator(xp).random(5))
    np.testing.assert_array_equal(a, b)
    dl.manual_seed(8)
    assert not np.array_equal(a, to_numpy(generator(xp).random(5)))
    assert isinstance(generator(xp).random(2), StrictArray)


def test_fit_on_the_device_matches_the_cpu():
    def run(device):
        dl.manual_seed(0)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, 5)).astype(np.float32)
        y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
        model = dl.nn.Sequential(dl.nn.Linear(5, 16), dl.nn.ReLU(), dl.nn.Linear(16, 2))
        model.to(device)
        opt = dl.optim.Adam(model.parameters(), lr=0.02)
        loader = dl.data.DataLoader(X, y, batch_size=16, device=device)
        hist = dl.train.fit(model, "cross_entropy", opt, loader, epochs=3)
        return hist.history["loss"], hist.history["accuracy"]

    loss_cpu, acc_cpu = run("cpu")
    loss_dev, acc_dev = run(DEV)
    np.testing.assert_allclose(loss_dev, loss_cpu, rtol=1e-5)
    np.testing.assert_allclose(acc_dev, acc_cpu)
    assert loss_cpu[-1] < loss_cpu[0]


def test_fit_moves_outputs_to_the_host_once_per_epoch(monkeypatch):
    calls = []
    original = StrictArray.get
    monkeypatch.setattr(StrictArray, "get", lambda self: calls.append(self.shape) or
                        original(self))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 3)).astype(np.float32), rng.integers(0, 2, 64)
    model = dl.nn.Linear(3, 2).to(DEV)
    opt = dl.optim.SGD(model.parameters(), lr=0.1)
    dl.train.fit(model, "cross_entropy", opt, dl.data.DataLoader(X, y, batch_size=8, device=DEV),
                 epochs=2)
    assert sorted(calls) == sorted([(64, 2), (64,)] * 2)  # outputs and targets, per epoch


_LAYERS = [
    ("lenet5", lambda: dl.models.LeNet5(input_size=28, activation="relu", pool="max"),
     (2, 28, 28, 1)),
    ("inception", lambda: dl.models.InceptionSmall(), (2, 16, 16, 3)),
    ("mobilenet", lambda: dl.models.MobileNet(5, width=0.25, blocks=[[16, 1], [32, 2]]),
     (2, 16, 16, 3)),
    ("resnet_small", lambda: dl.models.ResNetSmall(widths=(4, 8), blocks=(1, 1)),
     (2, 16, 16, 3)),
    ("conv1d", lambda: dl.nn.Sequential(dl.nn.Conv1d(3, 4, 3), dl.nn.MaxPool1d(2),
                                        dl.nn.AvgPool1d(1)), (2, 10, 3)),
    ("conv3d", lambda: dl.nn.Sequential(dl.nn.Conv3d(2, 3, 2), dl.nn.MaxPool3d(2),
                                        dl.nn.AvgPool3d(1)), (2, 5, 5, 5, 2)),
    ("pad_pool_depthwise", lambda: dl.nn.Sequential(dl.nn.ZeroPad2d(1), dl.nn.AvgPool2d(2),
                                                    dl.nn.DepthwiseConv2d(3, 3)),
     (2, 8, 8, 3)),
    ("gru", lambda: dl.nn.GRU(3, 5, return_sequences=True), (2, 6, 3)),
    ("rnn", lambda: dl.nn.RNN(3, 5), (2, 6, 3)),
    ("bilstm", lambda: dl.nn.Bidirectional(dl.nn.LSTM(3, 4, return_sequences=True)),
     (2, 6, 3)),
    ("time_distributed", lambda: dl.nn.TimeDistributed(dl.nn.Linear(3, 2)), (2, 6, 3)),
]


@pytest.mark.parametrize("make,shape", [c[1:] for c in _LAYERS], ids=[c[0] for c in _LAYERS])
def test_layers_and_zoo_models_on_a_device_equal_the_cpu(make, shape):
    X = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    dl.manual_seed(0)
    model = make()
    ref = model(dl.tensor(X))
    ref.sum().backward()
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model.to(DEV)
    out = model(dl.tensor(X, device=DEV))
    out.sum().backward()
    assert isinstance(out.data, StrictArray)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_allclose(to_numpy(p.grad), g, rtol=1e-4, atol=1e-5)
    model.eval()
    assert model(dl.tensor(X, device=DEV)).device == DEV


def test_factories_take_a_device_and_draw_the_same_numbers_there():
    for make in (lambda d: dl.zeros(2, 3, device=d), lambda d: dl.ones(2, device=d),
                 lambda d: dl.full((2,), 3.0, device=d), lambda d: dl.arange(4, device=d),
                 lambda d: dl.eye(3, device=d), lambda d: dl.randint(0, 5, (3,), device=d)):
        dl.manual_seed(0)
        a = make(DEV)
        dl.manual_seed(0)
        np.testing.assert_array_equal(a.numpy(), make(None).numpy())
        assert a.device == DEV
    dl.manual_seed(1)
    a = dl.randn(3, 2, device=DEV, requires_grad=True)
    dl.manual_seed(1)
    np.testing.assert_array_equal(a.numpy(), dl.randn(3, 2).numpy())
    assert a.requires_grad and a.device == DEV and dl.rand(2, device=DEV).device == DEV
    assert dl.zeros_like(a).device == DEV and dl.ones_like(a).device == DEV


def test_fit_evaluate_predict_move_array_batches_to_the_models_device():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(3, 8), dl.nn.ReLU(), dl.nn.Linear(8, 2)).to(DEV)
    opt = dl.optim.Adam(model.parameters(), lr=0.05)
    hist = dl.train.fit(model, "cross_entropy", opt, X, y, epochs=3, batch_size=8,
                        validation_data=(X, y))
    assert "val_loss" in hist.history
    logs = dl.train.evaluate(model, "cross_entropy", X, y)
    out = dl.train.predict(model, X)
    assert type(out) is np.ndarray and out.shape == (40, 2)
    assert logs["accuracy"] == np.mean(out.argmax(1) == y)


def test_attention_model_and_charlm_with_ids_on_either_device():
    from dlkit.nn.attention import AttentionModel
    from dlkit.text.charlm import CharLM

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 6, (2, 5))
    ids[0, -2:] = 0  # padding
    for model, ids_ in ((AttentionModel(6, 4, 3, 4, 5), ids), (CharLM(6, 3, 4), ids)):
        dl.manual_seed(0)
        ref = model(dl.tensor(ids_))
        ref = ref[0] if isinstance(ref, tuple) else ref
        model.to(DEV)
        for given in (ids_, dl.tensor(ids_, device=DEV)):
            out = model(given)
            out = out[0] if isinstance(out, tuple) else out
            assert out.device == DEV
            np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
        assert isinstance(model.embedding.mask(dl.tensor(ids_, device=DEV)), StrictArray) \
            if hasattr(model, "embedding") else True
