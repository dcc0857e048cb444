"""dlkit.distributed in a world of one process (no mpiexec): everything is the identity,
and mpi4py is never imported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn
from dlkit.distributed import DistributedOptimizer, GradientAverager, SyncBatchNorm


def test_import_does_not_load_mpi4py():
    code = ("import sys, dlkit as dl; assert dl.distributed.world_size() == 1; "
            "assert dl.distributed.rank() == 0 and dl.distributed.is_main(); "
            "print('mpi4py' in sys.modules)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(__import__("pathlib").Path(
        dl.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_launched_reads_the_launcher_environment(monkeypatch):
    from dlkit.distributed.comm import SIZE_VARIABLES, launched

    for name in SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not launched()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert not launched()
    monkeypatch.setenv("PMI_SIZE", "4")
    assert launched()


def test_distributed_optimizer_delegates_and_steps():
    dl.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    opt_a = dl.optim.Adam(a.parameters(), lr=0.1)
    opt_b = DistributedOptimizer(dl.optim.Adam(b.parameters(), lr=0.1))
    x = dl.tensor(np.ones((4, 3), np.float32))
    for model, opt in ((a, opt_a), (b, opt_b)):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    opt_b.lr = 0.5
    assert opt_b.optimizer.lr == 0.5
    assert opt_b.state_dict()["type"] == "Adam"
    with pytest.raises(TypeError, match="DistributedOptimizer: expected a dlkit optimizer"):
        DistributedOptimizer(object())


def test_buckets_pack_small_tensors_together():
    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 10))   # 4 tensors, 1760 bytes
    assert len(GradientAverager(model.parameters()).buckets) == 1
    assert len(GradientAverager(model.parameters(), bucket_bytes=440).buckets) == 2
    with pytest.raises(ValueError, match="bucket_bytes"):
        GradientAverager(model.parameters(), bucket_bytes=0)


def test_sync_batch_norm_is_batch_norm_in_one_process():
    dl.set_default_dtype("float64")
    try:
        dl.manual_seed(1)
        model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(),
                              nn.Linear(12, 2))
        ref = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(),
                            nn.Linear(12, 2))
        ref.load_state_dict(model.state_dict())
        SyncBatchNorm.convert(model)
        assert isinstance(model[1], SyncBatchNorm)
        x = dl.tensor(np.random.default_rng(0).standard_normal((5, 4, 4, 2)))
        np.testing.assert_array_equal(model(x).data, ref(x).data)
        np.testing.assert_array_equal(model[1].running_var, ref[1].running_var)
        from dlkit.nn.config import module_from_config, to_config

        again = module_from_config(to_config(model))
        assert isinstance(again[1], SyncBatchNorm)
        gamma = model[1].gamma
        SyncBatchNorm.revert(model)
        assert type(model[1]) is nn.BatchNorm2d and model[1].gamma is gamma
        np.testing.assert_array_equal(model(x).data, ref(x).data)
        with pytest.raises(dl.ShapeError, match="SyncBatchNorm"):
            again[1](dl.tensor(np.ones((2, 4))))
    finally:
        dl.set_default_dtype("float32")


def test_fit_distributed_in_one_process_trains():
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    history = dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.05),
                           X, y, epochs=20, batch_size=16, distributed=True)
    assert history["accuracy"][-1] > 0.9
    assert history["loss"][-1] < history["loss"][0]
