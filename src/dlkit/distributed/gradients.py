"""Averaging gradients and copying weights across ranks, on flat contiguous buffers.

Gradients are packed, in parameter order, into buckets of at most ``bucket_bytes`` (one
dtype each; a parameter larger than a bucket gets its own): one ``Allreduce`` per bucket, in
place, then each ``.grad`` becomes a view of its slice of the averaged buffer. Small tensors
(biases, batch-norm scales) never travel as messages of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from dlkit.distributed import comm as dist
from dlkit.nn.module import Module
from dlkit.tensor import Tensor

BUCKET_BYTES = 25 * 2**20   # PyTorch DDP's default bucket size


class GradientAverager:
    """``averager()`` replaces every parameter's ``.grad`` by its mean over the ranks (a
    missing gradient counts as zeros, so a parameter unused on one rank stays in step)."""

    def __init__(self, params: Iterable[Tensor], bucket_bytes: int = BUCKET_BYTES) -> None:
        self.params = [p for p in params if p.requires_grad]
        if bucket_bytes < 1:
            raise ValueError(f"GradientAverager: expected bucket_bytes >= 1, got {bucket_bytes}")
        self.buckets: list[list[int]] = []
        current: dict[Any, tuple[list[int], int]] = {}
        for i, p in enumerate(self.params):
            size = p.data.nbytes
            members, used = current.get(p.data.dtype, ([], 0))
            if members and used + size > bucket_bytes:
                self.buckets.append(members)
                members, used = [], 0
            members.append(i)
            current[p.data.dtype] = (members, used + size)
        self.buckets.extend(m for m, _ in current.values() if m)

    def __call__(self) -> None:
        world = dist.world_size()
        if world == 1:
            return
        for members in self.buckets:
            params = [self.params[i] for i in members]
            # a fresh buffer each step: the gradients become views of it
            buffer = np.empty(sum(p.data.size for p in params), params[0].data.dtype)
            offset = 0
            for p in params:
                n = p.data.size
                if p.grad is None:
                    buffer[offset:offset + n] = 0
                else:
                    buffer[offset:offset + n] = np.asarray(p.grad).reshape(-1)
                offset += n
            dist.allreduce_(buffer, average=True)
            offset = 0
            for p in params:
                n = p.data.size
                p.grad = buffer[offset:offset + n].reshape(p.data.shape)
                offset += n


class DistributedOptimizer:
    """Wraps any dlkit optimizer (Horovod's ``DistributedOptimizer``): ``step()`` first
    averages the gradients over the ranks (bucketed ``Allreduce``), then runs the wrapped
    optimizer's step. Everything else (``lr``, ``zero_grad``, ``state_dict``, ...) is the
    wrapped optimizer's, so checkpoints are those of a single process."""

    def __init__(self, optimizer: Any, bucket_bytes: int = BUCKET_BYTES) -> None:
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "params"):
            raise TypeError(f"DistributedOptimizer: expected a dlkit optimizer, got "
                            f"{type(optimizer).__name__}")
        object.__setattr__(self, "optimizer", optimizer)
        object.__setattr__(self, "averager", GradientAverager(optimizer.params, bucket_bytes))

    def step(self) -> None:
        self.averager()
        self.optimizer.step()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.optimizer, name, value)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"


def broadcast_parameters(model: Module, root: int = 0) -> None:
    """Copy ``root``'s parameters and buffers to every rank (at the start of training and
    after loading a checkpoint), one flat message per dtype. First checks that every rank
    holds the same architecture (names and shapes), with a clear error otherwise."""
    if dist.world_size() == 1:
        return
    arrays: list[tuple[Any, str, str]] = []
    for _, module in model.named_modules():
        for name in module._parameters:
            arrays.append((module, "param", name))
        for name in module._buffers:
            arrays.append((module, "buffer", name))
    check_same_model(model)
    by_dtype: dict[Any, list[tuple[Any, str, str]]] = {}
    for entry in arrays:
        by_dtype.setdefault(_array(*entry).dtype, []).append(entry)
    for dtype in sorted(by_dtype, key=str):
        group = by_dtype[dtype]
        flat = np.concatenate([np.asarray(_array(*e)).reshape(-1) for e in group]) \
            if group else np.empty(0, dtype)
        dist.broadcast_(flat, root)
        offset = 0
        for module, kind, name in group:
            current = _array(module, kind, name)
            value = flat[offset:offset + current.size].reshape(current.shape).copy()
            offset += current.size
            if kind == "param":
                module._parameters[name].data = value
            else:
                module._set_buffer(name, value)


def check_same_model(model: Module) -> None:
    """Raise a clear error when the ranks' models differ in names, shapes or dtypes."""
    signature = ";".join(f"{k}:{tuple(v.shape)}:{v.dtype}" for k, v in _named_arrays(model))
    digest = hashlib.sha256(signature.encode()).hexdigest()[:16]
    digests = dist.allgather_object(digest)
    if len(set(digests)) > 1:
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        raise ValueError(f"broadcast_parameters: the model on rank(s) {odd} differs from rank "
                         "0's (parameter names, shapes or dtypes); every rank must build the "
                         "same model")


def _named_arrays(model: Module) -> list[tuple[str, Any]]:
    out = [(k, p.data) for k, p in model.named_parameters()]
    return out + list(model.named_buffers())


def _array(module: Any, kind: str, name: str) -> Any:
    return module._parameters[name].data if kind == "param" else module._buffers[name]
