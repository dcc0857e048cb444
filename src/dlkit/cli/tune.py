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
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.errors import UserError

CMD = "tune"
SECTIONS = ("name", "train", "search", "space")
SEARCH_KEYS = {"trials": int, "metric": str, "direction": str, "sampler": str, "pruner": str,
               "seed": int, "storage": str, "study": str, "workers": int, "fine_trials": int,
               "top": float, "margin": float, "startup_trials": int, "timeout": float,
               "warmup_epochs": int}
EXTRA_SPACE = ("beta", "beta2", "layers", "units")  # beyond dlkit train's options
NOT_TUNABLE = ("out", "progress")


def _train_options() -> dict[str, Any]:
    """dlkit train's options and their defaults (click.Option objects by name)."""
    from dlkit.cli.train import train as train_command

    return {p.name: p for p in train_command.params if p.name not in NOT_TUNABLE}


def _default(option: Any) -> Any:
    if getattr(option, "is_flag", False):
        return bool(option.default) if isinstance(option.default, bool) else False
    default = option.default
    return default if isinstance(default, (str, int, float, bool, type(None))) else None


def _convert(name: str, value: Any, where: str) -> Any:
    options = _train_options()
    if name not in options:
        raise UserError(f"config [{where}]: unknown option {name!r}; expected dlkit train "
                        f"options {sorted(options)}" + (
                            f" or {list(EXTRA_SPACE)}" if where == "space" else ""), CMD)
    if value is None:
        return None
    try:
        return options[name].type.convert(value, options[name], None)
    except click.BadParameter as e:
        raise UserError(f"config [{where}] {name}: {e.message}", CMD) from None


def load_config(path: str) -> dict[str, Any]:
    """The config file as a dict, or a one-line UserError."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no such config file: {path!r}", CMD)
    text = p.read_text()
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                try:
                    import tomli as tomllib  # type: ignore[no-redef]
                except ImportError:
                    raise UserError("TOML configs need Python 3.11+ (or pip install tomli); "
                                    "or write the config as JSON", CMD) from None
            config = tomllib.loads(text)
        elif suffix == ".json":
            config = json.loads(text)
        else:
            raise UserError(f"{path!r}: expected a .json or .toml config", CMD)
    except UserError:
        raise
    except ValueError as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path!r} is not valid {suffix[1:].upper()}: {first}", CMD) from None
    if not isinstance(config, dict):
        raise UserError(f"{path!r}: expected a table (an object) at the top", CMD)
    unknown = set(config) - set(SECTIONS)
    if unknown:
        raise UserError(f"{path!r}: unknown key(s) {sorted(unknown)}; expected {list(SECTIONS)}",
                        CMD)
    for section in ("train", "search", "space"):
        if not isinstance(config.get(section, {}), dict):
            raise UserError(f"{path!r}: [{section}] must be a table", CMD)
    if not config.get("space"):
        raise UserError(f"{path!r}: [space] is empty; name at least one hyperparameter to "
                        "search, e.g. lr = {type = \"log\", low = 1e-4, high = 1}", CMD)
    return config


class Plan:
    """A parsed config: fixed options, the search settings, the space, the objective."""

    def __init__(self, config: dict[str, Any], config_path: str, overrides: dict[str, Any]):
        from dlkit.metrics import get_metric, lower_is_better
        from dlkit.tune import PRUNERS, SAMPLERS, SearchSpace

        self.config_path = config_path
        self.name = str(config.get("name") or Path(config_path).stem)
        options = _train_options()
        self.fixed = {name: _default(opt) for name, opt in options.items()}
        for key, value in config.get("train", {}).items():
            self.fixed[key] = _convert(key, value, "train")
        search = {"trials": 20, "metric": "dev_loss", "sampler": "tpe", "pruner": "median",
                  "seed": None, "storage": None, "study": None, "workers": 1,
                  "fine_trials": 0, "top": 0.25, "margin": 0.5, "startup_trials": None,
                  "timeout": None, "direction": None, "warmup_epochs": 5}
        for key, value in config.get("search", {}).items():
            if key not in SEARCH_KEYS:
                raise UserError(f"config [search]: unknown key {key!r}; expected "
                                f"{sorted(SEARCH_KEYS)}", CMD)
            kind = SEARCH_KEYS[key]
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                if kind in (int, float) else isinstance(value, str)
            if kind is int and isinstance(value, float):
                ok = False
            if not ok:
                raise UserError(f"config [search] {key}: expected {kind.__name__}, got "
                                f"{value!r}", CMD)
            search[key] = value
        search.update({k: v for k, v in overrides.items() if v is not None})
        self.search = search
        if search["trials"] < 1 or search["workers"] < 1 or search["fine_trials"] < 0:
            raise UserError("trials and workers must be >= 1, fine_trials >= 0", CMD)
        if search["sampler"] not in SAMPLERS:
            raise UserError(f"unknown sampler {search['sampler']!r}; expected one of "
                            f"{list(SAMPLERS)}", CMD)
        if search["pruner"] not in PRUNERS:
            raise UserError(f"unknown pruner {search['pruner']!r}; expected one of "
                            f"{list(PRUNERS)}", CMD)
        metric = search["metric"]
        split, _, base = metric.partition("_")
        if split not in ("dev", "val") or not base:
            raise UserError(f"unknown metric {metric!r}: tune optimizes a dev-set metric, "
                            "e.g. dev_loss, dev_accuracy, dev_f1", CMD)
        if base != "loss":
            try:
                get_metric(base)
            except ValueError:
                raise UserError(f"unknown metric {metric!r}: {base!r} is not a metric (try "
                                "dev_loss, dev_accuracy, dev_f1, dev_roc_auc)", CMD) from None
        self.metric_base, self.monitor = base, f"val_{base}"
        direction = search["direction"] or ("minimize" if lower_is_better(base) or
                                            base == "loss" else "maximize")
        if direction not in ("minimize", "maximize"):
            raise UserError(f"config [search] direction: expected 'minimize' or 'maximize', "
                            f"got {direction!r}", CMD)
        self.direction = direction
        space = {}
        for key, spec in config["space"].items():
            if key not in EXTRA_SPACE and key not in options:
                _convert(key, None, "space")  # raises: unknown option
            try:
                space[key] = spec
                SearchSpace({key: spec})
            except ValueError as e:
                raise UserError(f"config [space] {e}", CMD) from None
        self.space = SearchSpace(space)
        if not self.fixed["dev_size"]:
            raise UserError("tune needs a dev set: dev_size > 0 in [train]", CMD)
        self._data: dict[tuple, Any] = {}

    # -- one trial ----------------------------------------------------------------------------

    def options(self, params: dict[str, Any]) -> dict[str, Any]:
        from dlkit.cli.train import IMAGE_MODELS, MIN_SIZE

        opts = dict(self.fixed)
        for key, value in params.items():
            if key not in EXTRA_SPACE:
                value = _convert(key, value, "space")
            opts[key] = value
        images = opts["model"] in IMAGE_MODELS
        if opts["epochs"] is None:
            opts["epochs"] = 10 if images else 200
        if images and opts["image_size"] is None and opts["model"] == "lenet5":
            opts["image_size"] = MIN_SIZE["lenet5"]
        if opts["standardize"] is None:
            opts["standardize"] = not images and opts["dataset"] not in ("flower", "moons",
                                                                         "circles")
        if "layers" in params or "units" in params:
            from dlkit.cli.train import parse_hidden

            sizes = parse_hidden(str(opts["hidden"])) or [20]
            units = int(params.get("units", sizes[0]))
            layers = int(params.get("layers", len(sizes)))
            opts["hidden"] = ",".join([str(units)] * layers)
        return opts

    def data(self, opts: dict[str, Any]) -> Any:
        from dlkit.cli.datasets import prepare
        from dlkit.cli.train import IMAGE_MODELS

        images = opts["model"] in IMAGE_MODELS
        key = (opts["dataset"], opts["test_data"], opts["dev_size"], opts["test_size"],
               opts["standardize"], opts["examples"], opts["noise"], images,
               opts["image_size"], opts["seed"])
        if key not in self._data:
            dl.manual_seed(opts["seed"])
            self._data[key] = prepare(opts["dataset"], test_data=opts["test_data"],
                                      dev_size=opts["dev_size"], test_size=opts["test_size"],
                                      standardize=opts["standardize"], command=CMD,
                                      examples=opts["examples"], noise=opts["noise"],
                                      images=images, image_size=opts["image_size"])
        return self._data[key]

    def objective(self, folder: Path) -> Any:
        from dlkit.cli.train import (
            IMAGE_MODELS,
            OPTIMIZERS,
            augmentation,
            build_model,
            hidden_layers,
            make_schedule,
        )
        from dlkit.strategy.experiment import ExperimentLogger
        from dlkit.tune import PruningCallback

        def run(params: dict[str, Any], trial: Any) -> float:
            opts = self.options(params)
            prepared = self.data(opts)
            images = opts["model"] in IMAGE_MODELS
            sizes = hidden_layers(opts["model"], str(opts["hidden"])) if not images else []
            dl.manual_seed(opts["seed"])
            net = build_model(opts["model"], prepared, sizes, opts["activation"], opts["init"],
                              opts["dropout"], opts["batch_norm"])
            kwargs: dict[str, Any] = {"lr": opts["lr"]}
            name = opts["optimizer"]
            if "beta" in params:
                if name == "sgd":
                    raise UserError("beta is searched but the optimizer is sgd (no beta): "
                                    "use momentum, rmsprop or adam", CMD)
                kwargs["beta1" if name == "adam" else "beta"] = params["beta"]
            if "beta2" in params:
                if name != "adam":
                    raise UserError("beta2 is Adam's: set optimizer = \"adam\"", CMD)
                kwargs["beta2"] = params["beta2"]
            opt = OPTIMIZERS[name](net.parameters(), **kwargs)
            loss = "bce_logits" if prepared.task == "binary" else "cross_entropy"
            callbacks: list[Any] = [PruningCallback(trial, self.monitor)]
            sched = make_schedule(opts["schedule"], opt, opts["decay_rate"],
                                  opts["decay_interval"])
            if sched is not None:
                callbacks.append(dl.train.LearningRateScheduler(sched))
            if opts["early_stopping"]:
                callbacks.append(dl.train.EarlyStopping("val_loss",
                                                        patience=opts["early_stopping"],
                                                        restore_best_weights=True))
            hparams = {k: opts[k] for k in sorted(opts) if k in params or k in ("model",
                                                                                 "hidden")}
            callbacks.append(ExperimentLogger(folder / f"trial-{trial.number:04d}",
                                              {**hparams, "trial": trial.number}))
            metrics = ["accuracy"] if self.metric_base in ("loss", "accuracy") else \
                ["accuracy", self.metric_base]
            augment = augmentation(images, prepared, opts["flip"], opts["crop"],
                                   opts["color_shift"], opts["rotate"])
            history = dl.train.fit(net, loss, opt, prepared.X_train, prepared.y_train,
                                   epochs=opts["epochs"], batch_size=opts["batch_size"],
                                   validation_data=(prepared.X_dev, prepared.y_dev),
                                   callbacks=callbacks, metrics=metrics, l2=opts["l2"],
                                   transform=augment)
            return history[self.monitor][-1]

        return run


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
    """Start ``workers`` processes of ``dlkit tune ... --as-worker`` and wait for them."""
    procs = []
    for k in range(workers):
        cmd = [sys.executable, "-m", "dlkit.cli", "tune", *args, "--as-worker"]
        if seed is not None:
            cmd += ["--seed", str(seed + k)]
        procs.append(subprocess.Popen(cmd, env={**os.environ, "DLKIT_TUNE_WORKER": str(k)}))
    codes = [p.wait() for p in procs]
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
        prefix = f"[worker {os.environ.get('DLKIT_TUNE_WORKER', os.getpid())}] "
        tn.search(plan.objective(folder), plan.space, s["trials"], direction=plan.direction,
                  **sampling, pruner=pruner_obj, storage=url, study_name=name,
                  timeout=s["timeout"], requeue=False,
                  callbacks=[_echo_trial(prefix, plan.space, s["metric"])])
        return
    study_obj = tn.open_study(name, storage=url, direction=plan.direction, pruner=pruner_obj)
    done = len(tn.finished(study_obj))
    retried = tn.requeue_interrupted(study_obj) if url.startswith("sqlite") else []
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
