"""Detection datasets (VOC XML, COCO JSON): boxes scaled with the image, batches padded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlkit.data import DataLoader
from dlkit.data.detection import COCODetection, VOCDetection

Image = pytest.importorskip("PIL.Image")

VOC_XML = """<annotation><filename>{name}.jpg</filename>{objects}</annotation>"""
VOC_OBJ = ("<object><name>{cls}</name><difficult>{d}</difficult><bndbox><xmin>{b[0]}</xmin>"
           "<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>")


def _voc(root, objects_per_image):
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for i, objects in enumerate(objects_per_image):
        Image.fromarray(np.full((40, 80, 3), 100, np.uint8)).save(root / "JPEGImages" /
                                                                   f"im{i}.jpg")
        xml = VOC_XML.format(name=f"im{i}", objects="".join(
            VOC_OBJ.format(cls=c, d=d, b=b) for c, d, b in objects))
        (root / "Annotations" / f"im{i}.xml").write_text(xml)
    (root / "ImageSets" / "Main" / "train.txt").write_text("im1\nim0\n")
    return root


def test_voc_boxes_scale_with_the_image_and_batches_pad(tmp_path):
    root = _voc(tmp_path / "voc", [[("cat", 0, (10, 4, 50, 20))],
                                   [("dog", 0, (0, 0, 80, 40)), ("cat", 1, (8, 8, 16, 16))]])
    ds = VOCDetection(root, size=(20, 20))
    image, target = ds[0]
    assert image.shape == (20, 20, 3) and target["labels"].tolist() == [7]  # VOC's "cat"
    np.testing.assert_allclose(target["boxes"], [[2.5, 2, 12.5, 10]])
    easy = VOCDetection(root, image_set="train", keep_difficult=False)
    assert easy.paths[0].endswith("im1.jpg") and easy[0][1]["labels"].tolist() == [11]
    images, targets = next(iter(DataLoader(ds, batch_size=2, shuffle=False)))
    assert images.shape == (2, 20, 20, 3)
    assert targets["boxes"].data.shape == (2, 2, 4)
    assert targets["boxes"].lengths.numpy().tolist() == [1, 2]
    assert targets["labels"].mask.numpy().tolist() == [[1, 0], [1, 1]]


def test_voc_errors_name_the_file(tmp_path):
    root = _voc(tmp_path / "voc", [[("unicorn", 0, (1, 1, 2, 2))]])
    with pytest.raises(ValueError, match=r"im0\.xml' has an object of class 'unicorn'"):
        VOCDetection(root)
    with pytest.raises(FileNotFoundError, match="Annotations"):
        VOCDetection(tmp_path)


def test_coco_boxes_labels_and_crowds(tmp_path):
    Image.fromarray(np.zeros((50, 100, 3), np.uint8)).save(tmp_path / "a.jpg")
    Image.fromarray(np.zeros((50, 100, 3), np.uint8)).save(tmp_path / "b.jpg")
    coco = {"images": [{"id": 5, "file_name": "a.jpg"}, {"id": 9, "file_name": "b.jpg"}],
            "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}],
            "annotations": [
                {"id": 1, "image_id": 5, "category_id": 18, "bbox": [10, 5, 20, 10]},
                {"id": 2, "image_id": 5, "category_id": 3, "bbox": [0, 0, 5, 5], "iscrowd": 1}]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    ds = COCODetection(tmp_path, tmp_path / "ann.json", size=(25, 50))
    assert ds.classes == ["car", "dog"] and ds.category_ids == [3, 18]
    image, target = ds[0]
    assert image.shape == (25, 50, 3) and target["labels"].tolist() == [1]
    np.testing.assert_allclose(target["boxes"], [[5, 2.5, 15, 7.5]])
    assert ds[1][1]["boxes"].shape == (0, 4)
    assert len(COCODetection(tmp_path, tmp_path / "ann.json", keep_crowd=True)[0][1]["labels"]) \
        == 2
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match=r"cannot read COCO annotations .*bad\.json"):
        COCODetection(tmp_path, tmp_path / "bad.json")
