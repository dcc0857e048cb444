"""On an NVIDIA GPU through CuPy (skipped without one): every op of the registry forward and
backward on CuPy (float64 and float32) against NumPy; training the default ``dlkit train``,
a residual network and an LSTM language model on the GPU to the CPU's results; checkpoints
saved on the CPU resuming on the GPU and back."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from device_cases import grads, run_case
from op_registry import CASES, upstream_weights

import dlkit as dl

pytestmark = pytest.mark.gpu
GPU = os.environ.get("DLKIT_GPU_TEST_DEVICE", "cuda")  # "strict": a dry run on the CPU
DEVICES = ["cpu", GPU]
TOL = {np.float64: (1e-9, 1e-11), np.float32: (2e-3, 2e-4)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_on_cupy_equals_numpy(case, dtype):
    dl.set_default_dtype(dtype)
    dl.manual_seed(0)
    ref, ref_xs = run_case(case, "cpu", dtype)
    dl.manual_seed(0)
    out, xs = run_case(case, GPU, dtype)
    ref, ref_g, out, g = ref.numpy(), grads(ref_xs), out.numpy(), grads(xs)
    rtol, atol = TOL[dtype]
    if "dropout" in case.name:  # device draws differ from the host's: check the rule only
        assert out.shape == ref.shape
        return
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)
    for a, b in zip(g, ref_g):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_gradient_check_on_cupy():
    dl.set_default_dtype("float64")
    for case in CASES[:40]:
        if "dropout" in case.name:
            continue
        xs = [dl.tensor(x, device=GPU).data for x in case.inputs]
        out = case.f(*[dl.tensor(x) for x in xs])
        w = dl.tensor(upstream_weights(out.shape), device=GPU)
        diff = dl.gradient_check(lambda *t, f=case.f, w=w: (f(*t) * w).sum(), xs)
        assert diff < 2e-7, case.name


@pytest.mark.parametrize("device", DEVICES)
def test_seeded_gpu_run_repeats(device):
    def run():
        dl.manual_seed(0)
        x = dl.tensor(np.ones((64, 32), np.float32), device=device)
        return dl.dropout(x, 0.5).numpy()

    np.testing.assert_array_equal(run(), run())


def _fit(model, device, X, y, epochs, lr=0.01, batch_size=64):
    model.to(device)
    opt = dl.optim.Adam(model.parameters(), lr=lr)
    loader = dl.data.DataLoader(X, y, batch_size=batch_size, device=device)
    return dl.train.fit(model, "cross_entropy", opt, loader, epochs=epochs).history


def test_residual_network_gpu_matches_cpu():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 16, 16, 3)).astype(np.float32)
    y = (X[..., 0].mean(axis=(1, 2)) > 0).astype(np.int64)
    results = {}
    for device in DEVICES:
        dl.manual_seed(0)
        model = dl.models.ResNetSmall(n_classes=2, widths=(8, 16), blocks=(1, 1))
        results[device] = _fit(model, device, X, y, epochs=3)
    assert abs(results[GPU]["accuracy"][-1] - results["cpu"]["accuracy"][-1]) < 0.05
    np.testing.assert_allclose(results[GPU]["loss"], results["cpu"]["loss"], rtol=2e-2)


def test_lstm_language_model_gpu_matches_cpu():
    from dlkit import nn

    rng = np.random.default_rng(0)
    text = np.tile(np.arange(12), 200)
    idx = np.stack([text[i:i + 21] for i in rng.integers(0, len(text) - 21, 256)])
    results = {}
    for device in DEVICES:
        dl.manual_seed(0)
        model = nn.Sequential(nn.Embedding(12, 16), nn.LSTM(16, 32, return_sequences=True),
                              nn.Linear(32, 12)).to(device)
        opt = dl.optim.Adam(model.parameters(), lr=0.02)
        losses = []
        for _ in range(4):
            for k in range(0, 256, 64):
                xb = dl.tensor(idx[k:k + 64, :-1], device=device)
                yb = dl.tensor(idx[k:k + 64, 1:], device=device)
                loss = dl.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            losses.append(loss.item())
        results[device] = losses
    np.testing.assert_allclose(results[GPU], results["cpu"], rtol=2e-2)
    assert results[GPU][-1] < results[GPU][0] * 0.5


def test_default_dlkit_train_on_gpu_matches_cpu(tmp_path, capsys):
    from dlkit.cli import main

    args = ["train", "--epochs", "2", "--examples", "400", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "cpu")]) == 0
    assert main([*args, "--device", GPU, "--out", str(tmp_path / "gpu")]) == 0
    capsys.readouterr()
    a = json.loads((tmp_path / "cpu" / "metrics.json").read_text())["test"]["accuracy"]
    b = json.loads((tmp_path / "gpu" / "metrics.json").read_text())["test"]["accuracy"]
    assert abs(a - b) <= 0.05, (a, b)


@pytest.mark.parametrize("first,second", [("cpu", GPU), (GPU, "cpu")])
def test_checkpoint_resumes_across_devices(tmp_path, first, second):
    from dlkit.io.checkpoint import load_checkpoint, save_checkpoint

    def build():
        return dl.nn.Sequential(dl.nn.Linear(4, 8), dl.nn.BatchNorm1d(8), dl.nn.ReLU(),
                                dl.nn.Linear(8, 3))

    X = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    y = np.arange(32) % 3
    dl.manual_seed(0)
    model = build().to(first)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    loss = dl.cross_entropy(model(dl.tensor(X, device=first)), dl.tensor(y, device=first))
    loss.backward()
    opt.step()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=1, step=1)
    other = build().to(second)
    opt2 = dl.optim.Adam(other.parameters(), lr=0.01)
    assert load_checkpoint(tmp_path / "c.safetensors", other, opt2)["epoch"] == 1
    assert other.device.type == dl.device(second).type
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    for model_, opt_, dev in ((model, opt, first), (other, opt2, second)):
        out = dl.cross_entropy(model_(dl.tensor(X, device=dev)), dl.tensor(y, device=dev))
        opt_.zero_grad()
        out.backward()
        opt_.step()
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(other.state_dict()[k], v, rtol=1e-4, atol=1e-6)
