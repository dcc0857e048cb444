"""Data-parallel training over MPI (mpi4py): every rank holds the whole model, trains on its
shard of each batch, and the gradients are averaged by allreduce before each update.

Launch with ``mpiexec -n N python script.py`` (or ``dlkit train --workers N``);
``dlkit.train.fit`` turns distributed by itself under ``mpiexec`` (or with
``distributed=True``). Without MPI the world is one process and everything here is the
identity; ``import dlkit`` never imports mpi4py. See docs/distributed.md.
"""

from dlkit.data.sampler import DistributedSampler
from dlkit.distributed.comm import (
    abort,
    allgather_object,
    allreduce_,
    barrier,
    broadcast_,
    broadcast_object,
    init,
    is_main,
    launched,
    rank,
    world_size,
)
from dlkit.distributed.gradients import (
    DistributedOptimizer,
    GradientAverager,
    broadcast_parameters,
)
from dlkit.distributed.sync_batch_norm import SyncBatchNorm

__all__ = [
    "DistributedLogs", "DistributedOptimizer", "DistributedSampler", "DistributedStop",
    "GradientAverager", "SyncBatchNorm", "abort", "allgather_object", "allreduce_",
    "barrier", "broadcast_", "broadcast_object", "broadcast_parameters", "init", "is_main",
    "launched", "rank", "world_size",
]


def __getattr__(name: str):
    if name in ("DistributedLogs", "DistributedStop"):   # they import dlkit.train
        from dlkit.distributed import fit
        return getattr(fit, name)
    raise AttributeError(f"module 'dlkit.distributed' has no attribute {name!r}")
