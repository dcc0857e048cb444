"""The ML-strategy commands as a new user tries them (dlkit diagnose, runs, compare, tune),
bad input included: one line on stderr, exit code 2. And the experiment logs they read."""

import json
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import dlkit as dl
from dlkit.cli import main
from dlkit.strategy.diagnose import diagnose_run
from dlkit.strategy.experiment import ExperimentLogger, list_runs, read_run


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def user_error(capsys, args, pattern):
    code, out, err = cli(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory):
    """Two dlkit train runs of the planar flower data, different learning rates."""
    pytest.importorskip("sklearn")
    folder = tmp_path_factory.mktemp("runs")
    for name, lr in (("slow", "0.005"), ("fast", "0.05")):
        assert main(["train", "--dataset", "flower", "--model", "mlp", "--hidden", "8",
                     "--epochs", "15", "--lr", lr, "--out", str(folder / name),
                     "--no-progress"]) == 0
    return folder


CASES = [
    (["--human", "0", "--train", "15%", "--dev", "16%"], "avoidable bias", "bigger network"),
    (["--human", "0", "--train", "1%", "--train-dev", "9%", "--dev", "10%"], "variance",
     "more training data"),
    (["--human", "0", "--train", "0.01", "--train-dev", "0.015", "--dev", "0.1"],
     "data mismatch", "synthesize"),
    (["--human", "1%", "--train", "2%", "--train-dev", "2.5%", "--dev", "3%", "--test", "8%"],
     "overfitting to dev", "bigger dev set"),
]


@pytest.mark.parametrize("args,gap,advice", CASES, ids=[c[1] for c in CASES])
def test_diagnose_from_numbers(capsys, args, gap, advice):
    code, out, _ = cli(capsys, "diagnose", *args)
    assert code == 0
    assert f"largest gap: {gap}" in out and advice in out and "<- largest" in out


def test_diagnose_a_run_folder(capsys, runs_folder, tmp_path):
    run = runs_folder / "slow"
    code, out, _ = cli(capsys, "diagnose", run, "--human", "0.02")
    assert code == 0 and "largest gap:" in out and "training-dev" in out
    metrics = json.loads((run / "metrics.json").read_text())
    code, out, _ = cli(capsys, "diagnose", run, "--json", "--metric", "f1")
    data = json.loads(out)
    assert data["errors"]["dev"] == pytest.approx(1 - metrics["dev"]["f1"])
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    code, out, _ = cli(capsys, "diagnose", run, "--learning-curve", png, "--sizes", "0.5,1.0",
                       "--epochs", "3")
    assert code == 0 and png.stat().st_size > 1000 and "train error" in out


def test_runs_table_sorted_filtered_and_compared(capsys, runs_folder, tmp_path):
    dev = {p.name: json.loads((p / "metrics.json").read_text())["dev"]["loss"]
           for p in runs_folder.iterdir()}
    code, out, _ = cli(capsys, "runs", runs_folder, "--sort", "dev_loss")
    rows = out.strip().splitlines()
    assert code == 0 and rows[0].split()[:2] == ["run", "dev_loss"]
    assert [r.split()[0] for r in rows[1:3]] == sorted(dev, key=dev.get)
    assert "lr" in rows[0] and rows[-1].startswith("2 of 2 runs")
    code, out, _ = cli(capsys, "runs", runs_folder, "--sort", "dev_accuracy", "--satisfice",
                       "seconds<=1000", "--satisfice", "epochs>=15", "--columns",
                       "test_accuracy", "--top", "1")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3 and lines[0].split()[1:3] == ["dev_accuracy",
                                                                       "test_accuracy"]
    code, out, _ = cli(capsys, "runs", runs_folder, "--satisfice", "epochs<3")
    assert code == 0 and "0 of 2 runs (2 fail the thresholds)" in out
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    code, out, _ = cli(capsys, "compare", runs_folder / "slow", runs_folder / "fast", "--out",
                       png)
    assert code == 0 and png.stat().st_size > 1000 and "wrote" in out
    code, out, _ = cli(capsys, "compare", runs_folder, "--out", png, "--metric", "loss")
    assert code == 0 and "(2 runs)" in out


def config(tmp_path, **changes):
    cfg = {"name": "moons",
           "train": {"dataset": "moons", "examples": 200, "model": "mlp", "hidden": "8",
                     "optimizer": "momentum", "epochs": 8, "batch_size": 50},
           "search": {"trials": 3, "metric": "dev_loss", "sampler": "tpe", "seed": 0},
           "space": {"lr": {"type": "log", "low": 1e-3, "high": 3},
                     "beta": {"type": "one_minus_log", "low": 0.8, "high": 0.99},
                     "units": {"type": "int", "low": 2, "high": 16},
                     "activation": ["relu", "tanh"]}}
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            cfg[section][name] = value
        else:
            cfg[section] = value
    path = tmp_path / "tune.json"
    path.write_text(json.dumps(cfg))
    return path


def test_tune_resumes_lists_trials_and_narrows(capsys, tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("sklearn")
    path, out_dir = config(tmp_path), tmp_path / "study"
    code, out, _ = cli(capsys, "tune", path, "--out", out_dir)
    assert code == 0 and "0 of 3 trials done" in out and "best: trial" in out
    best = json.loads((out_dir / "best.json").read_text())
    assert best["metric"] == "dev_loss" and set(best["params"]) == {"lr", "beta", "units",
                                                                     "activation"}
    assert 0.8 <= best["params"]["beta"] <= 0.99
    code, out, _ = cli(capsys, "tune", path, "--out", out_dir, "--trials", "5",
                       "--fine-trials", "2")
    assert code == 0 and "3 of 5 trials done" in out and "coarse to fine" in out
    assert sorted(p.name for p in out_dir.glob("trial-*")) == [f"trial-{i:04d}"
                                                               for i in range(5)]
    assert (out_dir / "best-fine.json").is_file() and len(list(out_dir.glob("fine/trial-*")))
    code, out, _ = cli(capsys, "runs", out_dir, "--sort", "dev_loss")
    assert code == 0 and "trial-0000" in out and "units" in out
    toml = tmp_path / "tune.toml"
    toml.write_text('[train]\ndataset = "moons"\nexamples = 200\nmodel = "logreg"\n'
                    'epochs = 3\n[search]\ntrials = 2\nmetric = "dev_accuracy"\n'
                    'sampler = "random"\n[space]\nlr = {type = "log", low = 1e-3, high = 1}\n')
    code, out, _ = cli(capsys, "tune", toml, "--out", tmp_path / "t2")
    assert code == 0 and "maximize dev_accuracy" in out


@pytest.fixture
def bad_configs(tmp_path):
    files = {}

    def put(name, text):
        files[name] = tmp_path / name
        files[name].write_text(text)

    put("broken.json", '{"train": {"dataset": "moons",}')
    put("broken.toml", "[train\ndataset = 1")
    put("config.yaml", "train: {}")
    put("list.json", "[1, 2]")
    for name, change in (("section", {"extra": {"x": 1}}),
                         ("option", {"train": {"datasett": "moons"}}),
                         ("value", {"train": {"model": "transformer"}}),
                         ("type", {"space": {"lr": {"type": "exp", "low": 1, "high": 2}}}),
                         ("space_key", {"space": {"lrr": [0.1, 0.2]}}),
                         ("empty_space", {"space": {}}),
                         ("metric", {"search__metric": "dev_auc-ish"}),
                         ("test_metric", {"search__metric": "test_accuracy"}),
                         ("search_type", {"search__trials": "many"}),
                         ("search_key", {"search__trails": 3})):
        (tmp_path / name).mkdir()
        files[name] = config(tmp_path / name, **change)
    return files


BAD = [
    (["diagnose", "missing-run"], r"dlkit diagnose: error: run folder 'missing-run' not found"),
    (["diagnose", "{run}", "--metric", "auc-ish"], r"unknown metric 'auc-ish'"),
    (["diagnose"], r"give a RUN folder, or the errors"),
    (["diagnose", "--train", "8"], r"--train: an error is a fraction in \[0, 1\]"),
    (["diagnose", "--train", "low"], r"--train: expected an error like 0.08 or 8%"),
    (["diagnose", "{run}", "--dev", "0.1"], r"not both"),
    (["diagnose", "--train", "0.1", "--learning-curve", "c.png"], r"needs a RUN folder"),
    (["runs", "missing-folder"], r"dlkit runs: error: folder 'missing-folder' not found"),
    (["runs", "{runs}", "--sort", "dev_acc"], r"unknown metric 'dev_acc' for --sort"),
    (["runs", "{runs}", "--satisfice", "seconds<<3"], r"--satisfice: expected METRIC<=VALUE"),
    (["runs", "{runs}", "--satisfice", "speed>3"], r"--satisfice: unknown metric 'speed'"),
    (["runs", "{runs}", "--columns", "dev_f2"], r"--columns: unknown metric"),
    (["runs", "{empty}"], r"no runs in"),
    (["compare", "missing-run"], r"dlkit compare: error: folder 'missing-run' not found"),
    (["compare", "{run}", "--metric", "nope", "--out", "{empty}/c.png"], r"unknown metric"),
    (["tune", "missing.json"], r"dlkit tune: error: no such config file: 'missing.json'"),
    (["tune", "{broken.json}"], r"is not valid JSON"),
    (["tune", "{broken.toml}"], r"is not valid TOML"),
    (["tune", "{config.yaml}"], r"expected a \.json or \.toml config"),
    (["tune", "{list.json}"], r"expected a table"),
    (["tune", "{section}"], r"unknown key\(s\) \['extra'\]"),
    (["tune", "{option}"], r"\[train\]: unknown option 'datasett'"),
    (["tune", "{value}"], r"\[train\] model: expected one of \[.*\], got 'transformer'"),
    (["tune", "{type}"], r"\[space\] space: 'lr' has type 'exp'"),
    (["tune", "{space_key}"], r"\[space\]: unknown option 'lrr'"),
    (["tune", "{empty_space}"], r"\[space\] is empty"),
    (["tune", "{metric}"], r"unknown metric 'dev_auc-ish'"),
    (["tune", "{test_metric}"], r"unknown metric 'test_accuracy': tune optimizes a dev-set"),
    (["tune", "{search_type}"], r"\[search\] trials: expected int, got 'many'"),
    (["tune", "{search_key}"], r"\[search\]: unknown key 'trails'"),
]


@pytest.mark.parametrize("args,pattern", BAD, ids=[" ".join(a[:2]) + f" {i}"
                                                   for i, (a, _) in enumerate(BAD)])
def test_bad_input_is_one_line_and_exit_2(capsys, runs_folder, bad_configs, tmp_path, args,
                                          pattern):
    (tmp_path / "nothing").mkdir()
    names = {"run": runs_folder / "slow", "runs": runs_folder, "empty": tmp_path / "nothing",
             **bad_configs}
    filled = [re.sub(r"\{([^}]+)\}", lambda m: str(names[m.group(1)]), a) for a in args]
    user_error(capsys, filled, pattern)


def test_a_real_process_prints_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dlkit.cli", "runs", str(tmp_path / "x"),
                           "--sort", "dev_accuracy"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"dlkit runs: error: folder {str(tmp_path / 'x')!r} not found"


# -- experiment logs ---------------------------------------------------------------------------

def read_events(path):
    """Scalars (tag, step, value) of a TensorBoard event file (TFRecord of Event protos)."""
    from tensorboardX.proto import event_pb2

    data, i, out = path.read_bytes(), 0, []
    while i < len(data):
        (n,) = struct.unpack("<Q", data[i:i + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[i + 12:i + 12 + n])
        i += 12 + n + 4
        out.extend((v.tag, event.step, v.simple_value) for v in event.summary.value
                   if v.HasField("simple_value"))
    return out


def train_logged(folder, epochs=4, tensorboard=False, append=False, initial_epoch=0):
    dl.manual_seed(0)
    X, y = dl.data.make_flower(120)
    model = dl.models.mlp(2, [6], 1)
    logger = ExperimentLogger(folder, {"lr": 0.02, "hidden": [6], "note": "flower"},
                              tensorboard=tensorboard, append=append)
    history = dl.train.fit(model, "bce_logits", dl.optim.Adam(model.parameters(), 0.02), X, y,
                           epochs=epochs, validation_data=(X[:40], y[:40]),
                           callbacks=[logger], initial_epoch=initial_epoch)
    return history


def test_experiment_logger_writes_a_run_folder(tmp_path):
    folder = tmp_path / "exp"
    history = train_logged(folder)
    names = {p.name for p in folder.iterdir()}
    assert {"hparams.json", "history.csv", "history.jsonl", "result.json"} <= names
    hparams = json.loads((folder / "hparams.json").read_text())
    assert hparams["hparams"]["lr"] == 0.02 and hparams["optimizer"]["name"] == "Adam"
    assert hparams["optimizer"]["beta2"] == 0.999 and hparams["model"]["parameters"] == 25
    lines = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in lines] == [0, 1, 2, 3]
    assert lines[-1]["val_loss"] == pytest.approx(history["val_loss"][-1])
    result = json.loads((folder / "result.json").read_text())
    assert result["epochs"] == 4 and result["metrics"]["dev_loss"] == pytest.approx(
        history["val_loss"][-1])
    best = int(np.argmin(history["val_loss"]))
    assert result["best"]["val_loss"] == {"value": pytest.approx(min(history["val_loss"])),
                                          "epoch": best}
    record = read_run(folder)
    assert record.hparams["note"] == "flower" and record.metrics["train_loss"] == \
        pytest.approx(history["loss"][-1])
    assert len(record.history()) == 4
    assert diagnose_run(folder).errors["dev"] == pytest.approx(1 - history["val_accuracy"][-1])
    train_logged(folder, epochs=6, append=True, initial_epoch=4)  # a resumed run continues
    assert len(dl.train.History.from_csv(folder / "history.csv")) == 6
    assert len((folder / "history.jsonl").read_text().splitlines()) == 6
    assert [r.name for r in list_runs(tmp_path)] == ["exp"]


def test_tensorboard_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    folder = tmp_path / "tb"
    history = train_logged(folder, epochs=3, tensorboard=True)
    train_events = list((folder / "tensorboard" / "train").glob("events.out.tfevents.*"))
    dev_events = list((folder / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    assert train_events and dev_events
    scalars = read_events(train_events[0])
    losses = [v for tag, _, v in sorted(scalars, key=lambda s: s[1]) if tag == "epoch_loss"]
    np.testing.assert_allclose(losses, history["loss"], rtol=1e-6)
    dev = [(step, v) for tag, step, v in read_events(dev_events[0]) if tag == "epoch_loss"]
    assert [s for s, _ in dev] == [0, 1, 2]
    assert np.isclose(dev[-1][1], history["val_loss"][-1], rtol=1e-6)
    assert any(p.is_dir() for p in (folder / "tensorboard" / "train").iterdir())  # hparams
