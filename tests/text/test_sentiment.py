"""Sentiment: sentences_to_indices, model 1 (average), model 2 (LSTM), trained with fit."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.text.embedding_data import EMOJI_CLASSES, sentiment_sentences
from dlkit.text.sentiment import (
    AverageSentiment,
    LSTMSentiment,
    build_sentiment_model,
    predict_sentiment,
    pretrained_vectors,
    sentences_to_indices,
    train_sentiment,
    vocab_from_vectors,
)
from dlkit.text.vectors import WordVectors


@pytest.fixture(scope="module")
def vectors():
    return pretrained_vectors(dim=16, n_sentences=1500, epochs=3)


def test_sentences_to_indices_pads_and_marks_unknown_words():
    wv = WordVectors(["i", "love", "you", "food"], np.eye(4))
    vocab = vocab_from_vectors(wv)
    X = sentences_to_indices(["I love you", "food", "I love Mau"], vocab, max_len=4)
    i, love, you, food = (vocab.ids[w] for w in ("i", "love", "you", "food"))
    assert X.tolist() == [[i, love, you, 0], [food, 0, 0, 0], [i, love, 1, 0]]
    assert sentences_to_indices(["a b c d e"], {"a": 2}, max_len=2).tolist() == [[2, 1]]
    assert sentences_to_indices(["i love", "you"], vocab).shape == (2, 2)
    with pytest.raises(TypeError, match="one string"):
        sentences_to_indices("i love you", vocab)


def test_generated_sentiment_set_is_balanced_and_labelled():
    sentences, labels = sentiment_sentences(100)
    assert len(sentences) == 100 and np.bincount(labels).tolist() == [20] * 5
    assert len(EMOJI_CLASSES) == 5
    assert all(isinstance(s, str) and s for s in sentences)


def test_average_model_is_the_mean_of_the_real_words(vectors):
    model, vocab = build_sentiment_model("average", vectors)
    X = sentences_to_indices(["i love you", "i love you you"], vocab, max_len=6)
    e = model.embedding.weight.data
    want = [e[X[0, :3]].mean(0), e[X[1, :4]].mean(0)]
    logits = model(X).data
    np.testing.assert_allclose(logits, np.stack(want) @ model.head.weight.data.T
                               + model.head.bias.data, rtol=1e-5, atol=1e-6)
    assert not model.embedding.weight.requires_grad
    np.testing.assert_allclose(model.embedding.weight.data[vocab.ids["love"]], vectors["love"])
    with pytest.raises(ShapeError, match="AverageSentiment"):
        model(np.zeros(3, dtype=np.int64))


def test_lstm_model_ignores_padding(vectors):
    dl.manual_seed(0)
    model, vocab = build_sentiment_model("lstm", vectors, n_a=8)
    model.eval()
    short = sentences_to_indices(["i am not happy"], vocab, max_len=4)
    padded = sentences_to_indices(["i am not happy"], vocab, max_len=9)
    np.testing.assert_allclose(model(short).data, model(padded).data, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind,epochs,lr,goal", [("average", 40, 0.1, 0.8),
                                                 ("lstm", 30, 0.02, 0.85)])
def test_models_learn_with_fit(vectors, kind, epochs, lr, goal):
    sentences, labels = sentiment_sentences(300, seed=4)
    result = train_sentiment(kind, vectors, sentences, labels, epochs=epochs, lr=lr, n_a=32)
    assert result.test_accuracy >= goal, result.test_accuracy
    losses = result.history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert not result.model.embedding.weight.requires_grad  # the transfer stayed frozen
    np.testing.assert_allclose(result.model.embedding.weight.data[result.vocab.ids["happy"]],
                               vectors["happy"])
    if kind == "lstm":  # the sequence model reads the negation
        pred = predict_sentiment(result.model, result.vocab, ["i am not happy", "i am so happy"])
        assert pred.tolist() == [3, 2]


def test_models_save_and_load(tmp_path, vectors):
    model, vocab = build_sentiment_model("lstm", vectors, n_a=8)
    dl.io.save(model, tmp_path / "m.safetensors")
    back = dl.io.load(tmp_path / "m.safetensors")
    assert isinstance(back, LSTMSentiment)
    X = sentences_to_indices(["i love pizza"], vocab)
    model.eval()
    back.eval()
    np.testing.assert_allclose(back(X).data, model(X).data)
    assert isinstance(AverageSentiment(10, 4), AverageSentiment)


def test_train_sentiment_bad_input(vectors):
    with pytest.raises(ValueError, match="one label per sentence"):
        train_sentiment("average", vectors, ["a b", "c d"], [0])
    with pytest.raises(ValueError, match="model must be one of"):
        build_sentiment_model("cnn", vectors)
