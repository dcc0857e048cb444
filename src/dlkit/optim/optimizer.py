"""Optimizer base: holds the parameters and their state (never the layers), steps, saves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dlkit.backend import array_module, to_numpy
from dlkit.devices import device_of, to_device
from dlkit.tensor import Tensor


class Optimizer:
    """Updates ``params`` from their ``.grad`` on each ``step()``.

    ``weight_decay`` is the notes' L2 regularization applied as a gradient term: it adds
    ``weight_decay * W`` to the gradient of every weight (ndim >= 2; biases and batch-norm
    scales are not regularized, as in the notes). With a mean loss, the notes' cost term
    lambda/(2m) ||W||^2 equals ``weight_decay = lambda / m``.
    """

    hyperparameters: tuple[str, ...] = ("lr", "weight_decay")

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, expected a Tensor (model.parameters())")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: expected lr >= 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: expected weight_decay >= 0, got "
                             f"{weight_decay}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self.step_count = 0
        # one reusable work array per parameter: updates run in place, without temporaries
        self._scratch: list[Any] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.step_count += 1
        for i, p in enumerate(self.params):
            if p.grad is None or not p.requires_grad:
                continue
            w, g = p.data, p.grad
            tmp = self._scratch[i]
            if tmp is None or tmp.shape != w.shape or tmp.dtype != w.dtype \
                    or type(tmp) is not type(w):
                tmp = self._scratch[i] = array_module(w).empty_like(w)
                self._follow(i, w)
            if self.weight_decay and p.ndim >= 2:
                g = g + self.weight_decay * w
            self.update(w, g, self.state[i], tmp)

    def _follow(self, i: int, w: Any) -> None:
        """Parameter ``i``'s state arrays on ``w``'s device (after ``model.to(device)``)."""
        from dlkit.devices import device_of, to_device

        state = self.state[i]
        if state:
            dev = device_of(w)
            for k, v in state.items():
                if hasattr(v, "shape") and type(v) is not type(w):
                    state[k] = to_device(v, dev)

    def to(self, device: Any) -> Optimizer:
        """Move the state arrays now to ``device`` (``step`` also moves them to where the
        parameters are); returns the optimizer."""
        from dlkit.devices import device as _device
        from dlkit.devices import to_device

        dev = _device(device)
        for state in self.state:
            for k, v in state.items():
                if hasattr(v, "shape"):
                    state[k] = to_device(v, dev)
        self._scratch = [None] * len(self.params)
        return self

    def update(self, w: Any, g: Any, state: dict[str, Any], tmp: Any) -> None:
        """Change ``w`` in place from its gradient ``g`` and its ``state``; ``tmp`` is a work
        array of ``w``'s shape whose content may be overwritten (``g`` must not be)."""
        raise NotImplementedError

    def zeros_like_state(self, state: dict[str, Any], name: str, w: Any) -> Any:
        if name not in state:
            state[name] = array_module(w).zeros_like(w)
        return state[name]

    # ---- saving -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, the step count and every state array (NumPy) by parameter index."""
        arrays = {f"{i}.{k}": to_numpy(v).copy() for i, s in enumerate(self.state)
                  for k, v in s.items()}
        hyper = {k: getattr(self, k) for k in self.hyperparameters}
        return {"type": type(self).__name__, "hyperparameters": hyper,
                "step_count": self.step_count, "state": arrays}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state is of a "
                             f"{state.get('type')} optimizer")
        for k, v in state["hyperparameters"].items():
            setattr(self, k, v)
        self.step_count = int(state["step_count"])
        self.state = [{} for _ in self.params]
        for key, value in state["state"].items():
            index, name = key.split(".", 1)
            i = int(index)
            if i >= len(self.params):
                raise ValueError(f"load_state_dict: state for parameter {i}, but the optimizer "
                                 f"has {len(self.params)} parameters")
            w = self.params[i].data
            if not hasattr(value, "shape"):
                value = np.asarray(value)
            if tuple(value.shape) != w.shape:
                raise ValueError(f"load_state_dict: state {key!r} has shape "
                                 f"{tuple(value.shape)}, parameter {i} has {w.shape}")
            self.state[i][name] = to_device(value, device_of(w)).astype(w.dtype, copy=True)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)}" for k in self.hyperparameters)
        return f"{type(self).__name__}({hyper})"
