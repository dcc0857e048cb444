"""dlkit.text: vocabularies, language-model batches, the character model, sampling,
perplexity and truncated BPTT (course 5, week 1: the Dinosaurus Island exercise)."""

from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np
import pytest

import dlkit as dl
from dlkit.text import (
    EOS,
    PAD,
    UNK,
    CharLM,
    CharVocab,
    SampleText,
    WordVocab,
    dinosaur_names,
    fit_lines,
    fit_stream,
    lm_batch,
    lm_loss,
    lm_pair,
    load_vocab,
    next_token_probabilities,
    pad_sequences,
    perplexity,
    sample,
    sample_ids,
    sample_many,
    tbptt_chunks,
)

NAMES = dinosaur_names()
VOCAB = CharVocab.from_corpus(NAMES)


@pytest.fixture(scope="module")
def trained():
    """A small LSTM trained for a few epochs on 600 names (shared by the sampling tests)."""
    state = dl.get_rng_state()
    dl.manual_seed(0)
    model = CharLM(len(VOCAB), embed_dim=12, n_a=32)
    history = fit_lines(model, VOCAB, NAMES[::2][:600], epochs=4, batch_size=32, lr=0.02)
    dl.set_rng_state(state)
    return model, history


# ---- the bundled corpus ----------------------------------------------------------------------
def test_bundled_names_are_package_data():
    text = resources.files("dlkit.text").joinpath("data", "dinos.txt").read_text()
    lines = text.splitlines()
    assert len(lines) == 1536 and lines[0] == "Aachenosaurus" and lines[-1] == "Zuul"
    assert NAMES[0] == "aachenosaurus" and len(NAMES) == 1536
    assert dinosaur_names(lower=False)[0] == "Aachenosaurus"


# ---- vocabularies --------------------------------------------------------------------------
def test_char_vocab_specials_first_then_sorted_characters():
    assert len(VOCAB) == 3 + 26
    assert VOCAB.tokens[:3] == [PAD, UNK, EOS]
    assert (VOCAB.pad_id, VOCAB.unk_id, VOCAB.eos_id) == (0, 1, 2)
    assert VOCAB.tokens[3:] == list("abcdefghijklmnopqrstuvwxyz")


def test_char_vocab_round_trip_and_unknown_characters():
    ids = VOCAB.encode("tyrannosaurus")
    assert VOCAB.decode(ids) == "tyrannosaurus"
    assert VOCAB.encode("rex", add_eos=True)[-1] == VOCAB.eos_id
    assert VOCAB.decode(VOCAB.encode("rex", add_eos=True) + VOCAB.encode("abc")) == "rex"
    assert VOCAB.decode([0, *VOCAB.encode("ab"), 0], stop_at_eos=False) == "ab"
    unknown = VOCAB.encode("T-rex 2")
    assert unknown.count(VOCAB.unk_id) == 4  # T, -, space, 2 are not in the names
    assert VOCAB.decode(unknown) == "<UNK><UNK>rex<UNK><UNK>"
    lower = CharVocab.from_corpus(["Ab"], lower=True)
    assert lower.encode("AB") == lower.encode("ab") and UNK not in lower.decode(lower.encode("B"))


def test_word_vocab_frequency_order_max_size_and_unk():
    corpus = ["the cat sat on the mat.", "The cat ate."]
    v = WordVocab.from_corpus(corpus, lower=True, max_size=3)
    assert v.tokens[3:] == ["the", ".", "cat"]  # most frequent first, ties alphabetical
    ids = v.encode("The Egyptian Mau is a cat.")
    assert ids == [3, 1, 1, 1, 1, 5, 4]
    assert v.decode(ids) == "the <UNK> <UNK> <UNK> <UNK> cat ."
    assert WordVocab.from_corpus(corpus, min_count=2).tokens[3:] == [".", "cat", "the"]


def test_vocab_save_load_json(tmp_path):
    for v in (VOCAB, WordVocab.from_corpus(["a b b"], lower=True)):
        path = tmp_path / f"{v.level}.json"
        v.save(path)
        data = json.loads(path.read_text())
        assert data["tokens"][:3] == [PAD, UNK, EOS] and data["level"] == v.level
        back = load_vocab(path)
        assert type(back) is type(v) and back == v and back.lower == v.lower
    with pytest.raises(FileNotFoundError):
        load_vocab(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"tokens": ["a"]}')
    with pytest.raises(ValueError, match="not a dlkit vocabulary"):
        load_vocab(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="twice"):
        CharVocab(["a", "a"])


# ---- batches -------------------------------------------------------------------------------
def test_lm_pair_shifts_targets_by_one():
    x, y = lm_pair([5, 6, 7], eos_id=2)
    assert x == [2, 5, 6, 7] and y == [5, 6, 7, 2]
    assert x[1:] == y[:-1]  # y<t> = x<t+1>


def test_lm_batch_pads_with_pad_and_masks():
    X, Y, mask = lm_batch(["ab", "abcd"], VOCAB)
    assert X.shape == Y.shape == mask.shape == (2, 5) and X.dtype == np.int64
    assert X[0].tolist() == [2, 3, 4, 0, 0] and Y[0].tolist() == [3, 4, 2, 0, 0]
    assert mask[0].tolist() == [1, 1, 1, 0, 0] and mask[1].all()
    assert mask.dtype == dl.get_default_dtype()
    np.testing.assert_array_equal(X[:, 1:][mask[:, 1:] > 0], Y[:, :-1][mask[:, 1:] > 0])
    assert pad_sequences([[1], [1, 2]], length=4).tolist() == [[1, 0, 0, 0], [1, 2, 0, 0]]
    with pytest.raises(ValueError, match="shorter"):
        pad_sequences([[1, 2, 3]], length=2)


# ---- the model -----------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_padded_batch_gives_each_line_its_own_logits(cell):
    dl.manual_seed(3)
    model = CharLM(len(VOCAB), embed_dim=5, n_a=7, cell=cell)
    X, _, _ = lm_batch(["ab", "abcde"], VOCAB)
    logits, (a, *_) = model(X, return_state=True)
    assert logits.shape == (2, 6, len(VOCAB))
    alone, (a_alone, *_) = model(X[:1, :3], return_state=True)
    np.testing.assert_allclose(logits.numpy()[0, :3], alone.numpy()[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.numpy()[0], a_alone.numpy()[0], rtol=1e-5, atol=1e-6)


def test_char_model_saves_and_loads(tmp_path):
    dl.manual_seed(4)
    model = CharLM(len(VOCAB), embed_dim=6, n_a=9, cell="gru")
    dl.io.save(model, tmp_path / "m.safetensors")
    back = dl.io.load(tmp_path / "m.safetensors")
    assert isinstance(back, CharLM) and back.get_config() == model.get_config()
    X, _, _ = lm_batch(["abc"], VOCAB)
    np.testing.assert_array_equal(back(X).numpy(), model(X).numpy())
    with pytest.raises(ValueError, match="cell"):
        CharLM(10, cell="transformer")


def test_loss_falls_well_below_a_uniform_guess(trained):
    model, history = trained
    uniform = math.log(len(VOCAB))
    assert history["loss"][0] < uniform
    assert history["loss"][-1] < history["loss"][0]
    held_out = NAMES[1::2][:300]
    loss = lm_loss(model, VOCAB, held_out)
    assert loss < 0.7 * uniform  # about 2.0 (perplexity ~7.5) against log 29 = 3.37
    assert perplexity(model, VOCAB, held_out) == pytest.approx(math.exp(loss))


def test_gradients_are_clipped_by_value_and_history_is_logged():
    seen = []

    class Watch(dl.train.Callback):
        def on_batch_end(self, batch, logs):
            seen.append(max(float(np.abs(p.grad).max()) for p in self.trainer.optimizer.params
                            if p.grad is not None))

    dl.manual_seed(5)
    model = CharLM(len(VOCAB), embed_dim=4, n_a=8)
    h = fit_lines(model, VOCAB, NAMES[:64], epochs=2, batch_size=32, lr=0.01,
                  clip_value=1e-3, validation_lines=NAMES[64:80], callbacks=[Watch()])
    assert len(seen) == 4 and max(seen) <= float(np.float32(1e-3))
    assert set(h.keys()) == {"loss", "perplexity", "val_loss", "val_perplexity", "lr"}
    assert h["perplexity"][-1] == pytest.approx(math.exp(h["loss"][-1]))
    with pytest.raises(ValueError, match="clip_value"):
        fit_lines(model, VOCAB, NAMES[:4], clip_value=0)


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    model = CharLM(len(VOCAB), embed_dim=4, n_a=5)
    head = model.head.layer
    head.weight.data[...] = 0
    head.bias.data[...] = 0
    assert perplexity(model, VOCAB, NAMES[:50]) == pytest.approx(len(VOCAB), rel=1e-5)


# ---- sampling ------------------------------------------------------------------------------
def test_sampling_repeats_from_a_seed(trained):
    model, _ = trained
    a = sample_many(model, VOCAB, 5, seed=7)
    assert a == sample_many(model, VOCAB, 5, seed=7)
    assert a != sample_many(model, VOCAB, 5, seed=8)
    dl.manual_seed(11)
    b = [sample(model, VOCAB) for _ in range(3)]
    dl.manual_seed(11)
    assert b == [sample(model, VOCAB) for _ in range(3)]
    assert all(set(t) <= set("abcdefghijklmnopqrstuvwxyz") for t in a + b)
    assert model.training  # sampling leaves the training mode as it was


def test_top_k_one_is_greedy_and_temperature_to_zero_approaches_it(trained):
    model, _ = trained
    greedy = sample(model, VOCAB, top_k=1, seed=1)
    assert greedy == sample(model, VOCAB, top_k=1, seed=2)
    # the greedy path by hand: argmax of the logits at every step, fed back
    ids = [VOCAB.eos_id]
    with dl.no_grad():
        for _ in range(50):
            z = model(np.array([ids]))[0, -1].numpy().copy()
            z[[VOCAB.pad_id, VOCAB.unk_id]] = -np.inf
            nxt = int(z.argmax())
            if nxt == VOCAB.eos_id:
                break
            ids.append(nxt)
    assert greedy == VOCAB.decode(ids[1:])
    assert sample(model, VOCAB, temperature=1e-3, seed=5) == greedy
    hot = {sample(model, VOCAB, temperature=3.0, seed=s) for s in range(5)}
    assert len(hot) == 5


def test_top_k_keeps_only_the_k_most_likely():
    z = np.array([[0.1, 2.0, -1.0, 3.0, 0.5], [5.0, 4.0, 3.0, 2.0, 1.0]])
    p = next_token_probabilities(z, top_k=2)
    assert (p > 0).sum(axis=1).tolist() == [2, 2]
    assert np.flatnonzero(p[0]).tolist() == [1, 3] and p.sum(axis=1) == pytest.approx(1)
    p = next_token_probabilities(z, banned=[0])
    assert p[1, 0] == 0 and p[1, 1] > p[1, 2]
    cold = next_token_probabilities(z, temperature=0.01)
    assert cold.argmax(axis=1).tolist() == [3, 0] and cold.max(axis=1) == pytest.approx(1)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            next_token_probabilities(z, temperature=bad)


def test_sampling_stops_at_eos_or_max_len():
    model = CharLM(len(VOCAB), embed_dim=4, n_a=5)
    bias = model.head.layer.bias.data
    bias[...] = -50
    bias[VOCAB.eos_id] = 50  # <EOS> is certain: empty names
    assert sample_many(model, VOCAB, 3, seed=0) == ["", "", ""]
    bias[VOCAB.eos_id] = -50
    bias[VOCAB.index("a")] = 50  # never <EOS>: cut at max_len
    assert sample(model, VOCAB, max_len=12, seed=0) == "a" * 12
    assert len(sample_ids(model, VOCAB, 2, max_len=50, seed=0)[1]) == 50
    assert sample(model, VOCAB, max_len=3, prefix="rex", seed=0) == "rexaaa"
    bias[VOCAB.unk_id] = 100  # <UNK> is never drawn unless asked for
    assert UNK not in sample(model, VOCAB, max_len=5, seed=0)
    assert sample(model, VOCAB, max_len=2, seed=0, allow_unk=True) == UNK * 2


def test_sample_text_callback_prints_samples(trained):
    model, _ = trained
    printed = []
    cb = SampleText(VOCAB, every=1, n=3, capitalize=True, print_fn=printed.append)
    fit_lines(model, VOCAB, NAMES[:32], epochs=1, lr=1e-6, callbacks=[cb])
    assert printed[0].startswith("epoch 1, loss") and len(cb.samples[0]) == 3
    assert all(t[:1].isupper() for t in printed[1:4] if t)


# ---- truncated BPTT ------------------------------------------------------------------------
@pytest.mark.parametrize("n,m,k", [(101, 4, 7), (11, 4, 3), (50, 1, 50), (9, 8, 2)])
def test_tbptt_chunks_cover_the_stream_exactly(n, m, k):
    ids = np.arange(3, 3 + n)
    chunks = tbptt_chunks(ids, m, k)
    assert all(X.shape == Y.shape and X.shape[0] == m for X, Y in chunks)
    assert all(X.shape[1] == k for X, _ in chunks[:-1]) and 1 <= chunks[-1][0].shape[1] <= k
    X = np.concatenate([c[0] for c in chunks], axis=1).reshape(-1)
    Y = np.concatenate([c[1] for c in chunks], axis=1).reshape(-1)
    real = X != 0
    np.testing.assert_array_equal(X[real], ids[:-1])  # every pair once, in order
    np.testing.assert_array_equal(Y[real], ids[1:])
    assert (Y[~real] == 0).all() and real[:n - 1].all()
    with pytest.raises(ValueError, match="fewer than"):
        tbptt_chunks(ids[:3], 5, 2)


def test_stateful_chunks_equal_one_pass_over_the_rows():
    dl.manual_seed(6)
    model = CharLM(len(VOCAB), embed_dim=5, n_a=6)
    stream = [VOCAB.eos_id] + sum((VOCAB.encode(s, add_eos=True) for s in NAMES[:20]), [])
    chunks = tbptt_chunks(stream, 3, 10)
    whole = model(np.concatenate([c[0] for c in chunks], axis=1)).numpy()
    model.stateful = True
    parts = np.concatenate([model(X).numpy() for X, _ in chunks], axis=1)
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-6)
    model.reset_states()
    np.testing.assert_allclose(model(chunks[0][0]).numpy(), whole[:, :10], rtol=1e-5, atol=1e-6)


def test_fit_stream_learns_and_leaves_the_model_stateless():
    dl.manual_seed(7)
    text = " ".join(NAMES[:300])
    vocab = CharVocab.from_corpus(text)
    model = CharLM(len(vocab), embed_dim=8, n_a=24)
    h = fit_stream(model, vocab, text, epochs=3, batch_size=8, bptt=32, lr=0.02,
                   validation_text=text[:500])
    assert h["loss"][-1] < 0.75 * math.log(len(vocab)) and h["loss"][-1] < h["loss"][0]
    assert "val_perplexity" in h
    assert model.stateful is False and model.rnn.states is None
