"""The multi-task loss of course 3: logistic loss per label, summed over the labels an example
has; the "?" labels (NaN, -1 or a mask) add nothing. Gradient checks in float64, the notes'
formula by hand, and fit learning with missing labels."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.nn.losses import LOSSES

THRESHOLD = 2e-7
NAN = np.nan
# the notes' Y with "?" entries: 4 examples (rows), 4 tasks (pedestrian, car, stop, light)
Y = np.array([[1, 1, NAN, NAN], [0, 1, NAN, NAN], [NAN, NAN, 0, 1], [NAN, NAN, 1, NAN]])


def logits(shape=(4, 4), seed=0):
    return 2.0 * np.random.default_rng(seed).standard_normal(shape)


def by_hand(z, y, mask):
    a = 1 / (1 + np.exp(-z))
    losses = np.where(mask, -(np.nan_to_num(y) * np.log(a) + (1 - np.nan_to_num(y)) *
                             np.log(1 - a)), 0.0)
    return losses


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_value_is_the_notes_sum_over_labelled_entries(reduction):
    z = logits()
    mask = ~np.isnan(Y)
    losses = by_hand(z, Y, mask)
    out = dl.multilabel_bce_with_logits(z, Y, reduction=reduction).numpy()
    expected = {"mean": losses.sum() / mask.sum(), "batchmean": losses.sum() / len(z),
                "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum"])
@pytest.mark.parametrize("missing", ["nan", "minus_one", "mask"])
def test_gradient_check_with_missing_labels(reduction, missing):
    z = logits(seed=1)
    if missing == "nan":
        y, kwargs = Y, {}
    elif missing == "minus_one":
        y, kwargs = np.where(np.isnan(Y), -1.0, Y), {}
    else:
        y, kwargs = np.nan_to_num(Y), {"mask": ~np.isnan(Y)}

    def f(zz):
        return dl.multilabel_bce_with_logits(zz, y, reduction=reduction, **kwargs)

    assert dl.gradient_check(f, [z]) < THRESHOLD


def test_gradient_check_of_soft_targets_and_logits_together():
    rng = np.random.default_rng(3)
    z, y = logits((5, 3), 2), rng.uniform(0.05, 0.95, (5, 3))
    mask = rng.random((5, 3)) < 0.6

    def f(zz, yy):
        return (dl.multilabel_bce_with_logits(zz, yy, mask=mask, reduction="none") *
                np.arange(15.0).reshape(5, 3)).sum()

    assert dl.gradient_check(f, [z, y]) < THRESHOLD


def test_unlabelled_entries_get_no_gradient_and_all_missing_costs_zero():
    z = dl.tensor(logits(), requires_grad=True)
    dl.multilabel_bce_with_logits(z, Y).backward()
    assert np.all(z.grad[np.isnan(Y)] == 0) and np.all(z.grad[~np.isnan(Y)] != 0)
    a = 1 / (1 + np.exp(-z.numpy()))
    np.testing.assert_allclose(z.grad[~np.isnan(Y)],  # dZ = (A - Y) / N on labelled entries
                               ((a - np.nan_to_num(Y)) / (~np.isnan(Y)).sum())[~np.isnan(Y)])
    z2 = dl.tensor(logits(), requires_grad=True)
    cost = dl.multilabel_bce_with_logits(z2, np.full((4, 4), NAN))
    cost.backward()
    assert cost.item() == 0.0 and np.all(z2.grad == 0)


def test_float32_stays_float32_and_huge_logits_are_finite():
    z = dl.tensor(np.array([[1e4, -1e4], [-1e4, 3.0]], np.float32), requires_grad=True)
    y = np.array([[0.0, 1.0], [NAN, 1.0]], np.float32)
    cost = dl.multilabel_bce_with_logits(z, y)
    cost.backward()
    assert cost.dtype == np.float32 and z.grad.dtype == np.float32
    assert np.isfinite(cost.item()) and np.isfinite(z.grad).all()
    assert cost.item() == pytest.approx((2e4 + np.log1p(np.exp(-3.0))) / 3, rel=1e-6)


def test_bad_input_is_a_clear_error():
    z = logits()
    with pytest.raises(ValueError, match="multilabel_bce_with_logits: labels must be 0/1"):
        dl.multilabel_bce_with_logits(z, np.full((4, 4), 2.0))
    with pytest.raises(dl.ShapeError, match="multilabel_bce_with_logits: expected target"):
        dl.multilabel_bce_with_logits(z, Y[:, :3])
    with pytest.raises(dl.ShapeError, match="mask of the logits' shape"):
        dl.multilabel_bce_with_logits(z, Y, mask=np.ones((4, 3), bool))
    with pytest.raises(ValueError, match="expected reduction"):
        dl.multilabel_bce_with_logits(z, Y, reduction="avg")


def test_fit_learns_several_tasks_from_partly_labelled_data():
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 6)).astype(np.float32)
    W = rng.standard_normal((6, 4))
    Y_full = (X @ W > 0).astype(np.float32)
    Y_partial = Y_full.copy()
    Y_partial[rng.random(Y_full.shape) < 0.4] = NAN  # 40% of the labels missing
    assert {"multilabel_bce", "multilabel_bce_with_logits", "multi_task"} <= set(LOSSES)
    model = dl.models.mlp(6, [16], 4, "relu")
    history = dl.train.fit(model, "multilabel_bce", dl.optim.Adam(model.parameters(), 0.01),
                           X, Y_partial, epochs=25, batch_size=64,
                           validation_data=(X, Y_full), metrics=("accuracy", "f1_macro"))
    assert np.isfinite(history["loss"]).all()
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9 and history["val_f1_macro"][-1] > 0.9
    logs = dl.train.evaluate(model, "multilabel_bce", X, Y_partial, metrics=("accuracy",))
    assert np.isfinite(logs["loss"]) and logs["accuracy"] > 0.9
