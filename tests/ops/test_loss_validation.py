"""Binary losses refuse targets (and probabilities) outside [0, 1] instead of a NaN."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops import binary_cross_entropy, binary_cross_entropy_with_logits

BCE_OPS = [binary_cross_entropy_with_logits, binary_cross_entropy]


@pytest.mark.parametrize("op", BCE_OPS)
@pytest.mark.parametrize("bad, shown", [(2.0, "got 2 "), (-1.0, "got -1 "), (1.5, "got 1.5 ")])
def test_targets_outside_the_unit_interval_are_refused(op, bad, shown):
    pred = dl.tensor(np.full((4, 1), 0.5, np.float32), requires_grad=True)
    y = np.array([[0.0], [1.0], [bad], [1.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the error
        with pytest.raises(ValueError, match=f"{op.__name__}: expected targets in \\[0, 1\\], "
                                             f"{shown}.*cross_entropy with integer labels"):
            op(pred, y)


def test_integer_class_labels_beyond_one_name_the_value():
    with pytest.raises(ValueError, match=r"got 2 \(values from 0 to 2\)"):
        binary_cross_entropy_with_logits(dl.tensor(np.zeros(3)), np.array([0, 1, 2]))


@pytest.mark.parametrize("bad", [1.5, -0.25])
def test_probabilities_outside_the_unit_interval_are_refused(bad):
    a = dl.tensor(np.array([0.2, bad, 0.9]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=f"binary_cross_entropy: expected probabilities a "
                                             f"in \\[0, 1\\], got {bad:g} .*logits"):
            binary_cross_entropy(a, np.array([0.0, 1.0, 1.0]))


@pytest.mark.parametrize("op", BCE_OPS)
def test_edges_and_soft_targets_are_accepted(op):
    pred = dl.tensor(np.array([0.0, 1.0, 0.3, 0.7]), requires_grad=True)
    loss = op(pred, np.array([0.0, 1.0, 0.25, 0.5]))
    assert np.isfinite(loss.item())
    loss.backward()
    assert np.isfinite(pred.grad).all()


def test_bool_targets_and_empty_batches_pass():
    z = dl.tensor(np.array([0.5, -0.5]))
    assert np.isfinite(binary_cross_entropy_with_logits(z, np.array([True, False])).item())
    empty = binary_cross_entropy_with_logits(dl.tensor(np.zeros((0, 1))), np.zeros((0, 1)),
                                             reduction="sum")
    assert empty.item() == 0.0


def test_nan_passes_through_for_the_training_loop_to_report():
    loss = binary_cross_entropy_with_logits(dl.tensor(np.array([np.nan, 0.0])),
                                            np.array([1.0, 0.0]))
    assert np.isnan(loss.item())


def test_fit_with_a_binary_loss_and_labels_0_1_2_stops_with_the_message():
    X = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    y = np.array([0, 1, 2] * 4, np.float32).reshape(-1, 1)
    model = dl.nn.Linear(3, 1)
    with pytest.raises(ValueError, match="expected targets in \\[0, 1\\], got 2"):
        dl.train.fit(model, "binary_cross_entropy_with_logits",
                     dl.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1, batch_size=12)


def test_matches_pytorch_which_refuses_probabilities_outside_the_unit_interval():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.nn.functional.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError):
        binary_cross_entropy(dl.tensor(np.array([1.5])), np.array([1.0]))
