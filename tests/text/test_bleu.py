"""BLEU: the notes' worked examples, a reference written from the formula, NLTK and sacreBLEU."""

import math

import pytest

from dlkit.text.bleu import (
    bleu_score,
    brevity_penalty,
    clipped_counts,
    corpus_bleu,
    modified_precision,
    sentence_bleu,
)

REF1 = "the cat is on the mat"
REF2 = "there is a cat on the mat"


def test_notes_unigram_example_is_two_sevenths():
    assert modified_precision("the the the the the the the", [REF1, REF2], 1) == 2 / 7
    assert clipped_counts("the the the the the the the".split(),
                          [REF1.split(), REF2.split()], 1) == (2, 7)


def test_notes_bigram_example_is_four_sixths():
    assert modified_precision("the cat the cat on the mat", [REF1, REF2], 2) == 4 / 6


def test_exact_match_scores_one_and_precisions_one():
    s = bleu_score([REF1], [[REF1, REF2]])
    assert s.score == pytest.approx(1.0)
    assert s.precisions == [1.0] * 4 and s.bp == 1.0


def test_brevity_penalty():
    assert brevity_penalty(7, 6) == 1.0
    assert brevity_penalty(3, 6) == pytest.approx(math.exp(1 - 2))
    assert brevity_penalty(0, 6) == 0.0


def _reference_bleu(hyps, refss):
    """Straight from the formula, with the closest reference length."""
    c = r = 0
    num = [0] * 4
    den = [0] * 4
    for h, refs in zip(hyps, refss):
        h = h.split()
        refs = [x.split() for x in refs]
        c += len(h)
        r += min((len(x) for x in refs), key=lambda n: (abs(n - len(h)), n))
        for n in range(1, 5):
            grams = [tuple(h[i:i + n]) for i in range(len(h) - n + 1)]
            for g in set(grams):
                best = max(sum(tuple(x[i:i + n]) == g for i in range(len(x) - n + 1))
                           for x in refs)
                num[n - 1] += min(grams.count(g), best)
            den[n - 1] += len(grams)
    if min(num) == 0:
        return 0.0
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(sum(math.log(a / b) for a, b in zip(num, den)) / 4)


CASES = [
    (["the cat sat on the mat today"], [["the cat sat on the mat", "a cat was on the mat"]]),
    (["the cat the cat on the mat"], [[REF1, REF2]]),
    (["a b c d e f", "x y z w v"], [["a b c d e f g h"], ["x y z w v u"]]),  # short outputs
    (["the quick brown fox jumps over the lazy dog", "hello there general kenobi"],
     [["the quick brown fox jumped over the lazy dog", "a fast brown fox leaps over a dog"],
      ["hello there general kenobi you are bold", "hi there general kenobi"]]),
    (["completely different words here now"], [["nothing in common at all ok"]]),  # no match
    (["a b"], [["a b c d"]]),  # shorter than 4: no 4-grams
]


@pytest.mark.parametrize("hyps,refs", CASES)
def test_corpus_bleu_matches_formula_reference(hyps, refs):
    assert corpus_bleu(hyps, refs) == pytest.approx(_reference_bleu(hyps, refs), abs=1e-12)


@pytest.mark.parametrize("hyps,refs", CASES)
def test_corpus_bleu_matches_nltk(hyps, refs):
    bleu = pytest.importorskip("nltk.translate.bleu_score")
    import warnings
    h = [x.split() for x in hyps]
    r = [[x.split() for x in rs] for rs in refs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expect = bleu.corpus_bleu(r, h)
    assert corpus_bleu(hyps, refs) == pytest.approx(expect, abs=1e-9)
    sm = bleu.SmoothingFunction()
    for ours, theirs in [("floor", sm.method1), ("add-k", sm.method2), ("exp", sm.method3)]:
        if any(len(x.split()) < 4 for x in hyps):
            continue  # NLTK smooths an order with no n-gram as 0/1; sacreBLEU and we as 0/0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expect = bleu.corpus_bleu(r, h, smoothing_function=theirs)
        assert corpus_bleu(hyps, refs, smoothing=ours) == pytest.approx(expect, abs=1e-9), ours


@pytest.mark.parametrize("hyps,refs", CASES)
def test_corpus_bleu_matches_sacrebleu(hyps, refs):
    sacrebleu = pytest.importorskip("sacrebleu")
    n_refs = max(len(rs) for rs in refs)
    streams = [[rs[j] if j < len(rs) else rs[0] for rs in refs] for j in range(n_refs)]
    # sacreBLEU takes reference streams; pad a missing one with a duplicate (no effect)
    for method in ("none", "floor", "add-k", "exp"):
        got = sacrebleu.corpus_bleu(hyps, streams, tokenize="none", smooth_method=method,
                                    force=True).score / 100
        assert corpus_bleu(hyps, refs, smoothing=method) == pytest.approx(got, abs=1e-9), method


def test_sentence_bleu_effective_order_matches_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    hyp, ref = "a cat sat", "a cat sat down"
    got = sacrebleu.sentence_bleu(hyp, [ref], tokenize="none", smooth_method="none").score
    assert sentence_bleu(hyp, ref, effective_order=True) == pytest.approx(got / 100, abs=1e-9)
    assert sentence_bleu(hyp, ref) == 0.0  # no 4-gram: 0 without effective order


def test_corpus_is_not_mean_of_sentences():
    hyps = ["a b c d e", "a b x y z"]
    refs = [["a b c d e"], ["a b c d e"]]
    mean = (sentence_bleu(hyps[0], refs[0]) + sentence_bleu(hyps[1], refs[1])) / 2
    assert corpus_bleu(hyps, refs) != pytest.approx(mean)


def test_character_level_tokens():
    s = sentence_bleu(list("1979-05-03"), [list("1979-05-03")])
    assert s == pytest.approx(1.0)
    assert sentence_bleu(list("1979-05-04"), [list("1979-05-03")]) < 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="one reference set per hypothesis"):
        corpus_bleu(["a"], [])
    with pytest.raises(ValueError, match="unknown smoothing"):
        corpus_bleu(["a"], [["a"]], smoothing="magic")
    with pytest.raises(ValueError, match="weights"):
        corpus_bleu(["a"], [["a"]], weights=[1.0])
