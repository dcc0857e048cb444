"""``dlkit detect`` and ``dlkit segment`` as a user runs them: run folders, pictures, JSON,
and one-line errors (exit code 2) for the common mistakes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dlkit as dl
from dlkit.cli import main
from dlkit.vision.annotations import write_voc_xml
from dlkit.vision.shapes import make_shapes

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

SMALL = ("--image-size", "32", "--n-train", "48", "--n-test", "8", "--epochs", "1",
         "--batch-size", "16", "--no-progress")


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dlkit {command}: error: "), err
    return err


def save_png(path, image):
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def yolo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("detect") / "run"
    state = dl.get_rng_state()
    code = main(["detect", "train", *SMALL, "--widths", "8,16,16", "--head", "16", "--out",
                 str(folder)])
    dl.set_rng_state(state)
    assert code == 0
    return folder


def test_detect_train_writes_a_run_folder(yolo_run):
    for name in ("model.safetensors", "detector.json", "config.json", "history.csv",
                 "metrics.json", "pr_curves.png", "detections.png"):
        assert (yolo_run / name).exists(), name
    metrics = json.loads((yolo_run / "metrics.json").read_text())
    assert set(metrics["test"]["per_class"]) == {"circle", "square", "triangle"}
    assert 0 <= metrics["test"]["map50"] <= 1


def test_detect_predict_and_evaluate(yolo_run, tmp_path, capsys):
    image = make_shapes(1, 32, seed=5).images[0]
    path = save_png(tmp_path / "shapes.png", image)
    code = main(["detect", "predict", str(yolo_run), path, "--out", str(tmp_path / "out"),
                 "--score-threshold", "0.0", "--max-boxes", "3"])
    assert code == 0
    assert "shapes.png" in capsys.readouterr().out
    items = json.loads((tmp_path / "out" / "shapes.json").read_text())
    assert len(items) <= 3 and all(len(i["box"]) == 4 for i in items)
    assert (tmp_path / "out" / "shapes.png").stat().st_size > 1000
    assert main(["detect", "evaluate", str(yolo_run), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mAP" in out and (tmp_path / "pr_curves.png").exists()


def test_detect_errors(yolo_run, tmp_path, capsys):
    big = save_png(tmp_path / "big.png", np.zeros((40, 48, 3)))
    assert main(["detect", "predict", str(yolo_run), big, "--out", str(tmp_path / "d")]) == 2
    assert "32x32" in one_line_error(capsys, "detect predict")
    assert not (tmp_path / "d").exists()  # a failed call leaves no output folder behind
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    assert main(["detect", "predict", str(yolo_run), str(not_image)]) == 2
    assert "not an image" in one_line_error(capsys, "detect predict")
    assert main(["detect", "predict", str(tmp_path), big]) == 2
    assert "detector.json" in one_line_error(capsys, "detect predict")
    assert main(["detect", "train", *SMALL, "--widths", "8,x"]) == 2
    assert "integers" in one_line_error(capsys, "detect train")
    assert main(["detect", "train", *SMALL, "--widths", "8,8,8,8,8,8"]) == 2
    assert "multiple of" in one_line_error(capsys, "detect train")


def test_detect_train_on_a_voc_folder_with_an_unknown_class(tmp_path, capsys):
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    for i in range(3):
        save_png(tmp_path / "JPEGImages" / f"{i}.png", np.zeros((20, 20, 3)))
        write_voc_xml(tmp_path / "Annotations" / f"{i}.xml", f"{i}.png", (20, 20),
                      [[2, 2, 10, 10]], ["dog" if i == 2 else "cat"])
    assert main(["detect", "train", "--data", str(tmp_path), "--classes", "cat", *SMALL]) == 2
    assert "unknown class 'dog'" in one_line_error(capsys, "detect train")


def test_segment_train_and_predict(tmp_path, capsys):
    folder = tmp_path / "unet"
    state = dl.get_rng_state()
    code = main(["segment", "train", *SMALL, "--filters", "4", "--depth", "2", "--out",
                 str(folder)])
    dl.set_rng_state(state)
    assert code == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["test"]["iou"]) == {"background", "circle", "square", "triangle"}
    assert (folder / "masks.png").exists()
    capsys.readouterr()
    path = save_png(tmp_path / "x.png", make_shapes(1, 32, seed=2).images[0])
    assert main(["segment", "predict", str(folder), path, "--out", str(tmp_path / "m")]) == 0
    mask = np.asarray(Image.open(tmp_path / "m" / "x_mask.png"))
    assert mask.shape == (32, 32) and mask.max() < 4
    wrong = save_png(tmp_path / "w.png", np.zeros((30, 32, 3)))
    assert main(["segment", "predict", str(folder), wrong, "--out", str(tmp_path / "w")]) == 2
    assert "32x32" in one_line_error(capsys, "segment predict")
    assert not (tmp_path / "w").exists()  # a failed call leaves no output folder behind
    assert main(["segment", "train", *SMALL, "--depth", "6"]) == 2
    assert "2**depth" in one_line_error(capsys, "segment train")


def test_detect_train_and_evaluate_on_a_voc_folder(tmp_path, capsys):
    """The VOC path end to end: images of 40x40 resized to 32x32, boxes scaled with them."""
    data = make_shapes(10, 40, seed=3)
    (tmp_path / "voc" / "Annotations").mkdir(parents=True)
    (tmp_path / "voc" / "JPEGImages").mkdir()
    for i, (image, boxes, labels) in enumerate(zip(data.images, data.boxes, data.labels)):
        save_png(tmp_path / "voc" / "JPEGImages" / f"{i}.png", image)
        write_voc_xml(tmp_path / "voc" / "Annotations" / f"{i}.xml", f"{i}.png", (40, 40),
                      boxes, [data.class_names[c] for c in labels])
    run = tmp_path / "run"
    state = dl.get_rng_state()
    code = main(["detect", "train", "--data", str(tmp_path / "voc"), *SMALL, "--widths",
                 "8,8,8", "--head", "8", "--out", str(run)])
    dl.set_rng_state(state)
    assert code == 0
    out = capsys.readouterr().out
    assert "8 train / 2 test images of 32x32" in out
    assert json.loads((run / "detector.json").read_text())["class_names"] == [
        "circle", "square", "triangle"]
    assert main(["detect", "evaluate", str(run), "--data", str(tmp_path / "voc")]) == 0
    assert "10 images" in capsys.readouterr().out
