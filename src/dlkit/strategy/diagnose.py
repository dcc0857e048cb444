"""Bias, variance and data mismatch (course 3): from human-level, training, training-dev, dev
and test errors, the gaps between them, the largest one, and the notes' recipe for it; and
learning curves (error against training-set size).

    human-level error  -- avoidable bias   (a proxy for Bayes error)
    training error     -- variance
    training-dev error -- data mismatch    (same distribution as training, not trained on)
    dev error          -- overfitting to the dev set
    test error

Errors are fractions (0.08 for 8%).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LEVELS = ("human", "train", "train_dev", "dev", "test")
LEVEL_NAMES = {"human": "human-level", "train": "training", "train_dev": "training-dev",
               "dev": "dev", "test": "test"}
GAPS = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")
GAP_NAMES = {"avoidable_bias": "avoidable bias", "variance": "variance",
             "data_mismatch": "data mismatch", "dev_overfitting": "overfitting to dev"}

#: The notes' recipe for each gap (course 3, 1.12 and 2.6).
RECIPES: dict[str, tuple[str, ...]] = {
    "avoidable_bias": (
        "train a bigger network (more hidden units, more layers)",
        "train longer",
        "use a better optimization algorithm (momentum, RMSprop, Adam)",
        "search for a better architecture or hyperparameters (dlkit tune)",
    ),
    "variance": (
        "get more training data",
        "regularize: L2, dropout, data augmentation",
        "search for a better architecture or hyperparameters (dlkit tune)",
    ),
    "data_mismatch": (
        "carry out manual error analysis to see how the training and dev/test data differ "
        "(dlkit.strategy.error_analysis)",
        "make the training data more like the dev/test data: synthesize it (artificial data "
        "synthesis, and beware of simulating only a small subset of the real variety)",
        "or collect more training data like the dev/test sets",
    ),
    "dev_overfitting": (
        "get a bigger dev set (from the same distribution as the test set)",
    ),
}
NOTHING = ("no gap stands out: if the dev/test errors still fall short of what the "
           "application needs, change the dev/test set or the metric (they no longer measure "
           "what matters)",)


@dataclass
class Diagnosis:
    """``errors`` by level (None where not measured), ``gaps`` that could be computed,
    ``largest`` the name of the largest positive gap (None when none exceeds the tolerance),
    ``recipe`` what to try for it, and ``notes`` on what the numbers cannot tell."""

    errors: dict[str, float | None]
    gaps: dict[str, float]
    largest: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def recipe(self) -> tuple[str, ...]:
        return RECIPES[self.largest] if self.largest else NOTHING

    def to_dict(self) -> dict[str, Any]:
        return {"errors": dict(self.errors), "gaps": dict(self.gaps), "largest": self.largest,
                "recipe": list(self.recipe), "notes": list(self.notes)}

    def table(self) -> str:
        """The errors and the gaps between them, as the notes lay them out."""
        between = {"avoidable_bias": "training - human-level",
                   "variance": ("training-dev - training" if self.errors.get("train_dev")
                                is not None else "dev - training"),
                   "data_mismatch": "dev - training-dev", "dev_overfitting": "test - dev"}
        lines = ["error"]
        for level in LEVELS:
            value = self.errors.get(level)
            lines.append(f"  {LEVEL_NAMES[level]:<14}{_pct(value):>8}")
        lines.append("gap")
        for gap in GAPS:
            if gap in self.gaps:
                mark = "   <- largest" if gap == self.largest else ""
                lines.append(f"  {GAP_NAMES[gap]:<20}{_pct(self.gaps[gap]):>8}   "
                             f"({between[gap]}){mark}")
        return "\n".join(lines)

    def __str__(self) -> str:
        lines = [self.table()]
        if self.largest:
            lines.append(f"largest gap: {GAP_NAMES[self.largest]} "
                         f"({_pct(self.gaps[self.largest])})")
        else:
            lines.append("largest gap: none")
        lines.append("what to try:")
        lines.extend(f"  - {step}" for step in self.recipe)
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _check(name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"diagnose: expected a number for the {name} error, got "
                         f"{value!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        hint = f" ({value:g}% is {value / 100:g})" if 1 < value <= 100 else ""
        raise ValueError(f"diagnose: errors are fractions in [0, 1]{hint}; got {name} = "
                         f"{value:g}")
    return value


def diagnose_errors(train: float, dev: float | None = None, *, human: float | None = None,
                    train_dev: float | None = None, test: float | None = None,
                    tolerance: float = 0.0) -> Diagnosis:
    """Avoidable bias = training - human-level error; variance = training-dev - training
    error (dev - training without a training-dev set); data mismatch = dev - training-dev
    error; overfitting to dev = test - dev error. The largest gap above ``tolerance`` names
    the problem to work on, with the notes' recipe for it.

    Without ``human`` (a proxy for Bayes error), Bayes error is taken as 0.
    """
    errors = {"human": _check("human-level", human), "train": _check("training", train),
              "train_dev": _check("training-dev", train_dev), "dev": _check("dev", dev),
              "test": _check("test", test)}
    if errors["train"] is None:
        raise ValueError("diagnose: the training error is needed")
    notes: list[str] = []
    bayes = errors["human"]
    if bayes is None:
        bayes = 0.0
        notes.append("no human-level error given: Bayes error taken as 0, so all of the "
                     "training error counts as avoidable bias")
    tr, td, dv, te = errors["train"], errors["train_dev"], errors["dev"], errors["test"]
    gaps = {"avoidable_bias": tr - bayes}
    if td is not None:
        gaps["variance"] = td - tr
        if dv is not None:
            gaps["data_mismatch"] = dv - td
    elif dv is not None:
        gaps["variance"] = dv - tr
        notes.append("no training-dev error: the dev - training gap mixes variance and data "
                     "mismatch; hold out a training-dev set (dlkit.data.train_traindev_split) "
                     "when training and dev data come from different distributions")
    if dv is not None and te is not None:
        gaps["dev_overfitting"] = te - dv
    if gaps["avoidable_bias"] < 0:
        notes.append("training error is below human-level error: past human-level "
                     "performance the human estimate no longer tells how much bias is "
                     "avoidable")
    if gaps.get("data_mismatch", 0.0) < 0:
        notes.append("dev error is below training-dev error: the dev/test data seem easier "
                     "than the training data")
    if gaps.get("dev_overfitting", 0.0) < 0:
        notes.append("test error is below dev error")
    gaps = {k: round(v, 12) for k, v in gaps.items()}
    positive = {k: v for k, v in gaps.items() if v > tolerance}
    largest = max(positive, key=lambda k: (positive[k], -GAPS.index(k))) if positive else None
    return Diagnosis(errors, gaps, largest, notes)


def diagnose_run(folder: str | Path, *, human: float | None = None,
                 metric: str = "accuracy") -> Diagnosis:
    """Diagnose a finished run folder (``dlkit train`` or ``ExperimentLogger``): its train,
    train-dev (if measured), dev and test scores of ``metric`` become errors
    (1 - score, or the value itself for an error metric)."""
    from dlkit.metrics import lower_is_better
    from dlkit.strategy.experiment import read_run

    run = read_run(folder)
    if run.status != "complete":
        raise ValueError(f"diagnose: run {str(folder)!r} is unfinished (status "
                         f"{run.status!r}): it has no final train/dev/test errors to diagnose")
    values = {}
    for level in ("train", "train_dev", "dev", "test"):
        key = f"{level}_{metric}"
        if key in run.metrics:
            v = float(run.metrics[key])
            values[level] = v if lower_is_better(metric) else 1.0 - v
    if "train" not in values:
        have = sorted({k[len("train_"):] for k in run.metrics if k.startswith("train_")
                       and not k.startswith("train_dev_")})
        raise ValueError(f"diagnose: unknown metric {metric!r} for run {str(folder)!r}; it "
                         f"has {have}")
    if human is None:
        human = run.hparams.get("human_error")
    return diagnose_errors(values["train"], values.get("dev"), human=human,
                           train_dev=values.get("train_dev"), test=values.get("test"))


# -- learning curves ------------------------------------------------------------------------

@dataclass
class LearningCurve:
    """Training and dev error (``1 - metric``) of a model trained on growing subsets of the
    training set: ``sizes`` examples each."""

    sizes: list[int]
    train_error: list[float]
    dev_error: list[float]
    metric: str = "accuracy"

    def __str__(self) -> str:
        lines = [f"{'examples':>9} {'train error':>12} {'dev error':>10}"]
        for n, tr, dv in zip(self.sizes, self.train_error, self.dev_error):
            lines.append(f"{n:>9} {100 * tr:>11.2f}% {100 * dv:>9.2f}%")
        return "\n".join(lines)


def learning_curve(build: Callable[[], tuple[Any, Any]], loss: Any, X: Any, y: Any,
                   X_dev: Any, y_dev: Any, sizes: Sequence[float | int] = (0.1, 0.25, 0.5, 1.0),
                   *, epochs: int = 50, batch_size: int = 64, metric: str = "accuracy",
                   seed: int = 0, **fit_kwargs: Any) -> LearningCurve:
    """Train a fresh model from ``build() -> (model, optimizer)`` on the first n examples of
    one seeded shuffle of (X, y), for each n in ``sizes`` (fractions or counts), and measure
    its training and dev error. A training error that stays far from the dev error as n grows
    says variance (more data helps); both high and close says bias (more data will not)."""
    from dlkit.backend import manual_seed
    from dlkit.metrics import lower_is_better
    from dlkit.train.loop import evaluate, fit

    X, y = np.asarray(X), np.asarray(y)
    m = len(X)
    counts = []
    for s in sizes:
        n = int(round(s * m)) if isinstance(s, float) else int(s)
        if not 1 <= n <= m:
            raise ValueError(f"learning_curve: size {s!r} gives {n} examples; expected 1..{m}")
        counts.append(n)
    order = np.random.default_rng(seed).permutation(m)
    curve = LearningCurve([], [], [], metric)
    for n in sorted(counts):
        manual_seed(seed)
        model, optimizer = build()
        idx = order[:n]
        fit(model, loss, optimizer, X[idx], y[idx], epochs=epochs, batch_size=batch_size,
            metrics=(), **fit_kwargs)
        errs = []
        for Xs, ys in ((X[idx], y[idx]), (X_dev, y_dev)):
            score = evaluate(model, loss, Xs, ys, metrics=(metric,))[metric]
            errs.append(score if lower_is_better(metric) else 1.0 - score)
        curve.sizes.append(n)
        curve.train_error.append(errs[0])
        curve.dev_error.append(errs[1])
    return curve


def plot_learning_curve(curve: LearningCurve, path: str | Path, human: float | None = None,
                        title: str = "") -> Path:
    """The learning curve as a picture: training and dev error against the number of
    training examples, with human-level error (a proxy for Bayes error) as a dotted line."""
    from dlkit.plot import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(curve.sizes, [100 * e for e in curve.train_error], "o-", label="training error")
    ax.plot(curve.sizes, [100 * e for e in curve.dev_error], "s--", label="dev error")
    if human is not None:
        ax.axhline(100 * human, color="gray", linestyle=":", label="human-level error")
    ax.set_xlabel("training examples")
    ax.set_ylabel("error (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "learning curve")
    fig.tight_layout()
    return _save(fig, path, plt)


__all__ = ["GAPS", "LEVELS", "RECIPES", "Diagnosis", "LearningCurve", "diagnose_errors",
           "diagnose_run", "learning_curve", "plot_learning_curve"]
