"""Callbacks: early stopping, checkpoints, NaN guard, CSV log, learning-rate schedules,
progress bar, and the state each carries into a checkpoint."""

import io as stdio
import math
from types import SimpleNamespace

import numpy as np
import pytest

import dlkit as dl
from dlkit import io, nn
from dlkit.train import (
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
)


def small_problem(m=64):
    dl.manual_seed(0)
    X, y = dl.data.make_flower(m)
    model = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1))
    return model, X, y


def drive(callback, values, key="val_loss", model=None):
    """Run a callback over scripted epoch logs; returns the epochs trained before a stop."""
    model = model or nn.Sequential(nn.Linear(1, 1))
    trainer = SimpleNamespace(model=model, optimizer=None, stop_training=False, step=0,
                              callbacks=[callback], epoch_completed=True)
    callback.trainer = trainer
    callback.on_train_begin({})
    epochs = 0
    for epoch, value in enumerate(values):
        epochs += 1
        callback.on_epoch_end(epoch, {key: value, "loss": 0.0})
        if trainer.stop_training:
            break
    callback.on_train_end({})
    return epochs


def test_early_stopping_patience_and_min_delta():
    es = EarlyStopping(patience=2)
    assert drive(es, [1.0, 0.9, 0.95, 0.91, 0.5]) == 4
    assert es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.9 and es.wait == 2
    es = EarlyStopping(patience=2, min_delta=0.05)
    assert drive(es, [1.0, 0.97, 0.96, 0.5]) == 3  # 0.97 and 0.96 are within min_delta
    es = EarlyStopping(patience=1)
    assert drive(es, [1.0, math.nan, 0.9]) == 2  # NaN never improves


def test_early_stopping_mode_auto_and_errors():
    es = EarlyStopping("val_accuracy", patience=1)
    assert drive(es, [0.5, 0.6, 0.55, 0.9], key="val_accuracy") == 3 and es.best == 0.6
    es = EarlyStopping("val_loss", patience=1, mode="max")
    assert drive(es, [0.5, 0.6, 0.7]) == 3
    with pytest.raises(KeyError, match=r"'val_loss' is not in the logs; available keys: "
                                        r"\['accuracy', 'loss'\].*validation_data"):
        drive(EarlyStopping(), [1.0], key="accuracy")
    with pytest.raises(ValueError, match="EarlyStopping: expected mode"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="EarlyStopping: expected an int patience"):
        EarlyStopping(patience=-1)


def test_early_stopping_restores_best_weights():
    model = nn.Sequential(nn.Linear(1, 1))
    es = EarlyStopping("val_loss", patience=5, restore_best_weights=True)
    es.trainer = SimpleNamespace(model=model, stop_training=False)
    es.on_train_begin({})
    for epoch, (w, loss) in enumerate([(1.0, 0.5), (2.0, 0.3), (3.0, 0.4)]):
        model[0].weight.data[:] = w
        es.on_epoch_end(epoch, {"val_loss": loss})
    es.on_train_end({})
    assert model[0].weight.data.item() == 2.0


def test_early_stopping_in_fit_stops_a_stalled_run():
    model, X, y = small_problem()
    es = EarlyStopping("loss", patience=2)
    history = dl.train.fit(model, "bce_logits", dl.optim.SGD(model.parameters(), lr=0.0), X, y,
                           epochs=20, shuffle=False, callbacks=[es])
    assert len(history) == 3 and es.stopped_epoch == 2


def test_early_stopping_state_round_trips_through_a_checkpoint(tmp_path):
    model = nn.Sequential(nn.Linear(1, 1))
    es = EarlyStopping(patience=3, restore_best_weights=True)
    drive(es, [1.0, 0.5, 0.7], model=model)
    io.save_checkpoint(tmp_path / "c.safetensors", model, None, epoch=3, step=3, callbacks=[es])
    es2 = EarlyStopping(patience=3, restore_best_weights=True)
    io.load_checkpoint(tmp_path / "c.safetensors", model, callbacks=[es2])
    assert (es2.best, es2.wait, es2.best_epoch) == (0.5, 1, 1)
    np.testing.assert_array_equal(es2.best_weights["0.weight"], es.best_weights["0.weight"])
    # the restored state is continued by the next fit: two more bad epochs stop it
    assert drive(es2, [0.6, 0.6, 0.6], model=model) == 2
    # ... and a later fit starts afresh
    assert drive(es2, [0.6, 0.6, 0.6, 0.6], model=model) == 4


def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    model = nn.Sequential(nn.Linear(1, 1))
    every = ModelCheckpoint(tmp_path / "all" / "e{epoch:02d}.safetensors")
    drive(every, [3.0, 2.0, 2.5], model=model)
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == \
        ["e01.safetensors", "e02.safetensors", "e03.safetensors"]
    best = ModelCheckpoint(tmp_path / "best-{epoch}-{val_loss:.1f}.safetensors",
                           save_best_only=True)
    drive(best, [3.0, 2.0, 2.5, 1.0], model=model)
    assert sorted(p.name for p in tmp_path.glob("best-*")) == \
        ["best-1-3.0.safetensors", "best-2-2.0.safetensors", "best-4-1.0.safetensors"]
    state = io.read_checkpoint(best.last_path)
    assert state["epoch"] == 4 and state["extra"]["logs"]["val_loss"] == 1.0
    assert state["callbacks"]["ModelCheckpoint"]["best"] == 1.0
    with pytest.raises(KeyError, match="names 'acc'.*not logged"):
        drive(ModelCheckpoint(tmp_path / "{acc}.safetensors"), [1.0], model=model)
    with pytest.raises(KeyError, match="ModelCheckpoint: monitored key 'val_loss'"):
        drive(ModelCheckpoint(tmp_path / "x.safetensors", save_best_only=True), [1.0],
              key="loss_x", model=model)


def test_model_checkpoint_skips_an_epoch_cut_short(tmp_path):
    model = nn.Sequential(nn.Linear(1, 1))
    mc = ModelCheckpoint(tmp_path / "c.safetensors")
    mc.trainer = SimpleNamespace(model=model, optimizer=None, step=1, callbacks=[mc],
                                 epoch_completed=False)
    mc.on_train_begin({})
    mc.on_epoch_end(0, {"val_loss": 1.0})
    assert not (tmp_path / "c.safetensors").exists()


def nan_loss(out, y):
    return dl.binary_cross_entropy_with_logits(out, y) * float("nan")


def test_terminate_on_nan_stops_at_the_first_bad_batch(tmp_path, capsys):
    model, X, y = small_problem()
    guard = TerminateOnNaN()
    ckpt = ModelCheckpoint(tmp_path / "c.safetensors")
    history = dl.train.fit(model, nan_loss, dl.optim.SGD(model.parameters(), lr=0.1), X, y,
                           epochs=5, batch_size=16, callbacks=[guard, ckpt])
    assert guard.stopped_at == (0, 0) and len(history) == 1 and math.isnan(history["loss"][0])
    assert "TerminateOnNaN: the loss became nan at epoch 1, batch 1: training diverged" in \
        capsys.readouterr().out
    assert not (tmp_path / "c.safetensors").exists()  # an interrupted epoch is not saved


def test_terminate_on_nan_can_raise_one_line_and_keep_the_last_checkpoint(tmp_path):
    from dlkit.train.callbacks.terminate_on_nan import DivergenceError

    model, X, y = small_problem()
    path = tmp_path / "c.safetensors"
    calls = {"n": 0}

    def loss_that_explodes_in_epoch_3(out, yb):
        calls["n"] += 1
        value = dl.binary_cross_entropy_with_logits(out, yb)
        return value * float("inf") if calls["n"] > 2 * 4 + 1 else value

    with pytest.raises(DivergenceError, match="at epoch 3, batch 2: training diverged; the "
                                              "likely cause is the learning rate \\(0.1\\)"):
        dl.train.fit(model, loss_that_explodes_in_epoch_3,
                     dl.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=5, batch_size=16,
                     callbacks=[TerminateOnNaN(raise_error=True), ModelCheckpoint(path)])
    assert dl.io.read_checkpoint(path)["epoch"] == 2  # the last finite epoch's checkpoint


def test_csv_logger_writes_rows_and_appends_on_resume(tmp_path):
    model, X, y = small_problem()
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    path = tmp_path / "log.csv"
    history = dl.train.fit(model, "bce_logits", opt, X, y, epochs=3, validation_data=(X, y),
                           callbacks=[CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr" and len(lines) == 4
    read = History.from_csv(path)
    assert read.epochs == [0, 1, 2] and read.history == dict(history.history)
    dl.train.fit(model, "bce_logits", opt, X, y, epochs=5, initial_epoch=3,
                 validation_data=(X, y), callbacks=[CSVLogger(path, append=True)])
    read = History.from_csv(path)
    assert read.epochs == [0, 1, 2, 3, 4] and path.read_text().count("epoch") == 1
    dl.train.fit(model, "bce_logits", opt, X, y, epochs=1, callbacks=[CSVLogger(path)])
    assert History.from_csv(path).keys() == ["loss", "accuracy", "lr"]


def test_learning_rate_scheduler_with_a_schedule_and_a_function():
    model, X, y = small_problem()
    opt = dl.optim.SGD(model.parameters(), lr=0.4)
    schedule = dl.optim.StepDecay(opt, drop=0.5, every=1)
    history = dl.train.fit(model, "bce_logits", opt, X, y, epochs=3,
                           callbacks=[LearningRateScheduler(schedule)])
    assert history["lr"] == [0.4, 0.2, 0.1] and opt.lr == 0.05
    opt = dl.optim.SGD(model.parameters(), lr=1.0)
    history = dl.train.fit(model, "bce_logits", opt, X, y, epochs=3,
                           callbacks=[LearningRateScheduler(lambda e, lr: 1.0 / (1 + e))])
    assert history["lr"] == [1.0, 0.5, 1 / 3]
    with pytest.raises(ValueError, match="returned nan for epoch 0"):
        dl.train.fit(model, "bce_logits", opt, X, y, epochs=1,
                     callbacks=[LearningRateScheduler(lambda e, lr: math.nan)])
    with pytest.raises(ValueError, match="another optimizer"):
        dl.train.fit(model, "bce_logits", opt, X, y, epochs=1,
                     callbacks=[LearningRateScheduler(schedule)])
    with pytest.raises(TypeError, match="LearningRateScheduler: expected a dlkit.optim"):
        LearningRateScheduler(0.1)


class FakeTerminal(stdio.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_loss_on_a_terminal_only(capsys):
    model, X, y = small_problem()
    opt = dl.optim.SGD(model.parameters(), lr=0.1)
    screen = FakeTerminal()
    dl.train.fit(model, "bce_logits", opt, X, y, epochs=2, batch_size=16,
                 callbacks=[ProgressBar(file=screen)])
    text = screen.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "loss=" in text
    assert "accuracy=" in text and "4/4" in text
    piped = stdio.StringIO()
    dl.train.fit(model, "bce_logits", opt, X, y, epochs=1, callbacks=[ProgressBar(file=piped)])
    assert piped.getvalue() == ""
    forced = stdio.StringIO()
    dl.train.fit(model, "bce_logits", opt, X, y, epochs=1,
                 callbacks=[ProgressBar(file=forced, disable=False)])
    assert "loss=" in forced.getvalue()
    capsys.readouterr()
    dl.train.fit(model, "bce_logits", opt, X, y, epochs=1, verbose=1)  # stdout: not a terminal
    assert capsys.readouterr().out == ""


def test_fit_runs_model_checkpoint_after_other_callbacks(tmp_path):
    order = []

    class Recorder(dl.train.Callback):
        def on_epoch_end(self, epoch, logs):
            order.append("recorder")

    class Spy(ModelCheckpoint):
        def on_epoch_end(self, epoch, logs):
            order.append("checkpoint")
            super().on_epoch_end(epoch, logs)

    model, X, y = small_problem()
    dl.train.fit(model, "bce_logits", dl.optim.SGD(model.parameters(), lr=0.1), X, y,
                 epochs=1, callbacks=[Spy(tmp_path / "c.safetensors"), Recorder()])
    assert order == ["recorder", "checkpoint"]
