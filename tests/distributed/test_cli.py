"""``dlkit train --workers 2`` (mpiexec underneath): rank 0 alone writes the run folder and
prints; the run resumes on one process; a bad global batch is one clear line."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from conftest import SRC, mpiexec

from dlkit.cli import main


def dlkit_train(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "dlkit.cli", "train", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def losses(folder) -> list[float]:
    with open(folder / "history.csv") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def test_workers_trains_on_two_ranks_and_resumes_on_one(tmp_path, capsys):
    mpiexec()  # skip (or fail under DLKIT_REQUIRE_MPI=1) without MPI
    common = ["--dataset", "moons", "--examples", "200", "--batch-size", "16",
              "--checkpoint-every", "1", "--no-progress", "--workers", "2"]
    done = dlkit_train(*common, "--epochs", "2", "--out", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("test accuracy") == 2   # rank 0's summary only (two lines)
    a = tmp_path / "a"
    assert {"config.json", "model.safetensors", "history.csv", "metrics.json",
            "checkpoint.safetensors"} <= {p.name for p in a.iterdir()}
    assert len(losses(a)) == 2
    before = losses(a)
    # on one process (equality with an uninterrupted run: test_data_parallel's resume test)
    assert main(["train", "--resume", str(a), "--epochs", "4", "--no-progress"]) == 0
    assert "resuming after epoch 2" in capsys.readouterr().out
    after = losses(a)
    assert after[:2] == before and len(after) == 4 and after[3] < after[0]


def test_a_global_batch_not_divisible_by_the_ranks_is_one_line(tmp_path):
    mpiexec()
    done = dlkit_train("--dataset", "moons", "--examples", "100", "--batch-size", "7",
                       "--epochs", "1", "--no-progress", "--workers", "2",
                       "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "global batch_size 7 is not divisible by the 2 ranks" in done.stderr
    assert "Traceback" not in done.stderr
    assert "the run on 2 processes failed" in done.stderr.splitlines()[-1]


def test_charlm_does_not_take_workers(capsys):
    assert main(["train", "--task", "charlm", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--task charlm trains on one process" in err
