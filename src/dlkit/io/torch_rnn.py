"""Import the weights of PyTorch's recurrent layers (nn.RNN, nn.LSTM, nn.GRU) into dlkit's.

PyTorch is never imported here: a torch module is read through its ``state_dict()`` and a
torch tensor through ``.detach().cpu().numpy()``. One torch layer ``k`` (direction ``d``) is
the entries ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, with
the suffix ``_reverse`` for the backward direction of a bidirectional module. dlkit keeps one
fused matrix acting on [a<t-1>, x<t>] and one bias, gate blocks in the notes' order:

======  ==========================  ==================================================
layer   torch gate rows             dlkit
======  ==========================  ==================================================
RNN     (tanh only)                 W = [W_hh | W_ih],  b = b_ih + b_hh
LSTM    i, f, g, o                  blocks (forget, update, candidate, output) = (f, i, g, o)
GRU     r, z, n                     needs ``GRU(reset_after=True)``; blocks
                                    (update, relevance, candidate) = (-z, r, n): the notes'
                                    Gu is PyTorch's 1 - z = sigma(-(z's pre-activation)),
                                    so the z rows of both weights and biases change sign;
                                    candidate b = b_in, ``recurrent_bias`` = b_hn
======  ==========================  ==================================================

PyTorch's GRU applies its reset gate after the candidate's matrix product,
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); the notes' GRU applies it before,
c~ = tanh(Wc [Gr * c<t-1>, x] + bc). The two are different functions, so a torch GRU loads only
into ``nn.GRU(n_x, n_a, reset_after=True)``.

Inputs stay batch-first in dlkit: feed x of shape (m, T, n_x) (``x.transpose(0, 1)`` of a
torch input when its module has ``batch_first=False``). Initial states are per layer:
torch's ``h0[k]`` (and ``c0[k]``) is dlkit's ``initial_state=(a0, c0)`` of layer k.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlkit.errors import ShapeError
from dlkit.io.torch_import import TorchImportError
from dlkit.nn.container import Sequential
from dlkit.nn.module import Module
from dlkit.nn.recurrent import GRU, LSTM, RNN, Bidirectional, _RecurrentLayer
from dlkit.tensor import Tensor

__all__ = ["load_torch_rnn", "load_torch_bidirectional", "load_torch_rnn_stack",
           "torch_rnn_weights"]

FUNC = "load_torch_rnn"
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
_TORCH_NAMES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}
_KEY = re.compile(r"^(?P<prefix>.*?)weight_ih_l(?P<k>\d+)(?P<rev>_reverse)?$")

Loaded = list[tuple[str, tuple[str, ...]]]  # (dlkit key, the torch keys it came from)


# ---- reading the torch side --------------------------------------------------------------
def _to_numpy(key: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, duck-typed
        value = value.detach().cpu()
        try:
            return np.asarray(value.numpy())
        except TypeError:  # bfloat16 and other dtypes NumPy lacks
            return np.asarray(value.float().numpy())
    if isinstance(value, Tensor):
        return np.asarray(value.data)
    try:
        return np.asarray(value)
    except Exception as e:  # pragma: no cover - exotic values
        raise TypeError(f"{FUNC}: entry {key!r} is a {type(value).__name__}, expected a torch "
                        "tensor or an array") from e


class _Source:
    """The recurrent entries of a torch module or state_dict, found under one key prefix."""

    def __init__(self, src: Any, prefix: str | None, func: str) -> None:
        self.func = func
        self.mode = None  # "RNN_TANH", "RNN_RELU", "LSTM", "GRU" when a module was given
        if isinstance(src, Mapping):
            state = src
        elif hasattr(src, "state_dict") and callable(src.state_dict):
            self.mode = getattr(src, "mode", None)
            state = src.state_dict()
        else:
            raise TypeError(f"{func}: expected a torch nn.RNN / nn.LSTM / nn.GRU or its "
                            f"state_dict(), got {type(src).__name__}")
        prefixes = sorted({m["prefix"] for key in state if isinstance(key, str)
                           for m in [_KEY.match(key)] if m})
        if prefix is None:
            if not prefixes:
                raise TorchImportError(
                    f"{func}: no recurrent layer in the state_dict (no key weight_ih_l0); "
                    f"its keys are {list(state)[:8]}{' ...' if len(state) > 8 else ''}")
            if len(prefixes) > 1:
                raise TorchImportError(
                    f"{func}: the state_dict holds several recurrent modules, under "
                    f"{[p.rstrip('.') for p in prefixes]}; pick one with prefix=")
            prefix = prefixes[0]
        elif prefix and not prefix.endswith("."):
            prefix += "."
        if prefix not in prefixes:
            raise TorchImportError(
                f"{func}: no recurrent layer under prefix {prefix.rstrip('.')!r}; the "
                f"state_dict has them under {[p.rstrip('.') for p in prefixes]}")
        self.prefix = prefix
        self.state = state
        self.layers: dict[int, set[int]] = {}  # layer index -> directions present
        for key in state:
            m = _KEY.match(key) if isinstance(key, str) else None
            if m and m["prefix"] == prefix:
                self.layers.setdefault(int(m["k"]), set()).add(1 if m["rev"] else 0)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def bidirectional(self) -> bool:
        return any(1 in d for d in self.layers.values())

    def describe(self) -> str:
        n = self.num_layers
        return (f"{n} layer{'s' if n > 1 else ''} (l0{f'..l{n - 1}' if n > 1 else ''})"
                + (", bidirectional" if self.bidirectional else ""))

    def key(self, name: str, k: int, direction: int) -> str:
        return f"{self.prefix}{name}_l{k}{'_reverse' if direction else ''}"

    def entries(self, k: int, direction: int) -> dict[str, tuple[str, np.ndarray | None]]:
        """{name: (torch key, array or None)} of layer k, direction d."""
        if direction not in (0, 1):
            raise ValueError(f"{self.func}: direction is 0 (forward) or 1 (reverse, the "
                             f"_reverse keys of a bidirectional module), got {direction!r}")
        if k not in self.layers:
            raise TorchImportError(f"{self.func}: layer_index={k}, but the torch module has "
                                   f"{self.describe()}")
        if direction not in self.layers[k]:
            raise TorchImportError(f"{self.func}: direction=1 asks for the keys "
                                   f"{self.key('weight_ih', k, 1)!r} ..., but the torch module "
                                   "is not bidirectional")
        if self.key("weight_hr", k, direction) in self.state:
            raise TorchImportError(f"{self.func}: the torch LSTM has proj_size > 0 (key "
                                   f"{self.key('weight_hr', k, direction)!r}); dlkit's LSTM has "
                                   "no output projection")
        out = {}
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            key = self.key(name, k, direction)
            value = self.state.get(key)
            if value is None and name.startswith("weight"):
                raise TorchImportError(f"{self.func}: the state_dict has no {key!r}")
            out[name] = (key, None if value is None else _to_numpy(key, value))
        return out


# ---- conversion ---------------------------------------------------------------------------
def torch_rnn_weights(kind: str, weight_ih: Any, weight_hh: Any, bias_ih: Any = None,
                      bias_hh: Any = None) -> dict[str, np.ndarray]:
    """dlkit's arrays {"weight", "bias"(, "recurrent_bias" for a GRU)} from the four arrays
    of one torch layer (``kind``: "rnn", "lstm" or "gru"; a missing bias is zeros). The GRU's
    are those of ``GRU(reset_after=True)``; see the module docstring for the conversions."""
    if kind not in _GATES:
        raise ValueError(f"torch_rnn_weights: kind is 'rnn', 'lstm' or 'gru', got {kind!r}")
    w_ih, w_hh = np.asarray(weight_ih), np.asarray(weight_hh)
    rows, n = w_hh.shape  # n: hidden_size (n_a)
    b_ih = np.zeros(rows, w_ih.dtype) if bias_ih is None else np.asarray(bias_ih)
    b_hh = np.zeros(rows, w_ih.dtype) if bias_hh is None else np.asarray(bias_hh)
    w = np.concatenate([w_hh, w_ih], axis=1)  # acts on [a<t-1>, x<t>]
    if kind == "rnn":
        return {"weight": w, "bias": b_ih + b_hh}
    if kind == "lstm":  # torch (i, f, g, o) -> (forget, update, candidate, output)
        order = np.r_[n:2 * n, 0:n, 2 * n:4 * n]
        return {"weight": w[order], "bias": (b_ih + b_hh)[order]}
    # gru: torch (r, z, n) -> (update = -z, relevance = r, candidate = n)
    r, z, c = slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n)
    weight = np.concatenate([-w[z], w[r], w[c]])
    bias = np.concatenate([-(b_ih[z] + b_hh[z]), b_ih[r] + b_hh[r], b_ih[c]])
    return {"weight": weight, "bias": bias, "recurrent_bias": b_hh[c].copy()}


def _convert_one(layer: _RecurrentLayer, source: _Source, k: int, direction: int,
                 name: str = "") -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
    """Check torch layer k (direction d) against ``layer`` and convert its arrays; copies
    nothing, so that a multi-layer load checks every layer before it changes any."""
    func, kind = source.func, layer.kind
    what = f"dlkit layer {name!r} ({type(layer).__name__})" if name else \
        f"the dlkit {type(layer).__name__}"
    entries = source.entries(k, direction)
    (ih_key, w_ih), (hh_key, w_hh) = entries["weight_ih"], entries["weight_hh"]
    if w_ih.ndim != 2 or w_hh.ndim != 2 or w_hh.shape[0] != w_ih.shape[0] or \
            w_hh.shape[0] % w_hh.shape[1]:
        raise ShapeError(f"{func}: {ih_key} {w_ih.shape} and {hh_key} {w_hh.shape} are not the "
                         "weights of a torch recurrent layer ((G hidden, input), (G hidden, "
                         "hidden))")
    n_a, n_x = w_hh.shape[1], w_ih.shape[1]
    gates = w_hh.shape[0] // n_a
    torch_kind = {1: "rnn", 3: "gru", 4: "lstm"}.get(gates)
    if source.mode is not None:
        torch_kind = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "LSTM": "lstm",
                      "GRU": "gru"}.get(source.mode, torch_kind)
    described = (f"torch {_TORCH_NAMES.get(torch_kind, '?')} has {ih_key} {w_ih.shape}, "
                 f"{hh_key} {w_hh.shape}: input_size {n_x}, hidden_size {n_a}")
    if torch_kind != kind:
        raise TorchImportError(f"{func}: {what} cannot take these weights: the {described} "
                               f"({gates} gate blocks)")
    if source.mode == "RNN_RELU":
        raise TorchImportError(f"{func}: the torch RNN uses nonlinearity='relu'; dlkit's RNN "
                               "is a<t> = tanh(W [a<t-1>, x<t>] + b)")
    if kind == "gru" and not layer.reset_after:
        raise TorchImportError(
            f"{func}: {what} is the notes' GRU, c~ = tanh(Wc [Gr * c<t-1>, x] + bc), while "
            "PyTorch's applies the reset gate after the product, n = tanh(W_in x + b_in + "
            "r * (W_hn h + b_hn)): another function. Build the layer with "
            f"GRU({layer.n_x}, {layer.n_a}, reset_after=True)")
    if (n_x, n_a) != (layer.n_x, layer.n_a):
        hint = ""
        if k > 0 and source.bidirectional:
            hint = (f" (layer l{k} of a bidirectional torch module takes the 2 x hidden_size "
                    "features of the layer below)")
        raise ShapeError(f"{func}: {what} has n_x {layer.n_x}, n_a {layer.n_a}, but the "
                         f"{described}{hint}; build it as {type(layer).__name__}({n_x}, {n_a}"
                         f"{', reset_after=True' if kind == 'gru' else ''})")
    for bname in ("bias_ih", "bias_hh"):
        bkey, bias = entries[bname]
        if bias is not None and bias.shape != (gates * n_a,):
            raise ShapeError(f"{func}: expected {bkey} of shape ({gates * n_a},), got "
                             f"{bias.shape}")
    if direction == 1 and not layer.go_backwards:
        raise TorchImportError(f"{func}: direction=1 is the reverse direction of a "
                               "bidirectional torch layer; load it into a layer with "
                               "go_backwards=True (or into a Bidirectional)")
    if direction == 0 and layer.go_backwards:
        raise TorchImportError(f"{func}: {what} has go_backwards=True; the forward weights "
                               "(direction=0) belong in a layer that runs forward in time")
    arrays = torch_rnn_weights(kind, w_ih, w_hh, entries["bias_ih"][1], entries["bias_hh"][1])
    key = {name: key for name, (key, value) in entries.items() if value is not None}
    sources = {"weight": ("weight_hh", "weight_ih"), "bias": ("bias_ih", "bias_hh"),
               "recurrent_bias": ("bias_hh",)}
    keys = {n: tuple(key[s] for s in sources[n] if s in key) for n in arrays}
    return arrays, keys


def _load_all(plan: list[tuple[_RecurrentLayer, _Source, int, int, str]]) -> Loaded:
    """Convert (and so check) every layer of the plan, then copy."""
    converted = [_convert_one(*step) for step in plan]
    loaded: Loaded = []
    for (layer, _, _, _, name), (arrays, keys) in zip(plan, converted):
        layer.load_state_dict(arrays)  # keeps the layer's dtype and device
        loaded += [(f"{name}.{n}" if name else n, keys[n]) for n in arrays]
    return loaded


# ---- public -------------------------------------------------------------------------------
def load_torch_rnn(layer: Module, torch_module_or_state_dict: Any, layer_index: int = 0,
                   direction: int = 0, prefix: str | None = None) -> Loaded:
    """Copy the weights of a torch nn.RNN / nn.LSTM / nn.GRU (the module or its
    ``state_dict()``) into the dlkit ``layer``, converting layouts (module docstring).

    - an RNN, LSTM or GRU(reset_after=True) layer: the torch layer ``layer_index`` (the keys
      ``_l{layer_index}``), direction 0 or, with ``direction=1``, the ``_reverse`` keys (into
      a layer with ``go_backwards=True``);
    - a Bidirectional: both directions of torch layer ``layer_index``
      (``load_torch_bidirectional``);
    - a Sequential of recurrent layers: every layer of a stacked torch module
      (``load_torch_rnn_stack``).

    ``prefix`` picks the module in the state_dict of a larger model (``"encoder.lstm"``);
    found by itself when there is only one. Every size is checked before anything is copied
    into the layer; a mismatch names the torch keys, both sizes and the layer to build.
    Returns the (dlkit key, torch keys) pairs loaded.
    """
    if isinstance(layer, Sequential):
        if layer_index or direction:
            raise ValueError(f"{FUNC}: a Sequential takes every layer of the torch module; "
                             "layer_index and direction apply to one layer")
        return load_torch_rnn_stack(layer, torch_module_or_state_dict, prefix=prefix)
    if isinstance(layer, Bidirectional):
        if direction:
            raise ValueError(f"{FUNC}: a Bidirectional takes both directions of the torch "
                             "layer; direction applies to one layer")
        return load_torch_bidirectional(layer, torch_module_or_state_dict, layer_index,
                                        prefix=prefix)
    if not isinstance(layer, (RNN, LSTM, GRU)):
        raise TypeError(f"{FUNC}: expected a dlkit RNN, LSTM, GRU, Bidirectional or a "
                        f"Sequential of them, got {type(layer).__name__}")
    source = _Source(torch_module_or_state_dict, prefix, FUNC)
    return _load_all([(layer, source, layer_index, direction, "")])


def load_torch_bidirectional(layer: Bidirectional, torch_module_or_state_dict: Any,
                             layer_index: int = 0, prefix: str | None = None) -> Loaded:
    """Both directions of layer ``layer_index`` of a torch module built with
    ``bidirectional=True`` into a dlkit Bidirectional: the forward keys into the sub-layer
    that runs forward in time, the ``_reverse`` keys into the one that runs backward.
    With ``merge="concat"`` the output equals torch's (forward features first)."""
    func = "load_torch_bidirectional"
    if not isinstance(layer, Bidirectional):
        raise TypeError(f"{func}: expected a dlkit Bidirectional, got {type(layer).__name__}")
    source = _Source(torch_module_or_state_dict, prefix, func)
    if not source.bidirectional:
        raise TorchImportError(f"{func}: the torch module is not bidirectional (no _reverse "
                               f"keys; it has {source.describe()})")
    return _load_all(_directions(layer, source, layer_index, ""))


def load_torch_rnn_stack(model: Sequential, torch_module_or_state_dict: Any,
                         prefix: str | None = None) -> Loaded:
    """A stacked torch module (``num_layers=L``, optionally bidirectional) into a dlkit
    Sequential whose recurrent children (RNN / LSTM / GRU, or Bidirectional ones for a
    bidirectional module) are its L layers in order; children without parameters (Dropout,
    as torch's ``dropout=`` between layers) are passed over. Every layer but the last must
    return sequences, as in torch."""
    func = "load_torch_rnn_stack"
    if not isinstance(model, Sequential):
        raise TypeError(f"{func}: expected a dlkit Sequential, got {type(model).__name__}")
    source = _Source(torch_module_or_state_dict, prefix, func)
    layers = []
    for name, child in model._modules.items():
        if isinstance(child, (_RecurrentLayer, Bidirectional)):
            layers.append((name, child))
        elif any(True for _ in child.parameters()):
            raise TorchImportError(f"{func}: child {name!r} ({type(child).__name__}) has "
                                   "parameters; a torch recurrent stack has only recurrent "
                                   "layers (and dropout) ")
    if len(layers) != source.num_layers:
        raise TorchImportError(f"{func}: the Sequential has {len(layers)} recurrent layers, the "
                               f"torch module has {source.describe()}")
    plan = []
    for k, (name, child) in enumerate(layers):
        inner = child.forward_layer if isinstance(child, Bidirectional) else child
        if k < len(layers) - 1 and not inner.return_sequences:
            raise ValueError(f"{func}: layer {name!r} feeds the next recurrent layer, so it "
                             "needs return_sequences=True")
        torch_bi = 1 in source.layers[k]
        if torch_bi != isinstance(child, Bidirectional):
            raise TorchImportError(
                f"{func}: torch layer l{k} is {'' if torch_bi else 'not '}bidirectional but "
                f"the dlkit layer {name!r} is {'not ' if torch_bi else ''}a Bidirectional")
        if isinstance(child, Bidirectional):
            plan += _directions(child, source, k, name)
        else:
            plan.append((child, source, k, 0, name))
    return _load_all(plan)


def _directions(bi: Bidirectional, source: _Source, k: int,
                name: str) -> list[tuple[_RecurrentLayer, _Source, int, int, str]]:
    """The plan of a Bidirectional: torch direction 0 into the sub-layer that runs forward in
    time, direction 1 (the _reverse keys) into the one that runs backward."""
    prefix = f"{name}." if name else ""
    steps = []
    for sub_name in ("forward_layer", "backward_layer"):
        sub = getattr(bi, sub_name)
        steps.append((sub, source, k, 1 if sub.go_backwards else 0, prefix + sub_name))
    return steps
