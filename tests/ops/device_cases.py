"""Running an op-registry case on a device: its inputs, and the NumPy constants it reads
(labels, masks, indices: the caller's data, which a GPU user keeps on the GPU), on the device.
Shared by tests/ops/test_strict_namespace.py and tests/gpu/test_gpu.py."""

from __future__ import annotations

import traceback
import types
from typing import Any

import numpy as np
from op_registry import upstream_weights

import dlkit as dl
from dlkit.backend import to_numpy


def on_device(f: Any, device: Any) -> Any:
    """``f`` with the NumPy arrays it reads from its module moved to ``device``."""
    if device is None or dl.device(device) == "cpu":
        return f
    names = set(f.__code__.co_names)
    moved = {k: (dl.tensor(v, device=device).data if isinstance(v, np.ndarray) and k in names
                 else v) for k, v in f.__globals__.items()}
    return types.FunctionType(f.__code__, moved, f.__name__, f.__defaults__, f.__closure__)


def run_case(case: Any, device: Any, dtype: Any = np.float64) -> tuple[dl.Tensor, list]:
    """The output and the inputs (with ``.grad``) of ``case`` on ``device``, after a backward
    from the registry's fixed upstream weights."""
    xs = [dl.tensor(x.astype(dtype), requires_grad=True, device=device) for x in case.inputs]
    try:
        out = on_device(case.f, device)(*xs)
    except TypeError as e:
        # the case computes with its constants itself (e.g. rois * [1, 2, 2, 2, 2]), which a
        # device array refuses as CuPy does: give it its host constants instead
        if "op_registry" not in traceback.extract_tb(e.__traceback__)[-1].filename:
            raise
        xs = [dl.tensor(x.astype(dtype), requires_grad=True, device=device)
              for x in case.inputs]
        out = case.f(*xs)
    w = dl.tensor(upstream_weights(out.shape, out.dtype), device=device)
    (out * w).sum().backward()
    return out, xs


def grads(xs: list) -> list:
    return [None if x.grad is None else to_numpy(x.grad) for x in xs]
