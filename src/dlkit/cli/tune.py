"""``dlkit tune CONFIG``: hyperparameter search over ``dlkit train``'s options (Optuna).

A config (JSON, or TOML with Python 3.11+) has three tables::

    name = "moons-lr"                 # the study's name [default: the file's name]

    [train]                           # fixed options, named as dlkit train's (underscores)
    dataset = "moons"
    model = "mlp"
    hidden = "16"
    epochs = 40

    [search]
    trials = 30                       # finished trials the study should hold
    metric = "dev_loss"               # dev_<metric> to optimize (direction from the name)
    sampler = "tpe"                   # or "random"
    pruner = "median"                 # none, median, percentile, hyperband, successive_halving
    seed = 0
    storage = "postgresql://user@host:5432/db"   # default: <out>/study.db (SQLite)
    workers = 1                       # worker processes on this machine
    fine_trials = 0                   # coarse to fine: then this many in a narrowed space
    top = 0.25                        # ... around this fraction of the best trials

    [space]                           # the notes' scales
    lr = {type = "log", low = 1e-4, high = 1}
    beta = {type = "one_minus_log", low = 0.9, high = 0.999}
    units = {type = "int", low = 4, high = 64, log = true}
    layers = {type = "int", low = 1, high = 3}
    activation = ["relu", "tanh"]

Each trial writes ``<out>/trial-NNNN/`` (hparams.json, history.csv, history.jsonl,
result.json: ``dlkit runs <out> --sort dev_loss`` lists them). Running the same command
again resumes the study.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.tune.train_search import CMD, Plan, load_config


def _echo_trial(prefix: str, space: Any, metric: str) -> Any:
    def callback(study: Any, trial: Any) -> None:
        params = trial.user_attrs.get("params") or space.decode(trial.params)
        text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in params.items())
        state = trial.state.name.lower()
        if trial.state.name == "COMPLETE":
            value = f"{metric} {trial.value:.5g}"
        elif trial.state.name == "PRUNED":
            value = f"at epoch {trial.last_step}"
        else:
            value = ""
        click.echo(f"{prefix}trial {trial.number:3d} {state:8s} {value}  {text}".rstrip())

    return callback


def _run_workers(args: list[str], workers: int, seed: int | None) -> None:
    """Start ``workers`` processes of ``dlkit tune ... --as-worker`` and wait for them; a stop
    signal or this process's death ends them too (``dlkit.tune.workers``)."""
    from dlkit.tune.workers import WorkersStopped, die_by, run_workers

    cmds, envs = [], []
    for k in range(workers):
        cmd = [sys.executable, "-m", "dlkit.cli", "tune", *args, "--as-worker"]
        if seed is not None:
            cmd += ["--seed", str(seed + k)]
        cmds.append(cmd)
        envs.append({"DLKIT_TUNE_WORKER": str(k)})
    try:
        codes = run_workers(cmds, envs)
    except WorkersStopped as e:
        click.echo(f"dlkit {CMD}: {e}; their running trials are marked failed and run again "
                   "when this command is run again", err=True)
        die_by(e.signum)
        raise
    bad = [k for k, c in enumerate(codes) if c != 0]
    if bad:
        raise UserError(f"worker(s) {bad} failed (exit codes {[codes[k] for k in bad]})", CMD)


@cli.command()
@click.argument("config")
@click.option("--trials", type=click.IntRange(1), default=None,
              help="Finished trials the study should hold [default: from the config, 20].")
@click.option("--storage", default=None, help="Database URL shared by workers, e.g. "
              "postgresql://user@host:5432/db [default: OUT/study.db, SQLite].")
@click.option("--study", default=None, help="Study name [default: the config's name].")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes to start on this machine.")
@click.option("--sampler", type=click.Choice(["random", "tpe"]), default=None,
              help="random search, or TPE (model-based) [default: tpe].")
@click.option("--seed", type=int, default=None, help="Sampler seed.")
@click.option("--fine-trials", type=click.IntRange(0), default=None,
              help="Coarse to fine: after the search, narrow the space around the best "
                   "trials and run this many more.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None,
              help="Stop starting trials after this many seconds.")
@click.option("--out", default=None, help="Folder for the study and the trials' logs "
              "[default: runs/tune-<name>].")
@click.option("--as-worker", is_flag=True, hidden=True)
def tune(config: str, trials: int | None, storage: str | None, study: str | None,
         workers: int | None, sampler: str | None, seed: int | None, fine_trials: int | None,
         timeout: float | None, out: str | None, as_worker: bool) -> None:
    """Search hyperparameters of dlkit train (random search or TPE, pruning, coarse to fine);
    resumable (SQLite) and shareable by several workers (PostgreSQL).

    CONFIG (.json or .toml) has a [train] table of fixed dlkit train options, a [search]
    table (trials, metric such as dev_loss, sampler, pruner, seed, storage, workers,
    fine_trials) and a [space] table, e.g. lr = {type = "log", low = 1e-4, high = 1},
    beta = {type = "one_minus_log", low = 0.9, high = 0.999}, units = {type = "int",
    low = 4, high = 64}, activation = ["relu", "tanh"]."""
    import dlkit.tune as tn

    plan = Plan(load_config(config), config,
                {"trials": trials, "storage": storage, "study": study, "workers": workers,
                 "sampler": sampler, "seed": seed, "fine_trials": fine_trials,
                 "timeout": timeout})
    s = plan.search
    from dlkit.tune.search import optuna_module

    optuna = optuna_module()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = s["study"] or plan.name
    folder = Path(out) if out else Path("runs") / f"tune-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    url = tn.storage_url(s["storage"], folder)
    sampling = {"sampler": s["sampler"], "seed": s["seed"],
                "n_startup_trials": s["startup_trials"]}
    pruner_obj = tn.make_pruner(s["pruner"], n_warmup_steps=s["warmup_epochs"])
    where = url.split("@")[-1] if url and "@" in url else url
    if as_worker:
        from dlkit.tune.workers import worker_guard

        prefix = f"[worker {os.environ.get('DLKIT_TUNE_WORKER', os.getpid())}] "
        with worker_guard(prefix):  # ends with its parent; a stop is one line, no traceback
            tn.search(plan.objective(folder), plan.space, s["trials"], direction=plan.direction,
                      **sampling, pruner=pruner_obj, storage=url, study_name=name,
                      timeout=s["timeout"], requeue=False,
                      callbacks=[_echo_trial(prefix, plan.space, s["metric"])])
        return
    study_obj = tn.open_study(name, storage=url, direction=plan.direction, pruner=pruner_obj)
    done = len(tn.finished(study_obj))
    retried = tn.requeue_interrupted(study_obj, running=url.startswith("sqlite"))
    click.echo(f"study {name!r} in {where}: {plan.direction} {s['metric']}, {s['sampler']} "
               f"sampler, {s['pruner']} pruner; {done} of {s['trials']} trials done"
               + (f"; re-running interrupted trial(s) {retried}" if retried else ""))
    if done < s["trials"]:
        if s["workers"] > 1:
            args = [config, "--out", str(folder), "--storage", url, "--study", name,
                    "--trials", str(s["trials"]), "--sampler", s["sampler"]]
            _run_workers(args, s["workers"], s["seed"])
            study_obj = tn.open_study(name, storage=url, direction=plan.direction)
        else:
            study_obj = tn.search(plan.objective(folder), plan.space, s["trials"],
                                  direction=plan.direction, **sampling, pruner=pruner_obj,
                                  storage=url, study_name=name,
                                  timeout=s["timeout"], requeue=False,
                                  callbacks=[_echo_trial("", plan.space, s["metric"])])
    _report(study_obj, plan, folder, "best")
    if s["fine_trials"]:
        finer = tn.narrow(study_obj, plan.space, top=s["top"], margin=s["margin"])
        click.echo("coarse to fine: narrowed space " + json.dumps(finer.to_config()))
        fine = tn.search(plan.objective(folder / "fine"), finer, s["fine_trials"],
                         direction=plan.direction, **sampling, pruner=pruner_obj,
                         storage=url, study_name=f"{name}-fine",
                         timeout=s["timeout"], requeue=url.startswith("sqlite"),
                         callbacks=[_echo_trial("fine ", finer, s["metric"])])
        _report(fine, plan, folder, "best-fine")


def _report(study: Any, plan: Plan, folder: Path, stem: str) -> None:
    import dlkit.tune as tn

    try:
        best = study.best_trial
    except ValueError:
        raise UserError(f"study {study.study_name!r} has no complete trial (all pruned or "
                        "failed)", CMD) from None
    click.echo(tn.trials_table(study, plan.space, limit=10))
    params = tn.best_params(study, plan.space)
    value = best.value
    shown = f"{value:.6g}" if value is not None and math.isfinite(value) else str(value)
    click.echo(f"{stem}: trial {best.number}  {plan.search['metric']} {shown}  " +
               "  ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in params.items()))
    from dlkit.strategy.run_folder import write_json

    write_json(folder / f"{stem}.json", {"study": study.study_name, "trial": best.number,
                                         "metric": plan.search["metric"], "value": value,
                                         "params": params})
