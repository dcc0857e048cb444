"""Choosing a model (course 3): a single-number evaluation metric, or one optimizing metric
subject to satisficing thresholds on the others.

With N metrics, the notes pick 1 to optimize and N - 1 to satisfice: "maximize accuracy
subject to running time <= 100 ms" picks classifier B of (A 90% 80 ms, B 92% 95 ms,
C 95% 1500 ms)::

    choose({"A": {"accuracy": 0.90, "latency_ms": 80}, "B": {...}, "C": {...}},
           optimize="accuracy", satisfice={"latency_ms": "<=100"}).best   # "B"
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dlkit.metrics import lower_is_better

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
    "==": operator.eq, "!=": operator.ne,
}
_CONDITION = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*([-+0-9.eE]+|inf|-inf|nan)\s*")
def single_number(values: Mapping[str, float] | Sequence[float], how: str = "mean",
                  weights: Mapping[str, float] | Sequence[float] | None = None) -> float:
    """Several numbers made one, so that two models compare at a glance (the notes' single
    number evaluation metric).

    ``how``: "mean" (the average error over regions: US 3%, China 7%, ... -> 6%), "harmonic"
    (the harmonic mean: F1 = 2 / (1/P + 1/R) of precision and recall) or "weighted"
    (sum w_i v_i / sum w_i, with ``weights`` given by the same names or positions).
    """
    names = list(values) if isinstance(values, Mapping) else None
    xs = [float(values[k]) for k in names] if names is not None else [float(v) for v in values]
    if not xs:
        raise ValueError("single_number: expected at least one value")
    if how == "mean":
        return sum(xs) / len(xs)
    if how == "harmonic":
        if any(x < 0 for x in xs):
            raise ValueError(f"single_number: the harmonic mean needs values >= 0, got {xs}")
        return 0.0 if any(x == 0 for x in xs) else len(xs) / sum(1 / x for x in xs)
    if how == "weighted":
        if weights is None:
            raise ValueError("single_number: how='weighted' needs weights")
        if isinstance(weights, Mapping):
            if names is None or set(weights) != set(names):
                raise ValueError(f"single_number: weights name {sorted(weights)}, the values "
                                 f"{names if names is not None else 'are a sequence'}")
            ws = [float(weights[k]) for k in names]
        else:
            ws = [float(w) for w in weights]
        if len(ws) != len(xs) or sum(ws) <= 0 or any(w < 0 for w in ws):
            raise ValueError(f"single_number: expected {len(xs)} non-negative weights with a "
                             f"positive sum, got {ws}")
        return sum(w * x for w, x in zip(ws, xs)) / sum(ws)
    raise ValueError(f"single_number: expected how 'mean', 'harmonic' or 'weighted', got "
                     f"{how!r}")


def parse_condition(condition: Any, metric: str = "") -> Callable[[float], bool]:
    """A satisficing threshold as a test: "<=100", ">= 0.9", ("<=", 100) or a function."""
    if callable(condition):
        return condition
    if isinstance(condition, (tuple, list)) and len(condition) == 2 and condition[0] in _OPS:
        op, threshold = condition[0], condition[1]
    else:
        match = _CONDITION.fullmatch(str(condition)) if isinstance(condition, str) else None
        if match is None:
            where = f" for {metric!r}" if metric else ""
            raise ValueError(f"satisfice: expected a threshold like '<=100' or '>=0.9'{where}, "
                             f"got {condition!r}")
        op, threshold = match.group(1), match.group(2)
    try:
        threshold = float(threshold)
    except ValueError:
        raise ValueError(f"satisfice: expected a number after {op!r}, got {condition!r}") \
            from None
    test = _OPS[op]

    def check(value: float) -> bool:
        return not math.isnan(value) and test(value, threshold)

    check.text = f"{op}{threshold:g}"  # type: ignore[attr-defined]
    return check


@dataclass
class Choice:
    """The outcome of ``choose``: the ``best`` model's name, its ``value`` of the optimizing
    metric and all its ``metrics``; ``ranking`` (name, value) of every model that satisfies
    the thresholds, best first; ``rejected`` maps the others to why."""

    best: str
    value: float
    metrics: dict[str, float]
    optimize: str
    mode: str
    ranking: list[tuple[str, float]] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{'model':<16} {self.optimize:>12}  status"]
        for name, value in self.ranking:
            mark = "best" if name == self.best else "ok"
            lines.append(f"{name:<16} {value:>12.6g}  {mark}")
        for name, why in self.rejected.items():
            lines.append(f"{name:<16} {'':>12}  rejected: {'; '.join(why)}")
        return "\n".join(lines)


def choose(models: Mapping[str, Mapping[str, float]] | Sequence[Mapping[str, Any]],
           optimize: str = "f1", satisfice: Mapping[str, Any] | None = None,
           mode: str = "auto") -> Choice:
    """Pick the model with the best ``optimize`` metric among those meeting every
    ``satisfice`` threshold (N metrics: 1 optimizing, N - 1 satisficing).

    ``models``: {name: {metric: value}} or a list of dicts (named by their "name" key, else by
    position). ``mode``: "max", "min" or "auto" (min for losses, errors and times by name).
    Raises ValueError naming the available metrics when ``optimize`` is unknown, and naming
    each model's failed threshold when no model satisfies them all.
    """
    if mode not in ("auto", "max", "min"):
        raise ValueError(f"choose: expected mode 'auto', 'max' or 'min', got {mode!r}")
    table = _as_table(models)
    if not table:
        raise ValueError("choose: no models given")
    known = sorted({k for m in table.values() for k in m})
    if not any(optimize in m for m in table.values()):
        raise ValueError(f"choose: unknown metric {optimize!r} to optimize; the models have "
                         f"{known}")
    tests = {k: parse_condition(v, k) for k, v in (satisfice or {}).items()}
    for key in tests:
        if not any(key in m for m in table.values()):
            raise ValueError(f"choose: unknown metric {key!r} to satisfice; the models have "
                             f"{known}")
    if mode == "auto":
        mode = "min" if lower_is_better(optimize) else "max"
    ranking, rejected = [], {}
    for name, metrics in table.items():
        why = []
        for key, test in tests.items():
            if key not in metrics:
                why.append(f"no {key}")
            elif not test(float(metrics[key])):
                why.append(f"{key} = {float(metrics[key]):g} fails {getattr(test, 'text', '')}"
                           .rstrip())
        value = float(metrics.get(optimize, math.nan))
        if math.isnan(value):
            why.append(f"no {optimize}")
        if why:
            rejected[name] = why
        else:
            ranking.append((name, value))
    if not ranking:
        detail = "; ".join(f"{n}: {', '.join(w)}" for n, w in rejected.items())
        raise ValueError(f"choose: no model satisfies the thresholds ({detail})")
    ranking.sort(key=lambda nv: nv[1], reverse=mode == "max")
    best, value = ranking[0]
    return Choice(best, value, dict(table[best]), optimize, mode, ranking, rejected)


def _as_table(models: Any) -> dict[str, Mapping[str, Any]]:
    if isinstance(models, Mapping):
        return {str(k): v for k, v in models.items()}
    table = {}
    for i, m in enumerate(models):
        name = str(m.get("name", i))
        table[name] = {k: v for k, v in m.items() if k != "name"}
    return table


__all__ = ["Choice", "choose", "lower_is_better", "parse_condition", "single_number"]
