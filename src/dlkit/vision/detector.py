"""A YOLO detector as one object: the model, its anchors, class names and image size; its
training (through ``dl.train.fit`` with the YOLO loss), detection (``yolo_eval`` per image)
and evaluation (mAP), and its files (``model.safetensors`` + ``detector.json``).

    train, test = make_shapes(1500, 64, seed=0), make_shapes(300, 64, seed=1)
    det = YoloDetector.build(train, n_anchors=3)
    det.fit(train, epochs=20)
    print(det.evaluate(test).table())
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.models.yolo import YOLOSmall
from dlkit.nn.module import Module
from dlkit.vision.evaluation import DetectionReport, evaluate_detections
from dlkit.vision.yolo import YoloLoss, boxes_hw, encode_targets, kmeans_anchors, yolo_detect

DETECTOR_FILE, MODEL_FILE = "detector.json", "model.safetensors"


class YoloDetector:
    """``model`` maps (m, H, W, 3) images to the (m, S, S, B, 5 + C) volume."""

    def __init__(self, model: Module, anchors: Any, class_names: Sequence[str],
                 image_size: tuple[int, int]) -> None:
        self.model, self.anchors = model, np.asarray(anchors, np.float64)
        self.class_names = tuple(class_names)
        self.image_size = (int(image_size[0]), int(image_size[1]))

    @classmethod
    def build(cls, data: Any, n_anchors: int = 3, widths: Sequence[int] = (16, 32, 64),
              head: int = 64, seed: int | None = None) -> YoloDetector:
        """Anchors by k-means over ``data``'s boxes, and a fresh ``YOLOSmall``."""
        h, w = data.images.shape[1:3]
        anchors = kmeans_anchors(boxes_hw(data.boxes, (h, w)), n_anchors, seed=seed)
        model = YOLOSmall(data.images.shape[3], len(data.class_names), n_anchors, widths, head)
        return cls(model, anchors, data.class_names, (h, w))

    @property
    def grid(self) -> tuple[int, int]:
        stride = getattr(self.model, "stride", 1)
        return self.image_size[0] // stride, self.image_size[1] // stride

    def check_images(self, images: Any, where: str = "detector") -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1:3] != self.image_size or x.shape[3] != self.model.n_C:
            raise ShapeError(f"{where}: this detector takes images of {self.image_size[0]}x"
                             f"{self.image_size[1]}x{self.model.n_C}, got "
                             f"{'x'.join(str(s) for s in x.shape[1:])}; resize the image or "
                             "train on images of that size")
        return x

    def targets(self, data: Any) -> np.ndarray:
        return encode_targets(data.boxes, data.labels, self.image_size, self.grid, self.anchors,
                              len(self.class_names))

    def fit(self, data: Any, epochs: int = 20, batch_size: int = 32, lr: float = 0.003,
            callbacks: Sequence[Any] = (), verbose: int = 0,
            validation_data: Any = None) -> dl.train.History:
        """Adam on the YOLO loss through ``dl.train.fit``, the learning rate decayed by
        cosine to 5% over the epochs."""
        images = self.check_images(data.images, "fit")
        optimizer = dl.optim.Adam(self.model.parameters(), lr=lr)
        val = None
        if validation_data is not None:
            val = (self.check_images(validation_data.images, "fit"),
                   self.targets(validation_data))
        schedule = dl.train.LearningRateScheduler(cosine_lr(lr, epochs))
        return dl.train.fit(self.model, YoloLoss(self.anchors), optimizer, images,
                            self.targets(data), epochs=epochs, batch_size=batch_size,
                            metrics=(), validation_data=val,
                            callbacks=[schedule, *callbacks], verbose=verbose)

    def raw_outputs(self, images: Any, batch_size: int = 64) -> np.ndarray:
        x = self.check_images(images)
        self.model.eval()
        with dl.no_grad():
            return np.concatenate([self.model(dl.tensor(x[i:i + batch_size])).data
                                   for i in range(0, len(x), batch_size)])

    def detect(self, images: Any, score_threshold: float = 0.5, iou_threshold: float = 0.5,
               max_boxes: int = 10) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(scores, boxes in pixels, classes) per image, as the course's ``yolo_eval``."""
        return yolo_detect(self.raw_outputs(images), self.anchors, self.image_size, max_boxes,
                           score_threshold, iou_threshold)

    def evaluate(self, data: Any, score_threshold: float = 0.01,
                 max_boxes: int = 20) -> DetectionReport:
        dets = self.detect(data.images, score_threshold, 0.5, max_boxes)
        return evaluate_detections([(b, s, c) for s, b, c in dets],
                                   list(zip(data.boxes, data.labels)), self.class_names)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        dl.io.save(self.model, folder / MODEL_FILE)
        (folder / DETECTOR_FILE).write_text(json.dumps(
            {"anchors": self.anchors.tolist(), "class_names": list(self.class_names),
             "image_size": list(self.image_size)}, indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> YoloDetector:
        folder = Path(folder)
        for name in (DETECTOR_FILE, MODEL_FILE):
            if not (folder / name).exists():
                raise FileNotFoundError(f"{str(folder)!r} holds no YOLO detector (no {name}); "
                                        "pass the folder `dlkit detect train` wrote")
        meta = json.loads((folder / DETECTOR_FILE).read_text())
        return cls(dl.io.load(folder / MODEL_FILE), meta["anchors"], meta["class_names"],
                   tuple(meta["image_size"]))



def cosine_lr(lr: float, epochs: int, floor: float = 0.05) -> Any:
    """(epoch, lr) -> lr_0 (floor + (1 - floor) (1 + cos(pi epoch / epochs)) / 2), for
    ``LearningRateScheduler``."""
    def schedule(epoch: int, _: float) -> float:
        t = epoch / max(int(epochs), 1)
        return float(lr * (floor + (1 - floor) * (1 + np.cos(np.pi * t)) / 2))

    return schedule
