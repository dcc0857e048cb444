"""The dlkit command, as a user runs it: train, evaluate, predict, and bad input."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from dlkit.cli import main


def last_line(out):
    return out.strip().splitlines()[-1]


FLOWER = ("--dataset", "flower", "--model", "mlp")


def train_run(tmp_path, capsys, *args):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--no-progress", *args]) == 0
    return out, capsys.readouterr().out


def test_default_train_is_a_cnn_on_digits_above_97_percent(tmp_path, capsys):
    pytest.importorskip("sklearn")
    folder, out = train_run(tmp_path, capsys)
    assert "digits" in out and "model cnn 8x8x1" in out
    assert float(last_line(out).split()[-1]) >= 0.97
    config = json.loads((folder / "config.json").read_text())
    assert config["images"] and config["input_shape"] == [8, 8, 1]


def test_lenet5_on_upsampled_digits_evaluate_and_predict(tmp_path, capsys):
    pytest.importorskip("sklearn")
    folder, out = train_run(tmp_path, capsys, "--model", "lenet5", "--epochs", "2")
    assert "32x32x1" in out
    assert main(["evaluate", str(folder)]) == 0
    assert "test" in capsys.readouterr().out
    import dlkit as dl

    X, y = dl.data.load_digits(as_images=True)
    np.savez(tmp_path / "few.npz", X=X[:6])
    assert main(["predict", str(folder), "--input", str(tmp_path / "few.npz")]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == 7 and rows[0].startswith("index,class,p0")


def test_image_model_on_feature_vectors_is_a_clear_error(capsys):
    assert main(["train", "--model", "cnn", "--dataset", "flower"]) == 2
    assert "needs images" in capsys.readouterr().err


def test_train_writes_a_run_folder_and_prints_test_accuracy(tmp_path, capsys):
    folder, out = train_run(tmp_path, capsys, *FLOWER, "--epochs", "60")
    assert last_line(out).startswith("test accuracy")
    assert float(last_line(out).split()[-1]) > 0.8
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "history.csv", "metrics.json"} <= names
    pytest.importorskip("matplotlib")
    assert {"curves.png", "decision_boundary.png"} <= names
    with open(folder / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 60 and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == pytest.approx(float(last_line(out).split()[-1]),
                                                        abs=1e-3)


def test_train_is_reproducible_from_the_seed(tmp_path, capsys):
    a = train_run(tmp_path / "a", capsys, *FLOWER, "--epochs", "5", "--seed", "3")[1]
    b = train_run(tmp_path / "b", capsys, *FLOWER, "--epochs", "5", "--seed", "3")[1]
    strip = [line for line in a.splitlines() if "trained" not in line]
    assert strip == [line for line in b.splitlines() if "trained" not in line]


def test_evaluate_rebuilds_the_split_and_matches_training(tmp_path, capsys):
    folder, _ = train_run(tmp_path, capsys, *FLOWER, "--epochs", "20", "--dropout", "0.1",
                          "--batch-norm", "--schedule", "exponential", "--decay-rate", "0.9",
                          "--l2", "0.01", "--early-stopping", "5")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert main(["evaluate", str(folder)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    test_line = next(line for line in lines if line.startswith("test"))
    assert float(test_line.split("accuracy ")[1].split()[0]) == pytest.approx(
        metrics["test"]["accuracy"], abs=1e-4)


def test_multiclass_file_training_evaluate_and_predict(tmp_path, capsys):
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 5)) * 4
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.standard_normal((300, 5))
    np.savez(tmp_path / "blobs.npz", X=X, y=y)
    folder, out = train_run(tmp_path, capsys, "--model", "mlp",
                            "--dataset", str(tmp_path / "blobs.npz"),
                            "--hidden", "16", "--activation", "relu", "--epochs", "30")
    assert "multiclass (3 classes)" in out and float(last_line(out).split()[-1]) > 0.9
    assert (folder / "preprocess.safetensors").exists()  # 5-D inputs are standardized
    np.savez(tmp_path / "new.npz", X=centers)
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(folder), "--input", str(tmp_path / "new.npz"),
                 "--output", str(preds)]) == 0
    with open(preds) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["class"]) for r in rows] == [0, 1, 2]
    assert all(abs(sum(float(r[f"p{k}"]) for k in range(3)) - 1) < 1e-5 for r in rows)
    assert main(["evaluate", str(folder), "--data", str(tmp_path / "blobs.npz")]) == 0
    assert "blobs.npz" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["train", "--model", "mlp", "--hidden", "4,x"], "--hidden"),
    (["train", "--activation", "swish-ish"], "--activation"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--model", "shallow", "--hidden", "3,4"], "one hidden layer"),
    (["train", "--dataset", "no-such-set"], "unknown dataset"),
    (["train", "--dataset", "missing.npz"], "no such file"),
    (["train", "--no-such-option"], "no-such-option"),
    (["evaluate", "no-such-run"], "not found"),
    (["no-such-command"], "no-such-command"),
])
def test_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path, monkeypatch, capsys, args,
                                                         message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_predict_rejects_inputs_of_the_wrong_width(tmp_path, capsys):
    folder, _ = train_run(tmp_path, capsys, *FLOWER, "--epochs", "2")
    np.savez(tmp_path / "wide.npz", X=np.zeros((4, 3)))
    assert main(["predict", str(folder), "--input", str(tmp_path / "wide.npz")]) == 2
    assert "expects 2 features" in capsys.readouterr().err


def test_command_runs_as_a_subprocess(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dlkit.cli", "train", *FLOWER, "--epochs", "2",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "test accuracy" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "dlkit.cli", "train", "--lr", "abc"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_augmentation_options_train_and_are_recorded(tmp_path, capsys):
    pytest.importorskip("sklearn")
    folder, out = train_run(tmp_path, capsys, "--epochs", "2", "--flip", "--crop", "1",
                            "--rotate", "10", "--color-shift", "0.05")
    options = json.loads((folder / "config.json").read_text())["options"]
    assert options["flip"] and options["crop"] == 1 and options["rotate"] == 10
    assert main(["train", *FLOWER, "--flip"]) == 2
    assert "--flip does not apply to --model mlp" in capsys.readouterr().err
