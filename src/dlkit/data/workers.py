"""Worker processes that make batches ahead of the training step.

The main process deals batch ``k`` (its indices and the epoch's seed) to worker
``k % num_workers``, keeping ``prefetch`` batches in flight per worker, and yields results in
order. A worker writes a batch's arrays into one of its ``prefetch`` shared-memory slots
(``multiprocessing.shared_memory``; only a small description of the structure is pickled)
and the main process copies them out, so large arrays are never pickled.

Slot reuse is safe without locks: worker-local batch ``n`` uses slot ``n % prefetch``, and
that batch is only dealt after the main process has copied out batch ``n - prefetch``.

Shutdown: workers ignore SIGINT (the main process stops them), exit on a ``None`` task,
when the main process dies (``PR_SET_PDEATHSIG`` on Linux, and a parent-pid check while
idle), and are terminated if they do not stop in time. Shared-memory names are unlinked as
soon as the main process has mapped them; the resource tracker removes any left by a crash.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing import resource_tracker, shared_memory
from typing import Any, NamedTuple

import numpy as np

from dlkit.data.batching import BatchMaker, ExampleError

_ALIGN = 64
_POLL_S = 0.2


class WorkerError(RuntimeError):
    """Raised in the main process when a worker fails in a way that has no better type."""


# -- packing a batch into shared memory ---------------------------------------------------------

class _Ref:
    """Where array ``i`` of a batch lies in the slot."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


def _split(batch: Any, arrays: list[np.ndarray]) -> Any:
    """The batch's structure with each (non-object) array replaced by a ``_Ref``."""
    if isinstance(batch, np.ndarray) and not batch.dtype.hasobject:
        arrays.append(batch)
        return _Ref(len(arrays) - 1)
    if isinstance(batch, dict):
        return type(batch)({k: _split(v, arrays) for k, v in batch.items()}) \
            if type(batch) is not dict else {k: _split(v, arrays) for k, v in batch.items()}
    if isinstance(batch, tuple):
        parts = [_split(v, arrays) for v in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else tuple(parts)
    if isinstance(batch, list):
        return [_split(v, arrays) for v in batch]
    return batch


def _join(meta: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(meta, _Ref):
        return arrays[meta.i]
    if isinstance(meta, dict):
        out = {k: _join(v, arrays) for k, v in meta.items()}
        return out if type(meta) is dict else type(meta)(out)
    if isinstance(meta, tuple):
        parts = [_join(v, arrays) for v in meta]
        return type(meta)(*parts) if hasattr(meta, "_fields") else tuple(parts)
    if isinstance(meta, list):
        return [_join(v, arrays) for v in meta]
    return meta


def _layout(arrays: list[np.ndarray]) -> tuple[list[tuple], int]:
    layout, offset = [], 0
    for a in arrays:
        layout.append((offset, a.shape, a.dtype.str))
        offset += -(-a.nbytes // _ALIGN) * _ALIGN
    return layout, offset


# -- the worker ---------------------------------------------------------------------------------

def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the thread that forked it dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class WorkerInfo(NamedTuple):
    """What ``get_worker_info()`` returns inside a loader worker."""

    id: int
    num_workers: int


_WORKER_INFO: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a loader worker: its ``id`` and the ``num_workers``, e.g. to shard a stream
    (``if i % info.num_workers == info.id: yield example``); None in the main process."""
    return _WORKER_INFO


def _worker_loop(wid: int, maker: BatchMaker, tasks: Any, results: Any, parent_pid: int,
                 n_slots: int, pdeathsig: bool, num_workers: int = 1) -> None:
    global _WORKER_INFO
    _WORKER_INFO = WorkerInfo(wid, num_workers)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)  # terminate(): unlink the slots on the way
    direct = os.getppid() == parent_pid  # False under forkserver: the server is the parent
    if pdeathsig and direct:
        _die_with_parent()
    if not _parent_alive(parent_pid, direct):
        return
    slots: list[shared_memory.SharedMemory | None] = [None] * n_slots
    n = 0
    try:
        while True:
            try:
                task = tasks.get(timeout=_POLL_S)
            except queue.Empty:
                if not _parent_alive(parent_pid, direct):
                    return
                continue
            if task is None:
                return
            k, indices, seed = task
            s = n % n_slots
            n += 1
            try:
                if isinstance(indices, tuple) and indices[:1] == ("stream",):
                    _, restart, batch_size, drop_last = indices
                    batch = maker.next_stream_batch(restart, seed, k, batch_size, drop_last)
                    if batch is None:
                        results.put(pickle.dumps(("end", k, wid)))
                        continue
                else:
                    batch = maker.make(indices, seed, k)
                arrays: list[np.ndarray] = []
                meta = _split(batch, arrays)
                layout, size = _layout(arrays)
                shm = _slot(slots, s, size)
                if shm is None:  # /dev/shm is full: this batch travels pickled
                    message = pickle.dumps(("inline", k, wid, batch))
                else:
                    for (offset, shape, dtype), a in zip(layout, arrays):
                        np.ndarray(shape, dtype, buffer=shm.buf, offset=offset)[...] = a
                    message = pickle.dumps(("ok", k, wid, s, shm.name, meta, layout))
            except Exception as e:  # every failure goes to the main process
                message = _error_message(k, wid, indices, e)
            results.put(message)
    finally:
        _TERM["critical"] = True  # a SIGTERM now waits for the cleanup
        for shm in slots:
            if shm is not None:
                _forget(shm)


def _slot(slots: list, s: int, size: int) -> shared_memory.SharedMemory | None:
    """Slot ``s``, replaced by a bigger segment when ``size`` bytes do not fit; None when
    shared memory cannot hold them (the space is reserved up front: a full /dev/shm then
    fails here, not with a SIGBUS while writing)."""
    shm = slots[s]
    if shm is not None and shm.size >= size:
        return shm
    _TERM["critical"] = True  # no exit between creating a segment and recording it
    try:
        if shm is not None:
            slots[s] = None
            _forget(shm)
        shm = slots[s] = shared_memory.SharedMemory(create=True, size=max(size, 1))
        if hasattr(os, "posix_fallocate") and getattr(shm, "_fd", -1) >= 0:
            try:
                os.posix_fallocate(shm._fd, 0, max(size, 1))
            except OSError:
                slots[s] = None
                _forget(shm)
                shm = None
    finally:
        _TERM["critical"] = False
    if _TERM["pending"]:
        raise SystemExit(0)
    return shm


_TERM = {"critical": False, "pending": False}


def _exit_on_term(signum: int, frame: Any) -> None:
    """SIGTERM (the main process stopping a busy worker): exit, through the ``finally``
    that unlinks the slots, unless a segment is being created (then right after)."""
    if _TERM["critical"]:
        _TERM["pending"] = True
        return
    raise SystemExit(0)


def _parent_alive(parent_pid: int, direct: bool) -> bool:
    if direct:
        return os.getppid() == parent_pid
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _forget(shm: shared_memory.SharedMemory) -> None:
    """Unmap a worker's slot; unlink its name if the main process never did (then it is
    still registered with the resource tracker, so unregister it too)."""
    try:
        from _posixshmem import shm_unlink
        shm_unlink(shm._name)
        resource_tracker.unregister(shm._name, "shared_memory")
    except (FileNotFoundError, ImportError):
        pass
    try:
        shm.close()
    except BufferError:
        pass


def _error_message(k: int, wid: int, indices: Any, e: BaseException) -> bytes:
    index, where, exc = None, "making the batch", e
    if isinstance(e, ExampleError):
        index, where, exc = e.index, e.where, e.exc
        trace = e.trace
    else:
        import traceback
        trace = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        exc_type = pickle.dumps(type(exc))
    except Exception:
        exc_type = pickle.dumps(RuntimeError)
    return pickle.dumps(("error", k, wid, index, where, exc_type, str(exc), trace,
                         type(exc).__name__))


# -- the main-process side ----------------------------------------------------------------------

class WorkerPool:
    """``num_workers`` processes making batches with ``maker``; ``run(tasks)`` yields the
    batches of ``tasks`` (``(k, indices, seed)`` in order) in that order."""

    def __init__(self, maker: BatchMaker, num_workers: int, prefetch: int = 2,
                 context: str | None = None, timeout: float | None = None) -> None:
        import multiprocessing as mp
        if context is None:
            context = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(context)
        self.maker, self.num_workers, self.prefetch = maker, num_workers, prefetch
        self.timeout = timeout
        self.workers: list[Any] = []
        self.task_queues: list[Any] = []
        self.results: Any = None
        self._mapped: dict[tuple[int, int], shared_memory.SharedMemory] = {}

    def start(self) -> None:
        resource_tracker.ensure_running()  # one tracker, shared by the workers
        self.results = self.ctx.Queue()
        pdeathsig = threading.current_thread() is threading.main_thread()
        for w in range(self.num_workers):
            q = self.ctx.Queue()
            p = self.ctx.Process(target=_worker_loop, daemon=True, name=f"dlkit-loader-{w}",
                                 args=(w, self.maker, q, self.results, os.getpid(),
                                       self.prefetch, pdeathsig, self.num_workers))
            p.start()
            self.workers.append(p)
            self.task_queues.append(q)

    def run(self, tasks: Iterable[tuple[int, Any, int | None]],
            keep_alive: bool = False) -> Iterator[Any]:
        """Yield the batches of ``tasks`` in order. The workers are stopped at the end, or,
        with ``keep_alive``, kept for the next ``run`` when every batch was consumed."""
        tasks = iter(tasks)
        pending: dict[int, Any] = {}
        in_flight: list[int] = []  # batch numbers dealt and not yet yielded, in order
        if not self.alive():
            self.shutdown()
            self.start()
        completed = False
        try:
            dealt = 0
            for _ in range(self.num_workers * self.prefetch):
                if not self._deal(tasks, dealt, in_flight):
                    break
                dealt += 1
            while in_flight:
                k = in_flight[0]
                while k not in pending:
                    message = self._receive()
                    pending[message[1]] = message
                batch = self._unpack(pending.pop(k))
                in_flight.pop(0)
                if self._deal(tasks, dealt, in_flight):
                    dealt += 1
                yield batch
            completed = True
        finally:
            if not (keep_alive and completed):
                self.shutdown(wait=completed)

    def run_stream(self, seed: int | None, batch_size: int, drop_last: bool) -> Iterator[Any]:
        """Batches of an iterable dataset: every worker reads its own copy of the stream;
        batches are asked of the workers in turn (``prefetch`` each in flight) and yielded
        in the order asked; a worker whose stream ends drops out."""
        if not self.alive():
            self.shutdown()
            self.start()
        active = list(range(self.num_workers))
        outstanding, first = [0] * self.num_workers, [True] * self.num_workers
        order: deque[tuple[int, int]] = deque()
        pending: dict[int, Any] = {}
        counter = {"k": 0, "turn": 0}

        def deal() -> None:
            while active:
                for _ in range(len(active)):
                    w = active[counter["turn"] % len(active)]
                    counter["turn"] += 1
                    if outstanding[w] < self.prefetch:
                        break
                else:
                    return
                k = counter["k"]
                self.task_queues[w].put((k, ("stream", first[w], batch_size, drop_last), seed))
                first[w], counter["k"] = False, k + 1
                outstanding[w] += 1
                order.append((k, w))

        completed = False
        try:
            deal()
            while order:
                k, w = order.popleft()
                while k not in pending:
                    message = self._receive()
                    pending[message[1]] = message
                message = pending.pop(k)
                outstanding[w] -= 1
                if message[0] == "end":
                    if w in active:
                        active.remove(w)
                    deal()
                    continue
                batch = self._unpack(message)
                deal()
                yield batch
            completed = True
        finally:
            self.shutdown(wait=completed)

    def alive(self) -> bool:
        return bool(self.workers) and all(p.is_alive() for p in self.workers)

    def _deal(self, tasks: Iterator, dealt: int, in_flight: list[int]) -> bool:
        task = next(tasks, None)
        if task is None:
            return False
        self.task_queues[dealt % self.num_workers].put(task)
        in_flight.append(task[0])
        return True

    def _receive(self) -> tuple:
        start = time.monotonic()
        while True:
            try:
                return pickle.loads(self.results.get(timeout=_POLL_S))
            except queue.Empty:
                pass
            for w, p in enumerate(self.workers):
                if not p.is_alive():
                    raise WorkerError(f"DataLoader: worker {w} (pid {p.pid}) exited unexpectedly "
                                      f"with exit code {p.exitcode} (killed, or out of memory?)")
            if self.timeout is not None and time.monotonic() - start > self.timeout:
                raise WorkerError(f"DataLoader: no batch from the workers in {self.timeout} s "
                                  f"(timeout)")

    def _unpack(self, message: tuple) -> Any:
        if message[0] == "error":
            _, k, wid, index, where, exc_type, text, trace, type_name = message
            what = f"example {index}" if index is not None else f"batch {k}"
            msg = (f"DataLoader: {what} failed in worker {wid} while {where}: {type_name}: "
                   f"{text}\n\nWorker traceback:\n{trace}")
            raise _rebuilt(pickle.loads(exc_type), msg)
        if message[0] == "inline":
            return message[3]
        _, k, wid, s, name, meta, layout = message
        shm = self._mapped.get((wid, s))
        if shm is None or shm.name != name.lstrip("/"):
            if shm is not None:
                shm.close()
            shm = shared_memory.SharedMemory(name=name)
            try:  # the name is no longer needed: both sides hold the mapping
                from _posixshmem import shm_unlink
                shm_unlink(shm._name)
                resource_tracker.unregister(shm._name, "shared_memory")
            except (FileNotFoundError, ImportError):
                pass
            self._mapped[(wid, s)] = shm
        arrays = [np.ndarray(shape, dtype, buffer=shm.buf, offset=offset).copy()
                  for offset, shape, dtype in layout]
        return _join(meta, arrays)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers: a ``None`` task each, then (after 2 s, or at once without
        ``wait``: an epoch left early, an error) SIGTERM, then SIGKILL."""
        for q in self.task_queues:
            try:
                q.put(None)
            except (ValueError, OSError):
                pass
        deadline = time.monotonic() + (2.0 if wait else 0.0)
        for p in self.workers:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        for p in self.workers:
            if p.is_alive():
                p.terminate()
        for p in self.workers:
            p.join(timeout=1.0)
            if p.is_alive():
                p.kill()
                p.join()
        for q in [*self.task_queues, self.results]:
            if q is not None:
                q.cancel_join_thread()
                q.close()
        for shm in self._mapped.values():
            try:
                shm.close()
            except BufferError:
                pass
        self.workers, self.task_queues, self.results, self._mapped = [], [], None, {}


def _rebuilt(exc_type: type, message: str) -> BaseException:
    """``exc_type(message)``, or a ``WorkerError`` when that type cannot be built so."""
    if isinstance(exc_type, type) and issubclass(exc_type, Exception) \
            and not issubclass(exc_type, KeyError):
        try:
            return exc_type(message)
        except Exception:
            pass
    return WorkerError(message)
