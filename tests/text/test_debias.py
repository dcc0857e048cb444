"""Debiasing: bias direction, neutralize, equalize, a whole-table pass."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.errors import ShapeError
from dlkit.text.debias import bias_direction, debias, equalize, equalize_vectors, neutralize
from dlkit.text.vectors import WordVectors


def gendered_table(seed=0, d=20):
    """Random unit-ish vectors with a planted gender axis on coordinate 0."""
    rng = np.random.default_rng(seed)
    words = ["man", "woman", "he", "she", "king", "queen", "actor", "actress",
             "receptionist", "engineer", "nurse", "computer", "apple"]
    m = rng.standard_normal((len(words), d)) * 0.2
    sign = {"man": -1, "he": -1, "king": -1, "actor": -1, "woman": 1, "she": 1, "queen": 1,
            "actress": 1, "receptionist": 0.4, "nurse": 0.5, "engineer": -0.3}
    for i, w in enumerate(words):
        m[i, 0] += sign.get(w, 0.0)
    return WordVectors(words, m)


def test_bias_direction_difference_and_pca():
    wv = gendered_table()
    g = bias_direction(wv, [("man", "woman")])
    np.testing.assert_allclose(g, wv["woman"] - wv["man"])
    pc = bias_direction(wv, [("man", "woman"), ("he", "she"), ("king", "queen")], "pca")
    assert np.linalg.norm(pc) == pytest.approx(1.0)
    assert abs(pc[0]) > 0.9 and pc[0] > 0  # the planted axis, pointing man -> woman
    with pytest.raises(ValueError, match="method"):
        bias_direction(wv, [("man", "woman")], "svd")
    with pytest.raises(ValueError, match="pairs of words"):
        bias_direction(wv, ["man"])


def test_neutralize_removes_the_projection(rng):
    g = rng.standard_normal(50)
    e = rng.standard_normal(50)
    d = neutralize(e, g)
    assert abs(d @ g) / np.linalg.norm(g) < 1e-10
    np.testing.assert_allclose(d, e - (e @ g) / (g @ g) * g)  # the course's formula
    rows = neutralize(rng.standard_normal((7, 50)), g)
    assert np.abs(rows @ g).max() / np.linalg.norm(g) < 1e-10
    with pytest.raises(ShapeError, match="bias axis"):
        neutralize(e, g[:3])


def test_equalize_makes_the_pair_symmetric_about_the_axis():
    wv = gendered_table()
    g = bias_direction(wv, [("man", "woman")])
    e1, e2 = equalize(("actor", "actress"), g, wv)
    gu = g / np.linalg.norm(g)
    # same component orthogonal to g, opposite components along g
    np.testing.assert_allclose(e1 - (e1 @ gu) * gu, e2 - (e2 @ gu) * gu, atol=1e-12)
    assert e1 @ gu == pytest.approx(-(e2 @ gu), abs=1e-12)
    assert abs(e1 @ gu) > 0.1
    # equidistant from any neutralized word
    r = neutralize(wv["receptionist"], g)
    assert np.linalg.norm(e1 - r) == pytest.approx(np.linalg.norm(e2 - r), rel=1e-12)
    cos = [v @ g / np.linalg.norm(v) / np.linalg.norm(g) for v in (e1, e2)]
    assert cos[0] == pytest.approx(-cos[1], abs=1e-12)
    with pytest.raises(ValueError, match="nothing to equalize"):
        equalize_vectors(wv["apple"], wv["apple"], g)


def test_debias_over_a_table():
    wv = gendered_table()
    out, g = debias(wv, [("man", "woman"), ("he", "she")], [("actor", "actress"),
                                                           ("missing", "words")],
                    gender_specific=["king", "queen"])
    assert out.words == wv.words and out.vectors.dtype == wv.vectors.dtype
    for w in ("receptionist", "engineer", "nurse", "computer", "apple"):
        assert abs(out[w] @ g) / np.linalg.norm(g) < 1e-6, w  # float64 table: ~1e-16
        assert abs(wv[w] @ g) / np.linalg.norm(g) > 1e-6 or w in ("computer", "apple")
    np.testing.assert_array_equal(out["king"], wv["king"])
    a, b = out["actor"], out["actress"]
    assert a @ g == pytest.approx(-(b @ g))
    before = abs(wv.similarity("receptionist", "woman") - wv.similarity("receptionist", "man"))
    after_d = abs(np.linalg.norm(out["receptionist"] - a) - np.linalg.norm(out["receptionist"] - b))
    assert after_d < 1e-10 and before > 0.05
    with pytest.raises(ValueError, match="none of the definitional pairs"):
        debias(wv, [("x", "y")])
