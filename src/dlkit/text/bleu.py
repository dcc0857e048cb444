"""BLEU (Papineni et al., 2002), as the notes (course 5 week 3) define it.

Modified n-gram precision with clipped counts:

    p_n = sum_{n-grams in y_hat} Count_clip(n-gram) / sum_{n-grams in y_hat} Count(n-gram),
    Count_clip = min(Count in y_hat, max over references of the Count in that reference)

("the the the the the the the" against "the cat is on the mat" / "there is a cat on the mat"
has p_1 = 2/7; "the cat the cat on the mat" has p_2 = 4/6.) The combined score is

    BLEU = BP * exp(sum_n w_n log p_n),   w_n = 1/4 for n = 1..4,
    BP = 1 if c > r else exp(1 - r / c)

with c the output length and r the reference length closest to it (the shorter on a tie).
(The notes' slide writes exp(1/4 sum p_n) and exp(1 - c/r); the paper, NLTK and sacreBLEU
take the log of p_n and exp(1 - r/c), and so does this module.) At corpus level the clipped
counts, the n-gram counts and the lengths are summed over all sentences first, then combined
once (not an average of sentence scores).

Without smoothing a zero p_n makes BLEU 0; with no matching unigram it is 0 whatever the
smoothing (as both NLTK and sacreBLEU). An order n for which the output has no n-gram at all
(an output shorter than n) counts as p_n = 0, as sacreBLEU (NLTK divides by max(1, 0) instead,
so its smoothed scores differ there). Smoothing, named after Chen & Cherry (2014) as
NLTK's ``SmoothingFunction`` and sacreBLEU name the methods:

- ``"none"`` (NLTK method0, sacreBLEU 'none'),
- ``"floor"`` (NLTK method1, sacreBLEU 'floor'): a zero count becomes ``epsilon`` (0.1),
- ``"add-k"`` (NLTK method2 with k = 1, sacreBLEU 'add-k'): n >= 2 adds k to both counts,
- ``"exp"`` (NLTK method3, sacreBLEU 'exp', the NIST geometric sequence): the i-th zero
  precision becomes 1 / (2^i * total_n).

Tokens are any hashable items: a string is split on white space; pass ``list(s)`` for a
character-level BLEU. Scores are in [0, 1] (sacreBLEU's score / 100).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

SMOOTHING = {"none": "none", "method0": "none", "floor": "floor", "method1": "floor",
             "add-k": "add-k", "method2": "add-k", "exp": "exp", "method3": "exp"}


def tokens_of(text: Any) -> list[Hashable]:
    """A string split on white space, or a sequence of tokens as a list."""
    if isinstance(text, str):
        return text.split()
    return list(text)


def ngram_counts(tokens: Sequence[Hashable], n: int) -> Counter:
    """Count(n-gram) for every n-gram (a tuple of n consecutive tokens) of ``tokens``."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def clipped_counts(hypothesis: Sequence[Hashable], references: Sequence[Sequence[Hashable]],
                   n: int) -> tuple[int, int]:
    """(sum of Count_clip, sum of Count) over the n-grams of ``hypothesis``: the numerator and
    denominator of the modified precision p_n."""
    counts = ngram_counts(hypothesis, n)
    max_ref: Counter = Counter()
    for ref in references:
        for gram, c in ngram_counts(ref, n).items():
            if c > max_ref[gram]:
                max_ref[gram] = c
    clipped = sum(min(c, max_ref[gram]) for gram, c in counts.items())
    return clipped, sum(counts.values())


def modified_precision(hypothesis: Any, references: Any, n: int) -> float:
    """The notes' p_n = sum Count_clip / sum Count (0 when the output has no n-gram)."""
    hyp, refs = tokens_of(hypothesis), _references(references, "modified_precision")
    num, den = clipped_counts(hyp, refs, n)
    return num / den if den else 0.0


def closest_reference_length(hyp_len: int, ref_lens: Sequence[int]) -> int:
    """The reference length closest to the output's, the shorter one on a tie."""
    return min(ref_lens, key=lambda r: (abs(r - hyp_len), r))


def brevity_penalty(hyp_len: int, ref_len: int) -> float:
    """BP = 1 if c > r, else exp(1 - r/c); 0 for an empty output."""
    if hyp_len > ref_len:
        return 1.0
    if hyp_len == 0:
        return 0.0
    return math.exp(1 - ref_len / hyp_len)


@dataclass
class BLEUScore:
    """A BLEU score with its parts: ``score`` in [0, 1], the (smoothed) ``precisions`` p_n, the
    brevity penalty ``bp``, the summed lengths, and the raw clipped / total n-gram counts."""

    score: float
    precisions: list[float]
    bp: float
    hyp_len: int
    ref_len: int
    counts: list[int] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)

    def __float__(self) -> float:
        return self.score

    def __str__(self) -> str:
        ps = "/".join(f"{100 * p:.1f}" for p in self.precisions)
        return (f"BLEU = {100 * self.score:.2f} {ps} (BP = {self.bp:.3f} ratio = "
                f"{self.hyp_len / max(self.ref_len, 1):.3f} hyp_len = {self.hyp_len} "
                f"ref_len = {self.ref_len})")


def _references(refs: Any, op: str) -> list[list[Hashable]]:
    if isinstance(refs, str):
        refs = [refs]
    out = [tokens_of(r) for r in refs]
    if not out:
        raise ValueError(f"{op}: expected at least one reference, got none")
    return out


def _smoothed(counts: list[float], totals: list[float], method: str, epsilon: float,
              k: float) -> list[float]:
    precisions = []
    zeros = 0
    for n, (num, den) in enumerate(zip(counts, totals), start=1):
        if method == "add-k" and n > 1:
            num, den = num + k, den + k
        if den == 0:
            precisions.append(0.0)
        elif num == 0 and method == "floor":
            precisions.append(epsilon / den)
        elif num == 0 and method == "exp":
            zeros += 1
            precisions.append(1.0 / (2 ** zeros * den))
        else:
            precisions.append(num / den)
    return precisions


def bleu_score(hypotheses: Sequence[Any], references: Sequence[Any], max_n: int = 4,
               weights: Sequence[float] | None = None, smoothing: str = "none",
               epsilon: float = 0.1, k: float = 1.0, effective_order: bool = False,
               ) -> BLEUScore:
    """Corpus BLEU with its parts. ``hypotheses[i]`` is an output (a string or a token list);
    ``references[i]`` its reference, or a list of several. ``weights`` default to 1/max_n each.
    ``effective_order`` (sacreBLEU's, for sentence level) leaves out the orders n for which
    the output has no n-gram at all, instead of scoring 0."""
    op = "bleu"
    if len(hypotheses) != len(references):
        raise ValueError(f"{op}: expected one reference set per hypothesis, got "
                         f"{len(hypotheses)} hypotheses and {len(references)} reference sets")
    if max_n < 1:
        raise ValueError(f"{op}: expected max_n >= 1, got {max_n}")
    if smoothing not in SMOOTHING:
        raise ValueError(f"{op}: unknown smoothing {smoothing!r}; expected one of "
                         f"{sorted(SMOOTHING)}")
    method = SMOOTHING[smoothing]
    w = list(weights) if weights is not None else [1.0 / max_n] * max_n
    if len(w) != max_n:
        raise ValueError(f"{op}: expected {max_n} weights, got {len(w)}")
    counts, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        h = tokens_of(hyp)
        rs = _references(refs if not _is_single(refs) else [refs], op)
        hyp_len += len(h)
        ref_len += closest_reference_length(len(h), [len(r) for r in rs])
        for n in range(1, max_n + 1):
            num, den = clipped_counts(h, rs, n)
            counts[n - 1] += num
            totals[n - 1] += den
    bp = brevity_penalty(hyp_len, ref_len)
    precisions = _smoothed(counts, totals, method, epsilon, k)
    orders = range(max_n)
    if effective_order:
        orders = [i for i in orders if totals[i] > 0]
        if orders:  # sacreBLEU: the mean log precision over the orders present
            w = [1.0 / len(orders)] * max_n
    if not any(counts) or not orders or any(precisions[i] <= 0 for i in orders) or bp == 0:
        score = 0.0
    else:
        score = bp * math.exp(sum(w[i] * math.log(precisions[i]) for i in orders))
    return BLEUScore(score, precisions, bp, hyp_len, ref_len, counts, totals)


def _is_single(refs: Any) -> bool:
    """A reference set given as one reference: a string, or a list of non-sequence tokens."""
    if isinstance(refs, str):
        return True
    return len(refs) > 0 and not isinstance(refs[0], (str, list, tuple))


def corpus_bleu(hypotheses: Sequence[Any], references: Sequence[Any], max_n: int = 4,
                weights: Sequence[float] | None = None, smoothing: str = "none",
                epsilon: float = 0.1, k: float = 1.0) -> float:
    """Corpus BLEU in [0, 1]: counts and lengths summed over the corpus, then combined (NLTK's
    ``corpus_bleu``; sacreBLEU's ``corpus_bleu(...).score / 100`` with ``tokenize='none'``).
    ``references[i]``: the list of references of ``hypotheses[i]`` (or one string)."""
    return bleu_score(hypotheses, references, max_n, weights, smoothing, epsilon, k).score


def sentence_bleu(hypothesis: Any, references: Any, max_n: int = 4,
                  weights: Sequence[float] | None = None, smoothing: str = "none",
                  epsilon: float = 0.1, k: float = 1.0, effective_order: bool = False,
                  ) -> float:
    """BLEU of one output against one or several references (a string, a token list, or a
    list of them)."""
    if isinstance(references, str) or _is_single(references):
        references = [references]
    return bleu_score([hypothesis], [references], max_n, weights, smoothing, epsilon, k,
                      effective_order).score


__all__ = ["BLEUScore", "bleu_score", "brevity_penalty", "clipped_counts",
           "closest_reference_length", "corpus_bleu", "modified_precision", "ngram_counts",
           "sentence_bleu", "tokens_of"]
