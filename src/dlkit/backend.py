"""Array namespace, default dtype and seeding.

The array module (NumPy or CuPy) is looked up per array, never switched globally:
``array_module(a)`` returns ``numpy`` for NumPy arrays and ``cupy`` for CuPy arrays.
Every random draw in dlkit goes through ``generator()``, which ``manual_seed`` resets,
so a seeded run repeats bit for bit on the CPU (and on one GPU: ``generator(cupy)``).
Devices (``dlkit.devices``) register their array types here with ``register_array_type``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

_FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}
_default_dtype: type = np.float32
_seed: int | None = None
_generator: np.random.Generator = np.random.default_rng()
_device_generators: dict[int, Any] = {}  # id(array module) -> its seeded generator
# array types of other namespaces than NumPy (CuPy's ndarray once seen, test namespaces)
_ARRAY_MODULES: dict[type, Any] = {}


def register_array_type(array_type: type, xp: Any) -> None:
    """Tell ``array_module`` that arrays of ``array_type`` belong to the namespace ``xp``
    (device arrays: they must have ``.get()`` returning a NumPy copy, as CuPy's)."""
    _ARRAY_MODULES[array_type] = xp


def array_module(a: Any):
    """The array namespace of ``a``: ``numpy``, or ``cupy`` when ``a`` is a CuPy array."""
    xp = _ARRAY_MODULES.get(type(a))
    if xp is not None:
        return xp
    if type(a).__module__.startswith("cupy"):
        xp = sys.modules["cupy"]
        _ARRAY_MODULES[type(a)] = xp
        return xp
    return np


def is_gpu_array(a: Any) -> bool:
    """Whether ``a`` is an array of a device namespace (not a NumPy array)."""
    return array_module(a) is not np


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy copy of a device (CuPy) array; NumPy arrays are returned as they are."""
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
    global _seed, _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative int, got {seed!r}")
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    _device_generators.clear()


def generator(xp: Any = np):
    """The generator random ops draw from: NumPy's, or the device's (CuPy's) seeded from the
    same ``manual_seed``, so a seeded run repeats on the same device. Draw on the device with
    ``generator(array_module(x))``: the numbers never cross the bus."""
    if xp is np:
        return _generator
    gen = _device_generators.get(id(xp))
    if gen is None:
        seed = _seed if _seed is not None else int(_generator.integers(2**31))
        gen = _device_generators[id(xp)] = xp.random.default_rng(seed)
    return gen


def get_rng_state() -> dict:
    """The generator's state as a JSON-serialisable dict (stored in checkpoints)."""
    return {"seed": _seed, "bit_generator": _generator.bit_generator.state}


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``; the next draws repeat exactly."""
    global _seed, _generator
    if state.get("seed") != _seed or state["bit_generator"] != _generator.bit_generator.state:
        _device_generators.clear()  # a state saved and restored around a step keeps them
    bg = np.random.PCG64()
    bg.state = state["bit_generator"]
    _generator = np.random.Generator(bg)
    _seed = state.get("seed")
