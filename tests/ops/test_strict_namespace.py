"""Every op of the registry, forward and backward, on the strict CuPy stand-in
(``dlkit.testing.strict``): an op that calls a NumPy-only function on a device array, makes
host arrays inside its computation or converts a device array to NumPy fails here, on the CPU,
as it would fail on a GPU. Values must equal the NumPy run's."""

from __future__ import annotations

import types

import numpy as np
import pytest
from op_registry import CASES, upstream_weights

import dlkit as dl
from dlkit.backend import to_numpy
from dlkit.testing.strict import StrictArray

DEV = "strict"


def _on_device(f, device):
    """``f`` with the NumPy arrays it reads from its module (labels, masks, indices: the
    caller's data, which a GPU user keeps on the GPU) on ``device``."""
    if device is None:
        return f
    names = set(f.__code__.co_names)
    moved = {k: (dl.tensor(v, device=device).data if isinstance(v, np.ndarray) and k in names
                 else v) for k, v in f.__globals__.items()}
    return types.FunctionType(f.__code__, moved, f.__name__, f.__defaults__, f.__closure__)


def _run(case, device):
    xs = [dl.tensor(x, requires_grad=True, device=device) for x in case.inputs]
    out = _on_device(case.f, device)(*xs)
    w = dl.tensor(upstream_weights(out.shape, out.dtype), device=device)
    (out * w).sum().backward()
    return out, xs


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_runs_on_a_device_namespace(case):
    dl.manual_seed(0)
    ref, ref_xs = _run(case, None)
    dl.manual_seed(0)
    out, xs = _run(case, DEV)
    assert isinstance(out.data, StrictArray), f"{case.name}: the output left the device"
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    for i, (x, r) in enumerate(zip(xs, ref_xs)):
        if r.grad is None:
            assert x.grad is None
            continue
        assert isinstance(x.grad, StrictArray), f"{case.name}: gradient {i} left the device"
        np.testing.assert_allclose(to_numpy(x.grad), r.grad, rtol=1e-10, atol=1e-12)
