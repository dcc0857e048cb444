"""Default collation: arrays, numbers, containers, variable-length sequences, clear errors."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import Collate, DataLoader, Dataset, PaddedSequence, default_collate
from dlkit.errors import ShapeError


def test_arrays_numbers_and_containers():
    Point = namedtuple("Point", "x label")
    batch = default_collate([Point(np.ones((2, 2)), 1), Point(np.zeros((2, 2)), 2)])
    assert isinstance(batch, Point) and batch.x.shape == (2, 2, 2)
    assert batch.label.dtype == np.int64 and batch.label.tolist() == [1, 2]
    floats = default_collate([0.5, 1.5])
    assert floats.dtype == dl.get_default_dtype()
    assert default_collate([True, False]).dtype == np.bool_
    d = default_collate([{"a": (np.array([1]), "s")}, {"a": (np.array([2]), "t")}])
    assert np.array_equal(d["a"][0], [[1], [2]]) and d["a"][1] == ["s", "t"]


def test_variable_length_sequences_are_padded_with_a_mask():
    seqs = [np.ones((3, 2)), np.full((1, 2), 2.0), np.full((2, 2), 3.0)]
    out = Collate(pad_value=-1.0)([(s, i) for i, s in enumerate(seqs)])
    padded, labels = out
    assert isinstance(padded, PaddedSequence)
    assert padded.data.shape == (3, 3, 2)
    assert padded.lengths.tolist() == [3, 1, 2]
    assert padded.mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert padded.data[1, 1:].tolist() == [[-1, -1], [-1, -1]]
    assert np.array_equal(padded.data[2, :2], seqs[2])
    assert labels.tolist() == [0, 1, 2]


def test_inconsistent_examples_name_their_position():
    with pytest.raises(ShapeError, match=r"example 2 at \[0\] has shape \(3, 4\), example 0 has "
                                         r"\(3, 5\)"):
        default_collate([(np.zeros((3, 5)), 0), (np.zeros((3, 5)), 1), (np.zeros((3, 4)), 2)])
    with pytest.raises(ShapeError, match="example 1 has keys"):
        default_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(ShapeError, match="variable-length"):
        Collate(pad=False)([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="empty batch"):
        default_collate([])


def test_loader_names_the_dataset_index_of_an_inconsistent_shape():
    class Ragged(Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, i):
            return np.zeros((4, 3 if i == 9 else 2))

    with pytest.raises(ShapeError, match=r"example 9 \(position 1 in the batch\) has shape "
                                         r"\(4, 3\)"):
        list(DataLoader(Ragged(), batch_size=8, shuffle=False))
