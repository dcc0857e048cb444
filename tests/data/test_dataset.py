"""Datasets (arrays, memory-mapped arrays, subsets, concatenations, random splits) and the
DataLoader over them; the arrays form repeats the historic loader bit for bit."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import (
    ArrayDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomHorizontalFlip,
    Subset,
    random_split,
)
from dlkit.errors import ShapeError


def _historic_batches(X, y, batch_size, shuffle, transform):
    """The DataLoader of before datasets, written out: one permutation per pass, then slices,
    the transform on a copy of X's rows (drawing from the dlkit generator)."""
    m = len(X)
    order = dl.backend.generator().permutation(m) if shuffle else None
    out = []
    for k in range(math.ceil(m / batch_size)):
        lo, hi = k * batch_size, min((k + 1) * batch_size, m)
        idx = slice(lo, hi) if order is None else order[lo:hi]
        xb, yb = X[idx], y[idx]
        if transform is not None:
            xb = transform(xb.copy())
        out.append((xb, yb))
    return out


@pytest.mark.parametrize("shuffle", [True, False])
def test_arrays_form_repeats_the_historic_loader_and_its_rng_use(shuffle):
    X = np.random.default_rng(1).standard_normal((37, 4, 4, 2)).astype(np.float32)
    y = np.arange(37)
    flip = RandomHorizontalFlip()
    dl.manual_seed(5)
    want = [_historic_batches(X, y, 8, shuffle, flip) for _ in range(2)]
    after_want = dl.backend.generator().random()
    dl.manual_seed(5)
    loader = DataLoader(X, y, batch_size=8, shuffle=shuffle, transform=flip)
    got = [[(xb.numpy(), yb.numpy()) for xb, yb in loader] for _ in range(2)]
    assert dl.backend.generator().random() == after_want  # same draws from the generator
    for we, ge in zip(want, got):
        assert len(we) == len(ge) == 5
        for (wx, wy), (gx, gy) in zip(we, ge):
            assert np.array_equal(wx, gx) and np.array_equal(wy, gy)
    assert isinstance(next(iter(loader)), tuple)


def test_array_dataset_items_batches_and_errors():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    ds = ArrayDataset(X, y)
    assert len(ds) == 10
    x3, y3 = ds[3]
    assert np.array_equal(x3, [6.0, 7.0]) and y3 == 3
    xb, yb = ds.__getitems__(np.array([4, 1]))
    assert np.array_equal(xb, X[[4, 1]]) and np.array_equal(yb, [4, 1])
    with pytest.raises(IndexError, match="index 10 out of range"):
        ds[10]
    with pytest.raises(ShapeError, match="array 1 has 9 examples"):
        ArrayDataset(X, y[:9])


def test_loader_over_a_dataset_yields_tensors_of_each_structure():
    class Pairs(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": np.full(3, i, dtype=np.float32), "label": i, "name": f"n{i}"}

    batches = list(DataLoader(Pairs(), batch_size=3, shuffle=False))
    assert [len(b["name"]) for b in batches] == [3, 3, 1]
    assert isinstance(batches[0]["x"], dl.Tensor) and batches[0]["x"].shape == (3, 3)
    assert np.array_equal(batches[1]["label"].numpy(), [3, 4, 5])
    assert batches[2]["name"] == ["n6"]
    assert len(DataLoader(Pairs(), batch_size=3, drop_last=True)) == 2


def test_array_dataset_through_loader_matches_the_arrays():
    X, y = np.arange(30.0).reshape(15, 2), np.arange(15)
    dl.manual_seed(3)
    got = list(DataLoader(ArrayDataset(X, y), batch_size=4))
    seen = np.concatenate([b[1].numpy() for b in got])
    assert sorted(seen.tolist()) == list(range(15)) and not np.array_equal(seen, np.arange(15))
    for xb, yb in got:
        assert np.array_equal(xb.numpy(), X[yb.numpy()])


def test_subset_concat_and_random_split():
    ds = ArrayDataset(np.arange(10))
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][0] == 7
    assert np.array_equal(sub.__getitems__([2, 0])[0], [5, 7])
    cat = ConcatDataset([ds, sub])
    assert len(cat) == 13 and cat[10][0] == 7 and cat[9][0] == 9 and cat[-1][0] == 5
    assert len(ds + sub) == 13
    with pytest.raises(IndexError):
        cat[13]
    dl.manual_seed(0)
    a, b = random_split(ds, [7, 3])
    dl.manual_seed(0)
    a2, _ = random_split(ds, [0.7, 0.3])
    assert np.array_equal(a.indices, a2.indices)
    assert sorted([*a.indices.tolist(), *b.indices.tolist()]) == list(range(10))
    assert len(a) == 7 and not np.array_equal(a.indices, np.arange(7))
    with pytest.raises(ValueError, match="summing"):
        random_split(ds, [5, 4])


def test_iterable_dataset_is_batched_in_order():
    class Stream(IterableDataset):
        def __iter__(self):
            for i in range(5):
                yield np.array([i, i]), i

    batches = list(DataLoader(Stream(), batch_size=2))
    assert [b[1].numpy().tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert len(list(DataLoader(Stream(), batch_size=2, drop_last=True))) == 2


def test_example_error_names_the_index_in_the_main_process():
    class Bad(Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, i):
            if i == 13:
                raise ValueError("corrupt record")
            return np.zeros(2)

    with pytest.raises(ValueError, match=r"example 13 failed while loading: corrupt record"):
        list(DataLoader(Bad(), batch_size=4, shuffle=False))


def test_memmap_rows_are_read_from_the_file(tmp_path):
    path = tmp_path / "x.npy"
    X = np.random.default_rng(0).standard_normal((50, 3, 2)).astype(np.float32)
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    ds = ArrayDataset(mm[5:], np.arange(45))
    assert ds._readers[0] is not None  # the pread path, not the mapping
    idx = np.array([44, 0, 3, 4, 5, 20, 3])
    assert np.array_equal(ds.__getitems__(idx)[0], X[5:][idx])
    dl.manual_seed(1)
    for xb, yb in DataLoader(ds, batch_size=16):
        assert np.array_equal(xb.numpy(), X[5:][yb.numpy()])
    unshuffled = [xb.data for (xb,) in DataLoader(mm, batch_size=16, shuffle=False)]
    assert not any(isinstance(xb, np.memmap) for xb in unshuffled)  # copies, not the mapping
    assert np.array_equal(np.concatenate(unshuffled), X)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_iterating_a_2gb_memmap_keeps_resident_memory_low(tmp_path):
    """2 GiB on disk (a sparse file, so writing it is instant), 1 MiB rows: one pass over
    every row raises VmRSS by less than 300 MB."""
    rows, row = 2048, 1 << 18  # 2048 rows of 2**18 float32 = 2 GiB
    path = tmp_path / "big.f32"
    with open(path, "wb") as f:
        f.truncate(rows * row * 4)
    marks = np.memmap(path, dtype=np.float32, mode="r+", shape=(rows, row))
    marks[[0, 777, rows - 1], 0] = [1.0, 777.0, 2047.0]
    marks.flush()
    del marks
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, row))
    loader = DataLoader(ArrayDataset(mm, np.arange(rows)), batch_size=32)
    before, peak, seen, checked = _rss_mb(), 0.0, 0, 0
    dl.manual_seed(0)
    for xb, yb in loader:
        ids = yb.numpy()
        for want in (0, 777, rows - 1):
            hit = np.flatnonzero(ids == want)
            if hit.size:
                assert xb.numpy()[hit[0], 0] == max(want, 1)
                checked += 1
        seen += len(ids)
        peak = max(peak, _rss_mb())
    assert seen == rows and checked == 3
    assert peak - before < 300, f"resident memory rose by {peak - before:.0f} MB"
    print(f"2 GiB memmap pass: VmRSS rose by {peak - before:.0f} MB")
