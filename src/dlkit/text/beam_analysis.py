"""Error analysis of beam search (course 5 week 3): is a wrong output the search's fault or
the model's?

For each dev example the output y_hat differs from the human reference y*, compute under the
model both P(y* | x) and P(y_hat | x):

- P(y* | x) > P(y_hat | x): the model prefers the reference, but the search did not find it:
  **beam search is at fault** (B);
- P(y* | x) <= P(y_hat | x): the model ranks the wrong output higher: **the model (RNN) is at
  fault** (R).

With length normalization the comparison is on the objective the search maximizes,
1/T_y^alpha log P(y | x) (``alpha`` = the search's; 0 compares the plain probabilities). Both
are scored as complete outputs (their ``<EOS>`` included, for models that end with one), also
an output the search cut at its maximum length.
Tabulated over the errors, the fractions say where to work: only when beam search causes most
errors is a wider beam worth it; otherwise work on the model (regularization, more data,
another architecture: course 3's error analysis).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlkit.text.decode import normalized_score


@dataclass
class BeamErrorRow:
    """One dev example: the human reference y*, the algorithm's output y_hat, log P of each
    under the model, their normalized objectives, and who is at fault ("beam", "model", or
    None when the output is right)."""

    source: str
    reference: str
    output: str
    log_p_reference: float
    log_p_output: float
    score_reference: float
    score_output: float
    fault: str | None


@dataclass
class BeamErrorReport:
    """The rows, the counts and fractions of errors at each fault, and the recommendation."""

    rows: list[BeamErrorRow]
    beam_width: int
    alpha: float

    @property
    def errors(self) -> list[BeamErrorRow]:
        return [r for r in self.rows if r.fault is not None]

    @property
    def beam_faults(self) -> int:
        return sum(r.fault == "beam" for r in self.rows)

    @property
    def model_faults(self) -> int:
        return sum(r.fault == "model" for r in self.rows)

    @property
    def beam_fraction(self) -> float:
        return self.beam_faults / max(len(self.errors), 1)

    @property
    def model_fraction(self) -> float:
        return self.model_faults / max(len(self.errors), 1)

    @property
    def recommendation(self) -> str:
        n = len(self.errors)
        if n == 0:
            return "no errors on these examples: nothing to attribute"
        if self.beam_faults > self.model_faults:
            wider = max(self.beam_width * 3, self.beam_width + 2)
            return (f"beam search causes {self.beam_fraction:.0%} of the {n} errors: widen the "
                    f"beam (B = {self.beam_width} -> {wider}) before changing the model")
        return (f"the model causes {self.model_fraction:.0%} of the {n} errors: work on the "
                f"model (more data, regularization, a bigger or different network); a wider "
                f"beam will not fix these")

    def table(self, max_rows: int = 20) -> str:
        """The notes' table: Human | Algorithm | P(y*|x) | P(y_hat|x) | At fault, then the
        fractions and the recommendation."""
        head = ["human (y*)", "algorithm (y_hat)", "P(y*|x)", "P(y_hat|x)", "at fault"]
        body = [[r.reference, r.output, _prob(r.log_p_reference), _prob(r.log_p_output),
                 "B" if r.fault == "beam" else "R"] for r in self.errors[:max_rows]]
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
                  for i, h in enumerate(head)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
        if len(self.errors) > max_rows:
            lines.append(f"... {len(self.errors) - max_rows} more errors")
        lines.append(f"errors: {len(self.errors)} of {len(self.rows)}; beam search at fault: "
                     f"{self.beam_faults} ({self.beam_fraction:.0%}), model at fault: "
                     f"{self.model_faults} ({self.model_fraction:.0%})  [B = {self.beam_width}, "
                     f"alpha = {self.alpha}]")
        lines.append(f"recommendation: {self.recommendation}")
        return "\n".join(lines)


def _prob(log_p: float) -> str:
    return f"{math.exp(log_p):.2e}" if log_p > -700 else f"e^{log_p:.0f}"


def attribute(log_p_reference: Any, log_p_output: Any, len_reference: Any, len_output: Any,
              alpha: float = 0.0) -> np.ndarray:
    """"beam" where the reference's objective beats the output's, else "model" (arrays)."""
    star = normalized_score(np.asarray(log_p_reference, float), np.asarray(len_reference), alpha)
    hat = normalized_score(np.asarray(log_p_output, float), np.asarray(len_output), alpha)
    return np.where(star > hat, "beam", "model")


def beam_error_analysis(translator: Any, sources: Sequence[str], references: Sequence[str],
                        beam_width: int = 3, alpha: float = 0.7,
                        outputs: Sequence[str] | None = None) -> BeamErrorReport:
    """Run the search (or take its ``outputs``), score y* and y_hat under the model
    (``translator.log_probs``), attribute each error. ``translator``: a
    ``dlkit.text.seq2seq.Translator`` or anything with ``translate``, ``log_probs``,
    ``tgt_vocab`` and ``uses_eos``."""
    if len(sources) != len(references):
        raise ValueError(f"beam_error_analysis: expected one reference per source, got "
                         f"{len(sources)} sources and {len(references)} references")
    if outputs is None:
        outputs = [o[0][0] for o in translator.translate(sources, beam_width, alpha)]
    lp_ref = translator.log_probs(sources, references)
    lp_out = translator.log_probs(sources, outputs)
    extra = 1 if getattr(translator, "uses_eos", True) else 0
    tok = translator.tgt_vocab.tokenize
    len_ref = [len(tok(r)) + extra for r in references]
    len_out = [len(tok(o)) + extra for o in outputs]
    faults = attribute(lp_ref, lp_out, len_ref, len_out, alpha)
    rows = []
    for i, (x, r, o) in enumerate(zip(sources, references, outputs)):
        rows.append(BeamErrorRow(
            x, r, o, float(lp_ref[i]), float(lp_out[i]),
            float(normalized_score(lp_ref[i], len_ref[i], alpha)),
            float(normalized_score(lp_out[i], len_out[i], alpha)),
            None if o == r else str(faults[i])))
    return BeamErrorReport(rows, beam_width, alpha)


__all__ = ["BeamErrorReport", "BeamErrorRow", "attribute", "beam_error_analysis"]
