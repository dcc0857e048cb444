"""Devices: where a tensor's array lives (``"cpu"``: NumPy; ``"cuda"``: CuPy on an NVIDIA GPU).

``device("cuda:1")`` names a device; ``to_device(array, dev)`` copies an array there (files
and metrics always go through the host); ``device_of(array)`` tells where it is;
``move(batch, dev)`` moves every Tensor/array of a nested batch. Asking for ``"cuda"`` without
CuPy or without a GPU raises ``DeviceError`` saying what to install. Other array namespaces
(a strict stand-in for CuPy that the CPU tests use, ``dlkit.testing.strict``) register
themselves as devices with ``register_device``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlkit import backend
from dlkit.backend import array_module


class DeviceError(RuntimeError):
    """A device that cannot be used here, or tensors on two devices meeting in one op."""


class Device:
    """A device: ``type`` (``"cpu"``, ``"cuda"``) and ``index`` (which GPU; 0 for the CPU)."""

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int = 0) -> None:
        self.type, self.index = type, int(index)

    @property
    def xp(self) -> Any:
        """The array module of this device (``numpy`` or ``cupy``)."""
        return np if self.type == "cpu" else _kind(self.type).load()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type,
                                                                         other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return "cpu" if self.type == "cpu" else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device('{self}')"


CPU = Device("cpu")


class _Kind:
    """How to reach one kind of device: ``load()`` gives its array module (or raises
    DeviceError), ``from_host(array, index)`` copies a NumPy array there, ``index_of(array)``
    says which device of the kind holds an array, ``count()`` how many there are."""

    def __init__(self, name: str, load: Callable[[], Any], from_host: Callable[[Any, int], Any],
                 index_of: Callable[[Any], int], count: Callable[[], int]) -> None:
        self.name, self._load, self.from_host = name, load, from_host
        self.index_of, self._count, self._xp = index_of, count, None

    def load(self) -> Any:
        if self._xp is None:
            self._xp = self._load()
        return self._xp

    def count(self) -> int:
        return self._count()


_KINDS: dict[str, _Kind] = {}
_KIND_OF_MODULE: dict[int, _Kind] = {}  # id(array module) -> its kind


def register_device(name: str, xp: Any, array_type: type, from_host: Callable[[Any, int], Any],
                    index_of: Callable[[Any], int] = lambda a: 0, count: int = 1) -> None:
    """Make ``device(name)`` a device whose arrays are ``array_type`` of the namespace ``xp``
    (used for test namespaces; ``"cuda"`` is built in)."""
    kind = _Kind(name, lambda: xp, from_host, index_of, lambda: count)
    _KINDS[name] = kind
    _KIND_OF_MODULE[id(xp)] = kind
    backend.register_array_type(array_type, xp)


# ---- CUDA through CuPy ------------------------------------------------------------------------
_INSTALL = ("install CuPy for your CUDA version: pip install 'dlkit[gpu]' (cupy-cuda12x, "
            "CUDA 12), or pip install cupy-cuda13x / cupy-cuda11x (CUDA 13 / 11)")


def _load_cupy() -> Any:
    try:
        import cupy
    except ImportError:
        raise DeviceError(f"device 'cuda': CuPy is not installed; {_INSTALL}") from None
    except Exception as e:  # a broken install (missing CUDA libraries)
        raise DeviceError(f"device 'cuda': CuPy failed to import ({e}); {_INSTALL}") from None
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        raise DeviceError(f"device 'cuda': CuPy is installed but finds no usable NVIDIA GPU "
                          f"({e}); check the driver with nvidia-smi, or use device 'cpu'") \
            from None
    if n == 0:
        raise DeviceError("device 'cuda': CuPy is installed but this machine has no NVIDIA "
                          "GPU; use device 'cpu'")
    _KIND_OF_MODULE[id(cupy)] = _KINDS["cuda"]
    backend.register_array_type(cupy.ndarray, cupy)
    return cupy


def _cupy_from_host(a: Any, index: int) -> Any:
    cupy = _KINDS["cuda"].load()
    with cupy.cuda.Device(index):
        return cupy.array(a, copy=True) if array_module(a) is cupy else cupy.asarray(a)


def _cupy_count() -> int:
    try:
        return _KINDS["cuda"].load().cuda.runtime.getDeviceCount()
    except DeviceError:
        return 0


_KINDS["cuda"] = _Kind("cuda", _load_cupy, _cupy_from_host, lambda a: a.device.id, _cupy_count)


def _kind(name: str) -> _Kind:
    kind = _KINDS.get(name)
    if kind is None:
        raise ValueError(f"device: expected 'cpu' or 'cuda' (or 'cuda:N'), got {name!r}")
    return kind


# ---- naming and moving ------------------------------------------------------------------------
def device(spec: str | Device | None = "cpu") -> Device:
    """A device from ``"cpu"``, ``"cuda"``, ``"cuda:1"`` (or a Device). ``"cuda"`` checks
    that CuPy and a GPU are there and raises ``DeviceError`` saying what is missing."""
    if isinstance(spec, Device):
        return spec
    if spec is None:
        return CPU
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got "
                        f"{type(spec).__name__}")
    name, _, index = spec.strip().lower().partition(":")
    if name == "cpu" and not index:
        return CPU
    kind = _kind(name)
    if index and not index.isdigit():
        raise ValueError(f"device: expected 'cuda:N' with N a GPU number, got {spec!r}")
    i = int(index) if index else 0
    kind.load()
    n = kind.count()
    if i >= n:
        raise DeviceError(f"device {spec!r}: this machine has {n} {name} device(s) "
                          f"(numbered from 0)")
    return Device(name, i)


def device_of(a: Any) -> Device:
    """The device holding array ``a`` (NumPy arrays and scalars: the CPU)."""
    xp = array_module(a)
    if xp is np:
        return CPU
    kind = _KIND_OF_MODULE.get(id(xp)) or _KINDS["cuda"]
    return Device(kind.name, kind.index_of(a))


def to_device(a: Any, dev: Device | str) -> Any:
    """``a`` on ``dev``: itself when it is there, else a copy (through the host between
    two kinds of device)."""
    dev = device(dev)
    if device_of(a) == dev:
        return a
    if dev.type == "cpu":
        return backend.to_numpy(a)
    if array_module(a) is not np and _KIND_OF_MODULE.get(id(array_module(a))) is not \
            _KINDS[dev.type]:
        a = backend.to_numpy(a)
    return _KINDS[dev.type].from_host(a, dev.index)


def move(batch: Any, dev: Device | str) -> Any:
    """Every Tensor and array of a nested batch (tuples, named tuples, lists, dicts) on
    ``dev``; other values as they are. Tensors come back as new constants (no tape)."""
    from dlkit.tensor import Tensor

    if isinstance(batch, Tensor):
        return Tensor(to_device(batch.data, dev), batch.requires_grad) \
            if batch.is_leaf else batch.to(dev)
    if isinstance(batch, np.ndarray) or backend.is_gpu_array(batch):
        return to_device(batch, dev)
    if isinstance(batch, dict):
        return type(batch)((k, move(v, dev)) for k, v in batch.items())
    if isinstance(batch, tuple):
        parts = [move(v, dev) for v in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else tuple(parts)
    if isinstance(batch, list):
        return [move(v, dev) for v in batch]
    return batch


def same_device(op: str, arrays: list) -> list:
    """The inputs of one op, checked to be on one device. A 0-d host array next to device
    arrays goes to that device (as PyTorch's 0-dim CPU tensors); any other host or other-device
    array raises ``DeviceError`` naming both devices."""
    where: Device | None = None
    first = -1
    for i, a in enumerate(arrays):
        if isinstance(a, np.generic) or array_module(a) is np:
            continue
        d = device_of(a)
        if where is None:
            where, first = d, i
        elif d != where:
            raise _mixed(op, first, where, i, d)
    if where is None:
        return arrays
    out = list(arrays)
    for i, a in enumerate(arrays):
        if type(a) is np.ndarray:
            if a.ndim != 0:
                raise _mixed(op, first, where, i, CPU)
            out[i] = to_device(a, where)
    return out


def _mixed(op: str, i: int, di: Device, j: int, dj: Device) -> DeviceError:
    target = di
    if j < i:
        i, di, j, dj = j, dj, i, di
    return DeviceError(f"{op}: expected all tensors on one device, got input {i} on {di} and "
                       f"input {j} on {dj}; move them with .to('{target}') (a model with "
                       f"model.to(device), batches with DataLoader(..., device=...))")
