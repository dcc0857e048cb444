"""Importing PyTorch state_dicts: twins of dlkit models built in PyTorch, their weights
imported, the outputs of both frameworks compared (NCHW <-> NHWC) in eval and train mode."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import dlkit as dl
from dlkit.io import TorchImportError, load_torch_state_dict, permute_flatten_linear

torch = pytest.importorskip("torch")
nn = torch.nn

RTOL, ATOL = 1e-4, 1e-5


# ---- PyTorch twins of dlkit's models ------------------------------------------------------
class TorchLeNet5(nn.Module):
    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
                                      nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
                                        nn.Tanh(), nn.Linear(84, n_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class TorchBasicBlock(nn.Module):
    def __init__(self, c_in: int, c: int, stride: int) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(c_in, c, 3, stride, 1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.shortcut = None
        if stride != 1 or c_in != c:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False),
                                          nn.BatchNorm2d(c))

    def forward(self, x):
        skip = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.main(x) + skip)


def torch_resnet_small(n_classes, in_channels, widths, blocks):
    layers = [nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
              nn.ReLU()]
    c = widths[0]
    for i, (w, n) in enumerate(zip(widths, blocks)):
        for j in range(n):
            layers.append(TorchBasicBlock(c, w, 2 if i > 0 and j == 0 else 1))
            c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)]
    return nn.Sequential(*layers)


def _conv_relu(c_in, c_out, f):
    return nn.Sequential(nn.Conv2d(c_in, c_out, f, padding=f // 2), nn.ReLU())


class TorchInception(nn.Module):
    def __init__(self, c_in, c1, c3r, c3, c5r, c5, pp) -> None:
        super().__init__()
        self.branch1 = _conv_relu(c_in, c1, 1)
        self.branch3 = nn.Sequential(_conv_relu(c_in, c3r, 1), _conv_relu(c3r, c3, 3))
        self.branch5 = nn.Sequential(_conv_relu(c_in, c5r, 1), _conv_relu(c5r, c5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), _conv_relu(c_in, pp, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x),
                          self.branch_pool(x)], 1)


def torch_mobilenet(n_classes, in_channels, c0, blocks):
    layers = [nn.Conv2d(in_channels, c0, 3, 1, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU()]
    c = c0
    for n, s in blocks:
        layers.append(nn.Sequential(
            nn.Conv2d(c, c, 3, s, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, n, 1, bias=False), nn.BatchNorm2d(n), nn.ReLU()))
        c = n
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)]
    return nn.Sequential(*layers)


# ---- running both ---------------------------------------------------------------------------
def _channels_first(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def _run_both(model, twin, x, training):
    model.train(training)
    twin.train(training)
    out = model(dl.tensor(x)).data
    t_out = twin(torch.from_numpy(_channels_first(x)) if x.ndim > 2
                 else torch.from_numpy(x)).detach().numpy()
    if t_out.ndim > 2:
        t_out = np.moveaxis(t_out, 1, -1)
    return out, t_out


def _assert_same(model, twin, x, report, training):
    out, t_out = _run_both(model, twin, x, training)
    assert out.shape == t_out.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, t_out, rtol=RTOL, atol=ATOL)
    if training:  # batch norm's running averages moved the same way
        state, t_state = model.state_dict(), twin.state_dict()
        stats = [(k, tk) for k, tk in report.loaded if k.endswith(("running_mean", "running_var"))]
        for k, tk in stats:
            np.testing.assert_allclose(state[k], t_state[tk].numpy(), rtol=RTOL, atol=ATOL,
                                       err_msg=k)
        return len(stats)
    return 0


def _randomize_bn_stats(twin, seed=0):
    """Running statistics and affine parameters away from their 0/1 defaults, so that
    importing them is tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)


@pytest.fixture(autouse=True)
def _seeds():
    dl.manual_seed(0)
    torch.manual_seed(0)


def _images(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- the models -----------------------------------------------------------------------------
def test_lenet5_with_flatten_permutation():
    model, twin = dl.models.LeNet5(), TorchLeNet5()
    report = load_torch_state_dict(model, twin.state_dict(),
                                   mapping={"classifier.0": {"flatten_from": (16, 5, 5)}})
    assert len(report.loaded) == 10 and not report.missing and not report.unexpected
    _assert_same(model, twin, _images(4, 32, 32, 1), report, training=False)


def test_lenet5_without_the_permutation_warns_and_differs():
    model, twin = dl.models.LeNet5(), TorchLeNet5()
    with pytest.warns(UserWarning, match=r"flatten_from': \(16, 5, 5\)"):
        load_torch_state_dict(model, twin.state_dict())
    out, t_out = _run_both(model, twin, _images(4, 32, 32, 1), training=False)
    assert not np.allclose(out, t_out, rtol=RTOL, atol=ATOL)
    # the helper does the same as the mapping option
    sd = twin.state_dict()
    sd["classifier.0.weight"] = torch.from_numpy(
        permute_flatten_linear(sd["classifier.0.weight"].numpy(), 16, 5, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_torch_state_dict(model, sd, mapping={"classifier.0": {"flatten_from": None}})
    out, t_out = _run_both(model, twin, _images(4, 32, 32, 1), training=False)
    np.testing.assert_allclose(out, t_out, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_resnet_small(training):
    model = dl.models.ResNetSmall(n_classes=5, in_channels=3, widths=(8, 16), blocks=(1, 1))
    twin = torch_resnet_small(5, 3, (8, 16), (1, 1))
    _randomize_bn_stats(twin)
    report = load_torch_state_dict(model, twin.state_dict())
    n_stats = _assert_same(model, twin, _images(3, 12, 12, 3), report, training)
    assert n_stats == (2 * 6 if training else 0)  # 6 batch norms: stem, 2 + 2, shortcut


def test_inception_module():
    model = dl.models.InceptionModule(6, 4, 3, 5, 2, 3, 3)
    twin = TorchInception(6, 4, 3, 5, 2, 3, 3)
    report = load_torch_state_dict(model, twin.state_dict())
    assert len(report.loaded) == 12
    _assert_same(model, twin, _images(2, 9, 9, 6), report, training=False)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_mobilenet_depthwise(training):
    blocks = ((32, 1), (64, 2))
    model = dl.models.MobileNet(n_classes=4, in_channels=3, width=0.25, blocks=blocks,
                                small_input=True)
    twin = torch_mobilenet(4, 3, 8, [(8, 1), (16, 2)])
    _randomize_bn_stats(twin)
    report = load_torch_state_dict(model, twin.state_dict())
    assert ("net.3.block.0.weight", "3.0.weight") in report.loaded  # depthwise (8, 1, 3, 3)
    _assert_same(model, twin, _images(3, 10, 10, 3), report, training)


def test_conv1d_net_flattened():
    model = dl.nn.Sequential(dl.nn.Conv1d(4, 8, 3, padding=1), dl.nn.ReLU(), dl.nn.MaxPool1d(2),
                             dl.nn.Conv1d(8, 6, 3), dl.nn.Flatten(), dl.nn.Linear(6 * 3, 5))
    twin = nn.Sequential(nn.Conv1d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(8, 6, 3), nn.Flatten(), nn.Linear(6 * 3, 5))
    report = load_torch_state_dict(model, twin.state_dict(),
                                   mapping={"5": {"flatten_from": (6, 3)}})
    _assert_same(model, twin, _images(3, 10, 4), report, training=False)


def test_conv3d_net_with_rectangular_kernels_and_maps():
    model = dl.nn.Sequential(dl.nn.Conv3d(2, 4, (3, 1, 2), padding=(1, 0, 0)), dl.nn.ReLU(),
                             dl.nn.AvgPool3d(2), dl.nn.Flatten(), dl.nn.Linear(4 * 2 * 3 * 2, 3))
    twin = nn.Sequential(nn.Conv3d(2, 4, (3, 1, 2), padding=(1, 0, 0)), nn.ReLU(),
                         nn.AvgPool3d(2), nn.Flatten(), nn.Linear(4 * 2 * 3 * 2, 3))
    with pytest.warns(UserWarning, match=r"\(C, D, H, W\)"):  # a map that is not a cube
        load_torch_state_dict(model, twin.state_dict())
    report = load_torch_state_dict(model, twin.state_dict(),
                                   mapping={"4": {"flatten_from": (4, 2, 3, 2)}})
    _assert_same(model, twin, _images(2, 4, 6, 5, 2), report, training=False)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_mlp_with_batch_norm(training):
    model = dl.models.mlp(10, [16, 8], 3, batch_norm=True)
    twin = nn.Sequential(nn.Linear(10, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(),
                         nn.Linear(16, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Linear(8, 3))
    _randomize_bn_stats(twin)
    report = load_torch_state_dict(model, twin.state_dict())
    assert ("1.gamma", "1.weight") in report.loaded and ("1.beta", "1.bias") in report.loaded
    assert all("num_batches_tracked" not in tk for _, tk in report.loaded)
    _assert_same(model, twin, _images(16, 10), report, training)


def test_numpy_values_and_dtypes_are_kept():
    model = dl.models.mlp(10, [16], 3)
    twin = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    sd = {k: v.numpy() for k, v in twin.state_dict().items()}
    load_torch_state_dict(model, sd)
    assert all(p.dtype == np.float32 for p in model.parameters())
    np.testing.assert_allclose(model.state_dict()["0.weight"], sd["0.weight"], rtol=1e-6)


def test_a_single_layer_and_bfloat16_values():
    layer, twin = dl.nn.Linear(3, 2), nn.Linear(3, 2)  # keys without a prefix
    report = load_torch_state_dict(layer, twin.to(torch.bfloat16).state_dict())
    assert report.loaded == [("weight", "weight"), ("bias", "bias")]
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, twin.weight.float().detach().numpy())


# ---- mapping ------------------------------------------------------------------------------
class HeadFirst(nn.Module):
    """Registers its head before its body: order pairing fails, names pair it."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 3)
        self.body = nn.Linear(5, 8)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def test_mapping_pairs_layers_by_name():
    model = dl.models.mlp(5, [8], 3)
    twin = HeadFirst()
    with pytest.raises(dl.ShapeError, match=r"'0.weight'.*\(8, 5\).*'head.weight'.*\(3, 8\)"):
        load_torch_state_dict(model, twin.state_dict())
    report = load_torch_state_dict(model, twin.state_dict(), mapping={"0": "body"})
    assert set(report.loaded) == {("0.weight", "body.weight"), ("0.bias", "body.bias"),
                                  ("2.weight", "head.weight"), ("2.bias", "head.bias")}
    _assert_same(model, twin, _images(4, 5), report, training=False)


def test_mapping_pairs_single_entries():
    model = dl.models.mlp(5, [8], 3)
    twin = HeadFirst()
    mapping = {"0.weight": "body.weight", "0.bias": "body.bias"}
    report = load_torch_state_dict(model, twin.state_dict(), mapping=mapping)
    assert ("2.weight", "head.weight") in report.loaded
    _assert_same(model, twin, _images(4, 5), report, training=False)


def test_mapping_none_keeps_a_new_head():
    model = dl.models.LeNet5(n_classes=5)
    head_before = model.classifier[4].weight.data.copy()
    twin = TorchLeNet5(n_classes=10)
    report = load_torch_state_dict(model, twin.state_dict(), mapping={
        "classifier.0": {"flatten_from": (16, 5, 5)}, "classifier.4": None})
    assert report.skipped == [("classifier.4", "classifier.4")]
    assert not report.missing and not report.unexpected
    np.testing.assert_array_equal(model.classifier[4].weight.data, head_before)
    np.testing.assert_array_equal(model.classifier[2].weight.data,
                                  twin.classifier[2].weight.detach().numpy())


def test_mapping_errors():
    model, sd = dl.models.mlp(5, [8], 3), HeadFirst().state_dict()
    with pytest.raises(KeyError, match="'hidden'.*not a layer or key of the dlkit model"):
        load_torch_state_dict(model, sd, mapping={"hidden": "body"})
    with pytest.raises(KeyError, match=r"'bdy'.*did you mean \['body'\]"):
        load_torch_state_dict(model, sd, mapping={"0": "bdy"})
    with pytest.raises(TypeError, match="unknown options"):
        load_torch_state_dict(model, sd, mapping={"0": {"from": "body"}})
    with pytest.raises(TypeError, match="mapping"):
        load_torch_state_dict(model, sd, mapping={"0": 3})


# ---- errors --------------------------------------------------------------------------------
def test_shape_mismatch_names_both_keys_and_shapes():
    model = dl.models.LeNet5(n_classes=5)
    before = model.state_dict()
    with pytest.raises(dl.ShapeError, match=r"'classifier.4.weight' has shape \(5, 84\), torch "
                                            r"'classifier.4.weight' has shape \(10, 84\)"):
        load_torch_state_dict(model, TorchLeNet5(10).state_dict(),
                              mapping={"classifier.0": {"flatten_from": (16, 5, 5)}})
    after = model.state_dict()  # nothing was copied
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_conv_shape_mismatch_shows_both_layouts():
    model = dl.nn.Sequential(dl.nn.Conv2d(3, 4, 3))
    twin = nn.Sequential(nn.Conv2d(3, 4, 5))
    with pytest.raises(dl.ShapeError, match=r"\(3, 3, 3, 4\).*\(4, 3, 5, 5\).*\(5, 5, 3, 4\) in "
                                            "dlkit's layout"):
        load_torch_state_dict(model, twin.state_dict())


def test_layers_of_another_kind():
    model = dl.nn.Sequential(dl.nn.Conv2d(1, 2, 3), dl.nn.Flatten(), dl.nn.Linear(8, 2))
    twin = nn.Sequential(nn.Linear(8, 2), nn.Conv2d(1, 2, 3))
    with pytest.raises(TorchImportError, match=r"dlkit layer '0' \(Conv2d: weight \(3, 3, 1, 2\)"
                                               r".*torch layer '0' \(Linear: weight \(2, 8\)"):
        load_torch_state_dict(model, twin.state_dict())
    # a conv with several input channels is not a depthwise conv
    depthwise = dl.nn.Sequential(dl.nn.DepthwiseConv2d(4, 3))
    with pytest.raises(TorchImportError, match="DepthwiseConv2d"):
        load_torch_state_dict(depthwise, nn.Sequential(nn.Conv2d(4, 4, 3)).state_dict())


def test_missing_and_unexpected_entries():
    model = dl.nn.Sequential(dl.nn.Conv2d(1, 2, 3))  # with a bias
    twin = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.Linear(3, 3))
    with pytest.raises(TorchImportError, match=r"without a torch value \['0.bias'\].*not used "
                                               r"\['1.weight', '1.bias'\]"):
        load_torch_state_dict(model, twin.state_dict())
    bias = model[0].bias.data.copy()
    report = load_torch_state_dict(model, twin.state_dict(), strict=False)
    assert report.loaded == [("0.weight", "0.weight")]
    assert report.missing == ["0.bias"] and report.unexpected == ["1.weight", "1.bias"]
    np.testing.assert_array_equal(model[0].bias.data, bias)
    np.testing.assert_allclose(model[0].weight.data,
                               twin[0].weight.detach().numpy().transpose(2, 3, 1, 0))


def test_bad_arguments():
    twin = TorchLeNet5()
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        load_torch_state_dict(dl.models.LeNet5(), twin)
    with pytest.raises(TypeError, match="dlkit.nn.Module"):
        load_torch_state_dict(twin, twin.state_dict())
    with pytest.raises(ValueError, match="flatten_from"):
        load_torch_state_dict(dl.models.LeNet5(), twin.state_dict(),
                              mapping={"classifier.0": {"flatten_from": (400,)}})


def test_permute_flatten_linear_reorders_columns():
    c, h, w = 3, 2, 4
    weight = np.arange(5 * c * h * w, dtype=np.float32).reshape(5, c * h * w)
    out = permute_flatten_linear(weight, c, h, w)
    for ci in range(c):
        for hi in range(h):
            for wi in range(w):
                np.testing.assert_array_equal(out[:, (hi * w + wi) * c + ci],
                                              weight[:, ci * h * w + hi * w + wi])
    with pytest.raises(dl.ShapeError, match=r"\(n_out, 24\).*\(5, 20\)"):
        permute_flatten_linear(weight[:, :20], c, h, w)


def test_dlkit_does_not_import_torch():
    code = ("import sys, dlkit, dlkit.io, dlkit.train; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- the docs' recipe for torchvision's ResNet-50 -------------------------------------------
class TorchvisionBottleneck(nn.Module):
    """torchvision.models.resnet.Bottleneck's structure and names (conv1 .. bn3, downsample)."""

    def __init__(self, c_in, width, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or c_in != 4 * width:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, 4 * width, 1, stride, bias=False),
                                            nn.BatchNorm2d(4 * width))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchvisionResNet(nn.Module):
    """torchvision.models.ResNet's structure and names, with fewer and narrower blocks."""

    def __init__(self, blocks, widths, n_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(widths[0]), nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c, stages = widths[0], []
        for i, (n, width) in enumerate(zip(blocks, widths)):
            stage = []
            for j in range(n):
                stage.append(TorchvisionBottleneck(c, width, 2 if i > 0 and j == 0 else 1))
                c = 4 * width
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2 = stages
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(c, n_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.avgpool(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(x, 1))


def _docs_recipe() -> dict:
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "transfer_learning.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S)
                 if "class Bottleneck" in b)
    namespace: dict = {}
    exec(compile(block, "docs/transfer_learning.md", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_docs_recipe_matches_torchvision_resnet_structure(training):
    recipe = _docs_recipe()
    model = recipe["resnet_torchvision"](blocks=(2, 1), widths=(4, 8), n_classes=6)
    twin = TorchvisionResNet((2, 1), (4, 8), 6)
    _randomize_bn_stats(twin)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # strict, and no flatten warning
        report = load_torch_state_dict(model, twin.state_dict())
    assert ("1.gamma", "bn1.weight") in report.loaded
    assert ("6.shortcut.0.weight", "layer2.0.downsample.0.weight") in report.loaded
    _assert_same(model, twin, _images(2, 32, 32, 3), report, training)


def test_course_convolutional_block_is_not_torchvision_bottleneck():
    """What the docs say of dl.models.ResNet50: torchvision's weights fit its shapes (all but
    the convolution biases) and compute something else (the stride is on another conv)."""
    block = dl.models.ConvolutionalBlock(8, (4, 4, 16), f=3, s=2)
    twin = TorchvisionBottleneck(8, 4, stride=2)
    _randomize_bn_stats(twin)
    with pytest.raises(TorchImportError, match="without a torch value"):
        load_torch_state_dict(block, twin.state_dict())
    report = load_torch_state_dict(block, twin.state_dict(), strict=False)
    assert report.missing == ["main.0.bias", "main.3.bias", "main.6.bias", "shortcut.0.bias"]
    assert not report.unexpected
    out, t_out = _run_both(block, twin, _images(2, 8, 8, 8), training=False)
    assert out.shape == t_out.shape and not np.allclose(out, t_out, rtol=0.1, atol=0.01)
