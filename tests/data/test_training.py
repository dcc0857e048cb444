"""Training through ``dl.train.fit`` on a folder of images (with workers) and on a
memory-mapped array; a seeded run repeats bit for bit whatever the number of workers."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn
from dlkit.data import ArrayDataset, DataLoader, ImageFolder, RandomHorizontalFlip

Image = pytest.importorskip("PIL.Image")


def _two_class_folder(root, n=24, size=12):
    """Class "bright" vs "dark" images with noise and a random bar."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(["dark", "bright"]):
        (root / name).mkdir(parents=True)
        for j in range(n):
            pixels = rng.integers(0, 90, (size, size, 3)) + 140 * c
            pixels[rng.integers(size)] = 255 - 200 * c
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{j}.png")
    return root


def _cnn():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 6 * 6, 2))


def _fit_folder(root, workers):
    dl.manual_seed(0)
    model = _cnn()
    loader = DataLoader(ImageFolder(root, size=12), batch_size=8, num_workers=workers,
                        transform=RandomHorizontalFlip())
    history = dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.02),
                           loader, epochs=4)
    return model, history


def test_a_cnn_learns_an_image_folder_and_workers_do_not_change_the_run(tmp_path):
    root = _two_class_folder(tmp_path / "imgs")
    model0, h0 = _fit_folder(root, 0)
    model2, h2 = _fit_folder(root, 2)
    assert h0["accuracy"][-1] >= 0.9 and h0["loss"][-1] < h0["loss"][0]
    assert h0["loss"] == h2["loss"]
    for p0, p2 in zip(model0.parameters(), model2.parameters()):
        assert np.array_equal(p0.data, p2.data)
    test = DataLoader(ImageFolder(root, size=12), batch_size=16, shuffle=False)
    assert dl.train.evaluate(model0, "cross_entropy", test)["accuracy"] >= 0.9


def test_a_model_learns_from_a_memory_mapped_array(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((600, 5)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) > 0).astype(np.int64)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    mX = np.load(tmp_path / "X.npy", mmap_mode="r")
    my = np.load(tmp_path / "y.npy", mmap_mode="r")
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 2))
    loader = DataLoader(ArrayDataset(mX, my), batch_size=32)
    history = dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.05),
                           loader, epochs=5)
    assert history["accuracy"][-1] > 0.95
