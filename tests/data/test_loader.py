"""DataLoader, splits and the flower generator."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import DataLoader, make_flower, split, train_test_split


def test_loader_batches_cover_every_example_once():
    X = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    dl.manual_seed(0)
    batches = list(DataLoader(X, y, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]  # the last, smaller batch is kept
    seen = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy())


def test_loader_is_seeded_and_unshuffled_keeps_order():
    X = np.arange(20).reshape(20, 1)
    dl.manual_seed(5)
    a = [b[0].numpy() for b in DataLoader(X, batch_size=8)]
    dl.manual_seed(5)
    b = [b[0].numpy() for b in DataLoader(X, batch_size=8)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    ordered = np.concatenate([b[0].numpy() for b in DataLoader(X, batch_size=8, shuffle=False)])
    np.testing.assert_array_equal(ordered, X)
    assert len(DataLoader(X, batch_size=8, drop_last=True)) == 2


def test_loader_rejects_mismatched_lengths_with_transpose_hint():
    with pytest.raises(dl.ShapeError, match="transpose"):
        DataLoader(np.zeros((2, 50)), np.zeros((50, 1)))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((5, 2)), batch_size=0)


def test_splits_partition_and_repeat():
    X, y = np.arange(100).reshape(100, 1), np.arange(100)
    dl.manual_seed(0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25)
    assert len(X_tr) == 75 and len(X_te) == 25
    np.testing.assert_array_equal(X_te[:, 0], y_te)
    assert sorted(np.concatenate([y_tr, y_te])) == list(range(100))
    parts = split(y, fractions=(0.6, 0.2, 0.2))
    assert [len(p) for p in parts] == [60, 20, 20]
    with pytest.raises(ValueError, match="summing to 1"):
        split(y, fractions=(0.5, 0.2))


def test_flower_shape_classes_and_seed():
    dl.manual_seed(1)
    X, y = make_flower(400)
    assert X.shape == (400, 2) and y.shape == (400, 1) and X.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0} and y.mean() == 0.5
    assert 3.0 < np.abs(X).max() < 5.0  # petals of radius about 4
    dl.manual_seed(1)
    np.testing.assert_array_equal(X, make_flower(400)[0])
