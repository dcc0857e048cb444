"""Greedy and prefix-beam CTC decoding on hand-made tables; edit distance, CER, WER."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dlkit.audio.ctc_decode import collapse, greedy_decode, prefix_beam_search
from dlkit.audio.metrics import cer, edit_distance, wer


def test_collapse_is_the_notes_rule():
    # "ttt_h_eee___" with _ = 0 (blank): t=1, h=2, e=3 -> "the"
    assert collapse([1, 1, 1, 0, 2, 0, 3, 3, 3, 0, 0, 0]) == [1, 2, 3]
    assert collapse([1, 0, 1]) == [1, 1] and collapse([1, 1]) == [1] and collapse([]) == []


def test_greedy_on_a_hand_made_table_and_lengths():
    probs = np.array([[0.1, 0.8, 0.1], [0.1, 0.7, 0.2], [0.8, 0.1, 0.1],
                      [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    assert greedy_decode(np.log(probs)) == [1, 1, 2]
    batch = np.log(np.stack([probs, probs]))
    assert greedy_decode(batch, lengths=[5, 2]) == [[1, 1, 2], [1]]


def test_beam_search_beats_greedy_where_paths_add_up():
    # greedy picks blank, blank ("") with p = 0.36; "a" has 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert greedy_decode(lp) == []
    beam = prefix_beam_search(lp, beam_width=4, return_scores=True)
    assert beam[0][0] == [1] and np.exp(beam[0][1]) == pytest.approx(0.64)
    assert beam[1][0] == [] and np.exp(beam[1][1]) == pytest.approx(0.36)


def _label_probability(probs, label):
    total = 0.0
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        if collapse(path) == list(label):
            total += np.prod(probs[np.arange(len(path)), path])
    return total


def test_wide_beam_finds_the_most_probable_labelling_and_its_probability():
    rng = np.random.default_rng(0)
    for _ in range(5):
        probs = rng.dirichlet(np.ones(3), size=4)
        beam = prefix_beam_search(np.log(probs), beam_width=100, return_scores=True)
        labelling = {tuple(collapse(p)) for p in itertools.product(range(3), repeat=4)}
        best = max(labelling, key=lambda lab: _label_probability(probs, lab))
        assert tuple(beam[0][0]) == best
        for labels, score in beam:
            assert np.exp(score) == pytest.approx(_label_probability(probs, labels))


def test_repeats_need_a_blank_between_them_in_the_beam():
    lp = np.log(np.array([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]]))
    assert prefix_beam_search(lp) == [1, 1]
    lp = np.log(np.array([[0.05, 0.9, 0.05], [0.05, 0.9, 0.05]]))
    assert prefix_beam_search(lp) == [1]


def test_decoding_errors():
    with pytest.raises(ValueError, match=r"\(T, C\) or \(m, T, C\)"):
        greedy_decode(np.zeros(5))
    with pytest.raises(ValueError, match="lengths"):
        greedy_decode(np.zeros((2, 3, 4)), lengths=[4, 1])
    with pytest.raises(ValueError, match="beam_width"):
        prefix_beam_search(np.zeros((3, 4)), beam_width=0)


def test_edit_distance_known_cases():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance(["the", "cat"], ["the", "cat", "sat"]) == 1


def _dp(a, b):
    d = np.arange(len(b) + 1)
    for i, x in enumerate(a, 1):
        prev, d[0] = d.copy(), i
        for j, y in enumerate(b, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (x != y))
    return int(d[-1])


def test_edit_distance_equals_the_textbook_table():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = "".join(rng.choice(list("abc"), rng.integers(0, 8)))
        b = "".join(rng.choice(list("abc"), rng.integers(0, 8)))
        assert edit_distance(a, b) == _dp(a, b)


def test_error_rates_equal_jiwer():
    jiwer = pytest.importorskip("jiwer")
    refs = ["the quick brown fox", "activate the lights", "one two three"]
    hyps = ["the quick brwn fox", "activate lights now", "one too three four"]
    assert cer(refs, hyps) == pytest.approx(jiwer.cer(refs, hyps))
    assert wer(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps))
    assert wer("a b c", "a x c") == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="as many"):
        cer(["a"], ["a", "b"])
