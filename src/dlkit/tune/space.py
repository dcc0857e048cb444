"""Search spaces on the notes' scales (course 2, week 3).

Random values are drawn on the scale where the hyperparameter acts evenly: the learning rate
on a log scale (r ~ U[-4, 0], alpha = 10^r spends as much search on 0.0001-0.001 as on
0.1-1), beta of an exponentially weighted average as 1 - 10^r (beta in 0.9-0.999 averages
over 10-1000 values: 1 - beta is what should be log-uniform), layer sizes and counts as
integers, discrete choices as categories.

    space = SearchSpace(lr=LogUniform(1e-4, 1), beta=OneMinusLog(0.9, 0.999),
                        units=Int(4, 64, log=True), activation=Categorical(["relu", "tanh"]))
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class Param:
    """A hyperparameter's range; ``suggest(trial, name)`` draws it through an Optuna trial."""

    kind = ""

    def suggest(self, trial: Any, name: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def key(self, name: str) -> str:
        """The name Optuna stores the drawn value under."""
        return name

    def decode(self, raw: Any) -> Any:
        """The hyperparameter from the value Optuna stored."""
        return raw

    def narrow(self, values: Sequence[Any], margin: float) -> Param:  # pragma: no cover
        raise NotImplementedError

    def to_config(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _interval(name: str, low: float, high: float, positive: bool = False) -> None:
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(f"{name}: expected finite low < high, got low={low!r}, high={high!r}")
    if positive and low <= 0:
        raise ValueError(f"{name}: a log scale needs low > 0, got low={low!r}")


def _narrowed(lo: float, hi: float, full_lo: float, full_hi: float,
              margin: float) -> tuple[float, float]:
    """[lo, hi] widened by ``margin`` times its width on each side (a tenth of the full range
    when lo == hi), clipped to the full range."""
    width = hi - lo if hi > lo else 0.1 * (full_hi - full_lo)
    return max(full_lo, lo - margin * width), min(full_hi, hi + margin * width)


@dataclass(frozen=True)
class Uniform(Param):
    """low + (high - low) u, u ~ U[0, 1]: for a hyperparameter that acts linearly."""

    low: float
    high: float
    kind = "uniform"

    def __post_init__(self) -> None:
        _interval("Uniform", self.low, self.high)

    def suggest(self, trial: Any, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high)

    def narrow(self, values: Sequence[Any], margin: float) -> Param:
        lo, hi = _narrowed(min(values), max(values), self.low, self.high, margin)
        return Uniform(lo, hi) if hi > lo else self

    def to_config(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class LogUniform(Param):
    """10^r, r ~ U[log10 low, log10 high]: the learning rate (1e-4 .. 1) as the notes."""

    low: float
    high: float
    kind = "log"

    def __post_init__(self) -> None:
        _interval("LogUniform", self.low, self.high, positive=True)

    def suggest(self, trial: Any, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=True)

    def narrow(self, values: Sequence[Any], margin: float) -> Param:
        logs = [math.log10(v) for v in values]
        lo, hi = _narrowed(min(logs), max(logs), math.log10(self.low), math.log10(self.high),
                           margin)
        return LogUniform(10 ** lo, 10 ** hi) if hi > lo else self

    def to_config(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class OneMinusLog(Param):
    """beta = 1 - 10^r, r ~ U[log10(1 - high), log10(1 - low)]: momentum / RMSprop / Adam
    betas (0.9 .. 0.999), whose effect grows as 1 / (1 - beta). Optuna stores 1 - beta under
    the name ``1-<name>``."""

    low: float
    high: float
    kind = "one_minus_log"

    def __post_init__(self) -> None:
        _interval("OneMinusLog", self.low, self.high)
        if not 0 <= self.low < self.high < 1:
            raise ValueError(f"OneMinusLog: expected 0 <= low < high < 1 (e.g. 0.9, 0.999), "
                             f"got low={self.low!r}, high={self.high!r}")

    def key(self, name: str) -> str:
        return f"1-{name}"

    def suggest(self, trial: Any, name: str) -> float:
        return 1.0 - trial.suggest_float(self.key(name), 1.0 - self.high, 1.0 - self.low,
                                         log=True)

    def decode(self, raw: Any) -> float:
        return 1.0 - float(raw)

    def narrow(self, values: Sequence[Any], margin: float) -> Param:
        logs = [math.log10(1.0 - v) for v in values]
        lo, hi = _narrowed(min(logs), max(logs), math.log10(1.0 - self.high),
                           math.log10(1.0 - self.low), margin)
        return OneMinusLog(1.0 - 10 ** hi, 1.0 - 10 ** lo) if hi > lo else self

    def to_config(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Int(Param):
    """An integer in [low, high] (both included): hidden units, layers, mini-batch size;
    ``log=True`` draws it on a log scale, ``step`` spaces the values."""

    low: int
    high: int
    log: bool = False
    step: int = 1
    kind = "int"

    def __post_init__(self) -> None:
        if int(self.low) != self.low or int(self.high) != self.high or self.low > self.high:
            raise ValueError(f"Int: expected integers low <= high, got {self.low!r}, "
                             f"{self.high!r}")
        if self.log and self.low < 1:
            raise ValueError(f"Int: a log scale needs low >= 1, got {self.low!r}")
        if self.step < 1 or (self.log and self.step != 1):
            raise ValueError(f"Int: expected step >= 1 (and 1 on a log scale), got "
                             f"{self.step!r}")

    def suggest(self, trial: Any, name: str) -> int:
        return trial.suggest_int(name, int(self.low), int(self.high), step=self.step,
                                 log=self.log)

    def narrow(self, values: Sequence[Any], margin: float) -> Param:
        f = math.log10 if self.log else float
        lo, hi = _narrowed(f(min(values)), f(max(values)), f(self.low), f(self.high), margin)
        back = (lambda v: 10 ** v) if self.log else (lambda v: v)
        new_lo, new_hi = math.floor(back(lo) + 1e-9), math.ceil(back(hi) - 1e-9)
        if self.step > 1:  # stay on the grid low + k step
            new_lo = self.low + (new_lo - self.low) // self.step * self.step
            new_hi = self.low + -(-(new_hi - self.low) // self.step) * self.step
        return Int(max(self.low, new_lo), min(self.high, new_hi), self.log, self.step)

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step != 1:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class Categorical(Param):
    """One of ``choices`` (optimizer, activation, "20,7,5" layer layouts...)."""

    choices: tuple
    kind = "categorical"

    def __init__(self, choices: Sequence[Any]) -> None:
        choices = tuple(choices)
        if not choices:
            raise ValueError("Categorical: expected at least one choice")
        for c in choices:
            if c is not None and not isinstance(c, (bool, int, float, str)):
                raise ValueError(f"Categorical: choices must be None, bool, int, float or str "
                                 f"(what Optuna stores), got {c!r}")
        object.__setattr__(self, "choices", choices)

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.choices))

    def narrow(self, values: Sequence[Any], margin: float) -> Param:
        kept = [c for c in self.choices if c in set(values)]
        return Categorical(kept) if kept else self

    def to_config(self) -> list:
        return list(self.choices)


@dataclass(frozen=True)
class Fixed(Param):
    """A constant: part of every trial's parameters, never searched."""

    value: Any
    kind = "fixed"

    def suggest(self, trial: Any, name: str) -> Any:
        return self.value

    def narrow(self, values: Sequence[Any], margin: float) -> Param:
        return self

    def to_config(self) -> dict[str, Any]:
        return {"type": self.kind, "value": self.value}


_KINDS = {"uniform": Uniform, "float": Uniform, "linear": Uniform,
          "log": LogUniform, "loguniform": LogUniform, "log_uniform": LogUniform,
          "one_minus_log": OneMinusLog, "1-log": OneMinusLog, "beta": OneMinusLog,
          "int": Int, "integer": Int, "categorical": Categorical, "choice": Categorical,
          "fixed": Fixed}


def param_from_config(name: str, spec: Any) -> Param:
    """A ``Param`` from a config entry: ``{"type": "log", "low": 1e-4, "high": 1}``,
    ``{"type": "one_minus_log", "low": 0.9, "high": 0.999}``, ``{"type": "int", "low": 4,
    "high": 64, "log": true}``, ``{"type": "uniform", ...}``, a list (categorical) or a
    single value (fixed)."""
    if isinstance(spec, Param):
        return spec
    if isinstance(spec, list):
        return Categorical(spec)
    if not isinstance(spec, dict):
        return Fixed(spec)
    kind = str(spec.get("type", "")).lower()
    if kind not in _KINDS:
        raise ValueError(f"space: {name!r} has type {spec.get('type')!r}; expected one of "
                         f"{sorted(set(_KINDS))}")
    cls = _KINDS[kind]
    allowed = {Uniform: {"low", "high"}, LogUniform: {"low", "high"},
               OneMinusLog: {"low", "high"}, Int: {"low", "high", "log", "step"},
               Categorical: {"choices"}, Fixed: {"value"}}[cls]
    args = {k: v for k, v in spec.items() if k != "type"}
    unknown = set(args) - allowed
    missing = allowed - set(args) - {"log", "step"}
    if unknown or missing:
        what = f"unknown {sorted(unknown)}" if unknown else f"missing {sorted(missing)}"
        raise ValueError(f"space: {name!r} ({kind}): {what}; expected keys {sorted(allowed)}")
    try:
        return cls(**args)
    except TypeError as e:
        raise ValueError(f"space: {name!r}: {e}") from None


class SearchSpace(Mapping):
    """Named ``Param``s; ``suggest(trial)`` draws a dict of hyperparameters."""

    def __init__(self, params: Mapping[str, Any] | None = None, **more: Any) -> None:
        merged = {**(params or {}), **more}
        if not merged:
            raise ValueError("SearchSpace: expected at least one hyperparameter")
        self.params: dict[str, Param] = {str(k): param_from_config(str(k), v)
                                         for k, v in merged.items()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SearchSpace:
        """From the ``[space]`` table of a tuning config (see ``param_from_config``)."""
        if not isinstance(config, Mapping):
            raise ValueError(f"space: expected a table of hyperparameters, got "
                             f"{type(config).__name__}")
        return cls(dict(config))

    def to_config(self) -> dict[str, Any]:
        return {k: p.to_config() for k, p in self.params.items()}

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {name: p.suggest(trial, name) for name, p in self.params.items()}

    def decode(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Hyperparameters from a trial's stored ``params`` (``1-beta`` back to ``beta``)."""
        out = {}
        for name, p in self.params.items():
            if isinstance(p, Fixed):
                out[name] = p.value
            elif p.key(name) in raw:
                out[name] = p.decode(raw[p.key(name)])
        return out

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_config()})"


__all__ = ["Categorical", "Fixed", "Int", "LogUniform", "OneMinusLog", "Param", "SearchSpace",
           "Uniform", "param_from_config"]
