"""``dlkit translate train --arch transformer`` on the date task, then translate with greedy
and beam search (the Transformer's cached step function under dlkit.text.decode)."""

from __future__ import annotations

import json

import dlkit as dl
from dlkit.cli import main
from dlkit.models.transformer_translator import TransformerTranslator

FAST = ("--arch", "transformer", "--n-train", "300", "--n-dev", "40", "--epochs", "1",
        "--d-model", "16", "--heads", "2", "--layers", "1", "--no-progress")


def test_transformer_translate_train_and_run(tmp_path, capsys):
    folder = tmp_path / "run"
    assert main(["translate", "train", *FAST, "--out", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "transformer model" in out and "4 heads" not in out and "dev exact match" in out
    assert "d_model 16, 2 heads, 1+1 layers" in out
    model = dl.io.load(folder / "model.safetensors")
    assert isinstance(model, TransformerTranslator) and model.d_model == 16
    config = json.loads((folder / "config.json").read_text())
    assert config["model"] == "transformer" and config["options"]["num_heads"] == 2
    assert (folder / "attention.png").exists() or any(p.suffix == ".png"
                                                       for p in folder.iterdir())
    assert main(["translate", str(folder), "3 May 1979", "--beam", "3", "--n-best", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 2
    heads = tmp_path / "heads.png"
    assert main(["translate", "attention", str(folder), "3 May 1979", "--head", "all",
                 "--out", str(heads)]) == 0
    assert heads.stat().st_size > 5000
    capsys.readouterr()
    assert main(["translate", "attention", str(folder), "3 May 1979", "--head", "1",
                 "--out", str(tmp_path / "h1.png")]) == 0
    capsys.readouterr()
    assert main(["translate", "attention", str(folder), "3 May 1979", "--head", "2",
                 "--out", str(tmp_path / "h2.png")]) == 2
    assert "head number in 0..1" in capsys.readouterr().err


def test_heads_must_divide_d_model(tmp_path, capsys):
    args = [*FAST[:-5], "--d-model", "10", "--heads", "4", "--no-progress"]
    assert main(["translate", "train", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--d-model 10 is not divisible by --heads 4" in err
