"""The ``dlkit`` command."""

from __future__ import annotations

import sys
import time

import click
import numpy as np

import dlkit as dl
from dlkit.errors import DTypeError, ShapeError

ACTIVATIONS = {"relu": dl.nn.ReLU, "tanh": dl.nn.Tanh, "sigmoid": dl.nn.Sigmoid,
               "leaky_relu": dl.nn.LeakyReLU}
OPTIMIZERS = {"sgd": dl.optim.SGD, "momentum": dl.optim.Momentum, "rmsprop": dl.optim.RMSprop,
              "adam": dl.optim.Adam}


class UserError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit code 2."""


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--hidden: expected comma-separated layer sizes like 20,10, got "
                        f"{text!r}") from None
    if any(n <= 0 for n in sizes):
        raise UserError(f"--hidden: layer sizes must be positive, got {text!r}")
    return sizes


def build_mlp(n_in: int, hidden: list[int], n_out: int, activation: str) -> dl.nn.Sequential:
    layers: list[dl.nn.Module] = []
    init = "he" if activation in ("relu", "leaky_relu") else "xavier"
    for n in hidden:
        layers += [dl.nn.Linear(n_in, n, init=init), ACTIVATIONS[activation]()]
        n_in = n
    layers.append(dl.nn.Linear(n_in, n_out, init="xavier"))
    return dl.nn.Sequential(*layers)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(dl.__version__, prog_name="dlkit")
def cli() -> None:
    """dlkit: the Deep Learning Specialization as a library and a command."""


@cli.command()
@click.option("--dataset", type=click.Choice(["flower"]), default="flower", show_default=True,
              help="Training data (generated: needs no download).")
@click.option("--examples", type=int, default=800, show_default=True,
              help="Number of generated examples.")
@click.option("--hidden", default="20", show_default=True,
              help="Hidden layer sizes, comma-separated (empty: logistic regression).")
@click.option("--activation", type=click.Choice(sorted(ACTIVATIONS)), default="tanh",
              show_default=True)
@click.option("--optimizer", type=click.Choice(sorted(OPTIMIZERS)), default="adam",
              show_default=True)
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate.")
@click.option("--epochs", type=int, default=200, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def train(dataset: str, examples: int, hidden: str, activation: str, optimizer: str, lr: float,
          epochs: int, batch_size: int, seed: int) -> None:
    """Train a network and print its test accuracy."""
    if examples < 10:
        raise UserError(f"--examples: expected at least 10, got {examples}")
    if epochs <= 0 or batch_size <= 0 or lr <= 0:
        raise UserError(f"--epochs, --batch-size and --lr must be positive, got {epochs}, "
                        f"{batch_size}, {lr}")
    dl.manual_seed(seed)
    X, y = dl.data.make_flower(examples)
    X_train, X_test, y_train, y_test = dl.data.train_test_split(X, y, test_size=0.25)
    model = build_mlp(X.shape[1], parse_sizes(hidden), 1, activation)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    click.echo(f"dataset {dataset}: {len(X_train)} train / {len(X_test)} test examples; "
               f"model {X.shape[1]}-{hidden or '-'}-1 ({model.num_parameters()} parameters), "
               f"{optimizer} lr={lr}")
    start = time.perf_counter()
    history = dl.train.fit(model, "binary_cross_entropy_with_logits", opt, X_train, y_train,
                           epochs=epochs, batch_size=batch_size,
                           validation_data=(X_test, y_test))
    seconds = time.perf_counter() - start
    step = max(1, epochs // 5)
    for e in list(range(0, epochs, step)) + ([epochs - 1] if (epochs - 1) % step else []):
        click.echo(f"epoch {e + 1:4d}  loss {history['loss'][e]:.4f}  "
                   f"accuracy {history['accuracy'][e]:.3f}  val_loss {history['val_loss'][e]:.4f}"
                   f"  val_accuracy {history['val_accuracy'][e]:.3f}")
    test = dl.train.evaluate(model, "binary_cross_entropy_with_logits", X_test, y_test)
    click.echo(f"trained in {seconds:.1f} s; test accuracy {test['accuracy']:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the command; a user error is one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, prog_name="dlkit", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("dlkit: aborted", err=True)
        return 1
    except click.ClickException as e:
        command = f"dlkit {e.ctx.info_name}" if getattr(e, "ctx", None) and e.ctx.parent \
            else "dlkit"
        click.echo(f"{command}: error: {e.format_message()}", err=True)
        return 2
    except (UserError, ShapeError, DTypeError, FileNotFoundError, ValueError) as e:
        click.echo(f"dlkit: error: {e}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "cli", "np"]
