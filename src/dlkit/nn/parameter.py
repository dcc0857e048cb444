"""Parameter: a leaf tensor a Module registers and an optimizer updates."""

from __future__ import annotations

from typing import Any

from dlkit.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a model weight: ``requires_grad=True`` unless frozen."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: expected float data, got {data.dtype}")
        super().__init__(data, requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("tensor("):]
