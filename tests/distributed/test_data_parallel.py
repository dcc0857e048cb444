"""Two ranks of global batch B train exactly as one process of batch B; faults stop the job;
a 2-rank checkpoint resumes on 1 rank."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from conftest import run_script

TOL = 1e-10


@pytest.fixture(scope="module")
def equivalence(tmp_path_factory):
    path = tmp_path_factory.mktemp("eq") / "eq.json"
    done = run_script("equivalence.py", str(path))
    assert done.returncode == 0, done.stderr
    return json.loads(path.read_text())


@pytest.mark.parametrize("kind", ["mlp", "mlp_loader", "cnn", "lstm"])
def test_two_ranks_equal_one_process(equivalence, kind):
    # cnn: BatchNorm2d converted to SyncBatchNorm, compared with plain batch norm on the
    # whole batch in one process (weights and running averages); mlp_loader: fit given a
    # DataLoader without a sampler (sharded by fit, its batch size the global batch)
    assert equivalence["world"] == 2
    assert equivalence[kind + "_keys"]
    assert equivalence[kind] < TOL


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_stops_the_job(tmp_path, how):
    start = time.monotonic()
    done = run_script("run.py", str(tmp_path), how, "6", timeout=60,
                      env={"DLKIT_MPI_TIMEOUT": "20"})
    assert done.returncode != 0
    assert time.monotonic() - start < 40
    if how == "raise":
        assert "rank 1 of 2" in done.stderr and "an error on purpose" in done.stderr
    # the checkpoints of the completed epochs are intact, and none past the failure
    import dlkit as dl
    from dlkit import nn

    model = nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Linear(12, 3))
    state = dl.io.load_checkpoint(tmp_path / "ckpt-2.st", model, restore_rng=False)
    assert state["epoch"] == 2
    assert not (tmp_path / "ckpt-4.st").exists()


def test_resume_two_ranks_checkpoint_on_one_rank(tmp_path):
    full = run_script("run.py", str(tmp_path), "full", "4")
    assert full.returncode == 0, full.stderr
    resumed = run_script("run.py", str(tmp_path), "resume", "4", ranks=0)
    assert resumed.returncode == 0, resumed.stderr
    a, b = np.load(tmp_path / "final.npz"), np.load(tmp_path / "resumed.npz")
    for key in a.files:
        if key != "loss":
            assert np.max(np.abs(a[key] - b[key])) < TOL, key
    assert np.allclose(a["loss"][2:], b["loss"], rtol=0, atol=TOL)


def test_horovod_style_loop_equals_one_process():
    done = run_script("manual_loop.py")
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("maxdiff"))
    assert float(line.split()[1]) < TOL


def test_ranks_with_different_dlkit_versions_are_refused():
    done = run_script("versions.py", timeout=60)
    assert done.returncode != 0
    assert "not reached" not in done.stdout
    assert "rank 0: 0.1.0, rank 1: 0.0.0-other" in done.stderr


def test_a_stop_on_one_rank_stops_every_rank(tmp_path):
    done = run_script("run.py", str(tmp_path), "stop", "4", env={"DLKIT_MPI_TIMEOUT": "20"})
    assert done.returncode == 0, done.stderr
    assert len(np.load(tmp_path / "final.npz")["loss"]) == 2   # epochs 1 and 2 (cut short)
