"""dlkit train as users meet it (issue 19): the README's commands build what the README says,
divergence stops with one line, run folders are self-contained and verified, a killed run
resumes to the same weights, and bad input never shows a traceback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dlkit as dl
from dlkit.cli import main

README = Path(__file__).parents[2] / "README.md"

# every `dlkit train` command of the README, scaled down, and the model it must build
README_TRAIN = {
    "dlkit train": ("cnn", []),
    "dlkit train --dataset flower --model mlp": ("mlp", []),
    "dlkit train --model lenet5 --epochs 5": ("lenet5", ["--epochs", "1"]),
    "dlkit train --dataset moons --hidden 20,7,5 --activation relu --optimizer momentum "
    "--lr 0.05 --schedule inverse-time --decay-rate 0.01 --l2 0.1 --dropout 0.1 --epochs 300":
        ("mlp", ["--epochs", "3"]),
    "dlkit train --dataset digits --hidden 64 --activation relu --batch-norm "
    "--early-stopping 10": ("mlp", ["--epochs", "3"]),
}


def _readme_train_commands() -> list[str]:
    text = README.read_text()
    commands, current = [], ""
    for line in text.splitlines():
        line = line.split("#")[0].rstrip()
        if current:
            current += " " + line.strip().rstrip("\\").strip()
            if not line.endswith("\\"):
                commands.append(current)
                current = ""
        elif line.startswith("dlkit train") and "--task" not in line and \
                "--resume" not in line and ".h5" not in line and "--data " not in line:
            if line.endswith("\\"):
                current = line.rstrip("\\").strip()
            else:
                commands.append(line.strip())
    return [re.sub(r"\s+", " ", c) for c in commands]


def test_the_readme_lists_no_train_command_this_test_does_not_run():
    """(Commands on the course's .h5 files, an image folder, --resume and --task have tests of
    their own, on files the tests write.)"""
    assert set(_readme_train_commands()) <= set(README_TRAIN), \
        set(_readme_train_commands()) - set(README_TRAIN)


@pytest.mark.parametrize("command", list(README_TRAIN))
def test_readme_train_commands_build_the_model_the_readme_says(command, tmp_path, capsys):
    pytest.importorskip("sklearn")
    kind, scale = README_TRAIN[command]
    args = command.split()[2:]
    # scaled down: the last --epochs wins
    code = main(["train", *args, *scale, "--out", str(tmp_path / "run"), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == kind and config["status"] == "complete"
    built = config["model_config"]
    if kind == "mlp":
        assert built["class"] == "Sequential"
        sizes = [layer["config"]["n_out"] for layer in built["config"]["layers"]
                 if layer["class"] == "Linear"]
        if "--hidden" in args:
            hidden = [int(s) for s in args[args.index("--hidden") + 1].split(",")]
            assert sizes[:-1] == hidden
    assert f"model {kind}" in out


def test_divergence_stops_with_one_line_and_keeps_the_last_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--dataset", "moons", "--hidden", "8", "--activation", "relu",
                 "--lr", "1e30", "--optimizer", "sgd", "--epochs", "20", "--checkpoint-every",
                 "1", "--out", str(run), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(r"^dlkit train: error: the loss became (nan|inf) at epoch \d+, batch \d+: "
                     r"training diverged; the likely cause is --lr \(1e\+30\)", err)
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "failed" and not (run / "model.safetensors").exists()
    if (run / "checkpoint.safetensors").exists():   # the last finite epoch, if there was one
        state = dl.io.read_checkpoint(run / "checkpoint.safetensors")
        assert all(np.isfinite(v).all() for v in state["model"].values())
    assert main(["evaluate", str(run)]) == 2
    assert "unfinished (status 'failed')" in capsys.readouterr().err


def test_non_finite_data_is_an_error_naming_the_rows(tmp_path, capsys):
    X = np.random.default_rng(0).normal(size=(40, 3))
    X[7, 1], X[21, 0] = np.nan, np.inf
    np.savez(tmp_path / "bad.npz", X=X, y=(X[:, 0] > 0).astype(int))
    assert main(["train", "--dataset", str(tmp_path / "bad.npz"), "--out",
                 str(tmp_path / "r")]) == 2
    assert "non-finite values (NaN or inf) in 2 row(s): 7, 21" in capsys.readouterr().err


@pytest.fixture
def flower_file(tmp_path):
    X, y = dl.data.make_flower(200)
    path = tmp_path / "flower.npz"
    np.savez(path, X=X, y=y)
    return path


def _train(tmp_path, data, name="run", *extra):
    run = tmp_path / name
    code = main(["train", "--dataset", str(data), "--hidden", "6", "--epochs", "30",
                 "--standardize", "--out", str(run), "--no-progress", *extra])
    assert code == 0
    return run


def test_run_folder_records_the_data_and_evaluates_from_anywhere(tmp_path, capsys,
                                                                 flower_file, monkeypatch):
    run = _train(tmp_path, flower_file)
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["path"] == str(flower_file.resolve())
    assert len(config["data"]["sha256"]) == 64 and config["standardized"]
    capsys.readouterr()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(run)]) == 0
    assert "test" in capsys.readouterr().out
    # the rows reordered: the split would differ, so evaluate says the data changed
    with np.load(flower_file) as f:
        X, y = f["X"], f["y"]
    order = np.random.default_rng(1).permutation(len(X))
    np.savez(flower_file, X=X[order], y=y[order])
    assert main(["evaluate", str(run)]) == 2
    assert "the data of this run changed since training" in capsys.readouterr().err


def test_a_missing_preprocess_file_is_an_error_not_silently_unscaled(tmp_path, capsys,
                                                                    flower_file):
    run = _train(tmp_path, flower_file)
    np.savez(tmp_path / "new.npz", X=np.zeros((3, 2)))
    (run / "preprocess.safetensors").unlink()
    assert main(["predict", str(run), "--input", str(tmp_path / "new.npz")]) == 2
    assert "lacks preprocess.safetensors" in capsys.readouterr().err


def test_out_onto_an_existing_run_needs_overwrite(tmp_path, capsys, flower_file):
    run = _train(tmp_path, flower_file)
    assert main(["train", "--dataset", str(flower_file), "--out", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    _train(tmp_path, flower_file, "run", "--overwrite")
    (tmp_path / "file").write_text("x")
    assert main(["train", "--dataset", "flower", "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def _weights(run):
    model = dl.io.load(run / "model.safetensors")
    return model.state_dict()


def test_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path, capsys):
    args = ["train", "--dataset", "moons", "--examples", "4000", "--hidden", "16,16",
            "--batch-size", "8", "--epochs", "40", "--checkpoint-every", "1", "--no-progress"]
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "dlkit.cli", *args, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    ckpt = killed / "checkpoint.safetensors"
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and dl.io.read_checkpoint(ckpt)["epoch"] >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((killed / "config.json").read_text())["status"] == "running"
    capsys.readouterr()
    assert main(["runs", str(tmp_path)]) == 0
    assert re.search(r"killed\s+running", capsys.readouterr().out)
    assert main(["evaluate", str(killed)]) == 2
    assert "dlkit train --resume continues it" in capsys.readouterr().err
    assert main(["train", "--resume", str(killed), "--lr", "0.5"]) == 2
    assert "--lr cannot be changed" in capsys.readouterr().err
    assert main(["train", "--resume", str(killed), "--no-progress"]) == 0
    assert "resuming after epoch" in capsys.readouterr().out
    a, b = _weights(whole), _weights(killed)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    history = (killed / "history.csv").read_text().splitlines()
    assert len(history) == 41 and [int(r.split(",")[0]) for r in history[1:]] == list(range(40))


def test_bad_input_never_shows_a_traceback(tmp_path, capsys, flower_file):
    run = _train(tmp_path, flower_file)
    (tmp_path / "empty_config").mkdir()
    (tmp_path / "empty_config" / "config.json").write_text("{}")
    (tmp_path / "empty_config" / "model.safetensors").write_bytes(b"")
    broken = tmp_path / "runs" / "broken"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("[1, 2]")
    good = tmp_path / "runs" / "good"
    good.mkdir()
    (good / "metrics.json").write_text(json.dumps({"dev": {"accuracy": 0.9}}))
    np.savez(tmp_path / "x.npz", X=np.zeros((2, 2)))
    cases = [
        (["evaluate", str(tmp_path / "empty_config")], "lacks ['options', 'task', 'loss']"),
        (["predict", str(run), "--input", str(tmp_path / "x.npz"), "--output",
          str(tmp_path)], "is a folder; name a CSV file"),
        (["train", "--resume", str(tmp_path / "nowhere")], "not found"),
        (["train", "--model", "cnn", "--hidden", "5"], "--hidden does not apply to --model cnn"),
        (["train", "--dataset", "moons", "--flip"], "--flip does not apply to --model mlp"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["runs", str(tmp_path / "runs")]) == 0
    out, err = capsys.readouterr()
    assert "good" in out and "warning: skipped" in err and "broken" in err


def test_killed_charlm_resumes_to_the_same_weights(tmp_path, capsys):
    args = ["charlm", "--embed-dim", "8", "--hidden", "16", "--epochs", "12", "--batch-size",
            "8", "--sample-every", "0", "--no-progress"]
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "dlkit.cli", *args, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, ckpt = time.time() + 120, killed / "checkpoint.safetensors"
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and dl.io.read_checkpoint(ckpt)["epoch"] >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    capsys.readouterr()
    assert main(["charlm", "--resume", str(killed), "--no-progress"]) == 0
    assert "resuming after epoch" in capsys.readouterr().out
    a, b = _weights(whole), _weights(killed)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert json.loads((killed / "config.json").read_text())["status"] == "complete"


def test_train_and_evaluate_on_a_folder_of_images_with_worker_processes(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for name, channel in (("red", 0), ("blue", 2)):
        (root / name).mkdir(parents=True)
        for i in range(24):
            img = rng.integers(0, 60, size=(20, 20, 3), dtype=np.uint8)
            img[..., channel] = rng.integers(150, 255, size=(20, 20), dtype=np.uint8)
            Image.fromarray(img).save(root / name / f"{i}.png")
    run = tmp_path / "run"
    code = main(["train", "--data", str(root), "--image-size", "16", "--epochs", "4",
                 "--data-workers", "2", "--flip", "--out", str(run), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "cnn" and config["classes"] == ["blue", "red"]
    assert config["input_shape"] == [16, 16, 3] and config["data"]["path"] == str(root.resolve())
    assert float(last_line := out.strip().splitlines()[-1].split()[-1]) >= 0.9, last_line
    assert main(["evaluate", str(run)]) == 0
    assert "test" in capsys.readouterr().out
    (root / "red" / "0.png").unlink()
    assert main(["evaluate", str(run)]) == 2
    assert "changed since training" in capsys.readouterr().err
    assert main(["train", "--data", str(root), "--model", "mlp", "--out",
                 str(tmp_path / "r2")]) == 2
    assert "is a folder of images: use a convolutional --model" in capsys.readouterr().err


def test_train_task_sentiment_runs_the_emojify_lstm(tmp_path, capsys):
    assert main(["train", "--task", "sentiment", "--epochs", "1", "--out",
                 str(tmp_path / "s"), "--no-progress"]) == 0
    assert "model 2 (LSTM)" in capsys.readouterr().out
    assert (tmp_path / "s" / "model.safetensors").exists()
    assert main(["train", "--task", "sentiment", "--hidden", "5"]) == 2
    assert "--hidden does not apply to --task sentiment" in capsys.readouterr().err


@pytest.mark.parametrize("labels,message", [
    ([1, 2], "suggest|LabelEncoder|encod"),
    ([0, 1000000], "LabelEncoder|encod"),
    ([3], "single class|one class|1 class"),
])
def test_labels_are_checked_before_training(tmp_path, capsys, labels, message):
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.resize(np.array(labels), 40)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert main(["train", "--dataset", str(tmp_path / "d.npz"), "--out",
                 str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err, re.IGNORECASE), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_test_data_and_evaluate_data_with_classes_the_run_never_saw(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    np.savez(tmp_path / "train.npz", X=X, y=(X[:, 0] > 0).astype(int))
    np.savez(tmp_path / "three.npz", X=X[:9], y=np.arange(9) % 3)
    assert main(["train", "--dataset", str(tmp_path / "train.npz"), "--test-data",
                 str(tmp_path / "three.npz"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "trained for 2 classes" in err and "reshape" not in err
    run = _train(tmp_path, tmp_path / "train.npz", "ok")
    assert main(["evaluate", str(run), "--data", str(tmp_path / "three.npz")]) == 2
    err = capsys.readouterr().err
    assert "trained for 2 classes (binary" in err and "reshape" not in err
