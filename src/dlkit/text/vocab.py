"""Vocabularies: tokens <-> integer ids, with the notes' special tokens (course 5, week 1).

Ids 0, 1, 2 are always ``<PAD>`` (fills short sequences of a batch; never predicted),
``<UNK>`` (any token not in the vocabulary: the notes map "Mau" to UNK) and ``<EOS>``
(the end of a sentence or name; a language model also reads it as x<1>, the start).
The corpus's own tokens follow, in a fixed order, so a vocabulary built twice from the same
corpus is the same. Saved as JSON (``save`` / ``load_vocab``): no pickle.

    vocab = CharVocab.from_corpus(names, lower=True)     # 3 specials + 26 letters
    vocab.encode("tyrannosaurus")                         # [22, 27, 20, 3, ...]
    vocab.decode(vocab.encode("rex", add_eos=True))       # "rex"
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from dlkit.io.files import atomic_write_bytes

PAD, UNK, EOS = "<PAD>", "<UNK>", "<EOS>"
SPECIALS = (PAD, UNK, EOS)
PAD_ID, UNK_ID, EOS_ID = 0, 1, 2
FORMAT = "dlkit.vocab"
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")


class Vocab:
    """Tokens <-> ids. Subclasses say how a text splits into tokens and joins back."""

    level = ""

    def __init__(self, tokens: Iterable[str], lower: bool = False) -> None:
        tokens = list(tokens)
        if tokens[:len(SPECIALS)] == list(SPECIALS):
            tokens = tokens[len(SPECIALS):]
        seen: set[str] = set()
        for t in tokens:
            if not isinstance(t, str) or not t:
                raise ValueError(f"{type(self).__name__}: tokens must be non-empty strings, "
                                 f"got {t!r}")
            if t in seen or t in SPECIALS:
                raise ValueError(f"{type(self).__name__}: token {t!r} appears twice")
            seen.add(t)
        self.lower = bool(lower)
        self.tokens: list[str] = [*SPECIALS, *tokens]
        self.ids: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    # ---- building ---------------------------------------------------------------------
    @classmethod
    def from_corpus(cls, corpus: str | Iterable[str], lower: bool = False, min_count: int = 1,
                    max_size: int | None = None) -> Vocab:
        """The tokens of ``corpus`` (a text, or lines) seen at least ``min_count`` times;
        with ``max_size``, only the most frequent (the specials not counted)."""
        lines = [corpus] if isinstance(corpus, str) else list(corpus)
        counts: Counter[str] = Counter()
        probe = cls([], lower)
        for line in lines:
            if not isinstance(line, str):
                raise TypeError(f"{cls.__name__}.from_corpus: expected a text or lines of "
                                f"text, got an item of type {type(line).__name__}")
            counts.update(probe.tokenize(line))
        for special in SPECIALS:
            counts.pop(special, None)
        if min_count < 1:
            raise ValueError(f"{cls.__name__}.from_corpus: expected min_count >= 1, got "
                             f"{min_count}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"{cls.__name__}.from_corpus: expected max_size >= 0, got "
                             f"{max_size}")
        kept = [(t, c) for t, c in counts.items() if c >= min_count]
        kept.sort(key=lambda tc: (-tc[1], tc[0]))  # most frequent first, ties alphabetical
        if max_size is not None:
            kept = kept[:max_size]
        return cls(cls._order([t for t, _ in kept]), lower)

    @staticmethod
    def _order(tokens: list[str]) -> list[str]:
        return tokens

    # ---- tokens -----------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def detokenize(self, tokens: Sequence[str]) -> str:
        raise NotImplementedError

    # ---- ids --------------------------------------------------------------------------
    pad_id, unk_id, eos_id = PAD_ID, UNK_ID, EOS_ID

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.ids

    def __eq__(self, other: object) -> bool:
        return (type(self) is type(other) and self.tokens == other.tokens
                and self.lower == other.lower)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self.tokens), self.lower))

    def __repr__(self) -> str:
        shown = ", ".join(repr(t) for t in self.tokens[len(SPECIALS):][:8])
        more = ", ..." if len(self) > len(SPECIALS) + 8 else ""
        return f"{type(self).__name__}({len(self)} tokens: specials, {shown}{more})"

    def index(self, token: str) -> int:
        """The id of ``token``; ``<UNK>``'s id for a token not in the vocabulary."""
        return self.ids.get(token, UNK_ID)

    def token(self, i: int) -> str:
        if not 0 <= int(i) < len(self.tokens):
            raise IndexError(f"{type(self).__name__}: id {i} is out of range [0, {len(self)})")
        return self.tokens[int(i)]

    def encode(self, text: str, add_eos: bool = False) -> list[int]:
        """The ids of the tokens of ``text`` (unknown tokens -> ``<UNK>``), then ``<EOS>``
        when ``add_eos``."""
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}.encode: expected a string, got "
                            f"{type(text).__name__}")
        ids = [self.ids.get(t, UNK_ID) for t in self.tokenize(text)]
        return ids + [EOS_ID] if add_eos else ids

    def decode(self, ids: Iterable[Any], stop_at_eos: bool = True) -> str:
        """The text of ``ids``: ``<PAD>`` is dropped, ``<EOS>`` ends the text (or is dropped,
        without ``stop_at_eos``), ``<UNK>`` is written as ``"<UNK>"``."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                if stop_at_eos:
                    break
                continue
            if i != PAD_ID:
                out.append(self.token(i))
        return self.detokenize(out)

    # ---- files ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": 1, "level": self.level, "lower": self.lower,
                "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocab:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("load_vocab: not a dlkit vocabulary (expected a JSON object with "
                             f"\"format\": \"{FORMAT}\")")
        level = data.get("level")
        if level not in LEVELS:
            raise ValueError(f"load_vocab: unknown vocabulary level {level!r}; expected one of "
                             f"{sorted(LEVELS)}")
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or tokens[:len(SPECIALS)] != list(SPECIALS):
            raise ValueError(f"load_vocab: the tokens must start with {list(SPECIALS)}")
        return LEVELS[level](tokens, bool(data.get("lower", False)))

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (atomically)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n"
        atomic_write_bytes(path, text.encode("utf-8"), f"{type(self).__name__}.save")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by ``save`` (a ``CharVocab`` or a ``WordVocab``)."""
        return load_vocab(path)


class CharVocab(Vocab):
    """One token per character (the notes' character-level model: a-z, maybe space, digits,
    capitals, punctuation, as the corpus has them). The corpus's characters come sorted, as
    the course's ``sorted(set(data))``. ``lower`` lowercases texts before encoding."""

    level = "char"

    @staticmethod
    def _order(tokens: list[str]) -> list[str]:
        return sorted(tokens)

    def tokenize(self, text: str) -> list[str]:
        return list(text.lower() if self.lower else text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


class WordVocab(Vocab):
    """One token per word or punctuation mark (``\\w+`` or one other non-space character),
    most frequent first; ``max_size=10000`` keeps the notes' 10,000 most common words and
    the rest become ``<UNK>``. Decoding joins the tokens with spaces."""

    level = "word"

    def tokenize(self, text: str) -> list[str]:
        return WORD_PATTERN.findall(text.lower() if self.lower else text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


LEVELS: dict[str, type[Vocab]] = {"char": CharVocab, "word": WordVocab}


def load_vocab(path: str | os.PathLike) -> Vocab:
    """The vocabulary saved at ``path`` (``FileNotFoundError`` when missing, ``ValueError``
    when it is not a dlkit vocabulary)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_vocab: no such file: {path!r}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"load_vocab: {path!r} is not valid JSON ({e})") from None
    return Vocab.from_dict(data)


__all__ = ["EOS", "EOS_ID", "PAD", "PAD_ID", "SPECIALS", "UNK", "UNK_ID", "CharVocab", "Vocab",
           "WordVocab", "load_vocab"]
