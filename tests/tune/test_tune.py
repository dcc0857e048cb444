"""Hyperparameter search (course 2, week 3) on Optuna: the notes' scales, random search vs a
model-based sampler on a real small network, pruning from inside fit, coarse to fine, and a
search that resumes after its process is killed without repeating finished trials."""

import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlkit as dl

optuna = pytest.importorskip("optuna")
tune = pytest.importorskip("dlkit.tune")

optuna.logging.set_verbosity(optuna.logging.WARNING)


def draw(space, n, seed=0):
    """n random draws of the space through Optuna's RandomSampler."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial))
        study.tell(trial, 0.0)
    return out, study


def test_the_notes_scales():
    space = tune.SearchSpace(lr=tune.LogUniform(1e-4, 1), beta=tune.OneMinusLog(0.9, 0.999),
                             units=tune.Int(50, 100), layers=tune.Int(2, 4),
                             width=tune.Int(4, 256, log=True), act=["relu", "tanh"],
                             keep=tune.Uniform(0.5, 1.0), batch=64)
    draws, study = draw(space, 800)
    lr = np.array([d["lr"] for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 1
    # log scale: as many draws in 1e-4..1e-3 as in 0.1..1 (a uniform scale would put 90% there)
    per_decade = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1, 0])[0] / len(lr)
    np.testing.assert_allclose(per_decade, 0.25, atol=0.05)
    beta = np.array([d["beta"] for d in draws])
    assert beta.min() >= 0.9 and beta.max() <= 0.999
    # beta = 1 - 10^r: half the draws in 0.9..0.99, half in 0.99..0.999 (averaging over
    # 10..100 values vs 100..1000), not 90% below 0.99
    assert abs(np.mean(beta < 0.99) - 0.5) < 0.06
    assert {d["layers"] for d in draws} == {2, 3, 4}
    assert all(isinstance(d["units"], int) and 50 <= d["units"] <= 100 for d in draws)
    widths = np.array([d["width"] for d in draws])
    assert abs(np.mean(widths < 32) - 0.5) < 0.06  # 4..32 and 32..256 equally likely
    assert {d["act"] for d in draws} == {"relu", "tanh"} and {d["batch"] for d in draws} == {64}
    # Optuna stores 1 - beta; decode gives beta back
    t = study.trials[0]
    assert "1-beta" in t.params and space.decode(t.params)["beta"] == pytest.approx(
        draws[0]["beta"])


def test_space_from_config_and_its_errors():
    space = tune.SearchSpace.from_config({
        "lr": {"type": "log", "low": 1e-4, "high": 1}, "beta": {"type": "beta", "low": 0.9,
                                                               "high": 0.999},
        "units": {"type": "int", "low": 4, "high": 64, "log": True},
        "act": ["relu", "tanh"], "epochs": 10})
    assert isinstance(space["beta"], tune.OneMinusLog) and isinstance(space["epochs"],
                                                                       tune.Fixed)
    assert tune.SearchSpace.from_config(space.to_config()).to_config() == space.to_config()
    for spec, match in (({"type": "exp", "low": 1, "high": 2}, "has type 'exp'"),
                        ({"type": "log", "low": 0, "high": 1}, "log scale needs low > 0"),
                        ({"type": "log", "low": 1e-4}, "missing \\['high'\\]"),
                        ({"type": "int", "low": 1, "high": 5, "scale": 2}, "unknown"),
                        ({"type": "one_minus_log", "low": 0.9, "high": 1.0}, "< 1"),
                        ({"type": "uniform", "low": 2, "high": 1}, "low < high")):
        with pytest.raises(ValueError, match=match):
            tune.SearchSpace.from_config({"x": spec})


# -- a small network whose learning rate matters -------------------------------------------

def moons():
    dl.manual_seed(0)
    X, y = dl.data.make_moons(m=300, noise=0.2)
    return dl.data.train_dev_split(X, y, dev=0.3)


def make_objective(data, epochs=25, monitor="val_loss"):
    X_train, X_dev, y_train, y_dev = data

    def objective(params, trial):
        dl.manual_seed(0)
        model = dl.models.mlp(2, [8], 1, "tanh")
        opt = dl.optim.SGD(model.parameters(), lr=params["lr"])
        history = dl.train.fit(model, "bce_logits", opt, X_train, y_train, epochs=epochs,
                               batch_size=64, validation_data=(X_dev, y_dev), metrics=(),
                               callbacks=[tune.PruningCallback(trial, monitor)])
        return history[monitor][-1]

    return objective


def test_tpe_finds_a_good_learning_rate_better_than_the_median_random_trial():
    objective = make_objective(moons())
    space = tune.SearchSpace(lr=tune.LogUniform(1e-4, 10))
    random = tune.search(objective, space, 12, direction="minimize", sampler="random",
                         pruner="none", seed=3)
    values = [t.value for t in random.trials]
    assert len(values) == 12 and len({t.number for t in random.trials}) == 12
    tpe = tune.search(objective, space, 12, direction="minimize", sampler="tpe", seed=3,
                      n_startup_trials=5, pruner="none")
    assert tpe.best_value < np.median(values)
    # plain gradient descent on this network wants a large step: 0.1 .. 10
    assert tune.best_params(tpe, space)["lr"] > 0.05
    assert "lr=" in tune.trials_table(tpe, space)


def test_bad_trials_are_pruned_from_inside_fit(tmp_path):
    objective = make_objective(moons(), epochs=20)
    space = tune.SearchSpace(lr=tune.LogUniform(1e-5, 10))
    study = tune.search(objective, space, 14, direction="minimize", sampler="random", seed=0,
                        pruner=tune.make_pruner("median", n_startup_trials=4,
                                                n_warmup_steps=3))
    states = [t.state for t in study.trials]
    TrialState = optuna.trial.TrialState
    assert states.count(TrialState.PRUNED) >= 1 and TrialState.FAIL not in states
    for t in study.trials:
        if t.state == TrialState.PRUNED:
            assert 3 <= t.last_step < 19  # stopped early, after the warm-up
            assert t.user_attrs["params"]["lr"] < 0.1  # the slow learners


class FakeTrial:
    def __init__(self, prune_at):
        self.prune_at, self.reported = prune_at, []

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return len(self.reported) > self.prune_at


def test_pruning_callback_stops_fit_and_lets_other_callbacks_finish(tmp_path):
    X_train, X_dev, y_train, y_dev = moons()
    model = dl.models.mlp(2, [4], 1)
    trial = FakeTrial(prune_at=2)
    log = dl.train.CSVLogger(tmp_path / "h.csv")
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2: val_loss"):
        dl.train.fit(model, "bce_logits", dl.optim.Adam(model.parameters()), X_train, y_train,
                     epochs=10, validation_data=(X_dev, y_dev),
                     callbacks=[tune.PruningCallback(trial, "val_loss"), log])
    assert [s for s, _ in trial.reported] == [0, 1, 2]
    assert log._file is None  # closed by its on_train_end before the trial was pruned
    assert len(dl.train.History.from_csv(tmp_path / "h.csv")) == 3
    with pytest.raises(KeyError, match="pass validation_data"):
        dl.train.fit(model, "bce_logits", dl.optim.Adam(model.parameters()), X_train, y_train,
                     epochs=1, callbacks=[tune.PruningCallback(FakeTrial(5), "val_loss")])


def test_coarse_to_fine_narrows_around_the_best_trials():
    space = tune.SearchSpace(lr=tune.LogUniform(1e-6, 1), beta=tune.OneMinusLog(0.8, 0.9999),
                             units=tune.Int(1, 512, log=True), act=["relu", "tanh", "sigmoid"],
                             epochs=10)

    def objective(p, trial):  # best near lr = 1e-3, beta = 0.99, units = 64, relu or tanh
        return ((math.log10(p["lr"]) + 3) ** 2 + (math.log10(1 - p["beta"]) + 2) ** 2 +
                (math.log2(p["units"]) - 6) ** 2 / 4 + (p["act"] == "sigmoid") * 5)

    study = tune.search(objective, space, 60, direction="minimize", sampler="random",
                        pruner="none", seed=0)
    fine = tune.narrow(study, space, top=0.1, margin=0.25)
    lr, beta, units = fine["lr"], fine["beta"], fine["units"]
    assert lr.low < 1e-3 < lr.high and math.log10(lr.high / lr.low) < 0.7 * 6
    assert beta.low < 0.99 < beta.high and 0.8 <= beta.low and beta.high <= 0.9999
    assert units.low <= 64 <= units.high and units.high / units.low < 512
    assert "sigmoid" not in fine["act"].choices and fine["epochs"].value == 10
    second = tune.search(objective, fine, 20, direction="minimize", sampler="random",
                         pruner="none", seed=1, study_name="fine")
    inside = [t.user_attrs["params"]["lr"] for t in second.trials]
    assert all(lr.low <= v <= lr.high for v in inside)
    with pytest.raises(ValueError, match="no complete trials"):
        tune.narrow(optuna.create_study(), space)


OBJECTIVE_MODULE = textwrap.dedent('''
    import math, os, signal
    import dlkit.tune as tune

    SPACE = tune.SearchSpace(lr=tune.LogUniform(1e-4, 1), units=tune.Int(2, 64))
    CALLS = []

    def objective(params, trial):
        if trial.number == int(os.environ.get("KILL_AT", "-1")):
            os.kill(os.getpid(), signal.SIGKILL)   # the machine goes down mid-trial
        CALLS.append((trial.number, params))
        return (math.log10(params["lr"]) + 2) ** 2 + params["units"] / 100
''')


def test_search_resumes_after_being_killed_without_repeating_trials(tmp_path, monkeypatch):
    (tmp_path / "objective_mod.py").write_text(OBJECTIVE_MODULE)
    folder = tmp_path / "study"
    code = ("import objective_mod as m, dlkit.tune as tune; "
            f"tune.search(m.objective, m.SPACE, 8, direction='minimize', folder={str(folder)!r},"
            " sampler='tpe', seed=0)")
    env = {**os.environ, "KILL_AT": "3", "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (folder / "study.db").is_file()
    monkeypatch.syspath_prepend(str(tmp_path))
    import objective_mod as m

    before = optuna.load_study(study_name="dlkit", storage=tune.storage_url(folder=folder))
    TrialState = optuna.trial.TrialState
    first = {t.number: (t.value, t.params) for t in before.trials
             if t.state == TrialState.COMPLETE}
    assert sorted(first) == [0, 1, 2]
    killed = before.trials[3]
    assert killed.state == TrialState.RUNNING  # left behind by the killed process
    study = tune.search(m.objective, m.SPACE, 8, direction="minimize", folder=folder,
                        sampler="tpe", seed=0)
    trials = study.trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 8 and len({t.number for t in trials}) == len(trials)
    assert len(m.CALLS) == 5  # the interrupted trial again, then 4 new ones; 0-2 not repeated
    assert [p for _, p in m.CALLS].count(m.CALLS[0][1]) == 1
    assert trials[3].state == TrialState.FAIL and trials[3].user_attrs["interrupted"]
    retry = trials[4]
    assert retry.params == killed.params and retry.user_attrs["retry_of"] == 3
    for number, (value, params) in first.items():  # finished trials kept as they were
        assert trials[number].value == value and trials[number].params == params
    m.CALLS.clear()
    tune.search(m.objective, m.SPACE, 8, direction="minimize", folder=folder)
    assert m.CALLS == []  # nothing left to do
    tune.search(m.objective, m.SPACE, 10, direction="minimize", folder=folder)
    assert len(m.CALLS) == 2  # asking for more trials runs only the difference


def test_storage_urls(tmp_path):
    assert tune.storage_url() is None
    assert tune.storage_url(folder=tmp_path / "a") == \
        f"sqlite:///{(tmp_path / 'a' / 'study.db').resolve()}"
    assert tune.storage_url(tmp_path / "x.db").startswith("sqlite:///")
    url = "postgresql://me@127.0.0.1:5432/db"
    assert tune.storage_url(url, folder=tmp_path) == url
    with pytest.raises(ValueError, match="unknown sampler 'grid'"):
        tune.make_sampler("grid")
    with pytest.raises(ValueError, match="unknown pruner"):
        tune.make_pruner("always")
