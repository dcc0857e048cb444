"""dlkit trigger synthesize / train / detect on small generated data; errors in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dlkit as dl
from dlkit.audio import read_wav, synth, write_wav
from dlkit.cli import main

SMALL = ["--rate", "8000", "--seconds", "2", "--positives", "4", "--negatives", "4",
         "--backgrounds", "2", "--source", "tones", "--no-progress"]


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dlkit {command}: error:"), err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # the commands seed dlkit's generator: leave it as found for the tests that follow
    state, dtype = dl.get_rng_state(), dl.get_default_dtype()
    root = tmp_path_factory.mktemp("trigger")
    assert main(["trigger", "synthesize", "--out", str(root / "data"), "--n", "16",
                 *SMALL]) == 0
    assert main(["trigger", "train", "--data", str(root / "data"), "--epochs", "1",
                 "--filters", "8", "--units", "8", "--batch-size", "8", "--dev-size", "0.25",
                 "--out", str(root / "run"), "--no-progress"]) == 0
    yield root
    dl.set_rng_state(state)
    dl.set_default_dtype(dtype)


def test_synthesize_writes_clips_recipes_and_previews(run):
    data = run / "data"
    d = json.loads((data / "dataset.json").read_text())
    assert d["n"] == 16 and d["rate"] == 8000 and d["Ty"] == 46 and len(d["examples"]) == 16
    assert len(list((data / "clips" / "positives").glob("*.wav"))) == 4
    audio, rate = read_wav(data / "preview" / "example_000.wav")
    assert rate == 8000 and audio.shape == (16000,)


def test_train_writes_a_run_folder(run):
    folder = run / "run"
    for name in ("config.json", "model.safetensors", "history.csv", "metrics.json",
                 "detection.png"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert 0.0 <= metrics["dev"]["f1"] <= 1.0 and metrics["epochs"] == 1
    config = json.loads((folder / "config.json").read_text())
    assert config["task"] == "trigger" and len(config["standardize"]["mean"]) == 101


def test_detect_marks_a_long_recording(run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    parts = [synth.coloured_noise(8000 * 3, "pink", rng) * 0.01,
             synth.tone_word("activate", 8000, rng), np.zeros(8000 * 4, np.float32)]
    write_wav(tmp_path / "long.wav", np.concatenate(parts), 8000)
    capsys.readouterr()
    assert main(["trigger", "detect", str(run / "run"), str(tmp_path / "long.wav"), "--out",
                 str(tmp_path / "marked.wav"), "--threshold", "0.0"]) == 0
    out = capsys.readouterr().out
    assert "detections" in out and (tmp_path / "marked.png").exists()
    marked, rate = read_wav(tmp_path / "marked.wav")
    original, _ = read_wav(tmp_path / "long.wav")
    # threshold 0: the first step fires, then one chime per refractory period
    assert rate == 8000 and marked.shape == original.shape
    assert np.abs(marked - original).max() > 0.1


def test_errors_are_one_line(run, tmp_path, capsys):
    assert main(["trigger", "train", "--data", str(tmp_path / "nothing"), "--out",
                 str(tmp_path / "r"), "--no-progress"]) == 2
    assert "dataset.json" in one_line_error(capsys, "trigger train")
    (tmp_path / "fake.wav").write_text("not audio at all")
    assert main(["trigger", "detect", str(run / "run"), str(tmp_path / "fake.wav")]) == 2
    assert "not a WAV file" in one_line_error(capsys, "trigger detect")
    write_wav(tmp_path / "short.wav", np.zeros(100), 8000)
    assert main(["trigger", "detect", str(run / "run"), str(tmp_path / "short.wav")]) == 2
    assert "too short" in one_line_error(capsys, "trigger detect")
    assert main(["trigger", "detect", str(run / "data"), str(tmp_path / "short.wav")]) == 2
    assert "not a dlkit run folder" in one_line_error(capsys, "trigger detect")
    # a clip longer than the background
    clips = tmp_path / "clips"
    for name, seconds in (("positives", 3.0), ("backgrounds", 2.5)):
        (clips / name).mkdir(parents=True)
        write_wav(clips / name / "a.wav", np.full(int(seconds * 8000), 0.1), 8000)
    assert main(["trigger", "synthesize", "--out", str(tmp_path / "d"), "--n", "2",
                 "--clips", str(clips), "--rate", "8000", "--seconds", "2",
                 "--no-progress"]) == 2
    assert "longer than the background" in one_line_error(capsys, "trigger synthesize")
    assert main(["trigger", "synthesize", "--out", str(tmp_path / "d"), "--n", "2",
                 "--clips", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "not a folder" in one_line_error(capsys, "trigger synthesize")


def test_dlkit_evaluate_on_a_trigger_run_is_one_line(run, capsys):
    assert main(["evaluate", str(run / "run")]) == 2
    one_line_error(capsys, "evaluate")
