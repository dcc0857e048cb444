"""Readers of the two common detection layouts, giving boxes as dlkit corners (pixels):

- Pascal VOC: ``Annotations/*.xml`` (one file per image: ``<size>``, ``<object>`` with
  ``<name>`` and ``<bndbox>`` xmin/ymin/xmax/ymax, 1-based inclusive pixels, read as corners
  (xmin - 1, ymin - 1, xmax, ymax)) and ``JPEGImages/``;
- COCO: one JSON file with ``images`` (id, file_name, width, height), ``annotations``
  (image_id, category_id, bbox [x, y, w, h]) and ``categories`` (id, name); images in an
  ``images/`` folder (or beside the JSON).

``load_detection_folder`` reads either into a ``DetectionData`` of images resized to one size
(boxes scaled with them), ready for ``YoloDetector``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.vision.boxes import check_boxes


@dataclass
class ImageAnnotation:
    """One image's file name, size (height, width), corner boxes (k, 4) and class names."""

    file_name: str
    size: tuple[int, int]
    boxes: np.ndarray
    names: list[str]


@dataclass
class DetectionData:
    """``images`` (m, H, W, C) float32 in [0, 1]; ``boxes[i]`` (k_i, 4); ``labels[i]`` (k_i,)."""

    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: Sequence[int]) -> DetectionData:
        idx = list(index)
        return DetectionData(self.images[idx], [self.boxes[i] for i in idx],
                             [self.labels[i] for i in idx], self.class_names)


def _number(node: Any, tag: str, where: str) -> float:
    child = node.find(tag)
    if child is None or child.text is None:
        raise ValueError(f"{where}: missing <{tag}>")
    try:
        return float(child.text)
    except ValueError:
        raise ValueError(f"{where}: <{tag}> is {child.text!r}, not a number") from None


def read_voc_xml(path: str | Path) -> ImageAnnotation:
    """One Pascal VOC annotation file."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"{path}: not valid XML ({e})") from None
    size = root.find("size")
    if size is None:
        raise ValueError(f"{path}: missing <size>")
    height, width = int(_number(size, "height", str(path))), int(_number(size, "width", str(path)))
    boxes, names = [], []
    for obj in root.findall("object"):
        name = obj.findtext("name")
        box = obj.find("bndbox")
        if not name or box is None:
            raise ValueError(f"{path}: an <object> without <name> or <bndbox>")
        x1, y1, x2, y2 = (_number(box, t, str(path)) for t in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append([x1 - 1, y1 - 1, x2, y2])
        names.append(name.strip())
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    check_boxes(b, f"read_voc_xml({path.name})")
    return ImageAnnotation(root.findtext("filename") or path.stem + ".jpg", (height, width), b,
                           names)


def read_coco_json(path: str | Path) -> list[ImageAnnotation]:
    """All images of a COCO annotation file (crowd annotations skipped)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    try:
        categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        images = {int(im["id"]): im for im in data["images"]}
        per_image: dict[int, list[tuple[list[float], str]]] = {i: [] for i in images}
        for k, ann in enumerate(data["annotations"]):
            if ann.get("iscrowd", 0):
                continue
            cat = int(ann["category_id"])
            if cat not in categories:
                raise ValueError(f"{path}: annotation {k} names category_id {cat}, which is not "
                                 f"in 'categories' ({sorted(categories)})")
            if int(ann["image_id"]) not in images:
                raise ValueError(f"{path}: annotation {k} names image_id {ann['image_id']}, "
                                 "which is not in 'images'")
            x, y, w, h = (float(v) for v in ann["bbox"])
            per_image[int(ann["image_id"])].append(([x, y, x + w, y + h], categories[cat]))
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a COCO annotation file (missing or bad field {e})") \
            from None
    out = []
    for image_id, im in images.items():
        items = per_image[image_id]
        b = np.asarray([box for box, _ in items], np.float64).reshape(-1, 4)
        check_boxes(b, f"read_coco_json({path.name}, image {image_id})")
        out.append(ImageAnnotation(str(im["file_name"]), (int(im["height"]), int(im["width"])),
                                   b, [name for _, name in items]))
    return out


def _read_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} named by the annotations not found")
    with Image.open(path) as im:
        im = im.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
        return np.asarray(im, np.float32) / 255.0


def load_detection_folder(folder: str | Path, image_size: tuple[int, int],
                          class_names: Sequence[str] | None = None) -> DetectionData:
    """A VOC folder (``Annotations/``, ``JPEGImages/``) or a COCO folder (one ``*.json``,
    images in ``images/`` or beside it), images resized to ``image_size`` (height, width) and
    boxes scaled with them. Class names: ``class_names`` (an object of another class is an
    error) or, when None, those found, sorted."""
    folder = Path(folder)
    if (folder / "Annotations").is_dir():
        anns = [read_voc_xml(p) for p in sorted((folder / "Annotations").glob("*.xml"))]
        image_dir = folder / "JPEGImages"
    else:
        jsons = sorted(folder.glob("*.json"))
        if len(jsons) != 1:
            raise ValueError(f"{str(folder)!r} is neither a VOC folder (Annotations/, "
                             f"JPEGImages/) nor a COCO folder (one .json file); found "
                             f"{len(jsons)} .json files")
        anns = read_coco_json(jsons[0])
        image_dir = folder / "images" if (folder / "images").is_dir() else folder
    if not anns:
        raise ValueError(f"{str(folder)!r}: no annotations found")
    found = sorted({n for a in anns for n in a.names})
    names = tuple(class_names) if class_names is not None else tuple(found)
    index = {n: i for i, n in enumerate(names)}
    images, boxes, labels = [], [], []
    for a in anns:
        unknown = [n for n in a.names if n not in index]
        if unknown:
            raise ValueError(f"{a.file_name}: unknown class {unknown[0]!r}; the classes are "
                             f"{list(names)}")
        images.append(_read_image(image_dir / a.file_name, image_size))
        sy, sx = image_size[0] / a.size[0], image_size[1] / a.size[1]
        boxes.append((a.boxes * np.array([sx, sy, sx, sy])).astype(np.float32))
        labels.append(np.asarray([index[n] for n in a.names], np.int64))
    return DetectionData(np.stack(images), boxes, labels, names)


def write_voc_xml(path: str | Path, file_name: str, size: tuple[int, int], boxes: Any,
                  names: Sequence[str]) -> None:
    """Write one VOC annotation (corners converted to 1-based inclusive pixels)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = file_name
    s = ET.SubElement(root, "size")
    for tag, v in (("width", size[1]), ("height", size[0]), ("depth", 3)):
        ET.SubElement(s, tag).text = str(int(v))
    for box, name in zip(np.asarray(boxes).reshape(-1, 4), names):
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        b = ET.SubElement(obj, "bndbox")
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"),
                          (box[0] + 1, box[1] + 1, box[2], box[3])):
            ET.SubElement(b, tag).text = f"{float(v):g}"
    ET.ElementTree(root).write(path)
