"""Shared fixtures: every test starts from float32 default dtype and leaves dlkit's global
state (default dtype, RNG stream) as it found it."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl


@pytest.fixture(autouse=True)
def _restore_dlkit_state():
    dtype, rng_state = dl.get_default_dtype(), dl.get_rng_state()
    yield
    dl.set_default_dtype(dtype)
    dl.set_rng_state(rng_state)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
