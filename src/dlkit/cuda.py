"""``dl.cuda``: is a GPU usable here (CuPy installed, a device present)?"""

from __future__ import annotations

from dlkit.devices import _KINDS, DeviceError


def is_available() -> bool:
    """True when CuPy imports and finds at least one NVIDIA GPU; never raises."""
    try:
        return _KINDS["cuda"].load() is not None and _KINDS["cuda"].count() > 0
    except (DeviceError, Exception):
        return False


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or a GPU); never raises."""
    return _KINDS["cuda"].count() if is_available() else 0


def unavailable_reason() -> str | None:
    """Why ``"cuda"`` cannot be used (the message ``dl.device("cuda")`` would raise), or None."""
    try:
        _KINDS["cuda"].load()
    except DeviceError as e:
        return str(e)
    return None


def synchronize() -> None:
    """Wait for the GPU's queued work (for timing); nothing without a GPU."""
    if is_available():
        _KINDS["cuda"].load().cuda.Device().synchronize()
