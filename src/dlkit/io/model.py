"""Save and load models and weights as safetensors (no pickle: loading never runs code).

A model file holds the ``state_dict`` arrays under their dotted names (``"0.weight"``), in
their own dtype, and the model config as JSON in the metadata (key ``"dlkit.config"``), so
``load`` rebuilds the layers from the registry (``dlkit.nn.register``) and fills them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dlkit.errors import ShapeError
from dlkit.io.budget import BudgetExceeded, draw_budget
from dlkit.io.files import CorruptFileError, PathLike, read_safetensors, write_safetensors
from dlkit.io.tree import decode
from dlkit.io.validate import JSONDepthError, loads_bounded
from dlkit.nn.config import UnknownLayerError, module_from_config, to_config
from dlkit.nn.module import Module

FORMAT_VERSION = "1"
KIND, VERSION, CONFIG, CHECKPOINT = ("dlkit.kind", "dlkit.format_version", "dlkit.config",
                                     "dlkit.checkpoint")


def _check_module(func: str, model: Any) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{func}: expected a dlkit.nn.Module, got {type(model).__name__}")


def save(model: Module, path: PathLike) -> None:
    """Write the weights and buffers of ``model`` and its config (``dlkit.nn.to_config``);
    ``load(path)`` rebuilds it. A model without a config: use ``save_weights``."""
    _check_module("save", model)
    config = to_config(model)
    metadata = {KIND: "model", VERSION: FORMAT_VERSION, CONFIG: json.dumps(config)}
    write_safetensors(path, model.state_dict(), metadata, "save")


def save_weights(model: Module, path: PathLike) -> None:
    """Write the ``state_dict`` only (any Module); read it back with ``load_weights``."""
    _check_module("save_weights", model)
    write_safetensors(path, model.state_dict(), {KIND: "weights", VERSION: FORMAT_VERSION},
                      "save_weights")


def _json(func: str, path: PathLike, metadata: dict[str, str], key: str) -> Any:
    try:
        return loads_bounded(metadata[key])
    except JSONDepthError as e:
        raise CorruptFileError(f"{func}: {str(path)!r} is not a valid dlkit/safetensors file: "
                               f"its {key!r} metadata is {e}") from None
    except ValueError as e:
        raise CorruptFileError(f"{func}: {str(path)!r} is not a valid dlkit/safetensors file: "
                               f"its {key!r} metadata is not JSON ({e})") from e


def read_model_state(path: PathLike, func: str) -> tuple[dict[str, np.ndarray],
                                                         dict[str, str]]:
    """The model arrays of a model, weights or checkpoint file (or any safetensors file),
    and the file's metadata."""
    tensors, metadata = read_safetensors(path, func)
    if metadata.get(KIND) != "checkpoint":
        return tensors, metadata
    tree = _json(func, path, metadata, CHECKPOINT)
    try:
        return decode(tree["model"], tensors), metadata
    except (KeyError, TypeError) as e:
        raise CorruptFileError(f"{func}: {str(path)!r} is not a valid dlkit checkpoint: {e}") \
            from e


def load(path: PathLike, device: Any = None) -> Module:
    """Rebuild the model saved by ``save`` (or in a checkpoint of a model with a config) and
    load its weights, on ``device`` (``"cuda"``; default the CPU; files always hold host
    arrays, whatever the device of the saved model). Building does not consume draws of the
    dlkit RNG, and a config that declares more weights than the file holds raises
    ``CorruptFileError`` before they are allocated."""
    state, metadata = read_model_state(path, "load")
    if CONFIG not in metadata:
        raise ValueError(f"load: {str(path)!r} holds weights without a model config (written "
                         "by save_weights or another tool); build the model and call "
                         "load_weights(model, path)")
    config = _json("load", path, metadata, CONFIG)
    elements = sum(int(a.size) for a in state.values())
    try:
        with draw_budget(elements):  # nothing larger than the file's arrays is allocated
            model = module_from_config(config)
    except UnknownLayerError as e:
        raise UnknownLayerError(f"load: {str(path)!r}: {e}") from e
    except (BudgetExceeded, MemoryError, RecursionError) as e:
        reason = e if isinstance(e, BudgetExceeded) else (
            f"building the model its config declares failed ({type(e).__name__}); the "
            f"file holds {elements} array elements")
        raise CorruptFileError(f"load: {str(path)!r} is not a valid dlkit model file: "
                               f"{reason}") from None
    _load_state("load", path, model, state, strict=True)
    return model if device is None else model.to(device)


def load_weights(model: Module, path: PathLike, strict: bool = True) -> Module:
    """Copy the arrays of a weights, model or checkpoint file into ``model`` (keeping the
    model's dtypes). ``strict``: the names must match exactly. Returns ``model``."""
    _check_module("load_weights", model)
    state, _ = read_model_state(path, "load_weights")
    _load_state("load_weights", path, model, state, strict)
    return model


def _load_state(func: str, path: PathLike, model: Module, state: dict[str, Any],
                strict: bool) -> None:
    try:
        model.load_state_dict(state, strict=strict)
    except KeyError as e:
        raise KeyError(f"{func}({str(path)!r}): {e.args[0]}") from e
    except ShapeError as e:
        raise ShapeError(f"{func}({str(path)!r}): {e}") from e
