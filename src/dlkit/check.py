"""Numerical gradient checking, as the notes.

For each parameter entry theta_i, the two-sided difference
    dtheta_approx[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
is compared with the backward's gradient by the relative difference
    ||dtheta - dtheta_approx||_2 / (||dtheta||_2 + ||dtheta_approx||_2),
which the notes read as: below 1e-7 great, around 1e-5 look again, above 1e-3 a bug.
Run it in float64: float32 rounding alone gives differences near 1e-3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module, to_numpy
from dlkit.tensor import Tensor, no_grad


def relative_difference(grad: Any, approx: Any) -> float:
    """||g - g_approx|| / (||g|| + ||g_approx||); 0 when both are zero."""
    g, a = np.ravel(np.asarray(grad, dtype=np.float64)), np.ravel(np.asarray(approx, np.float64))
    denominator = np.linalg.norm(g) + np.linalg.norm(a)
    return 0.0 if denominator == 0 else float(np.linalg.norm(g - a) / denominator)


def _scalar(out: Any, where: str) -> float:
    if not isinstance(out, Tensor) or out.data.size != 1:
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"{where}: expected f(*tensors) to return a one-element tensor, got "
                         f"{shape}; reduce it with .sum() or .mean()")
    return float(out.data.reshape(()))


def analytic_gradients(f: Callable[..., Tensor], inputs: Sequence[Any]) -> list[Any]:
    """The gradients backward computes for each input of ``f`` (zeros where none flows)."""
    tensors = [Tensor(array_module(x).array(x, copy=True), requires_grad=True) for x in inputs]
    out = f(*tensors)
    _scalar(out, "gradient_check")
    out.backward()
    return [t.grad if t.grad is not None else array_module(t.data).zeros_like(t.data)
            for t in tensors]


def numerical_gradients(
    f: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-7
) -> list[np.ndarray]:
    """Two-sided differences (J(x + eps) - J(x - eps)) / (2 eps), one entry at a time."""
    # C order: the in-place perturbation below goes through a.reshape(-1), a view only then
    arrays = [array_module(x).array(x, copy=True, order="C") for x in inputs]
    tensors = [Tensor(a) for a in arrays]
    grads = []
    with no_grad():
        for a in arrays:
            g = array_module(a).zeros_like(a)
            flat, gflat = a.reshape(-1), g.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                plus = _scalar(f(*tensors), "gradient_check")
                flat[i] = old - eps
                minus = _scalar(f(*tensors), "gradient_check")
                flat[i] = old
                gflat[i] = (plus - minus) / (2 * eps)
            grads.append(g)
    return grads


def _check_float64(inputs: Sequence[Any], where: str) -> None:
    for i, x in enumerate(inputs):
        dt = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
        if dt != np.float64:
            raise TypeError(
                f"{where}: input {i} is {dt}; gradient checking needs float64 "
                "(float32 rounding alone gives differences near 1e-3): pass x.astype('float64')"
            )


def gradient_check(
    f: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-7
) -> float:
    """Relative difference between backward's gradient and the two-sided difference.

    ``f(*tensors)`` returns a scalar tensor; ``inputs`` is a list of float64 arrays. The
    gradients of all inputs are compared as one vector, as the notes' ``theta``.
    Returns ``||g - g_approx|| / (||g|| + ||g_approx||)``; below 2e-7 passes.
    """
    inputs = [array_module(x).asarray(x) for x in inputs]
    _check_float64(inputs, "gradient_check")
    g = analytic_gradients(f, inputs)
    approx = numerical_gradients(f, inputs, eps)
    return relative_difference(
        np.concatenate([np.ravel(to_numpy(x)) for x in g]),
        np.concatenate([np.ravel(to_numpy(x)) for x in approx]),
    )


def gradient_check_directional(
    f: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    n_directions: int = 3,
    seed: int = 0,
) -> float:
    """Gradient check along random directions, for inputs too large to perturb one by one.

    For a random unit direction v, compares g . v with (J(x + eps v) - J(x - eps v)) / (2 eps);
    returns the largest relative difference over ``n_directions`` directions.
    """
    inputs = [np.asarray(x) for x in inputs]
    _check_float64(inputs, "gradient_check_directional")
    g = analytic_gradients(f, inputs)
    rng = np.random.default_rng(seed)
    worst = 0.0
    with no_grad():
        for _ in range(n_directions):
            vs = [rng.standard_normal(x.shape) for x in inputs]
            norm = np.sqrt(sum(float((v * v).sum()) for v in vs))
            vs = [v / norm for v in vs]
            plus = _scalar(f(*[Tensor(x + eps * v) for x, v in zip(inputs, vs)]), "check")
            minus = _scalar(f(*[Tensor(x - eps * v) for x, v in zip(inputs, vs)]), "check")
            approx = (plus - minus) / (2 * eps)
            exact = sum(float((gi * v).sum()) for gi, v in zip(g, vs))
            worst = max(worst, relative_difference([exact], [approx]))
    return worst


def gradient_check_module(
    model: Any, f: Callable[[Any], Tensor], eps: float = 1e-7
) -> float:
    """Gradient check of a model's parameters: ``f(model)`` returns the scalar cost.

    Backward's ``p.grad`` of every trainable parameter is compared with two-sided differences
    taken by nudging ``p.data`` in place, all parameters as one vector (the notes' theta).
    Build the model in float64 (``dl.set_default_dtype("float64")`` first); reseed inside
    ``f`` if the model draws random numbers (dropout).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    _check_float64([p.data for p in params], "gradient_check_module")
    for p in params:
        p.grad = None
    out = f(model)
    _scalar(out, "gradient_check_module")
    out.backward()
    exact = [p.grad if p.grad is not None else np.zeros_like(p.data) for p in params]
    approx = []
    with no_grad():
        for p in params:
            if not p.data.flags.c_contiguous:
                p.data = np.ascontiguousarray(p.data)
            flat = p.data.reshape(-1)
            g = np.zeros(flat.size)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                plus = _scalar(f(model), "gradient_check_module")
                flat[i] = old - eps
                minus = _scalar(f(model), "gradient_check_module")
                flat[i] = old
                g[i] = (plus - minus) / (2 * eps)
            approx.append(g)
    return relative_difference(np.concatenate([np.ravel(g) for g in exact]),
                               np.concatenate(approx))
