"""What ConvNets learn: receptive fields, top-activating patches, filters as pictures."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn
from dlkit.vision.images import load_image
from dlkit.vision.visualize import (
    Field,
    filter_images,
    receptive_fields,
    save_filters,
    save_top_patches,
    top_activating_patches,
)


def test_receptive_fields_of_conv_and_pool():
    layers = [nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 5, stride=2)]
    fields = receptive_fields(layers)
    assert fields[0] == Field(3, 1, -1)
    assert fields[1] == fields[0]
    assert fields[2] == Field(4, 2, -1)
    assert fields[3] == Field(8, 2, -3)
    assert fields[4] == Field(16, 4, -3)


def test_top_patches_are_the_receptive_fields_of_the_maxima(rng):
    dl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(3, 4, 3, padding=0), nn.ReLU())
    X = rng.random((20, 10, 10, 1)).astype(np.float32)
    top = top_activating_patches(model, X, 4, unit=2, k=5)
    assert top.patches.shape == (5, 8, 8, 1) and top.field == Field(8, 2, -1)
    with dl.no_grad():
        a = model(dl.Tensor(X)).numpy()[..., 2]
    best = a.reshape(20, -1).max(1)
    np.testing.assert_array_equal(top.examples, np.argsort(-best, kind="stable")[:5])
    np.testing.assert_allclose(top.values, np.sort(best)[::-1][:5], rtol=1e-6)
    # the activation depends on the patch only: the same patch elsewhere gives the same value
    for e, (r, c), p in zip(top.examples, top.positions, top.patches):
        assert a[e, r, c] == pytest.approx(top.values[list(top.examples).index(e)])
        top_row, left = -1 + 2 * r, -1 + 2 * c
        padded = np.pad(X[e], ((1, 8), (1, 8), (0, 0)))
        np.testing.assert_array_equal(p, padded[top_row + 1:top_row + 9, left + 1:left + 9])
    all_top = top_activating_patches(model, X, "4:ReLU", unit=2, k=5, distinct=False)
    assert all_top.values[0] == pytest.approx(top.values[0])
    assert (np.diff(all_top.values) <= 0).all()
    with pytest.raises(ValueError, match="units"):
        top_activating_patches(model, X, 4, unit=9)
    with pytest.raises(ValueError, match="unknown layer"):
        top_activating_patches(model, X, "conv9", unit=0)


def test_pictures_are_written(tmp_path, rng):
    dl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    X = rng.random((12, 8, 8, 3)).astype(np.float32)
    path = save_top_patches(model, X, 1, tmp_path / "top.png", units=[0, 1], k=4)
    img = load_image(path)
    assert img.shape[0] < img.shape[1]  # 2 rows of 4 patches
    path = save_filters(model, tmp_path / "filters.png")
    assert load_image(path).shape[-1] == 3
    images = filter_images(model[0].weight)
    assert len(images) == 6 and images[0].shape == (3, 3, 3)
    assert all(im.min() == 0 and im.max() == 1 for im in images)
    with pytest.raises(ValueError, match="no Conv2d"):
        save_filters(nn.Sequential(nn.Flatten(), nn.Linear(3, 2)), tmp_path / "x.png")
    with pytest.raises(TypeError, match="Sequential"):
        save_filters(nn.Linear(3, 2), tmp_path / "x.png")
