"""PyTorch's packed attention weights, split for dlkit's ``MultiHeadAttention``.

``torch.nn.MultiheadAttention`` keeps the three input projections in one matrix:
``in_proj_weight`` (3 d, d) = [W_q; W_k; W_v] and ``in_proj_bias`` (3 d,) = [b_q; b_k; b_v]
(or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when the key and value sizes
differ). dlkit has one Linear per projection (``q_proj``, ``k_proj``, ``v_proj``), so these
entries become ``q_proj.weight``, ``k_proj.weight``, ``v_proj.weight`` and their biases, in
place (the order of the state_dict is kept: layers are paired by order). ``out_proj``,
``nn.LayerNorm`` (weight, bias) and the Transformer layers' ``linear1``/``linear2`` need no
conversion; the submodules of dlkit's Transformer layers are in PyTorch's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_PACKED = ("in_proj_weight", "in_proj_bias")
_SEPARATE = {"q_proj_weight": "q_proj.weight", "k_proj_weight": "k_proj.weight",
             "v_proj_weight": "v_proj.weight"}


def _array(value: Any) -> Any:
    if hasattr(value, "detach"):  # a torch tensor, duck-typed: torch is never imported here
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def split_packed_attention(state_dict: Mapping[str, Any]) -> Mapping[str, Any]:
    """``state_dict`` with every packed attention entry split into q/k/v entries (the same
    mapping when there is none)."""
    if not any(isinstance(k, str) and k.rpartition(".")[2] in (*_PACKED, *_SEPARATE)
               for k in state_dict):
        return state_dict
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            out[key] = value
            continue
        prefix, _, name = key.rpartition(".")
        base = f"{prefix}." if prefix else ""
        if name in _PACKED:
            array = _array(value)
            if array.shape[0] % 3:
                raise ValueError(f"load_torch_state_dict: {key!r} of shape {array.shape} is not "
                                 "three stacked projections (its first size is not a multiple "
                                 "of 3)")
            kind = name.rpartition("_")[2]  # weight or bias
            for part, chunk in zip("qkv", np.split(array, 3, axis=0)):
                out[f"{base}{part}_proj.{kind}"] = np.ascontiguousarray(chunk)
        elif name in _SEPARATE:
            out[base + _SEPARATE[name]] = value
        else:
            out[key] = value
    return out


__all__ = ["split_packed_attention"]
