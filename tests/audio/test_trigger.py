"""Trigger-word synthesis (the course's worked cases), detection, the course's model."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.audio import trigger as tw
from dlkit.audio.synth import tone_word
from dlkit.models.trigger import trigger_word_model


def test_is_overlapping_course_cases():
    assert tw.is_overlapping((950, 1430), [(2000, 2550), (260, 949)]) is False
    assert tw.is_overlapping((2305, 2950), [(824, 1532), (1900, 2305), (3424, 3656)]) is True
    assert tw.is_overlapping((0, 10), []) is False


def test_get_random_time_segment_is_the_course_draw():
    # the course: segment_start = np.random.randint(low=0, high=10000 - segment_ms)
    state = np.random.RandomState(18)
    expected_start = np.random.RandomState(18).randint(low=0, high=10000 - 700)
    assert tw.get_random_time_segment(700, rng=state) == (expected_start,
                                                          expected_start + 699)
    for seed in range(20):
        start, end = tw.get_random_time_segment(900, rng=np.random.default_rng(seed))
        assert 0 <= start < 9100 and end - start == 899
    with pytest.raises(ValueError, match="does not fit"):
        tw.get_random_time_segment(10_000)


def test_insert_ones_course_case():
    arr1 = tw.insert_ones(np.zeros((1, tw.T_Y)), 9700)
    assert arr1[0, 1333] == 0.0 and arr1[0, 1334:].sum() == tw.T_Y - 1334
    arr1 = tw.insert_ones(arr1, 4251)
    # the course's check: arr1[0][1333], arr1[0][634], arr1[0][635] -> 0.0 1.0 0.0
    assert (arr1[0, 1333], arr1[0, 634], arr1[0, 635]) == (0.0, 1.0, 0.0)
    assert arr1[0, 585:635].sum() == 50 and arr1[0, 584] == 0


def test_insert_audio_clip_places_the_clip_without_overlap():
    rate = 1000
    background = np.zeros(10 * rate, np.float32)
    clip = np.ones(500, np.float32)
    previous = [(0, 4999)]
    rng = np.random.default_rng(0)
    out, (start, end) = tw.insert_audio_clip(background, clip, previous, rate, rng)
    assert start >= 5000 and end == start + 499 and previous[-1] == (start, end)
    np.testing.assert_array_equal(np.flatnonzero(out), np.arange(start, end + 1))
    assert background.sum() == 0  # the background itself is left alone
    full = [(0, 9999)]
    same, segment = tw.insert_audio_clip(background, clip, full, rate, rng)
    assert segment == (10_000, 10_000) and same.sum() == 0 and full == [(0, 9999)]
    with pytest.raises(ValueError, match="longer than the background"):
        tw.insert_audio_clip(background[:400], clip, [], rate)


def test_create_training_example_labels_follow_the_positives():
    rate = 8000
    dl.manual_seed(3)
    background = np.random.default_rng(0).standard_normal(10 * rate).astype(np.float32) * 0.1
    positives = [tone_word("activate", rate) for _ in range(3)]
    negatives = [tone_word("banana", rate) for _ in range(3)]
    seen = 0
    for seed in range(6):
        ex = tw.create_training_example(background, positives, negatives, rate,
                                        rng=np.random.default_rng(seed))
        assert ex.audio.shape == background.shape and ex.y.shape == (tw.T_Y,)
        expected = np.zeros(tw.T_Y)
        for _, end in ex.positives:
            tw.insert_ones(expected, end)
        np.testing.assert_array_equal(ex.y, expected)
        segments = ex.positives + ex.negatives
        assert not any(tw.is_overlapping(s, segments[:i]) for i, s in enumerate(segments))
        assert 20 * np.log10(np.sqrt(np.mean(ex.audio.astype(np.float64) ** 2))) == \
            pytest.approx(-20.0, abs=0.01)
        seen += len(ex.positives)
    assert seen > 0


def test_synthesized_arrays_have_the_course_shapes():
    rate = 44100
    rng = np.random.default_rng(0)
    background = rng.standard_normal(10 * rate).astype(np.float32) * 0.05
    ex = tw.synthesize_examples(1, [background], [tone_word("activate", rate, rng)], [],
                                rate, rng=rng)
    X, Y = tw.examples_to_arrays(ex)
    assert X.shape == (1, 5511, 101) and Y.shape == (1, 1375, 1)
    assert tw.output_steps(5511) == 1375


def test_detect_triggers_refractory_and_min_steps():
    p = np.zeros(400)
    p[10:30] = 0.9
    p[60:70] = 0.9  # within 75 steps of the first detection: no second chime
    p[200:202] = 0.9
    assert tw.detect_triggers(p, 0.5) == [10, 200]
    assert tw.detect_triggers(p, 0.5, refractory=20) == [10, 60, 200]
    assert tw.detect_triggers(p, 0.5, min_steps=5) == [14]  # 64 falls in the refractory time
    assert tw.detect_triggers(p, 0.5, refractory=20, min_steps=5) == [14, 64]
    assert tw.detect_triggers(p, 0.95) == []


def test_insert_chimes_and_scores():
    rate = 8000
    audio = np.zeros(10 * rate, np.float32)
    marked = tw.insert_chimes(audio, rate, [275], 1375)
    # step 275 of 1375 is 2 s into 10 s (the chime starts with sin(0) = 0)
    assert np.flatnonzero(marked)[0] == 2 * rate + 1 and marked[:2 * rate].sum() == 0
    s = tw.detection_scores([100, 700], positive_ends_ms=[700, 5000], background_ms=10_000,
                            Ty=1375)
    # the first trigger (label starts at step 96) is found, the second (687) too
    assert (s["tp"], s["fp"], s["fn"]) == (2, 0, 0) and s["f1"] == 1.0
    s = tw.detection_scores([400], positive_ends_ms=[700], background_ms=10_000, Ty=1375)
    assert (s["tp"], s["fp"], s["fn"], s["f1"]) == (0, 1, 1, 0.0)


def test_course_model_shapes_and_parameter_count():
    model = trigger_word_model()
    model.eval()
    y = model(dl.Tensor(np.zeros((1, 5511, 101), np.float32)))
    assert y.shape == (1, 1375, 1)
    # Keras' summary: 523,329 parameters with reset_after GRUs (768 more biases) and the
    # batch norms' moving statistics (2 x (196 + 128 + 128) = 904), all counted there
    trainable = sum(p.size for p in model.parameters())
    assert trainable == 523_329 - 2 * 384 - 904


def test_small_trigger_model_learns_tone_triggers():
    """A small version of the course's model learns to mark tone "activate"s: event-level
    F1 >= 0.8 on held-out synthesized examples (the issue's goal, at small scale)."""
    rate, seconds = 8000, 2.0
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    positives = [tone_word("activate", rate, rng) for _ in range(6)]
    negatives = [tone_word(w, rate, rng) for w in ("banana", "kitchen", "music") * 2]
    backgrounds = [rng.standard_normal(int(seconds * rate)).astype(np.float32)]
    examples = tw.synthesize_examples(128, backgrounds, positives, negatives, rate, rng=rng)
    X, Y = tw.examples_to_arrays(examples)
    X = np.log(X + 1e-10).astype(np.float32)
    X = (X - X.mean()) / X.std()
    model = trigger_word_model(n_freq=X.shape[2], filters=16, units=16, dropout=0.1)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    history = dl.train.fit(model, "bce_logits", opt, X[:96], Y[:96], epochs=12,
                           batch_size=16, metrics=())
    losses = history.history["loss"]
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    with dl.no_grad():
        P = 1 / (1 + np.exp(-dl.train.predict(model, X[96:])[..., 0]))
    Ty = Y.shape[1]
    tp = fp = fn = 0
    for e, p in zip(examples[96:], P):
        found = tw.detect_triggers(p, 0.5, tw.refractory_after(Ty, 2000))
        s = tw.detection_scores(found, [end for _, end in e.positives], 2000, Ty,
                                tw.ones_after(Ty, 2000))
        tp, fp, fn = tp + s["tp"], fp + s["fp"], fn + s["fn"]
    assert tp + fn >= 20 and 2 * tp / (2 * tp + fp + fn) >= 0.8


def test_render_example_from_its_recipe_equals_the_example():
    rate = 8000
    rng = np.random.default_rng(7)
    backgrounds = [rng.standard_normal(3 * rate).astype(np.float32) * 0.1 for _ in range(2)]
    positives = [tone_word("activate", rate, rng) for _ in range(3)]
    negatives = [tone_word("kitchen", rate, rng) for _ in range(2)]
    examples = tw.synthesize_examples(5, backgrounds, positives, negatives, rate, seconds=2.0,
                                      rng=rng)
    Ty = tw.output_steps(tw.n_spectrogram_frames(2 * rate))
    # 46 steps over 2 s: the course's 0.36 s of ones is 8 steps
    assert tw.ones_after(tw.T_Y, 10_000) == 50 and tw.ones_after(Ty, 2000) == 8
    assert any(e.positives for e in examples)
    for e in examples:
        again = tw.render_example(e.recipe(), backgrounds, positives, negatives, rate,
                                  2 * rate, Ty)
        np.testing.assert_array_equal(again.audio, e.audio)
        np.testing.assert_array_equal(again.y, e.y)
        assert again.positives == e.positives and e.y.sum() <= 8 * len(e.positives)


def test_detect_in_recording_resamples_and_normalizes_the_level():
    from dlkit.audio import trigger_data as td

    dl.manual_seed(0)
    model = trigger_word_model(filters=4, units=4, dropout=0.0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000 * 3).astype(np.float32) * 0.1
    norm = td.Standardize(np.zeros(101), np.ones(101))
    loud = td.detect_in_recording(model, x, 16000, 8000, norm, 0.5)
    quiet = td.detect_in_recording(model, x * 0.01, 16000, 8000, norm, 0.5)
    assert loud["rate"] == 8000 and len(loud["audio"]) == 3 * 8000
    assert len(loud["probabilities"]) == tw.output_steps(tw.n_spectrogram_frames(24000))
    np.testing.assert_allclose(loud["probabilities"], quiet["probabilities"], atol=1e-5)
    raw = td.detect_in_recording(model, x * 0.01, 16000, 8000, norm, 0.5, level_dbfs=None)
    assert np.abs(raw["probabilities"] - loud["probabilities"]).max() > 1e-4
    with pytest.raises(ValueError, match="too short"):
        td.detect_in_recording(model, x[:500], 16000, 8000, norm)


def test_synthesize_dataset_keeps_recipes_and_renders_them_back(tmp_path):
    from dlkit.audio import trigger_data as td

    dl.manual_seed(2)
    d = td.synthesize_dataset(tmp_path, n=205, rate=4000, seconds=1.0, source="tones",
                              n_positive=2, n_negative=2, n_background=1, previews=2)
    assert len(d["examples"]) == 205 and len(list((tmp_path / "preview").glob("*.wav"))) == 2
    data = td.TriggerDataset(tmp_path)
    assert len(data) == 205 and data.rate == 4000 and data.Ty == d["Ty"]
    first, _ = dl.audio.read_wav(tmp_path / "preview" / "example_000.wav")
    np.testing.assert_allclose(data.example(0).audio, first, atol=1e-4)
    X, Y = next(iter(td.TriggerBatches(data, [0, 1, 2], td.Standardize(0.0, 1.0), 2, False)))
    assert X.shape == (2, tw.n_spectrogram_frames(4000), 101) and Y.shape == (2, d["Ty"], 1)
