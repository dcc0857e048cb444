"""Beam-search error analysis: the notes' two cases, the table and the recommendation."""

import math

import numpy as np
import pytest

import dlkit as dl
from dlkit.text.beam_analysis import attribute, beam_error_analysis
from dlkit.text.vocab import WordVocab


def test_notes_example_is_beam_search_fault():
    # P(y*|x) = 2e-10 > P(y_hat|x) = 1e-10: beam search chose the less likely output
    assert attribute(math.log(2e-10), math.log(1e-10), 5, 5).tolist() == "beam"
    assert attribute(math.log(1e-10), math.log(2e-10), 5, 5).tolist() == "model"
    assert attribute(math.log(1e-10), math.log(1e-10), 5, 5).tolist() == "model"  # ties: R


def test_length_normalization_changes_the_attribution():
    # y* is longer: less likely in total, more likely per token
    lp_star, lp_hat = math.log(0.2), math.log(0.3)
    assert attribute(lp_star, lp_hat, 8, 2, alpha=0.0).tolist() == "model"
    assert attribute(lp_star, lp_hat, 8, 2, alpha=1.0).tolist() == "beam"


class FakeTranslator:
    """Outputs and model probabilities given by tables."""

    uses_eos = True

    def __init__(self, outputs, log_p):
        self.outputs, self.log_p = outputs, log_p
        self.tgt_vocab = WordVocab(["jane", "visits", "visited", "africa", "in", "last",
                                    "september"])

    def translate(self, sources, beam_width=1, alpha=0.7, n_best=1):
        return [[(self.outputs[s], 0.0)] for s in sources]

    def log_probs(self, sources, targets):
        return np.array([self.log_p[(s, t)] for s, t in zip(sources, targets)])


def test_fractions_table_and_recommendation():
    refs = {"x1": "jane visits africa in september", "x2": "jane visits africa",
            "x3": "jane visited africa", "x4": "jane visits africa"}
    outs = {"x1": "jane visited africa last september", "x2": "jane visited africa",
            "x3": "jane visited africa", "x4": "jane visited africa"}
    lp = {("x1", refs["x1"]): math.log(2e-10), ("x1", outs["x1"]): math.log(1e-10),
          ("x2", refs["x2"]): math.log(1e-3), ("x2", outs["x2"]): math.log(2e-3),
          ("x3", refs["x3"]): math.log(1e-3), ("x3", outs["x3"]): math.log(1e-3),
          ("x4", refs["x4"]): math.log(1e-4), ("x4", outs["x4"]): math.log(1e-2)}
    tr = FakeTranslator(outs, lp)
    srcs = ["x1", "x2", "x3", "x4"]
    report = beam_error_analysis(tr, srcs, [refs[s] for s in srcs], beam_width=3, alpha=0.0)
    assert [r.fault for r in report.rows] == ["beam", "model", None, "model"]
    assert report.beam_faults == 1 and report.model_faults == 2
    assert report.model_fraction == pytest.approx(2 / 3)
    assert "work on the model" in report.recommendation
    table = report.table()
    assert "jane visited africa last september" in table and "2.00e-10" in table
    assert table.count("\n") == 5  # header, 3 errors, summary, recommendation
    lp[("x2", refs["x2"])] = math.log(1e-1)
    report = beam_error_analysis(tr, srcs, [refs[s] for s in srcs], beam_width=3, alpha=0.0)
    lp[("x4", refs["x4"])] = math.log(1e-1)
    report = beam_error_analysis(tr, srcs, [refs[s] for s in srcs], beam_width=3, alpha=0.0)
    assert report.beam_fraction == 1.0 and "widen the beam (B = 3 -> 9)" in report.recommendation


def test_on_a_real_model_the_attribution_follows_the_scores():
    from dlkit.text.dates import date_pairs, human_vocab, machine_vocab
    from dlkit.text.seq2seq import Seq2Seq, Translator

    dl.manual_seed(0)
    hv, mv = human_vocab(), machine_vocab()
    tr = Translator(Seq2Seq(len(hv), len(mv), embed_dim=8, n_a=8, n_s=16), hv, mv, 30, 11)
    pairs = date_pairs(20, seed=1)
    report = beam_error_analysis(tr, [h for h, _ in pairs], [m for _, m in pairs],
                                 beam_width=2, alpha=0.7)
    assert len(report.errors) == 20  # untrained: every output is wrong
    for r in report.rows:
        assert (r.fault == "beam") == (r.score_reference > r.score_output)
    # the search's own output scores as beam search said it did (outputs that ended; one cut
    # at max_len has no <EOS>, which the rescoring of a complete output adds)
    outs = tr.translate([h for h, _ in pairs], beam_width=2, alpha=0.7)
    ended = [i for i, o in enumerate(outs) if len(o[0][0]) < 11]
    assert len(ended) >= 5
    np.testing.assert_allclose([outs[i][0][1] for i in ended],
                               [report.rows[i].score_output for i in ended], rtol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="one reference per source"):
        beam_error_analysis(FakeTranslator({}, {}), ["a"], [])
