"""Hyperparameter search (course 2, week 3) on Optuna (the optional ``tune`` extra): search
spaces on the notes' scales, random search and a model-based sampler (TPE), coarse-to-fine
narrowing, pruning of bad trials from inside ``fit``, and studies kept in SQLite (resumable)
or PostgreSQL (several workers share one study).

    import dlkit.tune as tune

    space = tune.SearchSpace(lr=tune.LogUniform(1e-4, 1), beta=tune.OneMinusLog(0.9, 0.999),
                             units=tune.Int(4, 64, log=True))

    def objective(params, trial):
        model = dl.models.mlp(2, [params["units"]], 1)
        opt = dl.optim.Momentum(model.parameters(), lr=params["lr"], beta=params["beta"])
        history = dl.train.fit(model, "bce_logits", opt, X, y, epochs=50,
                               validation_data=(X_dev, y_dev),
                               callbacks=[tune.PruningCallback(trial, "val_loss")])
        return history["val_loss"][-1]

    study = tune.search(objective, space, n_trials=30, direction="minimize",
                        folder="runs/tune-moons")            # SQLite: rerun to resume
    finer = tune.narrow(study, space, top=0.2)               # coarse to fine
    study2 = tune.search(objective, finer, 20, direction="minimize",
                         folder="runs/tune-moons", study_name="fine")

``dlkit.tune.workers`` runs worker processes that end with their parent (``run_workers``,
``worker_guard``): a stopped or orphaned worker marks its trial failed, and the next run of
the search queues it again.

Importing this package does not import Optuna; searching does.
"""

from dlkit.tune.narrow import narrow, top_trials
from dlkit.tune.pruning import PruningCallback
from dlkit.tune.search import (
    PRUNERS,
    SAMPLERS,
    best_params,
    finished,
    make_pruner,
    make_sampler,
    make_storage,
    open_study,
    requeue_interrupted,
    search,
    storage_url,
    trials_table,
)
from dlkit.tune.space import (
    Categorical,
    Fixed,
    Int,
    LogUniform,
    OneMinusLog,
    Param,
    SearchSpace,
    Uniform,
    param_from_config,
)

__all__ = [
    "PRUNERS", "SAMPLERS", "Categorical", "Fixed", "Int", "LogUniform", "OneMinusLog", "Param",
    "PruningCallback", "SearchSpace", "Uniform", "best_params", "finished", "make_pruner",
    "make_sampler", "make_storage", "narrow", "open_study", "param_from_config",
    "requeue_interrupted", "search", "storage_url", "top_trials", "trials_table",
]
