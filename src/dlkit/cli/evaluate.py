"""``dlkit evaluate`` and ``dlkit predict``: use the model of a run folder."""

from __future__ import annotations

import csv
from pathlib import Path

import click
import numpy as np

import dlkit as dl
from dlkit import recipes
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.data.labels import ClassInfo
from dlkit.data.prepare import as_model_input, check_finite, infer_task, load_file, splits
from dlkit.strategy import run_folder as rf

REQUIRED = ("options", "task", "loss")


def load_run(path: str, command: str) -> tuple[Path, dict, dl.nn.Module]:
    folder = rf.run_folder(path, command)
    config = rf.read_json(folder, rf.CONFIG, command)
    made_by = str(config.get("command", "train"))
    if made_by not in ("train", "charlm"):
        tool = made_by.split()[0]
        raise UserError(f"{path!r} is a dlkit {made_by} run: dlkit {command} reads the runs of "
                        f"dlkit train and dlkit charlm (see dlkit {tool} -h for its own "
                        "evaluation)", command)
    config = rf.read_json(folder, rf.CONFIG, command, required=REQUIRED)
    if config["task"] != "charlm":
        rf.read_json(folder, rf.CONFIG, command, required=("input_shape", "n_features"))
        config["options"] = {**recipes.train_defaults(), **config["options"]}
    rf.check_complete(folder, config, command)
    if not (folder / rf.MODEL).exists():
        raise UserError(f"{path!r} has no {rf.MODEL}; was the training run finished?", command)
    return folder, config, dl.io.load(folder / rf.MODEL)


def inputs_for(folder: Path, config: dict, X: np.ndarray, command: str) -> np.ndarray:
    """Shape (flatten, or resize images) and standardize new inputs as the run's were."""
    opts = config["options"]
    images = config.get("images", False)
    check_finite(X, "the input", command)
    X = as_model_input(X, images, opts.get("image_size") if images else None, command)
    expected = tuple(config["input_shape"])
    if tuple(X.shape[1:]) != expected:
        n = config["n_features"]
        hint = "; transpose? (examples go in rows)" if len(X) == n else ""
        got = X.shape[1] if X.ndim == 2 else X.shape[1:]
        raise UserError(f"the model expects {n if not images else expected} "
                        f"{'features per example' if not images else 'images'} (input shape "
                        f"{expected}), the data has {got}{hint}", command)
    standardizer = rf.read_standardizer(folder)
    if standardizer is None and config.get("standardized"):
        raise UserError(f"{str(folder)!r} lacks {rf.PREPROCESS}: the model was trained on "
                        "standardized inputs, and without the file its predictions would be "
                        "wrong", command)
    return standardizer.transform(X) if standardizer is not None else X


@cli.command()
@click.argument("run")
@click.option("--data", default=None, help="Evaluate on this file (.h5/.npz/.csv with labels) "
              "instead of the run's own train/dev/test split.")
def evaluate(run: str, data: str | None) -> None:
    """Loss and metrics of a run's model: on its train/dev/test split, or on --data."""
    command = "evaluate"
    folder, config, model = load_run(run, command)
    if config.get("task") == "charlm":
        from dlkit.cli.charlm import evaluate_charlm

        evaluate_charlm(folder, config, model, data)
        return
    loss = config["loss"]
    metrics = ("accuracy", "precision", "recall", "f1") if config["task"] == "binary" \
        else ("accuracy", "f1")
    if data is not None:
        X, y = load_file(data, command)
        if y is None:
            raise UserError(f"{data!r} has no labels (y) to evaluate against", command)
        X = inputs_for(folder, config, X, command)
        n = int(config.get("n_classes", 2))
        y = infer_task(y, command, ClassInfo(config["task"], n, tuple(range(n))))[2]
        sets = {Path(data).name: (X, y)}
    else:
        opts = config["options"]
        dl.manual_seed(opts["seed"])
        p = recipes.prepare_data(opts, 0, command)
        rf.check_fingerprint(config.get("data"), p.fingerprint, command)
        sets = splits(p)
    for name, data in sets.items():
        n = len(data[0]) if not hasattr(data[0], "dataset") else len(data[0].dataset)
        if not n:
            continue
        logs = dl.train.evaluate(model, loss, *data, metrics=metrics)
        click.echo(f"{name:6s} {n:6d} examples  " +
                   "  ".join(f"{k} {v:.4f}" for k, v in logs.items()))


@cli.command()
@click.argument("run")
@click.option("--input", "input_path", required=True,
              help="Examples to classify: .npz (key X), .csv (features; a label column, "
                   "if any, last) or .h5 (course images).")
@click.option("--output", default=None, help="Write the predictions to this CSV file.")
def predict(run: str, input_path: str, output: str | None) -> None:
    """Class predictions and probabilities of a run's model for new examples."""
    command = "predict"
    if output is not None and Path(output).is_dir():
        raise UserError(f"--output {output!r} is a folder; name a CSV file to write", command)
    folder, config, model = load_run(run, command)
    suffix = Path(input_path).suffix.lower()
    X, _ = load_file(input_path, command, y_key=None, target=None)
    if suffix == ".csv" and X.ndim == 2 and X.shape[1] == config["n_features"] + 1:
        X = X[:, :-1]  # the file carries its labels in the last column
    X = inputs_for(folder, config, X, command)
    logits = dl.train.predict(model, X)
    if config["task"] == "binary":
        probabilities = dl.ops.activation.stable_sigmoid(logits.astype(np.float64))
        classes = (logits[:, 0] > 0).astype(int)
        header = ["index", "class", "probability"]
        rows = [[i, int(c), f"{p[0]:.6f}"] for i, (c, p) in enumerate(zip(classes,
                                                                          probabilities))]
    else:
        probabilities = dl.ops.activation.stable_softmax(logits.astype(np.float64), -1)
        classes = probabilities.argmax(1)
        header = ["index", "class"] + [f"p{k}" for k in range(probabilities.shape[1])]
        rows = [[i, int(c), *(f"{q:.6f}" for q in p)]
                for i, (c, p) in enumerate(zip(classes, probabilities))]
    if output is not None:
        with open(output, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        click.echo(f"wrote {len(rows)} predictions to {output}")
    else:
        click.echo(",".join(header))
        for row in rows:
            click.echo(",".join(map(str, row)))
