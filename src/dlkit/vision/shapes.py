"""Synthetic detection and segmentation data that needs no download: images of circles,
squares and triangles (random size, colour and position, possibly overlapping) on textured
backgrounds, with their boxes, class labels and masks.

Boxes are corners (x1, y1, x2, y2) in pixels (pixel j covers [j, j + 1)), the tight box of each
whole shape (also where a later shape covers part of it). ``masks`` hold, per pixel, 0 for the
background and 1 + the class of the topmost shape (``class_names[label]`` for label >= 0 in
``labels``). Seeded: the same seed gives the same images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlkit.backend import generator

CLASS_NAMES = ("circle", "square", "triangle")


@dataclass
class ShapesData:
    """``images`` (m, H, W, 3) float32 in [0, 1]; ``boxes[i]`` (k_i, 4) float32 corners;
    ``labels[i]`` (k_i,) int64 in [0, C); ``masks`` (m, H, W) int64 in [0, C] (0: background)."""

    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    masks: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: Sequence[int] | slice) -> ShapesData:
        idx = range(len(self))[index] if isinstance(index, slice) else list(index)
        return ShapesData(self.images[list(idx)], [self.boxes[i] for i in idx],
                          [self.labels[i] for i in idx], self.masks[list(idx)],
                          self.class_names)


def shape_mask(kind: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    """Boolean (size, size) mask of a shape of half-size r centred at (cx, cy), sampled at
    pixel centres: a disc, an axis-aligned square, or an upward isosceles triangle."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    if kind == "circle":
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if kind == "square":
        return (np.abs(x - cx) <= r) & (np.abs(y - cy) <= r)
    if kind == "triangle":
        return (y <= cy + r) & (np.abs(x - cx) <= (y - (cy - r)) / 2)
    raise ValueError(f"shape_mask: unknown shape {kind!r}; known: {CLASS_NAMES}")


def textured_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted colour field: a coarse random grid, bilinearly up-sampled, plus fine noise."""
    cells = 4
    coarse = rng.uniform(0.15, 0.55, (cells + 1, cells + 1, 3))
    t = np.linspace(0, cells, size)
    i = np.minimum(t.astype(int), cells - 1)
    f = (t - i)[:, None]
    rows = coarse[i] * (1 - f[..., None]) + coarse[i + 1] * f[..., None]  # (size, cells+1, 3)
    img = rows[:, i] * (1 - f.T[..., None]) + rows[:, i + 1] * f.T[..., None]
    img += rng.normal(0, 0.04, (size, size, 3))
    stripes = 0.05 * np.sin(np.arange(size) * rng.uniform(0.3, 1.2) + rng.uniform(0, 6))
    return img + (stripes[:, None, None] if rng.random() < 0.5 else stripes[None, :, None])


def make_shapes(m: int, image_size: int = 64, max_objects: int = 3, min_objects: int = 1,
                size_range: tuple[float, float] = (0.12, 0.3), max_overlap: float = 0.3,
                seed: int | None = None) -> ShapesData:
    """``m`` images (image_size x image_size x 3) with ``min_objects``..``max_objects`` shapes
    each; half-sizes are ``size_range`` fractions of the image side; two shapes' boxes overlap
    with IoU at most ``max_overlap``. Random numbers from ``seed``, else from dlkit's seeded
    generator."""
    from dlkit.vision.boxes import box_iou

    if m < 0 or image_size < 8 or not 0 <= min_objects <= max_objects:
        raise ValueError(f"make_shapes: expected m >= 0, image_size >= 8 and 0 <= min_objects "
                         f"<= max_objects, got m={m}, image_size={image_size}, "
                         f"objects {min_objects}..{max_objects}")
    lo, hi = size_range
    if not 0 < lo <= hi < 0.5:
        raise ValueError(f"make_shapes: expected 0 < size_range[0] <= size_range[1] < 0.5, got "
                         f"{size_range}")
    rng = np.random.default_rng(seed) if seed is not None else generator()
    s = image_size
    images = np.empty((m, s, s, 3), np.float32)
    masks = np.zeros((m, s, s), np.int64)
    all_boxes, all_labels = [], []
    for n in range(m):
        img = textured_background(rng, s)
        boxes: list[list[float]] = []
        labels: list[int] = []
        for _ in range(int(rng.integers(min_objects, max_objects + 1))):
            for _attempt in range(20):
                r = rng.uniform(lo, hi) * s
                cx, cy = rng.uniform(r, s - r, 2)
                label = int(rng.integers(len(CLASS_NAMES)))
                mask = shape_mask(CLASS_NAMES[label], cx, cy, r, s)
                ys, xs = np.nonzero(mask)
                if ys.size < 4:
                    continue
                box = [xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0]
                if boxes and box_iou(np.array([box]), np.array(boxes)).max() > max_overlap:
                    continue
                colour = rng.uniform(0, 1, 3)
                colour[rng.integers(3)] = rng.uniform(0.8, 1.0)  # bright, whatever the hue
                shade = 1 + 0.08 * rng.normal(size=(ys.size, 1))
                img[ys, xs] = colour * shade
                masks[n, ys, xs] = label + 1
                boxes.append([float(v) for v in box])
                labels.append(label)
                break
        images[n] = np.clip(img, 0, 1)
        all_boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.asarray(labels, np.int64))
    return ShapesData(images, all_boxes, all_labels, masks)
