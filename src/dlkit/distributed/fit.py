"""Data parallelism inside ``dlkit.train.fit``: what ``fit(..., distributed=True)`` (or a fit
started under ``mpiexec``) changes.

- The weights and buffers start as rank 0's (``broadcast_parameters``).
- Arrays X, y (or a map-style dataset) are sharded: each rank reads batches of
  ``batch_size / N`` from a ``DistributedSampler`` (every rank draws the epoch's
  permutation seed from the dlkit generator and takes rank 0's), so the N local batches of a
  step are together the global batch of ``batch_size`` examples. A dlkit ``DataLoader``
  without a sampler is rebuilt the same way (its ``batch_size`` is then the global batch);
  one with a ``DistributedSampler`` gets ``set_epoch`` each epoch; any other loader or
  stream is the user's to shard (each rank trains on what it yields).
- After backward and before clipping and the update, the gradients are averaged over the
  ranks (``GradientAverager``). The L2 cost term uses the global batch size.
- ``DistributedLogs`` (order -1000, before every other callback) averages each batch's loss
  and the epoch's logs over the ranks, so the progress bar, early stopping, schedules and the
  history see the values of the whole batch; validation runs on every rank over all of
  ``validation_data`` (same weights, same result).
- ``DistributedStop`` (order 10000, after every other callback) makes every rank stop when a
  callback stopped training on any of them.
- Only rank 0 writes: on the other ranks ``ModelCheckpoint``, ``CSVLogger``, the progress bar
  and any callback with ``main_only = True`` are left out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.data.dataset import is_map_dataset
from dlkit.data.loader import DataLoader
from dlkit.data.sampler import DistributedSampler
from dlkit.distributed import comm as dist
from dlkit.distributed.gradients import GradientAverager, broadcast_parameters
from dlkit.nn.module import Module
from dlkit.tensor import Tensor
from dlkit.train.callbacks import Callback, CSVLogger, ModelCheckpoint, ProgressBar

MAIN_ONLY = (ModelCheckpoint, CSVLogger, ProgressBar)


class DistributedLogs(Callback):
    """Averages the batch loss and the epoch logs over the ranks before the other callbacks
    see them (``order = -1000``), draws each epoch's shard seed, and marks training in
    progress (a rank that exits in the middle stops the whole job)."""

    order = -1000

    def __init__(self, sampler: DistributedSampler | None = None) -> None:
        self.sampler = sampler

    def on_train_begin(self, logs: dict[str, float]) -> None:
        dist.training_started()

    def on_train_end(self, logs: dict[str, float]) -> None:
        dist.training_ended()

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        if self.sampler is None:
            return
        if self.sampler.shuffle:
            seed = int(generator().integers(2**62))   # the draw every rank makes
            self.sampler.seed = int(dist.broadcast_object(seed))
            self.sampler.set_epoch(0)
        else:
            self.sampler.set_epoch(epoch)

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if "loss" in logs and dist.world_size() > 1:
            logs["loss"] = float(dist.allreduce_(np.array([logs["loss"]]), average=True)[0])

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if dist.world_size() == 1:
            return
        keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float, np.number)))
        if len(set(map(tuple, dist.allgather_object(keys)))) > 1:
            raise RuntimeError("DistributedLogs: the ranks logged different values this epoch")
        values = dist.allreduce_(np.array([float(logs[k]) for k in keys]), average=True)
        logs.update({k: float(v) for k, v in zip(keys, values)})
        history = self.trainer.history
        if history.epochs and history.epochs[-1] == epoch:   # fit appended before the hooks
            for k, v in zip(keys, values):
                if k in history.history and history.history[k]:
                    history.history[k][-1] = float(v)


class DistributedStop(Callback):
    """Runs after every other callback (``order = 10000``): when a callback stopped training
    on any rank (a time budget, say), every rank stops at the same batch, so none is left
    waiting in the next step's allreduce."""

    order = 10_000

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self._agree()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._agree()

    def _agree(self) -> None:
        if dist.world_size() > 1:
            flag = dist.allreduce_(np.array([float(self.trainer.stop_training)]))[0]
            self.trainer.stop_training = bool(flag > 0)


def _shardable(loader: Any) -> bool:
    """A dlkit DataLoader over arrays or a map-style dataset, in its own order (no sampler)."""
    return isinstance(loader, DataLoader) and loader.sampler is None and not loader.streaming


def _shard_loader(loader: DataLoader, world: int,
                  me: int) -> tuple[DataLoader, DistributedSampler]:
    """The same loader (its batch size the global batch) reading this rank's shard."""
    if loader.batch_size % world:
        raise ValueError(f"fit: the DataLoader's batch_size {loader.batch_size} (the global "
                         f"batch) is not divisible by the {world} ranks; pass a multiple of "
                         f"{world}")
    sampler = DistributedSampler(loader.m, world, me, shuffle=loader.shuffle)
    data = loader.arrays if loader.arrays_mode else (loader.dataset,)
    shard = DataLoader(*data, batch_size=loader.batch_size // world, shuffle=False,
                       drop_last=loader.drop_last, transform=loader.transform,
                       collate_fn=loader.collate_fn, num_workers=loader.num_workers,
                       prefetch=loader.prefetch, sampler=sampler, timeout=loader.timeout,
                       multiprocessing_context=loader.multiprocessing_context,
                       persistent_workers=loader.persistent_workers)
    return shard, sampler


def prepare(model: Module, X: Any, y: Any, train_data: Any, batch_size: int, shuffle: bool,
            transform: Callable | None, callbacks: Sequence[Any], verbose: int,
            l2: float) -> tuple[Any, list[Any], int, Callable[[], None], float]:
    """What a distributed fit trains on: ``(train_data, callbacks, verbose, sync, l2)``,
    ``sync()`` averaging the gradients after backward."""
    world, me = dist.world_size(), dist.rank()
    if world > 1 and not all(isinstance(p.data, np.ndarray) for p in model.parameters()):
        raise ValueError("fit: distributed training averages NumPy (CPU) gradients; a model "
                         "on a GPU is not supported across ranks yet (train on --device cpu)")
    sampler = None
    if y is not None or isinstance(X, (np.ndarray, Tensor)) or is_map_dataset(X):
        if batch_size % world:
            raise ValueError(f"fit: the global batch_size {batch_size} is not divisible by the "
                             f"{world} ranks; pass a multiple of {world}")
        arrays = (X,) if y is None else (X, y)
        n = len(X)
        sampler = DistributedSampler(n, world, me, shuffle=shuffle)
        train_data = DataLoader(*arrays, batch_size=batch_size // world, shuffle=False,
                                sampler=sampler, transform=transform)
    elif isinstance(getattr(train_data, "sampler", None), DistributedSampler):
        sampler = train_data.sampler
    elif _shardable(train_data):
        train_data, sampler = _shard_loader(train_data, world, me)
    elif world > 1 and me == 0:
        warnings.warn(f"fit: training on {world} ranks from a {type(train_data).__name__} "
                      "that has no DistributedSampler: each rank trains on all the batches it "
                      "yields (shard it yourself, e.g. DataLoader(..., sampler="
                      "DistributedSampler(n, world_size(), rank())))", stacklevel=3)
    broadcast_parameters(model)
    kept = [cb for cb in callbacks
            if me == 0 or not (isinstance(cb, MAIN_ONLY) or getattr(cb, "main_only", False))]
    params = [p for p in model.parameters() if p.requires_grad]
    sync = GradientAverager(params) if world > 1 else (lambda: None)
    hooks = [DistributedLogs(sampler), *kept, DistributedStop()]
    return train_data, hooks, verbose if me == 0 else 0, sync, l2 / world
