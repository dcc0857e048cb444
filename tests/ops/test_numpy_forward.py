"""Every registry op's forward pass against its NumPy reference (tests/ops/numpy_refs.py),
written from the formula: the forward values are checked with or without PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from numpy_refs import REFS
from op_registry import CASES

import dlkit as dl


def test_every_registry_case_has_a_numpy_reference():
    missing = [c.name for c in CASES if c.name not in REFS]
    assert not missing, f"registry cases without a NumPy reference: {missing}"
    assert not set(REFS) - {c.name for c in CASES}, "references of cases that do not exist"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_forward_equals_the_numpy_reference(case):
    out = case.f(*[dl.tensor(x) for x in case.inputs])
    expected = REFS[case.name](*[x.copy() for x in case.inputs])
    assert out.shape == np.shape(expected), case.name
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12, err_msg=case.name)
