"""The process group: rank, world size, and the few collectives dlkit uses, on mpi4py.

Outside ``mpiexec`` (or with one process) nothing imports mpi4py: the world is one process
and every collective is the identity. Under ``mpiexec -n N`` (detected from the launcher's
environment: MPICH/Hydra ``PMI_SIZE``, Open MPI ``OMPI_COMM_WORLD_SIZE``, ...) the first call
initializes MPI on ``COMM_WORLD``.

No hang on a fault: a rank that raises (an uncaught exception, or an exit while a ``fit`` is
running) prints which rank failed and calls ``MPI_Abort``, which stops every rank; a rank
killed outright is cleaned up by the launcher; and every collective dlkit starts is watched:
one still waiting after ``DLKIT_MPI_TIMEOUT`` seconds (default 600) aborts the job with a
message naming the rank that waited. At exit the ranks meet once more (a barrier on a
communicator of its own): a rank that exits while the others still run (an error before
``fit``, say) waits ``DLKIT_MPI_EXIT_TIMEOUT`` seconds (default 120) for them, then aborts.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from dlkit.errors import UserError

# the launchers' variables for the number of processes (MPICH/Hydra, Open MPI, MVAPICH, PMIx,
# Slurm's srun)
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE",
                  "MPI_LOCALNRANKS")
TIMEOUT_VARIABLE = "DLKIT_MPI_TIMEOUT"
EXIT_TIMEOUT_VARIABLE = "DLKIT_MPI_EXIT_TIMEOUT"


class _World:
    comm: Any = None           # mpi4py COMM_WORLD when the world has more than one process
    exit_comm: Any = None      # a duplicate of it, for the barrier at exit
    MPI: Any = None
    initialized = False
    failed = False             # set by the exception hook
    training = 0               # fits running (an exit in the middle aborts the job)
    waiting: tuple[str, float] | None = None   # the collective in progress and its start
    timeout = 600.0


_world = _World()


def launched() -> bool:
    """Whether this process was started by an MPI launcher with more than one process
    (read from the environment; MPI is not initialized)."""
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def init() -> None:
    """Initialize the process group once: MPI's ``COMM_WORLD`` under ``mpiexec`` with more
    than one process, otherwise a world of one. Checks that every rank runs the same dlkit
    version. Called by every function here; calling it again does nothing."""
    if _world.initialized:
        return
    _world.initialized = True
    if not launched():
        return
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise UserError("dlkit.distributed: this process was launched by mpiexec with "
                           "several processes but mpi4py is not installed; install the MPI "
                           "extra: pip install 'dlkit[mpi]'") from e
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return
    _world.comm, _world.MPI = comm, MPI
    _world.exit_comm = comm.Dup()
    _world.timeout = float(os.environ.get(TIMEOUT_VARIABLE, "600"))
    _install_fault_handlers()
    _check_versions()


def rank() -> int:
    """This process' rank, from 0 (0 without MPI)."""
    init()
    return _world.comm.Get_rank() if _world.comm is not None else 0


def world_size() -> int:
    """The number of processes (1 without MPI or outside mpiexec)."""
    init()
    return _world.comm.Get_size() if _world.comm is not None else 1


def is_main() -> bool:
    """Rank 0: the process that writes files, logs and the progress bar."""
    return rank() == 0


def comm() -> Any:
    """mpi4py's ``COMM_WORLD``, or None in a world of one."""
    init()
    return _world.comm


# ---- collectives ---------------------------------------------------------------------------
@contextmanager
def watched(name: str) -> Iterator[None]:
    """Mark a collective in progress, for the watchdog."""
    _world.waiting = (name, time.monotonic())
    try:
        yield
    finally:
        _world.waiting = None


def allreduce_(array: np.ndarray, average: bool = False) -> np.ndarray:
    """Sum (or average) a contiguous array over all ranks, in place; returns it."""
    c = comm()
    if c is None:
        return array
    if not array.flags.c_contiguous:
        raise ValueError("allreduce_: expected a C-contiguous array (a flat buffer)")
    with watched("allreduce"):
        c.Allreduce(_world.MPI.IN_PLACE, array, op=_world.MPI.SUM)
    if average:
        array /= array.dtype.type(c.Get_size())
    return array


def broadcast_(array: np.ndarray, root: int = 0) -> np.ndarray:
    """Overwrite a contiguous array on every rank with ``root``'s, in place."""
    c = comm()
    if c is not None:
        with watched("broadcast"):
            c.Bcast(array, root=root)
    return array


def broadcast_object(value: Any, root: int = 0) -> Any:
    """A small Python value (JSON-like) from ``root`` on every rank."""
    c = comm()
    if c is None:
        return value
    with watched("broadcast"):
        return c.bcast(value, root=root)


def allgather_object(value: Any) -> list[Any]:
    """Every rank's small Python value, in rank order."""
    c = comm()
    if c is None:
        return [value]
    with watched("allgather"):
        return c.allgather(value)


def barrier() -> None:
    c = comm()
    if c is not None:
        with watched("barrier"):
            c.Barrier()


def abort(message: str, code: int = 1) -> None:
    """Print ``message`` (prefixed with this rank) on stderr and stop every rank."""
    sys.stderr.write(f"dlkit.distributed: rank {rank()} of {world_size()}: {message}\n")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if _world.comm is not None:
        time.sleep(0.5)   # the launcher forwards our output before MPI_Abort ends the job
        _world.comm.Abort(code)
    os._exit(code)


# ---- faults --------------------------------------------------------------------------------
def training_started() -> None:
    _world.training += 1


def training_ended() -> None:
    _world.training = max(0, _world.training - 1)


def _check_versions() -> None:
    from dlkit import __version__

    versions = allgather_object(__version__)
    if len(set(versions)) > 1:
        where = ", ".join(f"rank {r}: {v}" for r, v in enumerate(versions))
        raise UserError(f"dlkit.distributed: the ranks run different dlkit versions "
                           f"({where}); install the same one on every machine")


def _install_fault_handlers() -> None:
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        _world.failed = True
        previous(kind, value, tb)
        abort(f"failed with {kind.__name__}: {value}; stopping all ranks")

    sys.excepthook = hook
    # registered after mpi4py's own exit handler, so it runs before MPI_Finalize (which would
    # wait for the other ranks forever)
    atexit.register(_exit_check)
    threading.Thread(target=_watchdog, name="dlkit-mpi-watchdog", daemon=True).start()


def _exit_check() -> None:
    if _world.failed:
        return
    if _world.training:
        abort("exited in the middle of training (see its error above); stopping all ranks")
    if _world.MPI.Is_finalized():   # the script finalized MPI itself
        return
    limit = float(os.environ.get(EXIT_TIMEOUT_VARIABLE, "120"))
    request = _world.exit_comm.Ibarrier()
    deadline = time.monotonic() + limit
    while not request.Test():
        if time.monotonic() > deadline:
            abort(f"exited, but the other ranks did not within {limit:g} s (they still run, "
                  "or wait for this one: see its error above); stopping all ranks")
        time.sleep(0.01)


def _watchdog() -> None:
    while True:
        time.sleep(min(1.0, _world.timeout / 4))
        waiting = _world.waiting
        if waiting is not None and time.monotonic() - waiting[1] > _world.timeout:
            abort(f"waited more than {_world.timeout:g} s in {waiting[0]} for the other "
                  f"ranks (one of them failed or hangs; {TIMEOUT_VARIABLE} sets this "
                  "timeout); stopping all ranks")
