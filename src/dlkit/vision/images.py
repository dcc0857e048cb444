"""Images on disk (Pillow): read and write RGB images as float arrays in [0, 1], picture
grids and strips, scikit-learn's bundled sample photos, and a folder-per-identity data set
(the layout LFW is distributed in: ``root/<name>/<image>.jpg``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype

__all__ = ["IMAGE_SUFFIXES", "SAMPLE_IMAGES", "ImageError", "image_grid", "load_image",
           "load_image_folder", "sample_image", "save_image"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm")
SAMPLE_IMAGES = ("china.jpg", "flower.jpg")


class ImageError(ValueError):
    """An image that cannot be read (missing, not an image, or of an unusable size)."""


def _pil():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError('reading images needs Pillow: pip install pillow') from e
    return Image


def _fit(img: Any, size: int | tuple[int, int] | None, max_side: int | None) -> Any:
    Image = _pil()
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else size
        return img.resize((int(w), int(h)), Image.BILINEAR)
    if max_side is not None and max(img.size) > max_side:
        scale = max_side / max(img.size)
        return img.resize((max(1, round(img.size[0] * scale)),
                           max(1, round(img.size[1] * scale))), Image.BILINEAR)
    return img


def load_image(path: str | Path, size: int | tuple[int, int] | None = None,
               max_side: int | None = None, gray: bool = False) -> np.ndarray:
    """The image at ``path`` as (n_H, n_W, 3) (or (n_H, n_W, 1) with ``gray``) floats in
    [0, 1]; resized to ``size`` (an int for a square, or (n_H, n_W)) or so that its longer
    side is at most ``max_side``. Unreadable files raise ``ImageError`` naming the path."""
    Image = _pil()
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"load_image: no such image file: {str(path)!r}")
    try:
        with Image.open(path) as img:
            img = img.convert("L" if gray else "RGB")
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"load_image: cannot read {str(path)!r} as an image ({e})") from None
    img = _fit(img, size, max_side)
    a = np.asarray(img, dtype=np.float32) / 255.0
    if gray:
        a = a[..., None]
    return a.astype(get_default_dtype())


def sample_image(name: str = "china.jpg", size: int | tuple[int, int] | None = None,
                 max_side: int | None = None) -> np.ndarray:
    """One of scikit-learn's bundled photos (``china.jpg``, ``flower.jpg``), as
    ``load_image``; no download."""
    if name not in SAMPLE_IMAGES:
        raise ImageError(f"sample_image: expected one of {SAMPLE_IMAGES}, got {name!r}")
    from sklearn.datasets import load_sample_image

    img = _pil().fromarray(load_sample_image(name))
    img = _fit(img, size, max_side)
    return (np.asarray(img, dtype=np.float32) / 255.0).astype(get_default_dtype())


def to_uint8(image: Any) -> np.ndarray:
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ImageError(f"save_image: expected an image (n_H, n_W), (n_H, n_W, 1|3|4), got "
                         f"shape {np.shape(image)}")
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_image(path: str | Path, image: Any) -> Path:
    """Write an image with values in [0, 1] (clipped) as PNG/JPEG (by the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _pil().fromarray(to_uint8(image)).save(path)
    return path


def image_grid(images: Sequence[Any], cols: int | None = None, pad: int = 2,
               scale: int = 1, background: float = 1.0) -> np.ndarray:
    """Images of one shape (n_H, n_W[, C]) tiled in a grid (row-major) with ``pad`` pixels
    between them, each magnified ``scale`` times (nearest neighbour): one array to save."""
    if not len(images):
        raise ValueError("image_grid: expected at least one image")
    arrays = [np.asarray(a, dtype=np.float64) for a in images]
    arrays = [a[..., None] if a.ndim == 2 else a for a in arrays]
    channels = max(a.shape[-1] for a in arrays)
    arrays = [np.repeat(a, 3, -1) if a.shape[-1] == 1 and channels == 3 else a for a in arrays]
    if len({a.shape for a in arrays}) > 1:
        raise ValueError(f"image_grid: expected images of one shape, got "
                         f"{sorted({a.shape for a in arrays})}")
    if scale > 1:
        arrays = [a.repeat(scale, 0).repeat(scale, 1) for a in arrays]
    n = len(arrays)
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    h, w, c = arrays[0].shape
    grid = np.full((rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad, c), background)
    for k, a in enumerate(arrays):
        r, q = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[y:y + h, x:x + w] = a
    return grid


def load_image_folder(root: str | Path, size: int | tuple[int, int] = 64,
                      gray: bool = False, min_per_identity: int = 1
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A folder per identity (``root/<name>/*.jpg``, as LFW): X (m, n_H, n_W, 3|1) in [0, 1]
    resized to ``size``, y (m,) int64 indices into ``names`` (the folder names, sorted).
    Identities with fewer than ``min_per_identity`` images are left out; a file that is not
    a readable image raises ``ImageError`` naming it."""
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"load_image_folder: no such folder: {str(root)!r}")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    X: list[np.ndarray] = []
    y: list[int] = []
    names: list[str] = []
    for folder in folders:
        files = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < max(1, min_per_identity):
            continue
        label = len(names)
        names.append(folder.name)
        for f in files:
            X.append(load_image(f, size=size, gray=gray))
            y.append(label)
    if not X:
        raise ImageError(f"load_image_folder: {str(root)!r} has no identity folders with "
                         f"images (expected root/<name>/<image>.jpg, as LFW)")
    return np.stack(X), np.asarray(y, dtype=np.int64), names
