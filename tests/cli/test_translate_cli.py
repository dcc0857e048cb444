"""``dlkit translate`` as a user runs it: train, translate (greedy, beam, n-best), evaluate,
attention maps, and one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

import dlkit as dl
from dlkit.cli import main

FAST = ("--n-train", "300", "--n-dev", "40", "--epochs", "1", "--n-a", "8", "--n-s", "16",
        "--embed-dim", "8", "--hidden", "8", "--no-progress")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("translate") / "run"
    state = dl.get_rng_state()
    code = main(["translate", "train", *FAST, "--out", str(folder)])
    dl.set_rng_state(state)
    assert code == 0
    return folder


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dlkit {command}: error: "), err
    return err


def test_bare_group_prints_its_help(capsys):
    assert main(["translate"]) == 0
    assert "dlkit translate RUN TEXT" in capsys.readouterr().out


def test_train_writes_a_run_folder(run):
    for name in ("model.safetensors", "source_vocab.json", "target_vocab.json", "config.json",
                 "history.csv", "metrics.json", "dev.tsv", "attention.png"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["dev_exact_match"] <= 1 and metrics["epochs"] == 1
    assert len((run / "dev.tsv").read_text().splitlines()) == 40


def test_translate_run_as_the_issue_spells_it(run, capsys):
    assert main(["translate", str(run), "3 May 1979"]) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    assert main(["translate", "run", str(run), "3 May 1979"]) == 0
    assert capsys.readouterr().out.strip() == out  # the explicit subcommand: the same
    assert main(["translate", str(run), "3 May 1979", "--beam", "5", "--alpha", "0.7",
                 "--n-best", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "3 May 1979" and len(lines) == 4 and "score" in lines[1]


def test_sampling(run, capsys):
    args = ["translate", str(run), "3 May 1979", "--sample", "--n-best", "4",
            "--temperature", "2", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert len(first.splitlines()) == 5
    assert main(args) == 0
    assert capsys.readouterr().out == first  # seeded: the same draws
    assert main(["translate", str(run), "3 May 1979", "--sample", "--top-k", "1",
                 "--n-best", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split("\t")[0].split(". ")[1] == lines[2].split("\t")[0].split(". ")[1]
    assert main(["translate", str(run), "3 May 1979", "--sample", "--temperature", "0"]) == 2
    assert "--temperature" in one_line_error(capsys, "translate run")


def test_evaluate_prints_scores_and_the_error_analysis(run, capsys):
    assert main(["translate", "evaluate", str(run), "--beam", "2"]) == 0
    out = capsys.readouterr().out
    assert "greedy" in out and "beam B=2" in out and "BLEU" in out
    assert "beam-search error analysis" in out and "recommendation:" in out


def test_evaluate_on_a_pairs_file(run, tmp_path, capsys):
    f = tmp_path / "dev.tsv"
    f.write_text("3 may 1979\t1979-05-03\n21.04.1976\t1976-04-21\n")
    assert main(["translate", "evaluate", str(run), "--pairs", str(f)]) == 0
    assert "exact match" in capsys.readouterr().out


def test_attention_map(run, tmp_path, capsys):
    out = tmp_path / "map.png"
    assert main(["translate", "attention", str(run), "3 May 1979", "--out", str(out)]) == 0
    assert out.exists() and out.stat().st_size > 1000


def test_train_on_a_pairs_file(tmp_path, capsys):
    f = tmp_path / "pairs.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in
                         ["abc", "bca", "cab", "aab", "bba", "cca", "acb", "bac", "cba", "abb"]))
    state = dl.get_rng_state()
    code = main(["translate", "train", "--pairs", str(f), "--epochs", "1", "--n-a", "4",
                 "--n-s", "8", "--embed-dim", "4", "--hidden", "4", "--no-progress", "--out",
                 str(tmp_path / "r")])
    dl.set_rng_state(state)
    assert code == 0
    assert main(["translate", str(tmp_path / "r"), "abc"]) == 0
    words = tmp_path / "words.tsv"
    words.write_text("".join(f"the {a} cat\tle chat {b}\n" for a, b in
                             [("big", "grand"), ("small", "petit"), ("black", "noir"),
                              ("white", "blanc"), ("old", "vieux")] * 2))
    state = dl.get_rng_state()
    code = main(["translate", "train", "--pairs", str(words), "--level", "word", "--epochs",
                 "1", "--n-a", "4", "--n-s", "8", "--embed-dim", "4", "--hidden", "4",
                 "--no-progress", "--out", str(tmp_path / "w")])
    dl.set_rng_state(state)
    assert code == 0
    capsys.readouterr()
    assert main(["translate", str(tmp_path / "w"), "the big cat", "--beam", "2"]) == 0
    out = capsys.readouterr().out.strip()
    assert all(w in {"le", "chat", "grand", "petit", "noir", "blanc", "vieux"}
               for w in out.split())
    assert main(["translate", str(tmp_path / "w"), "the purple cat"]) == 2
    assert "'purple'" in one_line_error(capsys, "translate run")


@pytest.mark.parametrize("args,command,message", [
    (["RUN", "3 May 1979☃"], "translate run", "outside the vocabulary"),
    (["RUN"], "translate run", "give the text to translate"),
    (["RUN", "x" * 40], "translate run", "at most 30"),
    (["RUN", ""], "translate run", "empty source"),
    (["RUN", "3 May 1979", "--beam", "0"], "translate run", "beam width B >= 1"),
    (["RUN", "3 May 1979", "--beam", "2", "--n-best", "3"], "translate run", "--beam 3"),
    (["evaluate", "RUN", "--beam", "0"], "translate evaluate", "beam width"),
    (["attention", "RUN", "é"], "translate attention", "outside the vocabulary"),
])
def test_user_errors_are_one_line(run, capsys, args, command, message):
    args = [str(run) if a == "RUN" else a for a in args]
    assert main(["translate", *args]) == 2
    assert message in one_line_error(capsys, command)


def test_bad_files(run, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("3 may 1979\t1979-05-03\n21.04.1976\n")
    assert main(["translate", "evaluate", str(run), "--pairs", str(bad)]) == 2
    assert "line 2: expected two tab-separated columns" in one_line_error(
        capsys, "translate evaluate")
    assert main(["translate", "train", "--pairs", str(bad), "--no-progress"]) == 2
    assert "line 2" in one_line_error(capsys, "translate train")
    assert main(["translate", "train", "--pairs", str(tmp_path / "nope.tsv")]) == 2
    assert "not found" in one_line_error(capsys, "translate train")
    assert main(["translate", str(tmp_path), "3 may 1979"]) == 2
    assert "not a dlkit run folder" in one_line_error(capsys, "translate run")
    assert main(["translate", str(tmp_path / "missing"), "3 may 1979"]) == 2
    assert "not found" in one_line_error(capsys, "translate run")


def test_the_exercise_model_from_the_command_line(tmp_path, capsys):
    state = dl.get_rng_state()
    code = main(["translate", "train", "--model", "course", "--n-train", "100", "--n-dev", "20",
                 "--epochs", "1", "--n-a", "4", "--n-s", "8", "--hidden", "4",
                 "--no-progress", "--out", str(tmp_path / "c")])
    dl.set_rng_state(state)
    assert code == 0
    assert main(["translate", str(tmp_path / "c"), "3 May 1979", "--beam", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()[-1]) == 10  # T_y = 10 characters
    assert main(["translate", "train", "--model", "course", "--attention", "none"]) == 2
    assert "always has attention" in one_line_error(capsys, "translate train")
