"""``dlkit style``, as a user runs it (tiny images, few steps)."""

from __future__ import annotations

import numpy as np

from dlkit.cli import main
from dlkit.vision.images import load_image, save_image


def expect_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def test_style_on_the_bundled_photos(tmp_path, capsys):
    out = tmp_path / "result.png"
    assert main(["style", "--out", str(out), "--size", "24", "--steps", "4",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "china.jpg in the style of flower.jpg" in text and "random filters" in text
    img = load_image(out)
    assert img.shape == (16, 24, 3)  # the content's aspect ratio, longer side 24
    strip = load_image(tmp_path / "result_steps.png")
    assert strip.shape[1] > 6 * 24  # content, style and the snapshots side by side
    first, last = [float(x) for x in text.split("J ")[1].split(" (")[0].split(" -> ")]
    assert last < first


def test_style_with_user_images_and_adam(tmp_path, capsys):
    rng = np.random.default_rng(0)
    save_image(tmp_path / "c.png", rng.random((20, 20, 3)))
    save_image(tmp_path / "s.png", rng.random((30, 10, 3)))  # resized to the content's size
    assert main(["style", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "--out",
                 str(tmp_path / "o.png"), "--size", "16", "--steps", "2", "--optimizer",
                 "adam", "--strip", str(tmp_path / "strip.png"), "--no-progress"]) == 0
    assert load_image(tmp_path / "o.png").shape == (16, 16, 3)
    assert (tmp_path / "strip.png").exists()


def test_style_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"junk")
    expect_error(capsys, ["style", str(bad), "flower.jpg"], "CONTENT", "cannot read")
    expect_error(capsys, ["style", "china.jpg", "nothing.jpg"], "STYLE", "neither")
    expect_error(capsys, ["style", "--steps", "0"], "--steps")
    other = tmp_path / "other.safetensors"
    from safetensors.numpy import save_file
    save_file({"fc.weight": np.zeros((2, 3), np.float32)}, str(other))
    expect_error(capsys, ["style", "--weights", str(other), "--size", "16"], "--weights",
                 "VGG-19")
    expect_error(capsys, ["style", "--weights", str(bad), "--size", "16"], "--weights")
