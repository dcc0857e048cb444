"""Array namespace, default dtype and seeding.

The array module (NumPy or CuPy) is looked up per array, never switched globally:
``array_module(a)`` returns ``numpy`` for NumPy arrays and ``cupy`` for CuPy arrays.
Every random draw in dlkit goes through ``generator()``, which ``manual_seed`` resets,
so a seeded run repeats bit for bit on the CPU.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

_FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}
_default_dtype: type = np.float32
_seed: int | None = None
_generator: np.random.Generator = np.random.default_rng()
_gpu_generator: Any = None


def array_module(a: Any):
    """The array namespace of ``a``: ``numpy`` or ``cupy`` (when ``a`` is a CuPy array)."""
    if type(a).__module__.startswith("cupy"):
        return sys.modules["cupy"]
    return np


def is_gpu_array(a: Any) -> bool:
    return type(a).__module__.startswith("cupy")


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy copy of a CuPy array; NumPy arrays are returned as they are."""
    return a.get() if is_gpu_array(a) else np.asarray(a)


def get_default_dtype() -> np.dtype:
    """The dtype of new float tensors and parameters (float32 unless changed)."""
    return np.dtype(_default_dtype)


def set_default_dtype(dtype: str | type | np.dtype) -> None:
    """Set the dtype of new float tensors (``"float64"`` for gradient checks)."""
    global _default_dtype
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _FLOAT_DTYPES:
        raise ValueError(
            f"set_default_dtype: expected one of {sorted(_FLOAT_DTYPES)}, got {dtype!r}"
        )
    _default_dtype = _FLOAT_DTYPES[name]


def manual_seed(seed: int) -> None:
    """Seed every random draw of dlkit (initializers, dropout, shuffling, sampling)."""
    global _seed, _generator, _gpu_generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative int, got {seed!r}")
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    _gpu_generator = None


def generator(xp: Any = np):
    """The generator random ops draw from: NumPy's, or CuPy's seeded from the same seed."""
    global _gpu_generator
    if xp is np:
        return _generator
    if _gpu_generator is None:
        seed = _seed if _seed is not None else int(_generator.integers(2**31))
        _gpu_generator = xp.random.default_rng(seed)
    return _gpu_generator


def get_rng_state() -> dict:
    """The generator's state as a JSON-serialisable dict (stored in checkpoints)."""
    return {"seed": _seed, "bit_generator": _generator.bit_generator.state}


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``; the next draws repeat exactly."""
    global _seed, _generator, _gpu_generator
    bg = np.random.PCG64()
    bg.state = state["bit_generator"]
    _generator = np.random.Generator(bg)
    _seed = state.get("seed")
    _gpu_generator = None
