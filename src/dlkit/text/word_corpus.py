"""Word corpora for embeddings: tokenizing, counting, readers for text8 and plain text.

- ``tokenize(text)``: lowercase words (letters, digits, inner apostrophes), as word2vec's
  preprocessing of text8 keeps them;
- ``read_text8(path)``: the text8 file (one line of space-separated lowercase words);
- ``read_corpus(path)``: a plain UTF-8 text file, one sentence (or paragraph) a line, as
  sentences of tokens;
- ``count_words`` / ``encode``: the vocabulary (most frequent first, ``min_count``) and the
  corpus as integer ids, out-of-vocabulary words dropped (as word2vec does).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from dlkit.text.corpus import read_text

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lowercase words of ``text``: ``"The cat's hat."`` -> ``["the", "cat's", "hat"]``."""
    return TOKEN.findall(text.lower())


def read_corpus(path: str | os.PathLike) -> list[list[str]]:
    """A plain UTF-8 text file as sentences (its non-empty lines) of tokens. An empty corpus,
    a missing file and non-UTF-8 bytes raise ``ValueError`` / ``FileNotFoundError`` naming it."""
    sentences = [t for t in (tokenize(line) for line in read_text(path).splitlines()) if t]
    if not sentences:
        raise ValueError(f"read_corpus: {os.fspath(path)!r} has no words")
    return sentences


def read_text8(path: str | os.PathLike, max_words: int | None = None) -> list[str]:
    """The text8 corpus (Mahoney's cleaned first 10^8 bytes of English Wikipedia: lowercase
    a-z words separated by single spaces, no punctuation, one line) as a list of words."""
    words = read_text(path).split()
    if not words:
        raise ValueError(f"read_text8: {os.fspath(path)!r} has no words")
    bad = next((w for w in words[:1000] if not w.isalpha()), None)
    if bad is not None:
        raise ValueError(f"read_text8: {os.fspath(path)!r} is not text8 (found {bad[:20]!r}; "
                         "text8 has only lowercase letters): use read_corpus for plain text")
    return words[:max_words] if max_words else words


def looks_like_text8(path: str | os.PathLike) -> bool:
    """Whether the file starts as text8 does: lowercase a-z words and single spaces only."""
    with open(path, "rb") as f:
        head = f.read(4096)
    return bool(head.strip()) and re.fullmatch(rb"[a-z ]+", head) is not None


def read_corpus_file(path: str | os.PathLike, format: str = "auto") -> list[list[str]]:  # noqa: A002
    """Sentences of a corpus file: ``"text8"`` (one sentence of up to 10,000 words at a time,
    as gensim's ``Text8Corpus`` splits it), ``"plain"`` (one sentence a line) or ``"auto"``."""
    if format not in ("auto", "text8", "plain"):
        raise ValueError(f"read_corpus_file: format must be auto, text8 or plain, got "
                         f"{format!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_corpus_file: no such file: {path!r}")
    if format == "text8" or (format == "auto" and looks_like_text8(path)):
        words = read_text8(path)
        return [words[i:i + 10000] for i in range(0, len(words), 10000)]
    return read_corpus(path)


def as_sentences(corpus: Sequence[str] | Sequence[Sequence[str]] | str) -> list[list[str]]:
    """A text, a flat list of words (one sentence) or a list of sentences -> sentences."""
    if isinstance(corpus, str):
        return [tokenize(line) for line in corpus.splitlines() if tokenize(line)]
    corpus = list(corpus)
    if not corpus:
        return []
    if isinstance(corpus[0], str):
        return [list(corpus)]
    return [list(s) for s in corpus if len(s)]


def count_words(sentences: Iterable[Sequence[str]], min_count: int = 1,
                max_vocab: int | None = None) -> tuple[list[str], np.ndarray]:
    """The words seen at least ``min_count`` times, most frequent first (ties alphabetical),
    at most ``max_vocab`` of them, and their counts."""
    counts: Counter[str] = Counter()
    for s in sentences:
        counts.update(s)
    kept = sorted(((w, c) for w, c in counts.items() if c >= min_count),
                  key=lambda wc: (-wc[1], wc[0]))
    if max_vocab is not None:
        kept = kept[:max_vocab]
    if not kept:
        raise ValueError(f"count_words: no word occurs at least min_count={min_count} times "
                         f"(the corpus has {sum(counts.values())} words)")
    return [w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64)


def encode(sentences: Iterable[Sequence[str]], index: dict[str, int]
           ) -> tuple[np.ndarray, np.ndarray]:
    """The corpus as one id array and the sentence number of each id (words not in ``index``
    dropped), so windows never cross a sentence boundary."""
    ids: list[int] = []
    sent: list[int] = []
    for k, s in enumerate(sentences):
        row = [index[w] for w in s if w in index]
        ids.extend(row)
        sent.extend([k] * len(row))
    return np.array(ids, dtype=np.int64), np.array(sent, dtype=np.int64)


__all__ = ["as_sentences", "count_words", "encode", "looks_like_text8", "read_corpus",
           "read_corpus_file", "read_text8", "tokenize"]
