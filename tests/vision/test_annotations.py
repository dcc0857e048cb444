"""VOC XML and COCO JSON readers on small folders the tests write: boxes as corners, images
resized with their boxes, unknown classes and bad files rejected with a clear message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlkit.vision import annotations as A

Image = pytest.importorskip("PIL.Image")


def write_image(path, h, w, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)


def test_voc_folder(tmp_path):
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    write_image(tmp_path / "JPEGImages" / "a.png", 40, 80, 0)
    write_image(tmp_path / "JPEGImages" / "b.png", 40, 80, 1)
    A.write_voc_xml(tmp_path / "Annotations" / "a.xml", "a.png", (40, 80),
                    [[10, 4, 30, 20], [0, 0, 80, 40]], ["cat", "dog"])
    A.write_voc_xml(tmp_path / "Annotations" / "b.xml", "b.png", (40, 80), [[2, 2, 6, 8]],
                    ["cat"])
    ann = A.read_voc_xml(tmp_path / "Annotations" / "a.xml")
    assert ann.size == (40, 80) and ann.names == ["cat", "dog"]
    np.testing.assert_allclose(ann.boxes, [[10, 4, 30, 20], [0, 0, 80, 40]])
    xml = (tmp_path / "Annotations" / "a.xml").read_text()
    assert "<xmin>11</xmin>" in xml  # 1-based inclusive on disk
    data = A.load_detection_folder(tmp_path, (20, 20))
    assert data.images.shape == (2, 20, 20, 3) and data.class_names == ("cat", "dog")
    np.testing.assert_allclose(data.boxes[0], [[2.5, 2, 7.5, 10], [0, 0, 20, 20]])
    assert data.labels[0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="unknown class 'dog'"):
        A.load_detection_folder(tmp_path, (20, 20), class_names=["cat"])
    (tmp_path / "Annotations" / "c.xml").write_text("<annotation><size>")
    with pytest.raises(ValueError, match="not valid XML"):
        A.load_detection_folder(tmp_path, (20, 20))


def test_coco_folder(tmp_path):
    (tmp_path / "images").mkdir()
    write_image(tmp_path / "images" / "x.png", 30, 60, 2)
    coco = {"images": [{"id": 7, "file_name": "x.png", "width": 60, "height": 30}],
            "categories": [{"id": 1, "name": "circle"}, {"id": 3, "name": "square"}],
            "annotations": [
                {"id": 1, "image_id": 7, "category_id": 3, "bbox": [6, 3, 12, 9]},
                {"id": 2, "image_id": 7, "category_id": 1, "bbox": [30, 0, 30, 30]},
                {"id": 3, "image_id": 7, "category_id": 1, "bbox": [0, 0, 60, 30],
                 "iscrowd": 1}]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    data = A.load_detection_folder(tmp_path, (30, 60))
    assert data.class_names == ("circle", "square")
    np.testing.assert_allclose(data.boxes[0], [[6, 3, 18, 12], [30, 0, 60, 30]])
    assert data.labels[0].tolist() == [1, 0]
    coco["annotations"][0]["category_id"] = 9
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match="category_id 9"):
        A.load_detection_folder(tmp_path, (30, 60))
    (tmp_path / "ann.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        A.load_detection_folder(tmp_path, (30, 60))
    coco["annotations"] = [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [6, 3, -12, 9]}]
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match="x2 < x1"):
        A.load_detection_folder(tmp_path, (30, 60))
