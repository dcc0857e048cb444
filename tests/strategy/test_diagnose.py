"""Bias / variance / data mismatch diagnosis on hand-made error tables (the notes' examples,
course 3: 1.9-1.12, 2.5), from run folders, and learning curves."""

import json

import pytest

import dlkit as dl
from dlkit.strategy.diagnose import (
    RECIPES,
    diagnose_errors,
    diagnose_run,
    learning_curve,
    plot_learning_curve,
)


def recipe_text(d):
    return " ".join(d.recipe)


# (human, train, train-dev, dev, test) -> the largest gap, and words its recipe must hold
CASES = {
    "avoidable_bias": ((0.0, 0.15, None, 0.16, None), ("bigger network", "train longer",
                                                       "better optimization")),
    "variance": ((0.0, 0.01, 0.09, 0.10, None), ("more training data", "regularize")),
    "data_mismatch": ((0.0, 0.01, 0.015, 0.10, None), ("error analysis", "synthesize",
                                                       "collect more training data like")),
    "dev_overfitting": ((0.01, 0.02, 0.025, 0.03, 0.08), ("bigger dev set",)),
}


@pytest.mark.parametrize("gap", sorted(CASES))
def test_each_case_of_the_recipe(gap):
    (human, train, train_dev, dev, test), words = CASES[gap]
    d = diagnose_errors(train, dev, human=human, train_dev=train_dev, test=test)
    assert d.largest == gap
    assert d.recipe == RECIPES[gap]
    for w in words:
        assert w in recipe_text(d)
    text = str(d)
    assert "<- largest" in text and "what to try:" in text


def test_the_notes_tables():
    # human 4%, train 7%, train-dev 10%, dev 12%, test 12%: bias 3%, variance 3%, mismatch 2%
    d = diagnose_errors(0.07, 0.12, human=0.04, train_dev=0.10, test=0.12)
    assert d.gaps == pytest.approx({"avoidable_bias": 0.03, "variance": 0.03,
                                    "data_mismatch": 0.02, "dev_overfitting": 0.0})
    assert d.largest == "avoidable_bias"  # a tie goes to the earlier gap: fit training first
    # train 10%, train-dev 11%, dev 20% with human ~0%: bias and data mismatch both large
    d = diagnose_errors(0.10, 0.20, human=0.0, train_dev=0.11)
    assert d.largest == "avoidable_bias" and d.gaps["data_mismatch"] == pytest.approx(0.09)
    # train 1%, dev 10%, same distribution, no train-dev: variance
    d = diagnose_errors(0.01, 0.10, human=0.0)
    assert d.largest == "variance" and "mixes variance and data mismatch" in " ".join(d.notes)
    # the speech example: dev/test easier than the training data
    d = diagnose_errors(0.07, 0.06, human=0.04, train_dev=0.10, test=0.06)
    assert d.gaps["data_mismatch"] == pytest.approx(-0.04)
    assert any("easier" in n for n in d.notes)
    # human-level proxies for Bayes error: 0.5% (a team of doctors) vs 1% change the call
    assert diagnose_errors(0.007, 0.008, human=0.005).largest == "avoidable_bias"
    assert diagnose_errors(0.007, 0.02, human=0.005).largest == "variance"


def test_no_gap_no_human_and_surpassing_human_level():
    d = diagnose_errors(0.02, 0.02, human=0.02)
    assert d.largest is None and "change the dev/test set or the metric" in recipe_text(d)
    d = diagnose_errors(0.05, 0.06)
    assert d.largest == "avoidable_bias" and "Bayes error taken as 0" in d.notes[0]
    d = diagnose_errors(0.003, 0.004, human=0.005)
    assert d.gaps["avoidable_bias"] < 0 and any("below human-level" in n for n in d.notes)
    assert d.to_dict()["largest"] == d.largest
    json.dumps(d.to_dict())


def test_bad_errors_are_clear():
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\] \(8% is 0.08\)"):
        diagnose_errors(8, 0.1)
    with pytest.raises(ValueError, match="got dev = -0.1"):
        diagnose_errors(0.1, -0.1)
    with pytest.raises(ValueError, match="expected a number for the human-level error"):
        diagnose_errors(0.1, 0.2, human="low")


def write_run(folder, **splits):
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({**splits, "epochs": 5}))
    (folder / "config.json").write_text(json.dumps({"options": {"lr": 0.1}}))
    return folder


def test_diagnose_a_run_folder(tmp_path):
    run = write_run(tmp_path / "run", train={"accuracy": 0.92, "f1": 0.9},
                    train_dev={"accuracy": 0.91, "f1": 0.88},
                    dev={"accuracy": 0.80, "f1": 0.75}, test={"accuracy": 0.79, "f1": 0.74})
    d = diagnose_run(run, human=0.01)
    assert d.errors["train"] == pytest.approx(0.08) and d.errors["dev"] == pytest.approx(0.2)
    assert d.largest == "data_mismatch"
    assert diagnose_run(run, metric="f1").errors["dev"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown metric 'auc'.*'accuracy', 'f1'"):
        diagnose_run(run, metric="auc")
    with pytest.raises(FileNotFoundError, match="not found"):
        diagnose_run(tmp_path / "nope")


def test_learning_curve_and_its_picture(tmp_path):
    dl.manual_seed(0)
    X, y = dl.data.make_moons(m=300, noise=0.25)
    X_train, X_dev, y_train, y_dev = dl.data.train_dev_split(X, y, dev=0.3)

    def build():
        model = dl.models.mlp(2, [16], 1, "relu")
        return model, dl.optim.Adam(model.parameters(), lr=0.02)

    curve = learning_curve(build, "bce_logits", X_train, y_train, X_dev, y_dev,
                           sizes=(10, 0.5, 1.0), epochs=40, batch_size=32)
    assert curve.sizes == [10, 105, 210]
    assert all(0 <= e <= 1 for e in curve.train_error + curve.dev_error)
    # ten examples are memorized but do not generalize: the dev error falls with more data
    assert curve.train_error[0] <= curve.dev_error[0]
    assert curve.dev_error[-1] < curve.dev_error[0]
    assert "train error" in str(curve)
    pytest.importorskip("matplotlib")
    path = plot_learning_curve(curve, tmp_path / "curve.png", human=0.05)
    image = __import__("matplotlib.image", fromlist=["imread"]).imread(path)
    assert image.ndim == 3 and image.shape[0] > 100
    with pytest.raises(ValueError, match="learning_curve: size 0"):
        learning_curve(build, "bce_logits", X_train, y_train, X_dev, y_dev, sizes=(0,))
