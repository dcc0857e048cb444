"""Debiasing word vectors (course 5 week 2; Bolukbasi et al., 2016).

- the bias direction g: ``e_woman - e_man`` for one definitional pair, the mean of the pairs'
  differences, or the first principal component of the pairs' centred vectors (``method="pca"``);
- ``neutralize(e, g)``: e - (e . g / ||g||^2) g, so a word such as "receptionist" has no
  component on g;
- ``equalize(pair, g, vectors)``: the course's equations, so that the two words of a pair
  ("actor", "actress") differ only along g, symmetrically, and are equidistant from every
  neutralized word;
- ``debias(vectors, definitional, equalize_pairs, gender_specific)``: both over a whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dlkit.errors import ShapeError
from dlkit.text.vectors import WordVectors

DEFINITIONAL_PAIRS = [("man", "woman"), ("he", "she"), ("boy", "girl"), ("father", "mother"),
                      ("son", "daughter"), ("king", "queen"), ("his", "her"),
                      ("brother", "sister"), ("male", "female"), ("himself", "herself")]
EQUALIZE_PAIRS = [("actor", "actress"), ("boy", "girl"), ("boyfriend", "girlfriend"),
                  ("father", "mother"), ("gentleman", "lady"), ("grandfather", "grandmother"),
                  ("king", "queen"), ("man", "woman"), ("brother", "sister"), ("he", "she")]


def _pairs(pairs: Sequence[tuple[str, str]], func: str) -> list[tuple[str, str]]:
    out = []
    for p in pairs:
        if isinstance(p, str) or len(p) != 2:
            raise ValueError(f"{func}: expected pairs of words like ('man', 'woman'), got {p!r}")
        out.append((p[0], p[1]))
    if not out:
        raise ValueError(f"{func}: expected at least one pair of words")
    return out


def bias_direction(vectors: WordVectors, pairs: Sequence[tuple[str, str]] = (("man", "woman"),),
                   method: str = "difference") -> np.ndarray:
    """g, shape (d,): for pairs (a, b), the mean of e_b - e_a (``"difference"``; one pair gives
    the notes' e_woman - e_man), or the first principal component of the vectors centred on
    each pair's mean (``"pca"``), signed to point as the mean difference."""
    pairs = _pairs(pairs, "bias_direction")
    a = np.stack([vectors[p[0]] for p in pairs]).astype(np.float64)
    b = np.stack([vectors[p[1]] for p in pairs]).astype(np.float64)
    diff = (b - a).mean(axis=0)
    if method == "difference":
        return diff
    if method != "pca":
        raise ValueError(f"bias_direction: method must be 'difference' or 'pca', got {method!r}")
    mu = (a + b) / 2
    centred = np.concatenate([a - mu, b - mu])
    g = np.linalg.svd(centred, full_matrices=False)[2][0]
    return g if g @ diff >= 0 else -g


def _axis(g: Any, d: int, func: str) -> np.ndarray:
    g = np.asarray(g, dtype=np.float64)
    if g.shape != (d,):
        raise ShapeError(f"{func}: the bias axis has shape {g.shape}, expected ({d},)")
    if not np.any(g):
        raise ValueError(f"{func}: the bias axis is the zero vector")
    return g


def projection(e: Any, g: Any) -> np.ndarray:
    """e^bias_component = (e . g / ||g||_2^2) g, for one vector (d,) or rows (n, d)."""
    e = np.asarray(e, dtype=np.float64)
    g = _axis(g, e.shape[-1], "projection")
    return (e @ g / (g @ g))[..., None] * g


def neutralize(e: Any, g: Any) -> np.ndarray:
    """e^debiased = e - e^bias_component: removes the component of ``e`` (d,) or (n, d) on g."""
    e = np.asarray(e, dtype=np.float64)
    return e - projection(e, g)


def equalize_vectors(e_w1: Any, e_w2: Any, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """The course's equalization of one pair:

        mu = (e_w1 + e_w2) / 2,  mu_B = proj_g(mu),  mu_perp = mu - mu_B,
        e_wiB = proj_g(e_wi),
        e_wiB^corrected = sqrt(|1 - ||mu_perp||^2|) (e_wiB - mu_B) / ||(e_wi - mu_perp) - mu_B||,
        e_i = e_wiB^corrected + mu_perp.
    """
    e1, e2 = np.asarray(e_w1, np.float64), np.asarray(e_w2, np.float64)
    if e1.shape != e2.shape or e1.ndim != 1:
        raise ShapeError(f"equalize: expected two vectors of one shape (d,), got {e1.shape} and "
                         f"{e2.shape}")
    g = _axis(g, e1.shape[0], "equalize")
    mu = (e1 + e2) / 2
    mu_b = projection(mu, g)
    mu_perp = mu - mu_b
    e1_b, e2_b = projection(e1, g), projection(e2, g)
    scale = np.sqrt(abs(1 - mu_perp @ mu_perp))
    n1 = np.linalg.norm(e1 - mu_perp - mu_b)
    n2 = np.linalg.norm(e2 - mu_perp - mu_b)
    if min(n1, n2) <= 1e-12 * (np.linalg.norm(e1) + np.linalg.norm(e2) + 1e-300):
        raise ValueError("equalize: the two words have the same vector; "
                         "there is nothing to equalize")
    return scale * (e1_b - mu_b) / n1 + mu_perp, scale * (e2_b - mu_b) / n2 + mu_perp


def equalize(pair: tuple[str, str], g: Any, vectors: WordVectors
             ) -> tuple[np.ndarray, np.ndarray]:
    """The equalized vectors (e_1, e_2) of the words of ``pair`` (as the course's
    ``equalize(pair, bias_axis, word_to_vec_map)``)."""
    (w1, w2), = _pairs([pair], "equalize")
    return equalize_vectors(vectors[w1], vectors[w2], g)


def debias(vectors: WordVectors, definitional: Sequence[tuple[str, str]] = DEFINITIONAL_PAIRS,
           equalize_pairs: Sequence[tuple[str, str]] = EQUALIZE_PAIRS,
           gender_specific: Iterable[str] = (), method: str = "pca",
           skip_missing: bool = True) -> tuple[WordVectors, np.ndarray]:
    """A debiased copy of the table and the axis g: g from ``definitional`` pairs
    (``method``), every word neutralized except ``gender_specific`` and the equalize pairs'
    words, then each pair of ``equalize_pairs`` equalized. With ``skip_missing``, pairs with
    a word outside the vocabulary are left out (a table without any definitional pair is an
    error)."""
    def known(pairs: Sequence[tuple[str, str]], func: str) -> list[tuple[str, str]]:
        pairs = _pairs(pairs, func) if pairs else []
        if skip_missing:
            return [p for p in pairs if p[0] in vectors and p[1] in vectors]
        return pairs
    definitional = known(definitional, "debias")
    if not definitional:
        raise ValueError("debias: none of the definitional pairs is in the vocabulary")
    pairs = known(equalize_pairs, "debias")
    g = bias_direction(vectors, definitional, method)
    keep = set(gender_specific) | {w for p in pairs for w in p}
    out = vectors.copy()
    out.vectors = out.vectors.astype(np.float64)
    rows = np.array([i for i, w in enumerate(out.words) if w not in keep], dtype=np.int64)
    out.vectors[rows] = neutralize(out.vectors[rows], g)
    for w1, w2 in pairs:
        e1, e2 = equalize_vectors(out[w1], out[w2], g)
        out.vectors[out.key(w1)], out.vectors[out.key(w2)] = e1, e2
    out.vectors = out.vectors.astype(vectors.vectors.dtype)
    out._unit = None
    return out, g


__all__ = ["DEFINITIONAL_PAIRS", "EQUALIZE_PAIRS", "bias_direction", "debias", "equalize",
           "equalize_vectors", "neutralize", "projection"]
