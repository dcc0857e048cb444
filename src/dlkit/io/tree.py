"""Nested state (dicts, lists, scalars, arrays) as standard JSON plus named arrays.

``encode`` moves every array into ``tensors`` under its path (``"optimizer/state/0.v"``) and
leaves ``{"__tensor__": name}`` in the JSON; integers beyond 2**53 (the PCG64 RNG state) become
``{"__int__": "digits"}`` and non-finite floats ``{"__float__": "inf"}``, so the JSON stays
standard and exact for any reader. ``decode`` reverses both.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlkit.backend import is_gpu_array, to_numpy

MAX_EXACT_INT = 2**53


def encode(tree: Any, tensors: dict[str, np.ndarray], path: str = "") -> Any:
    """A JSON-able copy of ``tree``; its arrays are added to ``tensors``."""
    if isinstance(tree, np.ndarray) or is_gpu_array(tree):
        name = path or "tensor"
        while name in tensors:
            name += "_"
        tensors[name] = to_numpy(tree)
        return {"__tensor__": name}
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if not isinstance(k, str):
                raise TypeError(f"save: state keys must be strings, got {k!r} at {path or '/'}")
            out[k] = encode(v, tensors, f"{path}/{k}" if path else k)
        return out
    if isinstance(tree, (list, tuple)):
        return [encode(v, tensors, f"{path}/{i}") for i, v in enumerate(tree)]
    if isinstance(tree, np.generic):
        tree = tree.item()
    if tree is None or isinstance(tree, (bool, str)):
        return tree
    if isinstance(tree, int):
        return {"__int__": str(tree)} if abs(tree) > MAX_EXACT_INT else tree
    if isinstance(tree, float):
        return tree if math.isfinite(tree) else {"__float__": repr(tree)}
    raise TypeError(f"save: cannot store a {type(tree).__name__} at {path or '/'}; state "
                    "holds dicts, lists, str, int, float, bool, None and arrays")


def decode(tree: Any, tensors: dict[str, np.ndarray]) -> Any:
    """The state ``encode`` was given, arrays taken from ``tensors``."""
    if isinstance(tree, dict):
        if len(tree) == 1:
            (key, value), = tree.items()
            if key == "__tensor__":
                if value not in tensors:
                    raise KeyError(f"the metadata names an array {value!r} the file does not "
                                   "hold")
                return tensors[value]
            if key == "__int__":
                return int(value)
            if key == "__float__":
                return float(value)
        return {k: decode(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [decode(v, tensors) for v in tree]
    return tree
