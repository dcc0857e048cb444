"""The base of the image transforms: the layout check, parameter checks, Compose, RandomApply.

Every transform maps a batch of images ``X (m, n_H, n_W, n_C)`` (channels-last, as the notes'
CNN exercises) to a batch, draws its per-example random parameters in one call to the dlkit
generator, and never changes its input in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator, get_default_dtype
from dlkit.data._arrays import as_numpy
from dlkit.errors import DTypeError, ShapeError, shape_error

IMAGES = "images of shape (m, n_H, n_W, n_C)"


def check_images(op: str, X: Any) -> np.ndarray:
    """``X`` as a NumPy array of numeric images ``(m, n_H, n_W, n_C)``, or a clear error."""
    X = as_numpy(X)
    if X.dtype.kind not in "biuf":
        raise DTypeError(f"{op}: expected numeric {IMAGES}, got dtype {X.dtype}")
    if X.ndim != 4:
        hint = ""
        if X.ndim == 3:
            hint = ("one image (n_H, n_W, n_C)? add a batch axis: X[None]; grayscale images "
                    "(m, n_H, n_W)? add a channel axis: X[..., None]")
        elif X.ndim == 2:
            hint = "flattened images? reshape to (m, n_H, n_W, n_C)"
        raise shape_error(op, IMAGES, X.shape, hint)
    if X.shape[1] in (1, 3) and X.shape[2] > 4 and X.shape[3] > 4:
        m, c, h, w = X.shape
        raise shape_error(
            op, IMAGES, X.shape,
            f"channels-first (m, n_C, n_H, n_W)? dlkit is channels-last: "
            f"X.transpose(0, 2, 3, 1) has shape {(m, h, w, c)}",
        )
    return X


def float_dtype(X: np.ndarray) -> np.dtype:
    """The dtype of an arithmetic result: X's own if floating, else the default (float32)."""
    return X.dtype if X.dtype.kind == "f" else get_default_dtype()


def check_prob(op: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{op}: expected a probability p in [0, 1], got {p!r}")
    return float(p)


def check_range(op: str, name: str, value: Any, limit: float | None = None) -> list[float]:
    """``d`` -> ``[-d, d]``; ``(lo, hi)`` -> ``[lo, hi]``; each end within ``(-limit, limit)``."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{op}: expected {name} >= 0 (a range [-{name}, {name}]) or a "
                             f"pair (lo, hi), got {value!r}")
        lo, hi = -float(value), float(value)
    elif isinstance(value, (Sequence, np.ndarray)) and np.ndim(value) == 1 and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
        if lo > hi:
            raise ValueError(f"{op}: expected {name} = (lo, hi) with lo <= hi, got {value!r}")
    else:
        raise ValueError(f"{op}: expected {name} as a number d (range [-d, d]) or a pair "
                         f"(lo, hi), got {value!r}")
    if limit is not None and max(abs(lo), abs(hi)) >= limit:
        raise ValueError(f"{op}: expected |{name}| < {limit}, got {value!r}")
    return [lo, hi]


def check_pair(op: str, name: str, value: Any, minimum: int) -> list[int]:
    """``k`` -> ``[k, k]``; ``(a, b)`` -> ``[a, b]``: non-negative ints (height, width)."""
    pair = list(value) if isinstance(value, (Sequence, np.ndarray)) else [value, value]
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= minimum for v in pair):
        raise ValueError(f"{op}: expected {name} as an int >= {minimum} or a pair "
                         f"(height, width) of them, got {value!r}")
    return [int(v) for v in pair]


def check_channels(op: str, name: str, value: Any) -> float | list[float]:
    """A scalar, or a per-channel list of floats (checked against n_C when applied)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{op}: expected {name} as a finite number or one per channel, "
                         f"got {value!r}")
    return float(arr) if arr.ndim == 0 else [float(v) for v in arr]


def per_channel(op: str, name: str, value: float | list[float], n_C: int) -> np.ndarray:
    """The value broadcast to the channel axis: shape () or (n_C,)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.size != n_C:
        raise ShapeError(f"{op}: {name} has {arr.size} values (one per channel), but the images "
                         f"have n_C = {n_C} channels")
    return arr


def check_clip(op: str, clip: Any) -> list[float] | None:
    if clip is None:
        return None
    if not isinstance(clip, (Sequence, np.ndarray)) or len(clip) != 2 \
            or float(clip[0]) > float(clip[1]):
        raise ValueError(f"{op}: expected clip = None or a pair (lo, hi) with lo <= hi, "
                         f"got {clip!r}")
    return [float(clip[0]), float(clip[1])]


class Transform:
    """An image augmentation ``X (m, n_H, n_W, n_C) -> X``.

    Subclasses implement ``apply(X)`` (X already checked) and ``_args()`` (the constructor
    arguments, JSON-able); ``get_config()`` adds ``"type"``, ``transform_from_config`` rebuilds.
    """

    def __call__(self, X: Any) -> np.ndarray:
        return self.apply(check_images(type(self).__name__, X))

    def apply(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _args(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """``{"type": class name, **constructor arguments}``, JSON-able."""
        return {"type": type(self).__name__, **self._args()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"


def _config_of(t: Callable) -> dict[str, Any]:
    if isinstance(t, Transform):
        return t.get_config()
    return {"type": "callable", "name": getattr(t, "__name__", type(t).__name__)}


class Compose(Transform):
    """Apply ``transforms`` in order: ``X -> t_k(... t_2(t_1(X)))``."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        if isinstance(transforms, (Transform, str)) or not isinstance(transforms, Sequence):
            raise TypeError(f"Compose: expected a list of transforms, got "
                            f"{type(transforms).__name__}")
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: expected callables, item {i} is a "
                                f"{type(t).__name__}")
        self.transforms = list(transforms)

    def apply(self, X: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            X = as_numpy(t(X))
        return X

    def _args(self) -> dict[str, Any]:
        return {"transforms": [_config_of(t) for t in self.transforms]}

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])" if inner else "Compose([])"


class RandomApply(Transform):
    """Apply ``transform`` to each example independently with probability ``p``
    (the chosen examples go through ``transform`` together, as one sub-batch)."""

    def __init__(self, transform: Callable, p: float = 0.5) -> None:
        if not callable(transform):
            raise TypeError(f"RandomApply: expected a callable transform, got "
                            f"{type(transform).__name__}")
        self.transform, self.p = transform, check_prob("RandomApply", p)

    def apply(self, X: np.ndarray) -> np.ndarray:
        chosen = generator().random(len(X)) < self.p
        sub = as_numpy(self.transform(X[chosen]))
        if sub.shape != (int(chosen.sum()),) + X.shape[1:]:
            raise ShapeError(f"RandomApply: the transform must keep the image shape; it mapped "
                             f"{X[chosen].shape} to {sub.shape}")
        out = X.astype(np.result_type(X.dtype, sub.dtype), copy=True)
        out[chosen] = sub
        return out

    def _args(self) -> dict[str, Any]:
        return {"transform": _config_of(self.transform), "p": self.p}

    def __repr__(self) -> str:
        return f"RandomApply({self.transform!r}, p={self.p})"


def transform_from_config(config: dict[str, Any]) -> Transform:
    """Rebuild a transform from ``get_config()`` (Compose and RandomApply recursively)."""
    from dlkit.data.transforms import TRANSFORMS

    if not isinstance(config, dict) or "type" not in config:
        raise ValueError(f"transform_from_config: expected a dict with a 'type' key, "
                         f"got {config!r}")
    args = {k: v for k, v in config.items() if k != "type"}
    name = config["type"]
    if name not in TRANSFORMS:
        raise ValueError(f"transform_from_config: unknown transform {name!r}; expected one of "
                         f"{sorted(TRANSFORMS)}")
    if name == "Compose":
        args["transforms"] = [transform_from_config(c) for c in args.get("transforms", [])]
    elif name == "RandomApply":
        args["transform"] = transform_from_config(args["transform"])
    return TRANSFORMS[name](**args)
