"""The model zoo: parameter counts against the architectures, shapes, save/load, learning."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import models, nn


def conv_params(f, c_in, c_out, bias=True):
    return f * f * c_in * c_out + (c_out if bias else 0)


def dense_params(n_in, n_out):
    return n_in * n_out + n_out


def x_of(*shape):
    return dl.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


def test_lenet5_count_and_shapes():
    expected = (conv_params(5, 1, 6) + conv_params(5, 6, 16) + dense_params(400, 120)
                + dense_params(120, 84) + dense_params(84, 10))
    assert expected == 61706
    assert models.LeNet5().num_parameters() == expected
    assert models.LeNet5()(x_of(2, 32, 32, 1)).shape == (2, 10)
    assert models.LeNet5(input_size=28, activation="relu", pool="max")(x_of(2, 28, 28, 1)).shape \
        == (2, 10)


def test_alexnet_count():
    convs = (conv_params(11, 3, 96) + conv_params(5, 96, 256) + conv_params(3, 256, 384)
             + conv_params(3, 384, 384) + conv_params(3, 384, 256))
    expected = convs + dense_params(9216, 4096) + dense_params(4096, 4096) \
        + dense_params(4096, 1000)
    assert expected == 62_378_344
    assert models.AlexNet().num_parameters() == expected


@pytest.mark.parametrize("depth,expected", [(16, 138_357_544), (19, 143_667_240)])
def test_vgg_counts(depth, expected):
    widths = [64, 128, 256, 512, 512]
    per_block = {16: [2, 2, 3, 3, 3], 19: [2, 2, 4, 4, 4]}[depth]
    c, total = 3, 0
    for w, n in zip(widths, per_block):
        for _ in range(n):
            total += conv_params(3, c, w)
            c = w
    total += dense_params(7 * 7 * 512, 4096) + dense_params(4096, 4096) + dense_params(4096, 1000)
    assert total == expected
    assert models.VGG(depth).num_parameters() == expected


def test_vgg_small_input_runs():
    model = models.vgg16(n_classes=10, input_size=32, hidden=64)
    assert model(x_of(2, 32, 32, 3)).shape == (2, 10)


def bottleneck(c_in, filters, conv_shortcut):
    f1, f2, f3 = filters
    bn = lambda c: 2 * c  # noqa: E731 - gamma and beta
    n = conv_params(1, c_in, f1) + bn(f1) + conv_params(3, f1, f2) + bn(f2) \
        + conv_params(1, f2, f3) + bn(f3)
    return n + (conv_params(1, c_in, f3) + bn(f3) if conv_shortcut else 0)


def test_resnet50_count_matches_the_course():
    """Keras reports 23,546,886 trainable parameters for the course's ResNet50(64x64x3, 6)."""
    total, c = conv_params(7, 3, 64) + 2 * 64, 64
    for filters, blocks in zip(models.ResNet50.STAGES, models.ResNet50.BLOCKS):
        total += bottleneck(c, filters, True) + (blocks - 1) * bottleneck(filters[2], filters,
                                                                          False)
        c = filters[2]
    total += dense_params(2048, 6)
    assert total == 23_546_886
    model = models.ResNet50()
    assert model.num_parameters() == total
    assert model(x_of(1, 64, 64, 3)).shape == (1, 6)


def test_resnet_blocks_shapes_and_errors():
    assert models.IdentityBlock(8, (4, 4, 8))(x_of(2, 5, 5, 8)).shape == (2, 5, 5, 8)
    assert models.ConvolutionalBlock(8, (4, 4, 16), s=2)(x_of(2, 6, 6, 8)).shape == (2, 3, 3, 16)
    with pytest.raises(ValueError, match="ConvolutionalBlock"):
        models.IdentityBlock(8, (4, 4, 16))
    block = models.BasicBlock(4, 8, stride=2)
    assert block(x_of(2, 8, 8, 4)).shape == (2, 4, 4, 8) and block.shortcut is not None
    assert models.BasicBlock(8, 8).shortcut is None


def test_inception_module_of_the_notes():
    """28x28x192 -> 64 + 128 + 32 + 32 = 256 channels, same height and width."""
    module = models.InceptionModule(192, 64, 96, 128, 16, 32, 32)
    assert module(x_of(1, 28, 28, 192)).shape == (1, 28, 28, 256)
    expected = (conv_params(1, 192, 64) + conv_params(1, 192, 96) + conv_params(3, 96, 128)
                + conv_params(1, 192, 16) + conv_params(5, 16, 32) + conv_params(1, 192, 32))
    assert module.num_parameters() == expected
    assert models.InceptionSmall()(x_of(2, 32, 32, 3)).shape == (2, 10)


def test_mobilenet_v1_count():
    """MobileNet v1 (alpha 1, 224, 1000 classes): 4,231,976 trainable parameters."""
    model = models.MobileNet()
    c, total = 32, conv_params(3, 3, 32, bias=False) + 2 * 32
    for n, _ in models.MobileNet.V1:
        total += 9 * c + 2 * c + conv_params(1, c, n, bias=False) + 2 * n
        c = n
    total += dense_params(1024, 1000)
    assert total == 4_231_976
    assert model.num_parameters() == total
    small = models.MobileNet(10, width=0.25, small_input=True)
    assert small(x_of(2, 32, 32, 3)).shape == (2, 10)


@pytest.mark.parametrize("make,shape", [
    (lambda: models.LeNet5(), (2, 32, 32, 1)),
    (lambda: models.ResNetSmall(widths=(4, 8), blocks=(1, 1)), (2, 16, 16, 3)),
    (lambda: models.InceptionSmall(), (2, 16, 16, 3)),
    (lambda: models.MobileNet(5, width=0.25, blocks=[[16, 1], [32, 2]]), (2, 16, 16, 3)),
    (lambda: models.ConvolutionalBlock(3, (2, 2, 4)), (2, 6, 6, 3)),
])
def test_zoo_models_save_and_load_exactly(tmp_path, make, shape):
    dl.manual_seed(0)
    model = make()
    x = x_of(*shape)
    model.train()
    model(x)  # move batch-norm running statistics away from their initial values
    path = tmp_path / "m.safetensors"
    dl.io.save(model, path)
    again = dl.io.load(path)
    model.eval()
    again.eval()
    np.testing.assert_array_equal(model(x).numpy(), again(x).numpy())


@pytest.mark.parametrize("make,shape", [
    (lambda: models.BasicBlock(2, 3, stride=2), (2, 5, 5, 2)),
    (lambda: models.ConvolutionalBlock(2, (2, 2, 3), f=3, s=2), (2, 5, 5, 2)),
    (lambda: models.InceptionModule(3, 2, 2, 2, 1, 2, 1), (1, 4, 4, 3)),
    (lambda: models.DepthwiseSeparable(2, 3, stride=2), (2, 5, 5, 2)),
])
def test_zoo_block_gradient_check(make, shape):
    """Every parameter of a residual / Inception / depthwise-separable block, float64."""
    dl.set_default_dtype("float64")
    dl.manual_seed(0)
    block = make()
    x = dl.tensor(np.random.default_rng(1).standard_normal(shape))
    out_shape = block(x).shape
    weights = dl.tensor(np.random.default_rng(2).standard_normal(out_shape))
    assert dl.gradient_check_module(block, lambda m: (m(x) * weights).sum()) < 2e-7


def test_small_cnn_learns_digits_to_97_percent():
    """The notes' CNN pattern CONV-POOL-CONV-POOL-FC on scikit-learn's 8x8 digits."""
    pytest.importorskip("sklearn")
    dl.manual_seed(0)
    X, y = dl.data.load_digits(as_images=True)
    X_train, X_test, y_train, y_test = dl.data.train_test_split(X, y, test_size=0.2)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10))
    dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.01), X_train,
                 y_train, epochs=6, batch_size=32)
    assert dl.train.evaluate(model, "cross_entropy", X_test, y_test)["accuracy"] >= 0.97
