"""Recipes: a model, an optimizer, a schedule and callbacks built from options.

``dlkit train``, ``dlkit tune`` and ``dlkit charlm`` (and the application commands) describe a
run by options (``{"model": "mlp", "hidden": "20,7,5", "optimizer": "adam", ...}``); this module
turns options into objects, in one place, so every command builds the same thing from the
same words. ``TRAIN_OPTIONS`` states the classification options, their types, choices and
defaults; the CLI parses them, the tuner validates its config against them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlkit.errors import UserError
from dlkit.models import ACTIVATIONS, mlp
from dlkit.nn.module import Module
from dlkit.optim import (
    SGD,
    Adam,
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    Momentum,
    Optimizer,
    RMSprop,
    StepDecay,
)
from dlkit.train.callbacks import Callback, EarlyStopping, LearningRateScheduler

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop,
                                          "adam": Adam}
SCHEDULES = {"inverse-time": InverseTimeDecay, "exponential": ExponentialDecay,
             "inverse-sqrt": InverseSqrtDecay, "step": StepDecay}
DENSE_MODELS = ("logreg", "shallow", "mlp")
IMAGE_MODELS = ("cnn", "lenet5", "resnet", "inception", "mobilenet")
MODELS = DENSE_MODELS + IMAGE_MODELS
MIN_SIZE = {"lenet5": 32, "resnet": 8, "inception": 8, "mobilenet": 8}
INITS = ("he", "xavier", "small", "zeros", "glorot_uniform")
IMAGE_FILE_TYPES = (".h5", ".hdf5")
IMAGE_DATASETS = ("digits",)
GENERATED = ("flower", "moons", "circles")

#: options that shape a dense network, and those that only images have
DENSE_ONLY = ("hidden", "activation", "init", "batch_norm")
IMAGE_ONLY = ("image_size", "flip", "crop", "color_shift", "rotate")


@dataclass(frozen=True)
class Option:
    """One option of a training command: its type ("int", "float", "str", "bool"), default,
    allowed values, lower bound, and whether None is allowed."""

    kind: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    nullable: bool = False


TRAIN_OPTIONS: dict[str, Option] = {
    "dataset": Option("str", "digits"),
    "test_data": Option("str", None, nullable=True),
    "examples": Option("int", None, minimum=10, nullable=True),
    "noise": Option("float", None, minimum=0, nullable=True),
    "model": Option("str", None, MODELS, nullable=True),
    "image_size": Option("int", None, minimum=4, nullable=True),
    "hidden": Option("str", "20"),
    "activation": Option("str", "tanh", tuple(sorted(ACTIVATIONS))),
    "init": Option("str", None, INITS, nullable=True),
    "optimizer": Option("str", "adam", tuple(sorted(OPTIMIZERS))),
    "lr": Option("float", 0.01, minimum=0),
    "schedule": Option("str", "none", ("none", *SCHEDULES)),
    "decay_rate": Option("float", 1.0, minimum=0),
    "decay_interval": Option("int", 1, minimum=1),
    "epochs": Option("int", None, minimum=1, nullable=True),
    "batch_size": Option("int", 64, minimum=1),
    "l2": Option("float", 0.0, minimum=0),
    "dropout": Option("float", 0.0, minimum=0),
    "batch_norm": Option("bool", False),
    "standardize": Option("bool", None, nullable=True),
    "dev_size": Option("float", 0.1, minimum=0),
    "test_size": Option("float", 0.2, minimum=0),
    "flip": Option("bool", False),
    "crop": Option("int", None, minimum=1, nullable=True),
    "color_shift": Option("float", None, minimum=0, nullable=True),
    "rotate": Option("float", None, minimum=0, nullable=True),
    "early_stopping": Option("int", None, minimum=1, nullable=True),
    "seed": Option("int", 1),
}


def convert_option(name: str, value: Any, where: str = "option",
                   command: str = "train") -> Any:
    """``value`` checked and converted to option ``name``'s type (a config file's values)."""
    if name not in TRAIN_OPTIONS:
        raise UserError(f"{where}: unknown option {name!r}; expected one of "
                        f"{sorted(TRAIN_OPTIONS)}", command)
    spec = TRAIN_OPTIONS[name]
    if value is None:
        if spec.nullable:
            return None
        raise UserError(f"{where} {name}: expected a value, got none", command)
    try:
        if spec.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {value!r}")
            out: Any = value
        elif spec.kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(f"expected an integer, got {value!r}")
            out = int(value)
        elif spec.kind == "float":
            if isinstance(value, bool):
                raise ValueError(f"expected a number, got {value!r}")
            out = float(value)
        else:
            out = str(value)
    except (TypeError, ValueError) as e:
        msg = str(e) if "expected" in str(e) else f"expected a {spec.kind}, got {value!r}"
        raise UserError(f"{where} {name}: {msg}", command) from None
    if spec.choices is not None and out not in spec.choices:
        raise UserError(f"{where} {name}: expected one of {list(spec.choices)}, got {out!r}",
                        command)
    if spec.minimum is not None and out < spec.minimum:
        raise UserError(f"{where} {name}: expected a value >= {spec.minimum}, got {out!r}",
                        command)
    return out


def train_defaults() -> dict[str, Any]:
    """Every classification option at its default."""
    return {name: spec.default for name, spec in TRAIN_OPTIONS.items()}


def is_image_data(dataset: str) -> bool:
    """Whether ``dataset`` holds images (the digits, the course's .h5 files, a folder of
    images per class)."""
    path = Path(str(dataset))
    return dataset in IMAGE_DATASETS or path.suffix.lower() in IMAGE_FILE_TYPES or \
        path.is_dir()


def choose_model(options: Mapping[str, Any], given: Collection[str] = (),
                 command: str = "train") -> str:
    """The model to build: ``options["model"]`` when set; otherwise it follows the data (a
    dense ``mlp`` for feature vectors, a ``cnn`` for images, ``mlp`` for images flattened when
    a dense option such as --hidden is given). An option given that the model does not use is
    an error naming both."""
    model = options.get("model")
    if model is None:
        dense_given = [o for o in DENSE_ONLY if o in given]
        model = "cnn" if is_image_data(options["dataset"]) and not dense_given else "mlp"
    unused = [o for o in given if not applies(o, model)]
    if unused:
        names = ", ".join("--" + o.replace("_", "-") for o in unused)
        why = "it has no hidden dense layers" if model not in DENSE_MODELS else \
            "it takes feature vectors, not images"
        raise UserError(f"{names} does not apply to --model {model} ({why}); drop the option "
                        f"or choose a model that uses it", command)
    return model


def applies(option: str, model: str) -> bool:
    """Whether ``option`` changes what ``model`` builds or how it trains."""
    if option in IMAGE_ONLY:
        return model in IMAGE_MODELS
    if option == "dropout":
        return model in ("mlp", "shallow", "cnn")
    if option in ("hidden", "activation", "init", "batch_norm"):
        return model in ("mlp", "shallow") or (option == "init" and model == "logreg")
    return True


def resolve_options(options: Mapping[str, Any], given: Collection[str] = (),
                    command: str = "train") -> dict[str, Any]:
    """The options with every derived default filled in: the model, epochs (10 for
    convolutional models, 200 for dense ones), the image size (32 for LeNet-5), input
    standardization (on, except for the generated 2-D sets and images). Options the model
    does not use are None (so a run's config and ``dlkit runs`` show what was built: no
    "tanh" for a LeNet-5)."""
    opts = {**train_defaults(), **options}
    opts["model"] = choose_model(opts, given, command)
    for option in (*DENSE_ONLY, *IMAGE_ONLY, "dropout"):
        if not applies(option, opts["model"]):  # recorded as unused, not as a default
            opts[option] = None
    images = opts["model"] in IMAGE_MODELS
    if opts["epochs"] is None:
        opts["epochs"] = 10 if images else 200
    if images and opts["image_size"] is None and opts["model"] == "lenet5":
        opts["image_size"] = MIN_SIZE["lenet5"]
    if opts["standardize"] is None:
        opts["standardize"] = not images and opts["dataset"] not in GENERATED
    if opts["dropout"] is not None and not 0 <= opts["dropout"] < 1:
        raise UserError(f"--dropout: expected a probability in [0, 1), got {opts['dropout']}",
                        command)
    if opts["dev_size"] + (0 if opts["test_data"] else opts["test_size"]) >= 1:
        raise UserError("--dev-size plus --test-size must leave training examples", command)
    return opts


def parse_hidden(text: str, command: str = "train") -> list[int]:
    """Hidden layer sizes from "20,7,5"."""
    try:
        sizes = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--hidden: expected comma-separated layer sizes like 20,7,5, got "
                        f"{text!r}", command) from None
    if any(n <= 0 for n in sizes):
        raise UserError(f"--hidden: layer sizes must be positive, got {text!r}", command)
    return sizes


def hidden_layers(model: str, hidden: str, command: str = "train") -> list[int]:
    """The hidden sizes a dense model gets: none for logreg, one for shallow."""
    if model not in DENSE_MODELS or model == "logreg":
        return []
    sizes = parse_hidden(hidden, command)
    if model == "shallow" and len(sizes) != 1:
        raise UserError(f"--model shallow has one hidden layer: give one size, got {hidden!r}",
                        command)
    if not sizes:
        raise UserError("--model mlp needs at least one hidden size (--hidden 20,7,5)", command)
    return sizes


def build_model(opts: Mapping[str, Any], input_shape: Sequence[int], n_out: int,
                command: str = "train") -> Module:
    """The network ``opts["model"]`` for inputs of ``input_shape`` and ``n_out`` outputs."""
    from dlkit import models

    model = opts["model"]
    if model in DENSE_MODELS:
        n_in = 1
        for d in input_shape:
            n_in *= int(d)
        sizes = hidden_layers(model, opts["hidden"], command)
        return mlp(n_in, sizes, n_out, opts["activation"] or "tanh", opts["init"],
                   opts["dropout"] or 0.0, bool(opts["batch_norm"]))
    n_h, n_w, c = input_shape
    if model in MIN_SIZE and min(n_h, n_w) < MIN_SIZE[model]:
        raise UserError(f"--model {model} needs images of at least {MIN_SIZE[model]}x"
                        f"{MIN_SIZE[model]}, got {n_h}x{n_w}; pass --image-size", command)
    if model == "cnn":
        return models.simple_cnn((n_h, n_w, c), n_out, dropout=opts["dropout"])
    if model == "lenet5":
        return models.LeNet5(n_out, in_channels=c, input_size=n_h, activation="relu",
                             pool="max")
    if model == "resnet":
        return models.ResNetSmall(n_out, in_channels=c)
    if model == "inception":
        return models.InceptionSmall(n_out, in_channels=c)
    return models.MobileNet(n_out, in_channels=c, width=0.5, small_input=True,
                            blocks=[[64, 1], [128, 2], [128, 1], [256, 2], [256, 1]])


def make_optimizer(name: str, params: Any, lr: float, beta: float | None = None,
                   beta2: float | None = None, command: str = "train") -> Optimizer:
    """The optimizer ``name`` ("sgd", "momentum", "rmsprop", "adam") with the notes' beta
    (Adam's beta1) and Adam's beta2 when given."""
    if name not in OPTIMIZERS:
        raise UserError(f"--optimizer: expected one of {', '.join(OPTIMIZERS)}, got {name!r}",
                        command)
    kwargs: dict[str, Any] = {"lr": lr}
    if beta is not None:
        if name == "sgd":
            raise UserError("beta is set but the optimizer is sgd (no beta): use momentum, "
                            "rmsprop or adam", command)
        kwargs["beta1" if name == "adam" else "beta"] = beta
    if beta2 is not None:
        if name != "adam":
            raise UserError("beta2 is Adam's: use the adam optimizer", command)
        kwargs["beta2"] = beta2
    return OPTIMIZERS[name](params, **kwargs)


def make_schedule(name: str, optimizer: Optimizer, decay_rate: float, interval: int) -> Any:
    """The learning-rate decay ``name`` on ``optimizer`` (None for "none")."""
    if name == "none":
        return None
    if name == "inverse-time":
        return InverseTimeDecay(optimizer, decay_rate=decay_rate, time_interval=interval,
                                staircase=interval > 1)
    if name == "exponential":
        return ExponentialDecay(optimizer, base=decay_rate)
    if name == "inverse-sqrt":
        return InverseSqrtDecay(optimizer, k=decay_rate)
    if name == "step":
        return StepDecay(optimizer, drop=decay_rate, every=interval)
    raise UserError(f"--schedule: expected one of none, {', '.join(SCHEDULES)}, got {name!r}")


def augmentation(opts: Mapping[str, Any], input_shape: Sequence[int],
                 command: str = "train") -> Any:
    """The training-batch transforms the options ask for (images only), or None."""
    from dlkit.data import transforms as T

    steps: list[Any] = []
    if opts.get("flip"):
        steps.append(T.RandomHorizontalFlip())
    if opts.get("crop"):
        steps.append(T.RandomCrop(tuple(input_shape[:2]), padding=opts["crop"]))
    if opts.get("rotate"):
        steps.append(T.RandomRotation(opts["rotate"]))
    if opts.get("color_shift"):
        steps.append(T.ColorShift(opts["color_shift"]))
    if steps and opts["model"] not in IMAGE_MODELS:
        raise UserError("--flip, --crop, --color-shift and --rotate augment images: use a "
                        "convolutional --model", command)
    return T.Compose(steps) if steps else None


def loss_for(task: str) -> str:
    """The loss of a classification task, from logits."""
    return "bce_logits" if task == "binary" else "cross_entropy"


def standard_callbacks(optimizer: Optimizer, schedule: str = "none", decay_rate: float = 1.0,
                       decay_interval: int = 1,
                       early_stopping: int | None = None) -> list[Callback]:
    """The learning-rate schedule and early stopping (on the dev loss, restoring the best
    weights) the options ask for."""
    callbacks: list[Callback] = []
    sched = make_schedule(schedule, optimizer, decay_rate, decay_interval)
    if sched is not None:
        callbacks.append(LearningRateScheduler(sched))
    if early_stopping:
        callbacks.append(EarlyStopping("val_loss", patience=early_stopping,
                                       restore_best_weights=True))
    return callbacks


@dataclass
class Recipe:
    """What one classification run trains with."""

    model: Module
    optimizer: Optimizer
    loss: str
    callbacks: list[Callback] = field(default_factory=list)
    transform: Any = None


def classifier(opts: Mapping[str, Any], input_shape: Sequence[int], task: str,
               n_classes: int, beta: float | None = None, beta2: float | None = None,
               command: str = "train") -> Recipe:
    """Model, optimizer, loss, schedule / early-stopping callbacks and augmentation of a
    classification run from resolved options (``resolve_options``)."""
    n_out = 1 if task == "binary" else n_classes
    model = build_model(opts, input_shape, n_out, command)
    optimizer = make_optimizer(opts["optimizer"], model.parameters(), opts["lr"], beta, beta2,
                               command)
    callbacks = standard_callbacks(optimizer, opts["schedule"], opts["decay_rate"],
                                   opts["decay_interval"], opts["early_stopping"])
    return Recipe(model, optimizer, loss_for(task), callbacks,
                  augmentation(opts, input_shape, command))


def prepare_data(opts: Mapping[str, Any], data_workers: int = 0,
                 command: str = "train") -> Any:
    """The data of a run from its resolved options (``dlkit.data.prepare``): arrays (a
    dataset name or file), or loaders over an image folder (split by the seeded generator,
    augmented as the options say)."""
    from dlkit.data.prepare import prepare, prepare_folder

    images = opts["model"] in IMAGE_MODELS
    if Path(opts["dataset"]).is_dir():
        if not images:
            raise UserError(f"--dataset {opts['dataset']!r} is a folder of images: use a "
                            "convolutional --model (cnn, lenet5, resnet, ...)", command)
        size = opts["image_size"] or 64
        return prepare_folder(opts["dataset"], dev_size=opts["dev_size"],
                              test_size=opts["test_size"], image_size=size,
                              batch_size=opts["batch_size"], workers=data_workers,
                              transform=augmentation(opts, (size, size, 3), command),
                              command=command)
    return prepare(opts["dataset"], test_data=opts["test_data"], dev_size=opts["dev_size"],
                   test_size=opts["test_size"], standardize=opts["standardize"],
                   command=command, examples=opts["examples"], noise=opts["noise"],
                   images=images, image_size=opts["image_size"])



__all__ = [
    "DENSE_MODELS", "IMAGE_MODELS", "MIN_SIZE", "MODELS", "OPTIMIZERS", "SCHEDULES",
    "TRAIN_OPTIONS", "Option", "Recipe", "applies", "augmentation", "build_model",
    "choose_model", "classifier", "convert_option", "hidden_layers", "is_image_data",
    "loss_for", "make_optimizer", "make_schedule", "parse_hidden", "prepare_data",
    "resolve_options", "standard_callbacks", "train_defaults",
]
