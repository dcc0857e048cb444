"""Sentiment classification with word embeddings (course 5 week 2, the Emojify exercise).

- ``sentences_to_indices(sentences, vocab, max_len)``: (m, max_len) word ids, padded with
  ``<PAD>`` (0), unknown words ``<UNK>`` (1), as the exercise's function;
- model 1, ``AverageSentiment``: the mean of the sentence's (non-padding) word vectors ->
  Linear -> softmax (the logits; ``cross_entropy`` applies the softmax);
- model 2, ``LSTMSentiment``: a pretrained, frozen Embedding -> LSTM (all steps) -> Dropout ->
  LSTM (last step) -> Dropout -> Linear, the padding masked so that a short sentence's result
  is its last real word's state;
- ``train_sentiment(...)``: embeddings (given, or word2vec trained on unlabelled generated
  text), a model, ``dl.train.fit``; returns the model, its vocabulary and the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlkit.errors import ShapeError
from dlkit.nn.config import register
from dlkit.nn.dropout import Dropout
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import LSTM, Embedding
from dlkit.tensor import Tensor
from dlkit.text.vectors import WordVectors
from dlkit.text.vocab import PAD_ID, UNK_ID, WordVocab

MODELS = ("average", "lstm")


def vocab_from_vectors(vectors: WordVectors) -> WordVocab:
    """A lowercase word vocabulary of the table's words (after ``<PAD>``, ``<UNK>``,
    ``<EOS>``), so ``Embedding.from_vectors(vectors, vocab)`` lines its rows up with it."""
    return WordVocab([w for w in vectors.words if w not in ("<PAD>", "<UNK>", "<EOS>")],
                     lower=True)


def sentences_to_indices(sentences: Sequence[str], vocab: WordVocab | dict[str, int],
                         max_len: int | None = None) -> np.ndarray:
    """(m, max_len) int64 ids of each sentence's lowercase words, padded with 0 (``<PAD>``);
    unknown words become 1 (``<UNK>``); words past ``max_len`` are cut. ``vocab``: a
    ``WordVocab`` or a dict word -> index (then 0 must be the padding and 1 the unknown)."""
    if isinstance(sentences, str):
        raise TypeError("sentences_to_indices: expected a list of sentences, got one string")
    ids = vocab.ids if isinstance(vocab, WordVocab) else vocab
    tokenized = [WordVocab([], lower=True).tokenize(s.lower()) for s in sentences]
    longest = max((len(t) for t in tokenized), default=0)
    max_len = longest if max_len is None else max_len
    if max_len < 1:
        raise ValueError("sentences_to_indices: expected max_len >= 1 (or non-empty sentences)")
    out = np.full((len(sentences), max_len), PAD_ID, dtype=np.int64)
    for i, words in enumerate(tokenized):  # one row per sentence: a dict look-up per word
        row = [ids.get(w, UNK_ID) for w in words[:max_len]]
        out[i, :len(row)] = row
    return out


def _ids(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x).astype(np.int64)


@register
class AverageSentiment(Module):
    """Model 1: avg = sum_t mask_t e_t / sum_t mask_t, logits = W avg + b."""

    def __init__(self, vocab_size: int, dim: int, n_classes: int = 5,
                 freeze_embedding: bool = True) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, dim, padding_idx=PAD_ID)
        self.embedding.weight.requires_grad = not freeze_embedding
        self.freeze_embedding = freeze_embedding
        self.head = Linear(dim, n_classes, init="xavier")
        self.n_classes = n_classes

    def forward(self, x: Any) -> Tensor:
        idx = _ids(x)
        if idx.ndim != 2:
            raise ShapeError(f"AverageSentiment: expected word ids (m, T), got shape {idx.shape}")
        e = self.embedding(idx)
        mask = self.embedding.mask(idx).astype(e.dtype)
        weights = mask / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        avg = (e * Tensor(weights[:, :, None])).sum(axis=1)
        return self.head(avg)

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.embedding.vocab_size, "dim": self.embedding.dim,
                "n_classes": self.n_classes, "freeze_embedding": self.freeze_embedding}


@register
class LSTMSentiment(Module):
    """Model 2: Embedding (frozen) -> LSTM(n_a, all steps) -> Dropout -> LSTM(n_a, last
    step) -> Dropout -> Linear(n_a, n_classes), with the padding masked in both LSTMs."""

    def __init__(self, vocab_size: int, dim: int, n_classes: int = 5, n_a: int = 128,
                 dropout: float = 0.5, freeze_embedding: bool = True) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, dim, padding_idx=PAD_ID)
        self.embedding.weight.requires_grad = not freeze_embedding
        self.freeze_embedding = freeze_embedding
        self.lstm1 = LSTM(dim, n_a, return_sequences=True)
        self.drop1 = Dropout(dropout)
        self.lstm2 = LSTM(n_a, n_a)
        self.drop2 = Dropout(dropout)
        self.head = Linear(n_a, n_classes, init="xavier")
        self.n_classes, self.n_a, self.dropout = n_classes, n_a, dropout

    def forward(self, x: Any) -> Tensor:
        idx = _ids(x)
        if idx.ndim != 2:
            raise ShapeError(f"LSTMSentiment: expected word ids (m, T), got shape {idx.shape}")
        mask = self.embedding.mask(idx)
        a = self.drop1(self.lstm1(self.embedding(idx), mask=mask))
        return self.head(self.drop2(self.lstm2(a, mask=mask)))

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.embedding.vocab_size, "dim": self.embedding.dim,
                "n_classes": self.n_classes, "n_a": self.n_a, "dropout": self.dropout,
                "freeze_embedding": self.freeze_embedding}


def build_sentiment_model(kind: str, vectors: WordVectors, n_classes: int = 5,
                          freeze: bool = True, **options: Any) -> tuple[Module, WordVocab]:
    """Model ``kind`` ("average" or "lstm") whose embedding rows are ``vectors`` (transfer:
    frozen unless ``freeze=False``), and the vocabulary its ids follow."""
    if kind not in MODELS:
        raise ValueError(f"build_sentiment_model: model must be one of {MODELS}, got {kind!r}")
    vocab = vocab_from_vectors(vectors)
    cls = AverageSentiment if kind == "average" else LSTMSentiment
    model = cls(len(vocab), vectors.dim, n_classes, freeze_embedding=freeze, **options)
    pretrained = Embedding.from_vectors(vectors, vocab, freeze=freeze)
    model.embedding.weight.data[...] = pretrained.weight.data.astype(model.embedding.weight.dtype)
    return model, vocab


def pretrained_vectors(dim: int = 25, n_sentences: int = 4000, seed: int = 1,
                       epochs: int = 5) -> WordVectors:
    """Stand-in for the course's GloVe 50d: skip-gram vectors learned on unlabelled
    generated sentences (a different sample than the labelled set)."""
    from dlkit.text.embedding_data import sentiment_sentences
    from dlkit.text.word2vec import Word2Vec
    from dlkit.text.word_corpus import tokenize
    text = [tokenize(s) for s in sentiment_sentences(n_sentences, seed=seed)[0]]
    return Word2Vec(dim=dim, window=4, min_count=1, sample=0, seed=seed).train(text, epochs).wv


@dataclass
class SentimentResult:
    model: Module
    vocab: WordVocab
    history: Any
    max_len: int
    train_accuracy: float
    test_accuracy: float


def train_sentiment(model: str = "lstm", vectors: WordVectors | None = None,
                    sentences: Sequence[str] | None = None, labels: Any = None,
                    epochs: int = 30, batch_size: int = 32, lr: float = 0.01,
                    test_fraction: float = 0.2, seed: int = 0, n_a: int = 64,
                    callbacks: Sequence[Any] = (), verbose: int = 0) -> SentimentResult:
    """Emojify end to end: labelled sentences (default: ``sentiment_sentences()``), word
    vectors (default: ``pretrained_vectors()``), model 1 (``"average"``) or 2 (``"lstm"``)
    trained with Adam through ``dl.train.fit``; accuracy on a held-out part."""
    import dlkit as dl
    from dlkit.text.embedding_data import sentiment_sentences
    if sentences is None:
        sentences, labels = sentiment_sentences(600, seed=seed)
    if labels is None or len(labels) != len(sentences):
        raise ValueError("train_sentiment: give one label per sentence")
    if len(sentences) < 5:
        raise ValueError(f"train_sentiment: expected at least 5 sentences, got {len(sentences)}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.min() < 0:
        raise ValueError("train_sentiment: labels must be class numbers 0, 1, ...")
    dl.manual_seed(seed)
    vectors = vectors if vectors is not None else pretrained_vectors(seed=seed + 1)
    n_classes = int(labels.max()) + 1
    options = {"n_a": n_a} if model == "lstm" else {}
    net, vocab = build_sentiment_model(model, vectors, max(n_classes, 2), **options)
    X = sentences_to_indices(sentences, vocab)
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    opt = dl.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    history = dl.train.fit(net, "cross_entropy", opt, X[train], labels[train], epochs=epochs,
                           batch_size=batch_size, callbacks=callbacks, verbose=verbose,
                           validation_data=(X[test], labels[test]) if n_test else None)

    def accuracy(rows: np.ndarray) -> float:
        if len(rows) == 0:
            return float("nan")
        net.eval()
        with dl.no_grad():
            pred = net(X[rows]).data.argmax(axis=1)
        net.train()
        return float((pred == labels[rows]).mean())

    return SentimentResult(net, vocab, history, X.shape[1], accuracy(train), accuracy(test))


def predict_sentiment(model: Module, vocab: WordVocab, sentences: Sequence[str],
                      max_len: int | None = None) -> np.ndarray:
    """The predicted class of each sentence."""
    import dlkit as dl
    X = sentences_to_indices(sentences, vocab, max_len)
    model.eval()
    with dl.no_grad():
        return model(X).data.argmax(axis=1)


__all__ = ["MODELS", "AverageSentiment", "LSTMSentiment", "SentimentResult",
           "build_sentiment_model", "predict_sentiment", "pretrained_vectors",
           "sentences_to_indices", "train_sentiment", "vocab_from_vectors"]
