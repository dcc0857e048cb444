"""Data for a training command: a built-in dataset by name or a file, its task, splits,
standardizing (what ``dlkit train`` and ``dlkit tune`` train on)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.files import load_csv, load_h5_images, load_npz
from dlkit.data.labels import ClassInfo, LabelError, check_class_labels, check_labels_fit
from dlkit.data.normalize import Standardizer
from dlkit.data.registry import DATASETS, get_dataset
from dlkit.data.split import train_dev_split, train_dev_test_split
from dlkit.errors import UserError

FILE_TYPES = (".h5", ".hdf5", ".npz", ".csv")


@dataclass
class Prepared:
    """Train/dev/test arrays (flattened, standardized) and what the model needs to know."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str  # "binary" (y (m, 1) in {0, 1}) or "multiclass" (y (m,) int)
    n_classes: int
    input_shape: tuple[int, ...]
    standardizer: Standardizer | None
    fingerprint: dict[str, Any] | None = None


def data_fingerprint(source: str, X: Any = None, y: Any = None) -> dict[str, Any]:
    """What identifies a run's data: the absolute path and the SHA-256 of a file's bytes, or,
    for a built-in dataset, the SHA-256 of its arrays (a changed scikit-learn copy is noticed
    too)."""
    path = Path(source)
    digest = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return {"path": str(path.resolve()), "sha256": digest.hexdigest()}
    for a in (X, y):
        if a is not None:
            a = np.ascontiguousarray(a)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(memoryview(a).cast("B"))
    return {"name": source, "sha256": digest.hexdigest()}


def check_finite(X: Any, what: str, command: str) -> None:
    """Non-finite inputs (NaN, inf) are an error naming the first rows that hold them."""
    X = np.asarray(X)
    if X.dtype.kind != "f" or np.isfinite(X).all():
        return
    bad = np.flatnonzero(~np.isfinite(X.reshape(len(X), -1)).all(axis=1))
    rows = ", ".join(str(int(r)) for r in bad[:10]) + (" ..." if len(bad) > 10 else "")
    raise UserError(f"{what} has non-finite values (NaN or inf) in {len(bad)} row(s): {rows} "
                    "(counted from 0); remove or impute them first", command)


def load_file(path: str, command: str, x_key: str = "X", y_key: str | None = "y",
              target: Any = -1) -> tuple[np.ndarray, np.ndarray | None]:
    """(X, y) from an .h5 (course image layout), .npz or .csv file."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"no such file: {path!r}", command)
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        X, y, _ = load_h5_images(p)
        return X, y
    if suffix == ".npz":
        return load_npz(p, x_key=x_key, y_key=y_key)
    if suffix == ".csv":
        return load_csv(p, target=target)
    raise UserError(f"{path!r}: expected a dataset name ({', '.join(DATASETS)}) or a file "
                    f"ending in {', '.join(FILE_TYPES)}", command)


def load_source(source: str, command: str, examples: int | None = None,
                noise: float | None = None, images: bool = False) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """A named dataset (``examples``/``noise`` for the generated ones; ``images`` asks for
    the digits as (m, 8, 8, 1)) or a file."""
    if source in DATASETS:
        kwargs: dict[str, Any] = {}
        if images and source == "digits":
            kwargs["as_images"] = True
        if examples is not None and source in ("flower", "moons", "circles"):
            kwargs["m"] = examples
        if noise is not None and source in ("flower", "moons", "circles"):
            kwargs["noise"] = noise
        return get_dataset(source, **kwargs)
    if Path(source).suffix.lower() in FILE_TYPES or Path(source).exists():
        X, y = load_file(source, command)
        if y is None:
            raise UserError(f"{source!r} has no labels (y)", command)
        return X, y
    raise UserError(f"unknown dataset {source!r}: expected one of {', '.join(DATASETS)} or a "
                    f"file ({', '.join(FILE_TYPES)})", command)


def infer_task(y: np.ndarray, command: str,
               info: ClassInfo | None = None) -> tuple[str, int, np.ndarray]:
    """("binary", 2, y (m, 1) float) for labels {0, 1}; ("multiclass", C, y (m,) int) for
    labels 0..C-1 (``dlkit.data.check_class_labels``: labels such as {1, 2} or {0, 1000000},
    a single class, fractions or NaN are errors suggesting a label encoding). With ``info``
    (a run's classes) the labels must be classes the run knows."""
    try:
        if info is not None:
            return info.task, info.n_classes, check_labels_fit(y, info, None)
        found = check_class_labels(y)
    except LabelError as e:
        raise UserError(e.reason, command) from None
    return found.task, found.n_classes, found.targets(y)


def resize_images(X: np.ndarray, size: int, command: str) -> np.ndarray:
    """Square images (m, n, n, C) to (m, size, size, C): nearest-neighbour upsampling by the
    largest whole factor, then zero padding around (the 8x8 digits become 32x32 for LeNet-5)."""
    n_h, n_w = X.shape[1:3]
    if n_h > size or n_w > size:
        raise UserError(f"images of {n_h}x{n_w} are larger than the model's {size}x{size}",
                        command)
    k = max(1, min(size // n_h, size // n_w))
    X = X.repeat(k, axis=1).repeat(k, axis=2)
    top, left = (size - X.shape[1]) // 2, (size - X.shape[2]) // 2
    return np.pad(X, ((0, 0), (top, size - X.shape[1] - top), (left, size - X.shape[2] - left),
                      (0, 0)))


def as_model_input(X: np.ndarray, images: bool, image_size: int | None,
                   command: str) -> np.ndarray:
    """(m, n_x) for dense models; (m, n_H, n_W, n_C) for convolutional ones."""
    X = np.asarray(X, dtype=np.float32)
    if not images:
        return X.reshape(len(X), -1)
    if X.ndim == 3:
        X = X[..., None]
    if X.ndim != 4:
        raise UserError(f"a convolutional model needs images (m, n_H, n_W, n_C), the data has "
                        f"shape {X.shape}; use --model mlp for feature vectors", command)
    return resize_images(X, image_size, command) if image_size else X


def prepare(source: str, *, test_data: str | None, dev_size: float, test_size: float,
            standardize: bool, command: str, examples: int | None = None,
            noise: float | None = None, images: bool = False,
            image_size: int | None = None) -> Prepared:
    """Load, shape for the model (flattened (m, n_x), or images resized to ``image_size``),
    split train/dev/test, standardize on train only.

    Deterministic given the dlkit seed, so ``dlkit evaluate`` rebuilds the same split.
    """
    X, y = load_source(source, command, examples, noise, images)
    fingerprint = data_fingerprint(source, X, y)
    check_finite(X, repr(source), command)
    if len(X) != len(y):
        raise UserError(f"{len(X)} examples but {len(y)} labels; examples go on the first "
                        "axis (transpose an (n_x, m) matrix)", command)
    X = as_model_input(X, images, image_size, command)
    input_shape = tuple(X.shape[1:])
    task, n_classes, y = infer_task(y, command)
    if test_data is not None:
        X_test, y_test = load_source(test_data, command, images=images)
        check_finite(X_test, f"--test-data {test_data!r}", command)
        X_test = as_model_input(X_test, images, image_size, command)
        if X_test.shape[1:] != X.shape[1:]:
            raise UserError(f"--test-data examples have shape {X_test.shape[1:]}, the "
                            f"training data {X.shape[1:]}", command)
        y_test = infer_task(y_test, command, ClassInfo(task, n_classes,
                                                        tuple(range(n_classes))))[2]
        X_train, X_dev, y_train, y_dev = train_dev_split(X, y, dev=dev_size)
    else:
        X_train, X_dev, X_test, y_train, y_dev, y_test = train_dev_test_split(
            X, y, dev=dev_size, test=test_size)
    standardizer = None
    if standardize:
        standardizer = Standardizer().fit(X_train)
        X_train, X_dev, X_test = (standardizer.transform(a) for a in (X_train, X_dev, X_test))
    return Prepared(X_train, y_train, X_dev, y_dev, X_test, y_test, task, n_classes,
                    input_shape, standardizer, fingerprint)


@dataclass
class PreparedFolder:
    """An image folder (root/<class>/<image>) split into train/dev/test loaders; images are
    decoded lazily (by ``workers`` processes) and scaled to [0, 1]; labels are class
    indices (softmax over the folder's classes, two included)."""

    train: Any
    dev: Any
    test: Any
    classes: list[str]
    input_shape: tuple[int, ...]
    fingerprint: dict[str, Any]
    task: str = "multiclass"
    standardizer: None = None

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def sizes(self) -> dict[str, int]:
        return {k: (len(getattr(self, k).dataset) if getattr(self, k) is not None else 0)
                for k in ("train", "dev", "test")}


def folder_fingerprint(root: str | Path) -> dict[str, Any]:
    """The absolute path and a SHA-256 of the folder's files (relative path and size each),
    which changes when an image is added, removed or replaced by one of another size."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root)}\0{path.stat().st_size}\n".encode())
    return {"path": str(root.resolve()), "sha256": digest.hexdigest()}


def prepare_folder(root: str, *, dev_size: float, test_size: float, image_size: int | None,
                   batch_size: int, workers: int = 0, transform: Any = None,
                   command: str = "train") -> PreparedFolder:
    """Loaders over an image folder, split by the dlkit generator (so a run's split is
    rebuilt from its seed), images resized to ``image_size`` (64 by default)."""
    from dlkit.data.image_folder import image_folder_loaders

    try:
        parts = image_folder_loaders(root, size=image_size or 64, batch_size=batch_size,
                                     num_workers=workers, dev=dev_size, test=test_size,
                                     transform=transform, persistent_workers=workers > 0)
    except (FileNotFoundError, ValueError, ImportError) as e:
        raise UserError(f"--dataset {root!r}: {e}", command) from None
    if len(parts.classes) < 2:
        raise UserError(f"--dataset {root!r} has {len(parts.classes)} class folder(s); a "
                        "classifier needs at least two (root/<class>/<image>)", command)
    return PreparedFolder(parts.train, parts.dev, parts.test, list(parts.classes),
                          tuple(parts.input_shape), folder_fingerprint(root))


def splits(prepared: Prepared | PreparedFolder) -> dict[str, tuple]:
    """The non-empty train / dev / test parts as ``fit`` / ``evaluate`` arguments: (X, y)
    arrays, or (loader,) for an image folder."""
    if isinstance(prepared, PreparedFolder):
        return {k: (getattr(prepared, k),) for k in ("train", "dev", "test")
                if getattr(prepared, k) is not None}
    parts = {"train": (prepared.X_train, prepared.y_train),
             "dev": (prepared.X_dev, prepared.y_dev), "test": (prepared.X_test, prepared.y_test)}
    return {k: v for k, v in parts.items() if len(v[0])}
