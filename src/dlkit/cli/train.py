"""``dlkit train``: train a network on a built-in dataset or a file; write a run folder."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

import dlkit as dl
from dlkit import recipes
from dlkit.cli import cli
from dlkit.data import DATASETS
from dlkit.data.prepare import Prepared, PreparedFolder, splits
from dlkit.errors import UserError
from dlkit.models import ACTIVATIONS
from dlkit.nn.config import to_config
from dlkit.recipes import INITS, MODELS, OPTIMIZERS, SCHEDULES
from dlkit.strategy import run_folder as rf

CMD = "train"
METRICS = ("accuracy", "precision", "recall", "f1")


def report(prepared: Prepared | PreparedFolder, model: dl.nn.Module,
           loss: str) -> dict[str, dict[str, float]]:
    metrics = METRICS if prepared.task == "binary" else ("accuracy", "f1")
    return {name: dl.train.evaluate(model, loss, *data, metrics=metrics)
            for name, data in splits(prepared).items()}


def draw(folder: Path, history: dl.train.History, model: dl.nn.Module,
         prepared: Prepared) -> list[str]:
    """curves.png and, for 2-D inputs, decision_boundary.png; nothing without matplotlib."""
    try:
        import matplotlib  # noqa: F401

        from dlkit.plot import plot_curves, plot_decision_boundary
    except ImportError:
        return []
    written = [plot_curves(history, folder / "curves.png").name]
    if isinstance(prepared, Prepared) and prepared.X_train.ndim == 2 and \
            prepared.X_train.shape[1] == 2 and prepared.standardizer is None:
        def classes(points: np.ndarray) -> np.ndarray:
            out = dl.train.predict(model, points)
            return (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(1)

        X = np.concatenate([prepared.X_train, prepared.X_dev, prepared.X_test])
        y = np.concatenate([prepared.y_train, prepared.y_dev, prepared.y_test]).reshape(-1)
        written.append(plot_decision_boundary(classes, X, y,
                                              folder / "decision_boundary.png").name)
    return written


@cli.command()
@click.option("--dataset", "--data", "dataset", default="digits", show_default=True,
              help=f"A built-in dataset ({', '.join(DATASETS)}), a file (.h5 course images, "
                   ".npz with X and y, .csv with the label last), or a folder of images, one "
                   "sub-folder per class (read lazily, resized to --image-size, default 64).")
@click.option("--data-workers", type=click.IntRange(0), default=0, show_default=True,
              metavar="N", help="Processes that decode and augment the batches of an image "
              "folder ahead of the training step.")
@click.option("--test-data", default=None, help="A separate test file (e.g. the course's "
              "test_catvnoncat.h5); otherwise the test set is split off --dataset.")
@click.option("--examples", type=click.IntRange(10), default=None,
              help="Number of examples of a generated dataset (flower, moons, circles).")
@click.option("--noise", type=click.FloatRange(0), default=None,
              help="Noise of a generated dataset.")
@click.option("--model", type=click.Choice(MODELS), default=None,
              help="[default: follows the data: cnn for images (the digits, .h5 files), mlp "
                   "for feature vectors or when a dense option such as --hidden is given] "
                   "Dense: logreg (no hidden layer), shallow (one), mlp (deep, --hidden). "
                   "Convolutional (images): cnn (2 conv-pool stages), lenet5 (32x32), resnet "
                   "(small ResNet), inception (small Inception), mobilenet (depthwise-separable).")
@click.option("--image-size", type=click.IntRange(4), default=None,
              help="Resize images to this square size (nearest-neighbour upsampling and "
                   "padding) [default: 32 for lenet5, else as they are].")
@click.option("--hidden", default="20", show_default=True,
              help="Hidden layer sizes, comma-separated.")
@click.option("--activation", type=click.Choice(sorted(ACTIVATIONS)), default="tanh",
              show_default=True)
@click.option("--init", type=click.Choice(list(INITS)),
              default=None, help="Weight initializer [default: he for relu, else xavier].")
@click.option("--optimizer", type=click.Choice(sorted(OPTIMIZERS)), default="adam",
              show_default=True)
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=0.01, show_default=True,
              help="Learning rate.")
@click.option("--schedule", type=click.Choice(["none", *SCHEDULES]), default="none",
              show_default=True, help="Learning-rate decay, stepped each epoch.")
@click.option("--decay-rate", type=click.FloatRange(0), default=1.0, show_default=True,
              help="inverse-time: decay rate; exponential: base; inverse-sqrt: k; step: drop.")
@click.option("--decay-interval", type=click.IntRange(1), default=1, show_default=True,
              help="Epochs per decay step (inverse-time staircase, step).")
@click.option("--epochs", type=click.IntRange(1), default=None,
              help="Passes over the training set [default: 10 for convolutional models, 200 "
                   "for dense ones].")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--l2", type=click.FloatRange(0), default=0.0, show_default=True,
              help="L2 regularization lambda (cost + lambda/(2m) sum ||W||^2).")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, help="Drop probability after each hidden layer.")
@click.option("--batch-norm", is_flag=True, help="Batch norm before each hidden activation.")
@click.option("--standardize/--no-standardize", default=None,
              help="Standardize inputs with train statistics [default: on, off for 2-D data].")
@click.option("--dev-size", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True, help="Fraction held out as the dev set.")
@click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.2, show_default=True, help="Fraction held out as the test set.")
@click.option("--flip", is_flag=True, help="Augment: mirror training images left-right "
              "(p = 0.5).")
@click.option("--crop", type=click.IntRange(1), default=None, metavar="PAD",
              help="Augment: pad training images by PAD and crop back at a random place.")
@click.option("--color-shift", type=click.FloatRange(0, min_open=True), default=None,
              help="Augment: add a random offset up to this to each channel.")
@click.option("--rotate", type=click.FloatRange(0, 180, min_open=True), default=None,
              metavar="DEGREES", help="Augment: rotate training images by up to +-DEGREES.")
@click.option("--early-stopping", type=click.IntRange(1), default=None, metavar="PATIENCE",
              help="Stop when the dev loss has not improved for PATIENCE epochs.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", default=None, help="Run folder [default: runs/<dataset>-<time>].")
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out.")
@click.option("--checkpoint-every", type=click.IntRange(0), default=None, metavar="N",
              help="Write checkpoint.safetensors every N epochs (and after the last) so a "
                   "killed run can --resume [default: every epoch for convolutional models, "
                   "every 10 for dense ones; 0: never].")
@click.option("--resume", default=None, metavar="RUN",
              help="Continue the run in folder RUN from its last checkpoint, with its own "
                   "options (--epochs may raise the total); the result equals an "
                   "uninterrupted run.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar (only on a terminal).")
@click.option("--device", default="cpu", show_default=True,
              help="Train on cpu, or on cuda / cuda:N (an NVIDIA GPU through CuPy: "
                   "pip install 'dlkit[gpu]').")
@click.option("--task", type=click.Choice(["classify", "charlm", "sentiment"]),
              default="classify", show_default=True,
              help="charlm: a character-level language model on --dataset dinos (bundled) or "
              "a text file, the options that apply forwarded to dlkit charlm; sentiment: the "
              "Emojify LSTM on frozen word vectors (dlkit embed sentiment; --epochs, --lr, "
              "--seed, --out apply).")
def train(dataset: str, test_data: str | None, examples: int | None, noise: float | None,
          model: str, image_size: int | None, hidden: str, activation: str,
          init: str | None, optimizer: str,
          lr: float, schedule: str, decay_rate: float, decay_interval: int,
          epochs: int | None,
          batch_size: int, l2: float, dropout: float, batch_norm: bool,
          standardize: bool | None, dev_size: float, test_size: float, flip: bool,
          crop: int | None, color_shift: float | None, rotate: float | None,
          early_stopping: int | None, seed: int, out: str | None, overwrite: bool,
          checkpoint_every: int | None, resume: str | None, progress: bool,
          task: str, data_workers: int, device: str) -> None:
    """Train a network, write a run folder, print the test accuracy."""
    ctx = click.get_current_context()
    if task == "charlm":
        from dlkit.cli.charlm import charlm_from_train

        charlm_from_train(ctx)
        return
    given = {k for k in ctx.params
             if ctx.get_parameter_source(k) is click.core.ParameterSource.COMMANDLINE}
    try:
        dev = dl.device(device)
    except (dl.DeviceError, ValueError, TypeError) as e:
        raise UserError(f"--device {device}: {e}", CMD) from None
    if task == "sentiment":
        from dlkit.cli.embed import sentiment_cmd

        extra = given - {"task", "epochs", "lr", "seed", "out", "progress"}
        if extra:
            names = ", ".join("--" + k.replace("_", "-") for k in sorted(extra))
            raise UserError(f"{names} does not apply to --task sentiment (see dlkit embed "
                            "sentiment -h)", CMD)
        ctx.invoke(sentiment_cmd, kind="lstm", vectors=None, epochs=epochs or 30,
                   lr=lr if "lr" in given else None, seed=seed if "seed" in given else 0,
                   out=out, progress=progress)
        return
    if resume is not None:
        folder, config = _resumable(resume, given)
        opts = {**config["options"], **({"epochs": epochs} if "epochs" in given else {})}
        if opts["epochs"] < config["options"]["epochs"]:
            raise UserError(f"--epochs {opts['epochs']} is fewer than the run's "
                            f"{config['options']['epochs']}", CMD)
        every = config.get("checkpoint_every", 1) or 1
    else:
        options = {k: v for k, v in ctx.params.items() if k in recipes.TRAIN_OPTIONS}
        dense_given = given - {"dataset", "test_data", "examples", "noise", "seed", "out",
                               "progress", "task", "model", "overwrite", "checkpoint_every",
                               "resume", "data_workers", "device"}
        opts = recipes.resolve_options(options, dense_given, CMD)
        every = checkpoint_every if checkpoint_every is not None else (
            1 if opts["model"] in recipes.IMAGE_MODELS else 10)
    model, images = opts["model"], opts["model"] in recipes.IMAGE_MODELS
    dl.manual_seed(opts["seed"])
    prepared = recipes.prepare_data(opts, data_workers, CMD)
    recipe = recipes.classifier(opts, prepared.input_shape, prepared.task, prepared.n_classes,
                                command=CMD)
    folder_data = isinstance(prepared, PreparedFolder)
    if resume is None:  # the folder is made once the data and the model are known good
        stem = Path(dataset).stem if dataset not in DATASETS else dataset
        folder = rf.new_run_folder(out, f"{stem}-{opts['model']}", overwrite, CMD)
    net, opt, loss = recipe.model, recipe.optimizer, recipe.loss
    n_in = int(np.prod(prepared.input_shape))
    n_out = 1 if prepared.task == "binary" else prepared.n_classes
    sizes = recipes.hidden_layers(model, opts["hidden"], CMD)
    name = Path(opts["dataset"]).stem if opts["dataset"] not in DATASETS else opts["dataset"]
    config = {
        "dlkit_version": dl.__version__, "command": "train", "status": rf.RUNNING,
        "options": opts, "model": model, "model_config": to_config(net),
        "task": prepared.task, "n_classes": prepared.n_classes, "images": images,
        "input_shape": list(prepared.input_shape), "n_features": n_in,
        "data": prepared.fingerprint, "standardized": prepared.standardizer is not None,
        "split": {k: len(v[0]) if not folder_data else len(v[0].dataset)
                  for k, v in splits(prepared).items()},
        **({"classes": prepared.classes} if folder_data else {}),
        "loss": loss, "checkpoint_every": every}
    initial_epoch = 0
    callbacks = [*recipe.callbacks, dl.train.TerminateOnNaN(raise_error=True,
                                                            lr_option="--lr")]
    if every:
        callbacks.append(dl.train.ModelCheckpoint(folder / rf.CHECKPOINT, every=every))
    if resume is not None:
        recorded = rf.read_json(folder, rf.CONFIG, CMD).get("data")
        if recorded and prepared.fingerprint["sha256"] != recorded.get("sha256"):
            raise UserError(f"the data of run {resume!r} changed since it was trained; it "
                            "cannot be resumed on other data", CMD)
        state = dl.io.load_checkpoint(folder / rf.CHECKPOINT, net, opt, callbacks=callbacks)
        initial_epoch = state["epoch"]
        rf.truncate_history(folder / rf.HISTORY, initial_epoch)
    callbacks.append(dl.train.CSVLogger(str(folder / rf.HISTORY), append=resume is not None))
    rf.write_json(folder / rf.CONFIG, config)
    layers = ("x".join(map(str, prepared.input_shape)) + f" -> {n_out}" if images
              else "-".join(map(str, [n_in, *sizes, n_out])) +
              (f" {opts['activation']}" if sizes else ""))
    n = config["split"]
    click.echo(f"{name}: {n.get('train', 0)} train / {n.get('dev', 0)} dev / "
               f"{n.get('test', 0)} test examples, {prepared.task} "
               f"({prepared.n_classes} classes); model {model} {layers} "
               f"({net.num_parameters()} parameters); {opts['optimizer']} lr={opts['lr']}"
               + (f"; resuming after epoch {initial_epoch}" if resume is not None else ""))
    parts = splits(prepared)
    validation = parts.get("dev")
    validation = validation[0] if folder_data or validation is None else validation
    net.to(dev)  # fit moves each batch to the model's device; the optimizer's state follows
    loaders = [p[0] for p in parts.values()] if folder_data and dev != "cpu" else []
    for loader in loaders:  # an image folder's loaders move their batches themselves
        loader.device = dev
    start = time.perf_counter()
    try:
        dl.train.fit(net, loss, opt, *parts["train"],
                     epochs=opts["epochs"], batch_size=opts["batch_size"],
                     validation_data=validation, callbacks=callbacks, l2=opts["l2"],
                     verbose=int(progress),
                     transform=None if folder_data else recipe.transform,
                     initial_epoch=initial_epoch)
    except UserError:
        rf.set_status(folder, rf.FAILED)
        raise
    net.to("cpu")  # evaluation and files on the host
    for loader in loaders:
        loader.device = None
    seconds = time.perf_counter() - start
    history = dl.train.History.from_csv(folder / rf.HISTORY)
    ran = len(history["loss"])
    for e in sorted({0, *range(max(1, ran // 5) - 1, ran, max(1, ran // 5)), ran - 1}):
        line = f"epoch {history.epochs[e] + 1:4d}  loss {history['loss'][e]:.4f}  accuracy " \
               f"{history['accuracy'][e]:.3f}"
        if "val_loss" in history:
            line += f"  dev loss {history['val_loss'][e]:.4f}  dev accuracy " \
                    f"{history['val_accuracy'][e]:.3f}"
        click.echo(line)
    results = report(prepared, net, loss)
    dl.io.save(net, folder / rf.MODEL)
    if prepared.standardizer is not None:
        rf.write_standardizer(folder, prepared.standardizer)
    rf.write_json(folder / rf.METRICS, {**results, "epochs": ran, "seconds": round(seconds, 3)})
    rf.set_status(folder, rf.COMPLETE)
    pictures = draw(folder, history, net, prepared)
    click.echo(f"trained {ran} epochs in {seconds:.1f} s; wrote {folder}/ (model.safetensors, "
               f"history.csv, metrics.json{''.join(', ' + p for p in pictures)})")
    summary = "  ".join(f"{k} accuracy {v['accuracy']:.3f}" for k, v in results.items())
    click.echo(summary)
    click.echo(f"test accuracy {results['test']['accuracy']:.3f}")


def _resumable(run: str, given: set[str]) -> tuple[Path, dict]:
    """The folder and config of a run to resume; only --epochs and --progress may be given
    beside --resume (the run's own options rebuild everything else)."""
    extra = given - {"resume", "epochs", "progress", "data_workers", "device"}
    if extra:
        names = ", ".join("--" + k.replace("_", "-") for k in sorted(extra))
        raise UserError(f"--resume continues a run with its own options; {names} cannot be "
                        "changed (only --epochs, to train longer)", CMD)
    folder = rf.run_folder(run, CMD)
    config = rf.read_json(folder, rf.CONFIG, CMD, required=("options", "status"))
    if not (folder / rf.CHECKPOINT).exists():
        raise UserError(f"run {run!r} has no {rf.CHECKPOINT} to resume from (it was trained "
                        "with --checkpoint-every 0, or killed before its first checkpoint)",
                        CMD)
    return folder, config
