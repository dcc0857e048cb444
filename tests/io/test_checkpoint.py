"""Checkpoints: a run stopped after k epochs and resumed from its checkpoint ends bit for bit
where the uninterrupted run ends (weights, optimizer, schedule, callbacks, RNG)."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import io, nn
from dlkit.train import EarlyStopping, LearningRateScheduler, ModelCheckpoint

N_EPOCHS, K = 4, 2


def data():
    dl.manual_seed(100)
    X, y = dl.data.make_flower(96)
    return X[:64], y[:64], X[64:], y[64:]


def build(seed, folder):
    """Model with dropout and batch norm, Adam with a schedule, and stateful callbacks."""
    dl.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(8, 1, init="xavier"))
    opt = dl.optim.Adam(model.parameters(), lr=0.02)
    schedule = dl.optim.ExponentialDecay(opt, base=0.8)
    callbacks = [ModelCheckpoint(folder / "ckpt-{epoch}.safetensors"),
                 EarlyStopping("val_loss", patience=100, restore_best_weights=True),
                 LearningRateScheduler(schedule)]
    return model, opt, schedule, callbacks


def train(data, model, opt, callbacks, epochs, initial_epoch=0):
    X, y, Xv, yv = data
    return dl.train.fit(model, "bce_logits", opt, X, y, epochs=epochs, batch_size=16,
                        validation_data=(Xv, yv), callbacks=callbacks,
                        metrics=("accuracy", "f1"), initial_epoch=initial_epoch)


@pytest.fixture
def float64():
    """float64 (restored to float32 afterwards) and the flower data in float64."""
    dl.set_default_dtype("float64")
    yield data()
    dl.set_default_dtype("float32")


def assert_states_equal(a, b):
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_resumed_run_is_bit_identical_to_uninterrupted_run(tmp_path, float64):
    model_a, opt_a, _, cbs_a = build(0, tmp_path / "a")
    hist_a = train(float64, model_a, opt_a, cbs_a, N_EPOCHS)
    assert model_a[0].weight.dtype == np.float64

    model_b, opt_b, _, cbs_b = build(0, tmp_path / "b")
    train(float64, model_b, opt_b, cbs_b, K)
    # a fresh process: other weights, other RNG stream, new optimizer, schedule and callbacks
    model_c, opt_c, schedule_c, cbs_c = build(12345, tmp_path / "b")
    dl.manual_seed(999)
    info = io.load_checkpoint(tmp_path / "b" / f"ckpt-{K}.safetensors", model_c, opt_c,
                              callbacks=cbs_c)
    assert info["epoch"] == K and info["step"] == K * 4
    assert info["extra"]["logs"]["loss"] == hist_a["loss"][K - 1]
    assert schedule_c.epoch == K and opt_c.step_count == K * 4
    hist_c = train(float64, model_c, opt_c, cbs_c, N_EPOCHS, initial_epoch=K)

    assert hist_c.epochs == list(range(K, N_EPOCHS))
    for key in hist_a.keys():
        assert hist_c[key] == hist_a[key][K:], key
    assert_states_equal(model_a.state_dict(), model_c.state_dict())  # best weights restored
    sa, sc = opt_a.state_dict(), opt_c.state_dict()
    assert sa["hyperparameters"] == sc["hyperparameters"] and sa["step_count"] == sc["step_count"]
    assert_states_equal(sa["state"], sc["state"])
    es_a, es_c = cbs_a[1].state_dict(), cbs_c[1].state_dict()
    assert {k: es_a[k] for k in ("best", "wait", "best_epoch")} == \
        {k: es_c[k] for k in ("best", "wait", "best_epoch")}
    assert_states_equal(es_a["best_weights"], es_c["best_weights"])
    # the last checkpoints of both runs hold the same state: the weights of the last epoch
    last_a = io.read_checkpoint(tmp_path / "a" / f"ckpt-{N_EPOCHS}.safetensors")
    last_c = io.read_checkpoint(tmp_path / "b" / f"ckpt-{N_EPOCHS}.safetensors")
    assert_states_equal(last_a["model"], last_c["model"])
    assert last_a["rng"] == last_c["rng"] and last_a["callbacks"]["LearningRateScheduler"] == \
        last_c["callbacks"]["LearningRateScheduler"]


def test_resuming_without_the_rng_state_differs(tmp_path, float64):
    """The control: dropout masks and shuffling depend on the RNG the checkpoint restores."""
    model_a, opt_a, _, cbs_a = build(0, tmp_path / "a")
    train(float64, model_a, opt_a, cbs_a, N_EPOCHS)
    model_c, opt_c, _, cbs_c = build(12345, tmp_path / "b")
    dl.manual_seed(999)
    io.load_checkpoint(tmp_path / "a" / f"ckpt-{K}.safetensors", model_c, opt_c,
                       callbacks=cbs_c, restore_rng=False)
    train(float64, model_c, opt_c, cbs_c, N_EPOCHS, initial_epoch=K)
    # compare the last epoch's weights (the models end with their best, restored, weights)
    last_a = io.read_checkpoint(tmp_path / "a" / f"ckpt-{N_EPOCHS}.safetensors")["model"]
    last_c = io.read_checkpoint(tmp_path / "b" / f"ckpt-{N_EPOCHS}.safetensors")["model"]
    assert not np.array_equal(last_a["0.weight"], last_c["0.weight"])


def test_checkpoint_carries_everything(tmp_path, float64):
    model, opt, schedule, cbs = build(0, tmp_path)
    train(float64, model, opt, cbs, 2)
    state = io.read_checkpoint(tmp_path / "ckpt-2.safetensors")
    assert state["epoch"] == 2 and state["step"] == 8
    assert set(state["model"]) == set(model.state_dict())
    assert "4.running_mean" not in state["model"] and "1.running_var" in state["model"]
    assert state["optimizer"]["type"] == "Adam" and state["optimizer"]["step_count"] == 8
    assert set(state["optimizer"]["state"]) >= {"0.v", "0.s"}
    assert state["callbacks"]["LearningRateScheduler"]["schedule"]["epoch"] == 2
    es = state["callbacks"]["EarlyStopping"]
    assert es["wait"] == cbs[1].wait and es["best"] == cbs[1].best
    assert state["rng"] == dl.get_rng_state()
    assert state["optimizer"]["hyperparameters"]["lr"] == pytest.approx(0.02 * 0.8**2)
    # the checkpoint of a model with a config also rebuilds it
    rebuilt = io.load(tmp_path / "ckpt-2.safetensors")
    assert_states_equal(rebuilt.state_dict(), state["model"])


def test_save_checkpoint_direct_with_schedule_and_extra(tmp_path):
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    opt = dl.optim.Momentum(model.parameters(), lr=0.1)
    schedule = dl.optim.StepDecay(opt, drop=0.5, every=1)
    schedule.step()
    path = tmp_path / "c.safetensors"
    io.save_checkpoint(path, model, opt, epoch=1, step=5, schedule=schedule,
                       extra={"note": "hi", "arr": np.arange(3), "inf": float("inf")})
    dl.manual_seed(1)
    model2 = nn.Sequential(nn.Linear(3, 2))
    opt2 = dl.optim.Momentum(model2.parameters(), lr=0.1)
    schedule2 = dl.optim.StepDecay(opt2, drop=0.5, every=1)
    info = io.load_checkpoint(path, model2, opt2, schedule=schedule2)
    assert info["epoch"] == 1 and info["step"] == 5 and info["extra"]["note"] == "hi"
    assert info["extra"]["inf"] == float("inf")
    np.testing.assert_array_equal(info["extra"]["arr"], np.arange(3))
    assert schedule2.epoch == 1 and opt2.lr == 0.05
    with pytest.raises(ValueError, match="Adam optimizer|Momentum"):
        io.load_checkpoint(path, model2, dl.optim.Adam(model2.parameters()))
    with pytest.raises(KeyError, match="EarlyStopping.*has"):
        io.load_checkpoint(path, model2, opt2, callbacks=[EarlyStopping()])
    io.save_checkpoint(path, model, None, epoch=1, step=5)
    with pytest.raises(ValueError, match="no optimizer state"):
        io.load_checkpoint(path, model2, opt2)
    with pytest.raises(ValueError, match="no schedule state"):
        io.load_checkpoint(path, model2, None, schedule=schedule2)


def test_load_checkpoint_rejects_a_model_file(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    io.save(model, tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="dlkit model file, not a checkpoint"):
        io.load_checkpoint(tmp_path / "m.safetensors", model)
