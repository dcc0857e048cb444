"""The extra metrics (confusion matrix, top-k accuracy, ROC AUC, log loss, micro / macro /
weighted averages, multi-label) against scikit-learn, and choosing a model with a single
number or with satisficing and optimizing metrics (course 3, 1.3-1.4)."""

import math

import numpy as np
import pytest

import dlkit as dl
from dlkit import metrics as M
from dlkit.strategy.selection import choose, lower_is_better, parse_condition, single_number

skm = pytest.importorskip("sklearn.metrics")


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture(params=range(3))
def data(request):
    rng = np.random.default_rng(request.param)
    return {
        "z_bin": rng.standard_normal((80, 1)) * 2,
        "y_bin": (rng.random((80, 1)) < 0.4).astype(np.float32),
        "z_mc": rng.standard_normal((90, 4)) * 1.5,
        "y_mc": np.r_[np.arange(4), rng.integers(0, 4, 86)],  # every class present
        "z_ml": rng.standard_normal((70, 3)) * 2,
        "y_ml": (rng.random((70, 3)) < 0.5).astype(np.float64),
    }


def test_confusion_matrix_matches_scikit_learn(data):
    z, y = data["z_mc"], data["y_mc"]
    pred = z.argmax(1)
    cm = M.confusion_matrix(z, y)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, pred, labels=range(4)))
    assert cm.sum() == len(y) and np.trace(cm) == round(M.accuracy(z, y) * len(y))
    for norm in ("true", "pred", "all"):
        np.testing.assert_allclose(M.confusion_matrix(z, y, normalize=norm),
                                   skm.confusion_matrix(y, pred, labels=range(4),
                                                        normalize=norm))
    zb, yb = data["z_bin"], data["y_bin"]
    np.testing.assert_array_equal(
        M.confusion_matrix(zb, yb),
        skm.confusion_matrix(yb.ravel(), (zb > 0).ravel().astype(int), labels=[0, 1]))
    # one-hot targets, more classes than the outputs' columns name
    assert M.confusion_matrix(z, np.eye(4)[y], n_classes=6).shape == (6, 6)


def test_top_k_accuracy_matches_scikit_learn(data):
    z, y = data["z_mc"], data["y_mc"]
    for k in (1, 2, 3):
        assert M.top_k_accuracy(z, y, k=k) == pytest.approx(
            skm.top_k_accuracy_score(y, z, k=k, labels=range(4)))
    assert M.top_k_accuracy(z, y, k=1) == pytest.approx(M.accuracy(z, y))
    assert M.top_k_accuracy(z, y, k=4) == 1.0
    assert M.get_metric("top_2_accuracy")(z, y, "logits") == pytest.approx(
        skm.top_k_accuracy_score(y, z, k=2))
    zb, yb = data["z_bin"], data["y_bin"]
    assert M.top_k_accuracy(zb, yb, k=1) == pytest.approx(M.accuracy(zb, yb))
    with pytest.raises(ValueError, match="top_k_accuracy: expected an int k >= 1"):
        M.top_k_accuracy(z, y, k=0)


def test_roc_auc_matches_scikit_learn(data):
    zb, yb = data["z_bin"], data["y_bin"]
    expected = skm.roc_auc_score(yb.ravel(), zb.ravel())
    assert M.roc_auc(zb, yb) == pytest.approx(expected)
    assert M.roc_auc(sigmoid(zb), yb, "probabilities") == pytest.approx(expected)
    rounded = np.round(zb, 0)  # many ties: each tie counts 1/2
    assert M.roc_auc(rounded, yb) == pytest.approx(skm.roc_auc_score(yb.ravel(),
                                                                      rounded.ravel()))
    z, y = data["z_mc"], data["y_mc"]
    for avg in ("macro", "weighted"):
        assert M.roc_auc(z, y, average=avg) == pytest.approx(
            skm.roc_auc_score(y, softmax(z), multi_class="ovr", average=avg))
        assert M.roc_auc(softmax(z), y, "probabilities", average=avg) == pytest.approx(
            skm.roc_auc_score(y, softmax(z), multi_class="ovr", average=avg))
    zm, ym = data["z_ml"], data["y_ml"]
    assert M.roc_auc(zm, ym, "multilabel") == pytest.approx(skm.roc_auc_score(ym, zm))


def test_roc_auc_with_one_class_is_nan():
    assert math.isnan(M.roc_auc(np.array([[0.1], [0.3]]), np.array([[1.0], [1.0]])))


def test_log_loss_matches_scikit_learn(data):
    zb, yb = data["z_bin"], data["y_bin"]
    expected = skm.log_loss(yb.ravel(), sigmoid(zb).ravel())
    assert M.log_loss(zb, yb) == pytest.approx(expected, rel=1e-9)
    assert M.log_loss(sigmoid(zb), yb, "probabilities") == pytest.approx(expected, rel=1e-9)
    z, y = data["z_mc"], data["y_mc"]
    expected = skm.log_loss(y, softmax(z), labels=range(4))
    assert M.log_loss(z, y) == pytest.approx(expected, rel=1e-9)
    assert M.log_loss(z, np.eye(4)[y]) == pytest.approx(expected, rel=1e-9)
    assert M.log_loss(softmax(z), y, "probabilities") == pytest.approx(expected, rel=1e-9)
    # the same as the training loss
    assert M.log_loss(z, y) == pytest.approx(dl.cross_entropy(z, y).item(), rel=1e-9)
    zm, ym = data["z_ml"], data["y_ml"]
    assert M.log_loss(zm, ym, "multilabel") == pytest.approx(
        skm.log_loss(ym.ravel(), sigmoid(zm).ravel()), rel=1e-9)
    # huge logits stay finite: confidently wrong by 1e4 costs 1e4
    assert M.log_loss(np.array([[1e4], [-1e4]]), np.array([[0.0], [0.0]])) == \
        pytest.approx(5e3)
    with pytest.raises(ValueError, match="log_loss: needs output"):
        M.log_loss(zb, yb, "values")


@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
def test_averages_match_scikit_learn(data, average):
    z, y = data["z_mc"], data["y_mc"]
    pred = z.argmax(1)
    zb, yb = data["z_bin"], data["y_bin"]
    pb, tb = (zb > 0).ravel().astype(int), yb.ravel().astype(int)
    zm, ym = data["z_ml"], data["y_ml"]
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                     ("f1", skm.f1_score)):
        assert M.get_metric(f"{name}_{average}")(z, y, "logits") == pytest.approx(
            fn(y, pred, average=average, zero_division=0)), name
        assert M.get_metric(f"{average}_{name}")(zb, yb, "logits") == pytest.approx(
            fn(tb, pb, average=average, zero_division=0)), name
        assert M.get_metric(name)(zm, ym, "multilabel", average=average) == pytest.approx(
            fn(ym.astype(int), (zm > 0).astype(int), average=average, zero_division=0)), name
    if average == "micro":  # one label per example: micro P = R = F1 = accuracy
        assert M.f1(z, y, average="micro") == pytest.approx(M.accuracy(z, y))


def test_multilabel_metrics_skip_missing_labels():
    z = np.array([[2.0, -1.0, 3.0], [-2.0, 1.0, -0.5], [1.0, 1.0, 1.0]])
    y = np.array([[1, np.nan, 0], [0, 1, -1], [np.nan, 0, 1]])
    # labelled: (0,0) right, (0,2) wrong, (1,0) right, (1,1) right, (2,1) wrong, (2,2) right
    assert M.accuracy(z, y, "multilabel") == pytest.approx(4 / 6)
    # pooled over the labelled entries: 5 predicted positive, 3 of them true, 3 positives
    assert M.precision(z, y, "multilabel") == pytest.approx(3 / 5)
    assert M.recall(z, y, "multilabel") == pytest.approx(1.0)
    labelled = ~np.isnan(y) & (y != -1)
    zz, yy = z[labelled], y[labelled]
    assert M.log_loss(z, y, "multilabel") == pytest.approx(
        skm.log_loss(yy, sigmoid(zz), labels=[0, 1]))
    assert M.error(z, y, "multilabel") == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="same shape"):
        M.accuracy(z, y[:, :2], "multilabel")
    with pytest.raises(ValueError, match="confusion_matrix: multi-label"):
        M.confusion_matrix(z, y, "multilabel")


def test_metric_names_and_fit_logs():
    assert M.error(np.array([[1.0], [-1.0]]), np.array([[1.0], [1.0]])) == 0.5
    for name in ("error", "roc_auc", "auc", "log_loss", "top_5_accuracy", "top3_accuracy",
                 "f1_micro", "macro_f1", "recall_weighted"):
        assert callable(M.get_metric(name))
    with pytest.raises(ValueError, match="unknown metric 'top_0_accuracy'"):
        M.get_metric("top_0_accuracy")
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    model = dl.models.mlp(4, [8], 3)
    names = ("accuracy", "top_2_accuracy", "roc_auc", "log_loss", "f1_micro", "error")
    history = dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), 0.05), X,
                           y, epochs=3, metrics=names, validation_data=(X, y))
    out = dl.train.predict(model, X)
    assert history["val_roc_auc"][-1] == pytest.approx(M.roc_auc(out, y))
    assert history["val_log_loss"][-1] == pytest.approx(history["val_loss"][-1], rel=1e-5)
    assert history["val_error"][-1] == pytest.approx(1 - history["val_accuracy"][-1])


# -- choosing a model ---------------------------------------------------------------------------

def test_single_number_metric_as_the_notes():
    # F1 of classifier A (P 95%, R 90%) is 92.4%, of B (98%, 85%) 91.0%: A wins
    f1_a = single_number({"precision": 0.95, "recall": 0.90}, how="harmonic")
    f1_b = single_number({"precision": 0.98, "recall": 0.85}, how="harmonic")
    assert round(f1_a, 3) == 0.924 and round(f1_b, 3) == 0.910
    regions = {"A": [3, 7, 5, 9], "B": [5, 6, 5, 10], "C": [2, 3, 4, 5], "D": [5, 8, 7, 2],
               "E": [4, 5, 2, 4], "F": [7, 11, 8, 12]}
    averages = {k: single_number([v / 100 for v in errs]) for k, errs in regions.items()}
    assert averages["C"] == pytest.approx(0.035) and min(averages, key=averages.get) == "C"
    best = choose({k: {"error": v} for k, v in averages.items()}, optimize="error")
    assert best.best == "C" and best.mode == "min"
    assert single_number([1.0, 3.0], how="weighted", weights=[3, 1]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="expected how"):
        single_number([1.0], how="median")


def test_choose_optimizes_one_metric_and_satisfices_the_others():
    models = {"A": {"accuracy": 0.90, "latency_ms": 80},
              "B": {"accuracy": 0.92, "latency_ms": 95},
              "C": {"accuracy": 0.95, "latency_ms": 1500}}
    choice = choose(models, optimize="accuracy", satisfice={"latency_ms": "<=100"})
    assert choice.best == "B" and choice.value == 0.92
    assert [n for n, _ in choice.ranking] == ["B", "A"]
    assert "latency_ms" in choice.rejected["C"][0] and "C" in str(choice)
    # wake words: maximize accuracy s.t. at most 1 false positive per 24 hours
    listed = [{"name": "x", "accuracy": 0.97, "false_positives_per_day": 3},
              {"name": "y", "accuracy": 0.95, "false_positives_per_day": 1}]
    assert choose(listed, "accuracy", {"false_positives_per_day": ("<=", 1)}).best == "y"
    with pytest.raises(ValueError, match="no model satisfies.*C: latency_ms = 1500"):
        choose(models, "accuracy", {"latency_ms": "<50"})
    with pytest.raises(ValueError, match="unknown metric 'f1' to optimize.*accuracy"):
        choose(models, "f1")
    with pytest.raises(ValueError, match="threshold like"):
        choose(models, "accuracy", {"latency_ms": "fast"})
    assert lower_is_better("dev_loss") and lower_is_better("latency_ms")
    assert not lower_is_better("dev_accuracy") and not lower_is_better("f1")
    assert parse_condition(">=0.9")(0.95) and not parse_condition(">=0.9")(math.nan)
