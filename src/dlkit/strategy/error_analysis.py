"""Error analysis (course 3, 2.1-2.2): collect the dev examples the model gets wrong, tag them
by hand (a spreadsheet: a CSV round trip) or in code, and count the tags: the share of the
errors each idea could fix is the ceiling on what working on it can gain.

    table = misclassified(dl.train.predict(model, X_dev), y_dev, limit=100)
    table.to_csv("errors.csv", tags=["dog", "great_cat", "blurry", "incorrectly_labeled"])
    # ... tick the columns in a spreadsheet, add columns for new ideas, write comments ...
    table = ErrorTable.from_csv("errors.csv")
    print(table.summary())    # counts per tag, % of errors, and the error each fix could reach
    plot_worst(X_dev, table, "worst.png")   # the most confidently wrong images, in a grid
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.io.files import atomic_write_bytes
from dlkit.metrics import MULTILABEL, is_multiclass, predicted_classes, true_classes
from dlkit.ops.activation import stable_softmax

FIXED = ("index", "label", "predicted", "p_predicted", "p_label", "loss")
COMMENT = "comment"
TAGS = "tags"  # free-form column: tags separated by ";" (or ",")
MISLABELED = ("incorrectly_labeled", "mislabeled", "incorrect_label", "wrong_label")
_NO = {"", "0", "no", "n", "false", "f", "-", "."}


@dataclass
class ErrorRow:
    """One misclassified example: its ``index`` in the evaluated set, ``label``, the
    ``predicted`` class, the probability of the prediction and of the label, its loss
    (-log p_label: high = confidently wrong), tags and a comment."""

    index: int
    label: int
    predicted: int
    p_predicted: float
    p_label: float
    loss: float
    tags: set[str] = field(default_factory=set)
    comment: str = ""


@dataclass
class TagCount:
    """A row of the summary: the tag, its count among the reviewed errors, their share, the
    dev error those examples account for (the most fixing them can gain: the ceiling) and the
    dev error left if they were all fixed."""

    tag: str
    count: int
    share: float
    ceiling: float | None
    error_after: float | None


@dataclass
class ErrorSummary:
    """Counts per tag over the ``reviewed`` errors; ``dev_error`` is the overall error."""

    counts: list[TagCount]
    reviewed: int
    untagged: int
    dev_error: float | None

    def __str__(self) -> str:
        head = f"{'tag':<22}{'errors':>7}{'% of errors':>13}"
        if self.dev_error is not None:
            head += f"{'ceiling':>10}{'error after fix':>17}"
        lines = [head]
        for c in self.counts:
            line = f"{c.tag:<22}{c.count:>7}{100 * c.share:>12.1f}%"
            if self.dev_error is not None:
                line += f"{100 * c.ceiling:>9.2f}%{100 * c.error_after:>16.2f}%"
            lines.append(line)
        lines.append(f"{'(untagged)':<22}{self.untagged:>7}"
                     f"{100 * self.untagged / max(self.reviewed, 1):>12.1f}%")
        lines.append(f"{self.reviewed} errors reviewed" + (
            f"; overall dev error {100 * self.dev_error:.2f}%" if self.dev_error is not None
            else ""))
        wrong = next((c for c in self.counts if c.tag in MISLABELED), None)
        if wrong is not None and self.dev_error is not None:
            lines.append(f"errors due to incorrect labels {100 * wrong.ceiling:.2f}%, due to "
                         f"other causes {100 * (self.dev_error - wrong.ceiling):.2f}% (fix the "
                         "labels when they weigh on choosing between models; fix dev and test "
                         "together)")
        return "\n".join(lines)


class ErrorTable:
    """The misclassified examples (``rows``) of a set of ``n_examples`` with ``n_errors``
    errors in all (``rows`` may be a sample of them, as the notes review ~100). Tag them
    with ``tag`` or through ``to_csv`` / ``from_csv``; ``summary`` counts the tags."""

    def __init__(self, rows: Sequence[ErrorRow], n_examples: int | None = None,
                 n_errors: int | None = None, tags: Sequence[str] = ()) -> None:
        self.rows = list(rows)
        self.n_examples = n_examples
        self.n_errors = len(self.rows) if n_errors is None else int(n_errors)
        self.tag_names: list[str] = list(dict.fromkeys(
            [*tags, *(t for r in self.rows for t in sorted(r.tags))]))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self) -> str:
        return (f"ErrorTable({len(self.rows)} rows of {self.n_errors} errors in "
                f"{self.n_examples} examples, tags {self.tag_names})")

    @property
    def indices(self) -> np.ndarray:
        return np.array([r.index for r in self.rows], dtype=np.int64)

    @property
    def dev_error(self) -> float | None:
        """The overall error rate n_errors / n_examples (None when the size is unknown)."""
        return self.n_errors / self.n_examples if self.n_examples else None

    def tag(self, index: int | Iterable[int], *tags: str, comment: str | None = None) -> None:
        """Tag the example(s) with this dataset ``index`` (not the row number)."""
        wanted = {int(index)} if isinstance(index, (int, np.integer)) else set(map(int, index))
        by_index = {r.index: r for r in self.rows}
        unknown = sorted(wanted - set(by_index))
        if unknown:
            raise KeyError(f"ErrorTable.tag: examples {unknown} are not among the errors")
        for i in wanted:
            by_index[i].tags.update(_clean(t) for t in tags)
            if comment is not None:
                by_index[i].comment = comment
        self.tag_names.extend(t for t in map(_clean, tags) if t not in self.tag_names)

    def summary(self, dev_error: float | None = None) -> ErrorSummary:
        """Per tag (most frequent first): count, share of the reviewed errors, the ceiling
        (dev error x share: how much the error can drop by fixing that kind completely) and the
        error left after. ``dev_error`` defaults to the table's own ``n_errors / n_examples``.
        An example can carry several tags, so shares may sum to more than 100%."""
        dev_error = self.dev_error if dev_error is None else float(dev_error)
        reviewed = len(self.rows)
        counts = []
        for tag in self.tag_names:
            n = sum(tag in r.tags for r in self.rows)
            share = n / reviewed if reviewed else 0.0
            ceiling = None if dev_error is None else dev_error * share
            after = None if dev_error is None else dev_error - ceiling
            counts.append(TagCount(tag, n, share, ceiling, after))
        counts.sort(key=lambda c: -c.count)
        untagged = sum(not r.tags for r in self.rows)
        return ErrorSummary(counts, reviewed, untagged, dev_error)

    # -- the spreadsheet round trip --------------------------------------------------------

    def to_csv(self, path: str | os.PathLike, tags: Sequence[str] = ()) -> Path:
        """Write one row per error: index, label, predicted, p_predicted, p_label, loss, one
        column per tag (``x`` where it applies; empty for you to tick), ``tags`` (free text,
        ";"-separated) and ``comment``. A last row starting with "#" keeps the set's size, so
        the summary still knows the overall error. The write is atomic."""
        names = list(dict.fromkeys([*self.tag_names, *map(_clean, tags)]))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*FIXED, *names, TAGS, COMMENT])
        for r in self.rows:
            writer.writerow([r.index, r.label, r.predicted, f"{r.p_predicted:.6f}",
                             f"{r.p_label:.6f}", f"{r.loss:.6f}",
                             *("x" if t in r.tags else "" for t in names),
                             ";".join(sorted(r.tags - set(names))), r.comment])
        meta = [f"# n_examples={self.n_examples if self.n_examples is not None else ''}",
                f"n_errors={self.n_errors}"]
        writer.writerow(meta + [""] * (len(FIXED) + len(names) + 2 - len(meta)))
        path = Path(path)
        atomic_write_bytes(path, out.getvalue().encode(), "ErrorTable.to_csv")
        return path

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> ErrorTable:
        """Read a table written by ``to_csv`` and tagged by hand: a non-empty cell (other than
        0 / no / false) in a tag column ticks it; columns added by hand become tags, as do the
        words in the ``tags`` column."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ErrorTable.from_csv: no such file: {str(path)!r}")
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        if not rows or [c.strip().lower() for c in rows[0][:len(FIXED)]] != list(FIXED):
            raise ValueError(f"ErrorTable.from_csv: {str(path)!r} does not start with the "
                             f"columns {', '.join(FIXED)} (was it written by to_csv?)")
        header = [c.strip() for c in rows[0]]
        tag_cols = [(i, _clean(c)) for i, c in enumerate(header)
                    if i >= len(FIXED) and c.strip().lower() not in (TAGS, COMMENT) and c.strip()]
        free = header.index(TAGS) if TAGS in header else None
        note = header.index(COMMENT) if COMMENT in header else None
        out, n_examples, n_errors = [], None, None
        for line, row in enumerate(rows[1:], start=2):
            if not row or not any(c.strip() for c in row):
                continue
            if row[0].lstrip().startswith("#"):
                n_examples, n_errors = _meta(row, n_examples, n_errors)
                continue
            row = row + [""] * (len(header) - len(row))
            try:
                r = ErrorRow(int(row[0]), int(float(row[1])), int(float(row[2])),
                             float(row[3] or "nan"), float(row[4] or "nan"),
                             float(row[5] or "nan"))
            except ValueError as e:
                raise ValueError(f"ErrorTable.from_csv: {str(path)!r} line {line}: {e}") from None
            r.tags = {t for i, t in tag_cols if row[i].strip().lower() not in _NO}
            if free is not None:
                r.tags |= {_clean(t) for t in row[free].replace(",", ";").split(";")
                           if t.strip()}
            r.comment = row[note] if note is not None else ""
            out.append(r)
        return cls(out, n_examples, n_errors if n_errors is not None else len(out),
                   tags=[t for _, t in tag_cols])


def _clean(tag: str) -> str:
    tag = str(tag).strip()
    if not tag or tag.startswith("#"):
        raise ValueError(f"ErrorTable: a tag needs a name (not empty, not starting with #), "
                         f"got {tag!r}")
    return tag


def _meta(row: list[str], n_examples: int | None,
          n_errors: int | None) -> tuple[int | None, int | None]:
    for cell in row:
        key, _, value = cell.strip().lstrip("#").strip().partition("=")
        if value.strip().isdigit():
            if key.strip() == "n_examples":
                n_examples = int(value)
            elif key.strip() == "n_errors":
                n_errors = int(value)
    return n_examples, n_errors


def _probabilities(outputs: np.ndarray, output: str) -> np.ndarray:
    """(m, C) class probabilities from logits or probabilities (binary: [1 - p, p])."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if is_multiclass(outputs):
        scores = outputs.reshape(len(outputs), -1)
        if output == "logits":
            return stable_softmax(scores, axis=1)
        return scores
    z = outputs.reshape(-1)
    p = np.exp(-np.logaddexp(0.0, -z)) if output == "logits" else z
    return np.stack([1 - p, p], axis=1)


def misclassified(outputs: Any, targets: Any, output: str = "logits", *,
                  limit: int | None = None, sample: str = "worst", seed: int = 0,
                  tags: Mapping[int, Iterable[str]] | None = None) -> ErrorTable:
    """The examples whose predicted class differs from the label, worst first (highest loss
    -log p_label: the most confidently wrong). ``outputs`` are the model's outputs on the dev
    set (``dl.train.predict``), ``targets`` its labels.

    ``limit`` keeps that many (the notes review ~100): the worst ones (``sample="worst"``) or a
    seeded random sample (``sample="random"``, an unbiased estimate of the shares).
    ``tags`` ({index: ["dog", ...]}) tags examples in code.
    """
    if output == MULTILABEL:
        raise ValueError("misclassified: error analysis takes one label per example; for "
                         "multi-label outputs analyse one label column at a time")
    if sample not in ("worst", "random"):
        raise ValueError(f"misclassified: expected sample 'worst' or 'random', got {sample!r}")
    outputs = np.asarray(outputs)
    targets = np.asarray(targets)
    pred = predicted_classes(outputs, output).reshape(-1)
    true = true_classes(targets, outputs).reshape(-1)
    if pred.size != true.size:
        raise ValueError(f"misclassified: outputs of shape {outputs.shape} give {pred.size} "
                         f"predictions, targets of shape {targets.shape} {true.size} labels")
    probs = _probabilities(outputs, output)
    if true.size and (true.min() < 0 or true.max() >= probs.shape[1]):
        raise ValueError(f"misclassified: labels must lie in [0, {probs.shape[1]}), got "
                         f"{true.min()} to {true.max()}")
    wrong = np.flatnonzero(pred != true)
    rows_idx = np.arange(len(true))
    p_label = probs[rows_idx, true]
    p_pred = probs[rows_idx, pred]
    with np.errstate(divide="ignore"):
        loss = -np.log(np.maximum(p_label, 1e-300))
    order = wrong[np.argsort(-loss[wrong], kind="stable")]
    if limit is not None and len(order) > limit:
        if sample == "random":
            keep = np.random.default_rng(seed).choice(len(order), limit, replace=False)
            order = order[np.sort(keep)]
        else:
            order = order[:limit]
    rows = [ErrorRow(int(i), int(true[i]), int(pred[i]), float(p_pred[i]), float(p_label[i]),
                     float(loss[i])) for i in order]
    table = ErrorTable(rows, n_examples=len(true), n_errors=len(wrong))
    for index, names in (tags or {}).items():
        table.tag(index, *names)
    return table


def plot_worst(images: Any, table: ErrorTable, path: str | os.PathLike, n: int = 16,
               columns: int = 4, class_names: Sequence[str] | None = None,
               image_shape: Sequence[int] | None = None, title: str = "") -> Path:
    """The first ``n`` rows of ``table`` (worst first) as an image grid, each captioned
    "label -> predicted (p)". ``images`` is the evaluated set: (m, H, W), (m, H, W, C) or
    flattened (m, n_x) with ``image_shape``."""
    from dlkit.plot import _pyplot, _save

    images = np.asarray(images)
    if image_shape is not None:
        images = images.reshape(len(images), *image_shape)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
        raise ValueError(f"plot_worst: expected images (m, H, W) or (m, H, W, C) with C 1, 3 "
                         f"or 4, got shape {images.shape}; pass image_shape for flat vectors")
    rows = table.rows[:n]
    if not rows:
        raise ValueError("plot_worst: the table has no errors to show")
    if max(r.index for r in rows) >= len(images):
        raise ValueError(f"plot_worst: the table refers to example {max(r.index for r in rows)}"
                         f" but only {len(images)} images were given")
    plt = _pyplot()
    columns = max(1, min(columns, len(rows)))
    n_rows = math.ceil(len(rows) / columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(2.2 * columns, 2.4 * n_rows),
                             squeeze=False)

    def name(k: int) -> str:
        return str(class_names[k]) if class_names is not None and k < len(class_names) \
            else str(k)

    for ax in axes.ravel():
        ax.axis("off")
    for ax, r in zip(axes.ravel(), rows):
        img = images[r.index].astype(np.float64)
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        caption = f"#{r.index}: {name(r.label)} -> {name(r.predicted)} ({r.p_predicted:.2f})"
        if r.tags:
            caption += "\n" + ", ".join(sorted(r.tags))
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title or "worst errors: label -> predicted (probability)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path, plt)


__all__ = ["ErrorRow", "ErrorSummary", "ErrorTable", "TagCount", "misclassified",
           "plot_worst"]
