"""Recipes: options -> model, optimizer, schedule, callbacks; one table of training options
shared by dlkit train and dlkit tune."""

from __future__ import annotations

import pytest

import dlkit as dl
from dlkit import recipes
from dlkit.errors import UserError


def test_the_train_command_and_the_option_table_agree():
    """dlkit tune validates its [train] table against TRAIN_OPTIONS; dlkit train parses the
    same options: names and defaults must not drift apart."""
    from dlkit.cli.train import train

    params = {p.name: p for p in train.params if p.name not in (
        "out", "progress", "task", "overwrite", "checkpoint_every", "resume", "data_workers",
        "device")}
    assert set(params) == set(recipes.TRAIN_OPTIONS)
    for name, spec in recipes.TRAIN_OPTIONS.items():
        default = params[name].default
        if not isinstance(default, (str, int, float, bool, type(None))):
            default = None  # click's "unset" sentinel of a flag
        assert (default or None) == (spec.default or None), name


@pytest.mark.parametrize("dataset,given,expected", [
    ("digits", set(), "cnn"),
    ("digits", {"hidden", "activation", "batch_norm"}, "mlp"),
    ("moons", {"hidden"}, "mlp"),
    ("flower", set(), "mlp"),
    ("train_catvnoncat.h5", {"hidden"}, "mlp"),
    ("train_catvnoncat.h5", set(), "cnn"),
])
def test_the_default_model_follows_the_data(dataset, given, expected):
    assert recipes.choose_model({"dataset": dataset, "model": None}, given) == expected


@pytest.mark.parametrize("model,option", [("cnn", "hidden"), ("lenet5", "dropout"),
                                          ("mlp", "flip"), ("resnet", "batch_norm"),
                                          ("logreg", "activation")])
def test_an_option_the_model_does_not_use_is_an_error_naming_both(model, option):
    flag = "--" + option.replace("_", "-")
    with pytest.raises(UserError, match=f"{flag} does not apply to --model {model}"):
        recipes.choose_model({"dataset": "digits", "model": model}, {option})


def test_resolve_fills_derived_defaults():
    opts = recipes.resolve_options({"dataset": "digits", "model": "lenet5"})
    assert opts["epochs"] == 10 and opts["image_size"] == 32 and not opts["standardize"]
    opts = recipes.resolve_options({"dataset": "breast_cancer"})
    assert opts["model"] == "mlp" and opts["epochs"] == 200 and opts["standardize"]


def test_convert_option_checks_types_choices_and_bounds():
    assert recipes.convert_option("epochs", 3.0) == 3
    with pytest.raises(UserError, match="expected an integer"):
        recipes.convert_option("epochs", 2.5)
    with pytest.raises(UserError, match="expected one of"):
        recipes.convert_option("optimizer", "adamw")
    with pytest.raises(UserError, match=">= 0"):
        recipes.convert_option("lr", -1)
    with pytest.raises(UserError, match="unknown option 'lrr'"):
        recipes.convert_option("lrr", 1)


def test_classifier_recipe_builds_what_the_options_say():
    opts = recipes.resolve_options({"dataset": "moons", "model": "mlp", "hidden": "5,3",
                                    "activation": "relu", "optimizer": "momentum",
                                    "schedule": "step", "early_stopping": 3},
                                   {"hidden", "activation"})
    r = recipes.classifier(opts, (2,), "binary", 2, beta=0.8)
    shapes = [p.shape for p in r.model.parameters()]
    assert shapes == [(5, 2), (5,), (3, 5), (3,), (1, 3), (1,)]
    assert isinstance(r.optimizer, dl.optim.Momentum) and r.optimizer.beta == 0.8
    assert r.loss == "bce_logits"
    kinds = [type(cb).__name__ for cb in r.callbacks]
    assert kinds == ["LearningRateScheduler", "EarlyStopping"]
    with pytest.raises(UserError, match="sgd \\(no beta\\)"):
        recipes.make_optimizer("sgd", r.model.parameters(), 0.1, beta=0.9)


def test_options_the_model_does_not_use_are_recorded_as_none():
    opts = recipes.resolve_options({"dataset": "digits", "model": "lenet5"})
    assert opts["activation"] is None and opts["hidden"] is None and opts["dropout"] is None
    opts = recipes.resolve_options({"dataset": "moons", "model": "logreg"})
    assert opts["hidden"] is None and opts["activation"] is None
    model = recipes.build_model(opts, (2,), 1)
    assert [p.shape for p in model.parameters()] == [(1, 2), (1,)]
