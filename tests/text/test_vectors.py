"""Word vectors: similarity, analogies, the embedding matrix, file formats, transfer."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.nn.recurrent import Embedding
from dlkit.text.vectors import (
    UnknownWordError,
    WordVectors,
    cosine_similarity,
    euclidean_distance,
    load_vectors,
)
from dlkit.text.vocab import WordVocab


def table(n=40, d=8, seed=0, unit=False):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, d))
    if unit:
        m /= np.linalg.norm(m, axis=1, keepdims=True)
    return WordVectors([f"w{i}" for i in range(n)], m)


def test_cosine_and_euclidean_match_the_formulas(rng):
    u, v = rng.standard_normal(5), rng.standard_normal((3, 5))
    ref = np.array([u @ r / np.linalg.norm(u) / np.linalg.norm(r) for r in v])
    np.testing.assert_allclose(cosine_similarity(u, v), ref, rtol=1e-12)
    np.testing.assert_allclose(euclidean_distance(u, v), [np.sqrt(((u - r) ** 2).sum())
                                                          for r in v])
    assert cosine_similarity(u, 2 * u) == pytest.approx(1.0)
    assert cosine_similarity(u, -u) == pytest.approx(-1.0)
    assert cosine_similarity(np.zeros(5), u) == 0.0
    with pytest.raises(ShapeError, match="different sizes"):
        cosine_similarity(u, np.ones(4))


def test_most_similar_and_analogy_on_a_planted_table():
    words = ["man", "woman", "king", "queen", "apple", "orange"]
    m = np.array([[1, 0, 0, 0], [-1, 0, 0, 0], [1, 1, 0, 0], [-1, 1, 0, 0],
                  [0, 0, 1, 0.1], [0, 0, 1, -0.1]], dtype=np.float64)
    wv = WordVectors(words, m)
    assert wv.analogy("man", "woman", "king") == "queen"
    assert wv.analogy("woman", "man", "queen") == "king"
    assert wv.most_similar("apple", k=1)[0][0] == "orange"
    assert "apple" not in [w for w, _ in wv.most_similar("apple", k=5)]
    assert wv.most_similar(positive=["woman", "king"], negative=["man"], k=1)[0][0] == "queen"
    with pytest.raises(ValueError, match="give a word"):
        wv.most_similar()
    top = wv.most_similar(wv["king"], k=1)  # a vector query keeps the word itself
    assert top[0][0] == "king" and top[0][1] == pytest.approx(1.0)
    assert wv.nearest("apple", k=1)[0] == ("orange", pytest.approx(0.2))
    three = wv.analogy("man", "woman", "king", k=3)
    assert [w for w, _ in three][0] == "queen" and len(three) == 3
    assert {"man", "woman", "king"}.isdisjoint(w for w, _ in three)


def test_most_similar_is_vectorized_argsort_of_all_similarities():
    wv = table(200, 16)
    sims = np.array([wv.similarity("w3", w) for w in wv.words])
    sims[3] = -np.inf
    want = [wv.words[i] for i in np.argsort(-sims)[:10]]
    assert [w for w, _ in wv.most_similar("w3", k=10)] == want
    np.testing.assert_allclose(wv.similarities("w3"), [wv.similarity("w3", w) for w in wv.words],
                               rtol=1e-10)


def test_unknown_word_is_a_clear_error():
    wv = WordVectors(["king", "queen"], np.eye(2))
    with pytest.raises(UnknownWordError, match="'King' is not in the vocabulary.*'king'"):
        wv["King"]
    with pytest.raises(KeyError):
        wv.analogy("man", "woman", "king")
    with pytest.raises(ValueError, match="appears twice"):
        WordVectors(["a", "a"], np.eye(2))
    with pytest.raises(ShapeError, match="2 words but 3 rows"):
        WordVectors(["a", "b"], np.eye(3))


def test_embedding_matrix_times_one_hot_is_the_lookup():
    wv = table(30, 6)
    E = wv.embedding_matrix()
    assert E.shape == (6, 30)
    for w in ("w0", "w7", "w29"):
        np.testing.assert_allclose(E @ wv.one_hot(w), wv[w])
    emb = Embedding.from_vectors(wv.vectors)
    idx = np.array([[0, 7], [29, 3]])
    np.testing.assert_allclose(emb(idx).data, wv.vectors[idx].astype(emb.weight.dtype))


def test_embedding_from_vectors_for_a_vocab_is_frozen_and_pads_with_zeros():
    wv = WordVectors(["the", "cat", "sat"], np.arange(12, dtype=np.float32).reshape(3, 4))
    vocab = WordVocab(["cat", "sat", "dog"])
    emb = Embedding.from_vectors(wv, vocab)
    assert emb.weight.shape == (len(vocab), 4) and emb.padding_idx == 0
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb.weight.data[vocab.ids["cat"]], wv["cat"])
    np.testing.assert_array_equal(emb.weight.data[vocab.ids["dog"]], 0)
    np.testing.assert_array_equal(emb.weight.data[0], 0)
    trainable = Embedding.from_vectors(wv, vocab, freeze=False)
    assert trainable.weight.requires_grad
    with pytest.raises(ShapeError, match="from_vectors"):
        Embedding.from_vectors(np.ones(3))


@pytest.mark.parametrize("fmt,name", [("glove", "v.txt"), ("word2vec", "v.w2v.txt"),
                                      ("word2vec-binary", "v.bin"),
                                      ("safetensors", "v.safetensors")])
def test_formats_round_trip(tmp_path, fmt, name):
    wv = WordVectors(["über", "king", "queen", "a"],
                     np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32))
    path = tmp_path / name
    wv.save(path, format=fmt)
    back = WordVectors.load(path)  # the format guessed from extension and header
    assert back.words == wv.words
    np.testing.assert_allclose(back.vectors, wv.vectors, rtol=1e-5, atol=1e-6)


def test_words_with_unicode_spaces_load(tmp_path):
    path = tmp_path / "nbsp.txt"
    path.write_text("a\u00a0b 1 2\nc 3 4\n", encoding="utf-8")
    wv = load_vectors(path)
    assert wv.words == ["a\u00a0b", "c"] and wv["c"].tolist() == [3, 4]


def test_word2vec_binary_without_newlines_as_gensim_writes(tmp_path):
    m = np.random.default_rng(1).standard_normal((3, 4)).astype("<f4")
    data = b"3 4\n" + b"".join(w.encode() + b" " + r.tobytes() for w, r in
                               zip(["a", "bb", "ccc"], m, strict=True))
    (tmp_path / "g.bin").write_bytes(data)
    wv = load_vectors(tmp_path / "g.bin")
    assert wv.words == ["a", "bb", "ccc"]
    np.testing.assert_array_equal(wv.vectors, m)


def test_bad_files_are_clear_errors(tmp_path):
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 2 has 2 numbers, expected 3.*ragged"):
        load_vectors(ragged)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"a 1 2\n\xe9t\xe9 3 4\n")
    with pytest.raises(ValueError, match="line 2 is not UTF-8"):
        load_vectors(latin)
    nan = tmp_path / "nan.txt"
    nan.write_text("a 1 2\nb 1 x\n")
    with pytest.raises(ValueError, match="line 2 has a value that is not a number"):
        load_vectors(nan)
    header = tmp_path / "h.txt"
    header.write_text("3 2\na 1 2\n")
    with pytest.raises(ValueError, match="header says 3 words"):
        load_vectors(header)
    short = tmp_path / "short.bin"
    short.write_bytes(b"2 4\na " + np.ones(4, "<f4").tobytes())
    with pytest.raises(ValueError, match="truncated"):
        load_vectors(short)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no vectors"):
        load_vectors(empty)
    with pytest.raises(FileNotFoundError):
        load_vectors(tmp_path / "missing.txt")
    other = tmp_path / "m.safetensors"
    dl.io.save(dl.nn.Linear(2, 2), other)
    with pytest.raises(ValueError, match="not dlkit word vectors"):
        load_vectors(other)


def test_agrees_with_gensim_keyedvectors():
    gensim_models = pytest.importorskip("gensim.models")
    wv = table(300, 12, seed=3)
    kv = gensim_models.KeyedVectors(12)
    kv.add_vectors(wv.words, wv.vectors)
    assert wv.similarity("w1", "w2") == pytest.approx(kv.similarity("w1", "w2"), rel=1e-5)
    mine = [w for w, _ in wv.most_similar("w5", k=10)]
    assert mine == [w for w, _ in kv.most_similar("w5", topn=10)]
    for a, b, c in [("w1", "w2", "w3"), ("w10", "w20", "w30"), ("w7", "w0", "w99")]:
        theirs = [w for w, _ in kv.most_similar(positive=[b, c], negative=[a], topn=5)]
        assert [w for w, _ in wv.analogy(a, b, c, k=5, normalize=True)] == theirs
    query = {"positive": ["w3", "w4", "w9"], "negative": ["w8"]}
    assert [w for w, _ in wv.most_similar(k=7, **query)] == \
        [w for w, _ in kv.most_similar(topn=7, **query)]
    unit = table(300, 12, seed=4, unit=True)  # unit rows: the notes' e_b - e_a + e_c is gensim's
    kv2 = gensim_models.KeyedVectors(12)
    kv2.add_vectors(unit.words, unit.vectors)
    assert unit.analogy("w1", "w2", "w3") == kv2.most_similar(positive=["w2", "w3"],
                                                                negative=["w1"], topn=1)[0][0]


def test_project_2d_and_plot_words(tmp_path):
    from dlkit.text.plot_words import plot_words, project_2d
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.1, (5, 6)) + 3, rng.normal(0, 0.1, (5, 6)) - 3]
    xy = project_2d(X, "pca")
    assert xy.shape == (10, 2)
    assert np.sign(xy[:5, 0]).tolist() == [np.sign(xy[0, 0])] * 5 != np.sign(xy[5:, 0]).tolist()
    ts = project_2d(X, "tsne")
    centre = ts[:5].mean(0), ts[5:].mean(0)
    assert np.linalg.norm(centre[0] - centre[1]) > 2 * ts[:5].std(0).max()
    wv = WordVectors([f"w{i}" for i in range(10)], X)
    path = plot_words(wv, wv.words, tmp_path / "words.png", "pca", groups=[0] * 5 + [1] * 5)
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="method"):
        project_2d(X, "umap")
    with pytest.raises(UnknownWordError):
        plot_words(wv, ["w1", "w2", "nope"], tmp_path / "x.png")


def test_evaluate_analogies_matches_analogy_and_gensim(tmp_path):
    from dlkit.text.vectors import read_analogy_questions
    wv = table(120, 10, seed=5)
    rng = np.random.default_rng(1)
    quads = [tuple(f"w{i}" for i in rng.choice(120, 4, replace=False)) for _ in range(60)]
    # plant some correct answers
    quads += [(a, b, c, wv.analogy(a, b, c, normalize=True)) for a, b, c, _ in quads[:20]]
    acc, correct, used = wv.evaluate_analogies(quads + [("w1", "w2", "w3", "nope")])
    assert used == 80
    assert correct == sum(wv.analogy(a, b, c, normalize=True) == d for a, b, c, d in quads)
    assert correct >= 20 and acc == pytest.approx(correct / 80)
    path = tmp_path / "questions-words.txt"
    path.write_text(": capital-common-countries\n" + "\n".join(" ".join(q).upper()
                                                            for q in quads[:5]) + "\n")
    sections = read_analogy_questions(path)
    assert list(sections) == ["capital-common-countries"] and len(sections[
        "capital-common-countries"]) == 5
    assert wv.evaluate_analogies(sections["capital-common-countries"])[2] == 5
    gensim_models = pytest.importorskip("gensim.models")
    kv = gensim_models.KeyedVectors(10)
    kv.add_vectors(wv.words, wv.vectors)
    score, _ = kv.evaluate_word_analogies(str(path))
    assert score == pytest.approx(wv.evaluate_analogies(sections["capital-common-countries"])[0])
    bad = tmp_path / "bad.txt"
    bad.write_text(": s\na b c\n")
    with pytest.raises(ValueError, match="line 2 has 3 words"):
        read_analogy_questions(bad)
