"""Sliding windows: the notes' 14x14x3 network turned fully convolutional gives, in one pass
on a 16x16 (and a 28x28) image, the same outputs as cropping and classifying every window."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn
from dlkit.errors import ShapeError
from dlkit.vision import sliding as SW


def notes_network():
    """14x14x3 -> CONV 5x5 16 -> MAXPOOL 2 -> FC 400 -> FC 400 -> 4 (the notes' figure),
    with batch norm in the dense head to exercise its conversion."""
    return nn.Sequential(nn.Conv2d(3, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 400), nn.BatchNorm1d(400), nn.ReLU(),
                         nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 4), nn.Softmax())


@pytest.mark.parametrize("size", [16, 28])
def test_convolutional_windows_equal_crop_and_classify(rng, size):
    dl.manual_seed(0)
    model = notes_network()
    model[5].running_mean[...] = rng.standard_normal(400).astype(np.float32) * 0.1
    model.eval()
    fc = SW.to_fully_convolutional(model, 14, 3)
    assert isinstance(fc[3], nn.Conv2d) and fc[3].weight.shape == (5, 5, 16, 400)
    assert isinstance(fc[4], nn.BatchNorm2d) and fc[6].weight.shape == (1, 1, 400, 400)
    assert SW.window_stride(model) == 2
    images = rng.random((2, size, size, 3)).astype(np.float32)
    conv = SW.convolutional_sliding_windows(fc, images)
    naive = SW.sliding_window_predictions(model, images, 14, 2)
    n = (size - 14) // 2 + 1
    assert conv.shape == naive.shape == (2, n, n, 4)
    np.testing.assert_allclose(conv, naive, atol=1e-5)
    # one window alone: the converted network gives a 1x1x4 volume, the original's output
    window = dl.tensor(images[:, :14, :14])
    np.testing.assert_allclose(fc(window).data[:, 0, 0], model(window).data, atol=1e-6)


def test_positions_and_crops(rng):
    images = rng.random((1, 10, 12, 2))
    crops = SW.crop_windows(images, 4, 3)
    pos = SW.window_positions((10, 12), 4, 3)
    assert crops.shape == (1, 3, 3, 4, 4, 2) and pos.shape == (3, 3, 2)
    y, x = pos[1, 2]
    np.testing.assert_array_equal(crops[0, 1, 2], images[0, y:y + 4, x:x + 4])


def test_errors():
    padded = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 64, 2))
    with pytest.raises(ValueError, match="padding 0"):
        SW.to_fully_convolutional(padded, 8)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 36, 2))
    with pytest.raises(ShapeError, match="wrong window size"):
        SW.to_fully_convolutional(model, 10)
    with pytest.raises(ValueError, match="one Flatten"):
        SW.to_fully_convolutional(nn.Sequential(nn.Conv2d(3, 4, 3)), 8)
    with pytest.raises(ShapeError, match="does not fit"):
        SW.crop_windows(np.zeros((1, 5, 5, 3)), 8, 2)
