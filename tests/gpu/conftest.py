"""GPU tests: marked ``gpu``, parametrized over devices, skipped with the reason when CuPy or a
GPU is missing (``dl.cuda.unavailable_reason()``). Run them with ``pytest -m gpu tests/gpu``
(benchmarks/gpu_run.sh does, on a machine with an NVIDIA GPU)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import dlkit as dl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))  # op_registry


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DLKIT_GPU_TEST_DEVICE") == "strict":  # dry run on the CPU stand-in
        import dlkit.testing.strict  # noqa: F401
        return
    reason = dl.cuda.unavailable_reason() if not dl.cuda.is_available() else None
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"no GPU: {reason}")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
