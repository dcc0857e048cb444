"""Coarse to fine (course 2, week 3): after a coarse random search, zoom in on the region
where the best trials are and search there more densely."""

from __future__ import annotations

import math
from typing import Any

from dlkit.tune.space import Fixed, SearchSpace


def top_trials(study: Any, top: float | int = 0.25) -> list[Any]:
    """The best complete trials: a fraction (``top`` a float in (0, 1], at least 2) or a
    number (``top`` an int)."""
    from dlkit.tune.search import optuna_module

    TrialState = optuna_module().trial.TrialState
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)]
    if not done:
        raise ValueError("narrow: the study has no complete trials to zoom in on")
    maximize = study.direction.name.lower() == "maximize"
    done.sort(key=lambda t: -t.value if maximize else t.value)
    if isinstance(top, float):
        if not 0 < top <= 1:
            raise ValueError(f"narrow: expected top a fraction in (0, 1] or a count, got {top}")
        k = max(min(2, len(done)), math.ceil(top * len(done)))
    else:
        if top < 1:
            raise ValueError(f"narrow: expected top >= 1 trials, got {top}")
        k = int(top)
    return done[:k]


def narrow(study: Any, space: SearchSpace, top: float | int = 0.25,
           margin: float = 0.5) -> SearchSpace:
    """A smaller space around the ``top`` trials: each range becomes the span of their values
    on the parameter's own scale (log for the learning rate, log of 1 - beta for beta),
    widened by ``margin`` times that span on each side and kept inside the old range;
    categories keep the choices the top trials used."""
    if margin < 0:
        raise ValueError(f"narrow: expected margin >= 0, got {margin}")
    best = top_trials(study, top)
    params = {}
    for name, p in space.items():
        key = p.key(name)
        values = [p.decode(t.params[key]) for t in best if key in t.params]
        params[name] = p if isinstance(p, Fixed) or not values else p.narrow(values, margin)
    return SearchSpace(params)


__all__ = ["narrow", "top_trials"]
