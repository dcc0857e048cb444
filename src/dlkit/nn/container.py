"""Containers: Sequential."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dlkit.nn.config import module_from_config, register, to_config
from dlkit.nn.module import Module


@register
class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ... (keys "0.weight")."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Module")
            setattr(self, str(i), layer)

    def forward(self, x: Any) -> Any:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def append(self, layer: Module) -> Sequential:
        setattr(self, str(len(self._modules)), layer)
        return self

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def get_config(self) -> dict[str, Any]:
        """``{"layers": [child configs in order]}``."""
        return {"layers": [to_config(m) for m in self._modules.values()]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        return cls(*(module_from_config(c) for c in config["layers"]))
