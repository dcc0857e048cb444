"""The training loop: fit, evaluate, predict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.data.loader import DataLoader
from dlkit.nn.module import Module
from dlkit.optim.clip import clip_grad_norm, clip_grad_value
from dlkit.optim.optimizer import Optimizer
from dlkit.tensor import Tensor, no_grad
from dlkit.train.callbacks import Callback, ProgressBar
from dlkit.train.history import History
from dlkit.train.losses import LossSpec, get_loss
from dlkit.train.metrics import get_metric
from dlkit.train.regularization import l2_penalty
from dlkit.train.trainer import Trainer

__all__ = ["Trainer", "evaluate", "fit", "predict"]


def predict(model: Module, X: Any, batch_size: int = 256) -> np.ndarray:
    """The model's outputs on X (eval mode, no tape), as a NumPy array."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for (xb,) in DataLoader(X, batch_size=batch_size, shuffle=False):
                outputs.append(to_numpy(model(xb).data))
    finally:
        model.train(was_training)
    return np.concatenate(outputs)


def evaluate(model: Module, loss: str | Callable | LossSpec, X: Any, y: Any,
             metrics: Sequence[str] = ("accuracy",), batch_size: int = 256,
             output: str = "logits") -> dict[str, float]:
    """Loss and metrics over the whole of (X, y) in eval mode."""
    spec = get_loss(loss, output)
    outputs = predict(model, X, batch_size)
    y = np.asarray(y)
    logs = {"loss": float(spec.fn(Tensor(outputs), Tensor(y)).item())}
    for name in metrics:
        logs[name] = get_metric(name)(outputs, y, spec.output)
    return logs


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


def fit(model: Module, loss: str | Callable | LossSpec, optimizer: Optimizer, X: Any, y: Any,
        epochs: int = 10, batch_size: int = 64, validation_data: tuple[Any, Any] | None = None,
        callbacks: Sequence[Callback] = (), metrics: Sequence[str] = ("accuracy",),
        shuffle: bool = True, output: str = "logits", *, initial_epoch: int = 0,
        clip_norm: float | None = None, clip_value: float | None = None, l2: float = 0.0,
        verbose: int = 0, transform: Callable | None = None) -> History:
    """Mini-batch training: for each epoch and batch, forward, loss, backward, (clip), step.

    ``loss`` is a name ("cross_entropy", "binary_cross_entropy_with_logits",
    "binary_cross_entropy", "mse") or a function (predictions, targets) -> scalar tensor.
    Logs per epoch: ``loss`` (mean over batches, weighted by batch size), each metric on the
    training set, ``val_*`` on ``validation_data``, and ``lr``. Returns the ``History``.

    - ``initial_epoch``: resume Keras-style: train epochs ``initial_epoch .. epochs - 1``
      (after ``dlkit.io.load_checkpoint``, which restores the RNG so the run continues exactly).
    - ``clip_value`` / ``clip_norm``: clip each gradient entry, then the global norm, after
      backward and before the step (``dlkit.optim.clip_grad_value`` / ``clip_grad_norm``).
    - ``l2``: the notes' L2 regularization lambda: each batch's cost gets
      ``l2_penalty(model, l2, m)`` with m = the batch's size (the cost J of that mini-batch).
      The logged ``loss`` is this regularized cost; ``val_loss`` is the plain loss.
    - ``verbose``: 1 adds a ``ProgressBar`` (it stays off when stdout is not a terminal).
    - ``transform``: data augmentation applied to each training batch of X
      (``dlkit.data.Compose([RandomHorizontalFlip(), RandomCrop(32, padding=4)])``).

    Callbacks run sorted by their ``order`` (``ModelCheckpoint`` last).
    """
    spec = get_loss(loss, output)
    metric_fns = {name: get_metric(name) for name in metrics}
    _check_fit_args(epochs, initial_epoch, clip_norm, clip_value, l2)
    callbacks = list(callbacks)
    if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar())
    callbacks.sort(key=lambda cb: getattr(cb, "order", 0))
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, transform=transform)
    history = History()
    trainer = Trainer(model, optimizer, history, callbacks, epochs=epochs,
                      initial_epoch=initial_epoch, steps_per_epoch=len(loader),
                      epoch=initial_epoch, step=initial_epoch * len(loader))
    for cb in callbacks:
        cb.trainer = trainer
    for cb in callbacks:
        cb.on_train_begin({})
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        trainer.epoch = epoch
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        logs = _train_epoch(trainer, loader, spec, metric_fns, clip_norm, clip_value, l2)
        if validation_data is not None:
            val = evaluate(model, spec, validation_data[0], validation_data[1], metrics)
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = optimizer.lr
        history.append(epoch, logs)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if trainer.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(dict(logs))
    return history


def _train_epoch(trainer: Trainer, loader: DataLoader, spec: LossSpec,
                 metric_fns: dict[str, Callable[..., float]], clip_norm: float | None,
                 clip_value: float | None, l2: float) -> dict[str, float]:
    """One pass over the loader; returns the epoch's loss and training metrics."""
    model, optimizer, callbacks = trainer.model, trainer.optimizer, trainer.callbacks
    model.train()
    trainer.epoch_completed = False
    total, seen, n_batches = 0.0, 0, 0
    outputs, targets = [], []
    for batch, (xb, yb) in enumerate(loader):
        optimizer.zero_grad()
        out = model(xb)
        batch_loss = spec.fn(out, yb)
        if l2:
            batch_loss = batch_loss + l2_penalty(model, l2, len(xb))
        batch_loss.backward()
        if clip_value is not None:
            clip_grad_value(optimizer.params, clip_value)
        if clip_norm is not None:
            clip_grad_norm(optimizer.params, clip_norm)
        optimizer.step()
        trainer.step += 1
        n_batches += 1
        value = float(batch_loss.item())
        total += value * len(xb)
        seen += len(xb)
        if metric_fns:
            outputs.append(to_numpy(out.data))
            targets.append(to_numpy(yb.data))
        for cb in callbacks:
            cb.on_batch_end(batch, {"loss": value})
        if trainer.stop_training:
            break
    trainer.epoch_completed = n_batches == len(loader)
    logs = {"loss": total / max(seen, 1)}
    if metric_fns and outputs:
        out_all, y_all = np.concatenate(outputs), np.concatenate(targets)
        for name, fn in metric_fns.items():
            logs[name] = fn(out_all, y_all, spec.output)
    return logs
