"""DataLoader: mini-batches over arrays or datasets, shuffled from the dlkit generator,
optionally made ahead of the step by worker processes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.data.batching import BatchMaker, ExampleError, to_tensors
from dlkit.data.dataset import ArrayDataset, is_iterable_dataset, is_map_dataset
from dlkit.data.sampler import RandomSampler, SequentialSampler, sampler_indices
from dlkit.devices import device as _device
from dlkit.devices import move
from dlkit.tensor import Tensor


class DataLoader:
    """Mini-batches of arrays or of a dataset.

    **Arrays** ``DataLoader(X, y, batch_size=64, shuffle=True, transform=None)``: yields
    tuples of Tensors, one per array (``(X_batch, y_batch)``), of ``batch_size`` examples (the
    last may be smaller, as the notes' mini-batch partition, unless ``drop_last``). With
    ``shuffle`` each pass permutes the examples with the dlkit generator, so a seeded run
    repeats. ``transform`` (e.g. ``dlkit.data.RandomHorizontalFlip()``) maps each batch of the
    first array (a NumPy array) before it becomes a Tensor; the other arrays pass untouched.
    Arrays may be ``np.memmap``s: only the rows of each batch are read.

    **A dataset** ``DataLoader(dataset, batch_size=..., ...)``: any object with ``__len__``
    and ``__getitem__`` (see ``dlkit.data.dataset``), or an ``IterableDataset`` (a stream, no
    shuffling; with workers each iterates its own copy: shard it with ``get_worker_info()``).
    Examples are collated by ``collate_fn`` (default
    ``dlkit.data.collate.default_collate``) and every NumPy array in the batch becomes a
    Tensor: ``(x, y)`` examples give a tuple of Tensors, dict examples a dict of Tensors,
    variable-length sequences a ``PaddedSequence(data, mask, lengths)`` of Tensors, strings a
    list. ``transform`` maps the batch (an array) or its first field.

    ``device`` (``"cuda"``): every batch is moved there once, as it becomes Tensors (after
    the workers and the transform, which run on the host).

    ``sampler``: the order of each epoch (an iterable of indices with ``__len__``, e.g.
    ``DistributedSampler``); it replaces ``shuffle``.

    ``num_workers > 0``: that many processes make batches ahead of the step, ``prefetch``
    batches each, handed back through shared memory, in order. Each batch is made under its
    own seed drawn (once per epoch) from the dlkit generator, so the batches are the same
    bit for bit with 0, 1 or 2 workers for a dataset, even with random augmentation. (A pass
    without shuffling or transform takes its seed from the generator's state without
    moving it: evaluation does not change the draws of training.)
    (The arrays form with ``num_workers=0`` keeps its historic draws: its ``transform`` draws
    from the dlkit generator directly; wrap the arrays in ``ArrayDataset`` to get batches
    that do not depend on the number of workers.) ``multiprocessing_context``: "fork" on
    Linux by default, "spawn" elsewhere (then the dataset must be picklable). ``timeout``:
    seconds to wait for a batch before raising. ``persistent_workers``: keep the workers
    from one epoch to the next (they keep the dataset as it was when they started; an epoch
    left early stops them); ``close()`` stops them.

    An example that fails to load raises its error (same type) naming its index; from a
    worker, the message carries the worker's traceback.

    ``state_dict()`` / ``load_state_dict(state)``: the epoch's order, seed and position, so a
    resumed loader yields exactly the batches that were left (restore the dlkit RNG state
    too, as checkpoints do, for what the training step draws).
    """

    def __init__(self, *data: Any, batch_size: int = 64, shuffle: bool = True,
                 drop_last: bool = False, transform: Callable[[Any], Any] | None = None,
                 collate_fn: Callable[[list], Any] | None = None, num_workers: int = 0,
                 prefetch: int = 2, sampler: Any = None, timeout: float | None = None,
                 multiprocessing_context: str | None = None,
                 persistent_workers: bool = False, device: Any = None) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: expected transform to be a callable on a batch X "
                            f"(e.g. dlkit.data.RandomHorizontalFlip()) or None, got "
                            f"{type(transform).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: expected collate_fn a callable on a list of examples, "
                            f"got {type(collate_fn).__name__}")
        if not data:
            raise ValueError("DataLoader: expected at least one array or a dataset, got none")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"DataLoader: expected batch_size > 0, got {batch_size}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
                or num_workers < 0:
            raise ValueError(f"DataLoader: expected num_workers an int >= 0, got {num_workers!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)) \
                or prefetch < 1:
            raise ValueError(f"DataLoader: expected prefetch an int >= 1 (batches in flight "
                             f"per worker), got {prefetch!r}")
        self.streaming = len(data) == 1 and is_iterable_dataset(data[0])
        self.arrays_mode = not self.streaming and not (len(data) == 1
                                                       and is_map_dataset(data[0]))
        if self.arrays_mode:
            self.dataset = ArrayDataset(*data)
            self.arrays, self.m = self.dataset.arrays, self.dataset.m
        elif len(data) > 1:
            raise TypeError("DataLoader: pass either arrays DataLoader(X, y, ...) or one "
                            "dataset DataLoader(dataset, ...)")
        else:
            self.dataset = data[0]
        if sampler is not None and not (hasattr(sampler, "__iter__") or
                                        hasattr(sampler, "indices")):
            raise TypeError(f"DataLoader: expected sampler an iterable of indices, got "
                            f"{type(sampler).__name__}")
        if not self.streaming and self.arrays_mode is False:
            self.m = len(self.dataset)
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.transform, self.collate_fn, self.sampler = transform, collate_fn, sampler
        self.num_workers, self.prefetch, self.timeout = int(num_workers), int(prefetch), timeout
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers, self._pool = bool(persistent_workers), None
        self.device = None if device is None else _device(device)  # batches moved once
        self.maker = BatchMaker(self.dataset, collate_fn, transform, self.arrays_mode)
        # the historic arrays form draws from the main generator unless workers need seeds
        self.per_batch_seed = not self.arrays_mode or (num_workers > 0 and transform is not None)
        self._epoch: dict | None = None   # the epoch in progress: order, seed, position
        self._resume: dict | None = None

    # -- size -------------------------------------------------------------------------------
    def __len__(self) -> int:
        if self.streaming:
            if not hasattr(self.dataset, "__len__"):
                raise TypeError("DataLoader: this IterableDataset has no __len__")
            n = len(self.dataset)
        else:
            n = len(self.sampler) if self.sampler is not None else self.m
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    # -- iteration ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        if self.streaming:
            return self._stream()
        return self._epoch_batches()

    def _epoch_batches(self) -> Iterator[Any]:
        if self._resume is not None:
            epoch, self._resume = self._resume, None
        else:
            epoch = {"order": self._order(), "position": 0}
            epoch["seed"] = self._epoch_seed() if self.per_batch_seed else None
        self._epoch = epoch
        tasks = self._tasks(epoch)
        if self.num_workers == 0:
            for k, indices, seed in tasks:
                batch = self._make(indices, seed, k)
                epoch["position"] = k + 1
                yield batch
        else:
            from dlkit.data.workers import WorkerPool
            pool = self._pool or WorkerPool(self.maker, self.num_workers, self.prefetch,
                                            self.multiprocessing_context, self.timeout)
            self._pool = pool if self.persistent_workers else None
            batches = pool.run(tasks, keep_alive=self.persistent_workers)
            try:
                for k, batch in enumerate(batches, start=epoch["position"]):
                    epoch["position"] = k + 1
                    yield self._as_tensors(batch)
            finally:
                batches.close()
        if self._epoch is epoch:
            self._epoch = None

    def close(self) -> None:
        """Stop persistent workers (they also stop with the loader or the process)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _epoch_seed(self) -> int:
        """The seed of this pass's batches: drawn from the dlkit generator when the pass is
        random (shuffled or transformed); otherwise derived from the generator's state
        without moving it, so an evaluation pass leaves the training's draws alone."""
        gen = generator()
        if (self.sampler is None and self.shuffle) or self.transform is not None:
            return int(gen.integers(2**63))
        try:
            state = gen.bit_generator.state["state"]
            words = np.random.SeedSequence([int(state["state"]), int(state["inc"])])
            return int(words.generate_state(1, np.uint64)[0] >> np.uint64(1))
        except (KeyError, TypeError):
            return int(gen.integers(2**63))

    def _order(self) -> np.ndarray | None:
        """This epoch's order of examples; None for 0..m-1 in the arrays form (slices)."""
        if self.sampler is not None:
            return sampler_indices(self.sampler)
        if self.shuffle:
            return RandomSampler(self.m).indices()
        return None if self.arrays_mode else SequentialSampler(self.m).indices()

    def _tasks(self, epoch: dict) -> Iterator[tuple[int, Any, int | None]]:
        order, n = epoch["order"], self.m if epoch["order"] is None else len(epoch["order"])
        for k in range(epoch["position"], len(self)):
            lo, hi = k * self.batch_size, min((k + 1) * self.batch_size, n)
            yield k, slice(lo, hi) if order is None else order[lo:hi], epoch["seed"]

    def _make(self, indices: Any, seed: int | None, k: int) -> Any:
        try:
            batch = self.maker.make(indices, seed, k)
        except ExampleError as e:
            what = f"example {e.index}" if e.index is not None else f"batch {k}"
            raise _same_type(e.exc, f"DataLoader: {what} failed while {e.where}: "
                                    f"{e.exc}") from e.exc
        return self._as_tensors(batch)

    def _as_tensors(self, batch: Any) -> Any:
        if self.arrays_mode:
            batch = tuple(Tensor(a) for a in batch)
        else:
            batch = to_tensors(batch)
        return batch if self.device is None else move(batch, self.device)

    def _stream(self) -> Iterator[Any]:
        """Batches of consecutive examples of an IterableDataset. With workers, each worker
        iterates its own copy (shard it with ``dlkit.data.get_worker_info()``) and batches
        come from the workers in turn, as PyTorch's."""
        seed = self._epoch_seed()
        if self.num_workers == 0:
            k = 0
            while True:
                try:
                    batch = self.maker.next_stream_batch(k == 0, seed, k, self.batch_size,
                                                         self.drop_last)
                except ExampleError as e:
                    raise _same_type(e.exc, f"DataLoader: batch {k} failed while {e.where}: "
                                            f"{e.exc}") from e.exc
                if batch is None:
                    return
                yield self._as_tensors(batch)
                k += 1
        from dlkit.data.workers import WorkerPool
        pool = WorkerPool(self.maker, self.num_workers, self.prefetch,
                          self.multiprocessing_context, self.timeout)
        batches = pool.run_stream(seed, self.batch_size, self.drop_last)
        try:
            for batch in batches:
                yield self._as_tensors(batch)
        finally:
            batches.close()

    # -- resuming -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Where this loader stands: ``{"order", "seed", "position"}`` of the epoch in
        progress (``position`` = batches already yielded), or a fresh-epoch state between
        epochs. ``order`` is an int64 array (None for the unshuffled arrays form)."""
        if self.streaming:
            raise TypeError("DataLoader.state_dict: an IterableDataset cannot be resumed")
        epoch = self._epoch
        if epoch is None or epoch["position"] >= len(self):
            return {"order": None, "seed": None, "position": 0, "fresh": True}
        order = epoch["order"]
        return {"order": None if order is None else np.array(order, dtype=np.int64),
                "seed": epoch["seed"], "position": int(epoch["position"]), "fresh": False}

    def load_state_dict(self, state: dict) -> None:
        """The next iteration resumes the recorded epoch at its position (a fresh state:
        the next iteration starts a new epoch, as usual)."""
        if state.get("fresh", False) or state.get("position", 0) == 0 and \
                state.get("order") is None and state.get("seed") is None:
            self._resume = None
            return
        position = int(state["position"])
        order = state.get("order")
        if order is not None:
            order = np.asarray(order, dtype=np.int64)
        if not 0 <= position <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: position {position} is outside the "
                             f"epoch's {len(self)} batches (another dataset or batch size?)")
        expected = len(self.sampler) if self.sampler is not None else self.m
        if order is not None and len(order) != expected:
            raise ValueError(f"DataLoader.load_state_dict: the recorded order has {len(order)} "
                             f"examples, this loader {expected}")
        seed = state.get("seed")
        self._resume = {"order": order, "position": position,
                        "seed": None if seed is None else int(seed)}


def _same_type(exc: BaseException, message: str) -> BaseException:
    """``type(exc)(message)`` when that type can be built from a message, else RuntimeError."""
    if isinstance(exc, Exception) and not isinstance(exc, KeyError):
        try:
            return type(exc)(message)
        except Exception:
            pass
    return RuntimeError(message)
