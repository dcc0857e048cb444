"""ImageFolder: a class per folder (``root/<class>/<image>``), images decoded lazily with
Pillow, as the course's image sets (cat vs non-cat, signs, faces by identity) are laid out.

>>> ds = ImageFolder("photos/", size=64)          # ds[i] = (image (64, 64, 3) float32, label)
>>> loader = DataLoader(ds, batch_size=32, num_workers=2, transform=RandomHorizontalFlip())
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.data._extras import require_extra
from dlkit.data.dataset import Dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm")


def scan_class_folders(name: str, root: str | os.PathLike, extensions: Sequence[str]
                       ) -> tuple[list[str], list[tuple[str, int]]]:
    """``(classes, samples)`` of ``root/<class>/<file>``: classes sorted by name, samples
    ``(path, class index)`` sorted by class then file name (nested folders included)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: {str(root)!r} is not a folder")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"{name}: no class folders in {str(root)!r}; expected "
                         f"root/<class>/<file> (one sub-folder per class)")
    exts = tuple(e.lower() for e in extensions)
    samples, empty = [], []
    for c, cls in enumerate(classes):
        files = sorted(str(p) for p in (root / cls).rglob("*")
                       if p.suffix.lower() in exts and p.is_file())
        if not files:
            empty.append(cls)
        samples.extend((f, c) for f in files)
    if empty:
        raise ValueError(f"{name}: no {'/'.join(exts)} files in the class folder(s) {empty} of "
                         f"{str(root)!r}")
    return classes, samples


class ImageFolder(Dataset):
    """``ds[i] = (image, label)``: the image ``(n_H, n_W, n_C)`` decoded when asked for,
    converted to ``channels`` (3 = RGB, 1 = grayscale), resized to ``size`` (an int for a
    square, or ``(height, width)``; JPEGs are decoded at reduced scale when that is enough),
    scaled to [0, 1] in the default float dtype (``dtype=np.uint8`` keeps 0..255, a quarter
    of the bytes to move); ``label`` the class index (``ds.classes[label]`` its folder name).
    ``transform`` maps each image (an array) after decoding; batch transforms go on the
    ``DataLoader``. A file that cannot be decoded raises an error naming it."""

    def __init__(self, root: str | os.PathLike, size: int | tuple[int, int] | None = None,
                 channels: int = 3, transform: Callable[[np.ndarray], Any] | None = None,
                 dtype: Any = None, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> None:
        if channels not in (1, 3):
            raise ValueError(f"ImageFolder: expected channels 1 (grayscale) or 3 (RGB), got "
                             f"{channels!r}")
        if size is not None:
            size = (size, size) if isinstance(size, int) else tuple(size)
            if len(size) != 2 or any(not isinstance(s, int) or s < 1 for s in size):
                raise ValueError(f"ImageFolder: expected size an int or (height, width) of "
                                 f"positive ints, got {size!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"ImageFolder: expected transform a callable, got "
                            f"{type(transform).__name__}")
        self.root, self.size, self.channels, self.transform = Path(root), size, channels, \
            transform
        self.dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.classes, self.samples = scan_class_folders("ImageFolder", root, extensions)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.targets = np.array([c for _, c in self.samples], dtype=np.int64)
        require_extra("PIL.Image", "ImageFolder")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[index]
        image = self.load(path)
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    def load(self, path: str) -> np.ndarray:
        """One image file as ``(n_H, n_W, n_C)`` in this dataset's size, channels and dtype."""
        return decode_image(path, self.size, self.channels, self.dtype, "ImageFolder")[0]

    def __repr__(self) -> str:
        return (f"ImageFolder({str(self.root)!r}, {len(self)} images, {len(self.classes)} "
                f"classes, size={self.size})")


def decode_image(path: str, size: tuple[int, int] | None = None, channels: int = 3,
                 dtype: Any = None, caller: str = "decode_image"
                 ) -> tuple[np.ndarray, tuple[int, int]]:
    """``(pixels (n_H, n_W, n_C), (original height, original width))`` of an image file:
    converted to ``channels`` (3 RGB, 1 grayscale), resized to ``size`` (height, width)
    with JPEG draft decoding when it is enough, in ``dtype`` (floats scaled to [0, 1],
    uint8 as 0..255). A file Pillow cannot read raises a ValueError naming it."""
    from PIL import Image, UnidentifiedImageError
    mode = "RGB" if channels == 3 else "L"
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    try:
        with Image.open(path) as img:
            original = (img.size[1], img.size[0])
            if size is not None and img.format == "JPEG":
                img.draft(mode, (size[1], size[0]))
            if img.mode != mode:
                img = img.convert(mode)
            if size is not None and img.size != (size[1], size[0]):
                resample = getattr(Image, "Resampling", Image).BILINEAR
                img = img.resize((size[1], size[0]), resample)
            pixels = np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"{caller}: cannot read image {str(path)!r}: {e}") from e
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if dtype == np.uint8:
        return np.ascontiguousarray(pixels), original
    out = pixels.astype(dtype)
    out *= dtype.type(1 / 255)
    return out, original


class FolderLoaders(NamedTuple):
    """Loaders over the parts of an image folder (``dev``/``test`` are None when empty)."""

    train: Any
    dev: Any
    test: Any
    classes: list[str]
    input_shape: tuple[int, int, int]


def image_folder_loaders(root: str | os.PathLike, size: int | tuple[int, int] = 64,
                         batch_size: int = 64, num_workers: int = 0, dev: float = 0.1,
                         test: float = 0.0, transform: Callable | None = None,
                         channels: int = 3, persistent_workers: bool = False) -> FolderLoaders:
    """``ImageFolder(root, size, channels)`` split at random (dlkit generator) into
    train/dev/test fractions, as loaders: the training one shuffled, augmented by
    ``transform`` (a batch transform) and read by ``num_workers`` processes; dev and test in
    order. What ``dlkit train --data FOLDER --workers N`` needs."""
    from dlkit.data.dataset import random_split
    from dlkit.data.loader import DataLoader
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise ValueError(f"image_folder_loaders: expected dev and test fractions in [0, 1) "
                         f"with dev + test < 1, got dev={dev!r}, test={test!r}")
    ds = ImageFolder(root, size=size, channels=channels)
    n = len(ds)
    n_dev, n_test = int(round(dev * n)), int(round(test * n))
    if n - n_dev - n_test < 1:
        raise ValueError(f"image_folder_loaders: {n} images leave none to train on with "
                         f"dev={dev}, test={test}")
    train_set, dev_set, test_set = random_split(ds, [n - n_dev - n_test, n_dev, n_test])

    def ordered(part: Any) -> Any:
        return DataLoader(part, batch_size=batch_size, shuffle=False,
                          num_workers=num_workers) if len(part) else None

    train = DataLoader(train_set, batch_size=batch_size, shuffle=True, transform=transform,
                       num_workers=num_workers, persistent_workers=persistent_workers)
    return FolderLoaders(train, ordered(dev_set), ordered(test_set), ds.classes,
                         (*ds.size, channels))
