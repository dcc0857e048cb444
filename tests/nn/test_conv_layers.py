"""Convolution and pooling layers: shapes, configs, errors, float32, batch norm in CNNs."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn


def images(*shape, dtype=np.float32):
    return dl.tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("layer,shape,out", [
    (lambda: nn.Conv2d(3, 8, 3), (2, 7, 7, 3), (2, 5, 5, 8)),
    (lambda: nn.Conv2d(3, 8, 3, stride=2, padding="same"), (2, 7, 7, 3), (2, 4, 4, 8)),
    (lambda: nn.Conv2d(3, 8, 5, padding=2), (2, 7, 7, 3), (2, 7, 7, 8)),
    (lambda: nn.Conv1d(4, 6, 3, stride=2), (2, 9, 4), (2, 4, 6)),
    (lambda: nn.Conv3d(2, 3, 2), (1, 4, 4, 4, 2), (1, 3, 3, 3, 3)),
    (lambda: nn.DepthwiseConv2d(3, 3, padding=1), (2, 6, 6, 3), (2, 6, 6, 3)),
    (lambda: nn.MaxPool2d(2), (2, 6, 6, 3), (2, 3, 3, 3)),
    (lambda: nn.MaxPool2d(3, 2), (2, 7, 7, 3), (2, 3, 3, 3)),
    (lambda: nn.AvgPool2d(2), (2, 6, 6, 3), (2, 3, 3, 3)),
    (lambda: nn.MaxPool1d(2), (2, 6, 3), (2, 3, 3)),
    (lambda: nn.AvgPool3d(2), (1, 4, 4, 4, 2), (1, 2, 2, 2, 2)),
    (lambda: nn.GlobalAvgPool2d(), (2, 5, 5, 7), (2, 7)),
    (lambda: nn.ZeroPad2d(2), (2, 3, 3, 1), (2, 7, 7, 1)),
    (lambda: nn.BatchNorm2d(3), (4, 5, 5, 3), (4, 5, 5, 3)),
])
def test_output_shapes_follow_the_notes_formula(layer, shape, out):
    """n_out = floor((n + 2p - f) / s) + 1; float32 stays float32; configs rebuild."""
    module = layer()
    y = module(images(*shape))
    assert y.shape == out and y.dtype == np.float32
    rebuilt = nn.module_from_config(nn.to_config(module))
    assert type(rebuilt) is type(module)
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in module.parameters()]


def test_conv_weight_layout_and_he_init():
    dl.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3)
    assert conv.weight.shape == (3, 3, 16, 32) and conv.bias.shape == (32,)
    assert abs(conv.weight.data.std() / np.sqrt(2 / (3 * 3 * 16)) - 1) < 0.05


def test_conv_errors_name_layout_and_hint():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(dl.ShapeError, match="channels-first"):
        conv(images(2, 3, 8, 8))
    with pytest.raises(dl.ShapeError, match="single image"):
        conv(images(8, 8, 3))
    with pytest.raises(dl.ShapeError, match="smaller than the kernel"):
        conv(images(1, 2, 2, 3))
    with pytest.raises(ValueError, match="padding"):
        dl.conv2d(images(1, 5, 5, 3), conv.weight, padding="full")
    with pytest.raises(dl.ShapeError, match="max_pool2d"):
        nn.MaxPool2d(2)(images(2, 6, 6))


def test_batchnorm2d_normalizes_per_channel():
    bn = nn.BatchNorm2d(3)
    x = images(8, 4, 4, 3) * 3 + 2
    y = bn(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 1, 2)), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.numpy().mean(axis=(0, 1, 2)), rtol=1e-5)


def test_add_and_concatenate():
    a, b = images(2, 3, 3, 4), images(2, 3, 3, 4)
    np.testing.assert_allclose(nn.Add()(a, b).numpy(), a.numpy() + b.numpy())
    assert nn.Concatenate()([a, images(2, 3, 3, 2)]).shape == (2, 3, 3, 6)
    with pytest.raises(dl.ShapeError, match="projection"):
        nn.Add()(a, images(2, 3, 3, 5))


def test_conv_matches_naive_loop():
    """The im2col convolution against the notes' conv_single_step loops, both layouts."""
    rng = np.random.default_rng(1)
    for c_prev in (2, 10):
        x = rng.standard_normal((2, 6, 5, c_prev))
        w = rng.standard_normal((3, 3, c_prev, 4))
        b = rng.standard_normal(4)
        stride, pad = 2, 1
        xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        n_h, n_w = (6 + 2 * pad - 3) // stride + 1, (5 + 2 * pad - 3) // stride + 1
        z = np.zeros((2, n_h, n_w, 4))
        for i in range(2):
            for h in range(n_h):
                for v in range(n_w):
                    for c in range(4):
                        patch = xp[i, h * stride:h * stride + 3, v * stride:v * stride + 3]
                        z[i, h, v, c] = np.sum(patch * w[..., c]) + b[c]
        np.testing.assert_allclose(dl.conv2d(x, w, b, stride, pad).numpy(), z, rtol=1e-12)
