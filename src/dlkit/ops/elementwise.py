"""Elementwise arithmetic and math: forward and backward side by side.

Binary ops broadcast as NumPy does; the tape sums each gradient back to its input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.tensor import Function, Tensor, as_tensor


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, as_tensor(b, a)
    b = as_tensor(b)
    return as_tensor(a, b), b


class Add(Function):
    """y = a + b;  da = dy, db = dy."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    """y = a - b;  da = dy, db = -dy."""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.needs_grad(1) else None)


class Mul(Function):
    """y = a * b;  da = dy * b, db = dy * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        ga = gy * self.b if self.needs_grad(0) else None
        gb = gy * self.a if self.needs_grad(1) else None
        return ga, gb


class Div(Function):
    """y = a / b;  da = dy / b, db = -dy * a / b^2."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        ga = gy / self.b if self.needs_grad(0) else None
        gb = -gy * self.a / (self.b * self.b) if self.needs_grad(1) else None
        return ga, gb


class PowScalar(Function):
    """y = x^c for a constant c;  dx = dy * c * x^(c-1)."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x):
        self.x = x
        return x**self.c

    def backward(self, gy):
        c = self.c
        if c == 2:
            return gy * (2 * self.x)
        return gy * (c * self.x ** (c - 1))


class Pow(Function):
    """y = a^b;  da = dy * b * a^(b-1), db = dy * y * log(a)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a**b
        return self.y

    def backward(self, gy):
        ga = gy * self.b * self.a ** (self.b - 1) if self.needs_grad(0) else None
        gb = None
        if self.needs_grad(1):
            xp = array_module(self.a)
            safe = xp.where(self.a > 0, self.a, 1)
            gb = gy * self.y * xp.log(safe)
        return ga, gb


class Neg(Function):
    """y = -x (the negation, elementwise);  dx = -dy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    """y = e^x;  dx = dy * y."""

    def forward(self, x):
        self.y = array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    """y = ln x;  dx = dy / x."""

    def forward(self, x):
        self.x = x
        return array_module(x).log(x)

    def backward(self, gy):
        return gy / self.x


class Sqrt(Function):
    """y = sqrt(x);  dx = dy / (2 y)."""

    def forward(self, x):
        self.y = array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.y)


class Abs(Function):
    """y = |x|;  dx = dy * sign(x) (0 at x = 0)."""

    def forward(self, x):
        self.x = x
        return array_module(x).abs(x)

    def backward(self, gy):
        return gy * array_module(self.x).sign(self.x)


class Clip(Function):
    """y = min(max(x, lo), hi);  dx = dy where lo <= x <= hi, else 0."""

    def __init__(self, lo: float | None, hi: float | None) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.x = x
        return array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        inside = np.True_
        if self.lo is not None:
            inside = self.x >= self.lo
        if self.hi is not None:
            inside = inside & (self.x <= self.hi)
        return gy * inside


class Maximum(Function):
    """y = max(a, b) elementwise; the gradient goes to the larger input (split on ties)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return array_module(a).maximum(a, b)

    def backward(self, gy):
        a_wins = (self.a > self.b) + 0.5 * (self.a == self.b)
        return gy * a_wins, gy * (1 - a_wins)


class Minimum(Function):
    """y = min(a, b) elementwise; the gradient goes to the smaller input (split on ties)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return array_module(a).minimum(a, b)

    def backward(self, gy):
        a_wins = (self.a < self.b) + 0.5 * (self.a == self.b)
        return gy * a_wins, gy * (1 - a_wins)


class Where(Function):
    """y = a where cond else b;  da = dy * cond, db = dy * (1 - cond)."""

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, a, b):
        return array_module(a).where(self.cond, a, b)

    def backward(self, gy):
        zero = gy.dtype.type(0)
        xp = array_module(gy)
        return xp.where(self.cond, gy, zero), xp.where(self.cond, zero, gy)


class Cast(Function):
    """y = x converted to another dtype;  dx = dy converted back."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype, copy=False)

    def backward(self, gy):
        return gy.astype(self.in_dtype, copy=False)


def add(a: Any, b: Any) -> Tensor:
    """y = a + b with NumPy broadcasting;  da, db = dy summed back to each input's shape."""
    return Add()(*_pair(a, b))


def sub(a: Any, b: Any) -> Tensor:
    """y = a - b with broadcasting;  da = dy,  db = -dy (summed to each shape)."""
    return Sub()(*_pair(a, b))


def mul(a: Any, b: Any) -> Tensor:
    """y = a * b with broadcasting;  da = dy * b,  db = dy * a (summed to each shape)."""
    return Mul()(*_pair(a, b))


def div(a: Any, b: Any) -> Tensor:
    """y = a / b with broadcasting;  da = dy / b,  db = -dy a / b^2 (summed to b's shape)."""
    return Div()(*_pair(a, b))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - mirrors the operator's name
    """y = x^c (c a number or a tensor);  dx = dy c x^(c-1),  dc = dy y ln x (x > 0)."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return PowScalar(b)(a)
    return Pow()(*_pair(a, b))


def neg(x: Any) -> Tensor:
    """y = -x (the negation, elementwise);  dx = -dy."""
    return Neg()(as_tensor(x))


def exp(x: Any) -> Tensor:
    """y = e^x elementwise;  dx = dy * y."""
    return Exp()(as_tensor(x))


def log(x: Any) -> Tensor:
    """y = ln x elementwise (x > 0);  dx = dy / x."""
    return Log()(as_tensor(x))


def sqrt(x: Any) -> Tensor:
    """y = sqrt(x) elementwise (x >= 0);  dx = dy / (2 y)."""
    return Sqrt()(as_tensor(x))


def square(x: Any) -> Tensor:
    """y = x^2 elementwise;  dx = 2 x dy."""
    return PowScalar(2)(as_tensor(x))


def abs(x: Any) -> Tensor:  # noqa: A001
    """y = |x| elementwise;  dx = dy * sign(x). Shape of x."""
    return Abs()(as_tensor(x))


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Tensor:
    """y = min(max(x, lo), hi) (either bound may be None);
    dx = dy where lo <= x <= hi, else 0."""
    if lo is None and hi is None:
        raise ValueError("clip: expected at least one of lo, hi; got neither")
    return Clip(lo, hi)(as_tensor(x))


def maximum(a: Any, b: Any) -> Tensor:
    """y = max(a, b) elementwise with broadcasting;  the gradient goes to the larger input
    (half to each on a tie)."""
    return Maximum()(*_pair(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """y = min(a, b) elementwise with broadcasting;  the gradient goes to the smaller input
    (half to each on a tie)."""
    return Minimum()(*_pair(a, b))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise choice; ``cond`` is a boolean array or tensor (no gradient)."""
    cond = cond.data if isinstance(cond, Tensor) else cond
    return Where(cond)(*_pair(a, b))


def cast(x: Any, dtype: Any) -> Tensor:
    """x converted to ``dtype``;  dx = dy converted back to x's dtype."""
    x = as_tensor(x)
    if x.dtype == np.dtype(dtype):
        return x
    return Cast(dtype)(x)
