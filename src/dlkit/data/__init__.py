"""Datasets, mini-batches and splits."""

from dlkit.data.loader import DataLoader
from dlkit.data.planar import make_flower
from dlkit.data.split import split, train_test_split

__all__ = ["DataLoader", "make_flower", "split", "train_test_split"]
