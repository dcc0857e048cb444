"""``dlkit charlm`` and ``dlkit sample``, as a user runs them, and the forwarding of
``dlkit train --task charlm``."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import pytest

import dlkit as dl
from dlkit.cli import main
from dlkit.cli.charlm import charlm_from_train, evaluate_charlm
from dlkit.cli.train import train as train_command

FAST = ("--epochs", "2", "--hidden", "24", "--embed-dim", "8", "--no-progress")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One trained run on the bundled names, shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("charlm") / "run"
    state = dl.get_rng_state()
    code = main(["charlm", *FAST, "--sample-every", "1", "--samples", "3", "--out", str(folder)])
    dl.set_rng_state(state)
    assert code == 0
    return folder


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dlkit {command}: error: "), err
    return err


def test_charlm_on_the_bundled_names_writes_a_run_folder(tmp_path, capsys):
    folder = tmp_path / "run"
    assert main(["charlm", *FAST, "--sample-every", "1", "--samples", "3",
                 "--out", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dinos: 1382 train / 154 dev lines; vocabulary 29 tokens")
    for epoch in (1, 2):  # samples printed every epoch, three capitalized names each
        k = next(i for i, line in enumerate(out) if line.startswith(f"epoch {epoch}, loss"))
        names = out[k + 1:k + 4]
        assert all(n == n.capitalize() and n.isalpha() or n == "" for n in names), names
    final = out[-1]
    assert final.startswith("final loss") and "perplexity" in final and "uniform" in final
    assert {p.name for p in folder.iterdir()} >= {"model.safetensors", "vocab.json",
                                                   "config.json", "history.csv",
                                                   "metrics.json", "samples.txt"}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["dev"]["perplexity"] < 0.5 * 29
    assert metrics["train"]["perplexity"] == pytest.approx(math.exp(metrics["train"]["loss"]))
    rows = list(csv.DictReader(open(folder / "history.csv")))
    assert len(rows) == 2 and float(rows[1]["loss"]) < float(rows[0]["loss"]) < math.log(29)
    config = json.loads((folder / "config.json").read_text())
    assert config["task"] == "charlm" and config["options"]["cell"] == "lstm"
    assert isinstance(dl.io.load(folder / "model.safetensors"), dl.text.CharLM)
    assert len(dl.text.load_vocab(folder / "vocab.json")) == 29


def test_sample_is_reproducible_from_a_seed(run, capsys):
    assert main(["sample", str(run), "--n", "4", "--seed", "3"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert len(first) == 4
    assert main(["sample", str(run), "--n", "4", "--seed", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == first
    assert main(["sample", str(run), "-n", "3", "--top-k", "1", "--seed", "9"]) == 0
    greedy = capsys.readouterr().out.splitlines()
    assert len(set(greedy)) == 1
    assert main(["sample", str(run), "-n", "2", "--prefix", "Tyr", "--max-len", "4",
                 "--temperature", "0.5", "--seed", "1"]) == 0
    for text in capsys.readouterr().out.splitlines():
        assert text.startswith("Tyr") and len(text) <= 7


def test_evaluate_a_charlm_run_gives_its_metrics_again(run, tmp_path, capsys):
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    model = dl.io.load(run / "model.safetensors")
    evaluate_charlm(run, config, model, None)
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["train"][1] == "1382" and rows["dev"][1] == "154"
    assert float(rows["dev"][-1]) == pytest.approx(metrics["dev"]["perplexity"], abs=1e-4)
    (tmp_path / "two.txt").write_text("Tyrannosaurus\nVelociraptor\n")
    evaluate_charlm(run, config, model, str(tmp_path / "two.txt"))
    assert capsys.readouterr().out.startswith("two.txt      2 lines  loss")


def test_train_task_charlm_forwards_the_shared_options(tmp_path, capsys):
    """What ``dlkit train --task charlm --dataset dinos --epochs 1 ...`` does, on the real
    ``train`` command's options."""
    folder = tmp_path / "via-train"
    ctx = train_command.make_context("train", ["--dataset", "dinos", "--epochs", "1",
                                               "--hidden", "16", "--batch-size", "64",
                                               "--out", str(folder), "--no-progress"])
    with ctx:
        assert charlm_from_train(ctx) == folder
    assert capsys.readouterr().out.splitlines()[-1].startswith("final loss")
    options = json.loads((folder / "config.json").read_text())["options"]
    assert (options["corpus"], options["n_a"], options["epochs"], options["batch_size"]) == \
        ("dinos", 16, 1, 64)
    ctx = train_command.make_context("train", ["--flip"])
    with ctx, pytest.raises(dl.cli.UserError, match="--flip does not apply"):
        charlm_from_train(ctx)


def test_dlkit_train_task_charlm_once_train_has_the_option(tmp_path, capsys):
    if not any(p.name == "task" for p in train_command.params):
        pytest.skip("dlkit train has no --task option yet")
    folder = tmp_path / "lm"
    assert main(["train", "--task", "charlm", "--epochs", "1", "--hidden", "16",
                 "--out", str(folder), "--no-progress"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("final loss")
    assert (folder / "vocab.json").exists()
    assert main(["train", "--task", "charlm", "--dataset", str(tmp_path / "none.txt")]) == 2
    assert "--dataset" in one_line_error(capsys, "train")


def test_a_corpus_file_and_stream_mode(tmp_path, capsys):
    corpus = tmp_path / "birds.txt"
    corpus.write_text("Robin\nSparrow\n\nBlue Tit\nWren\nStarling\nSwift\n" * 4)
    folder = tmp_path / "birds"
    assert main(["charlm", "--corpus", str(corpus), "--mode", "stream", "--batch-size", "4",
                 "--bptt", "8", "--cell", "gru", "--sample-every", "0", *FAST,
                 "--out", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "birds: 22 train / 2 dev lines as one stream" in out and "epoch 1," not in out
    vocab = dl.text.load_vocab(folder / "vocab.json")
    assert "R" in vocab and " " in vocab and not vocab.lower
    assert main(["sample", str(folder), "-n", "2", "--seed", "0"]) == 0


def test_bad_input_is_one_line_and_exit_code_2(run, tmp_path, capsys):
    assert main(["charlm", "--corpus", str(tmp_path / "missing.txt")]) == 2
    assert "neither a bundled corpus" in one_line_error(capsys, "charlm")
    (tmp_path / "empty.txt").write_text("\n  \n")
    assert main(["charlm", "--corpus", str(tmp_path / "empty.txt")]) == 2
    assert "empty" in one_line_error(capsys, "charlm")
    (tmp_path / "short.txt").write_text("ab\n")
    assert main(["charlm", "--corpus", str(tmp_path / "short.txt"), "--mode", "stream",
                 "--out", str(tmp_path / "never")]) == 2
    assert "--batch-size" in one_line_error(capsys, "charlm")
    assert not (tmp_path / "never").exists()
    assert main(["charlm", "--temperature", "0"]) == 2
    assert "temperature" in one_line_error(capsys, "charlm")
    (tmp_path / "novocab").mkdir()
    assert main(["sample", str(tmp_path / "novocab")]) == 2
    assert "vocab.json" in one_line_error(capsys, "sample")
    assert main(["sample", str(tmp_path / "nowhere")]) == 2
    assert "not found" in one_line_error(capsys, "sample")
    for bad in ("0", "-0.5"):
        assert main(["sample", str(run), "--temperature", bad]) == 2
        assert "--temperature" in one_line_error(capsys, "sample")
    assert main(["sample", str(run), "--top-k", "0"]) == 2
    assert "--top-k" in one_line_error(capsys, "sample")


def test_sample_from_a_subprocess(run):
    out = subprocess.run([sys.executable, "-m", "dlkit.cli", "sample", str(run), "--n", "2",
                          "--seed", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 2, out.stderr


def test_sample_takes_the_run_as_model_option_too(tmp_path, capsys):
    from dlkit.cli import main

    run = tmp_path / "run"
    assert main(["charlm", "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["sample", "--model", str(run), "--n", "2", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main(["sample"]) == 2
    assert "once" in capsys.readouterr().err


def test_sample_by_beam_search_gives_the_most_likely_names_with_scores(run, capsys):
    assert main(["sample", str(run), "--beam", "4", "--n", "3"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    scores = [float(s) for _, s in rows]
    assert len(rows) == 3 and scores == sorted(scores, reverse=True)
    import dlkit as dl  # the same as the library's beam search, capitalized as the run says

    model, vocab = dl.io.load(run / "model.safetensors"), dl.text.load_vocab(run / "vocab.json")
    best = dl.text.lm_beam_search(model, vocab, beam_width=4, n_best=3)
    assert [t.lower() for t, _ in rows] == [t for t, _ in best]
    assert main(["sample", str(run), "--beam", "2", "--n", "3"]) == 2
    assert "more than the --beam width 2" in one_line_error(capsys, "sample")
