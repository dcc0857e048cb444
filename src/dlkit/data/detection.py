"""Detection datasets with box annotations: Pascal VOC (an XML file per image) and COCO (one
JSON file). Annotations are parsed once; images are decoded when asked for.

``ds[i] = (image (n_H, n_W, 3), {"boxes": (n, 4) float32 [x1, y1, x2, y2] in pixels of the
returned image, "labels": (n,) int64 class indices})``; the loader pads the variable number
of boxes per image into ``PaddedSequence(data (m, n_max, 4), mask, lengths)``.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.dataset import Dataset
from dlkit.data.image_folder import decode_image

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")


class _BoxDataset(Dataset):
    """Images (paths) with boxes in original pixels; resizing scales the boxes."""

    name = "detection"

    def __init__(self, size: int | tuple[int, int] | None, dtype: Any) -> None:
        self.size = (size, size) if isinstance(size, int) else (tuple(size) if size else None)
        self.dtype = dtype
        self.paths: list[str] = []
        self.boxes: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.classes: list[str] = []

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        image, (h, w) = decode_image(self.paths[index], self.size, 3, self.dtype, self.name)
        boxes = self.boxes[index].copy()
        if self.size is not None:
            boxes *= np.array([self.size[1] / w, self.size[0] / h] * 2, dtype=np.float32)
        return image, {"boxes": boxes, "labels": self.labels[index].copy()}


class VOCDetection(_BoxDataset):
    """Pascal VOC layout: ``root/Annotations/<id>.xml`` and ``root/JPEGImages/<id>.jpg``;
    ``image_set`` ("train", "val", ...) reads the ids from ``root/ImageSets/Main/<set>.txt``
    (all annotations otherwise). ``classes`` defaults to VOC's 20; an object of another
    class raises an error naming the file. ``keep_difficult=False`` drops objects marked
    difficult. Boxes as in the files (VOC's 1-based pixel corners)."""

    name = "VOCDetection"

    def __init__(self, root: str | os.PathLike, image_set: str | None = None,
                 size: int | tuple[int, int] | None = None, classes: Any = VOC_CLASSES,
                 keep_difficult: bool = True, dtype: Any = None) -> None:
        super().__init__(size, dtype)
        root = Path(root)
        annotations = root / "Annotations"
        if not annotations.is_dir():
            raise FileNotFoundError(f"VOCDetection: no folder {str(annotations)!r}; expected "
                                    f"root/Annotations/*.xml and root/JPEGImages/*.jpg")
        if image_set is not None:
            listing = root / "ImageSets" / "Main" / f"{image_set}.txt"
            if not listing.is_file():
                raise FileNotFoundError(f"VOCDetection: no image set file {str(listing)!r}")
            ids = [line.split()[0] for line in listing.read_text().splitlines() if line.strip()]
            files = [annotations / f"{i}.xml" for i in ids]
        else:
            files = sorted(annotations.glob("*.xml"))
        if not files:
            raise ValueError(f"VOCDetection: no annotations in {str(annotations)!r}")
        self.classes = list(classes)
        index = {c: i for i, c in enumerate(self.classes)}
        for xml in files:
            try:
                tree = ET.parse(xml).getroot()
            except (ET.ParseError, OSError) as e:
                raise ValueError(f"VOCDetection: cannot read annotation {str(xml)!r}: {e}") \
                    from e
            boxes, labels = [], []
            for obj in tree.iter("object"):
                name = (obj.findtext("name") or "").strip()
                if name not in index:
                    raise ValueError(f"VOCDetection: {str(xml)!r} has an object of class "
                                     f"{name!r}, not in classes {self.classes}")
                if not keep_difficult and (obj.findtext("difficult") or "0").strip() == "1":
                    continue
                bb = obj.find("bndbox")
                if bb is None:
                    raise ValueError(f"VOCDetection: {str(xml)!r}: object {name!r} has no "
                                     f"bndbox")
                boxes.append([float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
                labels.append(index[name])
            filename = tree.findtext("filename") or f"{xml.stem}.jpg"
            self.paths.append(str(root / "JPEGImages" / filename))
            self.boxes.append(np.array(boxes, dtype=np.float32).reshape(-1, 4))
            self.labels.append(np.array(labels, dtype=np.int64))


class COCODetection(_BoxDataset):
    """COCO layout: ``images_dir`` and an instances JSON (``images``, ``annotations`` with
    ``bbox`` = [x, y, width, height], ``categories``). Labels are indices into
    ``ds.classes`` (categories sorted by id; ``ds.category_ids`` maps back). Crowd
    annotations are dropped unless ``keep_crowd``; images without boxes are kept."""

    name = "COCODetection"

    def __init__(self, images_dir: str | os.PathLike, annotation_file: str | os.PathLike,
                 size: int | tuple[int, int] | None = None, keep_crowd: bool = False,
                 dtype: Any = None) -> None:
        super().__init__(size, dtype)
        try:
            coco = json.loads(Path(annotation_file).read_text())
            images, cats = coco["images"], coco["categories"]
            anns = coco.get("annotations", [])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"COCODetection: cannot read COCO annotations "
                             f"{str(annotation_file)!r}: {e!r}") from e
        cats = sorted(cats, key=lambda c: c["id"])
        self.classes = [c["name"] for c in cats]
        self.category_ids = [c["id"] for c in cats]
        cat_index = {c: i for i, c in enumerate(self.category_ids)}
        per_image: dict[Any, list] = {img["id"]: [] for img in images}
        for a in anns:
            if a.get("iscrowd", 0) and not keep_crowd:
                continue
            if a["image_id"] not in per_image or a["category_id"] not in cat_index:
                raise ValueError(f"COCODetection: annotation {a.get('id')!r} refers to an "
                                 f"unknown image {a['image_id']!r} or category "
                                 f"{a['category_id']!r}")
            x, y, w, h = (float(v) for v in a["bbox"])
            per_image[a["image_id"]].append((x, y, x + w, y + h, cat_index[a["category_id"]]))
        for img in images:
            rows = np.array(per_image[img["id"]], dtype=np.float64).reshape(-1, 5)
            self.paths.append(str(Path(images_dir) / img["file_name"]))
            self.boxes.append(rows[:, :4].astype(np.float32))
            self.labels.append(rows[:, 4].astype(np.int64))
