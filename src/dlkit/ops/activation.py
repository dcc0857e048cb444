"""Activations of the notes: sigmoid, tanh, ReLU, leaky ReLU, softmax, log-softmax."""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.tensor import Function, Tensor, as_tensor


def stable_sigmoid(z: Any) -> Any:
    """sigma(z) = 1 / (1 + e^-z), with -z capped where e^-z would overflow (there sigma(z) is
    below 1e-38 in float32, 1e-307 in float64), so the result is finite and exact elsewhere."""
    xp = array_module(z)
    t = xp.negative(z)
    xp.minimum(t, _EXP_CAP.get(t.dtype.char, 80.0), out=t)
    xp.exp(t, out=t)
    t += 1
    return xp.reciprocal(t, out=t)


_EXP_CAP = {"f": 88.0, "d": 709.0, "e": 11.0}  # largest x with e^x finite, per dtype


def stable_softmax(z: Any, axis: int = -1) -> Any:
    """softmax(z)_i = e^(z_i - max z) / sum_j e^(z_j - max z)."""
    xp = array_module(z)
    e = xp.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def stable_log_softmax(z: Any, axis: int = -1, with_softmax: bool = False) -> Any:
    """log softmax(z)_i = (z_i - max z) - log sum_j e^(z_j - max z) (log-sum-exp, finite for
    any finite z). ``with_softmax`` also returns softmax(z) from the same exponentials:
    ``(log_softmax, softmax)``. The one log-softmax of dlkit: the op, the cross-entropy and
    the metrics call it."""
    xp = array_module(z)
    log_p = z - z.max(axis=axis, keepdims=True)
    e = xp.exp(log_p)
    total = e.sum(axis=axis, keepdims=True)
    log_p -= xp.log(total)
    if not with_softmax:
        return log_p
    e /= total
    return log_p, e


def logistic_loss(z: Any, y: Any) -> Any:
    """The logistic loss from logits, elementwise: -(y log sigma(z) + (1 - y) log(1 - sigma(z)))
    = max(z, 0) - z y + log(1 + e^-|z|), finite for any z (never log 0). The one BCE-from-logits
    kernel: the loss ops and the metrics call it."""
    xp = array_module(z)
    return xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))


class Sigmoid(Function):
    """a = sigma(z) = 1 / (1 + e^-z);  dz = da * a (1 - a)."""

    def forward(self, z):
        self.a = stable_sigmoid(z)
        return self.a

    def backward(self, ga):
        return ga * self.a * (1 - self.a)


class Tanh(Function):
    """a = tanh(z);  dz = da * (1 - a^2)."""

    def forward(self, z):
        self.a = array_module(z).tanh(z)
        return self.a

    def backward(self, ga):
        return ga * (1 - self.a * self.a)


class ReLU(Function):
    """a = max(0, z);  dz = da * [z > 0]."""

    def forward(self, z):
        self.a = array_module(z).maximum(z, 0)
        return self.a

    def backward(self, ga):
        return ga * (self.a > 0)


class LeakyReLU(Function):
    """a = max(slope z, z) (slope < 1);  dz = da * (1 if z > 0 else slope)."""

    def __init__(self, slope: float) -> None:
        self.slope = slope

    def forward(self, z):
        self.positive = z > 0
        return array_module(z).where(self.positive, z, z * z.dtype.type(self.slope))

    def backward(self, ga):
        return array_module(ga).where(self.positive, ga, ga * ga.dtype.type(self.slope))


class Softmax(Function):
    """a = softmax(z) along an axis;  dz = a * (da - sum(da * a))."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, z):
        self.a = stable_softmax(z, self.axis)
        return self.a

    def backward(self, ga):
        a = self.a
        return a * (ga - (ga * a).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = z - logsumexp(z) along an axis;  dz = dy - softmax(z) * sum(dy)."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, z):
        self.y = stable_log_softmax(z, self.axis)
        return self.y

    def backward(self, gy):
        xp = array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def sigmoid(z: Any) -> Tensor:
    """a = sigma(z) = 1 / (1 + e^-z), computed without overflow;  dz = da * a (1 - a)."""
    return Sigmoid()(as_tensor(z))


def tanh(z: Any) -> Tensor:
    """a = tanh(z);  dz = da * (1 - a^2). Shape of z."""
    return Tanh()(as_tensor(z))


def relu(z: Any) -> Tensor:
    """a = max(0, z);  dz = da * [z > 0] (the notes' g'(z) for ReLU). Shape of z."""
    return ReLU()(as_tensor(z))


def leaky_relu(z: Any, slope: float = 0.01) -> Tensor:
    """a = z if z > 0 else slope * z;  dz = da * (1 if z > 0 else slope). Shape of z."""
    return LeakyReLU(slope)(as_tensor(z))


def softmax(z: Any, axis: int = -1) -> Tensor:
    """a_i = e^{z_i} / sum_j e^{z_j} along ``axis`` (the max subtracted first);
    dz = a * (da - sum(da * a)). Shape of z."""
    return Softmax(axis)(as_tensor(z))


def log_softmax(z: Any, axis: int = -1) -> Tensor:
    """y = z - logsumexp(z) along ``axis`` (stable: the max is subtracted first);
    dz = dy - softmax(z) * sum(dy). Shape of z."""
    return LogSoftmax(axis)(as_tensor(z))


# ---- GELU (the Transformer's feed-forward activation) -------------------------------------

def _erf(x: Any) -> Any:
    """erf elementwise: SciPy's (or CuPy's) when present, else math.erf per entry."""
    if type(x).__module__.startswith("cupy"):
        from cupyx.scipy.special import erf  # type: ignore[import-not-found]
        return erf(x)
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - SciPy comes with scikit-learn
        import math

        import numpy
        return numpy.vectorize(math.erf, otypes=[x.dtype])(x)
    return erf(x)


_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2 / pi)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
_INV_SQRT_2 = 0.7071067811865476  # 1 / sqrt(2)


class GELU(Function):
    """a = z Phi(z), Phi the standard normal CDF:
    exact ("none"):  a = z (1 + erf(z / sqrt 2)) / 2,  dz = da (Phi(z) + z phi(z));
    "tanh":  a = z (1 + tanh(u)) / 2, u = sqrt(2/pi) (z + 0.044715 z^3),
             dz = da ((1 + t) / 2 + z (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2) / 2), t = tanh u.
    """

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, z):
        xp = array_module(z)
        self.z = z
        c = z.dtype.type
        if self.approximate == "tanh":
            self.t = xp.tanh(c(_SQRT_2_OVER_PI) * (z + c(0.044715) * z * z * z))
            return c(0.5) * z * (1 + self.t)
        self.cdf = c(0.5) * (1 + _erf(z * c(_INV_SQRT_2)))
        return z * self.cdf

    def backward(self, ga):
        xp = array_module(ga)
        z = self.z
        c = z.dtype.type
        if self.approximate == "tanh":
            t = self.t
            du = c(_SQRT_2_OVER_PI) * (1 + c(3 * 0.044715) * z * z)
            return ga * (c(0.5) * (1 + t) + c(0.5) * z * (1 - t * t) * du)
        pdf = c(_INV_SQRT_2PI) * xp.exp(c(-0.5) * z * z)
        return ga * (self.cdf + z * pdf)


def gelu(z: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit z Phi(z); ``approximate="tanh"`` for the tanh form of
    BERT/GPT-2 (as ``torch.nn.functional.gelu``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: expected approximate 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(as_tensor(z))
