"""``dlkit verify train / pair / identify`` and ``dlkit visualize``, as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dlkit as dl
from dlkit.cli import main
from dlkit.vision.images import save_image
from dlkit.vision.verification import Gallery


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify") / "run"
    state = dl.get_rng_state()
    code = main(["verify", "train", "--data", "digits", "--epochs", "1", "--embedding-dim", "32",
                 "--no-progress", "--out", str(folder)])
    dl.set_rng_state(state)
    assert code == 0
    return folder


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    X, y = dl.data.load_digits(as_images=True)
    files = {}
    for d in (7, 8):
        idx = np.flatnonzero(y == d)
        for k in range(3):
            files[(d, k)] = save_image(folder / f"{d}_{k}.png", X[idx[10 + k]])
    return files


def test_train_writes_the_run_folder(run, capsys):
    for name in ("model.safetensors", "gallery.safetensors", "config.json", "history.csv",
                 "metrics.json", "roc.png"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["new_identities"] == ["7", "8", "9"]
    assert 0.5 < metrics["auc"] <= 1 and metrics["identification_accuracy"] > 0.4
    config = json.loads((run / "config.json").read_text())
    assert config["size"] == 8 and config["channels"] == 1
    assert config["threshold"] == pytest.approx(metrics["threshold"])
    assert Gallery.load(run / "gallery.safetensors").names == ["7", "8", "9"]


def test_pair_and_identify(run, digit_files, capsys):
    assert main(["verify", "pair", str(run), str(digit_files[(7, 0)]),
                 str(digit_files[(7, 0)])]) == 0
    out = capsys.readouterr().out
    assert "distance 0.0000" in out and "same identity" in out
    assert main(["verify", "pair", str(run), str(digit_files[(7, 0)]),
                 str(digit_files[(8, 0)]), "--threshold", "0"]) == 0
    assert "different identities" in capsys.readouterr().out
    assert main(["verify", "identify", str(run), str(digit_files[(7, 1)]),
                 "--threshold", "100"]) == 0
    out = capsys.readouterr().out  # the run's own gallery: 7, 8 or 9, never unknown here
    assert out.split(": ")[1][0] in "789" and "not in the database" not in out
    assert main(["verify", "identify", str(run), str(digit_files[(8, 2)]),
                 "--threshold", "0"]) == 0
    assert "not in the database" in capsys.readouterr().out


def test_identify_with_a_gallery_folder(run, digit_files, tmp_path, capsys):
    X, y = dl.data.load_digits(as_images=True)
    for name, d in (("seven", 7), ("eight", 8)):
        (tmp_path / "people" / name).mkdir(parents=True)
        save_image(tmp_path / "people" / name / "a.png", X[np.flatnonzero(y == d)[10]])
    saved = tmp_path / "g.safetensors"
    assert main(["verify", "identify", str(run), str(digit_files[(7, 0)]),
                 str(digit_files[(8, 0)]), "--gallery", str(tmp_path / "people"),
                 "--threshold", "100", "--save-gallery", str(saved)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split(": ")[1].startswith("seven") and out[1].split(": ")[1].startswith("eight")
    assert Gallery.load(saved).names == ["eight", "seven"]
    assert main(["verify", "identify", str(run), str(digit_files[(7, 0)]), "--gallery",
                 str(saved)]) == 0


def expect_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def test_bad_input_is_one_line_exit_2(run, digit_files, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    expect_error(capsys, ["verify", "pair", str(run), str(bad), str(digit_files[(7, 0)])],
                 "cannot read", "bad.png")
    expect_error(capsys, ["verify", "pair", str(run), str(tmp_path / "none.png"),
                          str(digit_files[(7, 0)])], "no such image")
    expect_error(capsys, ["verify", "pair", str(tmp_path), "a.png", "b.png"], "run folder")
    # a gallery made by another model
    other = Gallery.from_examples(np.eye(32)[:2], ["a", "b"], model="0123456789abcdef")
    other.save(tmp_path / "other.safetensors")
    expect_error(capsys, ["verify", "identify", str(run), str(digit_files[(7, 0)]),
                          "--gallery", str(tmp_path / "other.safetensors")], "another model")
    # embeddings of another size
    Gallery.from_examples(np.eye(5)[:2], ["a", "b"]).save(tmp_path / "small.safetensors")
    expect_error(capsys, ["verify", "identify", str(run), str(digit_files[(7, 0)]),
                          "--gallery", str(tmp_path / "small.safetensors")], "size 5")
    expect_error(capsys, ["verify", "identify", str(run), str(digit_files[(7, 0)]),
                          "--gallery", str(bad)], "--gallery")
    expect_error(capsys, ["verify", "train", "--data", str(tmp_path / "nowhere")],
                 "no such folder")
    expect_error(capsys, ["verify", "train", "--epochs", "0"], "--epochs")


def test_train_on_an_identity_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for k in range(5):  # five "people": a colored blob each, in several noisy shots
        (tmp_path / "faces" / f"p{k}").mkdir(parents=True)
        base = rng.random(3)
        for j in range(6):
            img = np.clip(base + 0.1 * rng.standard_normal((12, 12, 3)), 0, 1)
            save_image(tmp_path / "faces" / f"p{k}" / f"{j}.png", img)
    out = tmp_path / "run"
    assert main(["verify", "train", "--data", str(tmp_path / "faces"), "--size", "8",
                 "--epochs", "1", "--batch-size", "16", "--no-progress",
                 "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["size"] == 8 and config["channels"] == 3
    assert main(["verify", "pair", str(out), str(tmp_path / "faces/p0/0.png"),
                 str(tmp_path / "faces/p0/1.png")]) == 0


def test_visualize_run(run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["visualize", str(run), "--layer", "6", "--units", "0,1", "--k", "4",
                 "--out", str(out)]) == 0
    assert out.exists() and "one row per unit" in capsys.readouterr().out
    assert main(["visualize", str(run), "--filters", "--out", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").exists()
    expect_error(capsys, ["visualize", str(run)], "--layer", "0:Conv2d")
    expect_error(capsys, ["visualize", str(run), "--layer", "42"], "unknown layer")
    expect_error(capsys, ["visualize", str(run), "--layer", "2", "--units", "a,b"], "--units")
    expect_error(capsys, ["visualize", str(tmp_path / "nope"), "--layer", "2"], "not found")


def test_train_default_data_is_synthetic_faces(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["verify", "train", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("faces: 1440 train / 360 dev images of 180 identities")
    config = json.loads((out / "config.json").read_text())
    assert config["data"] == "faces" and config["size"] == 16
    assert len(json.loads((out / "metrics.json").read_text())["new_identities"]) == 20
    assert main(["visualize", str(out), "--layer", "2", "--units", "0", "--k", "3",
                 "--out", str(tmp_path / "g.png")]) == 0


def test_visualize_a_dlkit_train_cnn_run(tmp_path, capsys):
    out = tmp_path / "cnn"
    assert main(["train", "--model", "cnn", "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["visualize", str(out), "--layer", "2", "--units", "0,1", "--k", "5",
                 "--out", str(tmp_path / "cnn.png")]) == 0
    assert "1797 images" in capsys.readouterr().out
    assert (tmp_path / "cnn.png").exists()
    assert main(["visualize", str(out), "--layer", "2,6", "--units", "0", "--k", "3",
                 "--out", str(tmp_path / "many.png")]) == 0
    assert (tmp_path / "many_layer2.png").exists() and (tmp_path / "many_layer6.png").exists()
