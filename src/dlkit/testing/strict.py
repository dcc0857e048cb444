"""A strict stand-in for CuPy on the CPU: the device ``"strict"``.

``StrictArray`` wraps a NumPy array and behaves as a CuPy array does towards NumPy: calls
through its own namespace ``xp`` (``array_module(a)``) work (``xp.exp(a)``,
``xp.lib.stride_tricks.sliding_window_view(a, ...)``, ``a.sum()``, operators), NumPy's
ufuncs and dispatched functions reach ``xp`` through ``__array_ufunc__`` /
``__array_function__`` as they reach CuPy, but everything CuPy refuses is refused:

- implicit conversion to NumPy (``np.asarray(a)``, ``np.array(a)``, ``np.lib.stride_tricks``
  helpers that coerce, ``float(np.sum(...))`` on a copy made by NumPy) raises;
- a NumPy array (not a scalar) meeting a device array in an operation raises, so host arrays
  made inside an op (``np.zeros(...)``, ``np.arange(...)`` used as data) are caught;
- ``isinstance(a, np.ndarray)`` is False.

Importing this module registers the device: ``dl.tensor(x, device="strict")``,
``model.to("strict")``. A test that runs every op through it fails where an op would break
on a GPU, without a GPU.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from dlkit.devices import register_device


class ForeignArrayError(TypeError):
    """A NumPy array met a device array, or a device array was converted to NumPy silently."""


_CREATION = {"asarray", "array", "asanyarray", "ascontiguousarray"}  # may read host arrays


def _unwrap(x: Any, allow_host: bool = False) -> Any:
    t = type(x)
    if t is StrictArray:
        return x._a
    if t is np.ndarray and not allow_host:
        raise ForeignArrayError(
            f"a NumPy array of shape {x.shape} met a device array: on a GPU this is an error "
            "(make it with xp = array_module(x) instead of np, or move it with xp.asarray)")
    if t is list or t is tuple:
        return t(_unwrap(v, allow_host) for v in x)
    return x


def _unwrap_index(idx: Any) -> Any:
    # CuPy accepts host integer/boolean arrays as indices (it copies them over)
    return _unwrap(idx, allow_host=True)


def _wrap(x: Any) -> Any:
    t = type(x)
    if t is np.ndarray:
        return StrictArray(x)
    if isinstance(x, np.generic) and not isinstance(x, (np.str_, np.bytes_)):
        return StrictArray(np.asarray(x))  # CuPy's reductions give 0-d device arrays
    if t is tuple or t is list:
        return t(_wrap(v) for v in x)
    return x


def _kwargs(kwargs: dict, allow_host: bool = False) -> dict:
    return {k: _unwrap(v, allow_host) for k, v in kwargs.items()}


def _function(f: Any, name: str) -> Any:
    allow_host = name in _CREATION

    def call(*args: Any, **kwargs: Any) -> Any:
        return _wrap(f(*_unwrap(args, allow_host), **_kwargs(kwargs, allow_host)))

    call.__name__ = name
    return call


class _Ufunc:
    def __init__(self, uf: np.ufunc) -> None:
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._uf(*_unwrap(args), **_kwargs(kwargs)))

    def __getattr__(self, name: str) -> Any:  # reduce, accumulate, outer, at (CuPy 13 has all)
        attr = getattr(self._uf, name)
        return _function(attr, name) if callable(attr) else attr


class _Namespace:
    """NumPy's functions (or a submodule's, or an object's methods) over StrictArrays."""

    _PASS = {"errstate", "result_type", "promote_types", "can_cast", "dtype", "finfo", "iinfo",
             "broadcast_shapes", "isscalar", "get_printoptions", "printoptions"}

    def __init__(self, target: Any, name: str) -> None:
        self._target, self.__name__ = target, name

    def __getattr__(self, name: str) -> Any:
        if name == "ndarray":
            return StrictArray
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._target, name)
        if isinstance(attr, types.ModuleType):
            return _Namespace(attr, f"{self.__name__}.{name}")
        if isinstance(attr, np.ufunc):
            return _Ufunc(attr)
        if isinstance(attr, type) or name in self._PASS or not callable(attr):
            return attr
        if name == "default_rng":
            return lambda *a, **k: _Namespace(attr(*a, **k), "Generator")
        return _function(attr, name)

    def __repr__(self) -> str:
        return f"<strict namespace {self.__name__}>"


xp = _Namespace(np, "strict")


def _binary(name: str) -> Any:
    def op(self: StrictArray, other: Any) -> Any:
        o = _unwrap(other)
        if not isinstance(o, (np.ndarray, np.generic, int, float, bool, complex)):
            return NotImplemented  # a Tensor: its reflected operator runs
        return _wrap(getattr(self._a, name)(o))

    return op


def _inplace(name: str) -> Any:
    def op(self: StrictArray, other: Any) -> Any:
        o = _unwrap(other)
        if not isinstance(o, (np.ndarray, np.generic, int, float, bool, complex)):
            return NotImplemented
        self._a = getattr(self._a, name)(o)
        return self

    return op


def _unary(name: str) -> Any:
    return lambda self: _wrap(getattr(self._a, name)())


class StrictArray:
    """A NumPy array that NumPy treats as a CuPy array: see the module docstring."""

    __slots__ = ("_a",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    # what CuPy refuses
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise ForeignArrayError(
            "implicit conversion of a device array to a NumPy array (np.asarray, np.array, a "
            "NumPy-only function): CuPy refuses it; use xp = array_module(x) and xp.<function>, "
            "or .get() / dlkit.backend.to_numpy on purpose")

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        f = ufunc if method == "__call__" else getattr(ufunc, method)
        return _wrap(f(*_unwrap(inputs), **_kwargs(kwargs)))

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        return _wrap(func(*_unwrap(args), **_kwargs(kwargs)))

    # what CuPy allows
    def get(self) -> np.ndarray:
        return self._a.copy()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # no __array_interface__ and the like: no silent copy
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return _function(attr, name)
        return _wrap(attr)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._a.shape

    @property
    def dtype(self) -> np.dtype:
        return self._a.dtype

    @property
    def ndim(self) -> int:
        return self._a.ndim

    @property
    def size(self) -> int:
        return self._a.size

    @property
    def T(self) -> StrictArray:
        return StrictArray(self._a.T)

    @property
    def device(self) -> Any:
        return _DeviceId()

    def __getitem__(self, idx: Any) -> Any:
        return _wrap(self._a[_unwrap_index(idx)])

    def __setitem__(self, idx: Any, value: Any) -> None:
        self._a[_unwrap_index(idx)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (_wrap(v) for v in self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __repr__(self) -> str:
        return "strict" + repr(self._a)

    __str__ = __repr__


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    setattr(StrictArray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(StrictArray, f"__r{_name}__", _binary(f"__r{_name}__"))
    setattr(StrictArray, f"__i{_name}__", _inplace(f"__i{_name}__"))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(StrictArray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_name}__", _unary(f"__{_name}__"))


class _DeviceId:
    id = 0


def from_host(a: Any, index: int = 0) -> StrictArray:
    """A copy of ``a`` (a NumPy array or scalar) as a device array."""
    return StrictArray(np.array(a, copy=True))


register_device("strict", xp, StrictArray, from_host)
