"""Linear: the dense layer Z = X W^T + b of the notes, batch-first."""

from __future__ import annotations

from typing import Any

from dlkit.nn import init as initializers
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops.linalg import linear
from dlkit.tensor import Tensor


@register
class Linear(Module):
    """``weight`` (n_out, n_in) as the notes' W[l], ``bias`` (n_out,) initialised to zeros.

    ``init`` names the weight initializer: "he" (default, for ReLU), "xavier", "small",
    "zeros", "glorot_uniform", or a function ``(shape, dtype) -> array``.
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, init: Any = "he",
                 dtype: Any = None) -> None:
        super().__init__()
        if n_in <= 0 or n_out <= 0:
            raise ValueError(f"Linear: expected positive sizes, got n_in={n_in}, n_out={n_out}")
        self.n_in, self.n_out = n_in, n_out
        self.init_name = init if isinstance(init, str) else None
        self.weight = Parameter(initializers.get(init)((n_out, n_in), dtype))
        self.bias = Parameter(initializers.zeros((n_out,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.n_in}, {self.n_out}, bias={self.bias is not None}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments; ``init`` only when it was given by name."""
        config = {"n_in": self.n_in, "n_out": self.n_out, "bias": self.bias is not None,
                  "dtype": self.weight.dtype.name}
        if self.init_name is not None:
            config["init"] = self.init_name
        return config
