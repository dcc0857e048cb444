"""Shared fixtures: every test starts from float32 default dtype and leaves dlkit's global
state (default dtype, RNG stream) as it found it."""

from __future__ import annotations

import os

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With DLKIT_REQUIRE_TORCH=1 (set by .ci/run) a test skipped because PyTorch is missing
    fails instead: the comparisons with PyTorch must run in CI."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("DLKIT_REQUIRE_TORCH") == "1":
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if "torch" in reason.lower():
            report.outcome = "failed"
            report.longrepr = f"PyTorch is required here (DLKIT_REQUIRE_TORCH=1): {reason}"
