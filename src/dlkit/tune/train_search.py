"""A search over ``dlkit train``'s options, from a config file: the fixed options, the
search settings, the space, and the objective that trains one trial (what ``dlkit tune``
runs). The config format is described in ``dlkit tune -h`` and docs/ml_strategy.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dlkit as dl
from dlkit import recipes
from dlkit.errors import UserError

CMD = "tune"
SECTIONS = ("name", "train", "search", "space")
SEARCH_KEYS = {"trials": int, "metric": str, "direction": str, "sampler": str, "pruner": str,
               "seed": int, "storage": str, "study": str, "workers": int, "fine_trials": int,
               "top": float, "margin": float, "startup_trials": int, "timeout": float,
               "warmup_epochs": int}
EXTRA_SPACE = ("beta", "beta2", "layers", "units")  # beyond dlkit train's options


def _convert(name: str, value: Any, where: str) -> Any:
    if name not in recipes.TRAIN_OPTIONS:
        raise UserError(f"config [{where}]: unknown option {name!r}; expected dlkit train "
                        f"options {sorted(recipes.TRAIN_OPTIONS)}" + (
                            f" or {list(EXTRA_SPACE)}" if where == "space" else ""), CMD)
    return recipes.convert_option(name, value, f"config [{where}]", CMD)


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
        options = recipes.TRAIN_OPTIONS
        self.fixed = recipes.train_defaults()
        self.given: set[str] = set()
        for key, value in config.get("train", {}).items():
            self.fixed[key] = _convert(key, value, "train")
            self.given.add(key)
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
        direction = search["direction"] or ("minimize" if lower_is_better(base)
                                            else "maximize")
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
        """The full options of the trial with ``params``, derived defaults filled in."""
        opts = dict(self.fixed)
        for key, value in params.items():
            if key not in EXTRA_SPACE:
                value = _convert(key, value, "space")
            opts[key] = value
        if "layers" in params or "units" in params:
            sizes = recipes.parse_hidden(str(opts["hidden"]), CMD) or [20]
            units = int(params.get("units", sizes[0]))
            layers = int(params.get("layers", len(sizes)))
            opts["hidden"] = ",".join([str(units)] * layers)
        given = self.given | {k for k in params if k not in ("beta", "beta2", "layers",
                                                               "units")}
        if "layers" in params or "units" in params:
            given.add("hidden")
        given -= {"dataset", "test_data", "examples", "noise", "seed", "model"}
        return recipes.resolve_options(opts, given, CMD)

    def data(self, opts: dict[str, Any]) -> Any:
        from dlkit.data.prepare import prepare

        images = opts["model"] in recipes.IMAGE_MODELS
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
        """The function Optuna calls: train one trial's model, return its dev metric."""
        from dlkit.strategy.experiment import ExperimentLogger
        from dlkit.tune import PruningCallback

        def run(params: dict[str, Any], trial: Any) -> float:
            opts = self.options(params)
            prepared = self.data(opts)
            dl.manual_seed(opts["seed"])
            recipe = recipes.classifier(opts, prepared.input_shape, prepared.task,
                                        prepared.n_classes, beta=params.get("beta"),
                                        beta2=params.get("beta2"), command=CMD)
            hparams = {k: opts[k] for k in sorted(opts) if k in params or k in ("model",
                                                                                 "hidden")}
            callbacks = [PruningCallback(trial, self.monitor), *recipe.callbacks,
                         ExperimentLogger(folder / f"trial-{trial.number:04d}",
                                          {**hparams, "trial": trial.number})]
            metrics = ["accuracy"] if self.metric_base in ("loss", "accuracy") else \
                ["accuracy", self.metric_base]
            history = dl.train.fit(recipe.model, recipe.loss, recipe.optimizer,
                                   prepared.X_train, prepared.y_train, epochs=opts["epochs"],
                                   batch_size=opts["batch_size"],
                                   validation_data=(prepared.X_dev, prepared.y_dev),
                                   callbacks=callbacks, metrics=metrics, l2=opts["l2"],
                                   transform=recipe.transform)
            return history[self.monitor][-1]

        return run
