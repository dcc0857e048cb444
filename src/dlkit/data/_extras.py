"""Optional dependencies of ``dlkit.data`` (the ``data`` extra: scikit-learn, h5py)."""

from __future__ import annotations

import importlib
from types import ModuleType


def require_extra(module: str, caller: str) -> ModuleType:
    """Import ``module`` for ``caller``, or raise an ImportError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        package = {"sklearn": "scikit-learn"}.get(module.split(".")[0], module.split(".")[0])
        raise ImportError(
            f"{caller}: needs {package}, which is not installed; it is part of dlkit's optional "
            f'"data" extra: pip install "dlkit[data]" (or pip install {package})'
        ) from e
