"""Greedy, beam search and sampling over a step function, checked against exhaustive search."""

import itertools

import numpy as np
import pytest

from dlkit.text.decode import (
    beam_search,
    greedy_search,
    log_softmax_rows,
    normalized_score,
    sample_search,
    select_state,
    sequence_log_probs,
)

EOS = 0


class TinyRNN:
    """A random RNN language model: h' = tanh(W h + E[token]), log P = log_softmax(s U h')."""

    def __init__(self, V=3, H=4, seed=0, sharp=3.0):
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(H, H))
        self.E = rng.normal(size=(V, H))
        self.U = rng.normal(size=(V, H)) * sharp
        self.V = V
        self.calls = 0

    def step(self, tokens, state):
        self.calls += 1
        h = np.tanh(state[0] @ self.W.T + self.E[tokens])
        return log_softmax_rows(h @ self.U.T), [h]


def enumerate_all(model, h0, max_len, alpha):
    """Every output: ended by EOS at t <= max_len, or unended at max_len; best by score."""
    best = None
    for T in range(1, max_len + 1):
        for body in itertools.product(range(1, model.V), repeat=T - 1):
            for last in ([EOS] + (list(range(1, model.V)) if T == max_len else [])):
                seq = [*body, last]
                lp = sequence_log_probs(model.step, [h0[None]], [EOS], [seq])[0]
                ended = last == EOS
                length = len(seq)
                score = normalized_score(lp, length, alpha)
                toks = seq[:-1] if ended else seq
                if best is None or score > best[0] + 1e-12:
                    best = (score, toks, lp)
    return best


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_large_beam_finds_exhaustive_argmax(alpha):
    model = TinyRNN(V=3, H=4, seed=1)
    rng = np.random.default_rng(5)
    h0 = rng.normal(size=(3, 4))
    hyps = beam_search(model.step, [h0], EOS, EOS, beam_width=64, max_len=5, alpha=alpha)
    for i in range(3):
        score, toks, lp = enumerate_all(model, h0[i], 5, alpha)
        assert hyps[i][0].tokens == toks
        assert hyps[i][0].score == pytest.approx(score)
        assert hyps[i][0].log_prob == pytest.approx(lp)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_beam_width_one_equals_greedy(alpha):
    model = TinyRNN(V=5, H=6, seed=2, sharp=1.0)
    h0 = np.random.default_rng(0).normal(size=(8, 6))
    g = greedy_search(model.step, [h0], EOS, EOS, max_len=12, alpha=alpha)
    b = beam_search(model.step, [h0], EOS, EOS, beam_width=1, max_len=12, alpha=alpha)
    for gi, bi in zip(g, b):
        assert bi[0].tokens == gi.tokens and bi[0].ended == gi.ended
        assert bi[0].log_prob == pytest.approx(gi.log_prob)
        assert bi[0].score == pytest.approx(gi.score)


def tree_step(table, V):
    """A model given as a table prefix -> probabilities (uniform elsewhere); state = prefixes."""
    def step(tokens, state):
        prefixes = [p + (int(t),) if p is not None else () for p, t in zip(state, tokens)]
        rows = [np.log(table.get(p, np.full(V, 1 / V))) for p in prefixes]
        new = np.empty(len(prefixes), dtype=object)
        new[:] = prefixes
        return np.array(rows), new
    return step


def test_length_normalization_changes_the_choice():
    # P([]) = 0.45 beats P([a b c]) = 0.55 * 0.8^3 = 0.28 on the sum of logs, but per token
    # (normalized) the longer output wins: the notes' bias towards short outputs, corrected.
    V = 4
    table = {(): [0.45, 0.55, 0, 0], (1,): [0.2, 0, 0.8, 0], (1, 2): [0.2, 0, 0, 0.8],
             (1, 2, 3): [0.8, 0.1, 0.05, 0.05]}
    table = {k: np.maximum(np.array(v), 1e-12) for k, v in table.items()}
    step = tree_step(table, V)
    start_state = np.empty(1, dtype=object)
    start_state[0] = None
    raw = beam_search(step, start_state, EOS, EOS, beam_width=3, max_len=6, alpha=0.0)[0][0]
    norm = beam_search(step, start_state, EOS, EOS, beam_width=3, max_len=6, alpha=0.7)[0][0]
    assert raw.tokens == [] and raw.log_prob == pytest.approx(np.log(0.45))
    assert norm.tokens == [1, 2, 3]
    assert norm.score == pytest.approx(np.log(0.55 * 0.8 ** 3) / 4 ** 0.7, rel=1e-6)


def test_n_best_sorted_and_distinct():
    model = TinyRNN(V=4, H=4, seed=3, sharp=1.0)
    h0 = np.random.default_rng(1).normal(size=(2, 4))
    hyps = beam_search(model.step, [h0], EOS, EOS, beam_width=5, max_len=6, n_best=3)
    for h in hyps:
        assert len(h) == 3
        scores = [x.score for x in h]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(x.tokens) for x in h}) == 3


def test_beam_search_batched_equals_one_at_a_time():
    model = TinyRNN(V=4, H=5, seed=4, sharp=2.0)
    h0 = np.random.default_rng(2).normal(size=(4, 5))
    together = beam_search(model.step, [h0], EOS, EOS, beam_width=3, max_len=8)
    for i in range(4):
        alone = beam_search(model.step, [h0[i:i + 1]], EOS, EOS, beam_width=3, max_len=8)
        assert alone[0][0].tokens == together[i][0].tokens


def test_banned_and_min_len():
    model = TinyRNN(V=4, H=4, seed=0)
    h0 = np.zeros((2, 4))
    hyps = beam_search(model.step, [h0], EOS, EOS, beam_width=3, max_len=6, banned_ids=[2],
                       min_len=2)
    for h in hyps:
        assert 2 not in h[0].tokens and h[0].length >= 2


def test_sampling_top_k_one_is_greedy_and_seeded():
    model = TinyRNN(V=5, H=6, seed=2, sharp=1.0)
    h0 = np.random.default_rng(0).normal(size=(6, 6))
    g = greedy_search(model.step, [h0], EOS, EOS, max_len=10)
    s = sample_search(model.step, [h0], EOS, EOS, max_len=10, top_k=1, seed=0)
    assert [x.tokens for x in s] == [x.tokens for x in g]
    a = sample_search(model.step, [h0], EOS, EOS, max_len=10, seed=3)
    b = sample_search(model.step, [h0], EOS, EOS, max_len=10, seed=3)
    assert [x.tokens for x in a] == [x.tokens for x in b]
    assert a[0].log_prob == pytest.approx(
        sequence_log_probs(model.step, [h0[:1]], EOS, [a[0].tokens],
                           EOS if a[0].ended else None)[0])


def test_select_state_walks_structures():
    st = {"h": np.arange(6).reshape(3, 2), "pair": (np.arange(3), None)}
    out = select_state(st, np.array([2, 2, 0]))
    assert out["h"].tolist() == [[4, 5], [4, 5], [0, 1]]
    assert out["pair"][0].tolist() == [2, 2, 0] and out["pair"][1] is None


def test_bad_arguments():
    model = TinyRNN()
    h0 = np.zeros((1, 4))
    with pytest.raises(ValueError, match="beam width B >= 1"):
        beam_search(model.step, [h0], EOS, EOS, beam_width=0)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(model.step, [h0], EOS, EOS, beam_width=2, n_best=3)
    with pytest.raises(ValueError, match="alpha"):
        beam_search(model.step, [h0], EOS, EOS, alpha=-1)
    with pytest.raises(ValueError, match="one row per hypothesis"):
        greedy_search(lambda t, s: (np.zeros((5, 3)), s), None, EOS, EOS)


def test_charlm_beam_search():
    import dlkit as dl
    from dlkit.text import CharLM, CharVocab
    from dlkit.text.decode import lm_beam_search

    dl.manual_seed(0)
    vocab = CharVocab.from_corpus(["abc", "abd"])
    model = CharLM(len(vocab), 8, 16)
    out = lm_beam_search(model, vocab, prefix="a", beam_width=4, max_len=6, n_best=3)
    assert len(out) == 3 and all(t.startswith("a") for t, _ in out)
    assert [s for _, s in out] == sorted((s for _, s in out), reverse=True)


def test_early_stopping_true_stops_at_b_finished():
    # With B = 3 finished outputs by step 3, stopping there loses [a b c] (finished at step 4);
    # the default rule sees that the live [a b c] can still win after normalization.
    V = 4
    table = {(): [0.45, 0.55, 0, 0], (1,): [0.2, 0, 0.8, 0], (1, 2): [0.2, 0, 0, 0.8],
             (1, 2, 3): [0.8, 0.1, 0.05, 0.05]}
    table = {k: np.maximum(np.array(v), 1e-12) for k, v in table.items()}
    state = np.empty(1, dtype=object)
    state[0] = None
    eager = beam_search(tree_step(table, V), state, EOS, EOS, beam_width=3, max_len=6,
                        alpha=0.7, early_stopping=True)[0][0]
    exact = beam_search(tree_step(table, V), state, EOS, EOS, beam_width=3, max_len=6,
                        alpha=0.7, early_stopping="never")[0][0]
    assert eager.tokens == [] and exact.tokens == [1, 2, 3]


def test_lm_step_fn_scores_equal_the_charlm_loss():
    import dlkit as dl
    from dlkit.text import CharLM, CharVocab, evaluating, lm_loss
    from dlkit.text.decode import lm_step_fn

    dl.manual_seed(1)
    vocab = CharVocab.from_corpus(["abc", "abd", "bca"])
    model = CharLM(len(vocab), 8, 16)
    lines = ["abc", "bd"]
    with evaluating(model):
        lp = sequence_log_probs(lm_step_fn(model), None, vocab.eos_id,
                                [vocab.encode(s) for s in lines], vocab.eos_id,
                                batch_size=len(lines))
    n_tokens = sum(len(s) + 1 for s in lines)
    assert -lp.sum() / n_tokens == pytest.approx(lm_loss(model, vocab, lines), rel=1e-5)


def test_custom_select_state():
    """A model whose state is an object of its own: the searcher reorders it with the
    select_state function it is given."""

    class Box:
        def __init__(self, h):
            self.h = h

    model = TinyRNN(V=4, H=4, seed=3, sharp=1.0)
    h0 = np.random.default_rng(1).normal(size=(2, 4))
    calls = []

    def step(tokens, box):
        logp, (h,) = model.step(tokens, [box.h])
        return logp, Box(h)

    def select(box, index):
        calls.append(len(index))
        return Box(box.h[index])

    got = beam_search(step, Box(h0), EOS, EOS, beam_width=3, max_len=6, select_state=select,
                      batch_size=2)  # an opaque state: say how many examples
    ref = beam_search(model.step, [h0], EOS, EOS, beam_width=3, max_len=6)
    assert calls and [g[0].tokens for g in got] == [r[0].tokens for r in ref]
