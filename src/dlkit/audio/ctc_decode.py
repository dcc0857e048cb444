"""Decoding CTC outputs: greedy (best path) and prefix beam search.

Both take per-step log-probabilities ``(T, C)`` of one utterance or ``(m, T, C)`` of a batch
(with ``lengths``), and return label sequences (lists of class ids, blanks removed).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from dlkit.backend import to_numpy


def collapse(path: Any, blank: int = 0) -> list[int]:
    """The CTC collapse: merge runs of the same class, then drop blanks ("aa_ab" -> "aab")."""
    path = np.asarray(path).reshape(-1)
    if path.size == 0:
        return []
    keep = np.ones(path.size, dtype=bool)
    keep[1:] = path[1:] != path[:-1]
    return [int(k) for k in path[keep & (path != blank)]]


def _batch(log_probs: Any, lengths: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    lp = to_numpy(log_probs.data if hasattr(log_probs, "data") else log_probs)
    lp = np.asarray(lp)
    single = lp.ndim == 2
    if single:
        lp = lp[None]
    if lp.ndim != 3:
        raise ValueError(f"ctc decoding: expected log-probabilities (T, C) or (m, T, C), got "
                         f"shape {lp.shape}")
    if lengths is None:
        lengths = np.full(lp.shape[0], lp.shape[1])
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if lengths.shape != (lp.shape[0],) or (lengths > lp.shape[1]).any():
        raise ValueError(f"ctc decoding: expected {lp.shape[0]} lengths <= T = {lp.shape[1]}, "
                         f"got {lengths.tolist()}")
    return lp, lengths, single


def greedy_decode(log_probs: Any, lengths: Any = None, blank: int = 0) -> Any:
    """Best path decoding: the most likely class at every step, collapsed."""
    lp, lengths, single = _batch(log_probs, lengths)
    best = lp.argmax(axis=-1)
    out = [collapse(best[b, :n], blank) for b, n in enumerate(lengths)]
    return out[0] if single else out


def _prefix_beam(lp: np.ndarray, beam_width: int, blank: int) -> list[tuple[tuple, float]]:
    """Prefix beam search (Hannun et al., 2014) in log space. Each prefix keeps the
    probability of ending in a blank (p_b) and in its last label (p_nb); extending by its own
    last label only continues the prefix when the path ends in that label, and starts a
    repeat when it ends in a blank."""
    neg_inf = -np.inf
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, neg_inf)}
    C = lp.shape[1]
    for t in range(lp.shape[0]):
        row = lp[t]
        nxt: dict[tuple, list[float]] = defaultdict(lambda: [neg_inf, neg_inf])
        for prefix, (p_b, p_nb) in beams.items():
            total = np.logaddexp(p_b, p_nb)
            entry = nxt[prefix]  # stay on the prefix by a blank
            entry[0] = np.logaddexp(entry[0], total + row[blank])
            last = prefix[-1] if prefix else None
            if last is not None:  # stay by repeating the last label
                entry[1] = np.logaddexp(entry[1], p_nb + row[last])
            for k in range(C):
                if k == blank:
                    continue
                extended = nxt[prefix + (k,)]
                add = p_b + row[k] if k == last else total + row[k]
                extended[1] = np.logaddexp(extended[1], add)
        ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))
        beams = {p: (v[0], v[1]) for p, v in ranked[:beam_width]}
    return sorted(((p, float(np.logaddexp(*v))) for p, v in beams.items()),
                  key=lambda pv: -pv[1])


def prefix_beam_search(log_probs: Any, lengths: Any = None, beam_width: int = 8,
                       blank: int = 0, return_scores: bool = False) -> Any:
    """The most probable label sequence summed over all its paths (approximately: the
    ``beam_width`` best prefixes are kept at each step). With ``return_scores``, each
    utterance gives its beam as [(labels, log p), ...], best first."""
    if beam_width < 1:
        raise ValueError(f"prefix_beam_search: expected beam_width >= 1, got {beam_width}")
    lp, lengths, single = _batch(log_probs, lengths)
    results = []
    for b, n in enumerate(lengths):
        beam = _prefix_beam(lp[b, :n].astype(np.float64), beam_width, blank)
        results.append([(list(p), s) for p, s in beam] if return_scores else list(beam[0][0]))
    return results[0] if single else results
