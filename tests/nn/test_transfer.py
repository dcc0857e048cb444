"""Transfer learning: new heads, frozen backbones, cached features, progressive unfreezing."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn
from dlkit.nn import (
    FeatureCache,
    freeze_backbone,
    parameterised_layers,
    replace_head,
    split_head,
    trainable_parameters,
    unfreeze_last,
)
from dlkit.optim import SGD, Adam
from dlkit.train import evaluate, fit


class Counting(nn.Module):
    """Counts the forward calls of the module it wraps."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


def small_cnn(n_classes: int = 5) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 32), nn.ReLU(),
                         nn.Linear(32, n_classes))


@pytest.fixture(autouse=True)
def _seed():
    dl.manual_seed(0)


def _images(m: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((m, 8, 8, 1), dtype=np.float32)


# ---- heads --------------------------------------------------------------------------------
def test_replace_head_of_a_sequential_keeps_the_order():
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Softmax())
    head = replace_head(model, 7)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Softmax"]
    assert model[2] is head and (head.n_in, head.n_out) == (6, 7)
    assert model(dl.randn(2, 4)).shape == (2, 7)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("build, attr", [
    (lambda: dl.models.LeNet5(n_classes=10), "classifier"),
    (lambda: dl.models.ResNetSmall(n_classes=10, widths=(4,), blocks=(1,)), "net"),
    (lambda: dl.models.MobileNet(n_classes=10, width=0.125, blocks=((16, 1),),
                                 small_input=True), "net"),
    (lambda: dl.models.InceptionSmall(n_classes=10), "net"),
])
def test_replace_head_of_zoo_models(build, attr, tmp_path):
    model = build()
    head = replace_head(model, 3)
    assert getattr(model, attr)[-1] is head and model.n_classes == 3
    size = 32
    channels = getattr(model, "in_channels", 3)
    x = np.random.default_rng(0).random((2, size, size, channels), dtype=np.float32)
    assert model(dl.tensor(x)).shape == (2, 3)
    dl.io.save(model, tmp_path / "m.safetensors")  # the config has the new n_classes
    assert dl.io.load(tmp_path / "m.safetensors").n_classes == 3


def test_split_head_shares_the_layers():
    model = dl.models.LeNet5()
    backbone, head = split_head(model)
    assert head is model.classifier[4]
    x = dl.tensor(np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32))
    np.testing.assert_allclose(head(backbone(x)).data, model(x).data, rtol=1e-6)
    assert backbone(x).shape == (2, 84)
    assert {id(p) for p in backbone.parameters()} | {id(p) for p in head.parameters()} == \
        {id(p) for p in model.parameters()}


def test_head_errors():
    with pytest.raises(TypeError, match="Sequential"):
        replace_head(nn.Linear(3, 2), 4)
    with pytest.raises(ValueError, match="without a Linear"):
        split_head(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    with pytest.raises(ValueError, match="followed by layers with parameters"):
        split_head(nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)))
    with pytest.raises(ValueError, match="n_classes"):
        replace_head(nn.Sequential(nn.Linear(3, 2)), 0)


# ---- freezing ------------------------------------------------------------------------------
def test_frozen_backbone_is_unchanged_after_fit_and_the_head_changes():
    model = small_cnn()
    backbone, head = split_head(model)
    freeze_backbone(backbone)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    X, y = _images(64), np.random.default_rng(1).integers(0, 5, 64)
    assert trainable_parameters(model) == [head.weight, head.bias]
    fit(model, "cross_entropy", SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=16)
    after = model.state_dict()
    head_keys = {"10.weight", "10.bias"}
    for k in before:
        if k in head_keys:
            assert not np.array_equal(before[k], after[k]), k
        else:  # weights and batch norm's running averages alike
            np.testing.assert_array_equal(before[k], after[k], err_msg=k)


def test_unfreeze_last_unfreezes_exactly_the_last_layers():
    model = small_cnn()
    names = [name for name, _ in parameterised_layers(model)]
    assert names == ["0", "1", "4", "8", "10"]
    freeze_backbone(model)
    assert unfreeze_last(model, 0) == [] and trainable_parameters(model) == []
    assert unfreeze_last(model, 2) == ["8", "10"]
    assert trainable_parameters(model) == [model[8].weight, model[8].bias, model[10].weight,
                                           model[10].bias]
    assert unfreeze_last(model, 4) == ["1", "4", "8", "10"]  # batch norm counts as a layer
    assert model[1].gamma.requires_grad
    assert not model[0].weight.requires_grad and not model[0].bias.requires_grad
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        unfreeze_last(model, 6)
    with pytest.raises(ValueError, match="n_layers"):
        unfreeze_last(model, -1)


def test_unfreeze_last_in_nested_zoo_models():
    model = dl.models.ResNetSmall(n_classes=4, widths=(4, 8), blocks=(1, 1)).freeze()
    unfrozen = unfreeze_last(model, 3)
    # the last block registers its main branch, then its shortcut: conv, batch norm; then fc
    assert unfrozen == ["net.4.shortcut.0", "net.4.shortcut.1", "net.6"]
    trainable = {id(p) for p in trainable_parameters(model)}
    for name, layer in parameterised_layers(model):
        assert all((id(p) in trainable) == (name in unfrozen) for p in layer.parameters())


# ---- cached features -------------------------------------------------------------------------
def test_features_are_computed_once_in_eval_mode():
    inner = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Dropout(0.5), nn.ReLU())
    frozen = Counting(inner)
    X = _images(100)
    cache = FeatureCache(frozen, X, batch_size=64)
    assert frozen.calls == 0 and cache.is_stale()
    features = cache.features
    assert frozen.calls == 2 and cache.source == "computed"  # two batches, once
    assert cache.features is features and frozen.calls == 2 and not cache.is_stale()
    assert frozen.training  # its mode is restored
    frozen.eval()
    with dl.no_grad():
        np.testing.assert_allclose(features, frozen(dl.tensor(X)).data, rtol=1e-5, atol=1e-6)
    assert features.shape == (100, 16) and len(cache) == 100


def test_cache_invalidates_when_weights_or_inputs_change():
    frozen = Counting(nn.Sequential(nn.Flatten(), nn.Linear(64, 8)))
    X = _images(20)
    cache = FeatureCache(frozen, X)
    first = cache.features.copy()
    frozen.inner[1].weight.data += 1.0
    assert cache.is_stale()
    second = cache.features
    assert frozen.calls == 2 and not np.allclose(first, second)
    X[0, 0, 0, 0] += 1.0  # inputs changed in place
    assert cache.is_stale()
    np.testing.assert_allclose(cache.features[0], frozen.inner(dl.tensor(X[:1])).data[0],
                               rtol=1e-5, atol=1e-6)
    assert frozen.calls == 3


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_cache_file_is_reused_and_stale_files_are_detected(tmp_path, suffix):
    path = tmp_path / f"features{suffix}"
    frozen = Counting(nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.ReLU()))
    X = _images(30)
    features = FeatureCache(frozen, X, path=path).features
    assert path.exists() and frozen.calls == 1
    again = FeatureCache(frozen, X, path=path)
    np.testing.assert_array_equal(again.features, features)
    assert again.source == "file" and frozen.calls == 1  # read back, not computed
    other = FeatureCache(frozen, _images(30, seed=1), path=path)  # other inputs
    assert other.features.shape == (30, 8) and other.source == "computed" and frozen.calls == 2
    frozen.inner[1].bias.data += 0.5  # other weights: the file (of the other inputs) is stale
    third = FeatureCache(frozen, _images(30, seed=1), path=path)
    assert third.features is not None and third.source == "computed" and frozen.calls == 3
    assert FeatureCache(frozen, _images(30, seed=1), path=path).features is not None
    assert frozen.calls == 3


def test_cache_errors_and_corrupt_files(tmp_path):
    frozen = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    with pytest.raises(ValueError, match=r"\.npz or \.safetensors"):
        FeatureCache(frozen, _images(3), path=tmp_path / "f.pkl")
    with pytest.raises(TypeError, match="Module"):
        FeatureCache(lambda x: x, _images(3))
    path = tmp_path / "f.npz"
    path.write_bytes(b"not a zip file")
    cache = FeatureCache(frozen, _images(3), path=path)
    with pytest.warns(UserWarning, match="cannot read"):
        assert cache.features.shape == (3, 4)
    assert FeatureCache(frozen, _images(3), path=path).features.shape == (3, 4)  # rewritten


# ---- end to end ------------------------------------------------------------------------------
def test_digits_0_to_4_transfer_to_5_to_9_with_a_head_on_cached_features():
    X, y = dl.data.load_digits(as_images=True)
    old = y < 5
    model = small_cnn(5)
    fit(model, "cross_entropy", Adam(model.parameters(), lr=0.01), X[old], y[old], epochs=5,
        batch_size=32)
    assert evaluate(model, "cross_entropy", X[old], y[old])["accuracy"] > 0.95
    # the new task: digits 5-9, with only 100 labelled examples
    perm = np.random.default_rng(0).permutation(int((~old).sum()))
    Xn, yn = X[~old][perm], y[~old][perm] - 5
    X_train, y_train, X_test, y_test = Xn[:100], yn[:100], Xn[100:], yn[100:]
    replace_head(model, 5)
    backbone, head = split_head(model)
    freeze_backbone(backbone)
    frozen_before = {k: v.copy() for k, v in backbone.state_dict().items()}
    cache = FeatureCache(backbone, X_train)
    fit(head, "cross_entropy", Adam(head.parameters(), lr=0.05), cache.features, y_train,
        epochs=30, batch_size=32)
    accuracy = evaluate(model, "cross_entropy", X_test, y_test)["accuracy"]
    assert accuracy > 0.6, accuracy  # chance is 0.2
    for k, v in backbone.state_dict().items():
        np.testing.assert_array_equal(v, frozen_before[k])
    # then fine-tune the last three layers (conv, dense, head) on the images
    unfreeze_last(model, 3)
    fit(model, "cross_entropy", Adam(trainable_parameters(model), lr=0.001), X_train, y_train,
        epochs=3, batch_size=32)
    assert evaluate(model, "cross_entropy", X_test, y_test)["accuracy"] > 0.6
    np.testing.assert_array_equal(model[0].weight.data, frozen_before["0.weight"])


def _bn_updates_its_running_mean(model) -> bool:
    """Whether a training-mode forward pass moves the first batch norm's running mean."""
    before = model[1].running_mean.copy()
    model.train()
    model(np.random.default_rng(1).normal(size=(4, 8, 8, 1)).astype(np.float32))
    return not np.array_equal(before, model[1].running_mean)


def test_freeze_save_load_unfreeze_keeps_batch_norm_momentum(tmp_path):
    """Bug: freeze_backbone set momentum to 0 and stashed the old value; a saved and reloaded
    model had lost the stash, so after unfreezing its batch norms never updated again."""
    model = small_cnn()
    freeze_backbone(model)
    assert not _bn_updates_its_running_mean(model)  # frozen: inference mode
    dl.io.save(model, tmp_path / "frozen.safetensors")
    loaded = dl.io.load(tmp_path / "frozen.safetensors")
    assert loaded[1].momentum == 0.1
    unfreeze_last(loaded, 5)
    assert _bn_updates_its_running_mean(loaded)
