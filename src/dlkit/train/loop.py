"""The training loop: fit, evaluate, predict. One loop for every model; what differs between
tasks (the batch's structure, the loss) is the step (``dlkit.train.step``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module, to_numpy
from dlkit.data.dataset import is_iterable_dataset, is_map_dataset
from dlkit.data.loader import DataLoader
from dlkit.metrics import get_metric
from dlkit.nn.losses import LossSpec
from dlkit.nn.module import Module
from dlkit.nn.regularization import l2_penalty
from dlkit.optim.clip import clip_grad_norm, clip_grad_value
from dlkit.optim.optimizer import Optimizer
from dlkit.tensor import Tensor, no_grad
from dlkit.train.callbacks import Callback, CallbackList
from dlkit.train.history import History
from dlkit.train.step import ModelStep, Step, as_output, resolve_step
from dlkit.train.trainer import Trainer

__all__ = ["Trainer", "batches", "evaluate", "fit", "predict"]

Data = Any  # arrays X (with y), a DataLoader, or any re-iterable of batches


def batches(data: Data, y: Any = None, *, batch_size: int = 64, shuffle: bool = False,
            transform: Callable | None = None, func: str = "fit",
            device: Any = None) -> Iterable[Any]:
    """The batches of ``data``: a ``DataLoader`` over the arrays ``(data, y)`` (or ``data``
    alone when ``y`` is None and ``data`` is an array) or over a ``dlkit.data`` dataset
    (map-style or a stream), or ``data`` itself when it already is a loader or an iterable of
    batches (then ``batch_size`` and ``shuffle`` are its own). The loaders made here move
    each batch to ``device`` (a model's on a GPU)."""
    if y is None and (is_map_dataset(data) or is_iterable_dataset(data)):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle and is_map_dataset(data),
                          transform=transform, device=device)
    if isinstance(data, (np.ndarray, Tensor)) or y is not None or _is_array_like(data):
        arrays = (data,) if y is None else (data, y)
        return DataLoader(*arrays, batch_size=batch_size, shuffle=shuffle, transform=transform,
                          device=device)
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{func}: expected arrays X (and y), a DataLoader or an iterable of "
                        f"batches, got {type(data).__name__}")
    if iter(data) is data:
        raise TypeError(f"{func}: got a one-shot iterator ({type(data).__name__}); every epoch "
                        "iterates the data again: pass a DataLoader, a list of batches, or an "
                        "object whose __iter__ starts a new pass")
    if transform is not None:
        raise ValueError(f"{func}: transform= applies to arrays; give the DataLoader its own "
                         "transform")
    return data


def _is_array_like(data: Any) -> bool:
    """A list of numbers or of equal rows (old-style X), not a list of batches."""
    if not isinstance(data, list) or not data:
        return False
    head = data[0]
    return isinstance(head, (int, float, np.number)) or (
        isinstance(head, list) and bool(head) and isinstance(head[0], (int, float, np.number)))


def _device(model: Module) -> Any:
    """The model's device when it is not the CPU (batches made from arrays go there)."""
    dev = model.device if isinstance(model, Module) else None
    return None if dev is None or dev.type == "cpu" else dev


def _validation(data: Any, func: str, device: Any = None) -> Iterable[Any] | None:
    """``validation_data``: (X, y) arrays, or a loader / iterable of batches."""
    if data is None:
        return None
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ValueError(f"{func}: expected validation_data=(X_val, y_val) or a DataLoader, "
                             f"got a tuple of {len(data)}")
        return batches(data[0], data[1], batch_size=256, func=func, device=device)
    return batches(data, func=func, device=device)


def _length(data: Iterable[Any]) -> int | None:
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return None


class _EpochMeans:
    """Weighted means of the loss and the step's logs over an epoch, and the outputs and
    targets kept for the metrics."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.sums: dict[str, float] = {}
        self.weight = 0
        self.outputs: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []

    def add(self, value: float, out: Any) -> None:
        size = int(out.size)
        self.weight += size
        self.sums["loss"] = self.sums.get("loss", 0.0) + value * size
        for k, v in out.logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(_scalar(v)) * size
        if self.keep and out.outputs is not None:  # kept where they are (a GPU's memory)
            self.outputs.append(_array(out.outputs))
            self.targets.append(_array(out.targets))

    def logs(self, step: Step, metric_fns: dict[str, Callable[..., float]]) -> dict[str, float]:
        logs = {k: v / max(self.weight, 1) for k, v in self.sums.items()}
        if metric_fns and self.outputs:
            outputs, targets = _host_concatenate(self.outputs), _host_concatenate(self.targets)
            for name, fn in metric_fns.items():
                logs[name] = fn(outputs, targets, step.output)
        logs.update(step.epoch_logs(logs))
        return logs


def _scalar(v: Any) -> float:
    return v.item() if isinstance(v, Tensor) else float(v)


def _array(v: Any) -> Any:
    v = v.data if isinstance(v, Tensor) else v
    return v if hasattr(v, "shape") else np.asarray(v)


def _host_concatenate(arrays: list) -> np.ndarray:
    """One array on the host from an epoch's batches: concatenated where they are, then
    moved once (one copy from a GPU per epoch, not one per batch)."""
    xps = {id(array_module(a)): array_module(a) for a in arrays}
    if len(xps) == 1:
        return to_numpy(next(iter(xps.values())).concatenate(arrays))
    return np.concatenate([to_numpy(a) for a in arrays])


def _metric_fns(metrics: Sequence[str]) -> dict[str, Callable[..., float]]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    return {name: get_metric(name) for name in metrics}


def predict(model: Module, data: Data, batch_size: int = 256, *,
            step: Step | Callable | None = None) -> np.ndarray:
    """The model's outputs on ``data`` (eval mode, no tape), as one NumPy array: arrays X, or a
    loader of batches whose inputs the step's ``predict`` picks (the first element)."""
    if step is not None:
        runner = resolve_step(step, model, None, "values")
    else:
        runner = ModelStep(model) if hasattr(model, "train_step") else Step()
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            runner.begin(model, False)
            for batch in batches(data, batch_size=batch_size, func="predict",
                                 device=_device(model)):
                outputs.append(_array(runner.predict(model, batch)))
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict: the data yielded no batches")
    return _host_concatenate(outputs)


def evaluate(model: Module, loss: str | Callable | LossSpec | None, data: Data, y: Any = None,
             metrics: Sequence[str] = ("accuracy",), batch_size: int = 256,
             output: str = "logits", *, step: Step | Callable | None = None) -> dict[str, float]:
    """The loss (the mean over all examples, or whatever ``size`` the step weights by) and
    the metrics over the whole of ``data`` (arrays X, y; or batches), in eval mode."""
    runner = resolve_step(step, model, loss, output)
    return _evaluate(model, runner, batches(data, y, batch_size=batch_size, func="evaluate",
                                            device=_device(model)),
                     _metric_fns(metrics))


def _evaluate(model: Module, step: Step, data: Iterable[Any],
              metric_fns: dict[str, Callable[..., float]]) -> dict[str, float]:
    was_training = model.training
    model.eval()
    means = _EpochMeans(keep=bool(metric_fns))
    try:
        with no_grad():
            step.begin(model, False)
            for batch in data:
                out = as_output(step(model, batch), batch)
                means.add(float(out.loss.item()), out)
    finally:
        model.train(was_training)
    if means.weight == 0:
        raise ValueError("evaluate: the data yielded no examples")
    return means.logs(step, metric_fns)


def _check_fit_args(epochs: int, initial_epoch: int, clip_norm: float | None,
                    clip_value: float | None, l2: float) -> None:
    if epochs < 0:
        raise ValueError(f"fit: expected epochs >= 0, got {epochs}")
    if initial_epoch < 0:
        raise ValueError(f"fit: expected initial_epoch >= 0, got {initial_epoch}")
    if initial_epoch > epochs:
        raise ValueError(
            f"fit: initial_epoch={initial_epoch} is past epochs={epochs}; epochs is the epoch "
            f"to stop before, not a count (to train 5 more epochs after epoch {initial_epoch}, "
            f"pass initial_epoch={initial_epoch}, epochs={initial_epoch + 5})")
    for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if value is not None and not value > 0:
            raise ValueError(f"fit: expected {name} > 0 or None, got {value}")
    if l2 < 0:
        raise ValueError(f"fit: expected l2 (lambda) >= 0, got {l2}")


def fit(model: Module, loss: str | Callable | LossSpec | None, optimizer: Optimizer, X: Data,
        y: Any = None, epochs: int = 10, batch_size: int = 64,
        validation_data: Any = None, callbacks: Sequence[Callback] = (),
        metrics: Sequence[str] = ("accuracy",), shuffle: bool = True, output: str = "logits",
        *, step: Step | Callable | None = None, initial_epoch: int = 0,
        clip_norm: float | None = None, clip_value: float | None = None, l2: float = 0.0,
        verbose: int = 0, transform: Callable | None = None) -> History:
    """Mini-batch training: for each epoch and batch, the step (forward and cost), backward,
    (clip), update; callbacks see every stage.

    - data: arrays ``X, y`` (batched by a ``DataLoader`` of ``batch_size``, reshuffled each
      epoch from the dlkit generator), or a ``DataLoader`` / any re-iterable of batches of
      any structure (tuples, dicts, several inputs, masks, lengths).
    - ``loss``: a name ("cross_entropy", "binary_cross_entropy_with_logits",
      "binary_cross_entropy", "mse", ...) or a function (outputs, targets) -> scalar tensor,
      for the default step ``(X, y) -> loss(model(X), y)``. ``step``: how a batch becomes a
      loss otherwise (``dlkit.train.Step`` or a function (model, batch) -> loss or
      ``StepOutput``); a model with a ``train_step(batch)`` method is its own step.
    - Logs per epoch: ``loss`` (mean over the epoch, each batch weighted by its size), the
      step's own logs, each metric on the training outputs, ``val_*`` on ``validation_data``
      ((X, y) or batches, run through the same step), and ``lr``. Returns the ``History``.
    - ``initial_epoch``: resume Keras-style: train epochs ``initial_epoch .. epochs - 1``
      (after ``dlkit.io.load_checkpoint``, which restores the RNG so the run continues exactly).
    - ``clip_value`` / ``clip_norm``: clip each gradient entry, then the global norm, after
      backward and before the update.
    - ``l2``: the notes' L2 regularization lambda: each batch's cost gets
      ``l2_penalty(model, l2, m)`` with m = the batch's size; the logged ``loss`` includes it,
      ``val_loss`` does not.
    - ``verbose``: 1 adds a ``ProgressBar`` (it stays off when stdout is not a terminal).
    - ``transform``: augmentation of each training batch of the array X.
    """
    runner = resolve_step(step, model, loss, output)
    metric_fns = _metric_fns(metrics)
    _check_fit_args(epochs, initial_epoch, clip_norm, clip_value, l2)
    train_data = batches(X, y, batch_size=batch_size, shuffle=shuffle, transform=transform,
                         device=_device(model))
    val_data = _validation(validation_data, "fit", _device(model))
    n_batches = _length(train_data)
    history = History()
    trainer = Trainer(model, optimizer, history, [], epochs=epochs,
                      initial_epoch=initial_epoch, steps_per_epoch=n_batches or 0,
                      epoch=initial_epoch, step=initial_epoch * (n_batches or 0))
    hooks = CallbackList(callbacks, trainer, verbose)
    trainer.callbacks = hooks.callbacks
    hooks.on_train_begin({})
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        trainer.epoch = epoch
        hooks.on_epoch_begin(epoch, {})
        logs = _train_epoch(trainer, hooks, runner, train_data, n_batches, metric_fns,
                            clip_norm, clip_value, l2)
        if val_data is not None:
            val = _evaluate(model, runner, val_data, metric_fns)
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = optimizer.lr
        history.append(epoch, logs)
        hooks.on_epoch_end(epoch, logs)
        if trainer.stop_training:
            break
    hooks.on_train_end(dict(logs))
    return history


def _train_epoch(trainer: Trainer, hooks: CallbackList, step: Step, data: Iterable[Any],
                 n_batches: int | None, metric_fns: dict[str, Callable[..., float]],
                 clip_norm: float | None, clip_value: float | None,
                 l2: float) -> dict[str, float]:
    """One pass over the data; returns the epoch's loss, step logs and training metrics."""
    model, optimizer = trainer.model, trainer.optimizer
    model.train()
    trainer.epoch_completed = False
    step.begin(model, True)
    means = _EpochMeans(keep=bool(metric_fns))
    done = 0
    for batch_index, batch in enumerate(data):
        hooks.on_batch_begin(batch_index, {})
        optimizer.zero_grad()
        out = as_output(step(model, batch), batch)
        cost = out.loss
        if l2:
            cost = cost + l2_penalty(model, l2, out.size)
        cost.backward()
        if clip_value is not None:
            clip_grad_value(optimizer.params, clip_value)
        if clip_norm is not None:
            clip_grad_norm(optimizer.params, clip_norm)
        optimizer.step()
        trainer.step += 1
        done += 1
        value = float(cost.item())
        means.add(value, out)
        hooks.on_batch_end(batch_index, {"loss": value, "size": out.size})
        if trainer.stop_training:
            break
    trainer.epoch_completed = not trainer.stop_training if n_batches is None \
        else done == n_batches
    if means.weight == 0:
        return {"loss": math.nan}
    return means.logs(step, metric_fns)
