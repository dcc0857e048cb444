"""Error rates of transcripts: edit distance, character and word error rates.

``cer``/``wer`` are corpus-level, as jiwer: the edits summed over all utterances divided by
the reference length summed over all utterances (characters, or words split on whitespace).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def edit_distance(reference: Sequence[Any], hypothesis: Sequence[Any]) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions that turn
    hypothesis into reference; one row of the table at a time, the row vectorized except
    the insertion chain (a cumulative minimum)."""
    ref, hyp = list(reference), list(hypothesis)
    if not ref or not hyp:
        return len(ref) + len(hyp)
    hyp_arr = np.array([hash(h) for h in hyp])
    prev = np.arange(len(hyp) + 1)
    offsets = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, start=1):
        cost = (hyp_arr != hash(r)).astype(np.int64)
        row = np.empty_like(prev)
        row[0] = i
        row[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)  # deletion, substitution
        # insertions: row[j] = min_k (row[k] + j - k), a running minimum of row[k] - k
        row = np.minimum.accumulate(row - offsets) + offsets
        prev = row
    return int(prev[-1])


def _corpus(references: Any, hypotheses: Any, split: bool) -> float:
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(f"error rate: expected as many hypotheses as references, got "
                         f"{len(hypotheses)} and {len(references)}")
    edits = total = 0
    for ref, hyp in zip(references, hypotheses):
        r, h = (ref.split(), hyp.split()) if split else (ref, hyp)
        edits += edit_distance(r, h)
        total += len(r)
    if total == 0:
        raise ValueError("error rate: the references are empty")
    return edits / total


def cer(references: Any, hypotheses: Any) -> float:
    """Character error rate: sum of character edit distances / sum of reference lengths."""
    return _corpus(references, hypotheses, split=False)


def wer(references: Any, hypotheses: Any) -> float:
    """Word error rate: sum of word edit distances / sum of reference word counts."""
    return _corpus(references, hypotheses, split=True)
