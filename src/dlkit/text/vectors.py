"""Word vectors (course 5, week 2): a table of embeddings, similarity, analogies, file formats.

A ``WordVectors`` holds a vocabulary (``words``) and a matrix (``vectors``, shape ``(V, d)``:
row i is e_i). The notes' embedding matrix ``E`` is its transpose ``(d, V)``, one word a column,
so that ``E @ o_j == e_j`` for the one-hot ``o_j`` (``embedding_matrix()``, ``one_hot(word)``);
in code a lookup is a row slice, never that product.

    wv = WordVectors.load("glove.6B.50d.txt")            # GloVe text, word2vec text/binary,
    wv.similarity("father", "mother")                     # or .safetensors
    wv.most_similar("king", k=5)                          # [(word, cosine), ...]
    wv.analogy("man", "woman", "king")                    # "queen"

Similarity and distance are computed against the whole vocabulary at once (one matrix-vector
product on unit rows). Files are read strictly: a ragged row, a bad number, a non-UTF-8 byte or
a header that disagrees with the rows raises ``ValueError`` naming the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dlkit.errors import ShapeError
from dlkit.io.files import atomic_write_bytes, read_safetensors, write_safetensors

FORMATS = ("glove", "word2vec", "word2vec-binary", "safetensors")
KIND = "dlkit.word_vectors"


class UnknownWordError(KeyError, ValueError):
    """A word that is not in the vocabulary (a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _as_matrix(x: Any, op: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{op}: expected numeric vectors, got dtype {a.dtype}")
    return a


def cosine_similarity(u: Any, v: Any) -> Any:
    """sim(u, v) = u^T v / (||u||_2 ||v||_2), over the last axis (rows broadcast: ``u`` (d,)
    against ``v`` (n, d) gives (n,)). A zero vector has similarity 0 with everything."""
    u, v = _as_matrix(u, "cosine_similarity"), _as_matrix(v, "cosine_similarity")
    if u.shape[-1] != v.shape[-1]:
        raise ShapeError(f"cosine_similarity: vectors of different sizes {u.shape} and {v.shape}")
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    dot = (u * v).sum(-1)
    den = nu * nv
    return np.where(den > 0, dot / np.where(den > 0, den, 1), 0.0)


def euclidean_distance(u: Any, v: Any) -> Any:
    """||u - v||_2 over the last axis (the notes' other similarity is its negative square)."""
    u, v = _as_matrix(u, "euclidean_distance"), _as_matrix(v, "euclidean_distance")
    if u.shape[-1] != v.shape[-1]:
        raise ShapeError(f"euclidean_distance: vectors of different sizes {u.shape} and "
                         f"{v.shape}")
    return np.linalg.norm(u - v, axis=-1)


class WordVectors:
    """Vocabulary + matrix: ``words[i]`` has the vector ``vectors[i]`` (shape (V, d))."""

    def __init__(self, words: Iterable[str], vectors: Any) -> None:
        words = list(words)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ShapeError(f"WordVectors: expected a (V, d) matrix, got shape {vectors.shape}")
        if vectors.dtype.kind != "f":
            vectors = vectors.astype(np.float32)
        if len(words) != vectors.shape[0]:
            raise ShapeError(f"WordVectors: {len(words)} words but {vectors.shape[0]} rows")
        index: dict[str, int] = {}
        for i, w in enumerate(words):
            if not isinstance(w, str) or not w or any(c in " \t\n\r" for c in w):
                raise ValueError(f"WordVectors: words must be non-empty strings without white "
                                 f"space, got {w!r}")
            if w in index:
                raise ValueError(f"WordVectors: the word {w!r} appears twice")
            index[w] = i
        self.words: list[str] = words
        self.index: dict[str, int] = index
        self.vectors: np.ndarray = vectors
        self._unit: np.ndarray | None = None

    # ---- the table ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim={self.dim}, dtype={self.vectors.dtype})"

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def key(self, word: str) -> int:
        """The row of ``word``; an unknown word raises ``UnknownWordError`` with a hint."""
        try:
            return self.index[word]
        except (KeyError, TypeError):
            hint = ""
            if isinstance(word, str) and word.lower() in self.index:
                hint = f" (did you mean {word.lower()!r}?)"
            raise UnknownWordError(f"the word {word!r} is not in the vocabulary of "
                                   f"{len(self)} words{hint}") from None

    def __getitem__(self, word: str) -> np.ndarray:
        """e_w, the vector of ``word``."""
        return self.vectors[self.key(word)]

    def get(self, word: str, default: Any = None) -> Any:
        i = self.index.get(word)
        return default if i is None else self.vectors[i]

    def unit_vectors(self) -> np.ndarray:
        """The rows scaled to unit length (zero rows stay zero); cached until the table changes."""
        if self._unit is None:
            n = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.where(n > 0, n, 1)
        return self._unit

    def _vector(self, w: str | Any) -> np.ndarray:
        if isinstance(w, str):
            return self[w]
        v = np.asarray(w)
        if v.shape != (self.dim,):
            raise ShapeError(f"WordVectors: expected a word or a vector of shape ({self.dim},), "
                             f"got shape {v.shape}")
        return v

    # ---- the notes' embedding matrix ----------------------------------------------------
    def embedding_matrix(self) -> np.ndarray:
        """E, shape (d, V): column j is e_j, as in the notes (``E @ one_hot(w) == self[w]``)."""
        return self.vectors.T

    def one_hot(self, word: str) -> np.ndarray:
        """o_j, shape (V,): 1 at the row of ``word``."""
        o = np.zeros(len(self), self.vectors.dtype)
        o[self.key(word)] = 1
        return o

    def matrix_for(self, tokens: Sequence[str], missing: str = "zeros",
                   seed: int | None = None) -> np.ndarray:
        """Rows for ``tokens`` in order (e.g. a ``Vocab``'s tokens for ``Embedding.from_vectors``);
        tokens without a vector get zeros (``missing="zeros"``), small random values
        (``"random"``, N(0, 0.1^2)) or raise (``"error"``)."""
        if missing not in ("zeros", "random", "error"):
            raise ValueError(f"matrix_for: missing must be 'zeros', 'random' or 'error', got "
                             f"{missing!r}")
        rows = np.array([self.index.get(t, -1) for t in tokens], dtype=np.int64)
        out = np.zeros((len(rows), self.dim), self.vectors.dtype)
        found = rows >= 0
        out[found] = self.vectors[rows[found]]
        if missing == "error" and not found.all():
            self.key(tokens[int(np.argmin(found))])
        if missing == "random":
            rng = np.random.default_rng(seed)
            out[~found] = 0.1 * rng.standard_normal((int((~found).sum()), self.dim))
        return out

    # ---- similarity ---------------------------------------------------------------------
    def similarity(self, w1: str | Any, w2: str | Any) -> float:
        """Cosine similarity of two words (or vectors)."""
        return float(cosine_similarity(self._vector(w1), self._vector(w2)))

    def similarities(self, word_or_vector: str | Any) -> np.ndarray:
        """Cosine similarity of ``word_or_vector`` with every word, shape (V,)."""
        v = np.asarray(self._vector(word_or_vector), dtype=np.float64)
        n = np.linalg.norm(v)
        if n == 0:
            return np.zeros(len(self))
        return self.unit_vectors() @ (v / n).astype(self.vectors.dtype)

    def distances(self, word_or_vector: str | Any) -> np.ndarray:
        """Euclidean distance ||e_w - v|| from every word to ``word_or_vector``, shape (V,)."""
        return euclidean_distance(self.vectors, self._vector(word_or_vector))

    def _top(self, scores: np.ndarray, k: int, exclude: Iterable[int]) -> list[tuple[str, float]]:
        if k < 1:
            raise ValueError(f"WordVectors: expected k >= 1, got {k}")
        scores = np.array(scores, dtype=np.float64)
        ex = np.fromiter(exclude, dtype=np.int64)
        scores[ex] = -np.inf
        k = min(k, len(self) - len(set(ex.tolist())))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]  # best first, ties by row
        return [(self.words[i], float(scores[i])) for i in top]

    def most_similar(self, word_or_vector: str | Any = None, k: int = 10,
                     exclude: Iterable[str] = (), positive: Sequence[str | Any] = (),
                     negative: Sequence[str | Any] = ()) -> list[tuple[str, float]]:
        """The ``k`` words of highest cosine similarity, best first, as (word, similarity);
        a word given as the query is left out of its own list, as are ``exclude``. As
        gensim's: ``positive`` / ``negative`` words (or vectors) query with the mean of their
        unit vectors, weighted +1 / -1 (``most_similar(positive=["woman", "king"],
        negative=["man"])``), the words given left out."""
        ex = [self.key(w) for w in exclude]
        if positive or negative:
            if word_or_vector is not None:
                positive = [word_or_vector, *positive]
            terms = [(t, 1.0) for t in positive] + [(t, -1.0) for t in negative]
            units = []
            for t, sign in terms:
                v = np.asarray(self._vector(t), dtype=np.float64)
                n = np.linalg.norm(v)
                units.append(sign * (v / n if n > 0 else v))
                if isinstance(t, str):
                    ex.append(self.key(t))
            query = np.mean(units, axis=0)
            return self._top(self.similarities(query), k, ex)
        if word_or_vector is None:
            raise ValueError("most_similar: give a word, a vector, or positive/negative words")
        if isinstance(word_or_vector, str):
            ex.append(self.key(word_or_vector))
        return self._top(self.similarities(word_or_vector), k, ex)

    def nearest(self, word_or_vector: str | Any, k: int = 10,
                exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` words of smallest Euclidean distance, nearest first, as (word, distance)."""
        ex = [self.key(w) for w in exclude]
        if isinstance(word_or_vector, str):
            ex.append(self.key(word_or_vector))
        top = self._top(-self.distances(word_or_vector), k, ex)
        return [(w, -s) for w, s in top]

    def analogy_vector(self, a: str, b: str, c: str, normalize: bool = False) -> np.ndarray:
        """e_b - e_a + e_c (``a`` is to ``b`` as ``c`` is to ?); with ``normalize`` each input
        is first scaled to unit length (gensim's ``most_similar(positive=[b, c],
        negative=[a])``)."""
        m = self.unit_vectors() if normalize else self.vectors
        return (m[self.key(b)].astype(np.float64) - m[self.key(a)] + m[self.key(c)])

    def analogy(self, a: str, b: str, c: str, k: int = 1, normalize: bool = False
                ) -> str | list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to w: the notes' argmax_w sim(e_w, e_b - e_a + e_c),
        the three input words excluded. ``k=1`` gives the word; ``k>1`` the k best as
        (word, similarity)."""
        target = self.analogy_vector(a, b, c, normalize)
        top = self._top(self.similarities(target), k,
                        [self.key(a), self.key(b), self.key(c)])
        return top[0][0] if k == 1 else top

    def evaluate_analogies(self, quads: Iterable[Sequence[str]], normalize: bool = True,
                           lower: bool = True, batch: int = 512) -> tuple[float, int, int]:
        """(accuracy, correct, used) on analogy questions a b c d ("a : b :: c : d"), as
        gensim's ``evaluate_word_analogies``: a question with a word outside the vocabulary is
        skipped; the answer is ``analogy(a, b, c)`` over the whole vocabulary, computed for
        ``batch`` questions at once (one matrix product)."""
        rows = []
        for q in quads:
            words = [w.lower() if lower else w for w in q]
            if len(words) != 4:
                raise ValueError(f"evaluate_analogies: expected questions of 4 words, got {q!r}")
            if all(w in self.index for w in words):
                rows.append([self.index[w] for w in words])
        if not rows:
            return 0.0, 0, 0
        ids = np.array(rows)
        m = self.unit_vectors() if normalize else self.vectors
        unit = self.unit_vectors()
        correct = 0
        for s in range(0, len(ids), batch):
            q = ids[s:s + batch]
            target = m[q[:, 1]].astype(np.float64) - m[q[:, 0]] + m[q[:, 2]]
            target /= np.maximum(np.linalg.norm(target, axis=1, keepdims=True), 1e-30)
            sims = target.astype(unit.dtype) @ unit.T
            sims[np.arange(len(q))[:, None], q[:, :3]] = -np.inf
            correct += int((sims.argmax(axis=1) == q[:, 3]).sum())
        return correct / len(ids), correct, len(ids)

    # ---- editing ------------------------------------------------------------------------
    def copy(self) -> WordVectors:
        return WordVectors(list(self.words), self.vectors.copy())

    def set_vector(self, word: str, vector: Any) -> None:
        self.vectors[self.key(word)] = vector
        self._unit = None

    def subset(self, words: Iterable[str]) -> WordVectors:
        """A table of only ``words`` (each must be known)."""
        words = list(words)
        return WordVectors(words, self.vectors[[self.key(w) for w in words]])

    # ---- files --------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike, format: str | None = None) -> WordVectors:  # noqa: A002
        """Read GloVe text, word2vec text or binary, or safetensors; ``format=None`` guesses
        from the extension (``.safetensors``, ``.bin``) and, for text, the header line."""
        return load_vectors(path, format)

    def save(self, path: str | os.PathLike, format: str | None = None) -> None:  # noqa: A002
        """Write as ``format`` (default from the extension: ``.safetensors``, ``.bin`` for
        word2vec binary, else GloVe text)."""
        save_vectors(self, path, format)


# ---- readers and writers ----------------------------------------------------------------
def _guess_format(path: str, writing: bool) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".safetensors":
        return "safetensors"
    if ext == ".bin":
        return "word2vec-binary"
    if writing:
        return "glove"
    with open(path, "rb") as f:
        first = f.readline(1 << 16)
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return "word2vec"
    return "glove"


def _check_format(format: str, func: str) -> None:  # noqa: A002
    if format not in FORMATS:
        raise ValueError(f"{func}: unknown format {format!r}; expected one of {FORMATS}")


def _check_file(path: str, func: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{func}: no such file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{func}: {path!r} is a folder, expected a vectors file")


def load_vectors(path: str | os.PathLike, format: str | None = None) -> WordVectors:  # noqa: A002
    """Read a vectors file (see ``WordVectors.load``)."""
    path = os.fspath(path)
    _check_file(path, "load_vectors")
    format = format or _guess_format(path, writing=False)  # noqa: A001
    _check_format(format, "load_vectors")
    if format == "safetensors":
        return load_safetensors(path)
    if format == "word2vec-binary":
        return load_word2vec(path, binary=True)
    if format == "word2vec":
        return load_word2vec(path, binary=False)
    return load_glove(path)


def save_vectors(wv: WordVectors, path: str | os.PathLike, format: str | None = None) -> None:  # noqa: A002
    path = os.fspath(path)
    format = format or _guess_format(path, writing=True)  # noqa: A001
    _check_format(format, "save_vectors")
    if format == "safetensors":
        save_safetensors(wv, path)
    elif format == "word2vec-binary":
        save_word2vec(wv, path, binary=True)
    elif format == "word2vec":
        save_word2vec(wv, path, binary=False)
    else:
        save_glove(wv, path)


def _decode(raw: bytes, path: str, line: int, func: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{func}: {path!r} line {line} is not UTF-8 text ({e.reason} at byte "
                         f"{e.start}); vectors files are read as UTF-8") from None


def _parse_text_rows(lines: list[tuple[int, str]], path: str, func: str,
                     dim: int | None = None) -> WordVectors:
    words: list[str] = []
    rows: list[list[str]] = []
    for number, line in lines:
        parts = line.strip(" \t\r\n").split(" ")  # only ASCII spaces separate (a word may
        if parts == [""]:                          # hold other white space, as in GloVe 840B)
            continue
        if dim is None:
            dim = len(parts) - 1
            if dim < 1:
                raise ValueError(f"{func}: {path!r} line {number} has a word and no numbers")
        if len(parts) != dim + 1:
            raise ValueError(f"{func}: {path!r} line {number} has {len(parts) - 1} numbers, "
                             f"expected {dim} as the rows before it (ragged rows)")
        words.append(parts[0])
        rows.append(parts[1:])
    if not words:
        raise ValueError(f"{func}: {path!r} has no vectors")
    try:
        matrix = np.array(rows, dtype=np.float32)
    except ValueError:
        for (number, _), row in zip(lines, rows, strict=False):
            try:
                np.array(row, dtype=np.float32)
            except ValueError:
                raise ValueError(f"{func}: {path!r} line {number} has a value that is not a "
                                 "number") from None
        raise
    return WordVectors(words, matrix)


def _read_lines(path: str, func: str) -> list[tuple[int, str]]:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{func}: {path!r} line {line} is not UTF-8 text ({e.reason}); "
                         "vectors files are read as UTF-8") from None
    return [(i + 1, s) for i, s in enumerate(text.split("\n")) if s.strip()]


def load_glove(path: str | os.PathLike) -> WordVectors:
    """GloVe text: one ``word x1 x2 ... xd`` a line, no header."""
    path = os.fspath(path)
    _check_file(path, "load_glove")
    return _parse_text_rows(_read_lines(path, "load_glove"), path, "load_glove")


def _header(line: str, path: str, func: str) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{func}: {path!r} line 1 should be the header 'count dim', got "
                         f"{line[:60]!r} (a GloVe file has no header: use format='glove')")
    return int(parts[0]), int(parts[1])


def load_word2vec(path: str | os.PathLike, binary: bool = False) -> WordVectors:
    """word2vec format: a header ``V d`` then V rows, as text (``word x1 ... xd``) or binary
    (``word`` + space + d little-endian float32, optionally a newline)."""
    path = os.fspath(path)
    func = "load_word2vec"
    _check_file(path, func)
    if not binary:
        lines = _read_lines(path, func)
        if not lines:
            raise ValueError(f"{func}: {path!r} is empty")
        count, dim = _header(lines[0][1], path, func)
        wv = _parse_text_rows(lines[1:], path, func, dim)
        if len(wv) != count:
            raise ValueError(f"{func}: {path!r} header says {count} words, the file has "
                             f"{len(wv)}")
        return wv
    with open(path, "rb") as f:
        data = f.read()
    end = data.find(b"\n")
    if end < 0:
        raise ValueError(f"{func}: {path!r} has no header line")
    count, dim = _header(_decode(data[:end], path, 1, func), path, func)
    pos, width = end + 1, 4 * dim
    words: list[str] = []
    matrix = np.empty((count, dim), dtype=np.float32)
    for i in range(count):  # a scan for each word's end (words have any length)
        while pos < len(data) and data[pos:pos + 1] in (b"\n", b"\r", b" "):
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + width > len(data):
            raise ValueError(f"{func}: {path!r} ends after {i} of the {count} words in its "
                             "header (truncated?)")
        words.append(_decode(data[pos:space], path, i + 2, func))
        matrix[i] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + width
    return WordVectors(words, matrix)


def read_analogy_questions(path: str | os.PathLike) -> dict[str, list[tuple[str, ...]]]:
    """Analogy questions in the word2vec ``questions-words.txt`` format: ``: section`` lines,
    then one ``a b c d`` a line. Returns {section: [(a, b, c, d), ...]}."""
    path = os.fspath(path)
    _check_file(path, "read_analogy_questions")
    sections: dict[str, list[tuple[str, ...]]] = {}
    current = "questions"
    for number, line in _read_lines(path, "read_analogy_questions"):
        if line.startswith(":"):
            current = line[1:].strip() or f"section {len(sections) + 1}"
            sections.setdefault(current, [])
            continue
        words = line.split()
        if len(words) != 4:
            raise ValueError(f"read_analogy_questions: {path!r} line {number} has "
                             f"{len(words)} words, expected 4 (a b c d)")
        sections.setdefault(current, []).append(tuple(words))
    if not any(sections.values()):
        raise ValueError(f"read_analogy_questions: {path!r} has no questions")
    return sections


def _format_rows(wv: WordVectors) -> str:
    body = [w + " " + " ".join(f"{x:.6g}" for x in row)
            for w, row in zip(wv.words, wv.vectors.tolist(), strict=True)]
    return "\n".join(body) + "\n"


def save_glove(wv: WordVectors, path: str | os.PathLike) -> None:
    atomic_write_bytes(path, _format_rows(wv).encode("utf-8"), "save_glove")


def save_word2vec(wv: WordVectors, path: str | os.PathLike, binary: bool = False) -> None:
    header = f"{len(wv)} {wv.dim}\n".encode()
    if not binary:
        atomic_write_bytes(path, header + _format_rows(wv).encode("utf-8"), "save_word2vec")
        return
    rows = wv.vectors.astype("<f4")
    parts = [header]
    for w, row in zip(wv.words, rows, strict=True):
        parts += [w.encode("utf-8"), b" ", row.tobytes(), b"\n"]
    atomic_write_bytes(path, b"".join(parts), "save_word2vec")


def save_safetensors(wv: WordVectors, path: str | os.PathLike) -> None:
    """The matrix as the tensor ``vectors``, the words as JSON in the metadata."""
    write_safetensors(path, {"vectors": wv.vectors},
                      {"kind": KIND, "words": json.dumps(wv.words, ensure_ascii=False)},
                      "save_vectors")


def load_safetensors(path: str | os.PathLike) -> WordVectors:
    tensors, metadata = read_safetensors(path, "load_vectors")
    if metadata.get("kind") != KIND or "vectors" not in tensors or "words" not in metadata:
        raise ValueError(f"load_vectors: {os.fspath(path)!r} is a safetensors file but not "
                         "dlkit word vectors (no 'vectors' tensor and 'words' metadata)")
    return WordVectors(json.loads(metadata["words"]), tensors["vectors"])


__all__ = [
    "FORMATS", "UnknownWordError", "WordVectors", "cosine_similarity", "euclidean_distance",
    "load_glove", "load_safetensors", "load_vectors", "load_word2vec", "read_analogy_questions",
    "save_glove",
    "save_safetensors", "save_vectors", "save_word2vec",
]
