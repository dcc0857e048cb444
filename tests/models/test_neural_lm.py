"""The fixed-window neural language model learns the next word and, with it, embeddings."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.models.neural_lm import NeuralLM, context_windows
from dlkit.text.vectors import WordVectors


def test_context_windows():
    X, y = context_windows([5, 6, 7, 8, 9], 2)
    assert X.tolist() == [[5, 6], [6, 7], [7, 8]] and y.tolist() == [7, 8, 9]
    X, y = context_windows([5, 6, 7, 8, 9], 2, sentences=[0, 0, 0, 1, 1])
    assert X.tolist() == [[5, 6]] and y.tolist() == [7]
    with pytest.raises(ValueError, match="too few"):
        context_windows([1, 2], 2)


def test_neural_lm_learns_and_its_embeddings_group_words():
    rng = np.random.default_rng(0)
    royals, animals = ["king", "queen", "prince"], ["dog", "cat", "horse"]
    sentences = []
    for _ in range(400):
        if rng.random() < 0.5:
            sentences.append(["the", royals[rng.integers(3)], "rules", "the", "realm", "."])
        else:
            sentences.append(["a", animals[rng.integers(3)], "eats", "some", "grass", "."])
    words = sorted({w for s in sentences for w in s})
    index = {w: i for i, w in enumerate(words)}
    ids = np.array([index[w] for s in sentences for w in s])
    X, y = context_windows(ids, 2)
    dl.manual_seed(0)
    model = NeuralLM(len(words), context=2, dim=8, hidden=32)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    hist = dl.train.fit(model, "cross_entropy", opt, X, y, epochs=8, batch_size=64)
    p = np.bincount(y, minlength=len(words)) / len(y)
    unigram_entropy = -(p[p > 0] * np.log(p[p > 0])).sum()
    assert hist.history["loss"][-1] < 0.6 * unigram_entropy
    wv = WordVectors(words, model.embedding.weight.data)
    for w in royals:
        near = [x for x, _ in wv.most_similar(w, 2)]
        assert set(near) <= set(royals) - {w}, (w, near)
    with pytest.raises(ShapeError, match="NeuralLM"):
        model(np.zeros((3, 4), dtype=np.int64))
    clone = dl.nn.config.module_from_config(dl.nn.config.to_config(model))
    assert isinstance(clone, NeuralLM) and clone.context == 2
