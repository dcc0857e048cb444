"""The CTC speech recognizer: alphabet, features, batches, the model, learning through fit."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.audio import synth
from dlkit.audio.metrics import cer
from dlkit.audio.speech import (
    Alphabet,
    CTCStep,
    SpeechRecognizer,
    UtteranceBatches,
    speech_features,
    transcribe,
)


def test_alphabet_round_trip_and_unknown_characters():
    a = Alphabet()
    assert len(a) == 29 and a.encode("ab c")[0] == 2  # 0 is the blank, " " is 1
    assert a.decode(a.encode("Don't stop")) == "don't stop"
    with pytest.raises(ValueError, match="outside the alphabet: '!3'"):
        a.encode("hello 3!")
    with pytest.raises(ValueError, match="distinct"):
        Alphabet("aab")


def test_features_are_normalized_log_mels():
    x = synth.say("one two", 16000, "tones", np.random.default_rng(0))
    f = speech_features(x, 16000)
    assert f.shape == (1 + (len(x) - 400) // 160, 40) and f.dtype == np.float32
    np.testing.assert_allclose(f.mean(axis=0), 0, atol=1e-4)
    assert np.isfinite(speech_features(np.zeros(100), 16000)).all()


def test_tone_words_are_finite():
    for seed in range(30):
        assert np.isfinite(synth.tone_word("seven", 8000, np.random.default_rng(seed))).all()


def test_batches_pad_and_mask():
    feats = [np.ones((5, 3), np.float32), np.ones((2, 3), np.float32)]
    batches = UtteranceBatches(feats, [np.array([1, 2]), np.array([3])], batch_size=2,
                               shuffle=False)
    (b,) = list(batches)
    assert b["features"].shape == (2, 5, 3) and b["features"][1, 2:].sum() == 0
    np.testing.assert_array_equal(b["mask"][1], [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(b["targets"], [[1, 2], [3, 0]])
    np.testing.assert_array_equal(b["target_lengths"], [2, 1])
    assert len(batches) == 1
    with pytest.raises(ValueError, match="transcripts"):
        UtteranceBatches(feats, [np.array([1])])


def test_model_output_lengths_and_masking():
    dl.manual_seed(0)
    model = SpeechRecognizer(8, 5, filters=6, kernel=5, stride=2, units=4, layers=2)
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 20, 8)).astype(np.float32)
    mask = np.ones((2, 20), np.float32)
    mask[1, 13:] = 0
    out = model(x, mask=mask)
    np.testing.assert_array_equal(model.output_lengths([20, 13]), [10, 7])
    assert out.shape == (2, 10, 5)
    # the padded tail does not change the real steps of the second utterance
    alone = model(x[1:, :13], mask=np.ones((1, 13), np.float32))
    np.testing.assert_allclose(out.numpy()[1, :7], alone.numpy()[0, :7], atol=1e-5)
    rebuilt = dl.nn.module_from_config(dl.nn.to_config(model))
    assert isinstance(rebuilt, SpeechRecognizer) and rebuilt.layers == 2


def _utterances(rng, n, words=("one", "two", "six"), rate=8000):
    texts = [" ".join(rng.choice(list(words), rng.integers(1, 3))) for _ in range(n)]
    return [speech_features(synth.say(t, rate, "tones", rng), rate, 20) for t in texts], texts


def test_recognizer_learns_tone_words_through_fit():
    """Small version: three tone words, 64 utterances; held-out CER well below 0.2."""
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    alphabet = Alphabet("eionstwx ")
    feats, texts = _utterances(rng, 64)
    dev_feats, dev_texts = _utterances(rng, 16)
    model = SpeechRecognizer(20, len(alphabet), filters=32, kernel=5, stride=2, units=32,
                             layers=1)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    data = UtteranceBatches(feats, [alphabet.encode(t) for t in texts], batch_size=16)
    dev = UtteranceBatches(dev_feats, [alphabet.encode(t) for t in dev_texts], 16, False)
    history = dl.train.fit(model, None, opt, data, epochs=20, step=CTCStep(), metrics=(),
                           validation_data=dev)
    losses = history.history["loss"]
    assert losses[-1] < 0.1 * losses[0] and "val_loss" in history.history
    hyps = transcribe(model, dev_feats, alphabet)
    assert cer(dev_texts, hyps) < 0.1
    assert transcribe(model, dev_feats[:4], alphabet, beam_width=4) == hyps[:4]
