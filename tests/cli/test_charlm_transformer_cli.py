"""``dlkit charlm --arch transformer`` and ``dlkit sample`` of its run folder."""

from __future__ import annotations

import json

import dlkit as dl
from dlkit.cli import main
from dlkit.models.transformer_lm import TransformerLM

FAST = ("--arch", "transformer", "--epochs", "2", "--d-model", "16", "--heads", "2",
        "--layers", "1", "--no-progress", "--sample-every", "0", "--samples", "3")


def test_transformer_charlm_trains_saves_and_samples(tmp_path, capsys):
    folder = tmp_path / "run"
    corpus = tmp_path / "names.txt"
    corpus.write_text("\n".join(dl.text.dinosaur_names()[::4]) + "\n")
    assert main(["charlm", *FAST, "--corpus", str(corpus), "--lower", "--epochs", "4",
                 "--out", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "final loss" in out and "model transformer d_model 16 heads 2 layers 1 (" in out
    model = dl.io.load(folder / "model.safetensors")
    assert isinstance(model, TransformerLM) and model.d_model == 16 and model.num_heads == 2
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["dev"]["perplexity"] < 0.7 * 29
    config = json.loads((folder / "config.json").read_text())
    assert config["options"]["arch"] == "transformer"
    assert main(["sample", str(folder), "--n", "4", "--seed", "1"]) == 0
    names = capsys.readouterr().out.splitlines()
    assert len(names) == 4 and all(n.isalpha() for n in names), names
    assert main(["evaluate", str(folder)]) == 0
    assert "perplexity" in capsys.readouterr().out


def test_user_mistakes_are_one_line_errors(tmp_path, capsys):
    for extra, message in ((("--heads", "3"), "not divisible by --heads 3"),
                           (("--mode", "stream"), "--arch transformer trains on lines")):
        args = [*FAST, *extra]
        assert main(["charlm", *args, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
