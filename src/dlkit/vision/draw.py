"""Pictures of detections and masks (matplotlib, Agg backend): boxes with class names and
scores drawn on the image, masks overlaid in a colour per class, grids of examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.plot import _pyplot

COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324")


def colour(c: int) -> str:
    return COLOURS[int(c) % len(COLOURS)]


def draw_boxes_on(ax: Any, image: np.ndarray, boxes: Any, labels: Any, scores: Any = None,
                  class_names: Sequence[str] = (), title: str = "") -> None:
    """Draw ``image`` and its corner boxes (pixels) on a matplotlib axis."""
    plt = _pyplot()
    ax.imshow(np.clip(image, 0, 1), extent=(0, image.shape[1], image.shape[0], 0))
    for k, (box, label) in enumerate(zip(np.asarray(boxes).reshape(-1, 4),
                                         np.asarray(labels).reshape(-1))):
        x1, y1, x2, y2 = (float(v) for v in box)
        ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.8,
                                   edgecolor=colour(label)))
        name = class_names[int(label)] if int(label) < len(class_names) else str(int(label))
        text = name if scores is None else f"{name} {float(np.asarray(scores)[k]):.2f}"
        ax.text(x1, y1, text, fontsize=7, color="white", va="bottom",
                bbox={"facecolor": colour(label), "alpha": 0.8, "pad": 1, "lw": 0})
    ax.set_xlim(0, image.shape[1])
    ax.set_ylim(image.shape[0], 0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)


def draw_detections(image: np.ndarray, boxes: Any, labels: Any, scores: Any,
                    class_names: Sequence[str], path: str | Path, scale: float = 1.0) -> Path:
    """One image with its detections, saved as a PNG (``scale`` inches per 100 pixels)."""
    plt = _pyplot()
    h, w = image.shape[:2]
    size = max(3.0, scale * max(h, w) / 100 * 4)
    fig, ax = plt.subplots(figsize=(size * w / max(h, w), size * h / max(h, w)))
    draw_boxes_on(ax, image, boxes, labels, scores, class_names)
    fig.tight_layout(pad=0.1)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def mask_to_rgb(mask: np.ndarray) -> np.ndarray:
    """A class mask as colours: black background, class c > 0 in ``colour(c - 1)``."""
    from matplotlib.colors import to_rgb

    out = np.zeros(mask.shape + (3,))
    for c in np.unique(mask):
        if c > 0:
            out[mask == c] = to_rgb(colour(c - 1))
    return out


def overlay_mask(image: np.ndarray, mask: np.ndarray, alpha: float = 0.65) -> np.ndarray:
    """The image in grey, each class > 0 of ``mask`` tinted in its colour."""
    grey = np.clip(image, 0, 1).astype(np.float64).mean(axis=-1, keepdims=True)
    out = np.repeat(grey, 3, axis=-1)
    tint = mask > 0
    out[tint] = (1 - alpha) * out[tint] + alpha * mask_to_rgb(mask)[tint]
    return out


def draw_masks(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
               class_names: Sequence[str], path: str | Path,
               truths: Sequence[np.ndarray] | None = None) -> Path:
    """Rows of [image, predicted mask, (true mask)] saved as a PNG, masks in class colours."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    cols = 3 if truths is not None else 2
    fig, axes = plt.subplots(len(images), cols, figsize=(2.4 * cols, 2.4 * len(images)),
                             squeeze=False)
    for i, (image, mask) in enumerate(zip(images, masks)):
        panels = [(image, "image"), (mask_to_rgb(mask), "predicted")]
        if truths is not None:
            panels.append((mask_to_rgb(truths[i]), "true"))
        for ax, (picture, title) in zip(axes[i], panels):
            ax.imshow(np.clip(picture, 0, 1))
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title, fontsize=9)
    fig.legend(handles=[Patch(color=colour(c), label=name) for c, name in enumerate(class_names)],
               loc="lower center", ncol=len(class_names), fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def draw_detection_grid(images: Sequence[np.ndarray], detections: Sequence[tuple[Any, Any, Any]],
                        class_names: Sequence[str], path: str | Path, cols: int = 4,
                        truths: Sequence[tuple[Any, Any]] | None = None) -> Path:
    """A grid of images with their detections (scores, boxes, classes), as a PNG."""
    plt = _pyplot()
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, (image, (scores, boxes, classes)) in enumerate(zip(images, detections)):
        title = ""
        if truths is not None:
            title = "truth: " + ", ".join(class_names[int(c)] for c in truths[i][1])
        draw_boxes_on(axes.ravel()[i], image, boxes, classes, scores, class_names, title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
