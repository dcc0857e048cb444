"""dlkit embed: train, neighbors, analogy, plot, debias, sentiment; one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlkit.cli import main
from dlkit.text.vectors import WordVectors, load_vectors


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("embed") / "w2v"
    code = main(["embed", "train", "--corpus", "planted", "--dim", "16", "--window", "3",
                 "--min-count", "1", "--sample", "0", "--epochs", "4", "--no-progress",
                 "--out", str(out)])
    assert code == 0
    return out


def test_train_writes_a_run_folder(run):
    for name in ("vectors.safetensors", "vectors.txt", "config.json", "history.csv",
                 "metrics.json"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["vocabulary"] == 64 and metrics["words_per_second"] > 0
    a, b = load_vectors(run / "vectors.safetensors"), load_vectors(run / "vectors.txt")
    assert a.words == b.words
    np.testing.assert_allclose(a.vectors, b.vectors, rtol=1e-5, atol=1e-6)


def test_neighbors_and_analogy(run, capsys):
    assert main(["embed", "analogy", str(run), "man", "woman", "king"]) == 0
    assert "man : woman :: king : queen" in capsys.readouterr().out
    assert main(["embed", "neighbors", str(run), "king", "-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("\t" in line for line in lines)
    assert main(["embed", "analogy", str(run / "vectors.txt"), "man", "woman", "boy",
                 "-k", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("girl\t")


def test_evaluate(run, tmp_path, capsys):
    from dlkit.text.embedding_data import planted_analogy_corpus
    quads = planted_analogy_corpus(10)[1]
    q = tmp_path / "q.txt"
    q.write_text(": gender\n" + "\n".join(" ".join(x) for x in quads) + "\nfoo bar baz qux\n")
    assert main(["embed", "evaluate", str(run), str(q)]) == 0
    out = capsys.readouterr().out
    assert "gender" in out and "(56/56, 1 skipped" in out
    total = [line for line in out.splitlines() if line.startswith("total")][0]
    assert float(total.split()[1].rstrip("%")) >= 90
    (tmp_path / "bad.txt").write_text("a b\n")
    assert main(["embed", "evaluate", str(run), str(tmp_path / "bad.txt")]) == 2
    assert "has 2 words, expected 4" in capsys.readouterr().err


def test_plot_and_debias(run, tmp_path, capsys):
    png = tmp_path / "map.png"
    assert main(["embed", "plot", str(run), "--words", "man,woman,king,queen;boy,girl",
                 "--method", "pca", "--out", str(png)]) == 0
    assert png.stat().st_size > 1000
    out = tmp_path / "debiased"
    assert main(["embed", "debias", str(run), "--out", str(out), "--definitional",
                 "man:woman,he:she", "--equalize", "king:queen", "--keep", "boy,girl",
                 "--method", "difference"]) == 0
    wv = load_vectors(out / "vectors.safetensors")
    old = load_vectors(run / "vectors.safetensors")
    g = (old["woman"] - old["man"] + old["she"] - old["he"]) / 2
    assert abs(wv["crown"] @ g) < 1e-3 * np.linalg.norm(g) * np.linalg.norm(wv["crown"]) + 1e-6
    np.testing.assert_array_equal(wv["boy"], old["boy"])


@pytest.mark.parametrize("argv,message", [
    (["embed", "neighbors", "{run}", "emperor"], "'emperor' is not in the vocabulary"),
    (["embed", "neighbors", "{tmp}/nothing", "king"], "no such run folder or vectors file"),
    (["embed", "neighbors", "{tmp}", "king"], "not a dlkit embed run folder"),
    (["embed", "analogy", "{tmp}/ragged.txt", "a", "b", "c"], "ragged rows"),
    (["embed", "neighbors", "{tmp}/latin.txt", "a"], "not UTF-8"),
    (["embed", "train", "--corpus", "{tmp}/empty.txt", "--out", "{tmp}/r"], "has no words"),
    (["embed", "train", "--corpus", "{tmp}/latin.txt", "--out", "{tmp}/r"], "not UTF-8"),
    (["embed", "train", "--corpus", "{tmp}/missing.txt"], "no such file"),
    (["embed", "train", "--corpus", "{tmp}/two.txt", "--min-count", "5", "--no-progress",
      "--out", "{tmp}/r"], "min_count=5"),
    (["embed", "plot", "{run}", "--words", "king,queen,emperor"], "not in the vocabulary"),
    (["embed", "debias", "{run}", "--out", "{tmp}/d", "--definitional", "man-woman"],
     "expected pairs like man:woman"),
    (["embed", "train", "--method", "fasttext"], "Invalid value"),
])
def test_user_errors_are_one_line_with_exit_2(run, tmp_path, capsys, argv, message):
    (tmp_path / "ragged.txt").write_text("a 1 2 3\nb 1 2\n")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 1 2\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "two.txt").write_text("hello world\n")
    args = [a.format(run=run, tmp=tmp_path) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_sentiment_command(tmp_path, capsys):
    vec = tmp_path / "v.txt"
    from dlkit.text.sentiment import pretrained_vectors
    pretrained_vectors(dim=12, n_sentences=800, epochs=2).save(vec)
    out = tmp_path / "emo"
    assert main(["embed", "sentiment", "--model", "average", "--vectors", str(vec),
                 "--epochs", "3", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "model 1 (average)" in text and "test accuracy" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1
    assert (out / "model.safetensors").is_file() and (out / "vocab.json").is_file()
    assert isinstance(load_vectors(vec), WordVectors)
