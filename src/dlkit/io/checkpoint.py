"""Training checkpoints: everything needed to resume a run bit for bit, in one safetensors file.

The file holds the model's weights and buffers, the optimizer's state arrays, hyperparameters
and step count, the learning-rate schedule's state, each callback's ``state_dict()`` (early
stopping's best value, patience counter, best weights), the epoch and step, and the dlkit RNG
state, so shuffling and dropout masks continue as if the run had never stopped. Arrays are
tensors of the file (``"model/0.weight"``, ``"optimizer/state/0.v"``); the rest is JSON in the
metadata key ``"dlkit.checkpoint"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dlkit.backend import get_rng_state, set_rng_state
from dlkit.io.files import CorruptFileError, PathLike, read_safetensors, write_safetensors
from dlkit.io.model import CHECKPOINT, CONFIG, FORMAT_VERSION, KIND, VERSION, _json, _load_state
from dlkit.io.tree import decode, encode
from dlkit.nn.config import to_config
from dlkit.nn.module import Module

REQUIRED = ("epoch", "step", "model", "optimizer", "schedule", "callbacks", "rng")


def callback_keys(callbacks: Iterable[Any]) -> list[tuple[str, Any]]:
    """Each callback with a key: its class name, then "#1", "#2" for further ones."""
    seen: dict[str, int] = {}
    keyed = []
    for cb in callbacks:
        if not hasattr(cb, "state_dict"):
            continue
        name = type(cb).__name__
        n = seen.get(name, 0)
        seen[name] = n + 1
        keyed.append((name if n == 0 else f"{name}#{n}", cb))
    return keyed


def save_checkpoint(path: PathLike, model: Module, optimizer: Any, epoch: int, step: int,
                    schedule: Any = None, callbacks: Iterable[Any] = (),
                    extra: dict[str, Any] | None = None) -> None:
    """Write a checkpoint atomically. ``epoch`` is the number of epochs completed (resume
    with ``fit(..., initial_epoch=epoch)``); ``step`` the number of batches; ``extra`` any
    JSON-able dict (arrays allowed)."""
    tree = {
        "epoch": int(epoch),
        "step": int(step),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "schedule": schedule.state_dict() if schedule is not None else None,
        "callbacks": {key: cb.state_dict() for key, cb in callback_keys(callbacks)},
        "rng": get_rng_state(),
        "extra": extra,
    }
    tensors: dict[str, Any] = {}
    metadata = {KIND: "checkpoint", VERSION: FORMAT_VERSION,
                CHECKPOINT: json.dumps(encode(tree, tensors), allow_nan=False)}
    try:
        metadata[CONFIG] = json.dumps(to_config(model))
    except (NotImplementedError, ValueError, TypeError):
        pass  # a model without a config is resumed into a model the user builds
    write_safetensors(path, tensors, metadata, "save_checkpoint")


def read_checkpoint(path: PathLike, func: str = "load_checkpoint") -> dict[str, Any]:
    """The state ``save_checkpoint`` wrote (arrays as NumPy), without applying it."""
    tensors, metadata = read_safetensors(path, func)
    kind = metadata.get(KIND)
    if kind != "checkpoint":
        what = f"a dlkit {kind} file" if kind else "a safetensors file without dlkit metadata"
        raise ValueError(f"{func}: {str(path)!r} is {what}, not a checkpoint (read it with "
                         "dlkit.io.load or load_weights)")
    try:
        state = decode(_json(func, path, metadata, CHECKPOINT), tensors)
        missing = [k for k in REQUIRED if k not in state]
        if missing:
            raise KeyError(f"the checkpoint metadata lacks {missing}")
    except (KeyError, TypeError) as e:
        raise CorruptFileError(f"{func}: {str(path)!r} is not a valid dlkit checkpoint: {e}") \
            from e
    return state


def load_checkpoint(path: PathLike, model: Module, optimizer: Any = None, schedule: Any = None,
                    callbacks: Iterable[Any] = (), *, restore_rng: bool = True,
                    strict: bool = True) -> dict[str, Any]:
    """Restore a checkpoint into ``model``, ``optimizer``, ``schedule`` and ``callbacks``
    (matched by class name) and, unless ``restore_rng=False``, the dlkit RNG state.

    Returns ``{"epoch", "step", "extra"}``: continue with ``fit(..., initial_epoch=epoch)``.
    """
    state = read_checkpoint(path)
    where = f"load_checkpoint: {str(path)!r}"
    if optimizer is not None and state["optimizer"] is None:
        raise ValueError(f"{where} holds no optimizer state (pass optimizer=None)")
    if schedule is not None and state["schedule"] is None:
        raise ValueError(f"{where} holds no schedule state (a LearningRateScheduler callback "
                         "carries its schedule: pass it in callbacks)")
    keyed = callback_keys(callbacks)
    missing = [key for key, _ in keyed if key not in state["callbacks"]]
    if missing:
        raise KeyError(f"{where} holds no state for callbacks {missing}; it has "
                       f"{sorted(state['callbacks'])}")
    _load_state("load_checkpoint", path, model, state["model"], strict)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(state["schedule"])
    for key, cb in keyed:
        cb.load_state_dict(state["callbacks"][key])
    if restore_rng:
        set_rng_state(state["rng"])
    return {"epoch": state["epoch"], "step": state["step"], "extra": state["extra"]}
