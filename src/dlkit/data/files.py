"""Loaders for data files: the course's .h5 images, NumPy .npz archives, numeric CSV.

Each returns batch-first arrays, and on a bad file says which file and what it found.
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.data._extras import require_extra

PathLike = str | os.PathLike


def _existing_file(fn: str, path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{fn}: no such file: '{p}'")
    if not p.is_file():
        raise ValueError(f"{fn}: expected a file, got a directory: '{p}'")
    return p


# -- course .h5 images --------------------------------------------------------------------------

_H5_SPLITS = ("train", "test")


def load_h5_images(path: PathLike, split: str | None = None,
                   scale: bool = True) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """The course's cat/non-cat .h5 layout: ``{split}_set_x`` (m, n_H, n_W, n_C) uint8,
    ``{split}_set_y`` (m,), optional ``list_classes``; ``split`` is "train" or "test" (found
    from the file when None).

    Returns X (m, n_H, n_W, n_C) float (the default dtype) divided by 255 as the course does
    (integer pixels only, and only with ``scale``), y (m, 1) float, and the class names
    (``list_classes`` decoded, e.g. ``['non-cat', 'cat']``) or None when the file has none.
    """
    fn = "load_h5_images"
    p = _existing_file(fn, path)
    h5py = require_extra("h5py", fn)
    if not h5py.is_hdf5(p):
        raise ValueError(f"{fn}: '{p}' is not an HDF5 file (no HDF5 signature); expected the "
                         f"course's .h5 layout with train_set_x/train_set_y or "
                         f"test_set_x/test_set_y")
    with h5py.File(p, "r") as f:
        found = sorted(f.keys())
        split = _h5_split(fn, p, found, split)
        x_key, y_key = f"{split}_set_x", f"{split}_set_y"
        missing = [k for k in (x_key, y_key) if k not in f]
        if missing or not all(isinstance(f[k], h5py.Dataset) for k in (x_key, y_key)):
            raise ValueError(f"{fn}: '{p}' lacks the dataset(s) {missing or [x_key, y_key]}; "
                             f"expected {x_key} and {y_key}, found {found}")
        X, y = f[x_key][()], f[y_key][()]
        classes = None
        if "list_classes" in f:
            classes = [c.decode() if isinstance(c, bytes) else str(c)
                       for c in np.asarray(f["list_classes"][()]).reshape(-1)]
    if X.ndim == 3:  # grayscale (m, n_H, n_W) -> (m, n_H, n_W, 1)
        X = X[..., None]
    if X.ndim != 4:
        raise ValueError(f"{fn}: expected {x_key} of shape (m, n_H, n_W, n_C), got shape "
                         f"{X.shape} in '{p}'")
    m = X.shape[0]
    if y.size != m:
        raise ValueError(f"{fn}: {x_key} has {m} images but {y_key} has shape {y.shape} "
                         f"({y.size} labels) in '{p}'")
    dtype = get_default_dtype()
    X = X.astype(dtype) / dtype.type(255) if scale and X.dtype.kind in "iu" else X.astype(dtype)
    return X, y.reshape(m, 1).astype(dtype), classes


def _h5_split(fn: str, p: Path, found: list[str], split: str | None) -> str:
    if split is not None:
        if split not in _H5_SPLITS:
            raise ValueError(f"{fn}: expected split 'train' or 'test', got {split!r}")
        return split
    present = [s for s in _H5_SPLITS if f"{s}_set_x" in found]
    if len(present) == 1:
        return present[0]
    if not present:
        raise ValueError(f"{fn}: '{p}' has neither train_set_x nor test_set_x (the course's "
                         f".h5 layout); found datasets {found}")
    raise ValueError(f"{fn}: '{p}' holds both train and test sets; pass split='train' or "
                     f"split='test'")


# -- .npz archives -------------------------------------------------------------------------------

def load_npz(path: PathLike, x_key: str = "X",
             y_key: str | None = "y") -> tuple[np.ndarray, np.ndarray | None]:
    """``(archive[x_key], archive[y_key])`` from an ``np.savez`` file, as stored (no pickled
    objects are loaded); y is None when ``y_key`` is None."""
    fn = "load_npz"
    p = _existing_file(fn, path)
    try:
        archive = np.load(p, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{fn}: '{p}' is not a NumPy .npz archive ({e})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{fn}: '{p}' is a single .npy array of shape {archive.shape}, not an "
                         f".npz archive; save with np.savez(path, {x_key}=X, y=y)")
    with archive:
        found = list(archive.files)
        wanted = [x_key] + ([y_key] if y_key is not None else [])
        missing = [k for k in wanted if k not in found]
        if missing:
            raise ValueError(f"{fn}: '{p}' has no array(s) {missing}; found {found}; pass "
                           f"x_key=/y_key= to pick others")
        try:
            X = archive[x_key]
            y = archive[y_key] if y_key is not None else None
        except ValueError as e:  # object arrays need pickle, which is never loaded
            raise ValueError(f"{fn}: '{p}' holds pickled object arrays, which dlkit does not "
                             f"load ({e})") from e
    if y is not None and (X.ndim == 0 or y.ndim == 0 or len(X) != len(y)):
        raise ValueError(f"{fn}: '{x_key}' has shape {X.shape} and '{y_key}' has shape "
                         f"{y.shape} in '{p}'; expected the same number of examples on axis 0")
    return X, y


# -- numeric CSV ---------------------------------------------------------------------------------

def load_csv(path: PathLike, target: str | int | None = -1,
             delimiter: str = ",") -> tuple[np.ndarray, np.ndarray | None]:
    """A numeric CSV (header row optional), e.g. ``x1,x2,y``: X (m, n_x) float (the default
    dtype) from every column but ``target``, and y (m, 1) float from ``target`` (a column
    name, or an index: -1, the last, by default); y is None when ``target`` is None."""
    fn = "load_csv"
    p = _existing_file(fn, path)
    with open(p, newline="", encoding="utf-8-sig") as f:  # a BOM is not a column name
        rows = [(i, row) for i, row in enumerate(csv.reader(f, delimiter=delimiter), start=1)
                if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{fn}: '{p}' is empty")
    header = None
    if not all(_is_number(cell) for cell in rows[0][1]):
        header = [cell.strip() for cell in rows[0][1]]
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{fn}: '{p}' has a header {header} but no data rows")
    n = len(header) if header is not None else len(rows[0][1])
    for line, row in rows:
        if len(row) != n:
            raise ValueError(f"{fn}: '{p}' line {line} has {len(row)} columns, expected {n}")
    try:
        data = np.array([row for _, row in rows], dtype=np.float64)
    except ValueError:
        line, col, cell = next((line, j, c) for line, row in rows for j, c in enumerate(row)
                               if not _is_number(c))
        name = f" ('{header[col]}')" if header is not None else ""
        raise ValueError(f"{fn}: '{p}' line {line} column {col}{name} is not a number: "
                         f"{cell!r}; expected a numeric CSV") from None
    dtype = get_default_dtype()
    if target is None:
        return data.astype(dtype), None
    col = _target_column(fn, p, target, header, n)
    X = np.delete(data, col, axis=1)
    return X.astype(dtype), data[:, col:col + 1].astype(dtype)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _target_column(fn: str, p: Path, target: str | int, header: list[str] | None,
                   n: int) -> int:
    if isinstance(target, str):
        if header is None:
            raise ValueError(f"{fn}: target={target!r} is a column name but '{p}' has no header "
                             f"row; pass the column index instead")
        if target not in header:
            raise ValueError(f"{fn}: no column {target!r} in '{p}'; columns are {header}")
        return header.index(target)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) \
            or not -n <= target < n:
        raise ValueError(f"{fn}: expected target a column name or an index in [{-n}, {n - 1}], "
                         f"got {target!r}")
    if n < 2:
        raise ValueError(f"{fn}: '{p}' has a single column; nothing is left for X (pass "
                         f"target=None to load it as X)")
    return int(target) % n
