"""Names of the built-in datasets (no download), for the CLI: ``get_dataset("moons")``."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlkit.data.planar import make_flower
from dlkit.data.sources import load_breast_cancer, load_digits, make_circles, make_moons


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: ``load(**kwargs) -> (X, y)``, a one-line description, its task
    ("binary": y (m, 1) float; "multiclass": y (m,) int64) and number of classes."""

    name: str
    load: Callable[..., tuple[np.ndarray, np.ndarray]]
    description: str
    task: str
    n_classes: int


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("flower", make_flower, "planar 'flower' of the course: 400 points in 2-D, "
                    "two classes on the petals of a rose curve", "binary", 2),
        DatasetInfo("moons", make_moons, "two interleaving half circles in 2-D (scikit-learn)",
                    "binary", 2),
        DatasetInfo("circles", make_circles, "a small circle inside a large one in 2-D "
                    "(scikit-learn)", "binary", 2),
        DatasetInfo("digits", load_digits, "1797 handwritten digits, 8x8 pixels, 10 classes "
                    "(scikit-learn)", "multiclass", 10),
        DatasetInfo("breast_cancer", load_breast_cancer, "569 tumours, 30 features, malignant "
                    "or benign (scikit-learn)", "binary", 2),
    )
}


def get_dataset(name: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of the dataset ``name`` (see ``DATASETS``); ``kwargs`` go to its loader,
    e.g. ``get_dataset("moons", m=200, noise=0.1)``."""
    return dataset_info(name).load(**kwargs)


def dataset_info(name: str) -> DatasetInfo:
    """The ``DatasetInfo`` of ``name`` (case-insensitive, "-" or "_"), or a ValueError that
    lists the names and suggests the closest one."""
    key = str(name).strip().lower().replace("-", "_")
    if key in DATASETS:
        return DATASETS[key]
    close = difflib.get_close_matches(key, DATASETS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"get_dataset: unknown dataset {name!r}; expected one of "
                     f"{sorted(DATASETS)}{hint}")
