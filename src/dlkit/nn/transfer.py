"""Transfer learning, as the notes: take a network trained on a large data set, freeze its
layers, replace the softmax head by one for the new classes, and train only the head. With
little data, precompute the frozen part's activations once (``FeatureCache``) and train the
head on them; with more data, unfreeze the last layers too (``unfreeze_last``) and fine-tune.

    backbone, head = split_head(model)     # after replace_head(model, n_classes)
    freeze_backbone(backbone)
    cache = FeatureCache(backbone, X, path="features.npz")
    fit(head, "cross_entropy", Adam(head.parameters()), cache.features, y)
    # model(X) now predicts the new classes; later: unfreeze_last(model, 3) and fit(model, ...)
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.io.files import PathLike, atomic_write_bytes, read_safetensors, write_safetensors
from dlkit.nn.container import Sequential
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.tensor import Tensor, no_grad

__all__ = ["FeatureCache", "freeze_backbone", "parameterised_layers", "replace_head",
           "split_head", "trainable_parameters", "unfreeze_last"]

CACHE_KIND = "feature_cache"


# ---- the head -------------------------------------------------------------------------------
def _chain(model: Module, func: str) -> list[Module]:
    """The model as the list of modules its forward applies in turn: a Sequential's layers,
    a zoo model's ``.net`` layers, or its ``.features`` then its ``.classifier`` layers; a
    trailing Sequential is opened up."""
    if isinstance(model, Sequential):
        chain = list(model)
    elif isinstance(getattr(model, "net", None), Sequential):
        chain = list(model.net)
    elif isinstance(getattr(model, "features", None), Module) and \
            isinstance(getattr(model, "classifier", None), Sequential):
        chain = [model.features, *model.classifier]
    else:
        raise TypeError(f"{func}: expected a Sequential, or a model with a Sequential .net, or "
                        f".features and a Sequential .classifier (the zoo's layout); got a "
                        f"{type(model).__name__}")
    while chain and isinstance(chain[-1], Sequential):
        chain = chain[:-1] + list(chain[-1])
    return chain


def _head_index(chain: list[Module], func: str) -> int:
    linears = [i for i, m in enumerate(chain) if isinstance(m, Linear)]
    if not linears:
        raise ValueError(f"{func}: the model ends without a Linear layer (its head)")
    i = linears[-1]
    after = [type(m).__name__ for m in chain[i + 1:] if any(True for _ in m.parameters())]
    if after:
        raise ValueError(f"{func}: the last Linear is followed by layers with parameters "
                         f"{after}; expected the head (a Linear) at the end")
    return i


def split_head(model: Module) -> tuple[Sequential, Module]:
    """(backbone, head): the head is the last Linear (with any parameterless layers after
    it), the backbone every layer before it. Both share the model's layers (no copy), so
    ``head(backbone(x))`` is ``model(x)`` and training either trains the model."""
    chain = _chain(model, "split_head")
    i = _head_index(chain, "split_head")
    head = chain[i] if i == len(chain) - 1 else Sequential(*chain[i:])
    return Sequential(*chain[:i]), head


def replace_head(model: Module, n_classes: int, init: Any = "xavier") -> Linear:
    """Replace the last Linear of ``model`` (a Sequential, or a zoo model's ``.net`` or
    ``.classifier``) by a new one with ``n_classes`` outputs, the same input size and a fresh
    ``init``; its place in the layer order is kept and ``model.n_classes`` is updated (so
    ``dlkit.io.save`` rebuilds the new model). Returns the new head."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 1:
        raise ValueError(f"replace_head: expected n_classes a positive int, got {n_classes!r}")
    chain = _chain(model, "replace_head")
    old = chain[_head_index(chain, "replace_head")]
    new = Linear(old.n_in, int(n_classes), bias=old.bias is not None, init=init,
                 dtype=old.weight.dtype)
    for parent in model.modules():
        for name, child in parent._modules.items():
            if child is old:  # assign in place: setattr would move it to the end of the order
                parent._modules[name] = new
                object.__setattr__(parent, name, new)
    if isinstance(getattr(model, "n_classes", None), int):
        model.n_classes = int(n_classes)
    return new


# ---- freezing -------------------------------------------------------------------------------
def trainable_parameters(model: Module) -> list[Parameter]:
    """The parameters that require gradients (what an optimizer needs to hold)."""
    return [p for p in model.parameters() if p.requires_grad]


def parameterised_layers(model: Module) -> list[tuple[str, Module]]:
    """(name, module) of every layer with parameters of its own, in the model's order."""
    return [(name, m) for name, m in model.named_modules() if m._parameters]


def freeze_backbone(module: Module) -> Module:
    """Freeze every parameter of ``module``. Its batch norms then run in inference mode (the
    running averages normalize and are not updated: a frozen batch norm is a fixed affine
    map), until ``unfreeze_last`` makes their scale and shift trainable again."""
    return module.freeze()


def unfreeze_last(model: Module, n_layers: int) -> list[str]:
    """Unfreeze the parameters of the last ``n_layers`` layers with parameters (counting from
    the end, in the model's order, batch norms included: ``parameterised_layers``); the
    others keep their state. Returns the names of the layers unfrozen."""
    layers = parameterised_layers(model)
    if isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer)) \
            or not 0 <= n_layers <= len(layers):
        raise ValueError(f"unfreeze_last: expected n_layers an int in [0, {len(layers)}] (the "
                         f"model's layers with parameters), got {n_layers!r}")
    chosen = layers[len(layers) - n_layers:]
    for _, m in chosen:
        for p in m._parameters.values():
            p.requires_grad = True
    return [name for name, _ in chosen]


# ---- cached features ------------------------------------------------------------------------
def _outputs(module: Module, X: np.ndarray, batch_size: int) -> np.ndarray:
    """``module``'s outputs on X in eval mode without the tape, batch by batch."""
    was = module.training
    module.eval()
    try:
        with no_grad():
            parts = [to_numpy(module(Tensor(X[s:s + batch_size])).data)
                     for s in range(0, len(X), batch_size)]
    finally:
        module.train(was)
    return np.concatenate(parts)


def _as_array(X: Any) -> np.ndarray:
    return to_numpy(X.data if isinstance(X, Tensor) else X)


class FeatureCache:
    """The outputs of a frozen ``module`` on ``X``, computed once, batch by batch, in eval
    mode without a tape (``features``), for training a head on them epoch after epoch.

    The cache is keyed by a SHA-256 of the inputs, the module's structure (its repr) and its
    weights and buffers: reading ``features`` after any of them changed computes them again.
    With ``path`` (``.npz`` or ``.safetensors``) the features and the key are also saved, and
    a later cache of the same module and inputs reads them back instead of computing them; a
    file with another key (stale) is recomputed and overwritten. ``source`` says where the
    current features came from: "computed" or "file".
    """

    def __init__(self, module: Module, X: Any, path: PathLike | None = None,
                 batch_size: int = 256) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"FeatureCache: expected a dlkit.nn.Module, got "
                            f"{type(module).__name__}")
        if batch_size < 1:
            raise ValueError(f"FeatureCache: expected batch_size >= 1, got {batch_size}")
        if path is not None and not str(path).endswith((".npz", ".safetensors")):
            raise ValueError(f"FeatureCache: expected a .npz or .safetensors path, got "
                             f"{str(path)!r}")
        self.module, self.X, self.batch_size = module, X, batch_size
        self.path = None if path is None else os.fspath(path)
        self.source: str | None = None
        self._features: np.ndarray | None = None
        self._key: str | None = None

    def __len__(self) -> int:
        return len(_as_array(self.X))

    @property
    def key(self) -> str:
        """The SHA-256 of the inputs, the module's repr, and its weights and buffers."""
        h = hashlib.sha256()
        x = np.ascontiguousarray(_as_array(self.X))
        h.update(f"X {x.dtype.str} {x.shape}\n{type(self.module).__name__} "
                 f"{self.module!r}\n".encode())
        h.update(memoryview(x).cast("B"))
        named = [*((n, p.data) for n, p in self.module.named_parameters()),
                 *self.module.named_buffers()]
        for name, value in named:
            a = np.ascontiguousarray(to_numpy(value))
            h.update(f"{name} {a.dtype.str} {a.shape}\n".encode())
            h.update(memoryview(a).cast("B"))
        return h.hexdigest()

    def is_stale(self) -> bool:
        """Whether ``features`` would be computed again (or read from the file)."""
        return self._features is None or self._key != self.key

    @property
    def features(self) -> np.ndarray:
        key = self.key
        if self._features is not None and self._key == key:
            return self._features
        features = self._read(key) if self.path is not None else None
        if features is not None:
            self.source = "file"
        else:
            features = _outputs(self.module, self.X, self.batch_size)
            self.source = "computed"
            if self.path is not None:
                self._write(features, key)
        self._features, self._key = features, key
        return features

    # ---- the file ---------------------------------------------------------------------------
    def _read(self, key: str) -> np.ndarray | None:
        if not os.path.exists(self.path):
            return None
        try:
            if self.path.endswith(".npz"):
                with np.load(self.path, allow_pickle=False) as f:
                    stored, features = str(f["key"]), f["features"]
            else:
                tensors, metadata = read_safetensors(self.path, "FeatureCache")
                stored, features = metadata.get("dlkit.cache_key"), tensors["features"]
        except Exception as e:  # a cache that cannot be read is computed again
            warnings.warn(f"FeatureCache: cannot read {self.path!r} ({e}); computing the "
                          "features again", UserWarning, stacklevel=3)
            return None
        return features if stored == key else None

    def _write(self, features: np.ndarray, key: str) -> None:
        if self.path.endswith(".npz"):
            buffer = io.BytesIO()
            np.savez(buffer, features=features, key=np.array(key))
            atomic_write_bytes(self.path, buffer.getvalue(), "FeatureCache")
        else:
            write_safetensors(self.path, {"features": features},
                              {"dlkit.kind": CACHE_KIND, "dlkit.cache_key": key},
                              "FeatureCache")

    def __repr__(self) -> str:
        state = "empty" if self._features is None else \
            f"features {self._features.shape} ({self.source})"
        return f"FeatureCache({type(self.module).__name__}, {len(self)} inputs, {state})"
