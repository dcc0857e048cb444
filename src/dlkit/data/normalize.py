"""Input normalization (course 2, "Normalizing inputs"), fitted on the training set only.

mu = 1/m sum_i x^(i),  sigma^2 = 1/m sum_i (x^(i) - mu)^2,  x -> (x - mu) / sigma,
per feature, with the same mu and sigma (from the training set) reused on dev and test.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.data._arrays import as_numpy
from dlkit.errors import ShapeError, transpose_hint


class Standardizer:
    """Zero mean, unit variance per feature: ``x -> (x - mu) / sigma``.

    ``fit(X_train)`` computes ``mu`` and ``sigma`` over the examples (axis 0) of
    ``X (m, n_x)`` (or ``(m, ...)``: statistics per entry of ``X.shape[1:]``). A feature whose
    standard deviation is zero gets ``sigma = 1``: it is centred but left unscaled.

    >>> scaler = Standardizer().fit(X_train)
    >>> X_train_n, X_dev_n = scaler.transform(X_train), scaler.transform(X_dev)
    """

    mu: np.ndarray | None
    sigma: np.ndarray | None

    def __init__(self) -> None:
        self.mu = None
        self.sigma = None

    @property
    def fitted(self) -> bool:
        return self.mu is not None

    def fit(self, X: Any) -> Standardizer:
        """Compute mu, sigma (float64) from the TRAINING set X (m, n_x); returns self."""
        X = self._check_input(X, "fit")
        if X.shape[0] < 1:
            raise ValueError(f"Standardizer.fit: expected at least one example, got shape "
                             f"{X.shape}")
        X64 = X.astype(np.float64)
        mu = X64.mean(axis=0)
        std = X64.std(axis=0)  # 1/m, as the notes (ddof=0)
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mu), 1.0)
        self.mu, self.sigma = mu, np.where(std <= tiny, 1.0, std)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(X - mu) / sigma with the fitted mu, sigma; X (m, n_x) -> (m, n_x)."""
        X = self._check_fitted_input(X, "transform")
        return ((X - self.mu) / self.sigma).astype(self._out_dtype(X), copy=False)

    def fit_transform(self, X: Any) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``: for the training set only."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """X * sigma + mu: back to the original units."""
        X = self._check_fitted_input(X, "inverse_transform")
        return (X * self.sigma + self.mu).astype(self._out_dtype(X), copy=False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"mu": mu, "sigma": sigma}`` as plain float64 arrays (copies), for saving."""
        if not self.fitted:
            raise RuntimeError("Standardizer.state_dict: not fitted yet; call fit(X_train) first")
        return {"mu": self.mu.copy(), "sigma": self.sigma.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> Standardizer:
        """Restore mu and sigma from ``state_dict()``; returns self."""
        missing = [k for k in ("mu", "sigma") if k not in state]
        if missing:
            raise ValueError(f"Standardizer.load_state_dict: missing {missing}; expected keys "
                           f"['mu', 'sigma'], got {sorted(state)}")
        mu = np.asarray(as_numpy(state["mu"]), dtype=np.float64)
        sigma = np.asarray(as_numpy(state["sigma"]), dtype=np.float64)
        if mu.shape != sigma.shape:
            raise ShapeError(f"Standardizer.load_state_dict: expected mu and sigma of the same "
                             f"shape, got {mu.shape} and {sigma.shape}")
        if not np.all(sigma > 0):
            raise ValueError("Standardizer.load_state_dict: expected sigma > 0 everywhere")
        self.mu, self.sigma = mu.copy(), sigma.copy()
        return self

    def __repr__(self) -> str:
        if not self.fitted:
            return "Standardizer(not fitted)"
        return f"Standardizer(features={self.mu.shape})"

    # -- checks -------------------------------------------------------------------------------

    @staticmethod
    def _check_input(X: Any, method: str) -> np.ndarray:
        X = as_numpy(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"Standardizer.{method}: expected a numeric array, got dtype "
                            f"{X.dtype}")
        if X.ndim < 2:
            raise ShapeError(f"Standardizer.{method}: expected X of shape (m, n_x), got shape "
                             f"{X.shape}; for a single feature use X.reshape(-1, 1)")
        return X

    def _check_fitted_input(self, X: Any, method: str) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError(f"Standardizer.{method}: not fitted yet; call fit(X_train) "
                               f"first (mu and sigma come from the training set)")
        X = self._check_input(X, method)
        if X.shape[1:] != self.mu.shape:
            expected = "(m, " + ", ".join(str(d) for d in self.mu.shape) + ")"
            hint = transpose_hint(X.shape, self.mu.size) if self.mu.ndim == 1 else ""
            msg = (f"Standardizer.{method}: expected X of shape {expected} (the features it "
                   f"was fitted on), got shape {X.shape}")
            raise ShapeError(f"{msg}; {hint}" if hint else msg)
        return X

    @staticmethod
    def _out_dtype(X: np.ndarray) -> np.dtype:
        return X.dtype if X.dtype.kind == "f" else get_default_dtype()
