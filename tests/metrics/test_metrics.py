"""Accuracy, precision, recall and F1: hand-computed values, scikit-learn, and fit's logs."""

import warnings

import numpy as np
import pytest

import dlkit as dl
from dlkit import metrics as M

# logits -> predictions [1, 0, 1, 0, 1, 0]; labels [1, 1, 0, 0, 1, 1]: TP 2, FP 1, FN 2, TN 1
LOGITS = np.array([[2.0], [-1.0], [0.5], [-3.0], [1.0], [-0.2]])
LABELS = np.array([[1], [1], [0], [0], [1], [1]], dtype=np.float32)


def test_binary_from_logits_by_hand():
    assert M.accuracy(LOGITS, LABELS) == pytest.approx(3 / 6)
    assert M.precision(LOGITS, LABELS) == pytest.approx(2 / 3)
    assert M.recall(LOGITS, LABELS) == pytest.approx(2 / 4)
    p, r = 2 / 3, 1 / 2
    assert M.f1(LOGITS, LABELS) == pytest.approx(2 * p * r / (p + r))  # = 4/7


def test_binary_from_probabilities_thresholds_at_half():
    probs = 1 / (1 + np.exp(-LOGITS))
    for name in ("precision", "recall", "f1"):
        assert M.get_metric(name)(probs, LABELS, "probabilities") == \
            pytest.approx(M.get_metric(name)(LOGITS, LABELS, "logits"))
    # the same numbers read as logits would all be positive predictions (> 0)
    assert M.recall(probs, LABELS, "logits") == 1.0


def test_multiclass_macro_by_hand():
    # predictions [0, 1, 2, 2, 1, 0], labels [0, 1, 1, 2, 2, 2]
    outputs = np.eye(3)[[0, 1, 2, 2, 1, 0]] * 5.0
    labels = np.array([0, 1, 1, 2, 2, 2])
    # class 0: TP 1, pred 2, true 1 -> P 1/2, R 1;   class 1: TP 1, pred 2, true 2 -> 1/2, 1/2
    # class 2: TP 1, pred 2, true 3 -> P 1/2, R 1/3
    assert M.precision(outputs, labels) == pytest.approx((1 / 2 + 1 / 2 + 1 / 2) / 3)
    assert M.recall(outputs, labels) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    f1s = [2 * 1 / (2 + 1), 2 * 1 / (2 + 2), 2 * 1 / (2 + 3)]
    assert M.f1(outputs, labels) == pytest.approx(np.mean(f1s))
    one_hot = np.eye(3)[labels]
    assert M.f1(outputs, one_hot) == pytest.approx(np.mean(f1s))


def test_zero_division_is_zero_without_warning():
    negatives = np.full((4, 1), -5.0)
    labels = np.zeros((4, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert M.precision(negatives, labels) == 0.0
        assert M.recall(negatives, labels) == 0.0
        assert M.f1(negatives, labels) == 0.0
        # predicted positives, none true: precision 0; no positives to recall: 0
        assert M.precision(-negatives, labels) == 0.0
        assert M.f1(np.zeros((0, 1)), np.zeros((0, 1))) == 0.0


def test_errors_name_the_metric():
    with pytest.raises(ValueError, match="precision: binary outputs need labels in"):
        M.precision(LOGITS, np.array([0, 1, 2, 0, 1, 0]))
    with pytest.raises(ValueError, match="recall: expected average"):
        M.recall(LOGITS, LABELS, average="micro-ish")
    with pytest.raises(ValueError, match="f1: average='binary' needs one output column"):
        M.f1(np.eye(3), np.arange(3), average="binary")
    with pytest.raises(ValueError, match="f1: outputs of shape"):
        M.f1(LOGITS, LABELS[:4])
    with pytest.raises(ValueError, match="unknown metric"):
        M.get_metric("auc-ish")


@pytest.mark.parametrize("seed", range(5))
def test_matches_scikit_learn(seed):
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    # binary, logits
    z = rng.standard_normal((50, 1))
    y = (rng.random((50, 1)) < 0.4).astype(np.float32)
    pred = (z > 0).astype(int).ravel()
    yt = y.astype(int).ravel()
    assert M.precision(z, y) == pytest.approx(skm.precision_score(yt, pred, zero_division=0))
    assert M.recall(z, y) == pytest.approx(skm.recall_score(yt, pred, zero_division=0))
    assert M.f1(z, y) == pytest.approx(skm.f1_score(yt, pred, zero_division=0))
    assert M.f1(z, y, average="macro") == pytest.approx(
        skm.f1_score(yt, pred, average="macro", zero_division=0))
    # multiclass: 5 output columns, labels from 4 classes (class 4 may be predicted only)
    out = rng.standard_normal((60, 5))
    labels = rng.integers(0, 4, 60)
    pred = out.argmax(1)
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                     ("f1", skm.f1_score)):
        expected = fn(labels, pred, average="macro", zero_division=0)
        assert M.get_metric(name)(out, labels) == pytest.approx(expected), name


def test_fit_logs_named_metrics():
    dl.manual_seed(0)
    X, y = dl.data.make_flower(100)
    model = dl.nn.Sequential(dl.nn.Linear(2, 8), dl.nn.Tanh(), dl.nn.Linear(8, 1))
    history = dl.train.fit(model, "bce_logits", dl.optim.Adam(model.parameters(), lr=0.01),
                           X, y, epochs=2, metrics=("accuracy", "precision", "recall", "f1"),
                           validation_data=(X, y))
    for key in ("accuracy", "precision", "recall", "f1", "val_f1", "val_precision"):
        assert key in history and 0.0 <= history[key][-1] <= 1.0
    outputs = dl.train.predict(model, X)
    assert history["val_f1"][-1] == pytest.approx(M.f1(outputs, y))
