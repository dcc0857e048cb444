"""Samplers (sequential, random, distributed with PyTorch's padding) and resuming a loader
mid-epoch."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import (
    ArrayDataset,
    DataLoader,
    DistributedSampler,
    RandomHorizontalFlip,
    RandomSampler,
    SequentialSampler,
)


def test_sequential_and_random_samplers():
    assert list(SequentialSampler(4)) == [0, 1, 2, 3]
    dl.manual_seed(2)
    want = dl.backend.generator().permutation(9)
    dl.manual_seed(2)
    assert np.array_equal(RandomSampler(9).indices(), want)
    assert len(RandomSampler(9)) == 9


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 4, False),
                                                  (12, 4, False), (7, 2, True)])
def test_distributed_sampler_matches_pytorch_unshuffled(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data")
    for rank in range(replicas):
        ours = DistributedSampler(n, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_data.DistributedSampler(range(n), num_replicas=replicas, rank=rank,
                                               shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_distributed_shards_partition_the_shuffled_epoch_and_change_with_it():
    n, replicas = 23, 4
    shards = [DistributedSampler(n, replicas, r, seed=7) for r in range(replicas)]
    first = [s.indices() for s in shards]
    assert all(len(f) == 6 for f in first)
    together = np.concatenate(first)
    assert set(together.tolist()) == set(range(n)) and len(together) == 24  # 1 padded
    for s in shards:
        s.set_epoch(1)
    assert not np.array_equal(shards[0].indices(), first[0])
    dropped = [DistributedSampler(n, replicas, r, seed=7, drop_last=True).indices()
               for r in range(replicas)]
    assert len(set(np.concatenate(dropped).tolist())) == 20
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(n, 2, 2)


def test_loader_with_a_sampler_covers_its_shard():
    X = np.arange(20)
    loader = DataLoader(ArrayDataset(X), batch_size=3,
                        sampler=DistributedSampler(20, 2, 1, shuffle=False))
    assert len(loader) == 4
    got = np.concatenate([b[0].numpy() for b in loader])
    assert got.tolist() == list(range(1, 20, 2))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resuming_mid_epoch_yields_exactly_the_remaining_batches(num_workers):
    X = np.random.default_rng(0).standard_normal((50, 4, 4, 1)).astype(np.float32)
    y = np.arange(50)

    def loader():
        return DataLoader(ArrayDataset(X, y), batch_size=6, transform=RandomHorizontalFlip(),
                          num_workers=num_workers)

    dl.manual_seed(4)
    full = [(a.numpy(), b.numpy()) for a, b in loader()]
    dl.manual_seed(4)
    first = loader()
    it = iter(first)
    head = [tuple(t.numpy() for t in next(it)) for _ in range(3)]
    state, rng = first.state_dict(), dl.get_rng_state()
    it.close()
    assert state["position"] == 3 and len(state["order"]) == 50

    dl.manual_seed(999)  # a new process: other seeds until the checkpoint is restored
    resumed = loader()
    resumed.load_state_dict(state)
    dl.set_rng_state(rng)
    tail = [(a.numpy(), b.numpy()) for a, b in resumed]
    assert len(head) + len(tail) == len(full) == 9
    for (x0, y0), (x1, y1) in zip(full, head + tail):
        assert np.array_equal(x0, x1) and np.array_equal(y0, y1)
    assert resumed.state_dict()["fresh"]  # the epoch is over; the next one is new
    again = [b.numpy() for _, b in resumed]
    assert len(again) == 9 and not np.array_equal(np.concatenate(again), full_labels(full))


def full_labels(batches):
    return np.concatenate([b for _, b in batches])


def test_load_state_dict_rejects_another_dataset():
    small = DataLoader(ArrayDataset(np.arange(10)), batch_size=2)
    big = DataLoader(ArrayDataset(np.arange(30)), batch_size=2)
    it = iter(big)
    next(it)
    with pytest.raises(ValueError, match="recorded order has 30"):
        small.load_state_dict(big.state_dict())
