"""Bad input gets a clear error naming the op, the expected and the given shapes or dtypes."""

from __future__ import annotations

import re

import numpy as np
import pytest

import dlkit as dl


def _raises(exc, f, *fragments):
    """Assert ``f()`` raises ``exc`` and its message contains every fragment."""
    with pytest.raises(exc) as info:
        f()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def test_linear_with_examples_as_columns_says_transpose():
    x_columns = np.zeros((4, 10))  # the notes' (n_x, m) with n_x = 4, m = 10
    w, b = np.zeros((3, 4)), np.zeros(3)
    msg = _raises(dl.ShapeError, lambda: dl.linear(x_columns, w, b),
                  "linear", "(4, 10)", "(3, 4)", "transpose")
    assert "(10, 4)" in msg  # the shape x.T would have


def test_linear_with_a_plainly_wrong_width_gives_no_transpose_hint():
    msg = _raises(dl.ShapeError, lambda: dl.linear(np.zeros((10, 5)), np.zeros((3, 4))),
                  "linear", "(10, 5)", "(3, 4)")
    assert "transpose" not in msg


def test_linear_with_a_column_bias_says_reshape():
    _raises(dl.ShapeError, lambda: dl.linear(np.zeros((10, 4)), np.zeros((3, 4)),
                                             np.zeros((3, 1))),
            "linear", "(3,)", "(3, 1)", "reshape(-1)")


def test_shape_error_is_a_value_error_and_dtype_error_a_type_error():
    assert issubclass(dl.ShapeError, ValueError) and issubclass(dl.DTypeError, TypeError)


@pytest.mark.parametrize("loss", [dl.binary_cross_entropy, dl.binary_cross_entropy_with_logits,
                                  dl.mse_loss], ids=lambda f: f.__name__)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_loss_with_vector_labels_against_column_predictions_is_an_error(loss, reduction):
    """(m,) labels vs (m, 1) predictions would broadcast to (m, m): never computed."""
    a, y = np.full((5, 1), 0.5), np.zeros(5)
    _raises(dl.ShapeError, lambda: loss(a, y, reduction=reduction),
            loss.__name__, "(5, 1)", "(5,)", "y.reshape(-1, 1)")
    _raises(dl.ShapeError, lambda: loss(a.reshape(-1), y.reshape(-1, 1), reduction=reduction),
            loss.__name__, "(5, 1)", "(5,)", "y.reshape(-1)")


def test_loss_with_transposed_targets_says_so():
    _raises(dl.ShapeError, lambda: dl.mse_loss(np.zeros((2, 5)), np.zeros((5, 2))),
            "mse_loss", "(2, 5)", "(5, 2)", "transposed")


@pytest.mark.parametrize("labels", [[0, 1, 2, 3, 0], [0, 1, 2, -2, 0]], ids=["high", "negative"])
def test_cross_entropy_with_out_of_range_labels(labels):
    bad = max(labels, key=lambda v: abs(v - 1))
    _raises(ValueError, lambda: dl.cross_entropy(np.zeros((5, 3)), np.array(labels)),
            "cross_entropy", "[0, 3)", "3 classes", str(bad))


def test_cross_entropy_ignore_index_is_exempt_from_the_range_check():
    loss = dl.cross_entropy(np.zeros((3, 3)), np.array([0, -100, 2]))
    np.testing.assert_allclose(loss.item(), np.log(3.0))
    _raises(ValueError, lambda: dl.cross_entropy(np.zeros((3, 3)), np.array([0, -100, 2]),
                                                 ignore_index=-1), "cross_entropy", "-100")


def test_cross_entropy_with_column_labels_says_reshape():
    _raises(dl.ShapeError, lambda: dl.cross_entropy(np.zeros((5, 3)), np.zeros((5, 1), int)),
            "cross_entropy", "(5,)", "(5, 1)", "y.reshape(-1)")


def test_cross_entropy_with_integer_one_hot_targets_says_so():
    _raises(dl.ShapeError, lambda: dl.cross_entropy(np.zeros((5, 3)), np.eye(3, dtype=int)[
        [0, 1, 2, 0, 1]]), "cross_entropy", "(5, 3)", "one-hot")


def test_cross_entropy_with_mismatched_probabilities():
    _raises(dl.ShapeError, lambda: dl.cross_entropy(np.zeros((5, 3)), np.full((5, 4), 0.25)),
            "cross_entropy", "(5, 3)", "(5, 4)")


def test_cross_entropy_with_integer_logits_is_a_dtype_error():
    _raises(dl.DTypeError, lambda: dl.cross_entropy(np.zeros((5, 3), int), np.zeros(5, int)),
            "cross_entropy", "int64", "(5, 3)")


@pytest.mark.parametrize("loss, args", [
    (dl.cross_entropy, (np.zeros((5, 3)), np.zeros(5, int))),
    (dl.binary_cross_entropy, (np.full(3, 0.5), np.zeros(3))),
    (dl.binary_cross_entropy_with_logits, (np.zeros(3), np.zeros(3))),
    (dl.mse_loss, (np.zeros(3), np.zeros(3))),
], ids=lambda v: getattr(v, "__name__", ""))
def test_losses_reject_an_unknown_reduction(loss, args):
    _raises(ValueError, lambda: loss(*args, reduction="avg"), loss.__name__, "'avg'", "'mean'")


def test_matmul_inner_dimension_mismatch():
    _raises(dl.ShapeError, lambda: dl.matmul(np.zeros((2, 3)), np.zeros((4, 5))),
            "matmul", "(2, 3)", "(4, 5)")
    _raises(dl.ShapeError, lambda: dl.tensor(np.zeros((2, 3))) @ dl.tensor(np.zeros((5, 3))),
            "matmul", "(2, 3)", "(5, 3)", "transpose")
    msg = _raises(dl.ShapeError, lambda: dl.matmul(np.zeros((2, 3)), np.zeros(5)),
                  "matmul", "(2, 3)", "(5,)")
    assert "  " not in msg
    _raises(dl.ShapeError, lambda: dl.matmul(np.zeros((2, 3)), np.float64(2.0)),
            "matmul", "()", "*")


def test_reshape_to_an_incompatible_shape():
    _raises(dl.ShapeError, lambda: dl.reshape(np.zeros((2, 3)), (4, 2)),
            "reshape", "(2, 3)", "6 elements", "(4, 2)")
    _raises(dl.ShapeError, lambda: dl.tensor(np.zeros(6)).reshape(4, -1), "reshape", "(4, -1)")


def test_concat_and_stack_mismatch():
    _raises(dl.ShapeError, lambda: dl.concat([np.zeros((2, 3)), np.zeros((3, 2))], axis=0),
            "concat", "axis 0", "(2, 3)", "(3, 2)")
    _raises(dl.ShapeError, lambda: dl.stack([np.zeros((2, 3)), np.zeros((3, 2))]),
            "stack", "(2, 3)", "(3, 2)")
    _raises(ValueError, lambda: dl.concat([]), "concat")
    _raises(ValueError, lambda: dl.stack([]), "stack")


def test_transpose_and_squeeze_misuse():
    _raises(dl.ShapeError, lambda: dl.transpose(np.zeros((2, 3)), (0, 0)),
            "transpose", "permutation", "(0, 0)")
    _raises(dl.ShapeError, lambda: dl.squeeze(np.zeros((2, 3)), 1), "squeeze", "axis 1", "3")


@pytest.mark.parametrize("op", [dl.sum, dl.mean, dl.max, dl.min, dl.var, dl.logsumexp],
                         ids=lambda f: f.__name__)
def test_reduction_axis_out_of_range_names_the_op(op):
    _raises(ValueError, lambda: op(np.zeros((2, 3)), axis=2), op.__name__, "axis 2", "2 dims")
    _raises(ValueError, lambda: op(np.zeros((2, 3)), axis=-3), op.__name__, "axis -3")


@pytest.mark.parametrize("op", [dl.max, dl.min], ids=lambda f: f.__name__)
def test_max_min_of_an_empty_tensor_names_the_op(op):
    _raises(ValueError, lambda: op(np.zeros((0, 3))), f"{op.__name__}: ", "empty")


def test_batch_norm_misuse():
    _raises(dl.ShapeError, lambda: dl.batch_norm(np.zeros((4, 3)), np.ones(4), np.zeros(4)),
            "batch_norm", "gamma", "(3,)", "(4,)", "channels-last")
    _raises(dl.ShapeError, lambda: dl.batch_norm(np.zeros((4, 3)), running_mean=np.zeros(4),
                                                 running_var=np.ones(3)),
            "batch_norm", "running_mean", "(4,)")
    _raises(ValueError, lambda: dl.batch_norm(np.zeros((1, 3))), "batch_norm", "(1, 3)", "eval")
    _raises(ValueError, lambda: dl.batch_norm(np.zeros((4, 3)), training=False),
            "batch_norm", "running_mean")
    _raises(ValueError, lambda: dl.batch_norm(np.zeros((4, 3)), None, np.zeros(3)),
            "batch_norm", "beta", "gamma")


def test_dropout_clip_pad_misuse():
    _raises(ValueError, lambda: dl.dropout(np.zeros(3), 1.5), "dropout", "[0, 1]", "1.5")
    _raises(ValueError, lambda: dl.clip(np.zeros(3)), "clip", "lo", "hi")
    _raises(ValueError, lambda: dl.pad(np.zeros(3), -1), "pad", "-1")


def test_gradient_check_rejects_float32_inputs():
    f = lambda x: (x * x).sum()  # noqa: E731
    x32 = np.ones(3, np.float32)
    _raises(TypeError, lambda: dl.gradient_check(f, [np.ones(2), x32]),
            "gradient_check", "input 1", "float32", "float64")
    _raises(TypeError, lambda: dl.gradient_check_directional(f, [x32]),
            "gradient_check_directional", "float32")


def test_gradient_check_rejects_a_non_scalar_function():
    _raises(ValueError, lambda: dl.gradient_check(lambda x: x * 2.0, [np.ones(3)]),
            "gradient_check", "(3,)", ".sum()")


def test_errors_name_both_shapes_in_order():
    """The given shape comes after 'got', the expected one before it."""
    msg = _raises(dl.ShapeError, lambda: dl.mse_loss(np.zeros((4, 1)), np.zeros(4)))
    assert re.search(r"expected .*\(4, 1\).*got \(4,\)", msg)
