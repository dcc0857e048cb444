"""Class labels checked against the task; LabelEncoder maps labels to 0..C-1 and back."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import (
    ClassInfo,
    LabelEncoder,
    LabelError,
    check_class_labels,
    check_labels_fit,
)

# ---- check_class_labels ------------------------------------------------------------------


def test_binary_and_multiclass_are_detected():
    info = check_class_labels(np.array([0, 1, 1, 0]))
    assert (info.task, info.n_classes, info.n_outputs, info.classes) == ("binary", 2, 1, (0, 1))
    t = info.targets(np.array([0, 1, 1, 0]))
    assert t.shape == (4, 1) and t.dtype == np.float32
    info = check_class_labels(np.array([[2.0], [0.0], [1.0], [2.0]]))
    assert (info.task, info.n_classes, info.n_outputs) == ("multiclass", 3, 3)
    t = info.targets(np.array([[2.0], [0.0]]))
    assert t.shape == (2,) and t.dtype == np.int64
    assert check_class_labels(np.array([True, False])).task == "binary"
    assert check_class_labels(np.array([0, 1]), task="multiclass").n_outputs == 2


def test_labels_1_2_are_not_a_three_class_problem_with_a_phantom_class():
    with pytest.raises(LabelError, match=r"take 2 values \{1, 2\}, not 0..1: a model would get 3 "
                                         r"outputs, 1 of them for classes with no example "
                                         r"\(such as \{0\}\).*LabelEncoder"):
        check_class_labels(np.array([1, 2, 2, 1]))


def test_huge_label_values_ask_for_an_encoding_without_building_anything_huge():
    with pytest.raises(LabelError, match=r"\{0, 1000000\}.*1000001 outputs.*LabelEncoder"):
        check_class_labels(np.array([0, 1_000_000, 0]), command="train")
    with pytest.raises(LabelError, match="LabelEncoder"):
        check_class_labels(np.array([0.0, 3e30]))


def test_a_single_class_is_an_error_not_binary():
    with pytest.raises(LabelError, match="train: all 5 labels are 1: a classifier needs at "
                                         "least two classes"):
        check_class_labels(np.ones(5), command="train")


@pytest.mark.parametrize("y, message", [
    (np.array([-1, 1, -1]), "class indices >= 0, got -1.*LabelEncoder"),
    (np.array([0.5, 1.0]), "whole-number class labels, got 0.5 at row 0.*continuous"),
    (np.array([0.0, np.nan]), "labels hold nan at row 1 .*missing"),
    (np.array(["cat", "dog"]), "numeric class labels.*LabelEncoder"),
    (np.eye(3), r"shape \(m,\) or \(m, 1\), got \(3, 3\); one-hot.*from_one_hot"),
    (np.array([], dtype=np.int64), "no labels"),
])
def test_bad_labels_get_a_clear_error(y, message):
    with pytest.raises(LabelError, match=message) as info:
        check_class_labels(y)
    assert isinstance(info.value, ValueError)
    assert info.value.where == "check_class_labels" and info.value.reason in str(info.value)


def test_binary_task_refuses_other_labels_and_unknown_tasks_are_errors():
    with pytest.raises(LabelError, match="binary task needs labels 0/1.*3 classes"):
        check_class_labels(np.array([0, 1, 2]), task="binary")
    with pytest.raises(ValueError, match="expected task in"):
        check_class_labels(np.array([0, 1]), task="regression")


def test_declared_n_classes_allows_absent_classes_but_not_labels_beyond():
    info = check_class_labels(np.array([0, 2, 4]), n_classes=10)
    assert (info.task, info.n_classes, info.classes) == ("multiclass", 10, (0, 2, 4))
    with pytest.raises(LabelError, match=r"0..4 for n_classes=5, got 7"):
        check_class_labels(np.array([0, 7]), n_classes=5)


def test_class_info_round_trips_through_json():
    info = check_class_labels(np.array([0, 1, 2, 1]))
    assert ClassInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info


# ---- check_labels_fit -----------------------------------------------------------------------


def test_three_class_test_labels_against_a_binary_run_get_a_precise_message():
    info = check_class_labels(np.array([0, 1, 0, 1]))
    y_test = np.array([[0.0], [2.0], [1.0], [2.0]])
    with pytest.raises(LabelError) as e:
        check_labels_fit(y_test, info.to_dict(), command="evaluate", what="--test-data labels")
    msg = str(e.value)
    assert msg.startswith("evaluate: the --test-data labels hold 3 classes {0, 1, 2}, the run "
                          "was trained for 2 classes (binary: labels 0/1)")
    assert "{2} in 2 rows (first at row 1)" in msg
    assert "reshape" not in msg


def test_test_labels_that_fit_come_back_as_targets_even_with_absent_classes():
    info = check_class_labels(np.array([0, 1, 2, 3]))
    t = check_labels_fit(np.array([[3.0], [1.0]]), info)
    assert t.dtype == np.int64 and t.tolist() == [3, 1]
    binary = check_class_labels(np.array([1, 0]))
    assert check_labels_fit(np.zeros(3), binary).shape == (3, 1)


# ---- LabelEncoder ---------------------------------------------------------------------------


def test_encoder_maps_any_labels_to_contiguous_indices_and_back():
    y = np.array([[10], [1_000_000], [10], [-5]])
    enc = LabelEncoder().fit(y)
    idx = enc.transform(y)
    assert idx.shape == (4, 1) and idx.dtype == np.int64
    assert idx.ravel().tolist() == [1, 2, 1, 0]
    assert enc.mapping == {-5: 0, 10: 1, 1_000_000: 2} and enc.n_classes == 3
    np.testing.assert_array_equal(enc.inverse_transform(idx), y)
    info = check_class_labels(idx)
    assert (info.task, info.n_classes) == ("multiclass", 3)


def test_encoder_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.preprocessing")
    y = np.array(["dog", "cat", "bird", "cat"])
    ours, theirs = LabelEncoder().fit(y), sk.LabelEncoder().fit(y)
    np.testing.assert_array_equal(ours.transform(y), theirs.transform(y))
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)


def test_encoder_is_saved_and_loaded_as_json(tmp_path):
    for labels in (np.array(["non-cat", "cat", "cat"]), np.array([1, 2, 2]),
                   np.array([0.5, 2.5])):
        enc = LabelEncoder().fit(labels)
        path = tmp_path / "labels.json"
        enc.save(path)
        assert json.loads(path.read_text()) == enc.to_dict()
        back = LabelEncoder.load(path)
        np.testing.assert_array_equal(back.transform(labels), enc.transform(labels))
        np.testing.assert_array_equal(back.inverse_transform([0, 1]), enc.classes_[:2])


def test_encoder_errors_name_what_is_wrong(tmp_path):
    enc = LabelEncoder().fit(np.array([1, 2]))
    with pytest.raises(LabelError, match=r"\{3\} in 1 rows \(first at row 1\) are not among "
                                         r"the 2 classes"):
        enc.transform(np.array([1, 3]))
    with pytest.raises(LabelError, match="outside 0..1"):
        enc.inverse_transform(np.array([2]))
    with pytest.raises(LabelError, match="integer class indices"):
        enc.inverse_transform(np.array([0.5]))
    with pytest.raises(RuntimeError, match="call fit"):
        LabelEncoder().transform([1])
    with pytest.raises(LabelError, match="NaN"):
        LabelEncoder().fit(np.array([1.0, np.nan]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"classes": [2, 1]}')
    with pytest.raises(ValueError, match="bad.json.*distinct and sorted"):
        LabelEncoder.load(bad)
    bad.write_text("[" * 1000 + "]" * 1000)
    with pytest.raises(ValueError, match="bad.json.*not a label mapping"):
        LabelEncoder.load(bad)
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        LabelEncoder.load(tmp_path / "nowhere.json")


def test_exported_from_dlkit_data():
    assert dl.data.check_class_labels is check_class_labels
    assert dl.data.LabelEncoder is LabelEncoder
