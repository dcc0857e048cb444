"""Every op of the registry, forward and backward, on the strict CuPy stand-in
(``dlkit.testing.strict``): an op that calls a NumPy-only function on a device array, makes
host arrays inside its computation or converts a device array to NumPy fails here, on the CPU,
as it would fail on a GPU. Values must equal the NumPy run's."""

from __future__ import annotations

import numpy as np
import pytest
from device_cases import run_case
from op_registry import CASES

import dlkit as dl
from dlkit.backend import to_numpy
from dlkit.testing.strict import StrictArray

DEV = "strict"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_runs_on_a_device_namespace(case):
    dl.manual_seed(0)
    ref, ref_xs = run_case(case, None)
    dl.manual_seed(0)
    out, xs = run_case(case, DEV)
    assert isinstance(out.data, StrictArray), f"{case.name}: the output left the device"
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    for i, (x, r) in enumerate(zip(xs, ref_xs)):
        if r.grad is None:
            assert x.grad is None
            continue
        assert isinstance(x.grad, StrictArray), f"{case.name}: gradient {i} left the device"
        np.testing.assert_allclose(to_numpy(x.grad), r.grad, rtol=1e-10, atol=1e-12)
