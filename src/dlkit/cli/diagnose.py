"""``dlkit diagnose``: bias, variance, data mismatch and overfitting to dev, from a run folder
or from errors given on the command line; the notes' recipe for the largest gap; a learning
curve picture."""

from __future__ import annotations

import json
from typing import Any

import click

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.strategy import run_folder as rf

CMD = "diagnose"


def parse_error(text: str | None, option: str) -> float | None:
    """"8%" or "0.08" -> 0.08."""
    if text is None:
        return None
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UserError(f"{option}: expected an error like 0.08 or 8%, got {text!r}",
                        CMD) from None
    if not 0 <= value <= 1:
        hint = f" (for {value:g}% write {value:g}% or {value / 100:g})" if 1 < value <= 100 \
            else ""
        raise UserError(f"{option}: an error is a fraction in [0, 1]{hint}, got {text!r}", CMD)
    return value


def _sizes(text: str) -> list[float | int]:
    out: list[float | int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            out.append(int(part) if part.isdigit() else float(part))
        except ValueError:
            raise UserError(f"--sizes: expected fractions or counts like 0.1,0.5,1.0, got "
                            f"{text!r}", CMD) from None
    return out


def _learning_curve(run: str, path: str, sizes: list[float | int], epochs: int | None,
                    human: float | None) -> None:
    from dlkit import recipes
    from dlkit.data.prepare import prepare
    from dlkit.strategy.diagnose import learning_curve, plot_learning_curve

    folder = rf.run_folder(run, CMD)
    config = rf.read_json(folder, rf.CONFIG, CMD)
    try:
        opts = config["options"]
        opts = {**recipes.train_defaults(), **opts}
        images = config.get("images", opts["model"] in recipes.IMAGE_MODELS)
        dl.manual_seed(opts["seed"])
        p = prepare(opts["dataset"], test_data=opts["test_data"], dev_size=opts["dev_size"],
                    test_size=opts["test_size"], standardize=opts["standardize"],
                    command=CMD, examples=opts["examples"], noise=opts["noise"],
                    images=images, image_size=opts.get("image_size"))
    except KeyError as e:
        raise UserError(f"{run!r}: config.json lacks {e}; a learning curve needs a run "
                        "folder written by dlkit train", CMD) from None
    if not len(p.X_dev):
        raise UserError("a learning curve needs the run's dev set (dev_size > 0)", CMD)

    def build() -> tuple[Any, Any]:
        recipe = recipes.classifier(opts, p.input_shape, p.task, p.n_classes, command=CMD)
        return recipe.model, recipe.optimizer

    try:
        curve = learning_curve(build, config["loss"], p.X_train, p.y_train, p.X_dev, p.y_dev,
                               sizes, epochs=epochs or opts["epochs"],
                               batch_size=opts["batch_size"], seed=opts["seed"],
                               l2=opts.get("l2", 0.0))
    except ValueError as e:
        raise UserError(str(e), CMD) from None
    click.echo(str(curve))
    plot_learning_curve(curve, path, human=human, title=f"learning curve: {folder.name}")
    click.echo(f"wrote {path}")


@cli.command()
@click.argument("run", required=False)
@click.option("--human", default=None, help="Human-level error, the proxy for Bayes error "
              "(0.01 or 1%).")
@click.option("--train", "train_error", default=None, help="Training error.")
@click.option("--train-dev", "train_dev_error", default=None,
              help="Training-dev error (same distribution as training, not trained on).")
@click.option("--dev", "dev_error", default=None, help="Dev error.")
@click.option("--test", "test_error", default=None, help="Test error.")
@click.option("--metric", default="accuracy", show_default=True,
              help="With RUN: the metric whose shortfall is the error (error = 1 - metric).")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@click.option("--learning-curve", "curve", default=None, metavar="PNG",
              help="With RUN: retrain its model on growing subsets of its training set and "
                   "draw training and dev error against the number of examples.")
@click.option("--sizes", default="0.1,0.25,0.5,1.0", show_default=True,
              help="Training-set sizes for --learning-curve (fractions or counts).")
@click.option("--epochs", type=click.IntRange(1), default=None,
              help="Epochs per --learning-curve model [default: the run's].")
def diagnose(run: str | None, human: str | None, train_error: str | None,
             train_dev_error: str | None, dev_error: str | None, test_error: str | None,
             metric: str, as_json: bool, curve: str | None, sizes: str,
             epochs: int | None) -> None:
    """Avoidable bias, variance, data mismatch, overfitting to dev: the largest gap and what
    to try. From a run folder (dlkit diagnose RUN --human 0.01) or from errors
    (dlkit diagnose --human 1% --train 8% --train-dev 10% --dev 20%)."""
    from dlkit.metrics import get_metric
    from dlkit.strategy.diagnose import diagnose_errors, diagnose_run

    given = {"--train": train_error, "--train-dev": train_dev_error, "--dev": dev_error,
             "--test": test_error}
    human_v = parse_error(human, "--human")
    values = {k: parse_error(v, k) for k, v in given.items()}
    if run is not None:
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise UserError(f"give a RUN folder or errors ({', '.join(extra)}), not both", CMD)
        if metric not in ("error", "loss"):
            try:
                get_metric(metric)
            except ValueError:
                raise UserError(f"unknown metric {metric!r} (try accuracy, f1, "
                                "precision, recall)", CMD) from None
        rf.run_folder(run, CMD)
        try:
            result = diagnose_run(run, human=human_v, metric=metric)
        except FileNotFoundError as e:
            raise UserError(str(e), CMD) from None
        except ValueError as e:
            raise UserError(str(e).removeprefix("diagnose: "), CMD) from None
    else:
        if curve is not None:
            raise UserError("--learning-curve needs a RUN folder", CMD)
        if values["--train"] is None:
            raise UserError("give a RUN folder, or the errors: at least --train (and --dev; "
                            "--human, --train-dev, --test as known)", CMD)
        result = diagnose_errors(values["--train"], values["--dev"], human=human_v,
                                 train_dev=values["--train-dev"], test=values["--test"])
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(str(result))
    if curve is not None:
        _learning_curve(run, curve, _sizes(sizes), epochs, human_v)
