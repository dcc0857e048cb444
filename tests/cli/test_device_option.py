"""``--device`` on dlkit train: cpu trains as before; an unusable device is one line, exit 2."""

from __future__ import annotations

import json

import pytest

import dlkit as dl
from dlkit.cli import main


def test_train_device_cuda_without_a_gpu_is_one_line(capsys, tmp_path):
    if dl.cuda.is_available():
        pytest.skip("a GPU is present")
    code = main(["train", "--dataset", "moons", "--examples", "60", "--epochs", "1",
                 "--device", "cuda", "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--device cuda" in err and "pip install" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_train_bad_device_name(capsys, tmp_path):
    code = main(["train", "--dataset", "moons", "--device", "tpu", "--out", str(tmp_path / "r")])
    assert code == 2 and "'tpu'" in capsys.readouterr().err


def test_train_device_on_a_device_namespace_matches_cpu(capsys, tmp_path):
    import dlkit.testing.strict  # noqa: F401 - registers the "strict" device

    args = ["train", "--dataset", "moons", "--examples", "80", "--epochs", "3", "--hidden",
            "8", "--no-progress", "--checkpoint-every", "0"]
    assert main([*args, "--out", str(tmp_path / "cpu")]) == 0
    assert main([*args, "--device", "cpu", "--out", str(tmp_path / "cpu2")]) == 0
    assert main([*args, "--device", "strict", "--out", str(tmp_path / "dev")]) == 0
    capsys.readouterr()
    a = json.loads((tmp_path / "cpu" / "metrics.json").read_text())
    b = json.loads((tmp_path / "cpu2" / "metrics.json").read_text())
    c = json.loads((tmp_path / "dev" / "metrics.json").read_text())
    assert a["test"] == b["test"]
    assert abs(a["test"]["accuracy"] - c["test"]["accuracy"]) <= 0.1


def test_charlm_device_cuda_without_a_gpu_is_one_line(capsys, tmp_path):
    if dl.cuda.is_available():
        pytest.skip("a GPU is present")
    for args in (["charlm"], ["train", "--task", "charlm"]):
        code = main([*args, "--device", "cuda", "--out", str(tmp_path / "r"), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and "--device cuda" in err and "pip install" in err
        assert len(err.strip().splitlines()) == 1
        assert not (tmp_path / "r").exists()


def test_charlm_on_a_device_namespace_matches_cpu(capsys, tmp_path):
    import dlkit.testing.strict  # noqa: F401

    corpus = tmp_path / "names.txt"
    corpus.write_text("\n".join(["anna", "bob", "carla", "dora", "emil", "fritz"] * 5) + "\n")
    args = ["charlm", "--corpus", str(corpus), "--epochs", "2", "--hidden", "8",
            "--embed-dim", "4", "--sample-every", "0", "--samples", "2", "--no-progress"]
    for mode in ("lines", "stream"):
        assert main([*args, "--mode", mode, "--out", str(tmp_path / f"c{mode}")]) == 0
        assert main([*args, "--mode", mode, "--device", "strict",
                     "--out", str(tmp_path / f"d{mode}")]) == 0
        a = json.loads((tmp_path / f"c{mode}" / "metrics.json").read_text())["train"]
        b = json.loads((tmp_path / f"d{mode}" / "metrics.json").read_text())["train"]
        assert abs(a["loss"] - b["loss"]) < 1e-4, (mode, a, b)
    assert main(["charlm", "--resume", str(tmp_path / "dlines"), "--epochs", "3",
                 "--device", "cpu", "--no-progress"]) == 0
    capsys.readouterr()
