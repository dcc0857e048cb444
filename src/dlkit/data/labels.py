"""Class labels checked against the task, and encoded when they are not 0..C-1.

A classifier with C outputs needs labels 0..C-1. Labels {1, 2} would make a 3-output model
with a phantom class 0; labels {0, 1000000} a 1,000,001-output one; a file with one class
cannot train a classifier at all. ``check_class_labels`` refuses these with a message that
says what to do; ``LabelEncoder`` (as scikit-learn's) maps any labels (numbers or strings) to
0..C-1 and back, and its mapping is JSON, saved next to a model. ``check_labels_fit`` checks
that other labels (a test file) are among a run's classes.

    info = check_class_labels(y_train)            # ClassInfo(task="binary", n_classes=2, ...)
    y = info.targets(y_train)                     # (m, 1) float for binary, (m,) int64 else
    check_labels_fit(y_test, info, what="--test-data labels")
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlkit.data._arrays import as_numpy

TASKS = ("auto", "binary", "multiclass")
_ENCODE_HINT = ("encode them as 0..C-1 first: enc = dl.data.LabelEncoder().fit(y); "
                "y = enc.transform(y) (save enc with the model to map predictions back)")


class LabelError(ValueError):
    """Class labels that do not fit the task. ``reason`` is the message without the
    ``where:`` prefix (for a CLI that prints its own)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason


@dataclass(frozen=True)
class ClassInfo:
    """What a classifier is trained for: ``task`` "binary" (one logit, labels 0/1) or
    "multiclass" (C logits, labels 0..C-1), ``n_classes`` C, and the ``classes`` the
    training labels hold (0..C-1, possibly with gaps when ``n_classes`` was declared)."""

    task: str
    n_classes: int
    classes: tuple[int, ...]

    @property
    def n_outputs(self) -> int:
        """Units of the model's last layer: 1 for binary, C for multiclass."""
        return 1 if self.task == "binary" else self.n_classes

    def targets(self, y: Any) -> np.ndarray:
        """Labels as the loss takes them: (m, 1) float32 for binary, (m,) int64 else."""
        flat = _flat(as_numpy(y), "ClassInfo.targets", "labels")
        if self.task == "binary":
            return flat.reshape(-1, 1).astype(np.float32)
        return flat.astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "n_classes": self.n_classes, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassInfo:
        return cls(str(d["task"]), int(d["n_classes"]),
                   tuple(int(c) for c in d.get("classes", range(int(d["n_classes"])))))


def _flat(y: np.ndarray, where: str, what: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 1:
        return y
    hint = ("; one-hot labels? turn them into class indices with dl.data.from_one_hot"
            if y.ndim == 2 else "")
    raise LabelError(where, f"expected {what} of shape (m,) or (m, 1), got {y.shape}{hint}")


def _whole_numbers(y: Any, where: str, what: str) -> np.ndarray:
    """Labels as a flat int64 array, refusing strings, non-finite and fractional values."""
    flat = _flat(as_numpy(y), where, what)
    if flat.size == 0:
        raise LabelError(where, f"no {what} (0 examples)")
    if flat.dtype.kind == "b":
        return flat.astype(np.int64)
    if flat.dtype.kind not in "iuf":
        raise LabelError(where, f"expected numeric class {what}, got dtype {flat.dtype}; "
                                + _ENCODE_HINT)
    if flat.dtype.kind == "f":
        missing = np.flatnonzero(~np.isfinite(flat))
        if missing.size:
            raise LabelError(where, f"{what} hold {flat[missing[0]].item()} at row "
                                    f"{missing[0]} ({missing.size} such rows): missing or "
                                    "invalid labels; drop those rows or fix the file")
        bad = np.flatnonzero(flat != np.round(flat))
        if bad.size:
            raise LabelError(where, f"expected whole-number class {what}, got "
                                    f"{flat[bad[0]].item()} at row {bad[0]} ({bad.size} such "
                                    "rows); the targets look continuous: this is "
                                    "classification (use a regression loss such as mse for "
                                    "continuous targets)")
        if np.abs(flat).max() >= 2**62:
            raise LabelError(where, f"class {what} as large as {np.abs(flat).max():g}; "
                                    + _ENCODE_HINT)
    return flat.astype(np.int64)


def _show(values: np.ndarray, limit: int = 8) -> str:
    items = [str(v) for v in values[:limit]]
    return "{" + ", ".join(items) + (", ..." if len(values) > limit else "") + "}"


def check_class_labels(y: Any, task: str = "auto", command: str | None = None, *,
                       n_classes: int | None = None, what: str = "labels") -> ClassInfo:
    """Check training labels for a classifier and say what it is.

    ``task``: "auto" (two classes 0/1 -> "binary", more -> "multiclass"), "binary" or
    "multiclass". Labels must be whole numbers 0..C-1 with every class present; ``n_classes``
    declares C when some classes may be absent (labels then only need to lie in 0..C-1).
    Raises ``LabelError`` (a ``ValueError``) for: a single class, negative labels, labels that
    are not 0..C-1 ({1, 2}, {0, 1000000}: encode them with ``LabelEncoder``), strings or
    fractions, a binary task with other labels than 0/1. ``command`` names the caller in
    messages (default "check_class_labels")."""
    where = command or "check_class_labels"
    if task not in TASKS:
        raise ValueError(f"{where}: expected task in {TASKS}, got {task!r}")
    flat = _whole_numbers(y, where, what)
    values = np.unique(flat)
    if len(values) < 2 and n_classes is None:
        raise LabelError(where, f"all {flat.size} {what} are {values[0]}: a classifier needs "
                                "at least two classes (wrong target column, or a file "
                                "filtered to one class?)")
    if values[0] < 0:
        n_neg = int((flat < 0).sum())
        raise LabelError(where, f"{what} must be class indices >= 0, got {values[0]} "
                                f"({n_neg} negative rows; values {_show(values)}); "
                                + _ENCODE_HINT)
    if n_classes is not None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
                or n_classes < 2:
            raise ValueError(f"{where}: expected n_classes an int >= 2, got {n_classes!r}")
        if values[-1] >= n_classes:
            raise LabelError(where, f"{what} must lie in 0..{n_classes - 1} for "
                                    f"n_classes={n_classes}, got {values[-1]}")
        C = int(n_classes)
    else:
        C = len(values)
        if values[-1] != C - 1:  # the values are distinct and >= 0: contiguous iff max = C-1
            present = set(values.tolist())
            scan = range(min(C + 3, int(values[-1])))  # holds the first missing ones
            missing = np.array([i for i in scan if i not in present][:3])
            raise LabelError(
                where, f"{what} take {C} values {_show(values)}, not 0..{C - 1}: a model would "
                       f"get {int(values[-1]) + 1} outputs, {int(values[-1]) + 1 - C} of them "
                       f"for classes with no example (such as {_show(missing, 3)}); "
                       + _ENCODE_HINT + ", or pass n_classes if those classes exist")
    if task == "binary" and C != 2:
        raise LabelError(where, f"a binary task needs labels 0/1, the {what} hold {C} classes "
                                f"{_show(values)}; use the multiclass task (cross-entropy)")
    resolved = task if task != "auto" else ("binary" if C == 2 else "multiclass")
    return ClassInfo(resolved, C, tuple(int(v) for v in values))


def check_labels_fit(y: Any, info: ClassInfo | dict[str, Any], command: str | None = None,
                     *, what: str = "test labels") -> np.ndarray:
    """Check that labels (of a test or new file) are among the classes of a run (``info``
    from ``check_class_labels``, or its ``to_dict()``) and return them as the loss takes
    them (``info.targets``). Classes absent from ``y`` are fine; a label the run never saw
    raises ``LabelError`` naming it, its rows and the run's classes."""
    where = command or "check_labels_fit"
    if isinstance(info, dict):
        info = ClassInfo.from_dict(info)
    flat = _whole_numbers(y, where, what)
    outside = (flat < 0) | (flat >= info.n_classes)
    if outside.any():
        rows = np.flatnonzero(outside)
        values = np.unique(flat)
        bad = np.unique(flat[rows])
        run = ("binary: labels 0/1" if info.task == "binary"
               else f"multiclass: labels 0..{info.n_classes - 1}")
        raise LabelError(where, f"the {what} hold {len(values)} classes {_show(values)}, the "
                                f"run was trained for {info.n_classes} classes ({run}): "
                                f"{_show(bad, 4)} in {rows.size} rows (first at row "
                                f"{rows[0]}) are not among them; test with data of the same "
                                "classes, or train on data that has them")
    return info.targets(flat)


class LabelEncoder:
    """Maps the labels seen in ``fit`` (numbers or strings, in sorted order) to 0..C-1 and
    back, as scikit-learn's LabelEncoder. ``to_dict()`` / ``save(path)`` give its mapping as
    JSON; ``from_dict`` / ``load`` read it back."""

    def __init__(self) -> None:
        self.classes_: np.ndarray | None = None

    def fit(self, y: Any) -> LabelEncoder:
        flat = self._values(y, "LabelEncoder.fit")
        if flat.size == 0:
            raise LabelError("LabelEncoder.fit", "no labels (0 examples)")
        if flat.dtype.kind == "f" and not np.isfinite(flat).all():
            raise LabelError("LabelEncoder.fit", "labels hold NaN or infinity")
        self.classes_ = np.unique(flat)
        return self

    def fit_transform(self, y: Any) -> np.ndarray:
        return self.fit(y).transform(y)

    @property
    def n_classes(self) -> int:
        return len(self._fitted("n_classes"))

    @property
    def mapping(self) -> dict[Any, int]:
        """{original label: index}, labels as Python values."""
        return {c: i for i, c in enumerate(self._fitted("mapping").tolist())}

    def transform(self, y: Any) -> np.ndarray:
        """Labels -> int64 indices 0..C-1, same shape; a label not seen in ``fit`` raises
        ``LabelError`` naming it."""
        classes = self._fitted("transform")
        arr = as_numpy(y)
        flat = self._values(arr, "LabelEncoder.transform")
        try:
            idx = np.searchsorted(classes, flat)
        except TypeError:
            raise LabelError("LabelEncoder.transform", f"labels of dtype {flat.dtype} cannot "
                             f"be compared with the fitted classes ({classes.dtype})") from None
        idx = np.minimum(idx, len(classes) - 1)
        unknown = classes[idx] != flat
        if np.any(unknown):
            rows = np.flatnonzero(unknown)
            raise LabelError("LabelEncoder.transform",
                             f"{_show(np.unique(flat[rows]), 4)} in {rows.size} rows (first at "
                             f"row {rows[0]}) are not among the {len(classes)} classes seen in "
                             f"fit {_show(classes)}")
        return idx.astype(np.int64).reshape(arr.shape)

    def inverse_transform(self, idx: Any) -> np.ndarray:
        """Indices 0..C-1 -> the original labels, same shape."""
        classes = self._fitted("inverse_transform")
        arr = as_numpy(idx)
        whole = arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and np.isfinite(arr).all()
                                           and np.all(arr == np.round(arr)))
        if not whole:
            raise LabelError("LabelEncoder.inverse_transform",
                             f"expected integer class indices, got {arr.dtype} values")
        arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= len(classes))
        if bad.any():
            raise LabelError("LabelEncoder.inverse_transform",
                             f"index {arr[bad].flat[0]} is outside 0..{len(classes) - 1}")
        return classes[arr]

    def to_dict(self) -> dict[str, Any]:
        """``{"classes": [...]}``: JSON-able; index i stands for ``classes[i]``."""
        return {"classes": self._fitted("to_dict").tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelEncoder:
        classes = d.get("classes") if isinstance(d, dict) else None
        if not isinstance(classes, list) or not classes:
            raise ValueError(f"LabelEncoder.from_dict: expected {{'classes': [labels]}}, got "
                             f"{d!r:.80}")
        enc = cls()
        enc.classes_ = np.array(classes)
        if len(np.unique(enc.classes_)) != len(classes) or \
                not np.array_equal(np.sort(enc.classes_), enc.classes_):
            raise ValueError("LabelEncoder.from_dict: the classes must be distinct and sorted")
        return enc

    def save(self, path: str | os.PathLike) -> None:
        from dlkit.io.files import atomic_write_bytes  # io sits above data
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        atomic_write_bytes(path, text.encode(), "LabelEncoder.save")

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabelEncoder:
        from dlkit.io.validate import loads_bounded
        try:
            with open(path, encoding="utf-8") as f:
                d = loads_bounded(f.read(), max_depth=4)
        except FileNotFoundError:
            raise FileNotFoundError(f"LabelEncoder.load: no such file: {str(path)!r}") from None
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"LabelEncoder.load: {str(path)!r} is not a label mapping "
                             f"(JSON): {e}") from None
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise ValueError(f"LabelEncoder.load: {str(path)!r}: {e}") from None

    def _fitted(self, name: str) -> np.ndarray:
        if self.classes_ is None:
            raise RuntimeError(f"LabelEncoder.{name}: call fit(y) first")
        return self.classes_

    @staticmethod
    def _values(y: Any, where: str) -> np.ndarray:
        arr = as_numpy(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise LabelError(where, f"expected labels of shape (m,) or (m, 1), got {arr.shape}")
        if arr.dtype.kind == "O":
            try:
                arr = arr.astype(str)
            except (TypeError, ValueError):
                raise LabelError(where, "labels of mixed types") from None
        return arr

    def __repr__(self) -> str:
        if self.classes_ is None:
            return "LabelEncoder()"
        return f"LabelEncoder(classes={_show(self.classes_)})"
