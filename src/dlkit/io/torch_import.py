"""Import the weights of a PyTorch model of the same architecture from its ``state_dict()``.

PyTorch is never imported here: a value with ``.detach`` (a torch tensor) is converted with
``.detach().cpu().numpy()``, anything else with ``np.asarray``.

Layers are paired by order. dlkit's layers (modules with their own parameters or buffers)
are walked in registration order, PyTorch's state_dict entries in order, grouped by layer
(the keys that share a prefix: ``"features.0.weight"``, ``"features.0.bias"``); the i-th
layers of both are paired and must be of the same kind. Their arrays change layout:

==================  =============================  ==================================
dlkit layer         PyTorch entry                  conversion
==================  =============================  ==================================
Linear              weight (n_out, n_in), bias     as is
Conv1d              weight (O, I, L)               -> (L, I, O)
Conv2d              weight (O, I, H, W)            -> (H, W, I, O)
Conv3d              weight (O, I, D, H, W)         -> (D, H, W, I, O)
DepthwiseConv2d     weight (C, 1, H, W)            -> (H, W, C)
BatchNorm1d/2d      weight, bias                   -> gamma, beta
                    running_mean, running_var      as is (num_batches_tracked ignored)
MultiHeadAttention  in_proj_weight (3d, d), bias   -> q_proj, k_proj, v_proj (split)
another layer       the same names                 as is
==================  =============================  ==================================

The flatten trap: PyTorch flattens a (C, H, W) feature map channel first, dlkit flattens
(H, W, C) channel last, so the first Linear after a Flatten sees its inputs in another order.
Pass ``mapping={"classifier.0": {"flatten_from": (C, H, W)}}`` (or permute the weight with
``permute_flatten_linear``) to reorder its columns.
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from dlkit.backend import to_numpy
from dlkit.errors import ShapeError
from dlkit.io.torch_attention import split_packed_attention
from dlkit.nn.conv import Conv1d, Conv2d, Conv3d, DepthwiseConv2d
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm1d, BatchNorm2d
from dlkit.tensor import Tensor

__all__ = ["TorchImport", "TorchImportError", "load_torch_state_dict", "permute_flatten_linear"]

FUNC = "load_torch_state_dict"
_BN_NAMES = {"gamma": "weight", "beta": "bias", "running_mean": "running_mean",
             "running_var": "running_var"}
_IGNORED = ("num_batches_tracked",)


class TorchImportError(ValueError):
    """The two models do not pair up: a layer of another kind, a missing or extra entry."""


class TorchImport(NamedTuple):
    """What ``load_torch_state_dict`` did: ``loaded`` (dlkit key, torch key) pairs;
    ``skipped`` the (dlkit, torch) layer names passed over on purpose (``mapping`` value
    None); ``missing`` the dlkit keys that kept their values; ``unexpected`` the torch keys
    that were not used."""

    loaded: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    missing: list[str]
    unexpected: list[str]


def permute_flatten_linear(weight: Any, c: int, *spatial: int) -> np.ndarray:
    """Reorder the columns of the weight (n_out, c * prod(spatial)) of a Linear that follows
    a PyTorch Flatten of a (c, *spatial) feature map (channel first: column c*H*W + h*W + w)
    for a dlkit Flatten of (*spatial, c) (channel last: column (h*W + w)*C + c).
    ``permute_flatten_linear(w, 16, 5, 5)`` for LeNet-5's first dense layer."""
    w = np.asarray(weight)
    n_in = c * math.prod(spatial)
    if w.ndim != 2 or w.shape[1] != n_in:
        raise ShapeError(f"permute_flatten_linear: expected a weight (n_out, {n_in}) for a "
                         f"flattened ({', '.join(map(str, (c, *spatial)))}) map, got shape "
                         f"{w.shape}")
    k = len(spatial)
    w = w.reshape(w.shape[0], c, *spatial).transpose(0, *range(2, k + 2), 1)
    return np.ascontiguousarray(w.reshape(w.shape[0], n_in))


# ---- the two sides, as lists of layers ----------------------------------------------------
@dataclass
class _DlLayer:
    prefix: str
    module: Module
    names: list[str]  # own parameter and buffer names, in order
    kind: str

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.module._parameters:
            return tuple(self.module._parameters[name].shape)
        return tuple(self.module._buffers[name].shape)

    def describe(self) -> str:
        shapes = ", ".join(f"{n} {self.shape(n)}" for n in self.names)
        return f"{self.prefix or '<root>'!r} ({type(self.module).__name__}: {shapes})"


@dataclass
class _TorchLayer:
    prefix: str
    entries: dict[str, np.ndarray] = field(default_factory=dict)  # suffix -> array
    kind: str = ""

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def describe(self) -> str:
        shapes = ", ".join(f"{n} {tuple(a.shape)}" for n, a in self.entries.items())
        return f"{self.prefix or '<root>'!r} ({_KIND_NAMES.get(self.kind, self.kind)}: {shapes})"


_KIND_NAMES = {"linear": "Linear", "conv1": "Conv1d", "conv2": "Conv2d", "conv3": "Conv3d",
               "bn": "BatchNorm", "depthwise": "DepthwiseConv2d"}


def _dl_kind(module: Module) -> str:
    if isinstance(module, Linear):
        return "linear"
    if isinstance(module, DepthwiseConv2d):
        return "depthwise"
    for cls, kind in ((Conv1d, "conv1"), (Conv2d, "conv2"), (Conv3d, "conv3")):
        if isinstance(module, cls):
            return kind
    if isinstance(module, BatchNorm1d):
        return "bn"
    return "other"


def _torch_kind(entries: Mapping[str, np.ndarray]) -> str:
    if "running_mean" in entries or "running_var" in entries:
        return "bn"
    weight = entries.get("weight")
    if weight is not None and weight.ndim == 2:
        return "linear"
    if weight is not None and weight.ndim in (3, 4, 5):
        return f"conv{weight.ndim - 2}"
    return "other"


def _dl_layers(model: Module) -> list[_DlLayer]:
    layers, seen = [], set()
    for prefix, module in model.named_modules():
        names = []
        for name, p in module._parameters.items():
            if id(p) not in seen:  # a parameter shared by two layers is loaded once
                seen.add(id(p))
                names.append(name)
        names += list(module._buffers)
        if names:
            layers.append(_DlLayer(prefix, module, names, _dl_kind(module)))
    return layers


def _to_numpy(key: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, duck-typed: torch is never imported here
        value = value.detach().cpu()
        try:
            return np.asarray(value.numpy())
        except TypeError:  # bfloat16 and other dtypes NumPy lacks
            return np.asarray(value.float().numpy())
    if isinstance(value, Tensor):
        value = value.data
    try:
        return np.asarray(to_numpy(value))
    except Exception as e:
        raise TypeError(f"{FUNC}: entry {key!r} is a {type(value).__name__}, expected a torch "
                        "tensor or an array") from e


def _torch_layers(state_dict: Mapping[str, Any]) -> list[_TorchLayer]:
    groups: dict[str, _TorchLayer] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"{FUNC}: state_dict keys must be strings, got {key!r}")
        prefix, _, name = key.rpartition(".")
        if name in _IGNORED:
            continue
        layer = groups.setdefault(prefix, _TorchLayer(prefix))
        layer.entries[name] = _to_numpy(key, value)
    for layer in groups.values():
        layer.kind = _torch_kind(layer.entries)
    return list(groups.values())


# ---- mapping --------------------------------------------------------------------------------
_SKIP = object()


@dataclass
class _Override:
    source: Any = None  # a torch prefix or key; None: pair by order; _SKIP: do not load
    flatten_from: tuple[int, ...] | None = None
    flatten_given: bool = False


def _parse_mapping(mapping: Mapping[str, Any] | None) -> dict[str, _Override]:
    out: dict[str, _Override] = {}
    for key, value in (mapping or {}).items():
        if value is None:
            out[key] = _Override(source=_SKIP)
        elif isinstance(value, str):
            out[key] = _Override(source=value)
        elif isinstance(value, Mapping):
            unknown = set(value) - {"source", "flatten_from"}
            if unknown:
                raise TypeError(f"{FUNC}: mapping[{key!r}] has unknown options "
                                f"{sorted(unknown)}; expected 'source' and/or 'flatten_from'")
            flat = value.get("flatten_from")
            if flat is not None:
                flat = tuple(int(v) for v in flat)
                if len(flat) < 2:
                    raise ValueError(f"{FUNC}: mapping[{key!r}]['flatten_from'] should be "
                                     "(C, *spatial) such as (C, H, W), got "
                                     f"{value['flatten_from']}")
            out[key] = _Override(source=value.get("source"), flatten_from=flat,
                                 flatten_given="flatten_from" in value)
        else:
            raise TypeError(f"{FUNC}: mapping[{key!r}] is a {type(value).__name__}; expected a "
                            "torch key or layer name, None (skip), or a dict with 'source' "
                            "and/or 'flatten_from'")
    return out


def _unknown(what: str, name: str, known: list[str]) -> KeyError:
    close = difflib.get_close_matches(name, known, n=3)
    more = " ..." if len(known) > 12 else ""
    hint = f"; did you mean {close}?" if close else f"; they are {known[:12]}{more}"
    return KeyError(f"{FUNC}: mapping names {name!r}, which is not {what}{hint}")


# ---- conversion -----------------------------------------------------------------------------
def _source_name(kind: str, name: str) -> str:
    return _BN_NAMES.get(name, name) if kind == "bn" else name


def _convert(kind: str, name: str, array: np.ndarray,
             flatten_from: tuple[int, ...] | None) -> np.ndarray:
    if name == "weight" and kind.startswith("conv") and array.ndim >= 3:
        d = array.ndim - 2
        return np.ascontiguousarray(array.transpose(*range(2, d + 2), 1, 0))
    if name == "weight" and kind == "depthwise" and array.ndim == 4 and array.shape[1] == 1:
        return np.ascontiguousarray(array[:, 0].transpose(1, 2, 0))
    if name == "weight" and kind == "linear" and flatten_from is not None:
        return permute_flatten_linear(array, *flatten_from)
    return array


def _compatible(dl: _DlLayer, tl: _TorchLayer) -> bool:
    if dl.kind == "depthwise":
        w = tl.entries.get("weight")
        return tl.kind == "conv2" and w is not None and w.shape[1] == 1
    if dl.kind == "other":  # another layer: entries of the same names, copied as they are
        return bool(set(dl.names) & set(tl.entries))
    return dl.kind == tl.kind


def _flatten_guess(layers_before: list[Module], linear: Linear) -> tuple[int, ...] | None:
    """(C, *spatial) when ``linear`` follows a Flatten of a convolution's output map of more
    than one position (dlkit's module order), else None; a side is -1 when the map is not a
    square (cube) and its sides cannot be told."""
    flattened = False
    for module in reversed(layers_before):
        if isinstance(module, Flatten):
            flattened = True
            continue
        if not (module._parameters or module._buffers):
            continue
        if not flattened or isinstance(module, Linear):
            return None
        if isinstance(module, (Conv1d, Conv2d, Conv3d, DepthwiseConv2d, BatchNorm2d)):
            c = module.n_features if isinstance(module, BatchNorm1d) else module.n_C
            dims = 1 if isinstance(module, Conv1d) else 3 if isinstance(module, Conv3d) else 2
            if linear.n_in % c or linear.n_in == c:
                return None
            positions = linear.n_in // c
            side = round(positions ** (1 / dims))
            return (c, *([side if side ** dims == positions else -1] * dims))
        return None
    return None


def load_torch_state_dict(model: Module, state_dict: Mapping[str, Any],
                          mapping: Mapping[str, Any] | None = None,
                          strict: bool = True) -> TorchImport:
    """Copy the arrays of a PyTorch ``state_dict()`` into the dlkit ``model`` of the same
    architecture, converting layouts (see the module docstring); returns a ``TorchImport``.

    ``mapping`` {dlkit name: what} overrides the pairing by order; the dlkit name is a layer
    (``"classifier.0"``) or one entry (``"classifier.0.weight"``), and ``what`` is

    - a torch layer name or key (``"fc1"``, ``"fc1.weight"``): pair with it by name;
    - ``None``: the layer keeps its values, and the torch layer at its place is passed over
      (a new head with another number of classes);
    - a dict ``{"source": name (optional), "flatten_from": (C, H, W)}``: a Linear after a
      flattened (C, H, W) map, whose columns are reordered (``permute_flatten_linear``);
      ``"flatten_from": None`` says that no reordering is needed.

    Every array is checked before anything is copied: the kinds of paired layers, the shape
    of each array after conversion (a mismatch names both keys and both shapes). ``strict``:
    every dlkit and torch entry must be used; otherwise the leftovers are reported.
    """
    if not isinstance(model, Module):
        raise TypeError(f"{FUNC}: expected a dlkit.nn.Module, got {type(model).__name__}")
    if hasattr(state_dict, "state_dict") and not isinstance(state_dict, Mapping):
        raise TypeError(f"{FUNC}: got a {type(state_dict).__name__}; pass its state_dict() "
                        "(the model's .state_dict())")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{FUNC}: expected a state_dict (a mapping of names to tensors), got "
                        f"{type(state_dict).__name__}")
    state_dict = split_packed_attention(state_dict)  # nn.MultiheadAttention's in_proj
    overrides = _parse_mapping(mapping)
    dl_layers = _dl_layers(model)
    t_layers = _torch_layers(state_dict)
    # recurrent layers (nested anywhere) go to load_torch_rnn, which knows their layouts
    restore, rec_loaded, dl_layers, t_layers = _hand_off_recurrent(model, dl_layers, t_layers)
    try:
        result = _load_layers(model, overrides, dl_layers, t_layers, strict)
    except Exception:
        for module, state in restore:
            module.load_state_dict(state)
        raise
    return TorchImport(rec_loaded + result.loaded, result.skipped, result.missing,
                       result.unexpected)


_RECURRENT_KEY = re.compile(r"(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")


def _hand_off_recurrent(model: Module, dl_layers: list[_DlLayer], t_layers: list[_TorchLayer],
                        ) -> tuple[list, list[tuple[str, str]], list[_DlLayer],
                                   list[_TorchLayer]]:
    """Pair dlkit's recurrent layers (RNN, GRU, LSTM, Bidirectional, at any depth) with the
    torch nn.RNN / LSTM / GRU layers (each ``_l<k>`` of a stacked module counts as one) in
    order, load each pair with ``load_torch_rnn``, and return what to restore on a later
    failure, the pairs loaded, and the layers left for the other pairings."""
    from dlkit.io.torch_rnn import load_torch_rnn
    from dlkit.nn.recurrent import GRU, LSTM, RNN, Bidirectional

    dl_rec: list[tuple[str, Module]] = []
    for prefix, module in model.named_modules():
        inside = any(prefix.startswith(p + ".") for p, _ in dl_rec)
        if isinstance(module, (RNN, GRU, LSTM, Bidirectional)) and not inside:
            dl_rec.append((prefix, module))
    t_rec = [tl for tl in t_layers
             if tl.entries and all(_RECURRENT_KEY.match(n) for n in tl.entries)]
    if not dl_rec and not t_rec:
        return [], [], dl_layers, t_layers
    units = [(tl, k) for tl in t_rec
             for k in sorted({int(_RECURRENT_KEY.match(n).group(3)) for n in tl.entries})]
    if len(units) != len(dl_rec):
        raise TorchImportError(
            f"{FUNC}: the dlkit model has {len(dl_rec)} recurrent layer(s) "
            f"{[p for p, _ in dl_rec]}, the state_dict {len(units)} "
            f"{[f'{tl.prefix}_l{k}' for tl, k in units]}; a stacked torch module counts one "
            "layer per num_layers")
    restore = [(module, module.state_dict()) for _, module in dl_rec]
    loaded: list[tuple[str, str]] = []
    try:
        for (prefix, module), (tl, k) in zip(dl_rec, units):
            for dl_key, t_keys in load_torch_rnn(module, dict(tl.entries), layer_index=k):
                names = [t_keys] if isinstance(t_keys, str) else list(t_keys)
                loaded.append((f"{prefix}.{dl_key}" if prefix else dl_key,
                               "+".join(tl.key(n) for n in names)))
    except Exception:
        for module, state in restore:
            module.load_state_dict(state)
        raise
    inner = tuple(p for p, _ in dl_rec)
    rest_dl = [layer for layer in dl_layers
               if not any(layer.prefix == p or layer.prefix.startswith(p + ".") for p in inner)]
    rest_t = [tl for tl in t_layers if tl not in t_rec]
    return restore, loaded, rest_dl, rest_t


def _load_layers(model: Module, overrides: dict[str, _Override], dl_layers: list[_DlLayer],
                 t_layers: list[_TorchLayer], strict: bool) -> TorchImport:
    """Pair, check and copy the non-recurrent layers (steps 1 to 5 below)."""
    dl_by_prefix = {layer.prefix: layer for layer in dl_layers}
    dl_keys = {layer.key(n): (layer, n) for layer in dl_layers for n in layer.names}
    t_by_prefix = {layer.prefix: layer for layer in t_layers}
    t_keys = {layer.key(n): (layer, n) for layer in t_layers for n in layer.entries}

    # (dlkit layer, dlkit name, torch layer, torch name) quadruples, then checked and copied
    pairs: list[tuple[_DlLayer, str, _TorchLayer, str]] = []
    layer_pairs: list[tuple[_DlLayer, _TorchLayer | None]] = []
    taken_dl: set[str] = set()  # dlkit keys already paired
    taken_t: set[str] = set()
    skipped: list[tuple[str, str]] = []

    # 1. explicit entries (key -> key)
    for name, ov in overrides.items():
        if name in dl_by_prefix or ov.source is _SKIP or ov.source is None:
            continue
        if name not in dl_keys:
            raise _unknown("a layer or key of the dlkit model", name,
                           list(dl_by_prefix) + list(dl_keys))
        if ov.source not in t_keys:
            raise _unknown("a key of the state_dict", ov.source, list(t_keys))
        dl, dl_name = dl_keys[name]
        tl, t_name = t_keys[ov.source]
        pairs.append((dl, dl_name, tl, t_name))
        taken_dl.add(name)
        taken_t.add(ov.source)
    for name, ov in overrides.items():
        if name not in dl_by_prefix and name not in dl_keys:
            raise _unknown("a layer or key of the dlkit model", name,
                           list(dl_by_prefix) + list(dl_keys))
        if name not in dl_by_prefix and ov.source is _SKIP:
            raise ValueError(f"{FUNC}: mapping[{name!r}] = None skips whole layers; name the "
                             f"layer {dl_keys[name][0].prefix!r}")
        if isinstance(ov.source, str) and name in dl_by_prefix and ov.source not in t_by_prefix:
            raise _unknown("a layer of the state_dict", ov.source, list(t_by_prefix))

    # 2. explicit layers (prefix -> prefix)
    for name, ov in overrides.items():
        if name in dl_by_prefix and isinstance(ov.source, str):
            layer_pairs.append((dl_by_prefix[name], t_by_prefix[ov.source]))
    named_t = {tl.prefix for _, tl in layer_pairs if tl is not None}
    named_dl = {dl.prefix for dl, _ in layer_pairs}

    # 3. the rest by order
    rest_dl = [layer for layer in dl_layers if layer.prefix not in named_dl
               and any(layer.key(n) not in taken_dl for n in layer.names)]
    rest_t = [layer for layer in t_layers if layer.prefix not in named_t
              and any(layer.key(n) not in taken_t for n in layer.entries)]
    for i, dl in enumerate(rest_dl):
        layer_pairs.append((dl, rest_t[i] if i < len(rest_t) else None))

    # 4. pair the entries of each pair of layers
    leaves = [m for _, m in model.named_modules() if not m._modules]
    missing: list[str] = []
    for dl, tl in layer_pairs:
        ov = overrides.get(dl.prefix, _Override())
        if ov.source is _SKIP:
            skipped.append((dl.prefix, tl.prefix if tl is not None else ""))
            if tl is not None:
                taken_t.update(tl.key(n) for n in tl.entries)
            continue
        if tl is None:
            missing += [dl.key(n) for n in dl.names if dl.key(n) not in taken_dl]
            continue
        if not _compatible(dl, tl):
            raise TorchImportError(
                f"{FUNC}: dlkit layer {dl.describe()} is paired with torch layer "
                f"{tl.describe()} by order, and they are of different kinds: the architectures "
                "differ here (a layer missing, added or in another order?). Pair layers by name "
                f"with mapping={{{dl.prefix!r}: <torch layer name>}}")
        for name in dl.names:
            if dl.key(name) in taken_dl:
                continue
            source = _source_name(dl.kind, name)
            if source in tl.entries and tl.key(source) not in taken_t:
                pairs.append((dl, name, tl, source))
                taken_dl.add(dl.key(name))
                taken_t.add(tl.key(source))
            else:
                missing.append(dl.key(name))
        weight_ov = overrides.get(dl.key("weight"), _Override())
        position = next((i for i, m in enumerate(leaves) if m is dl.module), None)
        if dl.kind == "linear" and position is not None and not (
                ov.flatten_given or weight_ov.flatten_given):
            guess = _flatten_guess(leaves[:position], dl.module)
            if guess is not None:
                shown = str(guess) if -1 not in guess else \
                    ("(C, L)", "(C, H, W)", "(C, D, H, W)")[len(guess) - 2]
                warnings.warn(
                    f"{FUNC}: the dlkit Linear {dl.prefix!r} follows a Flatten of a "
                    f"convolution's {guess[0]}-channel map: PyTorch flattens (C, H, W), dlkit "
                    f"(H, W, C), so its columns need reordering; pass mapping={{{dl.prefix!r}: "
                    f"{{'flatten_from': {shown}}}}} (or 'flatten_from': None when the PyTorch "
                    "model flattened channels-last)", UserWarning, stacklevel=2)
    unexpected = [tl.key(n) for tl in t_layers for n in tl.entries if tl.key(n) not in taken_t]

    # 5. convert and check every shape, then copy
    converted: dict[str, np.ndarray] = {}
    loaded: list[tuple[str, str]] = []
    for dl, name, tl, t_name in pairs:
        ov = overrides.get(dl.key(name)) or overrides.get(dl.prefix) or _Override()
        array = tl.entries[t_name]
        try:
            value = _convert(dl.kind, name, array, ov.flatten_from if name == "weight" else None)
        except ShapeError as e:
            raise ShapeError(f"{FUNC}: dlkit {dl.key(name)!r} from torch {tl.key(t_name)!r}: "
                             f"{e}") from e
        expected = dl.shape(name)
        if tuple(value.shape) != expected:
            raise ShapeError(
                f"{FUNC}: shape mismatch: dlkit {dl.key(name)!r} has shape {expected}, torch "
                f"{tl.key(t_name)!r} has shape {tuple(array.shape)}"
                + (f" ({tuple(value.shape)} in dlkit's layout)"
                   if tuple(value.shape) != tuple(array.shape) else ""))
        if not np.issubdtype(value.dtype, np.number) and value.dtype != np.bool_:
            raise TypeError(f"{FUNC}: torch {tl.key(t_name)!r} has dtype {value.dtype}")
        converted[dl.key(name)] = value
        loaded.append((dl.key(name), tl.key(t_name)))
    if strict and (missing or unexpected):
        raise TorchImportError(
            f"{FUNC}: the models do not match: dlkit keys without a torch value {missing}, "
            f"torch keys not used {unexpected} (pass strict=False to load the pairs that "
            "match, or mapping={dlkit_name: torch_name} to pair them by name)")
    model.load_state_dict(converted, strict=False)
    return TorchImport(loaded, skipped, missing, unexpected)
