"""Worker processes of a search that live and die with the process that started them.

``run_workers`` starts each worker in its own process group (its own session: a Ctrl-C at the
terminal reaches only the parent, which passes it on) and waits for them. When the parent gets
SIGTERM, SIGINT or SIGHUP it sends SIGTERM to every worker's group, waits ``grace`` seconds,
kills what is left, prints one line, and ends by the same signal. When the parent dies without
a chance to do that (SIGKILL, a crash), each worker notices: ``worker_guard`` asks Linux to
send it SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``) and, on any system, a
daemon thread polls ``os.getppid()``.

Inside a worker, ``worker_guard`` turns those signals into ``WorkerInterrupted`` (a
``KeyboardInterrupt``) in the main thread: Optuna marks the running trial failed, ``search``
marks it interrupted, and the next run of the search queues its parameters again. A worker
whose trial another run finished meanwhile (``UpdateFinishedTrialError``) says so in one line
and stops instead of printing a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

PARENT_ENV = "DLKIT_WORKER_PARENT"  # the pid a worker expects as its parent
STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), signal.SIGINT,
                                 getattr(signal, "SIGHUP", None)) if s is not None)
POLL_S = 0.25


class WorkerInterrupted(KeyboardInterrupt):
    """A worker was told to stop (a signal, or its parent died)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class WorkersStopped(Exception):
    """The parent got a stop signal and ended its workers."""

    def __init__(self, signum: int, ended: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}: ended {ended} worker(s)")
        self.signum, self.ended = signum, ended


class _Stop(BaseException):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _handlers(handler: Any) -> Iterator[None]:
    """Install ``handler`` for the stop signals (main thread only), restore them after."""
    if not _in_main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signum)  # the worker and anything it started
        else:  # pragma: no cover - Windows
            proc.send_signal(signum)


def end_workers(procs: Sequence[subprocess.Popen], grace: float = 10.0) -> int:
    """SIGTERM every running worker's process group, wait up to ``grace`` seconds, SIGKILL
    the rest. Returns how many were running."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
    for p in running:
        if p.poll() is None:
            _signal_group(p, getattr(signal, "SIGKILL", signal.SIGTERM))
            p.wait()
    return len(running)


def run_workers(commands: Sequence[Sequence[str]], envs: Sequence[Mapping[str, str]] | None = None,
                *, grace: float = 10.0) -> list[int]:
    """Run one process per command, each in its own process group, and return their exit
    codes. A stop signal (SIGTERM, SIGINT, SIGHUP) to this process ends them all
    (``end_workers``) and raises ``WorkersStopped``; so does any other exception here."""
    envs = list(envs) if envs is not None else [{} for _ in commands]
    procs: list[subprocess.Popen] = []

    def on_signal(signum: int, frame: Any) -> None:
        raise _Stop(signum)

    with _handlers(on_signal):
        try:
            for cmd, env in zip(commands, envs):
                procs.append(subprocess.Popen(
                    list(cmd), env={**os.environ, **env, PARENT_ENV: str(os.getpid())},
                    start_new_session=True))
            return [p.wait() for p in procs]
        except _Stop as stop:
            with _handlers(signal.SIG_IGN):  # a second Ctrl-C does not cut the clean-up short
                ended = end_workers(procs, grace)
            raise WorkersStopped(stop.signum, ended) from None
        except BaseException:
            with _handlers(signal.SIG_IGN):
                end_workers(procs, grace)
            raise


def die_by(signum: int) -> None:
    """End this process by ``signum`` with its default action (the exit status a shell
    shows for a killed process), after output is flushed."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    time.sleep(5)  # pragma: no cover - the signal arrives first
    raise SystemExit(128 + signum)  # pragma: no cover


def _set_parent_death_signal(signum: int) -> bool:
    """Linux: have the kernel send ``signum`` to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(signum), 0, 0, 0) == 0  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int | None = None, interval: float = POLL_S) -> threading.Thread:
    """End this process (SIGTERM to itself) when its parent ``parent`` (default: the current
    one) is gone: by the kernel on Linux, and by a daemon thread polling ``os.getppid()``."""
    parent = os.getppid() if parent is None else parent
    _set_parent_death_signal(signal.SIGTERM)

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    if os.getppid() != parent:  # the parent died before the watch began
        os.kill(os.getpid(), signal.SIGTERM)
    thread = threading.Thread(target=poll, name="dlkit-parent-watch", daemon=True)
    thread.start()
    return thread


_LIBRARY_MODULES = ("optuna", "sqlalchemy", "sqlite3", "psycopg2")
DEFER_S = 0.05


def _in_library_call(frame: Any) -> bool:
    """Whether the main thread is in Optuna or a database driver rather than in dlkit or the
    objective: the innermost frame of either kind decides. There an exception could leave a
    session half-committed or a trial neither told nor failed, so the stop waits."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.startswith(_LIBRARY_MODULES):
            return True
        if name.startswith("dlkit") or name == "__main__":
            return False
        frame = frame.f_back
    return False


def _interruption(e: BaseException | None) -> WorkerInterrupted | None:
    """The ``WorkerInterrupted`` that ``e`` is, or was raised from, if any."""
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, WorkerInterrupted):
            return e
        e, seen = e.__cause__ or e.__context__, seen + 1
    return None


def _taken_over(e: BaseException | None) -> bool:
    """Whether ``e`` (or what it was raised from) says another process finished the trial:
    Optuna's ``UpdateFinishedTrialError``, or its "Cannot tell a FAIL trial"."""
    seen = 0
    while e is not None and seen < 10:
        if type(e).__name__ == "UpdateFinishedTrialError" or (
                isinstance(e, ValueError) and str(e).startswith("Cannot tell a")):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


class _QuietInterruption(logging.Filter):
    """Drops Optuna's warnings (with a traceback) about a trial failed by the interruption
    or taken over by another run; the worker says it in one line instead."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        if "UpdateFinishedTrialError" in message:
            self.interrupted = True
        return not (self.interrupted and "failed" in message)


@contextlib.contextmanager
def worker_guard(prefix: str = "") -> Iterator[None]:
    """The body of a worker process: watches the parent named by ``DLKIT_WORKER_PARENT``
    (set by ``run_workers``), turns SIGTERM / SIGINT / SIGHUP into ``WorkerInterrupted``
    (held back while Optuna or the database has the hand), and ends the process with one line on
    stderr, no traceback, when stopped (exit status 128 + signal) or when another run
    finished its trial (exit status 0)."""
    quiet = _QuietInterruption()

    def on_signal(signum: int, frame: Any) -> None:
        if _in_library_call(frame):  # try again in a moment, back in the objective
            threading.Timer(DEFER_S, os.kill, (os.getpid(), signum)).start()
            return
        for s in STOP_SIGNALS:  # one interruption; let the trial be marked failed in peace
            signal.signal(s, signal.SIG_IGN)
        quiet.interrupted = True
        raise WorkerInterrupted(signum)

    handlers = logging.getLogger("optuna").handlers
    for h in handlers:
        h.addFilter(quiet)
    try:
        with _handlers(on_signal):
            parent = os.environ.get(PARENT_ENV)
            if parent and parent.isdigit():
                watch_parent(int(parent))
            try:
                yield
            except (WorkerInterrupted, Exception) as e:
                # the signal may land inside code that wraps what it raises (a class body's
                # __set_name__ during an import turns it into a RuntimeError): look at causes
                stop = _interruption(e)
                if stop is not None:
                    print(f"{prefix}stopped by {signal.Signals(stop.signum).name}: its running "
                          "trial is marked failed and runs again on the next run of the search",
                          file=sys.stderr, flush=True)
                    raise SystemExit(128 + stop.signum) from None
                if not _taken_over(e):
                    raise
                print(f"{prefix}stopping: another run of this study finished or failed its "
                      "trial meanwhile (a rerun while this worker was running?)",
                      file=sys.stderr, flush=True)
                raise SystemExit(0) from None
    finally:
        for h in handlers:
            h.removeFilter(quiet)


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (zombies count as ended)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


__all__ = ["PARENT_ENV", "WorkerInterrupted", "WorkersStopped", "die_by", "end_workers",
           "process_alive", "run_workers", "watch_parent", "worker_guard"]
