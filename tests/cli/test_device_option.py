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
