"""dlkit speech train / transcribe on small data; errors in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dlkit as dl
from dlkit.audio import synth, write_wav
from dlkit.audio.datasets import write_manifest
from dlkit.cli import main


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dlkit {command}: error:"), err
    return err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # the commands seed dlkit's generator: leave it as found for the tests that follow
    state, dtype = dl.get_rng_state(), dl.get_default_dtype()
    folder = tmp_path_factory.mktemp("speech") / "run"
    assert main(["speech", "train", "--n", "24", "--source", "tones", "--rate", "8000",
                 "--epochs", "1", "--filters", "8", "--units", "8", "--layers", "1",
                 "--dev-size", "0.25", "--out", str(folder), "--no-progress"]) == 0
    yield folder
    dl.set_rng_state(state)
    dl.set_default_dtype(dtype)


def test_train_writes_a_run_folder(run):
    for name in ("config.json", "model.safetensors", "history.csv", "metrics.json",
                 "samples.txt"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dev"]["utterances"] == 6 and metrics["dev"]["cer"] >= 0
    assert json.loads((run / "config.json").read_text())["rate"] == 8000


def test_transcribe_prints_one_line_per_file(run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        write_wav(tmp_path / f"{name}.wav", synth.say("two", 8000, "tones", rng), 8000)
    capsys.readouterr()
    assert main(["speech", "transcribe", str(run), str(tmp_path / "a.wav"),
                 str(tmp_path / "b.wav"), "--beam", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(tmp_path / "a.wav") + "\t")


def test_train_from_a_manifest_and_its_errors(tmp_path, capsys):
    rng = np.random.default_rng(1)
    rows = []
    for i, text in enumerate(["one", "two", "one two", "two one"]):
        write_wav(tmp_path / f"u{i}.wav", synth.say(text, 8000, "tones", rng), 8000)
        rows.append((f"u{i}.wav", text))
    write_manifest(tmp_path / "train.tsv", rows)
    assert main(["speech", "train", "--manifest", str(tmp_path / "train.tsv"), "--rate",
                 "8000", "--epochs", "1", "--filters", "4", "--units", "4", "--layers", "1",
                 "--dev-size", "0.25", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    write_manifest(tmp_path / "bad.tsv", rows[:1] + [("u1.wav", "Two #2")])
    capsys.readouterr()
    assert main(["speech", "train", "--manifest", str(tmp_path / "bad.tsv"), "--rate", "8000",
                 "--no-progress", "--out", str(tmp_path / "r2")]) == 2
    assert "outside the alphabet: '#2'" in one_line_error(capsys, "speech train")
    (tmp_path / "notab.tsv").write_text("u0.wav one\n")
    assert main(["speech", "train", "--manifest", str(tmp_path / "notab.tsv"),
                 "--no-progress", "--out", str(tmp_path / "r3")]) == 2
    assert "path<TAB>text" in one_line_error(capsys, "speech train")


def test_transcribe_errors(run, tmp_path, capsys):
    (tmp_path / "x.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    assert main(["speech", "transcribe", str(run), str(tmp_path / "x.wav")]) == 2
    assert "no 'fmt ' or 'data' chunk" in one_line_error(capsys, "speech transcribe")
    assert main(["speech", "transcribe", str(run), str(tmp_path / "missing.wav")]) == 2
    assert "no such file" in one_line_error(capsys, "speech transcribe")
    assert main(["speech", "transcribe", str(tmp_path), str(tmp_path / "x.wav")]) == 2
    assert "not a dlkit run folder" in one_line_error(capsys, "speech transcribe")
