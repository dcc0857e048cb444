"""The step: how one batch becomes a loss. ``fit``'s one extension point.

A batch is whatever the data yields: ``(X, y)`` from a ``DataLoader`` over two arrays, or
several inputs, masks, lengths, dicts. The step turns it into a scalar loss (and what to log);
``fit`` does the rest (backward, clipping, the update, callbacks), ``evaluate`` runs the same
step in eval mode without the tape. As Keras' ``train_step`` or Lightning's ``training_step``:

    class PairStep(dl.train.Step):
        def __call__(self, model, batch):
            x1, x2, y = batch
            out = model(x1, x2)
            return dl.train.StepOutput(dl.ops.loss.mse_loss(out, y), outputs=out, targets=y)

    dl.train.fit(model, None, opt, dl.data.DataLoader(X1, X2, Y), step=PairStep(), metrics=())

A plain function ``step(model, batch) -> Tensor | StepOutput`` works too, and a model with a
``train_step(batch)`` method needs no ``step=`` at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dlkit.nn.losses import LossSpec, get_loss
from dlkit.nn.module import Module
from dlkit.tensor import Tensor


@dataclass
class StepOutput:
    """What a step returns. ``loss``: the scalar Tensor to minimize. ``size``: the batch's
    weight in the epoch's mean (examples, or tokens for a language model; default: the length
    of the batch's first element). ``outputs`` / ``targets``: the model's outputs and the
    targets, kept for the epoch's metrics (leave them None when no metric is asked for).
    ``logs``: more scalars to log, averaged over the epoch weighted by ``size``."""

    loss: Tensor
    size: int | None = None
    outputs: Any = None
    targets: Any = None
    logs: dict[str, Any] = field(default_factory=dict)


class Step:
    """Base class of steps: override ``__call__``; the hooks are optional.

    - ``begin(model, training)``: at the start of every training epoch and every evaluation
      pass (reset a carried recurrent state, say).
    - ``epoch_logs(logs)``: values derived from an epoch's averaged logs (perplexity from the
      loss); they are added to the logs (and, for validation, prefixed ``val_``).
    - ``predict(model, batch)``: the model's output for a batch, for ``predict``.
    """

    #: what the model outputs, for the metrics ("logits", "probabilities", "values", ...)
    output: str = "logits"

    def __call__(self, model: Module, batch: Any) -> StepOutput | Tensor:
        raise NotImplementedError(f"{type(self).__name__}: a Step must define __call__")

    def begin(self, model: Module, training: bool) -> None:
        """Called before each epoch (``training=True``) and each evaluation pass."""

    def epoch_logs(self, logs: Mapping[str, float]) -> dict[str, float]:
        """Values derived from the epoch's averaged ``logs`` (nothing by default)."""
        return {}

    def predict(self, model: Module, batch: Any) -> Any:
        """The model's output on the batch's inputs (its first element)."""
        return model(first(batch))


class SupervisedStep(Step):
    """The default step: ``batch = (X, y)``, ``out = model(X)``, ``loss = loss(out, y)``
    (the notes' forward pass and cost J of the mini-batch)."""

    def __init__(self, loss: str | Callable | LossSpec, output: str = "logits") -> None:
        self.spec = get_loss(loss, output)
        self.output = self.spec.output

    def __call__(self, model: Module, batch: Any) -> StepOutput:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(f"fit: the default step expects (X, y) batches, got "
                            f"{_describe(batch)}; pass step= for batches of another shape")
        X, y = batch[0], batch[1]
        out = model(X)
        return StepOutput(self.spec.fn(out, y), len(X), out, y)

    def __repr__(self) -> str:
        return f"SupervisedStep({self.spec.name!r})"


class FunctionStep(Step):
    """A function ``(model, batch) -> Tensor | StepOutput`` as a Step."""

    def __init__(self, fn: Callable[[Module, Any], Any], output: str = "logits") -> None:
        self.fn, self.output = fn, output

    def __call__(self, model: Module, batch: Any) -> Any:
        return self.fn(model, batch)


class ModelStep(Step):
    """A model's own ``train_step(batch)`` (and ``predict_step(batch)`` when it has one)."""

    def __init__(self, model: Module, output: str = "logits") -> None:
        self.output = getattr(model, "output", output)

    def __call__(self, model: Module, batch: Any) -> Any:
        return model.train_step(batch)

    def predict(self, model: Module, batch: Any) -> Any:
        if hasattr(model, "predict_step"):
            return model.predict_step(batch)
        return super().predict(model, batch)


def resolve_step(step: Step | Callable | None, model: Module,
                 loss: str | Callable | LossSpec | None, output: str) -> Step:
    """The step ``fit`` / ``evaluate`` use: ``step`` itself, the model's ``train_step``, or
    the default supervised step on ``loss``."""
    if isinstance(step, Step):
        return step
    if step is not None:
        if not callable(step):
            raise TypeError(f"fit: expected step to be a dlkit.train.Step or a function "
                            f"(model, batch) -> loss, got {type(step).__name__}")
        return FunctionStep(step, output)
    if hasattr(model, "train_step"):
        return ModelStep(model, output)
    if loss is None:
        raise ValueError("fit: expected a loss (a name such as 'cross_entropy' or a function "
                         "(outputs, targets) -> scalar), or a step= that computes it")
    return SupervisedStep(loss, output)


def as_output(result: Any, batch: Any) -> StepOutput:
    """A step's return value as a ``StepOutput`` (a bare Tensor is the loss)."""
    if isinstance(result, Tensor):
        result = StepOutput(result)
    if not isinstance(result, StepOutput):
        raise TypeError(f"fit: a step must return the loss Tensor or a StepOutput, got "
                        f"{type(result).__name__}")
    if result.loss.size != 1:
        raise ValueError(f"fit: the step's loss must be a scalar, got shape "
                         f"{result.loss.shape}; reduce it (mean or sum)")
    if result.size is None:
        result.size = _batch_len(batch)
    return result


def first(batch: Any) -> Any:
    """The inputs of a batch: its first element (a tuple or list), its "x" or "inputs" key
    (a dict), or the batch itself."""
    if isinstance(batch, (tuple, list)):
        return batch[0]
    if isinstance(batch, Mapping):
        for key in ("x", "X", "inputs", "input"):
            if key in batch:
                return batch[key]
        raise KeyError(f"predict: a dict batch needs an 'x' or 'inputs' key, got "
                       f"{sorted(batch)}; pass step= with a predict method")
    return batch


def _batch_len(batch: Any) -> int:
    """The number of examples of a batch: the length of its inputs (of a dict's first value
    when it has no "x" / "inputs" key)."""
    if isinstance(batch, Mapping) and not any(k in batch for k in ("x", "X", "inputs",
                                                                    "input")):
        x = next(iter(batch.values()), None)
    else:
        x = first(batch)
    try:
        return len(x)
    except TypeError:
        return 1


def _describe(batch: Any) -> str:
    if isinstance(batch, (tuple, list)):
        return f"a {type(batch).__name__} of {len(batch)}"
    return type(batch).__name__


__all__ = ["FunctionStep", "ModelStep", "Step", "StepOutput", "SupervisedStep", "as_output",
           "first", "resolve_step"]
