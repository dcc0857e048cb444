"""Samplers: the order of an epoch's examples, as an int64 array of dataset indices.

A sampler is any iterable of indices with ``__len__`` (PyTorch's protocol); dlkit's also
give ``indices()``, the whole epoch's order at once (the loader records it for resuming).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.backend import generator


class Sampler:
    """Base: subclasses define ``indices() -> np.ndarray`` (drawn anew each call/epoch)."""

    def indices(self) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., n-1``."""

    def __init__(self, n: int) -> None:
        self.n = _check_n("SequentialSampler", n)

    def indices(self) -> np.ndarray:
        return np.arange(self.n, dtype=np.int64)

    def __len__(self) -> int:
        return self.n


class RandomSampler(Sampler):
    """A fresh permutation of ``0..n-1`` each epoch from the dlkit generator
    (``generator().permutation(n)``, the draw ``DataLoader(X, y, shuffle=True)`` makes)."""

    def __init__(self, n: int) -> None:
        self.n = _check_n("RandomSampler", n)

    def indices(self) -> np.ndarray:
        return generator().permutation(self.n)

    def __len__(self) -> int:
        return self.n


class DistributedSampler(Sampler):
    """Rank ``rank``'s share of ``n`` examples among ``num_replicas`` processes, with
    PyTorch's semantics: each epoch the indices (a permutation seeded by ``seed + epoch``, the
    same on every rank, or ``0..n-1`` without ``shuffle``) are padded by repeating the first
    ones to a multiple of ``num_replicas`` (or, with ``drop_last``, cut to one), then rank r
    takes every ``num_replicas``-th from position r. Call ``set_epoch(epoch)`` before each
    epoch so the shuffle changes (every rank must pass the same ``seed``)."""

    def __init__(self, n: int, num_replicas: int, rank: int, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        self.n = _check_n("DistributedSampler", n)
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) \
                or num_replicas < 1:
            raise ValueError(f"DistributedSampler: expected num_replicas >= 1, got "
                             f"{num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) \
                or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: expected rank in [0, {num_replicas - 1}], "
                             f"got {rank!r}")
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, int(seed), drop_last, 0
        if drop_last and self.n % self.num_replicas:
            self.num_samples = math.ceil((self.n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(self.n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        if self.shuffle:
            rng = np.random.Generator(np.random.PCG64(self.seed + self.epoch))
            order = rng.permutation(self.n)
        else:
            order = np.arange(self.n, dtype=np.int64)
        if not self.drop_last:
            pad = self.total_size - len(order)
            if pad > 0:
                order = np.concatenate([order, np.resize(order, pad)])
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples


def sampler_indices(sampler: Any) -> np.ndarray:
    """An epoch's order from any sampler: ``indices()`` if it has one, else its iteration."""
    if hasattr(sampler, "indices") and callable(sampler.indices):
        order = sampler.indices()
    else:
        order = list(iter(sampler))
    return np.asarray(order, dtype=np.int64).reshape(-1)


def _check_n(name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name}: expected a number of examples n >= 0, got {n!r}")
    return int(n)
