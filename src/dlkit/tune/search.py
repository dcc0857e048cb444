"""Hyperparameter search on Optuna: random search or a model-based sampler (TPE), pruning of
bad trials, a study kept in SQLite (resumable) or PostgreSQL (shared by several workers).

The notes' two ways (course 2, week 3): babysit one model ("panda"), or train many in
parallel and pick the best ("caviar"). ``search`` is one worker of the caviar way: run it in
several processes or machines on one PostgreSQL study and they share the work; run it again
on the same SQLite file after an interruption and it goes on where it stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dlkit.tune.space import SearchSpace

STUDY_DB = "study.db"
SAMPLERS = ("random", "tpe")
PRUNERS = ("none", "median", "percentile", "hyperband", "successive_halving")


def optuna_module() -> Any:
    """Optuna, or an ImportError that says how to install it."""
    try:
        import optuna
    except ImportError as e:
        raise ImportError('hyperparameter search needs Optuna: pip install "dlkit[tune]"') \
            from e
    return optuna


def storage_url(storage: str | os.PathLike | None = None,
                folder: str | os.PathLike | None = None) -> str | None:
    """The study's database URL: ``storage`` as given (``postgresql://user@host:port/db``,
    ``sqlite:///path``, or a path to a ``.db`` file), else ``sqlite:///<folder>/study.db``,
    else None (in memory, lost at exit)."""
    if storage is not None:
        text = os.fspath(storage)
        if "://" in text:
            return text
        path = Path(text)
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path.resolve()}"
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(Path(folder) / STUDY_DB).resolve()}"
    return None


def make_storage(url: str | None, heartbeat_interval: int = 10, grace_period: int = 60) -> Any:
    """An Optuna RDB storage with heartbeats: a trial whose worker died (no heartbeat for
    ``grace_period`` seconds) is marked failed and queued again with the same parameters."""
    optuna = optuna_module()
    if url is None:
        return optuna.storages.InMemoryStorage()
    engine: dict[str, Any] = {}
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        engine["creator"] = _sqlite_connect(url[len("sqlite:///"):])
    else:
        engine["pool_pre_ping"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeat / retry callbacks are "experimental"
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=2))


def _sqlite_connect(path: str) -> Callable[[], Any]:
    """Connections in WAL mode with synchronous=NORMAL: a commit (one per reported epoch)
    no longer waits for the disk, and a killed process still loses nothing it committed;
    several local workers wait up to 60 s for the write lock."""
    import sqlite3

    def connect() -> Any:
        conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return connect


def make_sampler(name: str = "tpe", seed: int | None = None,
                 n_startup_trials: int | None = None) -> Any:
    """"random" (the notes' random search, not a grid) or "tpe" (a model-based sampler: the
    Tree-structured Parzen Estimator, which after ``n_startup_trials`` random trials samples
    where good trials are denser than bad ones)."""
    optuna = optuna_module()
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        kwargs: dict[str, Any] = {"seed": seed}
        if n_startup_trials is not None:
            kwargs["n_startup_trials"] = n_startup_trials
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.samplers.TPESampler(**kwargs)
    raise ValueError(f"search: unknown sampler {name!r}; expected one of {list(SAMPLERS)}")


def make_pruner(name: str = "median", n_startup_trials: int = 5, n_warmup_steps: int = 5) -> Any:
    """Stops a trial whose dev metric at some epoch is worse than what others had there:
    "median" (worse than the median of earlier trials at that epoch), "percentile" (worse
    than the 25th percentile of the best), "hyperband", "successive_halving", or "none"."""
    optuna = optuna_module()
    p = optuna.pruners
    if name == "none":
        return p.NopPruner()
    if name == "median":
        return p.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)
    if name == "percentile":
        return p.PercentilePruner(25.0, n_startup_trials=n_startup_trials,
                                  n_warmup_steps=n_warmup_steps)
    if name == "hyperband":
        return p.HyperbandPruner()
    if name == "successive_halving":
        return p.SuccessiveHalvingPruner()
    raise ValueError(f"search: unknown pruner {name!r}; expected one of {list(PRUNERS)}")


def open_study(study_name: str = "dlkit", *, storage: str | os.PathLike | None = None,
               folder: str | os.PathLike | None = None, direction: str = "maximize",
               sampler: Any = "tpe", pruner: Any = "median", seed: int | None = None) -> Any:
    """Create the study, or load it when it exists (resuming, or joining other workers)."""
    optuna = optuna_module()
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"search: expected direction 'maximize' or 'minimize', got "
                         f"{direction!r}")
    url = storage_url(storage, folder)
    sampler = make_sampler(sampler, seed) if isinstance(sampler, str) else sampler
    pruner = make_pruner(pruner) if isinstance(pruner, str) else pruner
    for attempt in range(3):  # workers starting together may race to create the tables
        try:
            study = optuna.create_study(storage=make_storage(url), study_name=study_name,
                                        direction=direction, sampler=sampler, pruner=pruner,
                                        load_if_exists=True)
            break
        except Exception as e:  # sqlalchemy's IntegrityError / OperationalError
            if attempt == 2 or type(e).__module__.split(".")[0] != "sqlalchemy":
                raise
            time.sleep(0.5 + attempt)
    if study.direction.name.lower() != direction:
        raise ValueError(f"search: study {study_name!r} exists and {study.direction.name.lower()}"
                         f"s; asked to {direction}")
    return study


def finished(study: Any) -> list[Any]:
    """The study's trials that ran to the end (complete or pruned)."""
    TrialState = optuna_module().trial.TrialState
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def requeue_interrupted(study: Any, running: bool = True) -> list[int]:
    """Queue again the parameters of trials an interrupted search left behind: trials a
    stopped worker marked failed and interrupted and, with ``running``, trials left running
    by a killed process (marked failed first); each once, so the search repeats no finished
    trial and loses none. A trial still run by a live process on this machine (a worker of
    another run of the study) is left to it. ``running`` only for a study no other machine
    is using now (the local SQLite default); with several machines, heartbeats fail stale
    running trials after the grace period. Returns the trial numbers."""
    optuna = optuna_module()
    TrialState = optuna.trial.TrialState
    storage = study._storage
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    numbers = []
    for t in trials:
        if t.number in retried:
            continue
        if t.state == TrialState.RUNNING:
            if not running or _worker_alive(t.user_attrs.get("worker")) or _starting(t):
                continue
            try:
                storage.set_trial_user_attr(t._trial_id, "interrupted", True)
                storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # its worker finished it just now
        elif not (t.state == TrialState.FAIL and t.user_attrs.get("interrupted")):
            continue
        study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number})
        numbers.append(t.number)
    return numbers


STARTING_S = 30.0


def _starting(trial: Any) -> bool:
    """A trial just created, whose worker has not yet written its name."""
    if "worker" in trial.user_attrs or trial.datetime_start is None:
        return False
    import datetime

    age = datetime.datetime.now() - trial.datetime_start
    return age.total_seconds() < STARTING_S


def _worker_alive(worker: Any) -> bool:
    """Whether ``"host:pid"`` (a trial's ``worker`` attribute) is a live process of this
    machine other than this one."""
    from dlkit.tune.workers import process_alive

    if not isinstance(worker, str) or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return process_alive(int(pid))


class _Surplus(Exception):
    """A trial started by one worker when the others had already claimed every slot."""


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def search(objective: Callable[..., float], space: SearchSpace | Mapping[str, Any] | None,
           n_trials: int, *, direction: str = "maximize", sampler: Any = "tpe",
           pruner: Any = "median", storage: str | os.PathLike | None = None,
           folder: str | os.PathLike | None = None, study_name: str = "dlkit",
           seed: int | None = None, n_startup_trials: int | None = None,
           timeout: float | None = None, requeue: bool | None = None,
           catch: Iterable[type[Exception]] = (),
           callbacks: Sequence[Callable[[Any, Any], None]] = ()) -> Any:
    """Run trials until the study holds ``n_trials`` finished (complete or pruned) trials;
    returns the Optuna ``Study``.

    ``objective(params, trial) -> float`` trains a model with the hyperparameters ``params``
    drawn from ``space`` and returns its dev metric; report per-epoch values for pruning
    with ``fit(..., callbacks=[PruningCallback(trial, "val_loss")])``. (With ``space=None``
    it is Optuna's ``objective(trial)``.) A NaN result (diverged training) counts as the
    worst value.

    Storage: ``storage`` (a database URL: PostgreSQL for several workers, or an SQLite file)
    or ``folder`` (``folder/study.db``, SQLite); neither keeps the study in memory. The same
    ``study_name`` on the same storage resumes: finished trials are kept, and (``requeue``,
    default on for SQLite) trials an interrupted run left running are run again. Several
    processes calling ``search`` on one PostgreSQL study share it and stop together at
    ``n_trials``; give each its own ``seed`` (or none).

    ``sampler``: "random", "tpe" (``n_startup_trials`` random ones first) or an Optuna
    sampler. A named sampler resuming a study is seeded with ``seed`` and the number of
    trials already there, so a resumed search does not draw the first draws again.
    """
    optuna = optuna_module()
    if int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"search: expected n_trials >= 1, got {n_trials!r}")
    space = SearchSpace(space) if isinstance(space, Mapping) and \
        not isinstance(space, SearchSpace) else space
    study = open_study(study_name, storage=storage, folder=folder, direction=direction,
                       sampler=sampler if not isinstance(sampler, str) else "random",
                       pruner=pruner)
    if isinstance(sampler, str):
        existing = len(study.get_trials(deepcopy=False))
        if seed is not None:
            seed = (seed + 1_000_003 * existing) % 2**32
        study.sampler = make_sampler(sampler, seed, n_startup_trials)
    url = storage_url(storage, folder)
    if requeue is None:
        requeue = url is not None and url.startswith("sqlite")
    if requeue:
        requeue_interrupted(study)
    if len(finished(study)) >= n_trials:
        return study
    TrialState = optuna.trial.TrialState
    worst = -math.inf if direction == "maximize" else math.inf
    claimed = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)

    def run(trial: Any) -> float:
        try:
            ahead = [t for t in study.get_trials(deepcopy=False, states=claimed)
                     if t.number < trial.number]
            if len(ahead) >= n_trials:
                trial.set_user_attr("surplus", True)
                study.stop()
                raise _Surplus(f"study {study_name!r} already has {n_trials} trials")
            trial.set_user_attr("worker", _worker_name())
            if space is None:
                value = objective(trial)
            else:
                params = space.suggest(trial)
                trial.set_user_attr("params", params)
                value = objective(params, trial)
        except KeyboardInterrupt:  # Ctrl-C, or a worker told to stop: the next run retries
            with contextlib.suppress(Exception):
                trial.set_user_attr("interrupted", True)
            raise
        value = float(value)
        if math.isnan(value):
            trial.set_user_attr("diverged", True)
            return worst
        return value

    def stop_when_done(study: Any, trial: Any) -> None:
        if len(study.get_trials(deepcopy=False, states=claimed)) >= n_trials:
            study.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
        study.optimize(run, n_trials=int(n_trials), timeout=timeout,
                       catch=(_Surplus, *catch), callbacks=[stop_when_done, *callbacks])
    return study


def best_params(study: Any, space: SearchSpace | None = None) -> dict[str, Any]:
    """The best trial's hyperparameters (``1-beta`` decoded back to ``beta``)."""
    trial = study.best_trial
    if "params" in trial.user_attrs:
        return dict(trial.user_attrs["params"])
    return space.decode(trial.params) if space is not None else dict(trial.params)


def trials_table(study: Any, space: SearchSpace | None = None, limit: int | None = None) -> str:
    """The finished trials, best first: number, state, value, hyperparameters."""
    TrialState = optuna_module().trial.TrialState
    maximize = study.direction.name.lower() == "maximize"
    done = [t for t in study.get_trials(deepcopy=False) if t.state in
            (TrialState.COMPLETE, TrialState.PRUNED)]
    done.sort(key=lambda t: (t.state != TrialState.COMPLETE,
                             -(t.value or 0) if maximize else (t.value or 0)))
    rows = [["trial", "state", "value", "params"]]
    for t in done[:limit]:
        params = t.user_attrs.get("params") or (space.decode(t.params) if space else t.params)
        text = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in params.items())
        value = "-" if t.value is None else f"{t.value:.5g}"
        if t.state == TrialState.PRUNED:
            last = t.last_step
            value = f"{t.intermediate_values.get(last, math.nan):.5g}@{last}" \
                if last is not None else "-"
        rows.append([str(t.number), t.state.name.lower(), value, text])
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}"
                     for r in rows)


__all__ = ["PRUNERS", "SAMPLERS", "STUDY_DB", "best_params", "finished", "make_pruner",
           "make_sampler", "make_storage", "open_study", "optuna_module", "requeue_interrupted",
           "search", "storage_url", "trials_table"]
