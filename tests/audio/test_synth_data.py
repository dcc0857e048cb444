"""Generated audio (tone words, noise colours, hum, babble), eSpeak NG speech (skipped
without it), clip folders and transcript manifests on files the tests write."""

from __future__ import annotations

import os

import numpy as np
import pytest

import dlkit as dl
from dlkit.audio import datasets, synth, write_wav


@pytest.fixture
def espeak():
    """Skip without eSpeak NG, with the reason; fail instead where CI sets
    DLKIT_REQUIRE_ESPEAK=1 (it installs espeak-ng, so a skip there would hide a failure)."""
    if not synth.espeak_available():
        message = "eSpeak NG is not installed (apt-get install espeak-ng)"
        if os.environ.get("DLKIT_REQUIRE_ESPEAK"):
            pytest.fail(message + " but DLKIT_REQUIRE_ESPEAK is set")
        pytest.skip(message)


def test_tone_words_differ_by_word_and_vary_by_speaker():
    rng = np.random.default_rng(0)
    a1, a2 = synth.tone_word("activate", 8000, rng), synth.tone_word("activate", 8000, rng)
    assert a1.dtype == np.float32 and 0.2 < len(a1) / 8000 < 1.0
    assert len(a1) != len(a2) or not np.allclose(a1, a2)
    assert synth._word_syllables("activate") == synth._word_syllables("activate")
    assert synth._word_syllables("activate") != synth._word_syllables("banana")
    same = synth.tone_word("seven", 8000, pitch=1.0, speed=1.0)
    np.testing.assert_array_equal(same, synth.tone_word("seven", 8000, pitch=1.0, speed=1.0))


@pytest.mark.parametrize("colour, slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0),
                                           ("blue", 1.0)])
def test_noise_colours_have_their_spectral_slope(colour, slope):
    x = synth.coloured_noise(2 ** 16, colour, np.random.default_rng(1))
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.arange(power.size)
    band = (f > 100) & (f < 20000)
    fitted = np.polyfit(np.log(f[band]), np.log(power[band]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.1)
    with pytest.raises(ValueError, match="colour"):
        synth.coloured_noise(10, "purple")


def test_hum_babble_and_backgrounds():
    rate = 8000
    h = synth.hum(rate, rate, 60.0)
    assert np.argmax(np.abs(np.fft.rfft(h))) == 60
    words = [synth.tone_word("music", rate, np.random.default_rng(i)) for i in range(3)]
    b = synth.babble(2 * rate, words, np.random.default_rng(2))
    assert b.shape == (2 * rate,) and np.abs(b).max() > 0
    bg = synth.random_background(rate, rate, words, np.random.default_rng(3), dbfs=-30.0)
    assert dl.audio.dbfs(bg) == pytest.approx(-30.0, abs=0.01)


def test_tone_source_says_sentences_and_builds_a_clip_bank():
    rng = np.random.default_rng(4)
    x = synth.say("three one four", 8000, source="tones", rng=rng)
    assert len(x) > len(synth.tone_word("three", 8000, rng))
    bank = synth.clip_bank(3, 4, 2, rate=8000, background_seconds=2.0, source="tones", rng=rng)
    assert [len(bank[k]) for k in ("positives", "negatives", "backgrounds")] == [3, 4, 2]
    assert all(len(b) == 16000 for b in bank["backgrounds"])
    assert len(synth.digit_text(rng).split()) in (1, 2, 3, 4)
    with pytest.raises(ValueError, match="source"):
        synth.say("hi", source="festival")


def test_espeak_speaks_in_several_voices(espeak):
    a = synth.speak("activate", 16000, voice="en-us", speed=160, pitch=50)
    b = synth.speak("activate", 16000, voice="en-gb+f3", speed=200, pitch=70)
    assert 0.3 < len(a) / 16000 < 1.5 and np.abs(a).max() > 0.05
    assert len(b) < len(a)  # faster speech is shorter
    # trimmed: the first and last 10 ms are not silent
    assert np.abs(a[:160]).max() > 1e-3 and np.abs(a[-160:]).max() > 1e-3
    with pytest.raises(synth.SynthesizerError, match="failed"):
        synth.speak("hello", voice="xx-no-such-voice")


def test_espeak_clip_bank(espeak):
    bank = synth.clip_bank(2, 2, 1, rate=16000, background_seconds=1.0, source="espeak",
                           rng=np.random.default_rng(5))
    assert len(bank["positives"]) == 2 and len(bank["backgrounds"][0]) == 16000


def test_speak_without_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    assert not synth.espeak_available()
    with pytest.raises(synth.SynthesizerError, match="apt-get install espeak-ng"):
        synth.speak("hello")


def test_clip_folder_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(6)
    clips = {"positives": [synth.tone_word("activate", 16000, rng)],
             "negatives": [synth.tone_word("banana", 16000, rng)] * 2,
             "backgrounds": [rng.standard_normal(16000).astype(np.float32) * 0.1]}
    datasets.save_clip_folder(tmp_path / "data", clips, 16000)
    loaded = datasets.load_clip_folder(tmp_path / "data", rate=8000)
    assert [len(loaded[k]) for k in datasets.CLIP_FOLDERS] == [1, 2, 1]
    assert len(loaded["backgrounds"][0]) == 8000
    # a stereo 44.1 kHz clip is made mono and resampled
    write_wav(tmp_path / "data" / "positives" / "z.wav", np.zeros((4410, 2)), 44100)
    assert len(datasets.load_clip_folder(tmp_path / "data", 8000)["positives"][1]) == 800
    (tmp_path / "empty" / "positives").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no WAV files"):
        datasets.load_clip_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        datasets.load_clip_folder(tmp_path / "missing")


def test_manifests(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(800), 8000)
    (tmp_path / "sub").mkdir()
    write_wav(tmp_path / "sub" / "b.wav", np.ones(1600) * 0.5, 16000)
    datasets.write_manifest(tmp_path / "m.tsv", [("a.wav", "one two"), ("sub/b.wav", "three")])
    text = (tmp_path / "m.tsv").read_text()
    (tmp_path / "m.tsv").write_text("# utterances\n\n" + text)
    rows = datasets.read_manifest(tmp_path / "m.tsv")
    assert rows == [(tmp_path / "a.wav", "one two"), (tmp_path / "sub" / "b.wav", "three")]
    audio, texts = datasets.load_manifest(tmp_path / "m.tsv", rate=8000)
    assert texts == ["one two", "three"] and [len(a) for a in audio] == [800, 800]
    (tmp_path / "bad.tsv").write_text("a.wav one two\n")
    with pytest.raises(ValueError, match=r"bad.tsv:1: expected 'path<TAB>text'"):
        datasets.read_manifest(tmp_path / "bad.tsv")
    (tmp_path / "gone.tsv").write_text("nothere.wav\thello\n")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.load_manifest(tmp_path / "gone.tsv")
    with pytest.raises(ValueError, match="tab or newline"):
        datasets.write_manifest(tmp_path / "x.tsv", [("a.wav", "a\tb")])
